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
