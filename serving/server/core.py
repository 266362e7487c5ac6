"""The serving core, free of any protocol: both front ends (REST in rest.py, gRPC in grpc_server.py) call
its methods and turn what they return or raise into their own wire format.

It resolves a model spec to a loaded version (registry.py), checks the inputs against the signature
(names and dtypes; shapes too where the model's format demands it; image bytes) so a bad request fails
alone with INVALID_ARGUMENT before it reaches a batch, runs the signature, and builds TF Serving's
status and metadata messages. Each API method records its own metrics (as TF Serving does inside its
handlers) and turns anything unexpected into INTERNAL, so no request can take a server down.
"""
import dataclasses
import functools
import logging
import time
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2

from serving import image_bytes
from serving import errors
from serving.server import metrics as metrics_lib
from serving.server.deadlines import Deadline
from serving.server.registry import ModelRegistry, ModelSpec, VersionStatus
from vocabulary import image_formats
from vocabulary import signatures

log = logging.getLogger(__name__)

DEFAULT_SIGNATURE = signatures.SERVING_DEFAULT
IMAGE_INPUTS = (signatures.IMAGES_INPUT,)  # encoded images, checked before batching
# Classify/Regress feed serialized tf.Examples to the signature's one input: TF Serving's name for it
# ("inputs", tf.saved_model's classification/regression_signature_def) or the project's ("examples").
EXAMPLES_INPUTS = ("inputs", signatures.EXAMPLES_INPUT)
CLASSES, SCORES, REGRESS_OUTPUTS = "classes", "scores", "outputs"  # TF Serving's output names
CLASSIFY_METHOD, REGRESS_METHOD = "tensorflow/serving/classify", "tensorflow/serving/regress"
SIGNATURE_DEF_FIELD = "signature_def"
UNKNOWN_MODEL = "<unknown>"  # the metrics' model_name for requests naming no configured model

_TF_ERROR_CODES = {tf.errors.INVALID_ARGUMENT: errors.INVALID_ARGUMENT, tf.errors.NOT_FOUND: errors.NOT_FOUND,
                   tf.errors.RESOURCE_EXHAUSTED: errors.RESOURCE_EXHAUSTED,
                   tf.errors.FAILED_PRECONDITION: errors.FAILED_PRECONDITION,
                   tf.errors.UNIMPLEMENTED: errors.UNIMPLEMENTED, tf.errors.OUT_OF_RANGE: errors.OUT_OF_RANGE}


@dataclasses.dataclass
class Result:
  """What a model call answered, and which version answered it."""
  version: int
  signature_name: str
  outputs: Dict[str, np.ndarray]


@dataclasses.dataclass
class Metadata:
  version: int
  response: get_model_metadata_pb2.GetModelMetadataResponse


def _describe(spec: tf.TensorSpec) -> str:
  if spec.shape.rank is None:
    return f"{spec.dtype.name} [unknown rank]"
  dims = ", ".join("-1" if d is None else str(d) for d in spec.shape.as_list())
  return f"{spec.dtype.name} [{dims}]"


def _as_array(name: str, value, spec: tf.TensorSpec, check_shape: bool) -> np.ndarray:
  """A JSON value (bytes already decoded from b64) or an array -> an array of the signature's dtype."""
  if spec.dtype == tf.string:
    array = value if isinstance(value, np.ndarray) and value.dtype == object else np.array(value, dtype=object)
    flat = array.reshape(-1)
    for i, item in enumerate(flat):
      if isinstance(item, str):
        flat[i] = item.encode("utf-8")
      elif not isinstance(item, (bytes, np.bytes_)):
        raise errors.invalid(f"Input '{name}' wants {_describe(spec)}: element {i} is not a string")
  else:
    if isinstance(value, np.ndarray) and value.dtype != spec.dtype.as_numpy_dtype:
      raise errors.invalid(f"Expects arg[{name}] to be {spec.dtype.name} but {tf.as_dtype(value.dtype).name} "
                           "is provided")
    try:
      array = np.asarray(value, dtype=spec.dtype.as_numpy_dtype)
    except (TypeError, ValueError) as e:
      raise errors.invalid(f"Input '{name}' wants {_describe(spec)}: {e}") from None
  if check_shape and not spec.shape.is_compatible_with(array.shape):
    raise errors.invalid(f"Input '{name}' has shape {list(array.shape)}; the signature wants {_describe(spec)}")
  return array


