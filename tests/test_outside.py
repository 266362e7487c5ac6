"""The outside validation (benchmarks/outside.py): the shipped models, served by `fdp serve` and asked
through `fdp predict` with face detection, re-compute the recorded All-Age-Faces figures on the fixed
~300-photo subset; and the scoring itself on known records."""
import json

import numpy as np
import pytest

from benchmarks import outside
from tests.conftest import REPO

# Threads and CPU float differences may flip a borderline answer or two: that much slack, no more.
ACCURACY_SLACK, MAE_SLACK = 3 / 300, 0.1


def _face(gender, bucket, age, side=50):
  return {"box": [0, 0, side, side], "gender": gender, "age_bucket": bucket, "age": age}


def test_scoring_takes_the_largest_face_and_counts_a_photo_without_one_as_wrong():
  rows = [{"file": "a.jpg", "age": 30, "gender": 1}, {"file": "b.jpg", "age": 70, "gender": 0},
          {"file": "c.jpg", "age": 5, "gender": 0}]
  records = {"a.jpg": {"faces": [_face("male", "0-24", 10.0, side=20), _face("female", "25-49", 33.0)]},
             "b.jpg": {"faces": [_face("male", "50-74", 64.0)]},
             "c.jpg": {"faces": []}}
  result = outside.score(rows, records)
  assert result["n"] == 3 and result["faces_found"] == 2
  assert result["gender_accuracy"] == pytest.approx(2 / 3)
  assert result["age_bucket_accuracy"] == pytest.approx(2 / 3)
  assert result["age_mae"] == pytest.approx((3 + 6 + abs(5 - 30)) / 3)  # no face: the median age, 30
  assert result["gender_accuracy_18+"] == 1.0
  assert result["slices"]["age=0-9"]["gender_accuracy"] == 0.0


def test_the_subset_is_balanced_and_fixed(aaf_dir):
  rows = outside.read_labels(str(aaf_dir))
  assert len(rows) == 2960
  subset = outside.stratified_subset(rows)
  assert 280 <= len(subset) <= 320
  assert subset == outside.stratified_subset(list(reversed(rows)))
  genders = np.array([r["gender"] for r in subset])
  assert abs(genders.mean() - 0.5) < 0.02


def test_calibration_reads_the_printed_probabilities_and_warnings():
  rows = [{"file": f"{i}.jpg", "age": 30, "gender": g} for i, g in enumerate([0, 1, 0, 0, 1])]
  answers = [("female", 0.9, "25-49", 0.8, []), ("female", 0.6, "25-49", 0.55, ["gender_uncertain"]),
             ("female", 0.95, "0-24", 0.9, []),
             ("male", 0.55, "25-49", 0.3, ["gender_uncertain", "age_bucket_uncertain"])]
  records = {f"{i}.jpg": {"faces": [dict(_face(g, b, 30.0), gender_prob=gp, age_bucket_prob=bp, warnings=w)]}
             for i, (g, gp, b, bp, w) in enumerate(answers)}
  records["4.jpg"] = {"faces": []}
  result = outside.score(rows, records)
  assert result["gender_accuracy"] == pytest.approx(2 / 5)  # rights: 1.jpg (female), 3.jpg (male)
  assert result["age_bucket_accuracy"] == pytest.approx(3 / 5)
  # Over the 4 faces found: gender confidences 0.9 (wrong), 0.6, 0.95 (wrong), 0.55 -> bins 0.5-0.6 (0.55 and
  # 0.6: both right), 0.9-1.0 (both wrong).
  assert result["gender_ece"] == pytest.approx(0.5 * (1 - 0.575) + 0.5 * 0.925)
  gender = result["calibration"]["gender"]
  assert gender["served"] == pytest.approx({"threshold": outside.trust.Trust().min_gender_prob, "unwarned_share": 0.5,
                                            "unwarned_accuracy": 0.0, "warned_share": 0.5, "warned_accuracy": 1.0})
  assert gender["earlier"]["threshold"] == 0.7 and gender["earlier"]["unwarned_share"] == 0.5
  bucket = result["calibration"]["age_bucket"]
  assert bucket["served"]["warned_share"] == 0.25 and bucket["served"]["unwarned_accuracy"] == pytest.approx(2 / 3)
  assert bucket["calibration"]["accuracy"] == 0.75 and bucket["calibration"]["n"] == 4
  table = outside.calibration_table(result)
  assert "**not met**" in table and "| warned faces' accuracy | 1.000 | 1.000 |" in table


@pytest.fixture(scope="module")
def recorded():
  with open(outside.OUT) as f:
    return json.load(f)


def test_the_shipped_models_reproduce_the_recorded_outside_figures(recorded, aaf_dir):
  got = outside.run(str(aaf_dir), str(REPO / "models"), subset=True)
  published = recorded["subset"]
  assert got["n"] == published["n"]
  assert got["faces_found"] == pytest.approx(published["faces_found"], abs=2)
  for metric in ("gender_accuracy", "gender_accuracy_18+", "age_bucket_accuracy"):
    assert got[metric] == pytest.approx(published[metric], abs=ACCURACY_SLACK), metric
  assert got["age_mae"] == pytest.approx(published["age_mae"], abs=MAE_SLACK)

