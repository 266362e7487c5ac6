"""The two face detectors, behind one interface: `DETECTORS[name].locate(photo, min_face_size, min_confidence)`
-> [Detection], boxes and keypoints in the photo's pixels, most confident first.

- "blazeface" (default): MediaPipe's short-range BlazeFace on TFLite over an image pyramid
  (application/blazeface.py) finds the faces, MTCNN's O-Net places five keypoints in each face's box
  (application/onet_keypoints.py): a few to a few tens of milliseconds per photo.
- "mtcnn": the `mtcnn` package (P/R/O-Net), about ten times slower; kept for comparison.

Each detector's box is its own: BlazeFace's is square, about as wide as MTCNN's and 0.9 of its height
(MTCNN's is about 1.12 times its side, measured on 56 UTKFace faces). BlazeFace's default minimum face
is 40 px (a 1280 px photo is then searched at half its size); MTCNN's stays 20 px. In a small photo (a
thumbnail, a 64x64 face crop) the face itself is small, so there the default minimum face is a quarter of
the photo's shorter side instead, never under 12 px (`Detector.default_min_face_size`; photos whose shorter
side is 160 px or more keep 40 px).
Both load on first use (TensorFlow), once per process (BlazeFace: a pool of interpreters, one per input
size and thread at work).
"""
import dataclasses
import functools
import threading
from typing import Callable, List, NamedTuple, Tuple

import numpy as np
from PIL import Image

from application import blazeface
from application import face_alignment
from application import onet_keypoints

MAX_DETECTION_SIDE = 1280  # larger photos are searched at this size; crops come from the full photo
# MTCNN's own min_face_size stays within these bounds: below 12 P-Net sees nothing, and mtcnn 1.0.0 sizes
# its image pyramid for 20, so above 20 the last levels shrink below 12 pixels and it finds no face at all.
# Larger minimum face sizes downscale the searched photo instead (which is also faster).
MTCNN_FACE_SIZE_RANGE = (12, 20)

# A BlazeFace face is kept when O-Net also finds a face in its box. On 298 real faces (AAF photos,
# composites of UTKFace faces) and 109 false detections (scikit-image photos without faces, upscaled):
# BlazeFace >= 0.6 alone kept all faces and 6 false ones; with O-Net >= 0.5, all faces and 2 false ones.
ONET_MIN_SCORE = 0.5

# The default minimum face in a small photo: at most this fraction of its shorter side, never under
# SMALLEST_MIN_FACE pixels. On 1,000 random WIKI 64x64 face crops of the validation split (boxes 26-36 px)
# BlazeFace found 2 faces at 40 px and 986 at a quarter of the side (16 px); on 600 face-free small photos
# (crops of scikit-image's photos, 32-160 px) a quarter found none, as 40 px did, where 0.2 and 0.15 found
# one (benchmarks/small_faces.py, benchmarks/results/small_faces.json).
SMALL_PHOTO_FACE_FRACTION = 0.25
SMALLEST_MIN_FACE = 12

_mtcnn_lock = threading.Lock()


class Detection(NamedTuple):
  box: Tuple[int, int, int, int]  # x, y, width, height
  score: float
  landmarks: face_alignment.Landmarks


@dataclasses.dataclass(frozen=True)
class Detector:
  name: str
  locate: Callable[[Image.Image, float, float], List[Detection]]
  load: Callable[[], object]  # loads the model now (otherwise the first photo does)
  min_face_size: int  # default, in pixels of the photo (the side of this detector's box)
  min_confidence: float  # default
  framing: face_alignment.Framing

  def default_min_face_size(self, photo_size: Tuple[int, int], fraction: float = SMALL_PHOTO_FACE_FRACTION) -> float:
    """The minimum face looked for when none is asked for, in a photo of `photo_size` (width, height):
    this detector's default, or `fraction` of the photo's shorter side when that is less (a small photo
    is a small face), never under SMALLEST_MIN_FACE."""
    return min(self.min_face_size, max(SMALLEST_MIN_FACE, fraction * min(photo_size)))


def _box(x0: float, y0: float, width: float, height: float) -> Tuple[int, int, int, int]:
  return round(x0), round(y0), round(width), round(height)


def locate_blazeface(photo: Image.Image, min_face_size: float, min_confidence: float) -> List[Detection]:
  """BlazeFace's boxes and scores, with the keypoints of MTCNN's O-Net on each box (application/onet_keypoints.py)."""
  faces = blazeface.detect(photo, min_face_size, min_confidence, max_side=MAX_DETECTION_SIDE)
  if not faces:
    return []
  points, onet_scores = onet_keypoints.keypoints(photo, [face.box for face in faces])
  detections = []
  for face, (left_eye, right_eye, nose, mouth_left, mouth_right), onet_score in zip(faces, points, onet_scores):
    if onet_score < ONET_MIN_SCORE:  # O-Net, looking closer, sees no face there
      continue
    x0, y0, x1, y1 = face.box
    landmarks = face_alignment.Landmarks(tuple(left_eye), tuple(right_eye), tuple(nose),
                                         tuple((mouth_left + mouth_right) / 2))
    detections.append(Detection(_box(x0, y0, x1 - x0, y1 - y0), face.score, landmarks))
  return detections


def load_blazeface() -> None:
  blazeface.load()
  onet_keypoints.load()


@functools.lru_cache(maxsize=1)
def load_mtcnn():
  """MTCNN, loaded once per process (the first call imports TensorFlow)."""
  from mtcnn import MTCNN  # pylint: disable=g-import-not-at-top  (TensorFlow: load on first use)
  return MTCNN(stages="face_and_landmarks_detection", device="CPU:0")


def locate_mtcnn(photo: Image.Image, min_face_size: float, min_confidence: float) -> List[Detection]:
  smallest, largest = MTCNN_FACE_SIZE_RANGE
  scale = min(1.0, MAX_DETECTION_SIDE / max(photo.size), largest / max(1, min_face_size))
  searched = photo if scale == 1.0 else photo.resize(
      (max(1, round(photo.width * scale)), max(1, round(photo.height * scale))), Image.Resampling.LANCZOS)
  with _mtcnn_lock:
    found = load_mtcnn().detect_faces(
        np.asarray(searched), min_face_size=int(np.clip(round(min_face_size * scale), smallest, largest)),
        threshold_onet=min(min_confidence, 0.8))
  detections = []
  for item in found:
    x, y, width, height = (value / scale for value in item["box"])
    if item["confidence"] < min_confidence or min(width, height) < min_face_size:
      continue
    points = {name: np.asarray(point) / scale for name, point in item["keypoints"].items()}
    landmarks = face_alignment.Landmarks(
        left_eye=tuple(points["left_eye"]), right_eye=tuple(points["right_eye"]), nose=tuple(points["nose"]),
        mouth=tuple((points["mouth_left"] + points["mouth_right"]) / 2))
    detections.append(Detection(_box(x, y, width, height), float(item["confidence"]), landmarks))
  return sorted(detections, key=lambda detection: -detection.score)


BLAZEFACE = Detector("blazeface", locate_blazeface, load_blazeface, min_face_size=40, min_confidence=0.6,
                     framing=face_alignment.Framing(eyes_center=(0.4955, 0.2888), eye_distance=0.4056,
                                                    eyes_to_mouth=0.4151))
MTCNN = Detector("mtcnn", locate_mtcnn, load_mtcnn, min_face_size=20, min_confidence=0.9,
                 framing=face_alignment.MTCNN_FRAMING)
DETECTORS = {detector.name: detector for detector in (BLAZEFACE, MTCNN)}
DEFAULT = BLAZEFACE.name
