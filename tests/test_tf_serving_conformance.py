"""`fdp serve` as a drop-in for TF Serving, on TF Serving's own test models (TF1 and TF2 SavedModels, TF Lite,
a broken export, its config files): every API over both protocols against the answers TF Serving gives
for them (y = x/2 + 2, the classify scores, the REST metadata JSON), config reload under traffic, and
the command line's failures (a bad config file, a port taken, a model call that never returns)."""
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import grpc
import pytest
import requests
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (classification_pb2, get_model_metadata_pb2, get_model_status_pb2,
                                     inference_pb2, model_management_pb2, model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc, regression_pb2)
from tensorflow_serving.config import model_server_config_pb2

from serving import errors
from serving.client import model_client as client_lib
from serving.server import model_config
from serving.server import model_server as server_lib
from serving.server import servables
from tests.serve_process import PROJECT_ROOT
from tests.waiting import wait_until
from vocabulary import settings

TESTDATA = settings.tfserving_testdata_dir()
HALF_PLUS_TWO = "saved_model_half_plus_two_cpu"  # TF1: y = x/2 + 2; classify/regress signatures
HALF_PLUS_TWO_TF2 = "saved_model_half_plus_two_tf2_cpu"
HALF_PLUS_THREE = "saved_model_half_plus_three"  # TF1: y = x/2 + 3
TFLITE, TFLITE_SIGDEF = "saved_model_half_plus_two_tflite", "saved_model_half_plus_two_tflite_with_sigdef"
MODELS = {"half_plus_two": HALF_PLUS_TWO, "half_plus_two_tf2": HALF_PLUS_TWO_TF2,
          "half_plus_three": HALF_PLUS_THREE, "tflite": TFLITE, "tflite_sigdef": TFLITE_SIGDEF,
          "bad": "bad_half_plus_two"}
VERSION = 123
TIMEOUT = 30


def _config(models: dict) -> model_server_config_pb2.ModelServerConfig:
  config = model_server_config_pb2.ModelServerConfig()
  for name, folder in models.items():
    config.model_config_list.config.add(name=name, base_path=str(TESTDATA / folder), model_platform="tensorflow")
  return config


def _config_text(models: dict) -> str:
  from google.protobuf import text_format  # pylint: disable=g-import-not-at-top
  return text_format.MessageToString(_config(models))


@pytest.fixture(scope="module")
def server():
  served = server_lib.ModelServer(_config(MODELS), rest_port=0, grpc_port=0, host="127.0.0.1",
                                  prefer_tflite=True, poll_seconds=0.5).start()
  yield served
  served.stop()


@pytest.fixture(scope="module")
def stub(server):
  channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
  yield prediction_service_pb2_grpc.PredictionServiceStub(channel)
  channel.close()


def _url(server, path: str) -> str:
  return f"http://127.0.0.1:{server.rest_port}{path}"


def _predict_request(model: str, values, shape, signature: str = "", output_filter=("y",)):
  """TF Serving's test request: input x as float_val with an explicit shape."""
  request = predict_pb2.PredictRequest()
  request.model_spec.name = model
  request.model_spec.signature_name = signature
  request.inputs["x"].dtype = types_pb2.DT_FLOAT
  request.inputs["x"].float_val.extend(values)
  for size in shape:
    request.inputs["x"].tensor_shape.dim.add().size = size
  request.output_filter.extend(output_filter)
  return request


def _example_input(message, x: float = 2.0):
  message.example_list.examples.add().features.feature["x"].float_list.value.append(x)


PREDICT_CASES = [(model, shape, output_filter) for model in ("half_plus_two", "tflite", "tflite_sigdef")
                 for shape, output_filter in (([1], ("y",)), ([1], ()), ([1, 1], ()))]
PREDICT_CASES += [("half_plus_two_tf2", [1], ("y",))]  # its TF2 signature takes x as [1]


