"""Waiting on a condition instead of sleeping: a test that orders events by sleeping fails on a loaded
machine, one that waits for the state it needs does not."""
import threading
import time

POLL_S = 0.02
TIMEOUT_S = 30.0


def wait_until(condition, timeout: float = TIMEOUT_S, what: str = "the condition"):
  """Returns `condition()`'s first truthy value, checking every POLL_S; fails after `timeout` seconds."""
  end = time.monotonic() + timeout
  pause = threading.Event()
  while True:
    value = condition()
    if value:
      return value
    if time.monotonic() > end:
      raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
    pause.wait(POLL_S)
