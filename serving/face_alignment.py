"""Eye-aligned face crops framed like UTKFace's "Aligned&Cropped" faces.

The framing constants were measured by running MTCNN on 200 real UTKFace crops (200x200): the midpoint
of the eyes lies at (0.49, 0.29) of the crop (medians). The two scale fractions (medians 0.386 and 0.398)
are raised by 3.6 % so that re-cropping UTKFace's own crops with `face_scale`, which takes the larger of
two estimates, gives back their size (median). Only numpy and Pillow: no TensorFlow here.
"""
import dataclasses
import math
from typing import Tuple

import numpy as np
from PIL import Image

Point = Tuple[float, float]

CROP_SIZE = 200  # UTKFace's crops are 200x200
EYES_CENTER_IN_CROP = (0.4925, 0.29)  # fraction of the crop width/height
EYE_DISTANCE_IN_CROP = 0.400  # fraction of the crop width
EYES_TO_MOUTH_IN_CROP = 0.412  # fraction of the crop height
MAX_WORKING_SIZE = 1024  # rotate at (about) source resolution up to this size, then downscale smoothly


@dataclasses.dataclass(frozen=True)
class Landmarks:
  """MTCNN's five keypoints in image pixels; `left_eye` is the eye on the image's left."""
  left_eye: Point
  right_eye: Point
  nose: Point
  mouth_left: Point
  mouth_right: Point


def eye_angle(landmarks: Landmarks) -> float:
  """Degrees the eye line is rotated clockwise on screen (image y points down); 0 = level eyes."""
  (lx, ly), (rx, ry) = landmarks.left_eye, landmarks.right_eye
  return math.degrees(math.atan2(ry - ly, rx - lx))


def face_scale(landmarks: Landmarks) -> float:
  """The side, in source pixels, of the UTKFace-style square crop around this face.

  The larger of the two estimates (from the eye distance and from the eyes-to-mouth distance) keeps
  the framing stable for faces turned sideways (eyes closer) or tilted up or down (mouth closer)."""
  eyes = np.asarray(landmarks.left_eye), np.asarray(landmarks.right_eye)
  eyes_center = (eyes[0] + eyes[1]) / 2
  mouth_center = (np.asarray(landmarks.mouth_left) + np.asarray(landmarks.mouth_right)) / 2
  by_eyes = np.linalg.norm(eyes[1] - eyes[0]) / EYE_DISTANCE_IN_CROP
  by_mouth = np.linalg.norm(mouth_center - eyes_center) / EYES_TO_MOUTH_IN_CROP
  return float(max(by_eyes, by_mouth))


def align_and_crop(image: Image.Image, landmarks: Landmarks, size: int = CROP_SIZE) -> Image.Image:
  """The face rotated so that its eyes are level, scaled and cropped to `size` x `size` with UTKFace's
  framing. Parts of the crop outside the photo are black."""
  source_side = face_scale(landmarks)
  working_size = int(min(MAX_WORKING_SIZE, max(size, round(source_side))))
  pixels_per_source_pixel = working_size / source_side
  angle = math.radians(eye_angle(landmarks))
  cos, sin = math.cos(angle) / pixels_per_source_pixel, math.sin(angle) / pixels_per_source_pixel
  eyes_x = (landmarks.left_eye[0] + landmarks.right_eye[0]) / 2
  eyes_y = (landmarks.left_eye[1] + landmarks.right_eye[1]) / 2
  target_x, target_y = EYES_CENTER_IN_CROP[0] * working_size, EYES_CENTER_IN_CROP[1] * working_size
  # PIL's affine data maps each output pixel back to the source: source = A @ output + offset.
  inverse = (cos, -sin, eyes_x - cos * target_x + sin * target_y,
             sin, cos, eyes_y - sin * target_x - cos * target_y)
  crop = image.transform((working_size, working_size), Image.Transform.AFFINE, inverse,
                         resample=Image.Resampling.BICUBIC, fillcolor=(0, 0, 0))
  if working_size != size:
    crop = crop.resize((size, size), Image.Resampling.LANCZOS)
  return crop
