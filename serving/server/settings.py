"""Everything `fdp serve` can be told, in one place: the front ends' ports, threads and time limits, how the
models are watched and how long a shutdown may drain. The CLI builds it from its flags (TF Serving's names
and the project's own); ModelServer takes it whole."""
import dataclasses

from serving import defaults
from serving.http_server import HttpOptions
from serving.server.config import PROMETHEUS_PATH


@dataclasses.dataclass(frozen=True)
class ServerSettings:
  host: str = "0.0.0.0"
  grpc_port: int = defaults.GRPC_PORT  # [--port]
  rest_port: int = defaults.REST_PORT  # [--rest_api_port]
  rest_threads: int = defaults.HTTP_THREADS  # [--rest_api_num_threads]
  rest_timeout_s: float = defaults.REST_TIMEOUT_MS / 1000  # [--rest_api_timeout_in_ms]
  grpc_threads: int = defaults.GRPC_THREADS  # [--grpc_max_threads]
  max_request_bytes: int = defaults.MAX_REQUEST_BYTES
  poll_seconds: float = 1.0  # [--file_system_poll_wait_seconds]
  load_threads: int = 2  # versions loading (and warming up) at once [--num_load_threads]
  metrics_path: str = PROMETHEUS_PATH  # [--monitoring_config_file]'s prometheus_config.path
  drain_seconds: float = defaults.DRAIN_SECONDS
  idle_timeout_s: float = HttpOptions.idle_timeout_s  # an idle keep-alive connection is closed after this
  request_read_timeout_s: float = HttpOptions.request_read_timeout_s  # a request must arrive whole in this
  connection_limit: int = HttpOptions.connection_limit  # open REST connections; past it, the listen backlog
