"""`fdp serve`: the pushed SavedModels behind TF Serving's REST and gRPC APIs, in one process.

The model config (TF Serving's models.config, or one built from a base dir), the registry watching the
base paths, the serving core, and the two front ends on their ports.
"""
import logging
import threading
from typing import Optional

from werkzeug import serving as werkzeug_serving

from serving import defaults
from serving.server import batching
from serving.server import config as config_lib
from serving.server import core as core_lib
from serving.server import grpc_server
from serving.server import registry as registry_lib
from serving.server import rest
from serving.server import saved_model


class _KeepAliveHandler(werkzeug_serving.WSGIRequestHandler):
  """HTTP/1.1, so a client's connection is reused between requests (werkzeug's default is 1.0)."""
  protocol_version = "HTTP/1.1"

  def log_request(self, *args, **kwargs):  # one line per request is too much for a model server
    pass


class ModelServer:
  """Start with start(); ports 0 pick free ones (read rest_port / grpc_port after start)."""

  def __init__(self, model_server_config, rest_port: int = defaults.REST_PORT,
               grpc_port: int = defaults.GRPC_PORT, host: str = "0.0.0.0",
               batching_options: Optional[batching.BatchingOptions] = batching.BatchingOptions(),
               max_request_bytes: int = defaults.MAX_REQUEST_BYTES, poll_seconds: float = 1.0,
               grpc_threads: int = 16):
    self.registry = registry_lib.ModelRegistry(model_server_config, saved_model.loader(batching_options),
                                               poll_seconds=poll_seconds)
    self.core = core_lib.ServingCore(self.registry)
    self._host, self.rest_port, self.grpc_port = host, rest_port, grpc_port
    self._max_request_bytes, self._grpc_threads = max_request_bytes, grpc_threads
    self._http = self._grpc = self._http_thread = None

  def start(self) -> "ModelServer":
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # its per-request lines are too much here
    self.registry.start()
    app = rest.RestApp(self.core, self._max_request_bytes)
    self._http = werkzeug_serving.make_server(self._host, self.rest_port, app, threaded=True,
                                              request_handler=_KeepAliveHandler)
    self.rest_port = self._http.server_port
    self._http_thread = threading.Thread(target=self._http.serve_forever, name="rest", daemon=True)
    self._http_thread.start()
    self._grpc, self.grpc_port = grpc_server.make_server(self.core, self._host, self.grpc_port,
                                                         self._max_request_bytes, self._grpc_threads)
    return self

  def stop(self) -> None:
    if self._grpc:
      self._grpc.stop(grace=5).wait()
    if self._http:
      self._http.shutdown()
      self._http_thread.join(timeout=10)
    self.registry.stop()

  def wait(self) -> None:
    self._grpc.wait_for_termination()


def build_model_config(model_config_file: Optional[str], model_base_dir: Optional[str]):
  if model_config_file:
    return config_lib.read_model_config(model_config_file)
  return config_lib.model_config_for_base_dir(model_base_dir)


def batching_options(batching_parameters_file: Optional[str], enabled: bool = True):
  if not enabled:
    return None
  if batching_parameters_file:
    return batching.BatchingOptions.from_proto(config_lib.read_batching_parameters(batching_parameters_file))
  return batching.BatchingOptions()
