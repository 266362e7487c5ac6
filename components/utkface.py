"""UTKFace labels from file names: `age_gender_race_datetime.jpg.chip.jpg`."""
import os
import re
from typing import List

from components.face_records import FaceLabels
import vocabulary

# age, gender (0/1), race (0-4), a capture time (17 digits, a few have 16 or 18), then the
# distributed extension.
_NAME = re.compile(r"^(\d{1,3})_([01])_([0-4])_(\d+)\.jpg\.chip\.jpg$")


class MalformedName(ValueError):
  """A file name that does not follow UTKFace's labelling scheme."""


def parse_file_name(path: str) -> FaceLabels:
  """Labels of one UTKFace image; raises MalformedName with the reason."""
  name = os.path.basename(path)
  match = _NAME.match(name)
  if not match:
    raise MalformedName(f"not age_gender_race_datetime.jpg.chip.jpg: {name}")
  age, gender, race = (int(match.group(i)) for i in (1, 2, 3))
  if age > vocabulary.MAX_AGE:
    raise MalformedName(f"age {age} out of range in {name}")
  return FaceLabels(path=path, age=age, gender=gender, race=race, source=vocabulary.UTKFACE)


def format_file_name(age: int, gender: int, race: int, stamp: int) -> str:
  """The UTKFace file name for labels (used to lay out synthetic data the same way)."""
  return f"{age}_{gender}_{race}_{stamp:017d}.jpg.chip.jpg"


def list_images(folder: str) -> List[str]:
  """Every file in a UTKFace folder (malformed names included: they are reported, not hidden)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return sorted(p for p in tf.io.gfile.glob(os.path.join(folder, "*")) if not tf.io.gfile.isdir(p))