@pytest.mark.parametrize("model,shape,output_filter", PREDICT_CASES)
def test_grpc_predict_answers_as_tf_serving(stub, model, shape, output_filter):
  """A [1] tensor for a [-1, 1] input is left to the graph (TF Serving answers 3.0); the output comes back
  in float_val, with the answering version and signature."""
  response = stub.Predict(_predict_request(model, [2.0], shape, output_filter=output_filter), TIMEOUT)
  assert response.outputs["y"].dtype == types_pb2.DT_FLOAT
  assert list(response.outputs["y"].float_val) == [3.0]
  assert (response.model_spec.name, response.model_spec.version.value, response.model_spec.signature_name) == \
      (model, VERSION, "serving_default")


def test_grpc_predict_half_plus_three_and_a_batch(stub):
  response = stub.Predict(_predict_request("half_plus_three", [2.0, 4.0], [2, 1]), TIMEOUT)
  assert list(response.outputs["y"].float_val) == [4.0, 5.0]
  assert [d.size for d in response.outputs["y"].tensor_shape.dim] == [2, 1]


@pytest.mark.parametrize("body,expected", [
    ({"instances": [2.0, 3.0, 4.0]}, {"predictions": [3.0, 3.5, 4.0]}),
    ({"inputs": [2.0, 3.0, 4.0]}, {"outputs": [3.0, 3.5, 4.0]}),
    ({"instances": [{"x": [2.0]}, {"x": [4.0]}]}, {"predictions": [[3.0], [4.0]]}),
    ({"inputs": {"x": [[2.0], [4.0]]}}, {"outputs": [[3.0], [4.0]]}),
    ({"signature_name": "serving_default", "instances": [[6.0]]}, {"predictions": [[5.0]]}),
])
def test_rest_predict_row_and_columnar_as_tf_serving(server, body, expected):
  response = requests.post(_url(server, "/v1/models/half_plus_two:predict"), json=body, timeout=TIMEOUT)
  assert response.status_code == 200 and response.json() == expected


def test_grpc_classify_regress_and_multi_inference_tf1_and_tf2(stub):
  for model in ("half_plus_two", "half_plus_two_tf2"):
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name, request.model_spec.signature_name = model, "classify_x_to_y"
    _example_input(request.input)
    response = stub.Classify(request, TIMEOUT)
    (classes,) = response.result.classifications
    assert [(c.label, c.score) for c in classes.classes] == [("", 3.0)]
    assert (response.model_spec.version.value, response.model_spec.signature_name) == (VERSION, "classify_x_to_y")

    request = regression_pb2.RegressionRequest()
    request.model_spec.name, request.model_spec.signature_name = model, "regress_x_to_y"
    _example_input(request.input)
    response = stub.Regress(request, TIMEOUT)
    assert [r.value for r in response.result.regressions] == [3.0]
    assert response.model_spec.signature_name == "regress_x_to_y"

    request = inference_pb2.MultiInferenceRequest()
    for signature, method in (("regress_x_to_y", "tensorflow/serving/regress"),
                              ("classify_x_to_y", "tensorflow/serving/classify")):
      task = request.tasks.add(method_name=method)
      task.model_spec.name, task.model_spec.signature_name = model, signature
    _example_input(request.input)
    response = stub.MultiInference(request, TIMEOUT)
    regression, classification = response.results
    assert regression.regression_result.regressions[0].value == 3.0
    assert classification.classification_result.classifications[0].classes[0].score == 3.0
    assert [(r.model_spec.name, r.model_spec.version.value) for r in response.results] == [(model, VERSION)] * 2


def test_multi_inference_refuses_what_tf_serving_refuses(stub):
  request = inference_pb2.MultiInferenceRequest()
  _example_input(request.input)
  for model, method in (("half_plus_two", "tensorflow/serving/regress"), ("half_plus_three", "tensorflow/serving/regress")):
    task = request.tasks.add(method_name=method)
    task.model_spec.name, task.model_spec.signature_name = model, "regress_x_to_y"
  with pytest.raises(grpc.RpcError) as error:  # two models
    stub.MultiInference(request, TIMEOUT)
  assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "same model" in error.value.details()
  request.tasks[1].model_spec.name = "half_plus_two"
  with pytest.raises(grpc.RpcError) as error:  # the same signature twice
    stub.MultiInference(request, TIMEOUT)
  assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "Duplicate" in error.value.details()
  with pytest.raises(grpc.RpcError) as error:
    stub.MultiInference(inference_pb2.MultiInferenceRequest(), TIMEOUT)
  assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_rest_classify_and_regress_as_tf_serving(server):
  classify = requests.post(_url(server, "/v1/models/half_plus_two:classify"), timeout=TIMEOUT,
                           json={"signature_name": "classify_x_to_y", "examples": [{"x": 2.0}, {"x": 4.0}]})
  assert classify.status_code == 200 and classify.json() == {"results": [[["", 3.0]], [["", 4.0]]]}
  regress = requests.post(_url(server, "/v1/models/half_plus_two:regress"), timeout=TIMEOUT,
                          json={"signature_name": "regress_x_to_y", "context": {"x": 2.0}, "examples": [{}]})
  assert regress.status_code == 200 and regress.json() == {"results": [3.0]}


