"""Calibration (pipeline/metrics.py): the expected calibration error, the reliability bins, accuracy against
coverage and the warning-threshold chooser on synthetic answers whose right figures are known; the chooser of
benchmarks/warning_rules.py; and application/trust.py's defaults are the thresholds it recorded."""
import json

import numpy as np
import pytest

from application import trust
from benchmarks import warning_rules
from pipeline import metrics
import vocabulary


def calibrated(n=200_000, low=0.5, seed=0):
  """Answers right with exactly their confidence's probability."""
  rng = np.random.default_rng(seed)
  confidence = rng.uniform(low, 1.0, n)
  return confidence, rng.uniform(size=n) < confidence


def test_the_ece_of_calibrated_answers_is_about_zero():
  assert metrics.expected_calibration_error(*calibrated()) < 0.005
  # Each bin's accuracy exactly its confidence: exactly zero.
  confidence = np.repeat([0.55, 0.8, 1.0], 20)
  correct = np.concatenate([np.arange(20) < 11, np.arange(20) < 16, np.ones(20, bool)])
  assert metrics.expected_calibration_error(confidence, correct) == pytest.approx(0.0, abs=1e-12)


def test_the_ece_of_over_confident_answers_is_their_gap():
  confidence, correct = calibrated()
  sure = np.minimum(confidence + 0.2, 1.0)  # 0.2 more sure than right, less where it reaches 1.0
  assert 0.15 < metrics.expected_calibration_error(sure, correct) < 0.2
  assert metrics.expected_calibration_error(np.full(100, 0.95), np.arange(100) < 60) == pytest.approx(0.35)


def test_face_metrics_report_the_ece_of_both_heads_over_the_faces_found():
  genders = np.array([0, 1] * 50)
  # P(female) 0.99 for everyone: sure of "female" and half wrong.
  predictions = {vocabulary.GENDER_KEY: np.full((100, 1), 0.99), vocabulary.AGE_BUCKET_KEY: np.eye(5)[[1] * 100]}
  found = np.arange(100) != 0  # the one face not found is left out of the ECE (a man: the rest 49 of 99 right)
  got = metrics.face_metrics(predictions, ages=np.full(100, 30), genders=genders, found=found)
  assert got["gender_accuracy"] == 0.5
  assert got["gender_ece"] == pytest.approx(0.99 - 50 / 99)
  assert got["age_bucket_accuracy"] == 0.99 and got["age_bucket_ece"] == pytest.approx(0.0)
  none_found = metrics.face_metrics(predictions, np.full(100, 30), genders, found=np.zeros(100, bool))
  assert "gender_ece" not in none_found and none_found["gender_accuracy"] == 0.0


def test_top1_reads_the_answered_gender_and_the_top_bucket():
  predictions = {vocabulary.GENDER_KEY: np.array([[0.2], [0.9], [0.6]]),
                 vocabulary.AGE_BUCKET_KEY: np.array([[0.1, 0.7, 0.1, 0.05, 0.05], [0.5, 0.3, 0.2, 0, 0],
                                                      [0.2, 0.2, 0.2, 0.4, 0.0]])}
  ages, genders = np.array([30, 10, 60]), np.array([0, 0, 1])
  confidence, correct = metrics.top1(predictions, ages, genders, vocabulary.GENDER_KEY)
  assert confidence == pytest.approx([0.8, 0.9, 0.6]) and correct.tolist() == [True, False, True]
  confidence, correct = metrics.top1(predictions, ages, genders, vocabulary.AGE_BUCKET_KEY)
  assert confidence == pytest.approx([0.7, 0.5, 0.4]) and correct.tolist() == [True, True, False]


def test_reliability_bins_are_equal_width_and_the_last_holds_one():
  bins = metrics.reliability([0.05, 0.1, 0.15, 0.95, 1.0, 1.0], [True, False, False, True, True, False])
  assert len(bins) == 10 and [b["low"] for b in bins] == pytest.approx(np.arange(10) / 10)
  assert [b["count"] for b in bins] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 3]
  assert bins[1]["confidence"] == pytest.approx(0.125) and bins[1]["accuracy"] == 0.0
  assert bins[9]["confidence"] == pytest.approx(2.95 / 3) and bins[9]["accuracy"] == pytest.approx(2 / 3)
  assert bins[5]["confidence"] is None and bins[5]["accuracy"] is None


