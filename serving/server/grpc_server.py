"""TF Serving's gRPC API (port 8500, and a Unix socket with --grpc_socket_path) over the serving core,
with the official tensorflow-serving-api services: PredictionService (Predict, Classify, Regress,
MultiInference, GetModelMetadata) and ModelService (GetModelStatus, HandleReloadConfigRequest)."""
from concurrent import futures
from typing import Callable, Optional, Sequence

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import inference_pb2
from tensorflow_serving.apis import model_management_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc
from tensorflow_serving.apis import regression_pb2

from serving import defaults
from serving import errors
from serving.server import core as core_lib
from serving.server.deadlines import Deadline
from serving.server.registry import ModelSpec

PROTOCOL = defaults.GRPC
# The typed *_val field TF Serving fills for each dtype (tensor.AsProtoField()); others go as tensor_content.
_VALUE_FIELDS = {tf.float32: "float_val", tf.float64: "double_val", tf.int32: "int_val", tf.int16: "int_val",
                 tf.int8: "int_val", tf.uint8: "int_val", tf.uint16: "int_val", tf.int64: "int64_val",
                 tf.uint32: "uint32_val", tf.uint64: "uint64_val", tf.bool: "bool_val", tf.string: "string_val"}


def _spec(model_spec) -> ModelSpec:
  which = model_spec.WhichOneof("version_choice")
  return ModelSpec(model_spec.name, model_spec.version.value if which == "version" else None,
                   model_spec.version_label if which == "version_label" else None)


def _fill_spec(out_spec, name: str, result) -> None:
  out_spec.name = name
  out_spec.version.value = result.version
  out_spec.signature_name = result.signature_name


def to_tensor_proto(array: np.ndarray) -> tensor_pb2.TensorProto:
  """A TensorProto with its values in the typed field (float_val, ...), as TF Serving answers."""
  dtype = tf.as_dtype(array.dtype) if array.dtype != object else tf.string
  field = _VALUE_FIELDS.get(dtype)
  if field is None:
    return tf.make_tensor_proto(array)
  proto = tensor_pb2.TensorProto(dtype=dtype.as_datatype_enum)
  for size in array.shape:
    proto.tensor_shape.dim.add(size=size)
  getattr(proto, field).extend(array.reshape(-1).tolist())
  return proto


def serialized_examples(model_input) -> list:
  """Input.example_list, or example_list_with_context with the context merged into every example."""
  which = model_input.WhichOneof("kind")
  if which == "example_list":
    return [e.SerializeToString() for e in model_input.example_list.examples]
  if which == "example_list_with_context":
    merged = []
    for example in model_input.example_list_with_context.examples:
      full = tf.train.Example()
      full.CopyFrom(model_input.example_list_with_context.context)
      full.MergeFrom(example)
      merged.append(full.SerializeToString())
    return merged
  raise errors.invalid("Input is empty: give example_list or example_list_with_context")


def _to_array(name: str, tensor_proto):
  try:
    return tf.make_ndarray(tensor_proto)
  except Exception as e:  # pylint: disable=broad-except
    raise errors.invalid(f"Input '{name}' is not a valid TensorProto: {e}") from None


def _predict_outputs(response, outputs) -> None:
  for name, value in outputs.items():
    response.outputs[name].CopyFrom(to_tensor_proto(value))


def _classify_outputs(result_message, outputs) -> None:
  for row in core_lib.classifications(outputs):
    entry = result_message.classifications.add().classes
    for label, score in row:
      entry.add(label=label, score=0.0 if score is None else score)


def _regress_outputs(result_message, outputs) -> None:
  for value in outputs[core_lib.REGRESS_OUTPUTS]:
    result_message.regressions.add(value=float(value))


def _deadline(context) -> Deadline:
  """The client's deadline (none: the batcher's own bound applies) and its cancellation: a request
  cancelled while it waits for a batch is dropped from it."""
  deadline = Deadline(context.time_remaining())
  context.add_callback(deadline.cancel)
  return deadline


