"""A client for TF Serving's API, the same over REST and gRPC, and against `fdp serve` or the real server.

  client = connect("localhost:8501", "rest")        # or connect("localhost:8500", "grpc")
  outputs = client.predict("classifier", [jpeg_bytes])  # {"age_bucket": float32 [1, 5], "gender": [1, 1]}
  client.status("classifier")                           # {"model_version_status": [...]}

Both return float32 arrays (REST's JSON numbers are float32 values printed in full), so both protocols
give identical predictions. Failures raise ServingClientError with TF Serving's error code name.
"""
import abc
import base64
from typing import Dict, Optional, Sequence

import numpy as np

from serving import errors
from serving.defaults import GRPC, PROTOCOLS, REST  # pylint: disable=unused-import (the client's API)
from vocabulary import signatures
from vocabulary.signatures import IMAGES_INPUT

DEFAULT_SIGNATURE = signatures.SERVING_DEFAULT


class ServingClientError(Exception):

  def __init__(self, code: str, message: str):
    super().__init__(f"{code}: {message}")
    self.code, self.message = code, message


class ServingClient(abc.ABC):
  """One interface, two protocols. `version` or `label` pins a model version (else the latest)."""

  @abc.abstractmethod
  def predict(self, model: str, images: Sequence[bytes], version: Optional[int] = None,
              label: Optional[str] = None, signature_name: str = DEFAULT_SIGNATURE) -> Dict[str, np.ndarray]:
    """Encoded images -> {output name: float32 array with one row per image}."""

  @abc.abstractmethod
  def status(self, model: str, version: Optional[int] = None, label: Optional[str] = None) -> dict:
    """TF Serving's model_version_status, as its REST API prints it."""

  @abc.abstractmethod
  def metadata(self, model: str, version: Optional[int] = None, label: Optional[str] = None) -> dict:
    """{"model_spec": ..., "metadata": {"signature_def": ...}}, as TF Serving's REST API prints it."""

  def close(self) -> None:
    pass

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()


class RestClient(ServingClient):

  def __init__(self, server: str, timeout: float = 30.0):
    import requests  # pylint: disable=g-import-not-at-top
    self._base = server if server.startswith("http") else f"http://{server}"
    self._session = requests.Session()
    self._timeout = timeout
    self._output_names: Dict[tuple, list] = {}

  def _url(self, model: str, version: Optional[int], label: Optional[str], suffix: str = "") -> str:
    pinned = f"/versions/{version}" if version is not None else f"/labels/{label}" if label else ""
    return f"{self._base}/v1/models/{model}{pinned}{suffix}"

  def _send(self, method: str, url: str, body=None) -> dict:
    import requests  # pylint: disable=g-import-not-at-top
    try:
      response = self._session.request(method, url, json=body, timeout=self._timeout)
    except requests.ReadTimeout as e:  # the answer did not come in time: what gRPC's deadline reports
      raise ServingClientError(errors.DEADLINE_EXCEEDED, str(e)) from None
    except requests.RequestException as e:
      raise ServingClientError(errors.UNAVAILABLE, str(e)) from None
    try:
      payload = response.json()
    except ValueError:
      payload = {"error": response.text}
    if response.status_code != 200:
      raise ServingClientError(errors.code_of_http_status(response.status_code), payload.get("error", ""))
    return payload

  def predict(self, model, images, version=None, label=None, signature_name=DEFAULT_SIGNATURE):
    body = {"signature_name": signature_name,
            "inputs": {IMAGES_INPUT: [{"b64": base64.b64encode(image).decode("ascii")} for image in images]}}
    outputs = self._send("POST", self._url(model, version, label, ":predict"), body)["outputs"]
    if not isinstance(outputs, dict):  # TF Serving leaves a single output unnamed
      outputs = {self._single_output_name(model, version, label, signature_name): outputs}
    return {name: np.asarray(value, dtype=np.float32) for name, value in outputs.items()}

  def _single_output_name(self, model, version, label, signature_name) -> str:
    key = (model, version, label, signature_name)
    if key not in self._output_names:
      signature = self.metadata(model, version, label)["metadata"]["signature_def"]["signature_def"][signature_name]
      self._output_names[key] = sorted(signature["outputs"])
    return self._output_names[key][0]

  def status(self, model, version=None, label=None):
    return self._send("GET", self._url(model, version, label))

  def metadata(self, model, version=None, label=None):
    return self._send("GET", self._url(model, version, label, "/metadata"))

  def close(self):
    self._session.close()


