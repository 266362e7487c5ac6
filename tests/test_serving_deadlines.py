"""Deadlines and cancellation: a request whose deadline passes, or whose client cancels, while it waits for
its batch leaves the queue and the model never runs for it; over gRPC with real channels and a model
that takes its time (a stand-in, no TensorFlow model)."""
import threading

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from serving.server import batching
from serving.server import model_config
from serving.server import core as core_lib
from serving.server import deadlines
from serving import errors
from serving.server import grpc_server
from serving.server.registry import ModelRegistry
from tests.waiting import wait_until

MODEL = "slow"


class _Gate:
  """A model function that records the rows it ran and blocks until released."""

  def __init__(self):
    self.ran, self.started, self.release = [], threading.Event(), threading.Event()

  def __call__(self, inputs):
    self.started.set()
    self.release.wait(30)
    self.ran.extend(inputs["x"].tolist())
    return {"y": inputs["x"] * 2}


def _scheduler(gate):
  return batching.BatchScheduler(gate, batching.BatchingOptions(max_batch_size=4, batch_timeout_s=0.0,
                                                                num_batch_threads=1))


def _in_thread(fn):
  outcome = {}

  def run():
    try:
      outcome["value"] = fn()
    except errors.ServingError as e:
      outcome["error"] = e.code
  thread = threading.Thread(target=run)
  thread.start()
  return thread, outcome


def test_a_request_past_its_deadline_in_the_queue_is_never_run():
  gate = _Gate()
  scheduler = _scheduler(gate)
  first, first_outcome = _in_thread(lambda: scheduler.submit({"x": np.array([1])}))
  assert gate.started.wait(10)  # the one batch thread is busy with the first request
  late, late_outcome = _in_thread(lambda: scheduler.submit({"x": np.array([2])}, deadlines.Deadline(0.2)))
  late.join(10)
  assert late_outcome == {"error": errors.DEADLINE_EXCEEDED}
  gate.release.set()
  first.join(10)
  scheduler.close()
  assert first_outcome["value"]["y"].tolist() == [2]
  assert gate.ran == [1]  # the late request's row never reached the model


def test_a_request_cancelled_in_the_queue_is_dropped_from_the_batch():
  gate = _Gate()
  scheduler = _scheduler(gate)
  first, _ = _in_thread(lambda: scheduler.submit({"x": np.array([1])}))
  assert gate.started.wait(10)
  deadline = deadlines.Deadline(30)
  cancelled, cancelled_outcome = _in_thread(lambda: scheduler.submit({"x": np.array([3])}, deadline))
  kept, kept_outcome = _in_thread(lambda: scheduler.submit({"x": np.array([4])}))
  wait_until(lambda: scheduler.queued() == 2, what="both requests queued")
  deadline.cancel()
  cancelled.join(10)
  assert cancelled_outcome == {"error": errors.CANCELLED}
  gate.release.set()
  for thread in (first, kept):
    thread.join(10)
  scheduler.close()
  assert kept_outcome["value"]["y"].tolist() == [8]
  assert sorted(gate.ran) == [1, 4]


def test_an_expired_deadline_is_refused_before_anything_runs():
  gate = _Gate()
  gate.release.set()
  scheduler = _scheduler(gate)
  expired = deadlines.Deadline(0)
  with pytest.raises(errors.ServingError) as e:
    scheduler.submit({"x": np.array([5] * 8)}, expired)  # a full batch would run at once: not this one
  assert e.value.code == errors.DEADLINE_EXCEEDED and gate.ran == []
  scheduler.close()


class _GatedModel:
  """What the registry's loader returns: one signature `y = 2x` behind the real batcher (one batch thread)
  whose model function blocks until released (_Gate)."""
  signatures = {"serving_default": None}

  def __init__(self, path):
    del path
    self.gate = _Gate()
    self.scheduler = batching.BatchScheduler(self.gate, batching.BatchingOptions(
        max_batch_size=8, batch_timeout_s=0.0, num_batch_threads=1))

  def input_specs(self, signature_name):
    del signature_name
    return {"x": tf.TensorSpec([None], tf.float32)}

  def output_specs(self, signature_name):
    del signature_name
    return {"y": tf.TensorSpec([None], tf.float32)}

  def run(self, signature_name, inputs, deadline=None):
    del signature_name
    return self.scheduler.submit(inputs, deadline)

  def close(self):
    self.gate.release.set()
    self.scheduler.close()


@pytest.fixture
def grpc_slow_server(tmp_path):
  (tmp_path / MODEL / "1").mkdir(parents=True)
  (tmp_path / MODEL / "1" / "saved_model.pb").write_bytes(b"")
  registry = ModelRegistry(model_config.model_server_config(str(tmp_path), models=[MODEL]), _GatedModel)
  registry.poll_once()
  server, port = grpc_server.make_server(core_lib.ServingCore(registry), ["127.0.0.1:0"], 1 << 20, threads=8)
  server.start()
  with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
    with registry.acquire(core_lib.ModelSpec(MODEL)) as servable:
      yield prediction_service_pb2_grpc.PredictionServiceStub(channel), servable.loaded
  server.stop(0).wait()
  registry.stop()


def _request(value):
  request = predict_pb2.PredictRequest()
  request.model_spec.name = MODEL
  request.inputs["x"].CopyFrom(tf.make_tensor_proto([float(value)], dtype=tf.float32))
  return request


def test_grpc_deadline_exceeded_and_cancelled_requests_are_not_run(grpc_slow_server):
  stub, model = grpc_slow_server
  busy = stub.Predict.future(_request(1), timeout=30)  # holds the one batch thread until the gate opens
  assert model.gate.started.wait(10)
  with pytest.raises(grpc.RpcError) as e:
    stub.Predict(_request(2), timeout=0.2)  # its deadline passes while it waits for the batch thread
  assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
  wait_until(lambda: model.scheduler.queued() == 1, what="the late request in the queue")
  cancelled = stub.Predict.future(_request(3), timeout=30)
  wait_until(lambda: model.scheduler.queued() == 2, what="the request to cancel in the queue")
  assert cancelled.cancel()
  kept = stub.Predict.future(_request(4), timeout=30)
  wait_until(lambda: model.scheduler.queued() == 3, what="the kept request in the queue")
  model.gate.release.set()
  assert tf.make_ndarray(busy.result().outputs["y"]).tolist() == [2.0]
  assert tf.make_ndarray(kept.result().outputs["y"]).tolist() == [8.0]
  assert sorted(model.gate.ran) == [1.0, 4.0]  # neither the late nor the cancelled request reached the model
