"""Find every face in a photo with MTCNN and turn each into a UTKFace-style crop for the models.

    faces = detect_faces(photo_bytes)          # [] when no face is found
    for face in faces: face.box, face.score, face.crop_jpeg

A `Face` unpacks as `(box, score, crop_jpeg)`, the shape `fdp predict` and the web page expect from a
detector. MTCNN (and with it TensorFlow) is loaded on the first call, once per process.
"""
import functools
import io
import threading
from typing import List, NamedTuple, Tuple

import numpy as np
from PIL import Image, ImageOps

from serving import face_alignment

DEFAULT_MIN_FACE_SIZE = 20  # pixels of the photo, the side of MTCNN's box
DEFAULT_MIN_CONFIDENCE = 0.9
MAX_DETECTION_SIDE = 1280  # larger photos are searched at this size; crops come from the full photo
MAX_PIXELS = 50_000_000  # refuse larger photos (decompression bombs)
# MTCNN's own min_face_size stays within these bounds: below 12 P-Net sees nothing, and mtcnn 1.0.0 sizes
# its image pyramid for 20, so above 20 the last levels shrink below 12 pixels and it finds no face at all.
# Larger minimum face sizes downscale the searched photo instead (which is also faster).
MTCNN_FACE_SIZE_RANGE = (12, 20)
JPEG_QUALITY = 95

_detector_lock = threading.Lock()


class UnreadableImageError(ValueError):
  """The bytes are not an image Pillow can decode (not an image, corrupt, truncated or too large)."""


class Face(NamedTuple):
  box: Tuple[int, int, int, int]  # x, y, width, height in pixels of the (EXIF-rotated) photo
  score: float  # MTCNN's confidence
  crop_jpeg: bytes  # the aligned UTKFace-style crop, JPEG


class Detection(NamedTuple):
  box: Tuple[int, int, int, int]
  score: float
  landmarks: face_alignment.Landmarks


def decode_photo(image_bytes: bytes) -> Image.Image:
  """Encoded image bytes -> RGB Pillow image, upright according to its EXIF orientation."""
  try:
    with Image.open(io.BytesIO(image_bytes)) as image:
      if image.width * image.height > MAX_PIXELS:
        raise UnreadableImageError(f"the image is too large ({image.width}x{image.height} pixels)")
      image.load()
      return ImageOps.exif_transpose(image).convert("RGB")
  except UnreadableImageError:
    raise
  except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
    raise UnreadableImageError(f"not a readable image: {error}") from error


@functools.lru_cache(maxsize=1)
def load_detector():
  """MTCNN, loaded once per process (the first call imports TensorFlow)."""
  from mtcnn import MTCNN  # pylint: disable=g-import-not-at-top  (TensorFlow: load on first use)
  return MTCNN(stages="face_and_landmarks_detection", device="CPU:0")


def locate_faces(photo: Image.Image, min_face_size: int = DEFAULT_MIN_FACE_SIZE,
                 min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> List[Detection]:
  """MTCNN's boxes, scores and landmarks in photo pixels, most confident first."""
  smallest, largest = MTCNN_FACE_SIZE_RANGE
  scale = min(1.0, MAX_DETECTION_SIDE / max(photo.size), largest / max(1, min_face_size))
  searched = photo if scale == 1.0 else photo.resize(
      (max(1, round(photo.width * scale)), max(1, round(photo.height * scale))), Image.Resampling.LANCZOS)
  with _detector_lock:
    found = load_detector().detect_faces(
        np.asarray(searched), min_face_size=int(np.clip(round(min_face_size * scale), smallest, largest)),
        threshold_onet=min(min_confidence, 0.8))
  detections = []
  for item in found:
    x, y, width, height = (value / scale for value in item["box"])
    if item["confidence"] < min_confidence or min(width, height) < min_face_size:
      continue
    points = {name: (px / scale, py / scale) for name, (px, py) in item["keypoints"].items()}
    detections.append(Detection(box=(round(x), round(y), round(width), round(height)),
                                score=float(item["confidence"]), landmarks=face_alignment.Landmarks(**points)))
  return sorted(detections, key=lambda detection: -detection.score)


def encode_jpeg(image: Image.Image) -> bytes:
  buffer = io.BytesIO()
  image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
  return buffer.getvalue()


def crop_faces(photo: Image.Image, detections: List[Detection]) -> List[Face]:
  """Each detection with its aligned, UTKFace-framed crop as JPEG."""
  return [Face(box=detection.box, score=detection.score,
               crop_jpeg=encode_jpeg(face_alignment.align_and_crop(photo, detection.landmarks)))
          for detection in detections]


def detect_faces(image_bytes: bytes, min_face_size: int = DEFAULT_MIN_FACE_SIZE,
                 min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> List[Face]:
  """Every face in the photo (most confident first) with its aligned crop; [] = no face found.

  Raises UnreadableImageError when the bytes cannot be decoded as an image."""
  photo = decode_photo(image_bytes)
  return crop_faces(photo, locate_faces(photo, min_face_size, min_confidence))
