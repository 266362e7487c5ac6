"""Hot swap under load: a version pushed while clients keep sending is picked up without a restart, with
no failed request; the old version is unloaded once its requests are done. And `fdp serve` as a command."""
import functools
import os
import shutil
import threading

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
from tests.waiting import wait_until
import vocabulary

CLIENTS_PER_PROTOCOL = 3
ANSWERS_AROUND_SWAP = 5  # per client, before the push and after the swap


@functools.lru_cache(maxsize=1)
def jpeg() -> bytes:  # read when a test runs, not at import (the fast tier runs without the datasets)
  return (UTKFACE_DIR / "26_1_3_20170104235421282.jpg.chip.jpg").read_bytes()


def _grpc_predict(stub):
  request = predict_pb2.PredictRequest()
  request.model_spec.name = vocabulary.CLASSIFIER
  request.inputs["images"].CopyFrom(tf.make_tensor_proto([jpeg()], dtype=tf.string))
  return stub.Predict(request, timeout=60).model_spec.version.value


def test_hot_swap_under_load(tmp_path, shipped_models):
  root = tmp_path / "models"
  old = int(os.path.basename(shipped_models[vocabulary.CLASSIFIER]))
  new = old + 1
  shutil.copytree(shipped_models[vocabulary.CLASSIFIER], root / vocabulary.CLASSIFIER / str(old))
  server = server_lib.ModelServer(model_config.model_config_for_base_dir(str(root)), rest_port=0, grpc_port=0,
                                  host="127.0.0.1", poll_seconds=0.2).start()
  stop = threading.Event()
  failures, rest_answers = [], []
  versions = [[] for _ in range(CLIENTS_PER_PROTOCOL)]  # each gRPC client's answering versions, in order

  def rest_client():
    with client_lib.connect(f"127.0.0.1:{server.rest_port}", "rest", timeout=60) as client:
      while not stop.is_set():
        try:
          assert client.predict(vocabulary.CLASSIFIER, [jpeg()])["age_bucket"].shape == (1, 5)
          rest_answers.append(1)
        except Exception as e:  # pylint: disable=broad-except
          failures.append(repr(e))

  def grpc_client(answered):
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
      stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
      while not stop.is_set():
        try:
          answered.append(_grpc_predict(stub))
        except Exception as e:  # pylint: disable=broad-except
          failures.append(repr(e))

  threads = [threading.Thread(target=rest_client) for _ in range(CLIENTS_PER_PROTOCOL)]
  threads += [threading.Thread(target=grpc_client, args=(answered,)) for answered in versions]
  status = client_lib.connect(f"127.0.0.1:{server.rest_port}", "rest")
  try:
    for thread in threads:
      thread.start()
    wait_until(lambda: len(rest_answers) >= ANSWERS_AROUND_SWAP and
               all(len(v) >= ANSWERS_AROUND_SWAP for v in versions), what="answers from the old version")
    shutil.copytree(shipped_models[vocabulary.CLASSIFIER], root / vocabulary.CLASSIFIER / str(new))  # a push, not atomic
    states = lambda: {s["version"]: s["state"] for s in status.status(vocabulary.CLASSIFIER)["model_version_status"]}
    wait_until(lambda: states() == {str(new): "AVAILABLE", str(old): "END"}, timeout=90, what="the swap")
    after_swap = [len(v) for v in versions]
    wait_until(lambda: all(len(v) >= n + ANSWERS_AROUND_SWAP for v, n in zip(versions, after_swap)),
               what="answers after the swap")
  finally:
    stop.set()
    for thread in threads:
      thread.join(timeout=120)
  try:
    assert failures == []
    for answered in versions:  # each client saw the old version, then the new one, and never the old again
      assert answered[0] == old and answered[-1] == new and answered == sorted(answered)
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
