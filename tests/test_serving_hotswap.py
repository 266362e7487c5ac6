"""Hot swap under load: a version pushed while clients keep sending is picked up without a restart, with
no failed request; the old version is unloaded once its requests are done. And `fdp serve` as a command."""
import functools
import os
import shutil
import threading
import time

import grpc
import requests
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from serving.client import model_client as client_lib
from serving.server import model_config
from serving.server import deployment_files
from serving.server import model_server as server_lib
from tests.serve_process import fdp_serve
from tests.conftest import UTKFACE_DIR
import vocabulary

CLIENTS_PER_PROTOCOL = 3
LOAD_SECONDS_AROUND_SWAP = 1.5


@functools.lru_cache(maxsize=1)
def jpeg() -> bytes:  # read when a test runs, not at import (the fast tier runs without the datasets)
  return (UTKFACE_DIR / "26_1_3_20170104235421282.jpg.chip.jpg").read_bytes()


def _grpc_predict(stub):
  request = predict_pb2.PredictRequest()
  request.model_spec.name = vocabulary.CLASSIFIER
  request.inputs["images"].CopyFrom(tf.make_tensor_proto([jpeg()], dtype=tf.string))
  return stub.Predict(request, timeout=60).model_spec.version.value


def _wait_for(condition, timeout=90.0):
  deadline = time.time() + timeout
  while not condition():
    assert time.time() < deadline, "timed out"
    time.sleep(0.1)


def test_hot_swap_under_load(tmp_path, shipped_models):
  root = tmp_path / "models"
  old = int(os.path.basename(shipped_models[vocabulary.CLASSIFIER]))
  new = old + 1
  shutil.copytree(shipped_models[vocabulary.CLASSIFIER], root / vocabulary.CLASSIFIER / str(old))
  server = server_lib.ModelServer(model_config.model_config_for_base_dir(str(root)), rest_port=0, grpc_port=0,
                                  host="127.0.0.1", poll_seconds=0.2).start()
  stop = threading.Event()
  failures, answered = [], {"rest": 0, "grpc": []}
  lock = threading.Lock()

  def rest_client():
    with client_lib.connect(f"127.0.0.1:{server.rest_port}", "rest", timeout=60) as client:
      while not stop.is_set():
        try:
          assert client.predict(vocabulary.CLASSIFIER, [jpeg()])["age_bucket"].shape == (1, 5)
          with lock:
            answered["rest"] += 1
        except Exception as e:  # pylint: disable=broad-except
          failures.append(repr(e))

  def grpc_client():
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
      stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
      while not stop.is_set():
        try:
          version = _grpc_predict(stub)
          with lock:
            answered["grpc"].append(version)
        except Exception as e:  # pylint: disable=broad-except
          failures.append(repr(e))

  threads = [threading.Thread(target=fn) for fn in [rest_client, grpc_client] * CLIENTS_PER_PROTOCOL]
  status = client_lib.connect(f"127.0.0.1:{server.rest_port}", "rest")
  try:
    for thread in threads:
      thread.start()
    time.sleep(LOAD_SECONDS_AROUND_SWAP)
    shutil.copytree(shipped_models[vocabulary.CLASSIFIER], root / vocabulary.CLASSIFIER / str(new))  # a push, not atomic
    states = lambda: {s["version"]: s["state"] for s in status.status(vocabulary.CLASSIFIER)["model_version_status"]}
    _wait_for(lambda: states() == {str(new): "AVAILABLE", str(old): "END"})
    time.sleep(0.5)  # answers the old version gave just before END may still be on their way to the clients
    swapped_at = len(answered["grpc"])
    time.sleep(LOAD_SECONDS_AROUND_SWAP)
  finally:
    stop.set()
    for thread in threads:
      thread.join(timeout=120)
  try:
    assert failures == []
    assert answered["rest"] > 0 and old in answered["grpc"]
    assert set(answered["grpc"][swapped_at:]) == {new}  # once the old one is gone, only the new one answers
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
      assert _grpc_predict(prediction_service_pb2_grpc.PredictionServiceStub(channel)) == new
  finally:
    status.close()
    server.stop()


def test_fdp_serve_command(tmp_path, shipped_models):
  root = tmp_path / "models"
  for model, path in shipped_models.items():
    shutil.copytree(path, root / model / os.path.basename(path))
  batching_file = tmp_path / deployment_files.BATCHING_CONFIG
  batching_file.write_text("max_batch_size { value: 4 }\nbatch_timeout_micros { value: 1000 }\n")
  with fdp_serve("--model-base-dir", str(root), "--batching-parameters", str(batching_file)) as (
      lines, rest_port, grpc_port):
    assert any(line.startswith(f"classifier: {root / 'classifier'}") for line in lines)
    body = requests.get(f"http://127.0.0.1:{rest_port}/v1/models/regressor", timeout=30).json()
    assert body["model_version_status"][0]["state"] == "AVAILABLE"
    with client_lib.connect(f"127.0.0.1:{grpc_port}", "grpc") as client:
      assert client.predict(vocabulary.REGRESSOR, [jpeg(), jpeg()])["age"].shape == (2, 1)
