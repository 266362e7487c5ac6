"""Five precise facial keypoints for boxes found by another detector: MTCNN's last network (O-Net, 48x48
input, weights inside the `mtcnn` wheel) run on each face's box.

BlazeFace finds faces fast but places its keypoints only to a few pixels of its coarse view; O-Net, given
a box around a face, places eyes, nose and mouth corners as MTCNN does, the keypoints UTKFace's framing
was measured with. A BlazeFace box becomes the square box O-Net expects (MTCNN's box is centred 7.6 % of
the BlazeFace box higher and 1.12 times its side: medians on 56 UTKFace faces).

    keypoints(photo, boxes) -> [(left_eye, right_eye, nose, mouth_left, mouth_right)], scores
"""
import atexit
import functools
import threading
from typing import Sequence, Tuple

import numpy as np
from PIL import Image

ONET_SIZE = 48
BOX_SHIFT_Y, BOX_SCALE = -0.076, 1.12  # BlazeFace box -> MTCNN's square box (fractions of its side)

_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _onet():
  """O-Net as a traced TensorFlow function (an eager Keras call costs several milliseconds more)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from mtcnn.stages.stage_onet import StageONet  # pylint: disable=g-import-not-at-top
  model = StageONet()._model  # pylint: disable=protected-access
  return tf.function(lambda patches: model(patches, training=False),
                     input_signature=[tf.TensorSpec([None, ONET_SIZE, ONET_SIZE, 3], tf.float32)])


# Drop the traced function while TensorFlow is still whole (at interpreter teardown its __del__ fails).
atexit.register(_onet.cache_clear)


def load() -> None:
  _onet()


def onet_box(box: Tuple[float, float, float, float]) -> Tuple[float, float, float, float]:
  """A BlazeFace box (x0, y0, x1, y1) -> the square box MTCNN's O-Net is trained on."""
  x0, y0, x1, y1 = box
  side = max(x1 - x0, y1 - y0)
  cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + BOX_SHIFT_Y * side
  half = BOX_SCALE * side / 2
  return cx - half, cy - half, cx + half, cy + half


def keypoints(photo: Image.Image, boxes: Sequence[Tuple[float, float, float, float]]):
  """(N, 5, 2) keypoints in photo pixels (eye on the image's left, other eye, nose, mouth corners) and
  O-Net's (N,) face scores, for N BlazeFace boxes."""
  squares = [onet_box(box) for box in boxes]
  patches = np.stack([np.asarray(photo.resize((ONET_SIZE, ONET_SIZE), Image.Resampling.BILINEAR, box=square)
                                 if _inside(square, photo.size) else
                                 photo.crop(tuple(round(v) for v in square)).resize((ONET_SIZE, ONET_SIZE),
                                                                                    Image.Resampling.BILINEAR),
                                 np.float32) for square in squares])
  with _lock:
    _, landmarks, scores = _onet()(((patches - 127.5) / 128.0).astype(np.float32))
  landmarks, scores = np.asarray(landmarks), np.asarray(scores)
  squares = np.asarray(squares)
  sides = (squares[:, 2:] - squares[:, :2])[:, np.newaxis, :]
  points = np.stack([landmarks[:, :5], landmarks[:, 5:]], axis=-1) * sides + squares[:, np.newaxis, :2]
  return points, scores[:, 1]


def _inside(box, size) -> bool:
  return box[0] >= 0 and box[1] >= 0 and box[2] <= size[0] and box[3] <= size[1]
