"""Server-side request batching, as configured by TF Serving's batching parameters file.

Requests for one signature of one model version queue up; a batch thread takes the first, waits up to
`batch_timeout` for more (never beyond `max_batch_size` rows), runs the model once on the concatenated
inputs and hands each request its own rows back. A batch that fails is retried one request at a time, so
one bad request never fails its neighbours.

Every wait is bounded: a request waits for its batch until its deadline (MAX_WAIT_S when it has none); one
whose deadline passes or whose client cancels while it is still queued is dropped from the queue, so the
model never runs for it.
"""
import dataclasses
import queue
import threading
import time
from typing import Callable, Dict, List, Optional

import numpy as np

from serving.server import deadlines
from serving import errors

Arrays = Dict[str, np.ndarray]
MAX_WAIT_S = 300.0  # the longest a request without a deadline waits for its batch
CLOSE_WAIT_S = 10.0  # the longest close() waits for the queued requests and the threads


@dataclasses.dataclass(frozen=True)
class BatchingOptions:
  max_batch_size: int = 32
  batch_timeout_s: float = 0.002
  max_enqueued_batches: int = 100
  num_batch_threads: int = 2

  @classmethod
  def from_proto(cls, params) -> "BatchingOptions":
    """Unset fields keep our defaults (TF Serving does the same with its own)."""
    def value(field, default):
      return getattr(params, field).value if params.HasField(field) else default
    default = cls()
    return cls(max_batch_size=int(value("max_batch_size", default.max_batch_size)),
               batch_timeout_s=value("batch_timeout_micros", default.batch_timeout_s * 1e6) / 1e6,
               max_enqueued_batches=int(value("max_enqueued_batches", default.max_enqueued_batches)),
               num_batch_threads=int(value("num_batch_threads", default.num_batch_threads)))


class _Task:
  """One request's rows in the queue: QUEUED until a batch thread takes it (RUNNING) or its client stops
  waiting (DROPPED), whichever comes first."""
  QUEUED, RUNNING, DROPPED = "queued", "running", "dropped"
  __slots__ = ("inputs", "rows", "done", "outputs", "error", "_state", "_lock")

  def __init__(self, inputs: Arrays, rows: int):
    self.inputs, self.rows = inputs, rows
    self.done = threading.Event()
    self.outputs: Optional[Arrays] = None
    self.error: Optional[BaseException] = None
    self._state = self.QUEUED
    self._lock = threading.Lock()

  def _move(self, to: str) -> bool:
    with self._lock:
      if self._state != self.QUEUED:
        return False
      self._state = to
      return True

  def take(self) -> bool:
    """A batch thread takes it; False when it was dropped meanwhile."""
    return self._move(self.RUNNING)

  def drop(self, error: BaseException) -> bool:
    """Out of the queue with `error`, unless a batch thread has it already."""
    if not self._move(self.DROPPED):
      return False
    self.error = error
    self.done.set()
    return True


def _rows(inputs: Arrays) -> int:
  return int(next(iter(inputs.values())).shape[0]) if inputs else 0


class BatchScheduler:
  """Batches calls of `run(inputs) -> outputs`, where every input and output has the batch as axis 0."""

  def __init__(self, run: Callable[[Arrays], Arrays], options: BatchingOptions, name: str = "batch"):
    self._run = run
    self._options = options
    self._queue: "queue.Queue[Optional[_Task]]" = queue.Queue(
        maxsize=max(1, options.max_enqueued_batches * options.max_batch_size))
    self._threads = [threading.Thread(target=self._loop, name=f"{name}-{i}", daemon=True)
                     for i in range(max(1, options.num_batch_threads))]
    for thread in self._threads:
      thread.start()

  def submit(self, inputs: Arrays, deadline: Optional[deadlines.Deadline] = None) -> Arrays:
    deadline = deadline or deadlines.Deadline(MAX_WAIT_S)
    deadline.check()
    rows = _rows(inputs)
    if rows == 0 or rows >= self._options.max_batch_size:
      return self._run(inputs)  # already a full batch: nothing to wait for
    task = _Task(inputs, rows)
    try:
      self._queue.put_nowait(task)
    except queue.Full:
      raise errors.ServingError(errors.RESOURCE_EXHAUSTED, "The batch scheduling queue is full") from None
    deadline.on_cancel(lambda: task.drop(deadline.error()))
    remaining = deadline.remaining()
    if not task.done.wait(MAX_WAIT_S if remaining is None else remaining):
      task.drop(None)  # still queued: it leaves the queue unrun; running: its answer comes too late
      raise deadline.error() or errors.ServingError(errors.DEADLINE_EXCEEDED, "No answer from the model in "
                                                    f"{MAX_WAIT_S:.0f} s")
    if task.error is not None:
      raise task.error
    return task.outputs

  def queued(self) -> int:
    """Requests waiting for a batch thread (those dropped meanwhile included, until a thread skips them)."""
    return self._queue.qsize()

  def close(self, timeout_s: float = CLOSE_WAIT_S) -> None:
    """Stops the threads after the requests already queued have been answered, waiting at most
    `timeout_s` in all: threads stuck on a model call are daemons, left to end with the process."""
    end = time.monotonic() + timeout_s
    for _ in self._threads:
      try:
        self._queue.put(None, timeout=max(0.0, end - time.monotonic()))
      except queue.Full:
        break
    for thread in self._threads:
      thread.join(timeout=max(0.0, end - time.monotonic()))

  def _loop(self) -> None:
    carried = None
    while True:
      first = carried if carried is not None else self._queue.get()
      carried = None
      if first is None:
        return
      if not first.take():
        continue  # dropped while it waited
      batch, rows, stopping = [first], first.rows, False
      deadline = time.monotonic() + self._options.batch_timeout_s
      while rows < self._options.max_batch_size:
        try:
          task = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
          break
        if task is None:
          stopping = True
          break
        if rows + task.rows > self._options.max_batch_size:
          carried = task
          break
        if not task.take():
          continue
        batch.append(task)
        rows += task.rows
      self._execute(batch)
      if stopping:
        if carried is not None and carried.take():
          self._execute([carried])
        return

  def _execute(self, batch: List[_Task]) -> None:
    if len(batch) > 1:
      try:
        merged = {name: np.concatenate([t.inputs[name] for t in batch]) for name in batch[0].inputs}
        outputs = self._run(merged)
        offsets = np.cumsum([0] + [t.rows for t in batch])
        if all(value.shape[:1] == (offsets[-1],) for value in outputs.values()):
          for task, start, end in zip(batch, offsets[:-1], offsets[1:]):
            task.outputs = {name: value[start:end] for name, value in outputs.items()}
            task.done.set()
          return
      except Exception:  # pylint: disable=broad-except
        pass  # retried one by one below, so the error lands on the request that caused it
    for task in batch:
      try:
        task.outputs = self._run(task.inputs)
      except BaseException as e:  # pylint: disable=broad-except
        task.error = e
      task.done.set()
