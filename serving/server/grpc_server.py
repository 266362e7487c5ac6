"""TF Serving's gRPC API (port 8500) over the serving core, with the official tensorflow-serving-api
services: PredictionService (Predict, Classify, Regress, GetModelMetadata) and ModelService
(GetModelStatus)."""
from concurrent import futures

import grpc
import tensorflow as tf
from tensorflow_serving.apis import classification_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc
from tensorflow_serving.apis import regression_pb2

from serving import defaults
from serving.server import errors
from serving.server.deadlines import Deadline
from serving.server.registry import ModelSpec

PROTOCOL = defaults.GRPC


def _spec(model_spec) -> ModelSpec:
  which = model_spec.WhichOneof("version_choice")
  return ModelSpec(model_spec.name, model_spec.version.value if which == "version" else None,
                   model_spec.version_label if which == "version_label" else None)


def _fill_spec(out_spec, name: str, result) -> None:
  out_spec.name = name
  out_spec.version.value = result.version
  out_spec.signature_name = result.signature_name


def _serialized_examples(model_input) -> list:
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


def _deadline(context) -> Deadline:
  """The client's deadline (none: the batcher's own bound applies) and its cancellation: a request
  cancelled while it waits for a batch is dropped from it."""
  deadline = Deadline(context.time_remaining())
  context.add_callback(deadline.cancel)
  return deadline


def _to_array(name: str, tensor_proto):
  try:
    return tf.make_ndarray(tensor_proto)
  except Exception as e:  # pylint: disable=broad-except
    raise errors.invalid(f"Input '{name}' is not a valid TensorProto: {e}") from None


class _Handler:
  """Runs a request through ServingCore.call and turns a ServingError into the gRPC status."""

  def __init__(self, core):
    self.core = core

  def serve(self, context, api: str, model_name: str, fn):
    """fn() -> (the response, the model version that answered or None): see ServingCore.call."""
    try:
      return self.core.call(api, PROTOCOL, model_name, fn)
    except errors.ServingError as e:
      context.abort(getattr(grpc.StatusCode, e.code, grpc.StatusCode.UNKNOWN), e.message)


def _predict_outputs(response, outputs) -> None:
  for name, value in outputs.items():
    response.outputs[name].CopyFrom(tf.make_tensor_proto(value))


def _classify_outputs(response, outputs) -> None:
  for scores in outputs["scores"]:
    classes = response.result.classifications.add().classes
    for k, score in enumerate(scores):
      classes.add(label=str(k), score=float(score))


def _regress_outputs(response, outputs) -> None:
  for value in outputs["value"]:
    response.result.regressions.add(value=float(value))


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer, _Handler):

  def _answer(self, context, api: str, request, compute, response, write_outputs):
    """compute(spec, deadline) -> the core's Result; the response gets the answering spec and the outputs."""
    spec = _spec(request.model_spec)

    def run():
      deadline = _deadline(context)
      try:
        result = compute(spec, deadline)
      finally:
        deadline.finish()
      _fill_spec(response.model_spec, spec.name, result)
      write_outputs(response, result.outputs)
      return response, result.version

    return self.serve(context, api, spec.name, run)

  def Predict(self, request, context):  # pylint: disable=invalid-name
    def compute(spec, deadline):
      inputs = {name: _to_array(name, tensor) for name, tensor in request.inputs.items()}
      return self.core.predict(spec, request.model_spec.signature_name, inputs, request.output_filter, deadline)
    return self._answer(context, "predict", request, compute, predict_pb2.PredictResponse(), _predict_outputs)

  def Classify(self, request, context):  # pylint: disable=invalid-name
    compute = lambda spec, deadline: self.core.classify(spec, request.model_spec.signature_name,
                                                        _serialized_examples(request.input), deadline)
    return self._answer(context, "classify", request, compute, classification_pb2.ClassificationResponse(),
                        _classify_outputs)

  def Regress(self, request, context):  # pylint: disable=invalid-name
    compute = lambda spec, deadline: self.core.regress(spec, request.model_spec.signature_name,
                                                       _serialized_examples(request.input), deadline)
    return self._answer(context, "regress", request, compute, regression_pb2.RegressionResponse(),
                        _regress_outputs)

  def GetModelMetadata(self, request, context):  # pylint: disable=invalid-name
    spec = _spec(request.model_spec)

    def run():
      metadata = self.core.metadata(spec, request.metadata_field)
      return metadata.response, metadata.version

    return self.serve(context, "metadata", spec.name, run)

  def MultiInference(self, request, context):  # pylint: disable=invalid-name
    del request
    context.abort(grpc.StatusCode.UNIMPLEMENTED, "MultiInference is not served; use Predict")


class ModelService(model_service_pb2_grpc.ModelServiceServicer, _Handler):

  def GetModelStatus(self, request, context):  # pylint: disable=invalid-name
    spec = _spec(request.model_spec)
    return self.serve(context, "status", spec.name, lambda: (self.core.status(spec), None))

  def HandleReloadConfigRequest(self, request, context):  # pylint: disable=invalid-name
    del request
    context.abort(grpc.StatusCode.UNIMPLEMENTED, "Reloading the config is not served; versions are picked "
                  "up from the base paths")


def make_server(core, host: str, port: int, max_request_bytes: int, threads: int):
  """A started grpc.server and the port it bound (port 0: a free one); `threads` serve RPCs at once
  (`--grpc_max_threads`), more wait in gRPC's queue."""
  server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="grpc"),
                       options=[("grpc.max_receive_message_length", max_request_bytes),
                                ("grpc.max_send_message_length", -1)])
  prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(core), server)
  model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(core), server)
  bound = server.add_insecure_port(f"{host}:{port}")
  if not bound:
    raise OSError(f"gRPC could not bind {host}:{port}")
  server.start()
  return server, bound
