"""`fdp serve` and `fdp web` as real processes, as an operator runs them: 1,000 slow clients do not starve a
status request nor grow threads, SIGTERM under load answers every accepted request and exits 0 within the
drain period, and the page answers an upload on the same production server and drains the same way."""
import base64
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import grpc
import pytest
import requests
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from tests.serve_process import PROJECT_ROOT, serve_process, threads_of
from tests.conftest import UTKFACE_DIR
from tests.waiting import wait_until
import vocabulary

pytestmark = pytest.mark.datasets
SLOW_CLIENTS = 1000  # the connection limit: they fill it
MAX_SERVER_THREADS = 200
LOAD_CLIENTS = 8
DRAIN_SECONDS = 20


def _jpeg() -> bytes:
  return (UTKFACE_DIR / "26_1_3_20170104235421282.jpg.chip.jpg").read_bytes()


@pytest.fixture(scope="module")
def served_models(shipped_models, tmp_path_factory):
  root = tmp_path_factory.mktemp("production") / "models"
  for model, path in shipped_models.items():
    os.makedirs(root / model)
    os.symlink(path, root / model / os.path.basename(path))
  return root


def test_1000_slow_clients_neither_starve_a_status_request_nor_grow_threads(served_models):
  with serve_process("--model-base-dir", str(served_models)) as served:
    rest_port, process = served.rest_port, served.process
    threads_idle = threads_of(process.pid)
    sockets = []
    try:
      for _ in range(SLOW_CLIENTS):
        s = socket.create_connection(("127.0.0.1", int(rest_port)), timeout=10)
        s.sendall(b"POST /v1/models/classifier:predict HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        sockets.append(s)
      started = time.monotonic()
      response = requests.get(f"http://127.0.0.1:{rest_port}/v1/models/classifier", timeout=10)
      elapsed = time.monotonic() - started
      threads_loaded = threads_of(process.pid)
    finally:
      for s in sockets:
        s.close()
  assert response.status_code == 200 and response.json()["model_version_status"][0]["state"] == "AVAILABLE"
  assert elapsed < 2.0, f"status took {elapsed:.2f} s behind {SLOW_CLIENTS} slow clients"
  assert threads_loaded <= MAX_SERVER_THREADS and threads_loaded <= threads_idle + 2, (threads_idle, threads_loaded)


def _load(rest_port, grpc_port, stop, log):
  """LOAD_CLIENTS clients (half REST, half gRPC) sending one face each until `stop`; each answer or error is
  logged as (protocol, start, end, outcome). A REST request starts when its connection is established (a new
  one per request; None when the connection was refused), a gRPC call when it is sent."""
  jpeg = _jpeg()
  body = json.dumps({"instances": [{"b64": base64.b64encode(jpeg).decode()}]})
  request = predict_pb2.PredictRequest()
  request.model_spec.name = vocabulary.CLASSIFIER
  request.inputs["images"].CopyFrom(tf.make_tensor_proto([jpeg], dtype=tf.string))

  def rest():
    while not stop.is_set():
      connection, connected = http.client.HTTPConnection("127.0.0.1", int(rest_port), timeout=60), None
      try:
        connection.connect()
        connected = time.monotonic()
        connection.request("POST", "/v1/models/classifier:predict", body=body,
                           headers={"Content-Type": "application/json", "Connection": "close"})
        code = connection.getresponse().status
      except ConnectionRefusedError:
        code = "refused"  # after SIGTERM: the listener is closed
      except (OSError, http.client.HTTPException) as e:
        code = type(e).__name__  # a reset or a cut answer: never expected
      finally:
        connection.close()
      log.append(("rest", connected, time.monotonic(), code))
      if code != 200:
        return

  def grpc_client():
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
      stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
      while not stop.is_set():
        start = time.monotonic()
        try:
          stub.Predict(request, timeout=60)
          code = 200
        except grpc.RpcError as e:
          code = e.code().name
        log.append(("grpc", start, time.monotonic(), code))
        if code != 200:
          return

  threads = [threading.Thread(target=fn) for fn in [rest, grpc_client] * (LOAD_CLIENTS // 2)]
  for thread in threads:
    thread.start()
  return threads


def test_sigterm_under_load_answers_every_accepted_request_and_exits_0(served_models):
  stop, log = threading.Event(), []
  with serve_process("--model-base-dir", str(served_models), "--drain-seconds", str(DRAIN_SECONDS),
                     stop=False) as served:
    process = served.process
    threads = _load(served.rest_port, served.grpc_port, stop, log)
    wait_until(lambda: sum(outcome == 200 for *_, outcome in log) > LOAD_CLIENTS, what="the load answered")
    sigterm_at = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=DRAIN_SECONDS + 10)
    exited_after = time.monotonic() - sigterm_at
    stop.set()
    for thread in threads:
      thread.join(60)
    output = process.stdout.read()
  assert code == 0 and exited_after < DRAIN_SECONDS, (code, exited_after)
  assert "SIGTERM: draining" in output and "cut off" not in output, output
  outcomes = {outcome for _, _, _, outcome in log}
  assert outcomes <= {200, "refused", "UNAVAILABLE"}, outcomes  # never a 5xx, a reset or a cancelled RPC
  # Every REST connection made before SIGTERM was answered (none reset, even from the kernel's backlog); a
  # gRPC call sent just before it may not have reached the server (UNAVAILABLE), but calls did span it.
  rest_before = [entry for entry in log if entry[0] == "rest" and entry[1] is not None and entry[1] < sigterm_at]
  assert rest_before and all(outcome == 200 for *_, outcome in rest_before), rest_before
  spanning = [entry for entry in log if entry[1] is not None and entry[1] < sigterm_at < entry[2]]
  assert any(outcome == 200 for *_, outcome in spanning), spanning
  assert sum(outcome == 200 for *_, outcome in log) > LOAD_CLIENTS


def test_the_page_answers_an_upload_on_the_production_server_and_drains(served_models):
  with serve_process("--model-base-dir", str(served_models)) as served:
    web = subprocess.Popen([sys.executable, "-m", "cli", "web", "--server", f"127.0.0.1:{served.rest_port}",
                            "--port", "0"],
                           cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
      url = None
      for line in web.stdout:
        match = re.search(r"Open (http://\S+/)", line)
        if match:
          url = match.group(1)
          break
      assert url, "fdp web did not start"
      sockets = [socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1].strip("/"))), timeout=10)
                 for _ in range(50)]
      for s in sockets:
        s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\n")  # slow uploaders
      answer = requests.post(url + "api/predict", files={"photo": ("face.jpg", _jpeg(), "image/jpeg")}, timeout=60)
      for s in sockets:
        s.close()
      assert answer.status_code == 200, answer.text
      (face,) = answer.json()["faces"]
      assert face["gender"] in ("female", "male") and "age" in face
      bad = requests.post(url + "api/predict", files={"photo": ("x.jpg", b"not a photo", "image/jpeg")}, timeout=30)
      assert bad.status_code == 400 and "not a photo" in bad.json()["error"]
      web.send_signal(signal.SIGTERM)
      assert web.wait(timeout=30) == 0
      assert "SIGTERM: draining" in web.stdout.read()
    finally:
      if web.poll() is None:
        web.kill()
