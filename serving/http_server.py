"""The production HTTP server under TF Serving's REST API (`fdp serve`) and the web page (`fdp web`).

waitress (pure Python, from the registry; chosen by measurement, see docs/serving.md) with:
- a fixed pool of `threads` workers; one event-loop thread reads every connection, and a request reaches a
  worker only once its headers and body are complete, so slow or idle clients hold no thread;
- idle connections closed after `idle_timeout_s`; a request still incomplete `request_read_timeout_s` after
  its first byte (a client that never finishes its headers or body) is cut off;
- at most `connection_limit` connections: at the limit the connections waiting longest without a request
  to answer (slow or idle clients) are closed to make room, so slow clients cannot lock others out;
  bodies above `max_request_bytes` are refused with 413 before they are read; keep-alive;
- errors found before the application runs (a malformed request line, a body too large) answered as JSON
  `{"error": ...}` like the application's own;
- `stop(grace_s)`: stop accepting, answer what was accepted (bounded by the grace period), then close. The
  connections the kernel had already completed when the listener closes are accepted first (none is reset),
  and a new connection whose request has not arrived yet gets `NEW_CONNECTION_GRACE_S` to send it (as Go's
  http.Server.Shutdown does); idle keep-alive connections are closed at once.
"""
import dataclasses
import json
import logging
import threading
import time
from typing import Callable, Optional

from waitress import channel as waitress_channel
from waitress import server as waitress_server
from waitress import task as waitress_task
from waitress import wasyncore

from serving import defaults

log = logging.getLogger(__name__)
POLL_S = 0.02  # how often stop() looks whether the requests in flight are done
NEW_CONNECTION_GRACE_S = 2.0  # while draining, how long a connection that has sent nothing yet is kept


@dataclasses.dataclass(frozen=True)
class HttpOptions:
  threads: int = defaults.HTTP_THREADS
  connection_limit: int = 1000
  backlog: int = 2048
  idle_timeout_s: float = 30.0
  request_read_timeout_s: float = 15.0
  make_room_after_s: float = 0.5  # at the connection limit, connections quiet this long make room
  max_request_bytes: int = defaults.MAX_REQUEST_BYTES


class _QueueDepthAsDebug:
  """waitress warns "Task queue depth is N" whenever requests wait for a worker, which under load is the
  design: this server's dispatcher logs it at DEBUG on this module's logger (no process-wide logger is
  changed)."""

  @staticmethod
  def warning(message, *args, **kwargs):
    log.debug(message, *args, **kwargs)


class _JsonErrorTask(waitress_task.ErrorTask):
  """waitress's own error answers (400, 413, ...) in the JSON form every other error has."""

  def execute(self):
    error = self.request.error
    message = f"{error.reason}: {error.body}"
    if error.code == 413:
      message = (f"Request body exceeds the limit of {self.channel.server.adj.max_request_body_size} bytes "
                 "(refused before it was read)")
    body = json.dumps({"error": message}).encode("utf-8")
    self.status = f"{error.code} {error.reason}"
    self.response_headers.append(("Content-Type", "application/json"))
    self.set_close_on_finish()
    self.content_length = len(body)
    self.write(body)


class _Channel(waitress_channel.HTTPChannel):
  """Remembers when the request being read began, so a request that takes too long to arrive is cut."""
  error_task_class = _JsonErrorTask
  request_started: Optional[float] = None
  has_received = False  # any byte yet (a fresh connection's request may still be on its way)

  def received(self, data):
    self.has_received = self.has_received or bool(data)
    before = self.request
    result = super().received(data)
    if self.request is None:
      self.request_started = None
    elif self.request is not before:
      self.request_started = time.monotonic()
    return result


