"""What every loaded model format gives the serving core: its signatures (inputs and outputs as
tf.TensorSpecs, the SignatureDefs as written for GetModelMetadata), a call on numpy arrays, and batching.

The formats (tf2_saved_model.py, tf1_session.py, tflite.py) differ only in how they load and run; the
batching, closing and warm-up are here.
"""
import dataclasses
import os
import threading
from typing import Dict, Optional

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2

from serving.server import batching
from serving.server import deadlines
from serving.server import warmup

Arrays = Dict[str, np.ndarray]


@dataclasses.dataclass(frozen=True)
class Signature:
  inputs: Dict[str, tf.TensorSpec]
  outputs: Dict[str, tf.TensorSpec]
  method_name: str = ""


def spec_of(tensor_info) -> tf.TensorSpec:
  """A SignatureDef's TensorInfo -> a TensorSpec (unknown rank: shape None)."""
  shape = tf.TensorShape(tensor_info.tensor_shape)
  return tf.TensorSpec(shape, tf.dtypes.as_dtype(tensor_info.dtype))


def signatures_of(signature_def_map) -> Dict[str, Signature]:
  return {name: Signature({k: spec_of(v) for k, v in sig.inputs.items()},
                          {k: spec_of(v) for k, v in sig.outputs.items()}, sig.method_name)
          for name, sig in signature_def_map.signature_def.items()}


class LoadedModel:
  """One version folder, loaded. Subclasses set `signatures` and `signature_def_map` and implement
  `run_unbatched`; `strict_shapes` says whether a request's shapes must fit the signature's before the
  call (a tf.function's own rule) or are left to the graph (TF Serving's rule for a session)."""
  strict_shapes = False
  signatures: Dict[str, Signature]
  signature_def_map: get_model_metadata_pb2.SignatureDefMap

  def __init__(self, path: str, batching_options: Optional[batching.BatchingOptions] = None):
    self.path = path
    self._batching_options = batching_options
    self._schedulers: Dict[str, batching.BatchScheduler] = {}
    self._lock = threading.Lock()
    self.warmup_requests = 0

  def warm_up(self) -> "LoadedModel":
    """Replays the version's logged warm-up requests (TF Serving's assets.extra file), if any."""
    self.warmup_requests = warmup.replay(self, self.path)
    return self

  def input_specs(self, signature_name: str) -> Dict[str, tf.TensorSpec]:
    return dict(self.signatures[signature_name].inputs)

  def output_specs(self, signature_name: str) -> Dict[str, tf.TensorSpec]:
    return dict(self.signatures[signature_name].outputs)

  def run_unbatched(self, signature_name: str, inputs: Arrays) -> Arrays:
    raise NotImplementedError

  def run(self, signature_name: str, inputs: Arrays, deadline: Optional[deadlines.Deadline] = None) -> Arrays:
    """The signature on `inputs`, batched with other requests when batching is on (and every input has a
    batch axis); never run for a request whose deadline has passed or whose client cancelled."""
    if self._batching_options is None or any(np.ndim(v) == 0 for v in inputs.values()):
      if deadline is not None:
        deadline.check()
      return self.run_unbatched(signature_name, inputs)
    with self._lock:
      scheduler = self._schedulers.get(signature_name)
      if scheduler is None:
        scheduler = self._schedulers[signature_name] = batching.BatchScheduler(
            lambda arrays: self.run_unbatched(signature_name, arrays), self._batching_options,
            name=f"batch-{os.path.basename(self.path)}-{signature_name}")
    return scheduler.submit(inputs, deadline)

  def close(self) -> None:
    with self._lock:
      schedulers, self._schedulers = list(self._schedulers.values()), {}
    for scheduler in schedulers:
      scheduler.close()
    self._release()

  def _release(self) -> None:
    """Frees what the format holds (a session, an interpreter)."""
