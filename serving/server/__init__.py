"""The model server: serves SavedModels with TF Serving's REST and gRPC APIs, its model config, batching
and Prometheus metrics (`fdp serve`)."""
