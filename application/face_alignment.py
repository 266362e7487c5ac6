"""Eye-aligned face crops framed like UTKFace's "Aligned&Cropped" faces.

Each detector places its keypoints a little differently, so each has its own `Framing`, measured by
running it on 200 real UTKFace crops (200x200; `benchmarks/face_framing.py` re-measures them): where the
midpoint of the eyes lies in the crop, and the eye distance and eyes-to-mouth distance as fractions of
the crop (medians, both raised by the same factor so that re-cropping UTKFace's own crops with
`face_scale`, which takes the larger of the two estimates, gives back their size). Only numpy and
Pillow: no TensorFlow here.
"""
import dataclasses
import math
from typing import Tuple

import numpy as np
from PIL import Image

Point = Tuple[float, float]

CROP_SIZE = 200  # UTKFace's crops are 200x200
MAX_WORKING_SIZE = 1024  # rotate at (about) source resolution up to this size, then downscale smoothly
DIRECT_DOWNSCALE = 1.5


@dataclasses.dataclass(frozen=True)
class Landmarks:
  """Keypoints in image pixels; `left_eye` is the eye on the image's left, `mouth` the mouth's centre."""
  left_eye: Point
  right_eye: Point
  nose: Point
  mouth: Point


@dataclasses.dataclass(frozen=True)
class Framing:
  """Where a detector's keypoints fall in UTKFace's crops (fractions of the crop's side)."""
  eyes_center: Point  # x, y of the eyes' midpoint
  eye_distance: float
  eyes_to_mouth: float


# MTCNN on 200 UTKFace crops: medians 0.386 and 0.398 for the two distances, raised by 3.6 %.
MTCNN_FRAMING = Framing(eyes_center=(0.4925, 0.29), eye_distance=0.400, eyes_to_mouth=0.412)


def eye_angle(landmarks: Landmarks) -> float:
  """Degrees the eye line is rotated clockwise on screen (image y points down); 0 = level eyes."""
  (lx, ly), (rx, ry) = landmarks.left_eye, landmarks.right_eye
  return math.degrees(math.atan2(ry - ly, rx - lx))


def eyes_center(landmarks: Landmarks) -> np.ndarray:
  return (np.asarray(landmarks.left_eye) + np.asarray(landmarks.right_eye)) / 2


def face_scale(landmarks: Landmarks, framing: Framing = MTCNN_FRAMING) -> float:
  """The side, in source pixels, of the UTKFace-style square crop around this face.

  The larger of the two estimates (from the eye distance and from the eyes-to-mouth distance) keeps
  the framing stable for faces turned sideways (eyes closer) or tilted up or down (mouth closer)."""
  by_eyes = np.linalg.norm(np.subtract(landmarks.right_eye, landmarks.left_eye)) / framing.eye_distance
  by_mouth = np.linalg.norm(np.asarray(landmarks.mouth) - eyes_center(landmarks)) / framing.eyes_to_mouth
  return float(max(by_eyes, by_mouth))


def align_and_crop(image: Image.Image, landmarks: Landmarks, framing: Framing = MTCNN_FRAMING,
                   size: int = CROP_SIZE) -> Image.Image:
  """The face rotated so that its eyes are level, scaled and cropped to `size` x `size` with UTKFace's
  framing. Parts of the crop outside the photo are black."""
  source_side = face_scale(landmarks, framing)
  # Up to DIRECT_DOWNSCALE, straight to `size` (bilinear barely aliases there, and costs a third of
  # bicubic: 1 ms); beyond, at about source resolution first, then a smooth downscale.
  working_size = size if source_side <= DIRECT_DOWNSCALE * size else int(min(MAX_WORKING_SIZE, round(source_side)))
  pixels_per_source_pixel = working_size / source_side
  angle = math.radians(eye_angle(landmarks))
  cos, sin = math.cos(angle) / pixels_per_source_pixel, math.sin(angle) / pixels_per_source_pixel
  eyes_x, eyes_y = eyes_center(landmarks)
  target_x, target_y = framing.eyes_center[0] * working_size, framing.eyes_center[1] * working_size
  # PIL's affine data maps each output pixel back to the source: source = A @ output + offset.
  inverse = (cos, -sin, eyes_x - cos * target_x + sin * target_y,
             sin, cos, eyes_y - sin * target_x - cos * target_y)
  crop = image.transform((working_size, working_size), Image.Transform.AFFINE, inverse,
                         resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0))
  if working_size != size:
    crop = crop.resize((size, size), Image.Resampling.LANCZOS)
  return crop
