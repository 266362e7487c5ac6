"""The registry's version life cycle and the request batcher, with a stand-in loader (no TensorFlow)."""
import threading

import numpy as np
import pytest

from serving.server import batching
from serving.server import model_config
from serving import errors
from serving.server.registry import ModelRegistry, ModelSpec
from tests.waiting import wait_until


class FakeModel:
  def __init__(self, path):
    if open(f"{path}/saved_model.pb").read() == "broken":
      raise ValueError("cannot parse saved_model.pb")
    self.path, self.closed = path, False

  def close(self):
    self.closed = True


def _push(base, version, content="ok"):
  folder = base / str(version)
  folder.mkdir(parents=True, exist_ok=True)
  (folder / "saved_model.pb").write_text(content)
  return folder


def _registry(tmp_path, labels=None):
  base = tmp_path / "m"
  base.mkdir()
  return base, ModelRegistry(model_config.model_server_config(str(tmp_path), models=["m"], labels=labels), FakeModel)


def _states(registry):
  return {s.version: s.state for s in registry.status(ModelSpec("m"))}


def test_new_version_is_served_and_the_old_one_unloads_after_its_requests(tmp_path):
  base, registry = _registry(tmp_path)
  _push(base, 1)
  registry.poll_once()
  with registry.acquire(ModelSpec("m")) as held:
    old = held.loaded
    _push(base, 2)
    registry.poll_once()  # files just appeared: not loaded half copied
    assert _states(registry) == {2: "START", 1: "AVAILABLE"}
    registry.poll_once()  # unchanged since the last poll: loaded, old one retired
    assert _states(registry) == {2: "AVAILABLE", 1: "UNLOADING"}
    with registry.acquire(ModelSpec("m")) as new:
      assert new.version == 2
    assert not old.closed  # still held by the request in flight
    with pytest.raises(errors.ServingError, match=r"Specific\(m, 1\)"):
      with registry.acquire(ModelSpec("m", version=1)):
        pass
  wait_until(lambda: old.closed)  # closed on the registry's unload thread, not this request's
  wait_until(lambda: _states(registry) == {2: "AVAILABLE", 1: "END"}, what="1 END after its close")


def test_a_broken_push_keeps_the_served_version_and_reports_the_error(tmp_path):
  base, registry = _registry(tmp_path)
  _push(base, 1)
  registry.poll_once()
  _push(base, 2, "broken")
  registry.poll_once()
  registry.poll_once()
  statuses = {s.version: s for s in registry.status(ModelSpec("m"))}
  assert statuses[2].state == "END" and statuses[2].error_code == errors.UNKNOWN
  assert "cannot parse" in statuses[2].error_message
  assert statuses[1].state == "AVAILABLE"
  with registry.acquire(ModelSpec("m")) as servable:
    assert servable.version == 1
  _push(base, 2, "ok")  # fixed in place: retried because its files changed
  registry.poll_once()
  registry.poll_once()
  wait_until(lambda: _states(registry) == {2: "AVAILABLE", 1: "END"}, what="1 unloaded in the background")


def test_no_valid_version_is_a_status_not_a_crash(tmp_path):
  base, registry = _registry(tmp_path)
  registry.poll_once()
  with pytest.raises(errors.ServingError, match="Could not find any versions of model m") as e:
    registry.status(ModelSpec("m"))
  assert e.value.code == errors.NOT_FOUND
  (base / "7").mkdir()  # no saved_model.pb: not a version yet
  (base / "tmp-copy").mkdir()
  registry.poll_once()
  with pytest.raises(errors.ServingError):
    registry.status(ModelSpec("m"))
  with pytest.raises(errors.ServingError, match=r"Latest\(m\)"):
    with registry.acquire(ModelSpec("m")):
      pass


def test_labels_and_pinned_versions(tmp_path):
  base, registry = _registry(tmp_path, labels={"m": {"stable": 1, "canary": 3}})
  for version in (1, 2, 3):
    _push(base, version)
  registry.poll_once()
  assert _states(registry) == {1: "AVAILABLE", 3: "AVAILABLE"}  # the labelled versions only
  with registry.acquire(ModelSpec("m", label="stable")) as servable:
    assert servable.version == 1
  with registry.acquire(ModelSpec("m", label="canary")) as servable:
    assert servable.version == 3
  with registry.acquire(ModelSpec("m")) as servable:
    assert servable.version == 3
  with pytest.raises(errors.ServingError, match="Unrecognized servable version label: beta"):
    registry.status(ModelSpec("m", label="beta"))
  assert [s.version for s in registry.status(ModelSpec("m", label="stable"))] == [1]
  with pytest.raises(errors.ServingError, match="Servable not found"):
    with registry.acquire(ModelSpec("m", version=2)):
      pass


def test_watcher_thread_picks_up_a_push(tmp_path):
  base, registry = _registry(tmp_path)
  _push(base, 1)
  registry = ModelRegistry(model_config.model_server_config(str(tmp_path), models=["m"]), FakeModel, poll_seconds=0.05)
  registry.start()
  try:
    _push(base, 5)
    # Version 1 is unloaded on a background thread after 5 is AVAILABLE: wait for both states.
    wait_until(lambda: _states(registry) == {5: "AVAILABLE", 1: "END"}, what="5 AVAILABLE and 1 unloaded")
  finally:
    registry.stop()


def _doubler(calls):
  def run(inputs):
    calls.append(len(inputs["x"]))
    if (inputs["x"] < 0).any():
      raise ValueError("negative input")
    return {"y": inputs["x"] * 2}
  return run


