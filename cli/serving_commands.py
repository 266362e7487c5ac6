"""`fdp serve` and `fdp serving-config`, registered into cli/main.py's parser.

`fdp serve`'s flags come from ServerSettings (serving/server/settings.py): each setting under TF Serving's
flag name (tensorflow_model_server's) and, where the project had one, its own, with the setting's default.
Nothing heavy at import time: TensorFlow and gRPC load inside the commands, so `fdp --help` stays fast.
"""
import argparse
import dataclasses
import os
import signal
import sys
import threading

from serving import defaults
from serving.server.settings import ServerSettings, parse_channel_arguments

_DEFAULTS = ServerSettings()
EXIT_CONFIG_ERROR = 255  # tensorflow_model_server's `return -1` when its config cannot be read
EXIT_START_ERROR = 1


def _bool(text: str) -> bool:
  """TF Serving's boolean flag values: --enable_batching, --enable_batching=true / false."""
  value = text.strip().lower()
  if value not in ("true", "false", "1", "0"):
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
  return value in ("true", "1")


def _channel_arguments(text: str):
  try:
    return parse_channel_arguments(text)
  except ValueError as e:
    raise argparse.ArgumentTypeError(str(e)) from None


def _milliseconds(text: str) -> float:
  return int(text) / 1000


# (flag names, ServerSettings field, type, help). A field's default is the flag's default.
SETTING_FLAGS = (
    (("--rest-port", "--rest_api_port"), "rest_port", int, "REST port (0: a free port)"),
    (("--grpc-port", "--port"), "grpc_port", int, "gRPC port (0: a free port)"),
    (("--host",), "host", str, "address both ports listen on"),
    (("--grpc_socket_path",), "grpc_socket_path", str, "also serve gRPC on this Unix socket"),
    (("--grpc_channel_arguments",), "grpc_channel_arguments", _channel_arguments,
     "gRPC server arguments: key=value,key=value (e.g. grpc.max_connection_age_ms=2000)"),
    (("--rest-threads", "--rest_api_num_threads"), "rest_threads", int, "REST worker threads (slow clients hold none)"),
    (("--rest-timeout-ms", "--rest_api_timeout_in_ms"), "rest_timeout_s", _milliseconds, "a REST request's deadline, ms"),
    (("--grpc-threads", "--grpc_max_threads"), "grpc_threads", int, "gRPC worker threads"),
    (("--max-request-bytes",), "max_request_bytes", int, "the largest request body or message"),
    (("--poll-seconds", "--file_system_poll_wait_seconds"), "poll_seconds", float,
     "how often the base paths are checked for new versions"),
    (("--model_config_file_poll_wait_seconds",), "model_config_poll_seconds", float,
     "re-read --model_config_file this often (0: never) and serve what it says"),
    (("--load-threads", "--num_load_threads"), "load_threads", int, "versions loaded and warmed up at once"),
    (("--prefer_tflite_model",), "prefer_tflite", _bool, "serve a version's model.tflite (TF Lite) when it has one"),
    (("--allow_version_labels_for_unavailable_models",), "allow_version_labels_for_unavailable_models", _bool,
     "let a config reload point a label at a version not yet available"),
    (("--drain-seconds",), "drain_seconds", float, "on SIGTERM/SIGINT, how long accepted requests may take"),
    (("--idle-timeout-s",), "idle_timeout_s", float, "an idle keep-alive REST connection is closed after this"),
    (("--request-read-timeout-s",), "request_read_timeout_s", float,
     "a REST request must arrive whole within this after its first byte"),
    (("--connection-limit",), "connection_limit", int, "open REST connections served at once"),
)


def settings_from_args(args) -> ServerSettings:
  values = {field: getattr(args, field) for _, field, _, _ in SETTING_FLAGS}
  return dataclasses.replace(_DEFAULTS, model_config_file=args.model_config,
                             metrics_path=_metrics_path(args.monitoring_config), **values)


def taken_port(host: str, ports) -> str:
  """The first of `ports` (0: any, skipped) that `host` cannot bind now, as "host:port: reason", else "".
  Checked before TensorFlow loads, so a taken port fails in a second, not after the imports."""
  import errno  # pylint: disable=g-import-not-at-top
  import socket  # pylint: disable=g-import-not-at-top
  for port in ports:
    if not port:
      continue
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
      probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT is free to servers
      try:
        probe.bind((host, port))
      except OSError as e:
        reason = "already in use" if e.errno == errno.EADDRINUSE else e.strerror
        return f"{host}:{port}: {reason}"
  return ""


