"""`fdp serve`: SavedModels (and TF Lite models) behind TF Serving's REST and gRPC APIs, in one process.

The model config (TF Serving's model config file, re-read every --model_config_file_poll_wait_seconds, or
one built from a base path or serving root), the registry watching the base paths, the serving core (the
protocol-free data plane), and the two front ends on their ports: REST on the production HTTP server
(serving/http_server.py), gRPC on grpcio's (and a Unix socket). `start()` starts all of it or, when a part
fails (a port taken), stops what it had started and raises ServerStartError naming the cause. `stop()`
drains both front ends, then unloads the models, all within the drain period whatever the models do.
"""
import dataclasses
import logging
import threading
import time
from typing import Callable, Optional

from serving import errors
from serving import http_server
from serving.server import batching
from serving.server import core as core_lib
from serving.server import grpc_server
from serving.server import model_config as model_config_lib
from serving.server import registry as registry_lib
from serving.server import rest
from serving.server import servables
from serving.server.settings import ServerSettings

log = logging.getLogger(__name__)


class ServerStartError(RuntimeError):
  """The server could not start (nothing it started is left running); str() is one line."""


class ModelServer:
  """Start with start(); ports 0 pick free ones (read rest_port / grpc_port after start). Settings come as
  a ServerSettings, or as its field names (`ModelServer(config, rest_port=0, grpc_port=0)`)."""

  def __init__(self, model_server_config, settings: Optional[ServerSettings] = None,
               batching_options: Optional[batching.BatchingOptions] = batching.BatchingOptions(),
               loader: Optional[Callable[[str], servables.LoadedModel]] = None, **overrides):
    """`loader(version folder)`: how a version is loaded (default: servables.load, in the format the
    folder holds)."""
    self.settings = s = dataclasses.replace(settings or ServerSettings(), **overrides)
    self.registry = registry_lib.ModelRegistry(
        model_config_lib.validate(model_server_config),
        loader or servables.loader(batching_options, s.prefer_tflite),
        poll_seconds=s.poll_seconds, load_threads=s.load_threads,
        loadable=servables.is_version,
        labels_need_available_versions=not s.allow_version_labels_for_unavailable_models)
    self.core = core_lib.ServingCore(self.registry)
    self.rest_port, self.grpc_port = s.rest_port, s.grpc_port
    self._http: Optional[http_server.HttpServer] = None
    self._grpc = None
    self._config_poller: Optional[threading.Thread] = None
    self._config_text: Optional[str] = None
    self._stopping = threading.Event()
    self._stopped = threading.Event()

  def start(self) -> "ModelServer":
    try:
      self._start()
    except Exception as e:
      self._shut_down(grace_s=0)
      if isinstance(e, ServerStartError):
        raise
      raise ServerStartError(f"{type(e).__name__}: {e}" if not isinstance(e, OSError) else str(e)) from e
    return self

  def _start(self) -> None:
    """Binds both front ends' ports first (a port taken fails at once), then loads the models, then
    serves."""
    s = self.settings
    addresses = [f"{s.host}:{s.grpc_port}"] + ([f"unix:{s.grpc_socket_path}"] if s.grpc_socket_path else [])
    self._grpc, self.grpc_port = grpc_server.make_server(self.core, addresses, s.max_request_bytes,
                                                         s.grpc_threads, s.grpc_channel_arguments,
                                                         reload_config=self.reload_config)
    app = rest.RestApp(self.core, s.max_request_bytes, s.metrics_path, timeout_s=s.rest_timeout_s,
                       is_draining=lambda: self._http is not None and self._http.draining.is_set())
    try:
      self._http = http_server.HttpServer(app, s.host, s.rest_port, http_server.HttpOptions(
          threads=s.rest_threads, connection_limit=s.connection_limit, idle_timeout_s=s.idle_timeout_s,
          request_read_timeout_s=s.request_read_timeout_s, max_request_bytes=s.max_request_bytes), name="rest")
    except OSError as e:
      raise ServerStartError(f"REST could not bind {s.host}:{s.rest_port}: {e.strerror or e}") from e
    self.rest_port = self._http.port
    self.registry.start()
    self._grpc.start()
    self._http.start()
    if s.model_config_file and s.model_config_poll_seconds > 0:
      with open(s.model_config_file) as f:
        self._config_text = f.read()
      self._config_poller = threading.Thread(target=self._poll_config_file, name="config-poller", daemon=True)
      self._config_poller.start()

  # The model config, changed while serving.

  def reload_config(self, config) -> None:
    """Serves `config` (a ModelServerConfig) from now on: TF Serving's HandleReloadConfigRequest. Raises a
    ServingError when it cannot be served or a model in it has nothing to serve."""
    try:
      model_config_lib.validate(config)
    except model_config_lib.ConfigError as e:
      raise errors.ServingError(e.code, str(e)) from None
    self.registry.reload(config)

  def _poll_config_file(self) -> None:
    path = self.settings.model_config_file
    while not self._stopping.wait(self.settings.model_config_poll_seconds):
      try:
        with open(path) as f:
          text = f.read()
        if text == self._config_text:
          continue
        config = model_config_lib.read_model_config(path)
        self._config_text = text
        log.info("model config %s changed: reloading", path)
        self.registry.reload(config)
      except (OSError, model_config_lib.ConfigError, errors.ServingError) as e:
        log.error("model config %s: %s (still serving the config before it)", path, e)
      except Exception:  # pylint: disable=broad-except
        log.exception("model config %s could not be applied", path)

  # Stopping.

  def stop(self, grace_s: Optional[float] = None) -> bool:
    """Drains both front ends at once (at most `grace_s`, default the settings' drain period), then unloads
    the models in what is left of it. True when every request accepted was answered."""
    return self._shut_down(self.settings.drain_seconds if grace_s is None else grace_s)

  def _shut_down(self, grace_s: float) -> bool:
    end = time.monotonic() + grace_s
    self._stopping.set()
    grpc_done = self._grpc.stop(grace=grace_s) if self._grpc else None
    drained = self._http.stop(grace_s) if self._http else True
    if grpc_done is not None:
      grpc_done.wait(max(0.0, end - time.monotonic()) + 0.5)
    self.registry.stop(timeout_s=max(0.0, end - time.monotonic()) + 1.0)
    self._stopped.set()
    return drained

  def wait(self) -> None:
    self._stopped.wait()
