"""A TF2 SavedModel (one with an object graph: tf.saved_model.save, Keras): loaded with
tf.saved_model.load, its signatures called as concrete functions."""
import os
from typing import Optional

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_metadata_pb2

from serving.server import batching
from serving.server.servables import base
from vocabulary import layout

INIT_OP_SIGNATURE = "__saved_model_init_op"
SAVED_MODEL_FILE = layout.SAVED_MODEL_FILE


def read_meta_graph(path: str):
  """The first MetaGraph of <path>/saved_model.pb, as written."""
  saved_model = saved_model_pb2.SavedModel()
  with open(os.path.join(path, SAVED_MODEL_FILE), "rb") as f:
    saved_model.ParseFromString(f.read())
  if not saved_model.meta_graphs:
    raise ValueError(f"{path}/{SAVED_MODEL_FILE} holds no MetaGraph")
  return saved_model.meta_graphs[0]


def signature_def_map(meta_graph) -> get_model_metadata_pb2.SignatureDefMap:
  """The SignatureDefs as written: what TF Serving's GetModelMetadata returns (no init op)."""
  result = get_model_metadata_pb2.SignatureDefMap()
  for name, signature in meta_graph.signature_def.items():
    if name != INIT_OP_SIGNATURE:
      result.signature_def[name].CopyFrom(signature)
  return result


class Tf2SavedModel(base.LoadedModel):
  strict_shapes = True  # a concrete function refuses inputs that do not fit its signature

  def __init__(self, path: str, batching_options: Optional[batching.BatchingOptions] = None, meta_graph=None):
    super().__init__(path, batching_options)
    self._module = tf.saved_model.load(path)
    self._functions = dict(self._module.signatures)
    self.signature_def_map = signature_def_map(meta_graph or read_meta_graph(path))
    self.signatures = {name: base.Signature(dict(fn.structured_input_signature[1]), dict(fn.structured_outputs),
                                            self.signature_def_map.signature_def[name].method_name)
                       for name, fn in self._functions.items()}

  def run_unbatched(self, signature_name, inputs):
    outputs = self._functions[signature_name](**{k: tf.constant(v) for k, v in inputs.items()})
    return {name: value.numpy() for name, value in outputs.items()}

  def _release(self):
    self._module = self._functions = None