def cmd_serve(args) -> int:
  if not (args.model_base_path or args.model_config or args.model_base_dir):
    args.model_base_dir = shipped_models_dir()  # says where it looked before anything heavy loads
  taken = taken_port(args.host, (args.grpc_port, args.rest_port))
  if taken:
    print(f"fdp serve: failed to start: cannot bind {taken}", file=sys.stderr, flush=True)
    return EXIT_START_ERROR
  from serving.server import model_config as model_config_lib  # pylint: disable=g-import-not-at-top
  from serving.server import model_server as server_lib  # pylint: disable=g-import-not-at-top
  try:
    settings = settings_from_args(args)
    model_config = model_config_lib.build(args.model_config, args.model_base_dir, args.model_base_path,
                                          args.model_name)
    options = batching_options(args.batching_parameters, enabled=args.enable_batching)
  except model_config_lib.ConfigError as e:
    print(f"Failed to start server. Error: {e.code}: {e}", file=sys.stderr, flush=True)
    return EXIT_CONFIG_ERROR
  try:
    server = server_lib.ModelServer(model_config, settings, batching_options=options).start()
  except server_lib.ServerStartError as e:
    print(f"fdp serve: failed to start: {e}", file=sys.stderr, flush=True)
    return EXIT_START_ERROR
  for entry in model_config.model_config_list.config:
    print(f"{entry.name}: {entry.base_path}")
  print(f"REST on {settings.host}:{server.rest_port} (/v1/models/..., {settings.metrics_path}), "
        f"gRPC on {settings.host}:{server.grpc_port}. Ctrl-C stops.", flush=True)
  signal_name = wait_for_stop_signal()
  print(f"{signal_name}: draining (up to {settings.drain_seconds:g} s) ...", flush=True)
  drained = server.stop()
  print("stopped" if drained else "stopped; requests still running at the end of the drain were cut off",
        flush=True)
  exit_now_if_stuck()
  return 0


def exit_now_if_stuck(code: int = 0) -> None:
  """After a drain, a model call that never returned may hold a worker thread that Python would wait
  for at exit: then the process ends here, within the drain period."""
  stuck = [t for t in threading.enumerate() if t is not threading.current_thread() and not t.daemon]
  if stuck:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # pylint: disable=protected-access


def _metrics_path(monitoring_config_file):
  if not monitoring_config_file:
    return _DEFAULTS.metrics_path
  from serving.server import model_config as model_config_lib  # pylint: disable=g-import-not-at-top
  return model_config_lib.read_monitoring_config(monitoring_config_file).prometheus_config.path or _DEFAULTS.metrics_path


def batching_options(batching_parameters_file, enabled: bool = True):
  from serving.server import batching  # pylint: disable=g-import-not-at-top
  from serving.server import model_config as model_config_lib  # pylint: disable=g-import-not-at-top
  if not enabled:
    return None
  if batching_parameters_file:
    return batching.BatchingOptions.from_proto(model_config_lib.read_batching_parameters(batching_parameters_file))
  return batching.BatchingOptions()


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


def cmd_serving_config(args) -> int:
  from serving.server import deployment_files  # pylint: disable=g-import-not-at-top
  labels = {}
  for model, label, version in args.label:
    labels.setdefault(model, {})[label] = version
  if not (args.out or args.k8s):
    raise SystemExit("fdp serving-config: give --out DIR and/or --k8s DIR")
  if args.out:
    for path in deployment_files.write_configs(args.out, args.base_path, labels).values():
      print(path)
  if args.k8s:
    print(deployment_files.write_configmap(args.k8s, labels))
  return 0


def _label(spec: str):
  import re  # pylint: disable=g-import-not-at-top
  match = re.match(r"^([\w-]+):([\w-]+)=(\d+)$", spec)
  if not match:
    raise argparse.ArgumentTypeError(f"--label wants MODEL:LABEL=VERSION, got {spec!r}")
  return match.group(1), match.group(2), int(match.group(3))


def register(subparsers) -> None:
  serve = subparsers.add_parser("serve", help="serve SavedModels with TF Serving's REST and gRPC APIs "
                                "(TF Serving's flags; default: the pushed models)")
  source = serve.add_mutually_exclusive_group()
  source.add_argument("--model-config", "--model_config_file", dest="model_config",
                      help="TF Serving's model config file (ModelServerConfig text proto)")
  source.add_argument("--model-base-dir", help="a serving root: one folder per model, numbered versions inside "
                      "(default: the trained models shipped in the repository's models/, or $FDP_MODELS_DIR)")
  source.add_argument("--model_base_path", help="one model's base path (numbered versions inside), served as "
                      "--model_name")
  serve.add_argument("--model_name", default="default", help="the model's name with --model_base_path")
  serve.add_argument("--batching-parameters", "--batching_parameters_file", dest="batching_parameters",
                     help="TF Serving's batching parameters file (text proto)")
  serve.add_argument("--enable_batching", type=_bool, nargs="?", const=True, default=True,
                     help="batch concurrent requests (default true here; TF Serving's default is false)")
  serve.add_argument("--no-batching", dest="enable_batching", action="store_false",
                     help="run every request on its own (= --enable_batching=false)")
  serve.add_argument("--monitoring-config", "--monitoring_config_file", dest="monitoring_config",
                     help="TF Serving's monitoring config (the Prometheus path)")
  for flags, field, kind, text in SETTING_FLAGS:
    default = getattr(_DEFAULTS, field)
    serve.add_argument(*flags, dest=field, type=kind, default=default,
                       help=f"{text} (default: {default})" if default not in (None, ()) else text)
  serve.set_defaults(func=cmd_serve)

  generate = subparsers.add_parser("serving-config", help="write TF Serving's config files (models, batching, "
                                   "monitoring) for the pushed models, and the Kubernetes ConfigMap")
  generate.add_argument("--out", help="write models.config, batching.config and monitoring.config here")
  generate.add_argument("--base-path", default="/models", help="the serving root as the server sees it")
  generate.add_argument("--k8s", help="write configmap.yaml into this folder")
  generate.add_argument("--label", action="append", default=[], type=_label, help="MODEL:LABEL=VERSION")
  generate.set_defaults(func=cmd_serving_config)