def _check_images(name: str, array: np.ndarray) -> None:
  for i, item in enumerate(array.reshape(-1)):
    data = bytes(item)
    if image_bytes.image_type(data) not in image_formats.TENSORFLOW_FORMATS:
      raise errors.invalid(f"Input '{name}' element {i} is not an encoded image "
                           f"({', '.join(image_formats.TENSORFLOW_FORMATS)} bytes)")
    too_large = image_bytes.too_many_pixels(data)
    if too_large:
      raise errors.invalid(f"Input '{name}' element {i}: {too_large}")


def _first_line(error: Exception) -> str:
  text = getattr(error, "message", None) or str(error)
  return text.strip().split("\n")[0]


def classifications(outputs: Dict[str, np.ndarray]) -> List[List[Tuple[str, Optional[float]]]]:
  """A Classify result's outputs -> per example, its (class label, score) pairs: the label "" without a
  classes output, the score None without a scores output (what both front ends write out)."""
  classes, scores = outputs.get(CLASSES), outputs.get(SCORES)
  rows, columns = (classes if classes is not None else scores).shape

  def label(i, k):
    if classes is None:
      return ""
    value = classes[i, k]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

  return [[(label(i, k), None if scores is None else float(scores[i, k])) for k in range(columns)]
          for i in range(rows)]


def _outputs_text(outputs) -> str:
  return ", ".join(f"{name} {_describe(spec)}" for name, spec in sorted(outputs.items()))


def _observed(api: str):
  """Wraps a ServingCore API method (first argument: the ModelSpec, keyword `protocol`): records its
  metrics and turns anything unexpected into INTERNAL."""
  def wrap(method):
    @functools.wraps(method)
    def observed(self, spec, *args, protocol: str, **kwargs):
      start, version, code = time.perf_counter(), "", errors.OK
      try:
        answer = method(self, spec, *args, **kwargs)
        version = str(getattr(answer, "version", "") or "")
        return answer
      except errors.ServingError as e:
        code = e.code
        raise
      except Exception as e:  # pylint: disable=broad-except
        log.exception("%s %s failed", api, getattr(spec, "name", spec))
        code = errors.INTERNAL
        raise errors.ServingError(errors.INTERNAL, f"{type(e).__name__}: {_first_line(e)}") from e
      finally:
        name = getattr(spec, "name", None)
        known = name if name in self.registry.model_names else UNKNOWN_MODEL  # bounded label values
        self.metrics.observe(known, version, api, protocol, code, time.perf_counter() - start)
    return observed
  return wrap


@dataclasses.dataclass
class MultiInferenceResult:
  version: int
  results: List[Result]
  methods: List[str]


