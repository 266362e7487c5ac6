"""WIKI (IMDB-WIKI) metadata: parse `wiki.mat`, apply the original project's filters, locate the face."""
import dataclasses
import datetime
import math
import os
from typing import List, Optional, Tuple

from components.face_records import FaceLabels
import vocabulary

METADATA_FILE = "wiki.mat"
# The original project's filters.
MIN_FACE_SCORE = 1.75
MAX_AGE = 100
CROP_MARGIN = 0.4  # fraction of the face box added on each side


@dataclasses.dataclass(frozen=True)
class WikiRow:
  """One row of wiki.mat, as stored (gender: 1 male, 0 female, NaN unknown)."""
  path: str  # full_path joined to the image folder
  dob: float  # MATLAB datenum
  photo_taken: int
  gender: float
  face_location: Tuple[float, float, float, float]
  face_score: float
  second_face_score: float


class FilteredOut(ValueError):
  """A row the filters drop; `category` names the filter."""

  def __init__(self, category: str, detail: str):
    super().__init__(detail)
    self.category = category


def birth_year(datenum: float) -> int:
  """MATLAB datenum (day 1 = 1 Jan of year 0000) to the calendar year of birth."""
  ordinal = int(datenum) - 366  # MATLAB counts year 0 (a leap year); Python's ordinal 1 is 1 Jan 0001
  if ordinal < 1:
    raise FilteredOut("bad_birth_date", f"datenum {datenum} is before year 1")
  return datetime.date.fromordinal(ordinal).year


def age_at_photo(row: WikiRow) -> int:
  return int(row.photo_taken) - birth_year(row.dob)


def read_metadata(mat_path: str, image_root: Optional[str] = None) -> List[WikiRow]:
  """All rows of a wiki.mat file; `image_root` (default: the file's folder) prefixes full_path."""
  import scipy.io  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  with tf.io.gfile.GFile(mat_path, "rb") as f:
    wiki = scipy.io.loadmat(f)["wiki"][0, 0]
  root = image_root if image_root is not None else os.path.dirname(mat_path)
  column = lambda name: wiki[name][0]  # pylint: disable=unnecessary-lambda-assignment
  rows = []
  for dob, taken, full_path, gender, location, score, second in zip(
      column("dob"), column("photo_taken"), column("full_path"), column("gender"),
      column("face_location"), column("face_score"), column("second_face_score")):
    rows.append(WikiRow(
        path=os.path.join(root, str(full_path[0])), dob=float(dob), photo_taken=int(taken),
        gender=float(gender), face_location=tuple(float(v) for v in location.ravel()[:4]),
        face_score=float(score), second_face_score=float(second)))
  return rows


def to_labels(row: WikiRow, min_face_score: float = MIN_FACE_SCORE,
              max_age: int = MAX_AGE, margin: float = CROP_MARGIN) -> FaceLabels:
  """Labels for a row that passes the filters; raises FilteredOut naming the first failing filter."""
  if not math.isfinite(row.face_score):
    raise FilteredOut("no_face", f"face_score {row.face_score}")
  if row.face_score < min_face_score:
    raise FilteredOut("low_face_score", f"face_score {row.face_score:.2f} < {min_face_score}")
  if not math.isnan(row.second_face_score):
    raise FilteredOut("second_face", f"second_face_score {row.second_face_score:.2f}")
  age = age_at_photo(row)
  if not 0 < age <= max_age:
    raise FilteredOut("age_out_of_range", f"age {age}")
  if math.isnan(row.gender):
    raise FilteredOut("unknown_gender", "gender is NaN")
  return FaceLabels(path=row.path, age=age, gender=1 - int(row.gender), race=None,
                    source=vocabulary.WIKI, face_box=row.face_location, crop_margin=margin)
