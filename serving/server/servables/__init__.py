"""Loading one version folder in the format it holds, as TF Serving does: a TF2 SavedModel through
tf.saved_model.load, a TF1 SavedModel through a session over its MetaGraph, a `model.tflite` through the
TF Lite interpreter when --prefer_tflite_model asks for it (or it is all the folder holds)."""
import os
from typing import Optional

from serving.server import batching
from serving.server.servables import base
from serving.server.servables import tf1_session
from serving.server.servables import tf2_saved_model
from serving.server.servables import tflite

LoadedModel = base.LoadedModel
SAVED_MODEL_FILE = tf2_saved_model.SAVED_MODEL_FILE
TFLITE_FILE = tflite.TFLITE_FILE


def is_version(path: str) -> bool:
  """Whether a numbered folder is a version to load: anything in it (TF Serving tries every numbered
  folder; one that holds no model fails to load, with the reason, and is tried again when it changes)."""
  try:
    with os.scandir(path) as entries:
      return any(True for _ in entries)
  except OSError:
    return False


def load(path: str, batching_options: Optional[batching.BatchingOptions] = None,
         prefer_tflite: bool = False, warm_up: bool = True) -> base.LoadedModel:
  if prefer_tflite and os.path.isfile(os.path.join(path, TFLITE_FILE)):
    model = tflite.TfLiteModel(path, batching_options)
  else:
    if not os.path.isfile(os.path.join(path, SAVED_MODEL_FILE)):
      raise FileNotFoundError(f"{path} holds no {SAVED_MODEL_FILE}"
                              + (f" ({TFLITE_FILE} is served with --prefer_tflite_model)"
                                 if os.path.isfile(os.path.join(path, TFLITE_FILE)) else ""))
    meta_graph = tf2_saved_model.read_meta_graph(path)
    kind = tf2_saved_model.Tf2SavedModel if meta_graph.object_graph_def.nodes else tf1_session.SessionSavedModel
    model = kind(path, batching_options, meta_graph=meta_graph)
  if warm_up:
    try:
      model.warm_up()
    except Exception:
      model.close()
      raise
  return model


def loader(batching_options: Optional[batching.BatchingOptions] = None, prefer_tflite: bool = False):
  """path -> a loaded, warmed-up version (the registry's loader)."""
  return lambda path: load(path, batching_options, prefer_tflite)
