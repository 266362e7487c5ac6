"""Measure a detector's `Framing` (application/face_alignment.py) on real UTKFace crops (200x200).

For each crop, the detector's keypoints give the eyes' midpoint and the eye and eyes-to-mouth distances
as fractions of the crop; the medians, with both distances raised by the factor that makes the median of
`face_scale` (the larger of its two estimates) 200 pixels again, are the framing that reproduces
UTKFace's crops.

  .venv/bin/python -m benchmarks.face_framing [--detector blazeface|mtcnn] [--count 200]
"""
import argparse
import os
import sys

import numpy as np

from vocabulary import settings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure(utkface_dir: str, detector: str, count: int):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from application import face_alignment  # pylint: disable=g-import-not-at-top
  from application import face_detection  # pylint: disable=g-import-not-at-top
  names = sorted(os.listdir(utkface_dir))
  centres, eyes, mouths = [], [], []
  for name in names[::max(1, len(names) // count)][:count]:
    crop = Image.open(os.path.join(utkface_dir, name)).convert("RGB")
    found = face_detection.locate_faces(crop, detector=detector)
    if len(found) != 1:
      continue
    points = found[0].landmarks
    centre = face_alignment.eyes_center(points)
    centres.append(centre / np.array(crop.size))
    eyes.append(np.linalg.norm(np.subtract(points.right_eye, points.left_eye)) / crop.width)
    mouths.append(np.linalg.norm(np.asarray(points.mouth) - centre) / crop.height)
  eye_distance, eyes_to_mouth = float(np.median(eyes)), float(np.median(mouths))
  raise_by = float(np.median(np.maximum(np.array(eyes) / eye_distance, np.array(mouths) / eyes_to_mouth)))
  x, y = np.median(centres, axis=0)
  return len(centres), face_alignment.Framing(eyes_center=(round(float(x), 4), round(float(y), 4)),
                                              eye_distance=round(eye_distance * raise_by, 4),
                                              eyes_to_mouth=round(eyes_to_mouth * raise_by, 4))


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--detector", default="blazeface")
  parser.add_argument("--utkface", default=str(settings.utkface_dir()))
  parser.add_argument("--count", type=int, default=200)
  args = parser.parse_args()
  used, framing = measure(args.utkface, args.detector, args.count)
  print(f"{args.detector}: {used} of {args.count} crops with one face: {framing}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
