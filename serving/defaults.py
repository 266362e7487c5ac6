"""The model server's defaults, importing nothing heavy, so `fdp --help` can show them at once."""
import os

GRPC_PORT = 8500  # TF Serving's
REST_PORT = 8501  # TF Serving's
MAX_REQUEST_BYTES = 16 * 1024 * 1024

# The trained models shipped with the project (a serving root: <model>/<version>/saved_model.pb), what
# `fdp serve` serves when given none: the checkout's models/; FDP_MODELS_DIR elsewhere (an installed
# package has no models/; the Kubeflow image sets it).
SHIPPED_MODELS_DIR = os.environ.get(
    "FDP_MODELS_DIR", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models"))

# Concurrency and time limits (TF Serving's flags in brackets; `fdp serve --help` lists them).
HTTP_THREADS = 32  # REST workers [--rest_api_num_threads]; slow clients hold none (serving/http_server.py)
GRPC_THREADS = 32  # gRPC workers [--grpc_max_threads]
REST_TIMEOUT_MS = 30000  # a REST request's deadline [--rest_api_timeout_in_ms], TF Serving's default
DRAIN_SECONDS = 20.0  # on SIGTERM, how long requests already accepted may take to finish
