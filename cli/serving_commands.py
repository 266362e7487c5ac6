"""`fdp serve`, registered into cli/main.py's parser.

Nothing heavy at import time: TensorFlow and gRPC load inside the commands, so `fdp --help` stays fast.
"""
import os
import signal
import sys
import threading

from serving import defaults


def cmd_serve(args) -> int:
  base_dir = args.model_base_dir or (None if args.model_config else shipped_models_dir())
  from serving.server import model_server as server_lib  # pylint: disable=g-import-not-at-top
  model_config = server_lib.build_model_config(args.model_config, base_dir)
  options = server_lib.batching_options(args.batching_parameters, enabled=not args.no_batching)
  server = server_lib.ModelServer(model_config, rest_port=args.rest_port, grpc_port=args.grpc_port,
                                  host=args.host, batching_options=options,
                                  max_request_bytes=args.max_request_bytes, poll_seconds=args.poll_seconds)
  server.start()
  for entry in model_config.model_config_list.config:
    print(f"{entry.name}: {entry.base_path}")
  print(f"REST on {args.host}:{server.rest_port} (/v1/models/..., /monitoring/prometheus/metrics), "
        f"gRPC on {args.host}:{server.grpc_port}. Ctrl-C stops.", flush=True)
  wait_for_stop_signal()
  server.stop()
  return 0


def shipped_models_dir() -> str:
  """The trained models served by default; when they are not there, says where it looked and what to do."""
  if not os.path.isdir(defaults.SHIPPED_MODELS_DIR):
    raise SystemExit(f"fdp serve: no trained models at {defaults.SHIPPED_MODELS_DIR} (the shipped models are the "
                     "models/ folder of a source checkout; an installed package does not include them). Set "
                     "FDP_MODELS_DIR to a folder holding classifier/ and regressor/, or pass --model-base-dir or "
                     "--model-config.")
  return defaults.SHIPPED_MODELS_DIR


def wait_for_stop_signal() -> None:
  """Blocks until SIGINT or SIGTERM, so a server command can stop its servers cleanly after."""
  stopped = threading.Event()
  for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, lambda *_: stopped.set())
  stopped.wait()


def register(subparsers) -> None:
  serve = subparsers.add_parser("serve", help="serve the pushed models with TF Serving's REST and gRPC APIs")
  source = serve.add_mutually_exclusive_group()
  source.add_argument("--model-config", help="TF Serving's models.config (ModelServerConfig text proto)")
  source.add_argument("--model-base-dir", help="a serving root: one folder per model, numbered versions inside "
                      "(default: the trained models shipped in the repository's models/, or $FDP_MODELS_DIR)")
  serve.add_argument("--rest-port", type=int, default=defaults.REST_PORT, help="0: a free port")
  serve.add_argument("--grpc-port", type=int, default=defaults.GRPC_PORT, help="0: a free port")
  serve.add_argument("--host", default="0.0.0.0")
  serve.add_argument("--batching-parameters", help="TF Serving's batching parameters file (text proto)")
  serve.add_argument("--no-batching", action="store_true", help="run every request on its own")
  serve.add_argument("--max-request-bytes", type=int, default=defaults.MAX_REQUEST_BYTES)
  serve.add_argument("--poll-seconds", type=float, default=1.0, help="how often the base dirs are checked")
  serve.set_defaults(func=cmd_serve)


if __name__ == "__main__":
  sys.exit("use: fdp serve ...")
