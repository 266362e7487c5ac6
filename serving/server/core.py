"""The one serving core both front ends (REST in rest.py, gRPC in grpc_server.py) call.

It resolves a model spec to a loaded version (registry.py), checks the inputs against the signature
(names, dtypes, shapes, image bytes) so a bad request fails alone with INVALID_ARGUMENT before it reaches a
batch, runs the signature and builds TF Serving's status and metadata messages. `call` wraps every API
call with the metrics and turns anything unexpected into INTERNAL, so no request can take a server down.
"""
import dataclasses
import logging
import time
from typing import Callable, Dict, Iterable, List, Optional, Tuple, TypeVar

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2

from serving import image_bytes
from serving.server import errors
from serving.server import metrics as metrics_lib
from serving.server.deadlines import Deadline
from serving.server.registry import ModelRegistry, ModelSpec, VersionStatus
from vocabulary import image_formats
from vocabulary import signatures

log = logging.getLogger(__name__)

DEFAULT_SIGNATURE = signatures.SERVING_DEFAULT
IMAGE_INPUTS = (signatures.IMAGES_INPUT,)  # encoded images, checked before batching
EXAMPLES_INPUTS = (signatures.EXAMPLES_INPUT,)  # serialized tf.Examples
SIGNATURE_DEF_FIELD = "signature_def"
UNKNOWN_MODEL = "<unknown>"  # the metrics' model_name for requests naming no configured model
Answer = TypeVar("Answer")

_TF_ERROR_CODES = {tf.errors.INVALID_ARGUMENT: errors.INVALID_ARGUMENT, tf.errors.NOT_FOUND: errors.NOT_FOUND,
                   tf.errors.RESOURCE_EXHAUSTED: errors.RESOURCE_EXHAUSTED,
                   tf.errors.FAILED_PRECONDITION: errors.FAILED_PRECONDITION,
                   tf.errors.UNIMPLEMENTED: errors.UNIMPLEMENTED}


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
  dims = ", ".join("-1" if d is None else str(d) for d in spec.shape.as_list())
  return f"{spec.dtype.name} [{dims}]"


def _as_array(name: str, value, spec: tf.TensorSpec) -> np.ndarray:
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
    try:
      array = np.asarray(value, dtype=spec.dtype.as_numpy_dtype)
    except (TypeError, ValueError) as e:
      raise errors.invalid(f"Input '{name}' wants {_describe(spec)}: {e}") from None
  if not spec.shape.is_compatible_with(array.shape):
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


