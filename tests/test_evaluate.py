"""`fdp evaluate`'s pieces: the metrics and slices (pipeline/metrics.py, which the benchmarks share) on known
arrays, the split read the pipeline's way, and clear errors. (The shipped models' figures are re-computed in
test_shipped_models.py.)"""
import subprocess
import sys

import numpy as np
import pytest

from pipeline import evaluate
from pipeline import metrics
from tests.conftest import REPO
from vocabulary import layout
import vocabulary


def _labels(ages, genders, races):
  return {vocabulary.AGE_KEY: np.array(ages), vocabulary.GENDER_KEY: np.array(genders), vocabulary.RACE_KEY: np.array(races)}


def test_classifier_and_regressor_metrics_on_known_predictions():
  labels = _labels([10, 30, 60, 110], [0, 1, 1, 0], [0, 1, 2, -1])
  classifier = {vocabulary.GENDER_KEY: np.array([[0.1], [0.9], [0.2], [0.4]]),
                vocabulary.AGE_BUCKET_KEY: np.eye(5)[[0, 1, 1, 4]]}
  assert metrics.metrics(vocabulary.CLASSIFIER, classifier, labels) == {
      "gender_accuracy": 0.75, "age_bucket_accuracy": 0.75}
  regressor = {vocabulary.AGE_KEY: np.array([[12.0], [30.0], [50.0], [100.0]])}
  assert metrics.metrics(vocabulary.REGRESSOR, regressor, labels) == {"age_mae": pytest.approx(5.5)}
  one_pass = dict(classifier, **regressor)  # a classifier that exports its own age too
  assert metrics.metrics(vocabulary.CLASSIFIER, one_pass, labels) == {
      "gender_accuracy": 0.75, "age_bucket_accuracy": 0.75, "age_mae": pytest.approx(5.5)}


def test_a_photo_without_a_face_is_wrong_and_guessed_at_the_median_age():
  predictions = {vocabulary.GENDER_KEY: np.array([[0.9], [0.1], [0.9], [0.9]]),
                 vocabulary.AGE_BUCKET_KEY: np.eye(5)[[1, 0, 2, 2]],
                 vocabulary.AGE_KEY: np.array([[33.0], [5.0], [64.0], [99.0]])}
  got = metrics.face_metrics(predictions, ages=[30, 4, 70, 50], genders=[1, 0, 1, 1], found=[True, True, True, False])
  assert got["n"] == 4 and got["faces_found"] == 3
  assert got["gender_accuracy"] == 0.75 and got["gender_accuracy_18+"] == pytest.approx(2 / 3)
  assert got["age_bucket_accuracy"] == 0.75  # the missing face's bucket head is not read
  assert got["age_mae"] == pytest.approx((3 + 1 + 6 + abs(40 - 50)) / 4)  # median age 40 for the missing one
  assert got["age_mean_error"] == pytest.approx((3 + 1 - 6) / 3)  # over the faces found
  assert got["age_bucket_accuracy_from_age"] == 0.75
  assert set(metrics.face_metrics({vocabulary.AGE_KEY: predictions[vocabulary.AGE_KEY]}, [30, 4, 70, 50],
                                  [1, 0, 1, 1])) == {"n", "faces_found", "age_bucket_accuracy_from_age", "age_mae",
                                                     "age_mean_error"}


def test_targets_are_met_or_not():
  assert metrics.against_targets({"gender_accuracy": 0.95, "age_mae": 4.5},
                                 {"gender_accuracy": (">=", 0.94), "age_mae": ("<=", 4.3)}) == {
      "gender_accuracy": {"target": ">= 0.94", "measured": 0.95, "met": True},
      "age_mae": {"target": "<= 4.3", "measured": 4.5, "met": False}}


def test_slices_cover_gender_race_and_age_bucket_and_skip_a_missing_race():
  rows = metrics.slice_rows(_labels([10, 30, 60, 110], [0, 1, 1, 0], [0, 1, 2, -1]))
  assert set(rows) == {"gender=0", "gender=1", "race=0", "race=1", "race=2",
                       "age_bucket=0", "age_bucket=1", "age_bucket=2", "age_bucket=4",
                       "age=10-17", "age=18-59", "age=60+"}
  assert rows["gender=1"].tolist() == [False, True, True, False]
  assert rows["age_bucket=4"].tolist() == [False, False, False, True]
  assert rows["age=60+"].tolist() == [False, False, True, True]
  assert evaluate.slice_label("race=3") == "race=3 indian"
  assert evaluate.slice_label("age=18-59") == "age=18-59"


def test_age_ranges_meet_at_their_edges():
  rows = metrics.age_range_rows(np.array([0, 9, 10, 17, 18, 59, 60, 116]))
  assert {name: mask.nonzero()[0].tolist() for name, mask in rows.items()} == {
      "age=0-9": [0, 1], "age=10-17": [2, 3], "age=18-59": [4, 5], "age=60+": [6, 7]}


def test_a_raw_folder_is_split_as_the_pipeline_splits_it(utkface_subset, tmp_path):
  from components import ingest_job
  folder = utkface_subset(300, tmp_path / "utkface")
  ingest_job.run_ingest("utkface", str(folder), str(tmp_path / "ingested"), show_progress=False)
  for split in layout.SPLITS:
    raw, ingested = evaluate.read_split(str(folder), split), evaluate.read_split(str(tmp_path / "ingested"), split)
    assert list(raw[vocabulary.SHA256_KEY]) == list(ingested[vocabulary.SHA256_KEY]) != []
    assert list(raw[vocabulary.SHA256_KEY]) == sorted(raw[vocabulary.SHA256_KEY])
  with pytest.raises(ValueError, match="no 'holdout' split"):
    evaluate.read_split(str(tmp_path / "ingested"), "holdout")


def test_fdp_evaluate_errors_are_clear(tmp_path):
  def fdp_evaluate(model, data):
    return subprocess.run([sys.executable, "-m", "cli", "evaluate", "--model", str(model), "--data",
                           str(data), "--json"], cwd=REPO, capture_output=True, text=True)
  result = fdp_evaluate(tmp_path, tmp_path)
  assert result.returncode != 0 and "neither a SavedModel nor a folder of numbered versions" in result.stderr
  result = fdp_evaluate(tmp_path, tmp_path / "missing")
  assert result.returncode != 0 and "no such folder" in result.stderr
  assert result.stdout == ""
