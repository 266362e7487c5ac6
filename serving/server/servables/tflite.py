"""A TF Lite model (`model.tflite` in a version folder, served with --prefer_tflite_model), run with
TensorFlow's own TF Lite interpreter. Its signatures are the SignatureDefs TF Serving's converter stores
in the model's `signature_defs_metadata`, or else one `serving_default` over the graph's inputs and
outputs named by their tensors, as TF Serving builds it."""
import os
import threading
from typing import Optional

import numpy as np
import tensorflow as tf
from flatbuffers import flexbuffers
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow_serving.apis import get_model_metadata_pb2

from serving.server import batching
from serving.server.servables import base
from vocabulary import signatures

TFLITE_FILE = "model.tflite"
SIGNATURE_DEFS_METADATA = b"signature_defs_metadata"
PREDICT_METHOD = "tensorflow/serving/predict"


def _tensor_name(name: str) -> str:
  return name[:-2] if name.endswith(":0") else name


def _stored_signature_defs(model) -> dict:
  for metadata in model.metadata or []:
    if metadata.name == SIGNATURE_DEFS_METADATA:
      root = flexbuffers.GetRoot(bytes(model.buffers[metadata.buffer].data)).AsMap
      return {key.AsKey: meta_graph_pb2.SignatureDef.FromString(
                  bytes(value.AsBlob) if value.IsBlob else value.AsString.encode("latin-1"))
              for key, value in zip(root.Keys, root.Values)}
  return {}


class TfLiteModel(base.LoadedModel):

  def __init__(self, path: str, batching_options: Optional[batching.BatchingOptions] = None):
    super().__init__(path, batching_options)
    tflite_path = os.path.join(path, TFLITE_FILE)
    with open(tflite_path, "rb") as f:
      model = schema.ModelT.InitFromPackedBuf(f.read(), 0)
    self._interpreter = tf.lite.Interpreter(model_path=tflite_path)
    self._interpreter.allocate_tensors()
    self._run_lock = threading.Lock()  # one interpreter: one call at a time
    details = self._interpreter.get_input_details() + self._interpreter.get_output_details()
    self._index = {d["name"]: d["index"] for d in details}
    signature_defs = _stored_signature_defs(model) or {signatures.SERVING_DEFAULT: self._default_signature()}
    self.signature_def_map = get_model_metadata_pb2.SignatureDefMap()
    for name, signature_def in signature_defs.items():
      self.signature_def_map.signature_def[name].CopyFrom(signature_def)
    self.signatures = base.signatures_of(self.signature_def_map)

  def _default_signature(self) -> meta_graph_pb2.SignatureDef:
    signature_def = meta_graph_pb2.SignatureDef(method_name=PREDICT_METHOD)
    for details, side in ((self._interpreter.get_input_details(), signature_def.inputs),
                          (self._interpreter.get_output_details(), signature_def.outputs)):
      for d in details:
        info = side[d["name"]]
        info.name = f"{d['name']}:0"
        info.dtype = tf.dtypes.as_dtype(d["dtype"]).as_datatype_enum
        for size in d["shape_signature"]:
          info.tensor_shape.dim.add(size=int(size))
    return signature_def

  def run_unbatched(self, signature_name, inputs):
    signature_def = self.signature_def_map.signature_def[signature_name]
    with self._run_lock:
      interpreter = self._interpreter
      resized = False
      for name, value in inputs.items():
        index = self._index[_tensor_name(signature_def.inputs[name].name)]
        if tuple(interpreter.get_tensor(index).shape) != np.shape(value):
          interpreter.resize_tensor_input(index, list(np.shape(value)))
          resized = True
      if resized:
        interpreter.allocate_tensors()
      for name, value in inputs.items():
        interpreter.set_tensor(self._index[_tensor_name(signature_def.inputs[name].name)], value)
      interpreter.invoke()
      return {name: interpreter.get_tensor(self._index[_tensor_name(info.name)]).copy()
              for name, info in signature_def.outputs.items()}

  def _release(self):
    self._interpreter = None
