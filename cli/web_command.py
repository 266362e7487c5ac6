"""`fdp web --server HOST:PORT [--protocol rest|grpc] [--port 8080]`, registered into cli/main.py.

Nothing heavy at import time (Flask, the face detector and TensorFlow load when the command runs)."""

from cli import predict_command
from cli import serving_commands
from serving import defaults

DEFAULT_PORT = 8080


def cmd_web(args) -> int:
  from serving import http_server  # pylint: disable=g-import-not-at-top
  from serving.client import model_client as client_lib  # pylint: disable=g-import-not-at-top
  from application import face_detection  # pylint: disable=g-import-not-at-top
  from application import faces  # pylint: disable=g-import-not-at-top
  from application.web import app as app_lib  # pylint: disable=g-import-not-at-top
  from application import trust  # pylint: disable=g-import-not-at-top
  config = app_lib.WebConfig(server=args.server, **predict_command.detection_options(args),
                             trust=trust.Trust(min_face_size=args.min_judged_face_size))
  print(f"Loading the face detector ({args.detector}) ...", flush=True)
  face_detection.load_detector(args.detector)
  import concurrent.futures  # pylint: disable=g-import-not-at-top
  with client_lib.connect(args.server, args.protocol, timeout=args.timeout) as client, \
       concurrent.futures.ThreadPoolExecutor(args.model_requests, thread_name_prefix="model-request") as pool:
    app = app_lib.create_app(config, app_lib.client_predictor(client, faces.models_for(args.model), pool))
    # The production HTTP server the model server's REST API runs on; an upload a little over the page's
    # limit still reaches the page, which says why it is refused; far larger ones are refused unread.
    server = http_server.HttpServer(app, args.host, args.port, http_server.HttpOptions(
        threads=args.threads, max_request_bytes=2 * app_lib.MAX_UPLOAD_BYTES), name="web").start()
    print(f"Open http://{args.host}:{server.port}/ (models at {args.server} over {args.protocol}). "
          "Ctrl-C stops.", flush=True)
    signal_name = serving_commands.wait_for_stop_signal()
    print(f"{signal_name}: draining (up to {args.drain_seconds:g} s) ...", flush=True)
    server.stop(args.drain_seconds)
  return 0


def register(subparsers) -> None:
  from application import faces  # pylint: disable=g-import-not-at-top  (numpy + Pillow only)
  web = subparsers.add_parser("web", help="a web page: upload a photo, see each face's age and gender")
  web.add_argument("--server", required=True, help="HOST:PORT of the model server (TF Serving or fdp serve)")
  web.add_argument("--protocol", choices=defaults.PROTOCOLS, default=defaults.REST)
  web.add_argument("--port", type=int, default=DEFAULT_PORT, help="the page's port (0: a free one)")
  web.add_argument("--host", default="127.0.0.1", help="the page's address (0.0.0.0: every interface)")
  predict_command.add_model_option(web)
  predict_command.add_detection_options(web)
  web.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the model server")
  web.add_argument("--threads", type=int, default=defaults.HTTP_THREADS,
                   help="requests handled at once (slow clients hold none; default %(default)s)")
  web.add_argument("--model-requests", type=int, default=defaults.HTTP_THREADS,
                   help="requests to the second model in flight at once, over every upload (the first "
                   "model's go out on each upload's own thread; default %(default)s)")
  web.add_argument("--drain-seconds", type=float, default=defaults.DRAIN_SECONDS,
                   help="on SIGTERM/SIGINT, how long uploads already accepted may take (default %(default)s)")
  web.set_defaults(func=cmd_web)
