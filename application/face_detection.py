"""Find every face in a photo and turn each into a UTKFace-style crop for the models.

    faces = detect_faces(photo_bytes)          # [] when no face is found
    for face in faces: face.box, face.score, face.crop_jpeg

A `Face` unpacks as `(box, score, crop_jpeg)`, the shape `fdp predict` and the web page expect from a
detector. The detector is BlazeFace by default, MTCNN with `detector="mtcnn"` (application/detectors.py);
either loads on its first call, once per process.
"""
import io
from typing import List, NamedTuple, Optional, Tuple

from PIL import Image, ImageOps, UnidentifiedImageError

from application import detectors
from application import face_alignment
from application import pixels
from vocabulary.image_formats import MAX_PIXELS

DEFAULT_DETECTOR = detectors.DEFAULT
DETECTOR_CHOICES = tuple(detectors.DETECTORS)
DEFAULT_MIN_FACE_SIZE = detectors.DETECTORS[DEFAULT_DETECTOR].min_face_size
DEFAULT_MIN_CONFIDENCE = detectors.DETECTORS[DEFAULT_DETECTOR].min_confidence
JPEG_QUALITY = 95
ORIENTATION_TAG = 0x0112  # EXIF orientation: 1 = upright
Detection = detectors.Detection


class UnreadableImageError(ValueError):
  """The bytes are not an image Pillow can decode (not an image, corrupt, truncated or too large)."""


class Face(NamedTuple):
  box: Tuple[int, int, int, int]  # x, y, width, height in pixels of the (EXIF-rotated) photo
  score: float  # the detector's confidence
  crop_jpeg: bytes  # the aligned UTKFace-style crop, JPEG


def decode_photo(image_bytes: bytes) -> Image.Image:
  """Encoded image bytes -> RGB Pillow image, upright according to its EXIF orientation."""
  try:
    with Image.open(io.BytesIO(image_bytes)) as image:
      if image.width * image.height > MAX_PIXELS:
        raise UnreadableImageError(f"the image is too large ({image.width}x{image.height} pixels)")
      image.load()
      if image.getexif().get(ORIENTATION_TAG, 1) != 1:
        image = ImageOps.exif_transpose(image)
      return pixels.as_rgb(image)
  except UnreadableImageError:
    raise
  except UnidentifiedImageError:
    raise UnreadableImageError("not a readable image: unknown image format") from None
  except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
    raise UnreadableImageError(f"not a readable image: {error}") from error


def load_detector(detector: str = DEFAULT_DETECTOR) -> None:
  """Loads the detector's model now (otherwise the first photo does)."""
  detectors.DETECTORS[detector].load()


def locate_faces(photo: Image.Image, min_face_size: Optional[float] = None, min_confidence: Optional[float] = None,
                 detector: str = DEFAULT_DETECTOR) -> List[Detection]:
  """The detector's boxes, scores and landmarks in photo pixels, most confident first. Unset thresholds
  are the detector's defaults (the minimum face size as the photo's size makes it: the one place that
  decides it for `fdp predict`, `fdp batch-predict` and the web page)."""
  spec = detectors.DETECTORS[detector]
  return spec.locate(photo, spec.default_min_face_size(photo.size) if min_face_size is None else min_face_size,
                     spec.min_confidence if min_confidence is None else min_confidence)


def encode_jpeg(image: Image.Image) -> bytes:
  buffer = io.BytesIO()
  image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
  return buffer.getvalue()


def crop_faces(photo: Image.Image, detections: List[Detection], detector: str = DEFAULT_DETECTOR) -> List[Face]:
  """Each detection with its aligned, UTKFace-framed crop as JPEG."""
  framing = detectors.DETECTORS[detector].framing
  return [Face(box=detection.box, score=detection.score,
               crop_jpeg=encode_jpeg(face_alignment.align_and_crop(photo, detection.landmarks, framing)))
          for detection in detections]


def detect_faces(image_bytes: bytes, min_face_size: Optional[float] = None, min_confidence: Optional[float] = None,
                 detector: str = DEFAULT_DETECTOR) -> List[Face]:
  """Every face in the photo (most confident first) with its aligned crop; [] = no face found.

  Raises UnreadableImageError when the bytes cannot be decoded as an image."""
  photo = decode_photo(image_bytes)
  return crop_faces(photo, locate_faces(photo, min_face_size, min_confidence, detector), detector)