def test_metadata_is_tf_servings_answer_over_rest_and_grpc(server, stub):
  response = requests.get(_url(server, "/v1/models/half_plus_two/metadata"), timeout=TIMEOUT)
  expected = json.loads((TESTDATA / "half_plus_two_model_metadata.json").read_text())
  expected["model_spec"]["name"] = "half_plus_two"
  assert response.status_code == 200 and response.json() == expected
  request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
  request.model_spec.name = "half_plus_two"
  answer = stub.GetModelMetadata(request, TIMEOUT)
  signature_defs = get_model_metadata_pb2.SignatureDefMap()
  answer.metadata["signature_def"].Unpack(signature_defs)
  assert answer.model_spec.version.value == VERSION
  assert set(signature_defs.signature_def) == set(expected["metadata"]["signature_def"]["signature_def"])


def test_status_over_both_protocols(server):
  channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
  request = get_model_status_pb2.GetModelStatusRequest()
  request.model_spec.name = "tflite"
  (status,) = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(request, TIMEOUT).model_version_status
  channel.close()
  assert (status.version, status.state, status.status.error_code) == \
      (VERSION, get_model_status_pb2.ModelVersionStatus.AVAILABLE, 0)
  assert requests.get(_url(server, "/v1/models/half_plus_three"), timeout=TIMEOUT).json() == {
      "model_version_status": [{"version": "123", "state": "AVAILABLE",
                                "status": {"error_code": "OK", "error_message": ""}}]}


def test_a_bad_export_fails_to_load_with_its_reason_and_the_others_serve(server, stub):
  (status,) = requests.get(_url(server, "/v1/models/bad"), timeout=TIMEOUT).json()["model_version_status"]
  assert status["state"] == "END" and status["status"]["error_code"] != "OK"
  assert "bad_half_plus_two/00000123" in status["status"]["error_message"]
  with pytest.raises(grpc.RpcError) as error:
    stub.Predict(_predict_request("bad", [2.0], [1]), TIMEOUT)
  assert error.value.code() == grpc.StatusCode.NOT_FOUND and "Servable" in error.value.details()
  assert list(stub.Predict(_predict_request("half_plus_two", [2.0], [1]), TIMEOUT).outputs["y"].float_val) == [3.0]


def _string_x(request):
  request.inputs["x"].Clear()
  request.inputs["x"].dtype = types_pb2.DT_STRING
  request.inputs["x"].string_val.append(b"2")
  request.inputs["x"].tensor_shape.dim.add().size = 1


@pytest.mark.parametrize("mutate,code,needle", [
    (_string_x, grpc.StatusCode.INVALID_ARGUMENT, "float"),
    (lambda r: setattr(r.model_spec, "signature_name", "nope"), grpc.StatusCode.INVALID_ARGUMENT, "nope"),
    (lambda r: setattr(r.model_spec, "name", "nobody"), grpc.StatusCode.NOT_FOUND, "Servable"),
    (lambda r: r.output_filter.append("z"), grpc.StatusCode.INVALID_ARGUMENT, "'z'"),
])
def test_bad_predict_requests_get_tf_servings_codes(stub, mutate, code, needle):
  request = _predict_request("half_plus_two", [2.0], [1], output_filter=())
  mutate(request)
  with pytest.raises(grpc.RpcError) as error:
    stub.Predict(request, TIMEOUT)
  assert error.value.code() == code and needle in error.value.details()