class ServingCore:
  """Predict / Classify / Regress / MultiInference / status / metadata over a ModelRegistry."""

  def __init__(self, registry: ModelRegistry, metrics: Optional[metrics_lib.ServingMetrics] = None):
    self.registry = registry
    self.metrics = metrics or metrics_lib.ServingMetrics()

  # Inference.

  @staticmethod
  def _signature(servable, signature_name: str) -> str:
    signature_name = signature_name or DEFAULT_SIGNATURE
    if signature_name not in servable.loaded.signatures:
      raise errors.invalid(f"Serving signature name: \"{signature_name}\" not found in signature def; model "
                           f"{servable.name} version {servable.version} has: "
                           f"{', '.join(sorted(servable.loaded.signatures))}")
    return signature_name

  @staticmethod
  def _run(servable, signature_name: str, arrays: Dict[str, np.ndarray],
           deadline: Optional[Deadline]) -> Dict[str, np.ndarray]:
    try:
      return servable.loaded.run(signature_name, arrays, deadline)
    except tf.errors.OpError as e:
      raise errors.ServingError(_TF_ERROR_CODES.get(e.error_code, errors.INTERNAL), _first_line(e)) from None

  @_observed("predict")
  def predict(self, spec: ModelSpec, signature_name: str, inputs, output_filter: Iterable[str] = (),
              deadline: Optional[Deadline] = None) -> Result:
    """inputs: {input name: array or nested list}, or one unnamed value for a one-input signature. The
    model is not run once `deadline` has passed or its client has cancelled."""
    with self.registry.acquire(spec) as servable:
      signature_name = self._signature(servable, signature_name)
      input_specs = servable.loaded.input_specs(signature_name)
      if not isinstance(inputs, dict):
        if len(input_specs) != 1:
          raise errors.invalid(f"Signature '{signature_name}' takes {len(input_specs)} inputs "
                               f"({', '.join(sorted(input_specs))}): name them")
        inputs = {next(iter(input_specs)): inputs}
      missing, unknown = set(input_specs) - set(inputs), set(inputs) - set(input_specs)
      if missing or unknown:
        raise errors.invalid(f"Signature '{signature_name}' takes inputs {sorted(input_specs)}; the request "
                             f"is missing {sorted(missing)} and has unknown {sorted(unknown)}")
      strict = getattr(servable.loaded, "strict_shapes", True)
      arrays = {name: _as_array(name, value, input_specs[name], strict) for name, value in inputs.items()}
      if strict and len({a.shape[0] if a.ndim else None for a in arrays.values()}) > 1:
        raise errors.invalid("Inputs have different batch sizes: "
                             f"{ {name: list(a.shape) for name, a in arrays.items()} }")
      for name in IMAGE_INPUTS:
        if name in arrays:
          _check_images(name, arrays[name])
      output_filter = list(output_filter)
      unknown_outputs = set(output_filter) - set(servable.loaded.output_specs(signature_name))
      if unknown_outputs:
        raise errors.invalid(f"Unknown output(s) {sorted(unknown_outputs)} in output_filter")
      outputs = self._run(servable, signature_name, arrays, deadline)
      if output_filter:
        outputs = {name: outputs[name] for name in output_filter}
      return Result(servable.version, signature_name, outputs)

  def _examples_signature(self, servable, signature_name: str, api: str) -> str:
    """The signature Classify/Regress may call: one input, of serialized tf.Examples."""
    signature_name = self._signature(servable, signature_name)
    inputs = servable.loaded.input_specs(signature_name)
    if len(inputs) != 1 or next(iter(inputs)) not in EXAMPLES_INPUTS:
      raise errors.invalid(f"{api} sends serialized tf.Examples, but signature '{signature_name}' takes "
                           f"{sorted(inputs)}: use a signature with one '{EXAMPLES_INPUTS[0]}' (or "
                           f"'{EXAMPLES_INPUTS[1]}') input")
    return signature_name

  def _run_examples(self, servable, signature_name: str, serialized_examples: Sequence[bytes],
                    deadline: Optional[Deadline]) -> Dict[str, np.ndarray]:
    if not serialized_examples:
      raise errors.invalid("Input is empty: give at least one example")
    examples = np.array(list(serialized_examples), dtype=object)
    name = next(iter(servable.loaded.input_specs(signature_name)))
    return self._run(servable, signature_name, {name: examples}, deadline)

  def _regress(self, servable, signature_name: str, serialized_examples, deadline) -> Result:
    """One float output ("outputs", or the only one) of shape [N] or [N, 1] -> {"outputs": [N]}."""
    signature_name = self._examples_signature(servable, signature_name, "Regress")
    outputs = servable.loaded.output_specs(signature_name)
    name = REGRESS_OUTPUTS if REGRESS_OUTPUTS in outputs else next(iter(outputs)) if len(outputs) == 1 else None
    if name is None or not outputs[name].dtype.is_floating:
      raise errors.invalid(f"Regress needs one float output ('{REGRESS_OUTPUTS}'); signature "
                           f"'{signature_name}' has {_outputs_text(outputs)}: use Predict")
    values = self._run_examples(servable, signature_name, serialized_examples, deadline)[name]
    if values.ndim not in (1, 2) or values.shape[0] != len(serialized_examples) or values.size != values.shape[0]:
      raise errors.invalid(f"Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got "
                           f"{list(values.shape)}")
    return Result(servable.version, signature_name, {REGRESS_OUTPUTS: values.reshape(-1)})

  def _classify(self, servable, signature_name: str, serialized_examples, deadline) -> Result:
    """"classes" (string [N, K]) and/or "scores" (float [N, K]) -> the same, as TF Serving's Classify."""
    signature_name = self._examples_signature(servable, signature_name, "Classify")
    outputs = servable.loaded.output_specs(signature_name)
    names = [name for name in (CLASSES, SCORES) if name in outputs]
    if not names:
      raise errors.invalid(f"Classify needs a '{SCORES}' and/or '{CLASSES}' output; signature "
                           f"'{signature_name}' has {_outputs_text(outputs)}: use Predict")
    values = self._run_examples(servable, signature_name, serialized_examples, deadline)
    answer = {}
    for name in names:
      value = values[name]
      if value.ndim != 2 or value.shape[0] != len(serialized_examples):
        raise errors.invalid(f"Expected Tensor shape: [batch_size num_classes] but got {list(value.shape)}")
      answer[name] = value
    if len(answer) == 2 and answer[CLASSES].shape != answer[SCORES].shape:
      raise errors.invalid(f"Tensors class and score should match in shape: {list(answer[CLASSES].shape)} vs "
                           f"{list(answer[SCORES].shape)}")
    return Result(servable.version, signature_name, answer)

  @_observed("regress")
  def regress(self, spec: ModelSpec, signature_name: str, serialized_examples: Sequence[bytes],
              deadline: Optional[Deadline] = None) -> Result:
    with self.registry.acquire(spec) as servable:
      return self._regress(servable, signature_name, serialized_examples, deadline)

  @_observed("classify")
  def classify(self, spec: ModelSpec, signature_name: str, serialized_examples: Sequence[bytes],
               deadline: Optional[Deadline] = None) -> Result:
    with self.registry.acquire(spec) as servable:
      return self._classify(servable, signature_name, serialized_examples, deadline)

  @_observed("multi_inference")
  def multi_inference(self, spec: ModelSpec, tasks: Sequence[tuple], serialized_examples: Sequence[bytes],
                      deadline: Optional[Deadline] = None) -> MultiInferenceResult:
    """tasks: (signature name, method name) pairs, all on the model `spec` names (TF Serving's rule); each
    a Classify or a Regress of the same examples."""
    if not tasks:
      raise errors.invalid("MultiInferenceRequest must have at least one task")
    names = [signature_name or DEFAULT_SIGNATURE for signature_name, _ in tasks]
    if len(set(names)) != len(names):
      raise errors.invalid("Duplicate evaluation of signature: a MultiInferenceRequest names a signature twice")
    run = {CLASSIFY_METHOD: self._classify, REGRESS_METHOD: self._regress}
    with self.registry.acquire(spec) as servable:
      results = []
      for signature_name, method in tasks:
        if method not in run:
          raise errors.invalid(f"Unsupported signature method_name: {method}")
        results.append(run[method](servable, signature_name, serialized_examples, deadline))
      return MultiInferenceResult(servable.version, results, [method for _, method in tasks])

  # Status and metadata (TF Serving's messages; REST prints them as JSON).

  @_observed("status")
  def status(self, spec: ModelSpec) -> get_model_status_pb2.GetModelStatusResponse:
    response = get_model_status_pb2.GetModelStatusResponse()
    for status in self.registry.status(spec):
      self._add_status(response, status)
    return response

  @staticmethod
  def _add_status(response, status: VersionStatus) -> None:
    entry = response.model_version_status.add(version=status.version)
    entry.state = get_model_status_pb2.ModelVersionStatus.State.Value(status.state)
    entry.status.error_code = error_codes_pb2.Code.Value(status.error_code)
    entry.status.error_message = status.error_message

  @_observed("metadata")
  def metadata(self, spec: ModelSpec, fields: Iterable[str] = (SIGNATURE_DEF_FIELD,)) -> Metadata:
    fields = list(fields)
    if not fields:
      raise errors.invalid("GetModelMetadataRequest must specify at least one metadata_field")
    unsupported = [f for f in fields if f != SIGNATURE_DEF_FIELD]
    if unsupported:
      raise errors.invalid(f"Metadata field {unsupported[0]} is not supported")
    with self.registry.acquire(spec) as servable:
      response = get_model_metadata_pb2.GetModelMetadataResponse()
      response.model_spec.name = spec.name
      response.model_spec.version.value = servable.version
      response.metadata[SIGNATURE_DEF_FIELD].Pack(servable.loaded.signature_def_map)
      return Metadata(servable.version, response)
