"""`fdp serve` speaks TF Serving's wire API: every REST and gRPC endpoint and every error case, against the
trained models committed in models/ (the Pusher's layout and signatures); the client library and
`fdp predict` on real faces."""
import base64
import collections
import json
import logging
import os
import shutil
import subprocess
import sys

import grpc
import numpy as np
import pytest
import requests
import tensorflow as tf
from tensorflow_serving.apis import (classification_pb2, get_model_metadata_pb2, get_model_status_pb2,
                                     inference_pb2, input_pb2, model_service_pb2_grpc, predict_pb2,
                                     prediction_service_pb2_grpc, regression_pb2)

from cli import main as cli
from serving.client import model_client as client_lib
from serving.server import model_config
from serving.server import deployment_files
from serving.server import model_server as server_lib
from tests.conftest import REPO, UTKFACE_DIR, decompression_bomb_png
import vocabulary

WOMAN_26 = UTKFACE_DIR / "26_1_3_20170104235421282.jpg.chip.jpg"
MAN_OLD = UTKFACE_DIR / "100_0_0_20170112213500903.jpg.chip.jpg"
MAX_REQUEST_BYTES = 256 * 1024
BROKEN, EMPTY = "broken", "empty"

Served = collections.namedtuple("Served", "server version url target")


@pytest.fixture(scope="module")
def served(tmp_path_factory, shipped_models):
  """Both models (the classifier as two versions labelled stable and canary), a model whose only version
  is broken and one with no version at all, on free ports."""
  root = tmp_path_factory.mktemp("serving_api") / "models"
  version = int(os.path.basename(shipped_models[vocabulary.CLASSIFIER]))
  for v in (version, version + 1):
    shutil.copytree(shipped_models[vocabulary.CLASSIFIER], root / vocabulary.CLASSIFIER / str(v))
  shutil.copytree(shipped_models[vocabulary.REGRESSOR], root / vocabulary.REGRESSOR / str(version))
  (root / BROKEN / "1").mkdir(parents=True)
  (root / BROKEN / "1" / "saved_model.pb").write_bytes(b"not a SavedModel")
  (root / EMPTY).mkdir()
  served_config = model_config.model_server_config(
      str(root), models=vocabulary.MODELS + (BROKEN, EMPTY),
      labels={vocabulary.CLASSIFIER: {deployment_files.STABLE: version, deployment_files.CANARY: version + 1}})
  server = server_lib.ModelServer(served_config, rest_port=0, grpc_port=0, host="127.0.0.1",
                                  max_request_bytes=MAX_REQUEST_BYTES, poll_seconds=0.5).start()
  yield Served(server, version, f"http://127.0.0.1:{server.rest_port}", f"127.0.0.1:{server.grpc_port}")
  server.stop()


def _b64(data: bytes) -> dict:
  return {"b64": base64.b64encode(data).decode()}


def _get(served, path):
  response = requests.get(served.url + path, timeout=30)
  return response.status_code, response.json()


def _post(served, path, body):
  data = body if isinstance(body, (str, bytes)) else json.dumps(body)
  response = requests.post(served.url + path, data=data, timeout=30)
  return response.status_code, response.json()


@pytest.fixture(scope="module")
def stubs(served):
  channel = grpc.insecure_channel(served.target)
  yield (prediction_service_pb2_grpc.PredictionServiceStub(channel), model_service_pb2_grpc.ModelServiceStub(channel))
  channel.close()


def _predict_request(model, images, version=None, label=None, signature=""):
  request = predict_pb2.PredictRequest()
  request.model_spec.name = model
  request.model_spec.signature_name = signature
  if version is not None:
    request.model_spec.version.value = version
  if label:
    request.model_spec.version_label = label
  request.inputs["images"].CopyFrom(tf.make_tensor_proto(images, dtype=tf.string))
  return request


