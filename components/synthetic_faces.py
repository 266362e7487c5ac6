"""Labelled synthetic face images, laid out like UTKFace, for the smoke run and unit tests.

They are drawings, not faces: skin tone follows the race label, hair length the gender, and the
number of wrinkle lines and the grey of the hair the age, so a model can learn something in a few
seconds. They prove the pipeline runs; they say nothing about real-world accuracy.
"""
import os
import random
from typing import List, Tuple

from components import utkface

_SKIN = [(236, 200, 170), (120, 80, 55), (225, 190, 140), (170, 120, 85), (200, 160, 120)]


def draw_face(age: int, gender: int, race: int, size: int, rng: random.Random):
  from PIL import Image, ImageDraw  # pylint: disable=g-import-not-at-top
  background = tuple(rng.randint(40, 220) for _ in range(3))
  image = Image.new("RGB", (size, size), background)
  draw = ImageDraw.Draw(image)
  grey = min(255, 40 + 2 * age)
  hair = (grey, grey, grey) if age > 50 else (60 + rng.randint(0, 40), 40, 20)
  s = size / 100.0
  hair_bottom = 95 if gender == 1 else 45
  draw.rectangle([20 * s, 15 * s, 80 * s, hair_bottom * s], fill=hair)
  jitter = rng.uniform(-3, 3) * s
  draw.ellipse([28 * s + jitter, 22 * s, 72 * s + jitter, 85 * s], fill=_SKIN[race])
  for eye_x in (40, 60):
    draw.ellipse([(eye_x - 3) * s + jitter, 45 * s, (eye_x + 3) * s + jitter, 50 * s], fill=(30, 30, 30))
  draw.line([42 * s + jitter, 70 * s, 58 * s + jitter, 70 * s], fill=(150, 50, 50), width=max(1, int(2 * s)))
  for line in range(min(age // 15, 6)):
    y = (30 + 4 * line) * s
    draw.line([38 * s + jitter, y, 62 * s + jitter, y], fill=(90, 70, 60), width=1)
  return image


def write_dataset(folder: str, count: int = 200, size: int = 96, seed: int = 0,
                  ages: Tuple[int, int] = (1, 110)) -> List[str]:
  """Writes `count` labelled JPEGs named like UTKFace files (ages drawn from `ages`); returns their paths."""
  rng = random.Random(seed)
  os.makedirs(folder, exist_ok=True)
  paths = []
  for i in range(count):
    age, gender, race = rng.randint(*ages), rng.randint(0, 1), rng.randint(0, 4)
    path = os.path.join(folder, utkface.format_file_name(age, gender, race, 20170101000000000 + i))
    draw_face(age, gender, race, size, rng).save(path, format="JPEG", quality=90)
    paths.append(path)
  return paths
