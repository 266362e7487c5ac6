"""Everything `fdp serve` can be told, in one place: the front ends' ports, threads and time limits, how the
models are found, loaded and watched, and how long a shutdown may drain. Each field is one default; the
CLI derives its flags (TF Serving's names and the project's own) from these fields, and ModelServer takes
a ServerSettings whole."""
import dataclasses
from typing import Optional, Tuple

from serving import defaults
from serving.http_server import HttpOptions

PROMETHEUS_PATH = "/monitoring/prometheus/metrics"  # TF Serving's default monitoring path


def parse_channel_arguments(text: str) -> Tuple[Tuple[str, object], ...]:
  """TF Serving's --grpc_channel_arguments: "key=value,key=value"; integer values as integers."""
  arguments = []
  for item in filter(None, (part.strip() for part in (text or "").split(","))):
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
      raise ValueError(f"{item!r} is not key=value")
    value = value.strip()
    arguments.append((key.strip(), int(value) if value.lstrip("-").isdigit() else value))
  return tuple(arguments)


@dataclasses.dataclass(frozen=True)
class ServerSettings:
  host: str = "0.0.0.0"
  grpc_port: int = defaults.GRPC_PORT  # [--port]
  rest_port: int = defaults.REST_PORT  # [--rest_api_port]; 0 in both: a free port
  grpc_socket_path: Optional[str] = None  # gRPC also on this Unix socket [--grpc_socket_path]
  grpc_channel_arguments: Tuple[Tuple[str, object], ...] = ()  # [--grpc_channel_arguments]
  rest_threads: int = defaults.HTTP_THREADS  # [--rest_api_num_threads]
  rest_timeout_s: float = defaults.REST_TIMEOUT_MS / 1000  # [--rest_api_timeout_in_ms]
  grpc_threads: int = defaults.GRPC_THREADS  # [--grpc_max_threads]
  max_request_bytes: int = defaults.MAX_REQUEST_BYTES
  poll_seconds: float = 1.0  # base paths checked for new versions [--file_system_poll_wait_seconds]
  model_config_file: Optional[str] = None  # TF Serving's models.config [--model_config_file]
  model_config_poll_seconds: float = 0.0  # re-read it this often, 0: never [--model_config_file_poll_wait_seconds]
  load_threads: int = 2  # versions loading (and warming up) at once [--num_load_threads]
  prefer_tflite: bool = False  # serve a version's model.tflite when it has one [--prefer_tflite_model]
  allow_version_labels_for_unavailable_models: bool = False  # [--allow_version_labels_for_unavailable_models]
  metrics_path: str = PROMETHEUS_PATH  # [--monitoring_config_file]'s prometheus_config.path
  drain_seconds: float = defaults.DRAIN_SECONDS
  idle_timeout_s: float = HttpOptions.idle_timeout_s  # an idle keep-alive connection is closed after this
  request_read_timeout_s: float = HttpOptions.request_read_timeout_s  # a request must arrive whole in this
  connection_limit: int = HttpOptions.connection_limit  # open REST connections; past it, the listen backlog
