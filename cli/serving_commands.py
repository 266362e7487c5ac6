"""`fdp serve`, registered into cli/main.py's parser.

Nothing heavy at import time: TensorFlow and gRPC load inside the commands, so `fdp --help` stays fast.
"""
import argparse
import os
import signal
import sys
import threading

from serving import defaults


def cmd_serve(args) -> int:
  if not (args.model_base_path or args.model_config or args.model_base_dir):
    args.model_base_dir = shipped_models_dir()  # says where it looked before anything heavy loads
  from serving.server import model_server as server_lib  # pylint: disable=g-import-not-at-top
  from serving.server import settings as settings_lib  # pylint: disable=g-import-not-at-top
  model_config = server_lib.build_model_config(args.model_config, args.model_base_dir, args.model_base_path,
                                               args.model_name)
  options = server_lib.batching_options(args.batching_parameters, enabled=args.enable_batching)
  settings = settings_lib.ServerSettings(
      host=args.host, grpc_port=args.grpc_port, rest_port=args.rest_port, rest_threads=args.rest_threads,
      rest_timeout_s=args.rest_timeout_ms / 1000, grpc_threads=args.grpc_threads,
      max_request_bytes=args.max_request_bytes, poll_seconds=args.poll_seconds, load_threads=args.load_threads,
      metrics_path=_metrics_path(args.monitoring_config), drain_seconds=args.drain_seconds)
  server = server_lib.ModelServer(model_config, settings, batching_options=options).start()
  for entry in model_config.model_config_list.config:
    print(f"{entry.name}: {entry.base_path}")
  print(f"REST on {args.host}:{server.rest_port} (/v1/models/..., {settings.metrics_path}), "
        f"gRPC on {args.host}:{server.grpc_port}. Ctrl-C stops.", flush=True)
  signal_name = wait_for_stop_signal()
  print(f"{signal_name}: draining (up to {settings.drain_seconds:g} s) ...", flush=True)
  drained = server.stop()
  print("stopped" if drained else "stopped; requests still running at the end of the drain were cut off",
        flush=True)
  return 0


def _metrics_path(monitoring_config_file):
  from serving.server import config as config_lib  # pylint: disable=g-import-not-at-top
  if not monitoring_config_file:
    return config_lib.PROMETHEUS_PATH
  return config_lib.read_monitoring_config(monitoring_config_file).prometheus_config.path or config_lib.PROMETHEUS_PATH


def shipped_models_dir() -> str:
  """The trained models served by default; when they are not there, says where it looked and what to do."""
  if not os.path.isdir(defaults.SHIPPED_MODELS_DIR):
    raise SystemExit(f"fdp serve: no trained models at {defaults.SHIPPED_MODELS_DIR} (the shipped models are the "
                     "models/ folder of a source checkout; an installed package does not include them). Set "
                     "FDP_MODELS_DIR to a folder holding classifier/ and regressor/, or pass --model-base-dir or "
                     "--model-config.")
  return defaults.SHIPPED_MODELS_DIR


def wait_for_stop_signal() -> str:
  """Blocks until SIGINT or SIGTERM (what Kubernetes sends before it kills a pod), so a server command can
  drain its servers after; returns the signal's name."""
  received = []
  stopped = threading.Event()

  def handle(signum, _):
    received.append(signal.Signals(signum).name)
    stopped.set()

  for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, handle)
  stopped.wait()
  return received[0]


def _bool(text: str) -> bool:
  """TF Serving's boolean flag values: --enable_batching, --enable_batching=true / false."""
  value = text.strip().lower()
  if value not in ("true", "false", "1", "0"):
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
  return value in ("true", "1")


def register(subparsers) -> None:
  """Each setting under the project's flag name and TF Serving's (tensorflow_model_server's), so the
  command lines in serving/k8s/ run unchanged against either server."""
  serve = subparsers.add_parser("serve", help="serve the pushed models with TF Serving's REST and gRPC APIs")
  source = serve.add_mutually_exclusive_group()
  source.add_argument("--model-config", "--model_config_file", dest="model_config",
                      help="TF Serving's models.config (ModelServerConfig text proto)")
  source.add_argument("--model-base-dir", help="a serving root: one folder per model, numbered versions inside "
                      "(default: the trained models shipped in the repository's models/, or $FDP_MODELS_DIR)")
  source.add_argument("--model_base_path", help="one model's base path (numbered versions inside), served as "
                      "--model_name")
  serve.add_argument("--model_name", default="default", help="the model's name with --model_base_path")
  serve.add_argument("--rest-port", "--rest_api_port", dest="rest_port", type=int, default=defaults.REST_PORT,
                     help="0: a free port")
  serve.add_argument("--grpc-port", "--port", dest="grpc_port", type=int, default=defaults.GRPC_PORT,
                     help="0: a free port")
  serve.add_argument("--host", default="0.0.0.0")
  serve.add_argument("--batching-parameters", "--batching_parameters_file", dest="batching_parameters",
                     help="TF Serving's batching parameters file (text proto)")
  serve.add_argument("--enable_batching", type=_bool, nargs="?", const=True, default=True,
                     help="batch concurrent requests (default true here; TF Serving's default is false)")
  serve.add_argument("--no-batching", dest="enable_batching", action="store_false",
                     help="run every request on its own (= --enable_batching=false)")
  serve.add_argument("--max-request-bytes", type=int, default=defaults.MAX_REQUEST_BYTES)
  serve.add_argument("--poll-seconds", "--file_system_poll_wait_seconds", dest="poll_seconds", type=float,
                     default=1.0, help="how often the base paths are checked for new versions")
  serve.add_argument("--rest-threads", "--rest_api_num_threads", dest="rest_threads", type=int,
                     default=defaults.HTTP_THREADS, help="REST worker threads (slow clients hold none)")
  serve.add_argument("--rest-timeout-ms", "--rest_api_timeout_in_ms", dest="rest_timeout_ms", type=int,
                     default=defaults.REST_TIMEOUT_MS, help="a REST request's deadline")
  serve.add_argument("--grpc-threads", "--grpc_max_threads", dest="grpc_threads", type=int,
                     default=defaults.GRPC_THREADS, help="gRPC worker threads")
  serve.add_argument("--monitoring-config", "--monitoring_config_file", dest="monitoring_config",
                     help="TF Serving's monitoring config (the Prometheus path)")
  serve.add_argument("--load-threads", "--num_load_threads", dest="load_threads", type=int, default=2,
                     help="versions loaded and warmed up at once")
  serve.add_argument("--model_config_file_poll_wait_seconds", type=float, default=0,
                     help="accepted for TF Serving's command lines; the config file is read once at start")
  serve.add_argument("--drain-seconds", type=float, default=defaults.DRAIN_SECONDS,
                     help="on SIGTERM/SIGINT, how long accepted requests may take to finish (default %(default)s)")
  serve.set_defaults(func=cmd_serve)

if __name__ == "__main__":
  sys.exit("use: fdp serve ...")