def _rpc_error(call, request) -> grpc.RpcError:
  with pytest.raises(grpc.RpcError) as e:
    call(request, timeout=30)
  return e.value


def _example(image: bytes) -> tf.train.Example:
  return tf.train.Example(features=tf.train.Features(feature={
      vocabulary.IMAGE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[image]))}))


# REST: status and metadata.

def test_rest_model_status(served):
  v = served.version
  code, body = _get(served, "/v1/models/classifier")
  assert code == 200
  assert body == {"model_version_status": [
      {"version": str(v + 1), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}},
      {"version": str(v), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
  assert [s["version"] for s in _get(served, f"/v1/models/classifier/versions/{v}")[1]["model_version_status"]] \
      == [str(v)]
  assert [s["version"] for s in _get(served, "/v1/models/classifier/labels/canary")[1]["model_version_status"]] \
      == [str(v + 1)]
  assert _get(served, "/v1/models/regressor")[1]["model_version_status"][0]["state"] == "AVAILABLE"


def test_rest_status_errors(served):
  assert _get(served, "/v1/models/nope") == (404, {"error": "Servable not found for request: Latest(nope)"})
  assert _get(served, "/v1/models/classifier/versions/1") == (
      404, {"error": "Could not find version 1 of model classifier"})
  assert _get(served, "/v1/models/classifier/labels/beta") == (
      400, {"error": "Unrecognized servable version label: beta"})
  assert _get(served, "/v1/models/classifier/versions/x")[0] == 404
  assert _get(served, "/v2/anything") == (404, {"error": "Malformed request: GET /v2/anything"})


def test_a_model_with_no_valid_version_reports_it(served):
  code, body = _get(served, f"/v1/models/{BROKEN}")
  assert code == 200
  (status,) = body["model_version_status"]
  assert (status["version"], status["state"], status["status"]["error_code"]) == ("1", "END", "UNKNOWN")
  assert "Failed to load" in status["status"]["error_message"]
  assert _get(served, f"/v1/models/{EMPTY}") == (404, {"error": f"Could not find any versions of model {EMPTY}"})
  code, body = _post(served, f"/v1/models/{BROKEN}:predict", {"instances": [_b64(WOMAN_26.read_bytes())]})
  assert code == 404 and "Servable not found" in body["error"]
  assert _get(served, "/v1/models/classifier")[0] == 200  # the server carries on


def test_rest_metadata(served):
  code, body = _get(served, "/v1/models/classifier/metadata")
  assert code == 200
  assert body["model_spec"] == {"name": "classifier", "version": str(served.version + 1), "signature_name": ""}
  signatures = body["metadata"]["signature_def"]["signature_def"]
  assert set(signatures) == {"serving_default", "serving_examples", "transform_features"}
  default = signatures["serving_default"]
  assert default["inputs"]["images"]["dtype"] == "DT_STRING"
  assert set(default["outputs"]) == {"age_bucket", "gender"}
  assert default["method_name"] == "tensorflow/serving/predict"
  pinned = _get(served, f"/v1/models/classifier/versions/{served.version}/metadata")[1]
  assert pinned["model_spec"]["version"] == str(served.version)
  assert _get(served, "/v1/models/nope/metadata")[0] == 404


# REST: predict.

def test_rest_predict_row_and_columnar_forms_agree(served):
  jpegs = [WOMAN_26.read_bytes(), MAN_OLD.read_bytes()]
  code, rows = _post(served, "/v1/models/classifier:predict", {"instances": [_b64(j) for j in jpegs]})
  assert code == 200 and len(rows["predictions"]) == 2
  assert set(rows["predictions"][0]) == {"age_bucket", "gender"} and len(rows["predictions"][0]["age_bucket"]) == 5
  assert abs(sum(rows["predictions"][0]["age_bucket"]) - 1) < 1e-4
  code, named_rows = _post(served, "/v1/models/classifier:predict",
                           {"signature_name": "serving_default", "instances": [{"images": _b64(j)} for j in jpegs]})
  assert code == 200 and named_rows == rows
  code, columns = _post(served, "/v1/models/classifier:predict", {"inputs": {"images": [_b64(j) for j in jpegs]}})
  assert code == 200
  assert columns["outputs"]["age_bucket"] == [p["age_bucket"] for p in rows["predictions"]]
  assert columns["outputs"]["gender"] == [p["gender"] for p in rows["predictions"]]
  code, single = _post(served, "/v1/models/regressor:predict", {"inputs": [_b64(j) for j in jpegs]})
  assert code == 200 and np.asarray(single["outputs"]).shape == (2, 1)  # one output: left unnamed, as TF Serving


def test_rest_predict_on_examples_signature_and_pinned_versions(served):
  jpeg = WOMAN_26.read_bytes()
  by_image = _post(served, "/v1/models/regressor:predict", {"instances": [_b64(jpeg)]})[1]
  by_example = _post(served, "/v1/models/regressor:predict", {
      "signature_name": "serving_examples", "instances": [{"examples": _b64(_example(jpeg).SerializeToString())}]})
  assert by_example == (200, by_image)
  for path in (f"/versions/{served.version}", f"/versions/{served.version + 1}", "/labels/stable", "/labels/canary"):
    code, body = _post(served, f"/v1/models/classifier{path}:predict", {"instances": [_b64(jpeg)]})
    assert code == 200 and len(body["predictions"]) == 1


@pytest.mark.parametrize("path,body,code,message", [
    ("classifier", "{not json", 400, "Malformed JSON"),
    ("classifier", "[1, 2]", 400, "must be a JSON object"),
    ("classifier", {"instances": [{"b64": "not base64!"}]}, 400, "Bad base64"),
    ("classifier", {"instances": [{"b64": base64.b64encode(b"plain text, no image").decode()}]}, 400,
     "is not an encoded image"),
    ("classifier", {"instances": [{"b64": base64.b64encode(b"\xff\xd8\xff\xe0 truncated jpeg").decode()}]}, 400, ""),
    ("classifier", {"instances": [[{"b64": "aGk="}]]}, 400, "has shape [1, 1]"),
    ("classifier", {"instances": [1.5]}, 400, "is not a string"),
    ("classifier", {"inputs": {"pixels": [1]}}, 400, "unknown ['pixels']"),
    ("classifier", {"instances": []}, 400, "'instances' is empty"),
    ("classifier", {"instances": [{"images": "x"}, {"other": "y"}]}, 400, "same inputs"),
    ("classifier", "[" * 100_000 + "]" * 100_000, 400, "nested too deeply: the limit is 64 levels"),
    ("classifier", {"instances": json.loads("[" * 500 + "]" * 500)}, 400, "nested too deeply"),
    ("classifier", {"instances": [1], "inputs": [1]}, 400, "exactly one of"),
    ("classifier", {"signature_name": "nope", "instances": [1]}, 400, "\"nope\" not found in signature def"),
    ("nope", {"instances": [1]}, 404, "Servable not found for request: Latest(nope)"),
    ("classifier/versions/42", {"instances": [1]}, 404, "Specific(classifier, 42)"),
    ("classifier/labels/beta", {"instances": [1]}, 400, "Unrecognized servable version label: beta"),
])
def test_rest_predict_errors(served, path, body, code, message):
  status, answer = _post(served, f"/v1/models/{path}:predict", body)
  assert status == code and set(answer) == {"error"} and message in answer["error"]


def test_a_decompression_bomb_is_refused_saying_why(served, stubs):
  bomb = decompression_bomb_png()  # 30,000 x 30,000 pixels in ~110 kB
  why = "the image has too many pixels: 30000x30000 (900,000,000); the limit is 50,000,000"
  assert _post(served, "/v1/models/classifier:predict", {"instances": [_b64(bomb)]}) == (
      400, {"error": f"Input 'images' element 0: {why}"})
  error = _rpc_error(stubs[0].Predict, _predict_request("classifier", [WOMAN_26.read_bytes(), bomb]))
  assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details() == f"Input 'images' element 1: {why}"


def test_rest_limits_and_unserved_verbs(served):
  big = {"instances": [_b64(b"\xff\xd8\xff" + b"0" * MAX_REQUEST_BYTES)]}
  code, body = _post(served, "/v1/models/classifier:predict", big)
  assert code == 413 and "exceeds the limit" in body["error"]
  code, body = _post(served, "/v1/models/regressor:regress", {"examples": []})
  assert code == 400 and "'examples'" in body["error"]
  assert _post(served, "/v1/models/classifier:explain", {})[0] == 404
  assert requests.delete(served.url + "/v1/models/classifier", timeout=30).status_code == 404
  code, body = _post(served, "/v1/models/classifier:predict", {"instances": [_b64(WOMAN_26.read_bytes())]})
  assert code == 200  # still up after every bad request


def test_prometheus_metrics_count_requests_per_model_and_version(served, stubs):
  _post(served, "/v1/models/classifier:predict", {"instances": [_b64(WOMAN_26.read_bytes())]})
  _post(served, "/v1/models/classifier:predict", "{bad")
  _get(served, "/v1/models/no-such-model-42")
  _get(served, f"/v1/models/regressor/versions/{served.version}/metadata")
  _get(served, "/v1/models/regressor")
  stubs[0].Predict(_predict_request("classifier", [WOMAN_26.read_bytes()], label="stable"), timeout=30)
  response = requests.get(served.url + deployment_files.PROMETHEUS_PATH, timeout=30)
  assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
  text = response.text
  ok = (f':tensorflow:serving:request_count_total{{api="predict",model_name="classifier",'
        f'model_version="{served.version + 1}",protocol="rest",status="OK"}}')
  assert ok in text
  assert ('request_errors_total{api="predict",code="INVALID_ARGUMENT",model_name="classifier",model_version="",'
          'protocol="rest"}') in text
  assert (f':tensorflow:serving:request_latency_seconds_count{{api="predict",model_name="classifier",'
          f'model_version="{served.version + 1}",protocol="rest"}}') in text
  assert 'model_name="<unknown>"' in text and "no-such-model-42" not in text  # label values stay bounded
  for api, model, version, protocol in (("metadata", "regressor", served.version, "rest"),
                                        ("status", "regressor", "", "rest"),
                                        ("predict", "classifier", served.version, "grpc")):
    assert (f':tensorflow:serving:request_count_total{{api="{api}",model_name="{model}",'
            f'model_version="{version}",protocol="{protocol}",status="OK"}}') in text


def test_importing_the_server_leaves_logging_alone():
  code = "import logging, serving.server; print(logging.getLogger('werkzeug').level)"
  assert subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                        cwd=REPO).stdout.strip() == str(logging.NOTSET)


# gRPC.

def test_grpc_predict_matches_rest_exactly(served, stubs):
  predictions, _ = stubs
  jpegs = [WOMAN_26.read_bytes(), MAN_OLD.read_bytes()]
  response = predictions.Predict(_predict_request("classifier", jpegs), timeout=30)
  assert response.model_spec.name == "classifier" and response.model_spec.version.value == served.version + 1
  assert response.model_spec.signature_name == "serving_default"
  rest = _post(served, "/v1/models/classifier:predict", {"inputs": {"images": [_b64(j) for j in jpegs]}})[1]
  for name in ("age_bucket", "gender"):
    grpc_values = tf.make_ndarray(response.outputs[name])
    assert grpc_values.dtype == np.float32
    np.testing.assert_array_equal(grpc_values, np.asarray(rest["outputs"][name], dtype=np.float32))
  request = _predict_request("classifier", jpegs[:1])
  request.output_filter.append("gender")
  assert list(predictions.Predict(request, timeout=30).outputs) == ["gender"]
  request.output_filter[:] = ["height"]
  assert "Unknown output(s) ['height']" in _rpc_error(predictions.Predict, request).details()


def test_grpc_version_pinning_and_labels(served, stubs):
  predictions, _ = stubs
  jpeg = [WOMAN_26.read_bytes()]
  v = served.version
  assert predictions.Predict(_predict_request("classifier", jpeg, version=v), timeout=30).model_spec.version.value == v
  for label, expected in (("stable", v), ("canary", v + 1)):
    response = predictions.Predict(_predict_request("classifier", jpeg, label=label), timeout=30)
    assert response.model_spec.version.value == expected


@pytest.mark.parametrize("kwargs,images,code,message", [
    (dict(model="nope"), [b"x"], grpc.StatusCode.NOT_FOUND, "Latest(nope)"),
    (dict(model="classifier", version=42), [b"x"], grpc.StatusCode.NOT_FOUND, "Specific(classifier, 42)"),
    (dict(model="classifier", label="beta"), [b"x"], grpc.StatusCode.INVALID_ARGUMENT, "label: beta"),
    (dict(model="classifier", signature="nope"), [b"x"], grpc.StatusCode.INVALID_ARGUMENT, "not found in signature"),
    (dict(model="classifier"), [b"GIF89a but no image"], grpc.StatusCode.INVALID_ARGUMENT, ""),
    (dict(model="classifier"), [b"no image"], grpc.StatusCode.INVALID_ARGUMENT, "is not an encoded image"),
    (dict(model="classifier"), [[b"a"], [b"b"]], grpc.StatusCode.INVALID_ARGUMENT, "has shape [2, 1]"),
    (dict(model=BROKEN), [b"x"], grpc.StatusCode.NOT_FOUND, "Latest(broken)"),
])
def test_grpc_predict_errors(stubs, kwargs, images, code, message):
  predictions, _ = stubs
  model = kwargs.pop("model")
  error = _rpc_error(predictions.Predict, _predict_request(model, images, **kwargs))
  assert error.code() == code and message in error.details()


def test_grpc_predict_wrong_inputs_and_size_limit(stubs):
  predictions, _ = stubs
  request = predict_pb2.PredictRequest()
  request.model_spec.name = "classifier"
  request.inputs["images"].CopyFrom(tf.make_tensor_proto([1.0, 2.0]))
  assert _rpc_error(predictions.Predict, request).code() == grpc.StatusCode.INVALID_ARGUMENT
  request.inputs["pixels"].CopyFrom(tf.make_tensor_proto([1.0]))
  assert "unknown ['pixels']" in _rpc_error(predictions.Predict, request).details()
  big = _predict_request("classifier", [b"\xff\xd8\xff" + b"0" * MAX_REQUEST_BYTES])
  assert _rpc_error(predictions.Predict, big).code() == grpc.StatusCode.RESOURCE_EXHAUSTED
  ok = predictions.Predict(_predict_request("classifier", [WOMAN_26.read_bytes()]), timeout=30)
  assert ok.outputs["age_bucket"].tensor_shape.dim[1].size == 5  # still serving


def test_grpc_metadata(served, stubs):
  predictions, _ = stubs
  request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
  request.model_spec.name = "regressor"
  response = predictions.GetModelMetadata(request, timeout=30)
  assert response.model_spec.version.value == served.version
  signature_defs = get_model_metadata_pb2.SignatureDefMap()
  assert response.metadata["signature_def"].Unpack(signature_defs)
  assert set(signature_defs.signature_def["serving_default"].outputs) == {"age"}
  assert "__saved_model_init_op" not in signature_defs.signature_def
  del request.metadata_field[:]
  assert _rpc_error(predictions.GetModelMetadata, request).code() == grpc.StatusCode.INVALID_ARGUMENT
  request.metadata_field.append("graph")
  assert "not supported" in _rpc_error(predictions.GetModelMetadata, request).details()
  request.model_spec.name = "nope"
  request.metadata_field[:] = ["signature_def"]
  assert _rpc_error(predictions.GetModelMetadata, request).code() == grpc.StatusCode.NOT_FOUND


def test_grpc_model_status_matches_rest(served, stubs):
  _, models = stubs
  request = get_model_status_pb2.GetModelStatusRequest()
  request.model_spec.name = "classifier"
  request.model_spec.version_label = "stable"
  (status,) = models.GetModelStatus(request, timeout=30).model_version_status
  assert status.version == served.version and status.state == get_model_status_pb2.ModelVersionStatus.AVAILABLE
  with client_lib.connect(served.target, "grpc") as grpc_client, \
       client_lib.connect(served.url, "rest") as rest_client:
    for model in ("classifier", BROKEN):
      assert grpc_client.status(model) == rest_client.status(model)
    assert grpc_client.metadata("classifier") == rest_client.metadata("classifier")
  request.model_spec.name = EMPTY
  request.model_spec.ClearField("version_label")
  error = _rpc_error(models.GetModelStatus, request)
  assert error.code() == grpc.StatusCode.NOT_FOUND and "Could not find any versions" in error.details()


def _examples_input(jpegs):
  model_input = input_pb2.Input()
  for jpeg in jpegs:
    model_input.example_list.examples.add().CopyFrom(_example(jpeg))
  return model_input


def test_grpc_regress_where_the_signature_fits(served, stubs):
  predictions, _ = stubs
  jpegs = [WOMAN_26.read_bytes(), MAN_OLD.read_bytes()]
  request = regression_pb2.RegressionRequest(input=_examples_input(jpegs))
  request.model_spec.name = "regressor"
  request.model_spec.signature_name = "serving_examples"
  response = predictions.Regress(request, timeout=30)
  ages = tf.make_ndarray(predictions.Predict(_predict_request("regressor", jpegs), timeout=30).outputs["age"])
  np.testing.assert_array_equal([r.value for r in response.result.regressions], ages[:, 0])
  assert response.model_spec.version.value == served.version
  code, body = _post(served, "/v1/models/regressor:regress", {  # the same over REST, the image as {"b64": ...}
      "signature_name": "serving_examples", "examples": [{vocabulary.IMAGE_KEY: _b64(jpeg)} for jpeg in jpegs]})
  assert code == 200
  np.testing.assert_allclose(body["results"], ages[:, 0], rtol=1e-6)
  request.model_spec.signature_name = "serving_default"  # takes images, not tf.Examples
  assert "use a signature with one 'inputs' (or 'examples') input" in _rpc_error(predictions.Regress, request).details()
  request.model_spec.name = "classifier"
  request.model_spec.signature_name = "serving_examples"  # two outputs
  error = _rpc_error(predictions.Regress, request)
  assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "use Predict" in error.details()


def test_grpc_classify_is_refused_clearly_for_two_heads(stubs):
  predictions, _ = stubs
  request = classification_pb2.ClassificationRequest(input=_examples_input([WOMAN_26.read_bytes()]))
  request.model_spec.name = "classifier"
  request.model_spec.signature_name = "serving_examples"
  error = _rpc_error(predictions.Classify, request)
  assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
  assert "age_bucket float32 [-1, 5], gender float32 [-1, 1]" in error.details() and "use Predict" in error.details()
  request.ClearField("input")
  assert "Input is empty" in _rpc_error(predictions.Classify, request).details()
  assert _rpc_error(predictions.MultiInference, inference_pb2.MultiInferenceRequest()).code() == \
      grpc.StatusCode.INVALID_ARGUMENT


# The client library and `fdp predict`.

def test_rest_and_grpc_clients_return_identical_predictions(served):
  jpegs = [WOMAN_26.read_bytes(), MAN_OLD.read_bytes()]
  with client_lib.connect(served.url.replace("http://", ""), "rest") as rest_client, \
       client_lib.connect(served.target, "grpc") as grpc_client:
    for model in vocabulary.MODELS:
      by_rest, by_grpc = rest_client.predict(model, jpegs), grpc_client.predict(model, jpegs)
      assert set(by_rest) == set(by_grpc) and by_rest
      for name in by_rest:
        assert by_rest[name].dtype == by_grpc[name].dtype == np.float32
        np.testing.assert_array_equal(by_rest[name], by_grpc[name])
    pinned = grpc_client.predict("classifier", jpegs[:1], label="stable")
    np.testing.assert_array_equal(pinned["gender"], rest_client.predict("classifier", jpegs[:1], label="stable")["gender"])
    for client in (rest_client, grpc_client):
      with pytest.raises(client_lib.ServingClientError) as e:
        client.predict("nope", jpegs)
      assert e.value.code == "NOT_FOUND"
      with pytest.raises(client_lib.ServingClientError) as e:
        client.predict("classifier", [b"not an image"])
      assert e.value.code == "INVALID_ARGUMENT"


def _fdp_predict(capsys, served, protocol, *args):
  """`fdp predict --no-detect`: each UTKFace image (already a face crop) is one face."""
  server = served.url.replace("http://", "") if protocol == "rest" else served.target
  code = cli.main(["predict", *args, "--server", server, "--protocol", protocol, "--no-detect"])
  return code, capsys.readouterr().out


def test_fdp_predict_json_format(served, capsys, tmp_path):
  not_an_image = tmp_path / "notes.jpg"
  not_an_image.write_text("hello")
  images = [str(WOMAN_26), str(not_an_image), str(tmp_path / "missing.jpg"), str(MAN_OLD)]
  code, out = _fdp_predict(capsys, served, "rest", *images, "--json")
  records = [json.loads(line) for line in out.splitlines()]
  assert code == 1 and [r["image"] for r in records] == images
  for record in (records[0], records[3]):
    (face,) = record["faces"]
    assert list(face) == ["box", "score", "age_bucket", "age_bucket_prob", "gender", "gender_prob", "age",
                          "warnings"]
    assert isinstance(face["warnings"], list)
    assert face["box"] == [0, 0, 200, 200] and face["score"] == 1.0
    assert face["age_bucket"] in vocabulary.AGE_BUCKETS and face["gender"] in vocabulary.GENDERS
    assert 0.2 <= face["age_bucket_prob"] <= 1 and 0.5 <= face["gender_prob"] <= 1
    assert isinstance(face["age"], float) and face["age"] == round(face["age"], 1)
  for record in records[1:3]:
    assert set(record) == {"image", "error"} and record["error"]
  grpc_code, grpc_out = _fdp_predict(capsys, served, "grpc", *images, "--json")
  assert (grpc_code, grpc_out) == (code, out)  # the same predictions over both protocols


def test_fdp_predict_one_model_and_human_output(served, capsys):
  code, out = _fdp_predict(capsys, served, "grpc", str(WOMAN_26), "--model", "regressor", "--json")
  (face,) = json.loads(out)["faces"]
  assert code == 0 and set(face) == {"box", "score", "age", "warnings"}
  code, out = _fdp_predict(capsys, served, "rest", str(WOMAN_26), "--model", "classifier", "--json")
  assert code == 0 and "age" not in json.loads(out)["faces"][0]
  code, out = _fdp_predict(capsys, served, "rest", str(WOMAN_26), str(MAN_OLD))
  lines = out.splitlines()
  assert code == 0 and len(lines) == 2
  assert lines[0].startswith(f"{WOMAN_26}: face 1 at [0, 0, 200, 200]: age ") and "years" in lines[0]
  assert ("female (" in lines[0]) or ("male (" in lines[0])
