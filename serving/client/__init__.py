"""The client library: calls TF Serving's REST and gRPC APIs (a real TF Serving or `fdp serve`)."""
