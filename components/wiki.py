"""WIKI (IMDB-WIKI) metadata: parse `wiki.mat`, apply the original project's filters, frame the face.

Framing: `face_location` is in the pixels of the original photo, not of `wiki_crop`'s images, which are
already the face plus a 40 % margin on each side (the 64x64 copies too). The face is taken as the centre
FACE_FRACTION of the image: on 600 random 64x64 WIKI images of the validation split (598 with a face
found), the crop that serving makes of a face (BlazeFace with a 12 px minimum face, eye alignment:
application/face_alignment.py) is on median the centre 52 % of the image (quartiles 49-56 %; its centre
within 5 % of the middle). Zero-shot, the models shipped before WIKI was trained on gave MAE 6.58 on those
aligned crops, 6.66 / 6.67 / 6.72 / 7.04 on centre 52 / 56 / 60 / 70 % crops and 10.25 on the whole image
(gender 0.967; 0.960-0.968; 0.906): the crop that matches serving's is as good as any, the whole image is
not. `python -m benchmarks.face_framing --wiki` re-measures it (benchmarks/results/wiki_framing.json).
"""
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
FACE_FRACTION = 0.52  # the centre of each wiki_crop image kept as the face (see above)
FIELDS = ("dob", "photo_taken", "full_path", "gender", "face_location", "face_score", "second_face_score")


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


def has_wiki_crop_layout(folder: str) -> bool:
  """Whether a folder is laid out as wiki_crop is: two-digit sub-folders (00-99) of images."""
  try:
    names = os.listdir(folder)
  except OSError:
    return False
  numbered = [n for n in names if len(n) == 2 and n.isdigit() and os.path.isdir(os.path.join(folder, n))]
  return bool(numbered) and len(numbered) * 2 >= len(names)


class MetadataError(ValueError):
  """wiki.mat cannot be used: not a MATLAB file, or a field missing (the message names it)."""


def _load_struct(mat_path: str):
  import scipy.io  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if not tf.io.gfile.exists(mat_path):
    raise MetadataError(f"{mat_path}: no such file")
  try:
    with tf.io.gfile.GFile(mat_path, "rb") as f:
      contents = scipy.io.loadmat(f)
  except (ValueError, TypeError, OSError, tf.errors.OpError) as e:
    raise MetadataError(f"{mat_path}: not a MATLAB file ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from e
  if "wiki" not in contents:
    raise MetadataError(f"{mat_path}: no 'wiki' struct in this MATLAB file")
  struct = contents["wiki"][0, 0]
  missing = [name for name in FIELDS if name not in (struct.dtype.names or ())]
  if missing:
    raise MetadataError(f"{mat_path}: the 'wiki' struct lacks the field {missing[0]!r}")
  return struct


def check_metadata_file(mat_path: str) -> None:
  """Raises MetadataError, naming the file and what is wrong, unless wiki.mat can be read."""
  _load_struct(mat_path)


def read_metadata(mat_path: str, image_root: Optional[str] = None) -> List[WikiRow]:
  """All rows of a wiki.mat file; `image_root` (default: the file's folder) prefixes full_path. Raises
  MetadataError naming the file and what is wrong with it."""
  wiki = _load_struct(mat_path)
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


def labelled_images(image_root: str, mat_path: str) -> List[FaceLabels]:
  """The labels of every row that passes the filters and whose image is in `image_root`."""
  labelled = []
  for row in read_metadata(mat_path, image_root=image_root):
    try:
      labels = to_labels(row)
    except FilteredOut:
      continue
    if os.path.exists(labels.path):
      labelled.append(labels)
  return labelled


def to_labels(row: WikiRow, min_face_score: float = MIN_FACE_SCORE,
              max_age: int = MAX_AGE, face_fraction: float = FACE_FRACTION) -> FaceLabels:
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
                    source=vocabulary.WIKI, centre_crop=face_fraction)
