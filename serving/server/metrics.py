"""Prometheus metrics at TF Serving's monitoring path, per model, version, API and protocol.

Names follow TF Serving's (`:tensorflow:serving:request_count`, `...:request_latency`), so dashboards
built for the real server read these too.
"""
import prometheus_client

PREFIX = ":tensorflow:serving:"
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServingMetrics:
  """One registry per server, so two servers in one process (tests) do not mix counts."""

  def __init__(self):
    self.registry = prometheus_client.CollectorRegistry()
    labels = ("model_name", "model_version", "api", "protocol")
    self.requests = prometheus_client.Counter(
        PREFIX + "request_count", "Requests, by outcome", labels + ("status",), registry=self.registry)
    self.errors = prometheus_client.Counter(
        PREFIX + "request_errors", "Failed requests, by error code", labels + ("code",), registry=self.registry)
    self.latency = prometheus_client.Histogram(
        PREFIX + "request_latency_seconds", "Time to answer a request", labels, buckets=LATENCY_BUCKETS_S,
        registry=self.registry)

  def observe(self, model: str, version: str, api: str, protocol: str, code: str, seconds: float) -> None:
    self.requests.labels(model, version, api, protocol, code).inc()
    self.latency.labels(model, version, api, protocol).observe(seconds)
    if code != "OK":
      self.errors.labels(model, version, api, protocol, code).inc()

  def render(self):
    """(body, content type) of the Prometheus text exposition."""
    return prometheus_client.generate_latest(self.registry), prometheus_client.CONTENT_TYPE_LATEST
