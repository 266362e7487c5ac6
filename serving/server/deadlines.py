"""How long a request may still take, and whether its client still wants the answer.

Each front end makes one Deadline per request: REST from `--rest_api_timeout_in_ms`, gRPC from the client's
deadline (or the server's default when the client set none) and its cancellation. The data plane checks it
before running a model and the batcher never waits past it, so a request whose time is up is answered
DEADLINE_EXCEEDED (or CANCELLED) without the model being run for it.
"""
import threading
import time
from typing import Callable, List, Optional

from serving import errors


class Deadline:
  """A point on the monotonic clock (None: no limit), plus a cancellation flag with callbacks."""

  def __init__(self, seconds: Optional[float] = None, client_gone: Optional[Callable[[], bool]] = None):
    """`client_gone()`, when given, says whether the client has hung up (asked before the model runs)."""
    self.at = None if seconds is None else time.monotonic() + max(0.0, seconds)
    self._client_gone = client_gone
    self._lock = threading.Lock()
    self._cancelled = False
    self._finished = False
    self._callbacks: List[Callable[[], None]] = []

  def remaining(self) -> Optional[float]:
    """Seconds left (>= 0), or None when there is no limit."""
    return None if self.at is None else max(0.0, self.at - time.monotonic())

  @property
  def expired(self) -> bool:
    return self.at is not None and time.monotonic() >= self.at

  @property
  def cancelled(self) -> bool:
    if not self._cancelled and self._client_gone is not None and self._client_gone():
      self.cancel()
    return self._cancelled

  def finish(self) -> None:
    """The request has its answer: a later cancel (gRPC calls back at every RPC's end) changes nothing."""
    with self._lock:
      self._finished = True
      self._callbacks = []

  def cancel(self) -> None:
    """The client went away: callbacks run once (e.g. a queued batch task drops out)."""
    with self._lock:
      if self._cancelled or self._finished:
        return
      self._cancelled = True
      callbacks, self._callbacks = self._callbacks, []
    for callback in callbacks:
      callback()

  def on_cancel(self, callback: Callable[[], None]) -> None:
    with self._lock:
      if not self._cancelled:
        self._callbacks.append(callback)
        return
    callback()

  def error(self) -> Optional[errors.ServingError]:
    """The error to answer with when the request should not (or no longer) run, else None."""
    if self.cancelled:
      return errors.ServingError(errors.CANCELLED, "The request was cancelled by the client")
    if self.expired:
      return errors.ServingError(errors.DEADLINE_EXCEEDED, "Deadline exceeded: the request ran out of time "
                                 "before the model could answer it")
    return None

  def check(self) -> None:
    error = self.error()
    if error is not None:
      raise error