def test_bad_classify_and_regress_requests_say_what_is_wrong(server, stub):
  request = classification_pb2.ClassificationRequest()
  request.model_spec.name, request.model_spec.signature_name = "half_plus_two", "classify_x_to_y"
  request.input.example_list.examples.add().features.feature["other"].float_list.value.append(1.0)
  with pytest.raises(grpc.RpcError) as error:  # the graph needs feature x
    stub.Classify(request, TIMEOUT)
  assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "x" in error.value.details()
  request.model_spec.signature_name = "serving_default"  # takes x, not tf.Examples
  with pytest.raises(grpc.RpcError) as error:
    stub.Classify(request, TIMEOUT)
  assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "tf.Examples" in error.value.details()
  response = requests.post(_url(server, "/v1/models/half_plus_two:regress"), timeout=TIMEOUT,
                           json={"signature_name": "regress_x_to_y", "examples": [{"x": [1.0, "a"]}]})
  assert response.status_code == 400 and "one kind" in response.json()["error"]
  response = requests.post(_url(server, "/v1/models/half_plus_two:classify"), timeout=TIMEOUT, json={"examples": []})
  assert response.status_code == 400 and "examples" in response.json()["error"]
  assert stub.Predict(_predict_request("half_plus_two", [2.0], [1]), TIMEOUT).outputs["y"].float_val[0] == 3.0


class _Raising(servables.LoadedModel):
  """A model that fails with the status code its base folder is named after (images in, y out)."""

  def __init__(self, path):
    super().__init__(path)
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    self.code = os.path.basename(os.path.dirname(path))
    self.signature_def_map = get_model_metadata_pb2.SignatureDefMap()
    self.signatures = {"serving_default": servables.base.Signature(
        {"images": tf.TensorSpec([None], tf.string)}, {"y": tf.TensorSpec([None], tf.float32)})}

  def run_unbatched(self, signature_name, inputs):
    raise errors.ServingError(self.code, f"raised {self.code} as asked")


FAILING_CODES = [code for code in errors.CODES if code != errors.OK]


@pytest.fixture(scope="module")
def raising_server(tmp_path_factory):
  root = tmp_path_factory.mktemp("raising")
  for code in FAILING_CODES:
    (root / code / "1").mkdir(parents=True)
    (root / code / "1" / "saved_model.pb").write_bytes(b"")
  served = server_lib.ModelServer(model_config.model_config_for_base_dir(str(root)), rest_port=0, grpc_port=0,
                                  host="127.0.0.1", loader=_Raising, batching_options=None).start()
  yield served
  served.stop()


def _png() -> bytes:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.encode_png(tf.zeros([2, 2, 3], tf.uint8)).numpy()


@pytest.mark.parametrize("code", FAILING_CODES)
def test_every_error_code_is_the_same_over_rest_and_grpc(raising_server, code):
  """Each code the data plane raises: gRPC answers the code, REST TF Serving's HTTP status for it, and the
  client library reads the same code back over both protocols (where one HTTP status stands for several
  codes, REST reads back the first of them in errors.HTTP_STATUS)."""
  image = _png()
  with client_lib.connect(f"127.0.0.1:{raising_server.grpc_port}", "grpc") as remote:
    with pytest.raises(client_lib.ServingClientError) as raised:
      remote.predict(code, [image])
  assert raised.value.code == code and f"raised {code}" in raised.value.message
  response = requests.post(f"http://127.0.0.1:{raising_server.rest_port}/v1/models/{code}:predict", timeout=TIMEOUT,
                           json={"instances": [{"b64": base64.b64encode(image).decode()}]})
  assert response.status_code == errors.HTTP_STATUS[code] and f"raised {code}" in response.json()["error"]
  with client_lib.connect(f"127.0.0.1:{raising_server.rest_port}", "rest") as rest:
    with pytest.raises(client_lib.ServingClientError) as raised:
      rest.predict(code, [image])
  read_back = errors.code_of_http_status(errors.HTTP_STATUS[code])
  assert raised.value.code == read_back and errors.HTTP_STATUS[read_back] == errors.HTTP_STATUS[code]
  if code in (errors.DEADLINE_EXCEEDED, errors.NOT_FOUND, errors.INVALID_ARGUMENT, errors.UNAVAILABLE,
              errors.RESOURCE_EXHAUSTED, errors.UNIMPLEMENTED, errors.INTERNAL, errors.CANCELLED):
    assert read_back == code  # the codes a client acts on come back exactly