def test_accuracy_against_coverage_keeps_the_most_confident_first():
  confidence, correct = calibrated(n=5_000, seed=1)
  curve = metrics.accuracy_coverage(confidence, correct)
  assert np.all(np.diff(curve["threshold"]) < 0) and np.all(np.diff(curve["coverage"]) > 0)
  assert curve["coverage"][-1] == 1.0 and curve["accuracy"][-1] == pytest.approx(correct.mean())
  assert curve["accuracy"][len(curve["accuracy"]) // 2] > correct.mean() + 0.05  # the confident half is better
  # Right exactly above a confidence, wrong below it: accuracy falls as coverage grows, never rises.
  ranked = metrics.accuracy_coverage(confidence, confidence > 0.8)
  assert np.all(np.diff(ranked["accuracy"]) <= 0)
  # Rows of equal confidence are kept or warned together.
  tied = metrics.accuracy_coverage([0.9, 0.7, 0.7, 0.7, 0.6], [True, True, False, False, True])
  assert tied["threshold"].tolist() == [0.9, 0.7, 0.6]
  assert tied["coverage"] == pytest.approx([0.2, 0.8, 1.0]) and tied["accuracy"] == pytest.approx([1.0, 0.5, 0.6])


def ladder():
  """80 answers at 0.9 (all right), 10 at 0.7 (8 right), 10 at 0.6 (2 right)."""
  confidence = np.repeat([0.9, 0.7, 0.6], [80, 10, 10])
  correct = np.concatenate([np.ones(80, bool), np.arange(10) < 8, np.arange(10) < 2])
  return confidence, correct


def test_the_chooser_takes_the_smallest_threshold_that_reaches_the_target():
  confidence, correct = ladder()
  assert metrics.choose_threshold(confidence, correct, 0.95) == pytest.approx(
      {"threshold": 0.7, "coverage": 0.9, "accuracy": 88 / 90})
  assert metrics.choose_threshold(confidence, correct, 0.99)["threshold"] == 0.9
  assert metrics.choose_threshold(confidence, correct, 0.9)["coverage"] == 1.0
  assert metrics.choose_threshold(confidence, correct[::-1], 0.95) is None  # the sure ones wrong: none reaches
  # On a grid: the smallest grid point that keeps the 0.7s, 0.61 (0.6 would keep the 0.6s too).
  on_grid = metrics.choose_threshold(confidence, correct, 0.95, np.arange(100) / 100)
  assert on_grid == pytest.approx({"threshold": 0.61, "coverage": 0.9, "accuracy": 88 / 90})


def test_warning_figures_split_the_answers_by_their_warning():
  figures = metrics.warning_figures([False, False, False, True], [True, True, False, False])
  assert figures == pytest.approx({"unwarned_share": 0.75, "unwarned_accuracy": 2 / 3, "warned_share": 0.25,
                                   "warned_accuracy": 0.0})
  assert metrics.warning_figures([False, False], [True, False])["warned_accuracy"] is None


def test_the_warning_rules_are_chosen_per_head_on_a_grid():
  confidence, correct = ladder()
  female = np.arange(100) % 2 == 1  # half the faces women; each answered right or wrong as the ladder says
  p_female = np.where(female == correct, confidence, 1 - confidence)
  buckets = np.full((100, 5), 0.0)
  buckets[:, 1] = 0.95  # sure and right (ages 30): no bucket warning needed
  buckets[:, 0] = 0.05
  chosen = warning_rules.choose({vocabulary.GENDER_KEY: p_female[:, None], vocabulary.AGE_BUCKET_KEY: buckets},
                                ages=np.full(100, 30), genders=female.astype(int))
  gender = chosen[vocabulary.GENDER_KEY]
  assert gender["trust_field"] == "min_gender_prob" and gender["target_accuracy"] == 0.975
  assert gender["chosen"] == pytest.approx({"threshold": 0.61, "unwarned_share": 0.9, "unwarned_accuracy": 88 / 90,
                                            "warned_share": 0.1, "warned_accuracy": 0.2})
  assert gender["earlier"] == pytest.approx({"threshold": 0.7, **{k: v for k, v in gender["chosen"].items()
                                                                  if k != "threshold"}})
  assert gender["calibration"]["accuracy"] == 0.9 and gender["calibration"]["n"] == 100
  assert chosen[vocabulary.AGE_BUCKET_KEY]["chosen"]["threshold"] == 0.0  # nothing to warn
  assert chosen[vocabulary.AGE_BUCKET_KEY]["calibration"]["ece"] == pytest.approx(0.05)


def test_the_applications_thresholds_are_the_recorded_choice():
  with open(warning_rules.OUT) as f:
    recorded = json.load(f)
  assert recorded["split"] == "validation"
  defaults = trust.Trust()
  for head, figures in recorded["heads"].items():
    assert getattr(defaults, figures["trust_field"]) == figures["chosen"]["threshold"], head
    assert figures["chosen"]["unwarned_accuracy"] >= figures["target_accuracy"], head
