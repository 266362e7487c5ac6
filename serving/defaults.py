"""The model server's defaults, with no imports, so `fdp --help` can show them at once."""

GRPC_PORT = 8500  # TF Serving's
REST_PORT = 8501  # TF Serving's
MAX_REQUEST_BYTES = 16 * 1024 * 1024