# The model config, changed while serving.

def test_config_file_reload_under_traffic(tmp_path):
  """A model added, then the first one removed, by rewriting the config file polled every 0.2 s, while a
  client keeps predicting: no request to a model in the config fails; the new model answers; the removed
  one is gone."""
  config_path = tmp_path / "models.config"
  config_path.write_text(_config_text({"half_plus_two": HALF_PLUS_TWO}))
  served = server_lib.ModelServer(model_config.read_model_config(str(config_path)), rest_port=0, grpc_port=0,
                                  host="127.0.0.1", model_config_file=str(config_path),
                                  model_config_poll_seconds=0.2).start()
  stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(f"127.0.0.1:{served.grpc_port}"))
  stop, answers, failures = threading.Event(), [], []

  def traffic():
    while not stop.is_set():
      try:
        answers.append(stub.Predict(_predict_request("half_plus_two", [2.0], [1]), TIMEOUT).outputs["y"].float_val[0])
      except grpc.RpcError as e:
        failures.append(e.details())

  thread = threading.Thread(target=traffic)
  thread.start()
  try:
    wait_until(lambda: len(answers) > 20, what="traffic")
    config_path.write_text(_config_text({"half_plus_two": HALF_PLUS_TWO, "half_plus_three": HALF_PLUS_THREE}))

    def three_answers():
      try:
        return stub.Predict(_predict_request("half_plus_three", [2.0], [1]), TIMEOUT).outputs["y"].float_val[0]
      except grpc.RpcError:
        return None
    assert wait_until(three_answers, what="half_plus_three served") == 4.0
    served_before = len(answers)
    wait_until(lambda: len(answers) > served_before + 20, what="more traffic")
  finally:
    stop.set()
    thread.join(TIMEOUT)
  assert not failures and set(answers) == {3.0}
  config_path.write_text(_config_text({"half_plus_three": HALF_PLUS_THREE}))
  wait_until(lambda: requests.get(f"http://127.0.0.1:{served.rest_port}/v1/models/half_plus_two",
                                   timeout=TIMEOUT).status_code == 404, what="half_plus_two removed")
  config_path.write_text("not a config")  # a broken rewrite: logged, the last good config serves on
  assert three_answers() == 4.0
  served.stop()


def test_handle_reload_config_request(server):
  """ModelService/HandleReloadConfigRequest: a new config is served when the call returns; a model whose
  base path holds nothing, or a label on a version that is not loaded, is answered with the reason."""
  served = server_lib.ModelServer(_config({"half_plus_two": HALF_PLUS_TWO}), rest_port=0, grpc_port=0,
                                  host="127.0.0.1").start()
  channel = grpc.insecure_channel(f"127.0.0.1:{served.grpc_port}")
  models = model_service_pb2_grpc.ModelServiceStub(channel)
  stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
  try:
    request = model_management_pb2.ReloadConfigRequest(config=_config({"half_plus_three": HALF_PLUS_THREE}))
    request.config.model_config_list.config[0].version_labels["stable"] = VERSION
    assert models.HandleReloadConfigRequest(request, TIMEOUT).status.error_code == 0
    label_request = _predict_request("half_plus_three", [2.0], [1])
    label_request.model_spec.version_label = "stable"
    assert stub.Predict(label_request, TIMEOUT).outputs["y"].float_val[0] == 4.0
    with pytest.raises(grpc.RpcError) as error:
      stub.Predict(_predict_request("half_plus_two", [2.0], [1]), TIMEOUT)
    assert error.value.code() == grpc.StatusCode.NOT_FOUND

    missing = model_management_pb2.ReloadConfigRequest(config=_config({"half_plus_three": HALF_PLUS_THREE,
                                                                       "nowhere": "no_such_folder"}))
    answer = models.HandleReloadConfigRequest(missing, TIMEOUT)
    assert answer.status.error_code == 5 and "nowhere" in answer.status.error_message  # NOT_FOUND

    unloaded_label = model_management_pb2.ReloadConfigRequest(config=_config({"half_plus_three": HALF_PLUS_THREE}))
    unloaded_label.config.model_config_list.config[0].version_labels["canary"] = 999
    answer = models.HandleReloadConfigRequest(unloaded_label, TIMEOUT)
    assert answer.status.error_code == 9 and "999" in answer.status.error_message  # FAILED_PRECONDITION
    assert stub.Predict(_predict_request("half_plus_three", [2.0], [1]), TIMEOUT).outputs["y"].float_val[0] == 4.0
  finally:
    channel.close()
    served.stop()