_NUMPY_DTYPES = {"DT_FLOAT": np.float32, "DT_DOUBLE": np.float64, "DT_INT32": np.int32, "DT_INT64": np.int64}
_VALUE_FIELDS = {"DT_FLOAT": "float_val", "DT_DOUBLE": "double_val", "DT_INT32": "int_val", "DT_INT64": "int64_val"}


def tensor_to_array(tensor) -> np.ndarray:
  """A numeric TensorProto -> numpy, without importing TensorFlow (tensor_content or the *_val fields)."""
  from tensorflow.core.framework import types_pb2  # pylint: disable=g-import-not-at-top
  dtype_name = types_pb2.DataType.Name(tensor.dtype)
  if dtype_name not in _NUMPY_DTYPES:
    raise ServingClientError("UNIMPLEMENTED", f"output dtype {dtype_name} is not handled by this client")
  shape = [d.size for d in tensor.tensor_shape.dim]
  if tensor.tensor_content:
    return np.frombuffer(tensor.tensor_content, dtype=_NUMPY_DTYPES[dtype_name]).reshape(shape).copy()
  values = np.asarray(getattr(tensor, _VALUE_FIELDS[dtype_name]), dtype=_NUMPY_DTYPES[dtype_name])
  size = int(np.prod(shape))
  if values.size != size:
    if values.size == 0:
      raise ServingClientError("INTERNAL", "the server sent an empty tensor")
    values = np.concatenate([values, np.repeat(values[-1:], size - values.size)])  # trailing repeats stored once
  return values.reshape(shape)


class GrpcClient(ServingClient):

  def __init__(self, server: str, timeout: float = 30.0, max_message_bytes: int = 64 * 1024 * 1024):
    import grpc  # pylint: disable=g-import-not-at-top
    from tensorflow_serving.apis import model_service_pb2_grpc  # pylint: disable=g-import-not-at-top
    from tensorflow_serving.apis import prediction_service_pb2_grpc  # pylint: disable=g-import-not-at-top
    self._grpc = grpc
    self._channel = grpc.insecure_channel(server, options=[("grpc.max_send_message_length", max_message_bytes),
                                                           ("grpc.max_receive_message_length", max_message_bytes)])
    self._predictions = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
    self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)
    self._timeout = timeout

  @staticmethod
  def _fill_spec(spec, model, version, label, signature_name=""):
    spec.name = model
    if version is not None:
      spec.version.value = version
    elif label:
      spec.version_label = label
    spec.signature_name = signature_name

  def _call(self, method, request):
    try:
      return method(request, timeout=self._timeout)
    except self._grpc.RpcError as e:
      raise ServingClientError(e.code().name, e.details()) from None

  def predict(self, model, images, version=None, label=None, signature_name=DEFAULT_SIGNATURE):
    from tensorflow.core.framework import tensor_pb2, types_pb2  # pylint: disable=g-import-not-at-top
    from tensorflow_serving.apis import predict_pb2  # pylint: disable=g-import-not-at-top
    request = predict_pb2.PredictRequest()
    self._fill_spec(request.model_spec, model, version, label, signature_name)
    tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=list(images))
    tensor.tensor_shape.dim.add(size=len(images))
    request.inputs[IMAGES_INPUT].CopyFrom(tensor)
    response = self._call(self._predictions.Predict, request)
    return {name: tensor_to_array(value) for name, value in response.outputs.items()}

  def status(self, model, version=None, label=None):
    from serving import wire  # pylint: disable=g-import-not-at-top
    from tensorflow_serving.apis import get_model_status_pb2  # pylint: disable=g-import-not-at-top
    request = get_model_status_pb2.GetModelStatusRequest()
    self._fill_spec(request.model_spec, model, version, label)
    return wire.status_json(self._call(self._models.GetModelStatus, request))

  def metadata(self, model, version=None, label=None):
    from serving import wire  # pylint: disable=g-import-not-at-top
    from tensorflow_serving.apis import get_model_metadata_pb2  # pylint: disable=g-import-not-at-top
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    self._fill_spec(request.model_spec, model, version, label)
    return wire.metadata_json(self._call(self._predictions.GetModelMetadata, request))

  def close(self):
    self._channel.close()


def connect(server: str, protocol: str = REST, timeout: float = 30.0) -> ServingClient:
  if protocol not in PROTOCOLS:
    raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
  return (RestClient if protocol == REST else GrpcClient)(server, timeout=timeout)
