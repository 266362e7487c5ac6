"""The model server's defaults, importing nothing heavy, so `fdp --help` can show them at once."""
from vocabulary import settings

GRPC_PORT = 8500  # TF Serving's
REST_PORT = 8501  # TF Serving's
MAX_REQUEST_BYTES = 16 * 1024 * 1024
# The two wire protocols of the model server and its clients (TF Serving's two APIs).
REST, GRPC = "rest", "grpc"
PROTOCOLS = (REST, GRPC)


def __getattr__(name: str):
  """SHIPPED_MODELS_DIR, what `fdp serve` serves when given no models: settings.models_dir(), read at
  each use (FDP_MODELS_DIR, else the checkout's models/)."""
  if name == "SHIPPED_MODELS_DIR":
    return settings.models_dir()
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# Concurrency and time limits (TF Serving's flags in brackets; `fdp serve --help` lists them).
HTTP_THREADS = 32  # REST workers [--rest_api_num_threads]; slow clients hold none (serving/http_server.py)
GRPC_THREADS = 32  # gRPC workers [--grpc_max_threads]
REST_TIMEOUT_MS = 30000  # a REST request's deadline [--rest_api_timeout_in_ms], TF Serving's default
DRAIN_SECONDS = 20.0  # on SIGTERM, how long requests already accepted may take to finish
