"""A TF1 SavedModel (a MetaGraph without an object graph), loaded as TF Serving loads every SavedModel: a
session over the MetaGraph, each signature run by feeding and fetching the tensors it names. Shapes are
left to the graph (a [1] tensor for a [-1, 1] input runs, as in TF Serving); dtypes are checked."""
from typing import Dict, Optional, Tuple

import tensorflow as tf
from tensorflow.core.protobuf import config_pb2

from serving.server import batching
from serving.server.servables import base
from serving.server.servables import tf2_saved_model

SERVE_TAG = "serve"  # TF Serving's --saved_model_tags default


class SessionSavedModel(base.LoadedModel):

  def __init__(self, path: str, batching_options: Optional[batching.BatchingOptions] = None, meta_graph=None):
    super().__init__(path, batching_options)
    self._graph = tf.Graph()
    self._session = tf.compat.v1.Session(graph=self._graph)
    try:
      loaded = tf.compat.v1.saved_model.loader.load(self._session, [SERVE_TAG], path)
    except Exception:
      self._session.close()
      raise
    self.signature_def_map = tf2_saved_model.signature_def_map(meta_graph or loaded)
    self.signatures = base.signatures_of(self.signature_def_map)
    self._tensor_names = {name: ({k: v.name for k, v in sig.inputs.items()},
                                 {k: v.name for k, v in sig.outputs.items()})
                          for name, sig in self.signature_def_map.signature_def.items()}
    self._callables: Dict[Tuple, object] = {}

  def _callable(self, signature_name: str, input_names: Tuple[str, ...]):
    key = (signature_name, input_names)
    fn = self._callables.get(key)
    if fn is None:
      feeds, fetches = self._tensor_names[signature_name]
      options = config_pb2.CallableOptions(feed=[feeds[name] for name in input_names],
                                           fetch=list(fetches.values()))
      # A callable feeds the arrays as they are: unlike Session.run it does not hold them to the
      # placeholders' static shapes, so the graph decides, as in TF Serving's C++ session.
      fn = self._callables[key] = self._session._make_callable_from_options(options)  # pylint: disable=protected-access
    return fn

  def run_unbatched(self, signature_name, inputs):
    names = tuple(sorted(inputs))
    values = self._callable(signature_name, names)(*[inputs[name] for name in names])
    return dict(zip(self._tensor_names[signature_name][1], values))

  def _release(self):
    self._callables = {}
    self._session.close()