class ServingCore:
  """Predict / Classify / Regress / status / metadata over a ModelRegistry."""

  def __init__(self, registry: ModelRegistry, metrics: Optional[metrics_lib.ServingMetrics] = None):
    self.registry = registry
    self.metrics = metrics or metrics_lib.ServingMetrics()

  def call(self, api: str, protocol: str, model_name: str,
           fn: Callable[[], Tuple[Answer, Optional[int]]]) -> Answer:
    """Runs fn() for a front end and returns its answer; fn returns (answer, the model version that
    answered, or None when no version did, e.g. a status request), the version being the metrics' label.
    Records the metrics and turns any failure into a ServingError."""
    start, version, code = time.perf_counter(), "", errors.OK
    try:
      answer, answered_by = fn()
      version = str(answered_by or "")
      return answer
    except errors.ServingError as e:
      code = e.code
      raise
    except Exception as e:  # pylint: disable=broad-except
      log.exception("%s %s failed", api, model_name)
      code = errors.INTERNAL
      raise errors.ServingError(errors.INTERNAL, f"{type(e).__name__}: {_first_line(e)}") from e
    finally:
      known = model_name if model_name in self.registry.model_names else UNKNOWN_MODEL  # bounded label values
      self.metrics.observe(known, version, api, protocol, code, time.perf_counter() - start)

  # Inference.

  def _signature(self, servable, signature_name: str) -> str:
    signature_name = signature_name or DEFAULT_SIGNATURE
    if signature_name not in servable.loaded.signatures:
      raise errors.invalid(f"Serving signature name: \"{signature_name}\" not found in signature def; model "
                           f"{servable.name} version {servable.version} has: "
                           f"{', '.join(sorted(servable.loaded.signatures))}")
    return signature_name

  def _run(self, servable, signature_name: str, arrays: Dict[str, np.ndarray],
           deadline: Optional[Deadline]) -> Dict[str, np.ndarray]:
    try:
      return servable.loaded.run(signature_name, arrays, deadline)
    except tf.errors.OpError as e:
      raise errors.ServingError(_TF_ERROR_CODES.get(e.error_code, errors.INTERNAL), _first_line(e)) from None

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
      arrays = {name: _as_array(name, value, input_specs[name]) for name, value in inputs.items()}
      if len({a.shape[0] if a.ndim else None for a in arrays.values()}) > 1:
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
    """The signature Classify/Regress may call: one input of serialized tf.Examples."""
    signature_name = self._signature(servable, signature_name)
    inputs = servable.loaded.input_specs(signature_name)
    if len(inputs) != 1 or next(iter(inputs)) not in EXAMPLES_INPUTS:
      raise errors.invalid(f"{api} sends serialized tf.Examples, but signature '{signature_name}' takes "
                           f"{sorted(inputs)}: use a signature with an '{signatures.EXAMPLES_INPUT}' input "
                           f"({signatures.SERVING_EXAMPLES})")
    return signature_name

  def regress(self, spec: ModelSpec, signature_name: str, serialized_examples: List[bytes],
              deadline: Optional[Deadline] = None) -> Result:
    """Fits a signature with one float output of shape [N] or [N, 1]: outputs {"value": [N]}."""
    with self.registry.acquire(spec) as servable:
      signature_name = self._examples_signature(servable, signature_name, "Regress")
      outputs = servable.loaded.output_specs(signature_name)
      shapes = [o.shape.as_list() for o in outputs.values()]
      if len(outputs) != 1 or shapes[0][1:] not in ([], [1]) or not next(iter(outputs.values())).dtype.is_floating:
        raise errors.invalid(f"Regress needs one float output of shape [N] or [N, 1]; signature "
                             f"'{signature_name}' has {self._outputs_text(outputs)}: use Predict")
      examples = np.array(list(serialized_examples), dtype=object)
      values = next(iter(self._run(servable, signature_name, {EXAMPLES_INPUTS[0]: examples}, deadline).values()))
      return Result(servable.version, signature_name, {"value": values.reshape(-1)})

  def classify(self, spec: ModelSpec, signature_name: str, serialized_examples: List[bytes],
               deadline: Optional[Deadline] = None) -> Result:
    """Fits a signature with one float output of scores [N, K], K > 1: outputs {"scores": [N, K]}."""
    with self.registry.acquire(spec) as servable:
      signature_name = self._examples_signature(servable, signature_name, "Classify")
      outputs = servable.loaded.output_specs(signature_name)
      shapes = [o.shape.as_list() for o in outputs.values()]
      if len(outputs) != 1 or len(shapes[0]) != 2 or not (shapes[0][1] or 0) > 1:
        raise errors.invalid(f"Classify needs exactly one float output of scores [N, K]; signature "
                             f"'{signature_name}' has {self._outputs_text(outputs)}: use Predict")
      examples = np.array(list(serialized_examples), dtype=object)
      scores = next(iter(self._run(servable, signature_name, {EXAMPLES_INPUTS[0]: examples}, deadline).values()))
      return Result(servable.version, signature_name, {"scores": scores})

  @staticmethod
  def _outputs_text(outputs) -> str:
    return ", ".join(f"{name} {_describe(spec)}" for name, spec in sorted(outputs.items()))

  # Status and metadata (TF Serving's messages; REST prints them as JSON).

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