def _send_concurrently(inputs):
  """Each input from its own thread into one scheduler -> ({i: output list or error text}, batch sizes run)."""
  calls, outcome = [], {}
  scheduler = batching.BatchScheduler(_doubler(calls), batching.BatchingOptions(
      max_batch_size=8, batch_timeout_s=0.5, num_batch_threads=1))

  def send(i):
    try:
      outcome[i] = scheduler.submit({"x": np.array(inputs[i])})["y"].tolist()
    except ValueError as e:
      outcome[i] = str(e)

  threads = [threading.Thread(target=send, args=(i,)) for i in range(len(inputs))]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  scheduler.close()
  return outcome, calls


def test_batcher_merges_concurrent_requests_and_splits_the_answers():
  outcome, calls = _send_concurrently([[i, i + 100] for i in range(4)])
  assert outcome == {i: [2 * i, 2 * i + 200] for i in range(4)}
  assert len(calls) < 4 and max(calls) <= 8  # batched, never above max_batch_size


def test_one_bad_request_fails_alone():
  outcome, calls = _send_concurrently([[1], [-1], [2]])
  assert outcome == {0: [2], 1: "negative input", 2: [4]}
  assert calls[0] > 1  # they were batched, then retried one by one


def test_a_full_queue_is_refused_not_blocked():
  running, release = threading.Event(), threading.Event()

  def slow(inputs):
    running.set()
    release.wait(30)
    return inputs

  scheduler = batching.BatchScheduler(slow, batching.BatchingOptions(
      max_batch_size=2, batch_timeout_s=0.0, max_enqueued_batches=1, num_batch_threads=1))
  first = threading.Thread(target=scheduler.submit, args=({"x": np.array([0])},))
  first.start()
  assert running.wait(10)  # the one batch thread is busy from now on
  queued = [threading.Thread(target=scheduler.submit, args=({"x": np.array([i])},)) for i in (1, 2)]
  for t in queued:
    t.start()
  wait_until(lambda: scheduler.queued() == 2, what="both requests queued")
  with pytest.raises(errors.ServingError) as e:  # the queue holds max_enqueued_batches x max_batch_size rows
    scheduler.submit({"x": np.array([9])})
  assert e.value.code == errors.RESOURCE_EXHAUSTED
  release.set()
  for t in [first] + queued:
    t.join(10)
  scheduler.close()


class GatedModel(FakeModel):
  """Loads of versions whose saved_model.pb says "slow" wait for `release`; closing records its thread."""
  release = threading.Event()

  def __init__(self, path):
    if open(f"{path}/saved_model.pb").read() == "slow":
      GatedModel.release.wait(30)
    super().__init__(path)
    self.closed_on = None

  def close(self):
    self.closed_on = threading.current_thread().name
    super().close()


def test_a_slow_load_holds_up_neither_other_models_nor_the_next_poll(tmp_path):
  GatedModel.release.clear()
  for model in ("a", "b"):
    _push(tmp_path / model, 1)
  registry = ModelRegistry(model_config.model_server_config(str(tmp_path), models=["a", "b"]), GatedModel)
  registry.poll_once()
  _push(tmp_path / "a", 2, content="slow")
  _push(tmp_path / "b", 2)
  registry.poll_once(wait=False)
  registry.poll_once(wait=False)  # settled: a/2 starts loading (and hangs), b/2 loads
  wait_until(lambda: {s.version: s.state for s in registry.status(ModelSpec("b"))} == {2: "AVAILABLE", 1: "END"})
  assert {s.version: s.state for s in registry.status(ModelSpec("a"))} == {2: "LOADING", 1: "AVAILABLE"}
  with registry.acquire(ModelSpec("a")) as servable:
    assert servable.version == 1  # the version being loaded does not take requests yet
  GatedModel.release.set()
  wait_until(lambda: {s.version: s.state for s in registry.status(ModelSpec("a"))} == {2: "AVAILABLE", 1: "END"})
  registry.stop()


def test_a_retired_version_is_closed_off_the_request_thread(tmp_path):
  base, registry = _registry(tmp_path)
  registry = ModelRegistry(model_config.model_server_config(str(tmp_path), models=["m"]), GatedModel)
  _push(base, 1)
  registry.poll_once()
  with registry.acquire(ModelSpec("m")) as held:
    old = held.loaded
    _push(base, 2)
    registry.poll_once()
    registry.poll_once()
  wait_until(lambda: old.closed)
  assert old.closed_on.startswith("unload") and old.closed_on != threading.current_thread().name
  registry.stop()


def test_status_polled_during_pushes_and_deletes_never_fails(tmp_path):
  import shutil  # pylint: disable=g-import-not-at-top
  base, registry = _registry(tmp_path)
  _push(base, 1)
  registry.poll_once()
  stop, failures, answers = threading.Event(), [], [0]

  def poll_status():
    while not stop.is_set():
      try:
        assert registry.status(ModelSpec("m"))
        with registry.acquire(ModelSpec("m")):
          answers[0] += 1
      except Exception as e:  # pylint: disable=broad-except
        failures.append(repr(e))

  readers = [threading.Thread(target=poll_status) for _ in range(4)]
  for thread in readers:
    thread.start()
  try:
    for version in (2, 3, 4):
      _push(base, version)
      for _ in range(3):
        registry.poll_once()
    shutil.rmtree(base / "4")  # a deleted version: the previous one comes back
    for _ in range(3):
      registry.poll_once()
  finally:
    stop.set()
    for thread in readers:
      thread.join(10)
  assert failures == [] and answers[0] > 0
  assert {s.version: s.state for s in registry.status(ModelSpec("m"))}[3] == "AVAILABLE"
  registry.stop()
