"""`fdp serve`: the pushed SavedModels behind TF Serving's REST and gRPC APIs, in one process.

The model config (TF Serving's models.config, or one built from a base dir), the registry watching the
base paths, the serving core (the protocol-free data plane), and the two front ends on their ports: REST on
the production HTTP server (serving/http_server.py), gRPC on grpcio's. `stop()` drains both: no new
connections or RPCs, the ones accepted are answered (up to the drain period), then the models unload.
"""
import dataclasses
import logging
import threading
from typing import Optional

from serving import http_server
from serving.server import batching
from serving.server import config as config_lib
from serving.server import core as core_lib
from serving.server import grpc_server
from serving.server import registry as registry_lib
from serving.server import rest
from serving.server import saved_model
from serving.server.settings import ServerSettings

log = logging.getLogger(__name__)


class ModelServer:
  """Start with start(); ports 0 pick free ones (read rest_port / grpc_port after start). Settings come as
  a ServerSettings, or as its field names (`ModelServer(config, rest_port=0, grpc_port=0)`)."""

  def __init__(self, model_server_config, settings: Optional[ServerSettings] = None,
               batching_options: Optional[batching.BatchingOptions] = batching.BatchingOptions(), **overrides):
    self.settings = dataclasses.replace(settings or ServerSettings(), **overrides)
    self.registry = registry_lib.ModelRegistry(model_server_config, saved_model.loader(batching_options),
                                               poll_seconds=self.settings.poll_seconds,
                                               load_threads=self.settings.load_threads)
    self.core = core_lib.ServingCore(self.registry)
    self.rest_port, self.grpc_port = self.settings.rest_port, self.settings.grpc_port
    self._http: Optional[http_server.HttpServer] = None
    self._grpc = None
    self._stopped = threading.Event()

  def start(self) -> "ModelServer":
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" under load is expected
    s = self.settings
    self.registry.start()
    app = rest.RestApp(self.core, s.max_request_bytes, s.metrics_path, timeout_s=s.rest_timeout_s,
                       is_draining=lambda: self._http is not None and self._http.draining.is_set())
    self._http = http_server.HttpServer(app, s.host, s.rest_port, http_server.HttpOptions(
        threads=s.rest_threads, connection_limit=s.connection_limit, idle_timeout_s=s.idle_timeout_s,
        request_read_timeout_s=s.request_read_timeout_s, max_request_bytes=s.max_request_bytes), name="rest")
    self.rest_port = self._http.port
    self._http.start()
    self._grpc, self.grpc_port = grpc_server.make_server(self.core, s.host, s.grpc_port, s.max_request_bytes,
                                                         s.grpc_threads)
    return self

  def stop(self, grace_s: Optional[float] = None) -> bool:
    """Drains both front ends at once (at most `grace_s`, default the settings' drain period), then unloads
    the models. True when every request accepted was answered."""
    grace_s = self.settings.drain_seconds if grace_s is None else grace_s
    grpc_done = self._grpc.stop(grace=grace_s) if self._grpc else None
    drained = self._http.stop(grace_s) if self._http else True
    if grpc_done is not None:
      grpc_done.wait(grace_s + 1)
    self.registry.stop()
    self._stopped.set()
    return drained

  def wait(self) -> None:
    self._stopped.wait()


def build_model_config(model_config_file: Optional[str], model_base_dir: Optional[str],
                       model_base_path: Optional[str] = None, model_name: str = "default"):
  """The ModelServerConfig to serve: TF Serving's models.config, or one model's base path (its
  --model_base_path + --model_name), or a serving root of model folders."""
  if model_base_path:
    return config_lib.model_config_for_base_path(model_name, model_base_path)
  if model_config_file:
    return config_lib.read_model_config(model_config_file)
  return config_lib.model_config_for_base_dir(model_base_dir)


def batching_options(batching_parameters_file: Optional[str], enabled: bool = True):
  if not enabled:
    return None
  if batching_parameters_file:
    return batching.BatchingOptions.from_proto(config_lib.read_batching_parameters(batching_parameters_file))
  return batching.BatchingOptions()
