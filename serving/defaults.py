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
