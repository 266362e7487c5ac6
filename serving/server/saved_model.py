"""A loaded SavedModel version: its signatures, callable on numpy arrays, optionally behind batching."""
import os
import threading
from typing import Dict, Optional

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_metadata_pb2

from serving.server import batching
from serving.server import deadlines
from serving.server import warmup

INIT_OP_SIGNATURE = "__saved_model_init_op"


def _signature_def_map(path: str) -> get_model_metadata_pb2.SignatureDefMap:
  """The SignatureDefs as written in saved_model.pb: what TF Serving's GetModelMetadata returns."""
  saved_model = saved_model_pb2.SavedModel()
  with open(os.path.join(path, "saved_model.pb"), "rb") as f:
    saved_model.ParseFromString(f.read())
  result = get_model_metadata_pb2.SignatureDefMap()
  for name, signature in saved_model.meta_graphs[0].signature_def.items():
    if name != INIT_OP_SIGNATURE:
      result.signature_def[name].CopyFrom(signature)
  return result


class LoadedModel:
  """tf.saved_model.load of one version folder, warmed up with its logged requests when it has them."""

  def __init__(self, path: str, batching_options: Optional[batching.BatchingOptions] = None):
    self.path = path
    self._module = tf.saved_model.load(path)
    self.signatures = dict(self._module.signatures)
    self.signature_def_map = _signature_def_map(path)
    self._batching_options = batching_options
    self._schedulers: Dict[str, batching.BatchScheduler] = {}
    self._lock = threading.Lock()
    self.warmup_requests = warmup.replay(self, path)

  def input_specs(self, signature_name: str) -> Dict[str, tf.TensorSpec]:
    return dict(self.signatures[signature_name].structured_input_signature[1])

  def output_specs(self, signature_name: str) -> Dict[str, tf.TensorSpec]:
    return dict(self.signatures[signature_name].structured_outputs)

  def run_unbatched(self, signature_name: str, inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    outputs = self.signatures[signature_name](**{k: tf.constant(v) for k, v in inputs.items()})
    return {name: value.numpy() for name, value in outputs.items()}

  def run(self, signature_name: str, inputs: Dict[str, np.ndarray],
          deadline: Optional[deadlines.Deadline] = None) -> Dict[str, np.ndarray]:
    """The signature on `inputs`, batched with other requests when batching is on; never run for a
    request whose deadline has passed or whose client cancelled."""
    if self._batching_options is None:
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
    self._module = self.signatures = None


def loader(batching_options: Optional[batching.BatchingOptions] = None):
  return lambda path: LoadedModel(path, batching_options)