class _Server(waitress_server.TcpWSGIServer):
  channel_class = _Channel
  request_read_timeout_s = HttpOptions.request_read_timeout_s
  make_room_after_s = HttpOptions.make_room_after_s

  def maintenance(self, now):
    super().maintenance(now)  # closes connections idle for longer than channel_timeout
    cutoff = time.monotonic() - self.request_read_timeout_s
    for channel in list(self.active_channels.values()):
      started = channel.request_started
      if started is not None and started < cutoff and not channel.requests:
        channel.will_close = True

  def __init__(self, *args, **kwargs):
    self.listener_closing = threading.Event()  # set by stop_listening(); the loop thread closes the listener
    self.listener_closed = threading.Event()
    super().__init__(*args, **kwargs)

  def readable(self):
    if self.listener_closing.is_set() and not self.listener_closed.is_set():
      self.close_listener()
      return False
    if self.accepting and len(self._map) >= self.adj.connection_limit:  # waitress's own count (listener included)
      self.make_room()
    return super().readable()

  def make_room(self) -> None:
    """At the connection limit, the connections quiet for longest (over `make_room_after_s`) without a
    request to answer (slow clients still sending one, silent or idle ones) are closed, so a flood of slow
    clients cannot hold every slot until the read timeout frees one: a new client gets in within
    about `make_room_after_s`."""
    quiet_since = time.time() - self.make_room_after_s  # waitress stamps last_activity with time.time()
    channels = list(self.active_channels.values())
    closing = sum(1 for channel in channels if channel.will_close)
    waiting = [channel for channel in channels if not channel.will_close and not channel.requests
               and not channel.total_outbufs_len and channel.last_activity < quiet_since]
    excess = len(self._map) - self.adj.connection_limit + max(1, self.adj.connection_limit // 100) - closing
    for channel in sorted(waiting, key=lambda c: c.last_activity)[:max(0, excess)]:
      channel.will_close = True  # closed by the event loop when it next looks at it (never mid-iteration)

  def stop_listening(self, loop_running: bool) -> None:
    """Has the event loop's thread run close_listener() (here when no loop runs, or it does not answer)."""
    if self.listener_closed.is_set():
      return
    self.listener_closing.set()
    if loop_running:
      self.pull_trigger()
      if self.listener_closed.wait(timeout=5):
        return
    self.close_listener()

  def close_listener(self) -> None:
    """On the event loop's thread: accepts every connection the kernel has completed (closing the listener
    would reset them), then closes the listener so the kernel refuses new ones."""
    while True:
      try:
        pair = self.accept()
      except OSError:
        break
      if pair is None:
        break
      connection, address = pair
      try:
        self.set_socket_options(connection)
      except OSError:  # the client already hung up
        connection.close()
        continue
      self.channel_class(self, connection, self.fix_addr(address), self.adj, map=self._map)
    self.accepting = False
    self.del_channel()
    self.socket.close()
    self.listener_closed.set()


class HttpServer:
  """`app` (a WSGI application) on host:port; start() serves on a background thread; port 0 picks a free
  port (read `port`)."""

  def __init__(self, app: Callable, host: str, port: int, options: HttpOptions = HttpOptions(), name: str = "http"):
    self._app = app
    self._name = name
    self._lock = threading.Lock()
    self._in_app = 0
    self.draining = threading.Event()  # set by stop(): the application may answer "not ready"
    self._server = _Server(self._counted, host=host, port=port, threads=options.threads,
                           connection_limit=options.connection_limit, backlog=options.backlog,
                           channel_timeout=options.idle_timeout_s, cleanup_interval=1,
                           max_request_body_size=options.max_request_bytes, asyncore_use_poll=True,
                           ident="fdp", expose_tracebacks=False, clear_untrusted_proxy_headers=True,
                           channel_request_lookahead=1)  # gives environ["waitress.client_disconnected"]
    self._server.task_dispatcher.queue_logger = _QueueDepthAsDebug()
    self._server.request_read_timeout_s = options.request_read_timeout_s
    self._server.make_room_after_s = options.make_room_after_s
    self.port = self._server.effective_port
    self._thread: Optional[threading.Thread] = None

  def _counted(self, environ, start_response):
    """The application, counted while it runs."""
    with self._lock:
      self._in_app += 1
    try:
      result = self._app(environ, start_response)
      try:
        return [b"".join(result)]  # answers are small (JSON, a page): produce them while counted
      finally:
        close = getattr(result, "close", None)
        if close:
          close()
    finally:
      with self._lock:
        self._in_app -= 1

  def start(self) -> "HttpServer":
    self._thread = threading.Thread(target=self._server.run, name=self._name, daemon=True)
    self._thread.start()
    return self

  def threads(self) -> int:
    """The worker threads (fixed) plus the event loop."""
    return len(self._server.task_dispatcher.threads) + 1

  def _channels(self):
    return list(self._server.active_channels.values())

  @staticmethod
  def _idle(channel, new_since: float) -> bool:
    """Nothing to answer or send and no request arriving: a keep-alive connection between requests, or a
    new one that has sent nothing since `new_since` (waitress stamps creation_time with time.time())."""
    waiting = not channel.requests and not channel.total_outbufs_len and channel.request is None
    return waiting and (channel.has_received or channel.creation_time < new_since)

  def _busy(self) -> bool:
    """A request accepted and not yet answered to the last byte, or one that may still arrive."""
    new_since = time.time() - NEW_CONNECTION_GRACE_S
    return bool(self._in_app) or not all(self._idle(channel, new_since) for channel in self._channels())

  def _close_idle_connections(self) -> None:
    """Idle connections are closed (their clients reconnect and are refused)."""
    new_since = time.time() - NEW_CONNECTION_GRACE_S
    for channel in self._channels():
      if self._idle(channel, new_since):
        channel.will_close = True
    self._server.pull_trigger()

  def stop(self, grace_s: float = 0.0) -> bool:
    """Stops accepting connections at once, waits up to `grace_s` for the requests already accepted (closing
    each connection once it has nothing left to answer), then closes everything. True when nothing accepted
    was cut off."""
    self.draining.set()
    self._server.stop_listening(loop_running=self._thread is not None and self._thread.is_alive())
    end = time.monotonic() + grace_s
    while True:
      self._close_idle_connections()
      if not self._busy() or time.monotonic() >= end:
        break
      time.sleep(POLL_S)
    drained = not self._busy()
    if not drained:
      log.warning("%s: requests still in flight after the %.0f s grace period are cut off", self._name, grace_s)
    self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=1)
    wasyncore.close_all(self._server._map)  # pylint: disable=protected-access
    if self._thread:
      self._thread.join(timeout=5)
    return drained
