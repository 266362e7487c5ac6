"""`fdp evaluate`'s pieces: metrics and slices on known arrays, the split read the pipeline's way, and
clear errors. (The shipped models' figures are re-computed in test_shipped_models.py.)"""
import subprocess
import sys

import numpy as np
import pytest

from pipeline import evaluate
from tests.conftest import REPO, real_utkface_subset
from vocabulary import layout
import vocabulary


def _labels(ages, genders, races):
  return {vocabulary.AGE_KEY: np.array(ages), vocabulary.GENDER_KEY: np.array(genders), vocabulary.RACE_KEY: np.array(races)}


def test_classifier_and_regressor_metrics_on_known_predictions():
  labels = _labels([10, 30, 60, 110], [0, 1, 1, 0], [0, 1, 2, -1])
  classifier = {vocabulary.GENDER_KEY: np.array([[0.1], [0.9], [0.2], [0.4]]),
                vocabulary.AGE_BUCKET_KEY: np.eye(5)[[0, 1, 1, 4]]}
  assert evaluate.metrics(vocabulary.CLASSIFIER, classifier, labels) == {
      "gender_accuracy": 0.75, "age_bucket_accuracy": 0.75}
  regressor = {vocabulary.AGE_KEY: np.array([[12.0], [30.0], [50.0], [100.0]])}
  assert evaluate.metrics(vocabulary.REGRESSOR, regressor, labels) == {"age_mae": pytest.approx(5.5)}


def test_slices_cover_gender_race_and_age_bucket_and_skip_a_missing_race():
  rows = evaluate.slice_rows(_labels([10, 30, 60, 110], [0, 1, 1, 0], [0, 1, 2, -1]))
  assert set(rows) == {"gender=0", "gender=1", "race=0", "race=1", "race=2",
                       "age_bucket=0", "age_bucket=1", "age_bucket=2", "age_bucket=4",
                       "age=10-17", "age=18-59", "age=60+"}
  assert rows["gender=1"].tolist() == [False, True, True, False]
  assert rows["age_bucket=4"].tolist() == [False, False, False, True]
  assert rows["age=60+"].tolist() == [False, False, True, True]
  assert evaluate.slice_label("race=3") == "race=3 indian"
  assert evaluate.slice_label("age=18-59") == "age=18-59"


def test_age_ranges_meet_at_their_edges():
  rows = evaluate.age_range_rows(np.array([0, 9, 10, 17, 18, 59, 60, 116]))
  assert {name: mask.nonzero()[0].tolist() for name, mask in rows.items()} == {
      "age=0-9": [0, 1], "age=10-17": [2, 3], "age=18-59": [4, 5], "age=60+": [6, 7]}


@pytest.mark.datasets
def test_a_raw_folder_is_split_as_the_pipeline_splits_it(tmp_path):
  from components import ingest_job
  folder = real_utkface_subset(300, tmp_path / "utkface")
  ingest_job.run_ingest("utkface", str(folder), str(tmp_path / "ingested"), show_progress=False)
  for split, _ in layout.SPLITS:
    raw, ingested = evaluate.read_split(str(folder), split), evaluate.read_split(str(tmp_path / "ingested"), split)
    assert list(raw[vocabulary.SHA256_KEY]) == list(ingested[vocabulary.SHA256_KEY]) != []
    assert list(raw[vocabulary.SHA256_KEY]) == sorted(raw[vocabulary.SHA256_KEY])
  with pytest.raises(ValueError, match="no 'validation' split"):
    evaluate.read_split(str(tmp_path / "ingested"), "validation")


def test_fdp_evaluate_errors_are_clear(tmp_path):
  def fdp_evaluate(model, data):
    return subprocess.run([sys.executable, "-m", "cli", "evaluate", "--model", str(model), "--data",
                           str(data), "--json"], cwd=REPO, capture_output=True, text=True)
  result = fdp_evaluate(tmp_path, tmp_path)
  assert result.returncode != 0 and "neither a SavedModel nor a folder of numbered versions" in result.stderr
  result = fdp_evaluate(tmp_path, tmp_path / "missing")
  assert result.returncode != 0 and "no such folder" in result.stderr
  assert result.stdout == ""