# The command line.

def _fdp_serve(*args, **kwargs):
  return subprocess.Popen([sys.executable, "-m", "cli", "serve", *args], cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, **kwargs)


def test_a_bad_config_file_fails_with_tf_servings_message_and_exit_code():
  process = _fdp_serve("--port=0", "--rest_api_port=0", f"--model_config_file={TESTDATA / 'bad_model_config.txt'}")
  _, stderr = process.communicate(timeout=120)
  assert process.returncode == 255
  lines = [line for line in stderr.splitlines() if "Failed to start server" in line]
  assert len(lines) == 1 and "Error parsing text-format tensorflow.serving.ModelServerConfig" in lines[0]
  assert "Traceback" not in stderr


def test_a_taken_grpc_port_fails_at_once_naming_it():
  with socket.socket() as taken:
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    started = time.monotonic()
    process = _fdp_serve(f"--port={port}", "--rest_api_port=0", "--host=127.0.0.1",
                         f"--model_base_path={TESTDATA / HALF_PLUS_TWO}")
    _, stderr = process.communicate(timeout=120)
  assert process.returncode == 1
  (line,) = [line for line in stderr.splitlines() if "failed to start" in line]
  assert str(port) in line and "Traceback" not in stderr
  assert time.monotonic() - started < 5  # checked before TensorFlow loads


def _stuck_model(base: str) -> None:
  """A TF2 SavedModel whose serving_default counts to 10**12: a model call that never returns."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  class Stuck(tf.Module):

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def serve(self, x):
      count = tf.while_loop(lambda i: i < 10**12, lambda i: i + 1, [tf.constant(0, tf.int64)])
      return {"y": x + tf.cast(count, tf.float32)}

  module = Stuck()
  tf.saved_model.save(module, os.path.join(base, "1"), signatures={"serving_default": module.serve})


def _cpu_seconds(pid: int) -> float:
  """CPU time a process has used (Linux: /proc/PID/stat's utime + stime)."""
  with open(f"/proc/{pid}/stat") as f:
    fields = f.read().rsplit(")", 1)[1].split()
  return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_sigterm_with_a_model_call_stuck_exits_within_the_grace_period(tmp_path):
  _stuck_model(str(tmp_path / "stuck"))
  process = _fdp_serve("--port=0", "--rest_api_port=0", "--host=127.0.0.1", "--drain-seconds=3",
                       f"--model_base_path={tmp_path / 'stuck'}", "--model_name=stuck")
  try:
    line = wait_until(lambda: next((l for l in iter(process.stdout.readline, "") if l.startswith("REST on")), None),
                       timeout=120, what="fdp serve")
    rest_port = int(line.split("127.0.0.1:")[1].split(" ")[0])
    threading.Thread(target=lambda: requests.post(f"http://127.0.0.1:{rest_port}/v1/models/stuck:predict",
                                                  json={"instances": [1.0]}, timeout=120), daemon=True).start()
    busy_from = _cpu_seconds(process.pid)
    wait_until(lambda: _cpu_seconds(process.pid) > busy_from + 1.0, what="the model call running")
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=60)
    elapsed = time.monotonic() - started
  finally:
    if process.poll() is None:
      process.kill()
  assert code == 0 and elapsed < 3 + 7, elapsed  # the 3 s drain, then the unloads' bounded wait