def _answer(context, call: Callable):
  """call(deadline) -> the response; a ServingError becomes the RPC's status."""
  deadline = _deadline(context)
  try:
    return call(deadline)
  except errors.ServingError as e:
    context.abort(getattr(grpc.StatusCode, e.code, grpc.StatusCode.UNKNOWN), e.message)
  finally:
    deadline.finish()


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):

  def __init__(self, core):
    self.core = core

  def Predict(self, request, context):  # pylint: disable=invalid-name
    def call(deadline):
      spec = _spec(request.model_spec)
      inputs = {name: _to_array(name, tensor) for name, tensor in request.inputs.items()}
      result = self.core.predict(spec, request.model_spec.signature_name, inputs, request.output_filter,
                                 deadline, protocol=PROTOCOL)
      response = predict_pb2.PredictResponse()
      _fill_spec(response.model_spec, spec.name, result)
      _predict_outputs(response, result.outputs)
      return response
    return _answer(context, call)

  def _examples_call(self, context, request, run, response, write_outputs):
    """Classify or Regress: `run` is the core's method, `write_outputs` fills the response's result."""
    def call(deadline):
      spec = _spec(request.model_spec)
      result = run(spec, request.model_spec.signature_name, serialized_examples(request.input), deadline,
                   protocol=PROTOCOL)
      _fill_spec(response.model_spec, spec.name, result)
      write_outputs(response.result, result.outputs)
      return response
    return _answer(context, call)

  def Classify(self, request, context):  # pylint: disable=invalid-name
    return self._examples_call(context, request, self.core.classify, classification_pb2.ClassificationResponse(),
                               _classify_outputs)

  def Regress(self, request, context):  # pylint: disable=invalid-name
    return self._examples_call(context, request, self.core.regress, regression_pb2.RegressionResponse(),
                               _regress_outputs)

  def MultiInference(self, request, context):  # pylint: disable=invalid-name
    def call(deadline):
      specs = [_spec(task.model_spec) for task in request.tasks]
      if len({(s.name, s.version, s.label) for s in specs}) > 1:
        raise errors.invalid("All ModelSpecs in a MultiInferenceRequest must access the same model version")
      spec = specs[0] if specs else ModelSpec("")
      tasks = [(task.model_spec.signature_name, task.method_name) for task in request.tasks]
      answer = self.core.multi_inference(spec, tasks, serialized_examples(request.input), deadline,
                                         protocol=PROTOCOL)
      response = inference_pb2.MultiInferenceResponse()
      for result, method in zip(answer.results, answer.methods):
        entry = response.results.add()
        _fill_spec(entry.model_spec, spec.name, result)
        if method == core_lib.CLASSIFY_METHOD:
          _classify_outputs(entry.classification_result, result.outputs)
        else:
          _regress_outputs(entry.regression_result, result.outputs)
      return response
    return _answer(context, call)

  def GetModelMetadata(self, request, context):  # pylint: disable=invalid-name
    return _answer(context, lambda _: self.core.metadata(_spec(request.model_spec), request.metadata_field,
                                                         protocol=PROTOCOL).response)


class ModelService(model_service_pb2_grpc.ModelServiceServicer):

  def __init__(self, core, reload_config: Optional[Callable] = None):
    self.core = core
    self._reload_config = reload_config

  def GetModelStatus(self, request, context):  # pylint: disable=invalid-name
    return _answer(context, lambda _: self.core.status(_spec(request.model_spec), protocol=PROTOCOL))

  def HandleReloadConfigRequest(self, request, context):  # pylint: disable=invalid-name
    """Serves request.config from now on (TF Serving's reply: the status inside the response)."""
    response = model_management_pb2.ReloadConfigResponse()
    try:
      if self._reload_config is None:
        raise errors.ServingError(errors.UNIMPLEMENTED, "This server cannot reload its config")
      self._reload_config(request.config)
      response.status.error_code = error_codes_pb2.OK
    except errors.ServingError as e:
      response.status.error_code = error_codes_pb2.Code.Value(e.code)
      response.status.error_message = e.message
    return response


def make_server(core, addresses: Sequence[str], max_request_bytes: int, threads: int,
                channel_arguments: Sequence[tuple] = (), reload_config: Optional[Callable] = None):
  """A grpc.server bound to `addresses` ("host:port", port 0: a free one; "unix:/path"), and the TCP
  port it bound. `threads` serve RPCs at once (`--grpc_max_threads`), more wait in gRPC's queue;
  `channel_arguments` are --grpc_channel_arguments. A failed bind raises OSError naming the address.
  The caller starts it."""
  options = [("grpc.max_receive_message_length", max_request_bytes), ("grpc.max_send_message_length", -1),
             ("grpc.so_reuseport", 0)]  # a second server on a port in use fails, not shares it
  options += [(key, value) for key, value in channel_arguments]
  server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="grpc"),
                       options=options)
  prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(core), server)
  model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(core, reload_config), server)
  port = None
  for address in addresses:
    try:
      bound = server.add_insecure_port(address)
    except RuntimeError as e:  # grpcio raises for an address it cannot bind
      raise OSError(f"gRPC could not bind {address}: {e}") from None
    if not bound:
      raise OSError(f"gRPC could not bind {address}")
    if port is None and not address.startswith("unix:"):
      port = bound
  return server, port
