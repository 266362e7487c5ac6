"""wiki.mat parsing and the WIKI filters, on the real metadata file."""
import collections
import math

import numpy as np
import pytest
import scipy.io

from components import wiki


def test_matlab_datenum_to_birth_year():
  # full_path 17/10000217_1981-05-05_2009.jpg has dob 723671 in wiki.mat
  assert wiki.birth_year(723671) == 1981
  assert wiki.birth_year(367) == 1  # MATLAB's 1 Jan 0001
  with pytest.raises(wiki.FilteredOut):
    wiki.birth_year(100)


def _row(**overrides):
  base = dict(path="x/1.jpg", dob=723671.0, photo_taken=2009, gender=1.0,
              face_location=(10.0, 10.0, 50.0, 50.0), face_score=3.0, second_face_score=math.nan)
  base.update(overrides)
  return wiki.WikiRow(**base)


@pytest.mark.parametrize("overrides,category", [
    (dict(face_score=-math.inf), "no_face"),
    (dict(face_score=1.0), "low_face_score"),
    (dict(second_face_score=2.5), "second_face"),
    (dict(photo_taken=1900), "age_out_of_range"),
    (dict(photo_taken=2200), "age_out_of_range"),
    (dict(gender=math.nan), "unknown_gender"),
])
def test_filters_name_their_reason(overrides, category):
  with pytest.raises(wiki.FilteredOut) as e:
    wiki.to_labels(_row(**overrides))
  assert e.value.category == category


def test_kept_row_labels():
  labels = wiki.to_labels(_row())
  assert (labels.age, labels.gender, labels.race, labels.source) == (28, 0, None, "wiki")  # WIKI 1 = male
  assert labels.centre_crop == wiki.FACE_FRACTION


def test_a_file_that_is_no_wiki_mat_is_named(tmp_path):
  not_matlab = tmp_path / "wiki.mat"
  not_matlab.write_text("this is not a MATLAB file")
  with pytest.raises(wiki.MetadataError, match=r"wiki.mat: not a MATLAB file"):
    wiki.read_metadata(str(not_matlab))
  other = tmp_path / "other.mat"
  scipy.io.savemat(str(other), {"imdb": np.zeros(3)})
  with pytest.raises(wiki.MetadataError, match=r"no 'wiki' struct"):
    wiki.read_metadata(str(other))
  lacking = tmp_path / "lacking.mat"
  fields = {name: np.zeros((1, 2)) for name in wiki.FIELDS if name != "face_score"}
  scipy.io.savemat(str(lacking), {"wiki": fields})
  with pytest.raises(wiki.MetadataError, match=r"lacks the field 'face_score'"):
    wiki.read_metadata(str(lacking))


def test_real_wiki_mat_counts(wiki_mat):
  rows = wiki.read_metadata(str(wiki_mat))
  assert len(rows) == 62328
  assert rows[0].path.endswith("17/10000217_1981-05-05_2009.jpg")
  counts = collections.Counter()
  for row in rows:
    try:
      wiki.to_labels(row)
      counts["kept"] += 1
    except wiki.FilteredOut as e:
      counts[e.category] += 1
  assert counts == {"kept": 33550, "no_face": 18016, "low_face_score": 6314, "second_face": 3759,
                    "unknown_gender": 650, "age_out_of_range": 39}

  # The same filters, computed independently with vectorised numpy on the raw arrays.
  raw = scipy.io.loadmat(str(wiki_mat))["wiki"][0, 0]
  dob, taken = raw["dob"][0].astype(np.int64), raw["photo_taken"][0].astype(np.int64)
  score, second, gender = raw["face_score"][0], raw["second_face_score"][0], raw["gender"][0]
  years = np.array([wiki.birth_year(d) if d > 366 else -10**6 for d in dob])
  age = taken - years
  keep = np.isfinite(score) & (score >= 1.75) & np.isnan(second) & (age > 0) & (age <= 100) & ~np.isnan(gender)
  assert int(keep.sum()) == counts["kept"]
