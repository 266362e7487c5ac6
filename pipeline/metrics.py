"""The project's metrics and slices, in one place: `fdp evaluate` (pipeline/evaluate.py) reports them and
every benchmark scores with them (benchmarks/).

Predictions are the models' outputs as arrays, any of them absent: `age_bucket` [N,5] probabilities,
`gender` [N,1] P(female), `age` [N,1] years. A row that is not `found` (a photo where no face was detected)
is wrong for every metric, and its age error is that of guessing `fallback_age` (the set's median age).

Calibration: a classifier head's top-1 answer has a confidence (gender: max(p, 1 - p); age bucket: the largest
probability) and is right or wrong. The expected calibration error (ECE) weighs, over CALIBRATION_BINS
equal-width confidence bins, the gap between each bin's mean confidence and its accuracy by its share of the
rows; accuracy against coverage is what a warning rule `confidence < threshold` leaves unwarned.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

import vocabulary
from vocabulary.labels import age_bucket as age_buckets
from vocabulary.labels import is_female

SLICE_FEATURES = (vocabulary.GENDER_KEY, vocabulary.RACE_KEY, vocabulary.AGE_BUCKET_KEY)
# Age ranges reported beside the slices (inclusive; None: no upper end): children, teenagers, adults, seniors.
AGE_RANGES = ((0, 9), (10, 17), (18, 59), (60, None))
ADULT_AGE = 18  # gender_accuracy_18+
# The headline metrics of each model kind (what `fdp evaluate` reports per slice).
HEADLINE = {vocabulary.CLASSIFIER: ("gender_accuracy", "age_bucket_accuracy"), vocabulary.REGRESSOR: ("age_mae",)}
CALIBRATION_BINS = 10
CLASSIFIER_HEADS = (vocabulary.GENDER_KEY, vocabulary.AGE_BUCKET_KEY)  # the heads with a top-1 confidence
COVERAGES = (0.5, 0.8, 0.9, 1.0)  # where calibration() reads the accuracy of the most confident rows


def face_metrics(predictions: Dict[str, np.ndarray], ages, genders, found=None,
                 fallback_age: Optional[float] = None) -> dict:
  """Every metric the predictions allow: n and faces_found; gender_accuracy, gender_accuracy_18+ and
  gender_ece (from `gender`); age_bucket_accuracy and age_bucket_ece (the bucket head);
  age_bucket_accuracy_from_age, age_mae and age_mean_error (from `age`; the mean error over the rows found).
  The ECEs are over the rows found (a row without a face has no confidence), left out when none is."""
  ages, genders = np.asarray(ages), np.asarray(genders)
  found = np.ones(len(ages), bool) if found is None else np.asarray(found, bool)
  result = {"n": int(len(ages)), "faces_found": int(found.sum())}
  for head in CLASSIFIER_HEADS:
    if head not in predictions:
      continue
    confidence, correct = top1(predictions, ages, genders, head)
    result[f"{head}_accuracy"] = float((found & correct).mean())
    if head == vocabulary.GENDER_KEY and (ages >= ADULT_AGE).any():
      result[f"gender_accuracy_{ADULT_AGE}+"] = float((found & correct)[ages >= ADULT_AGE].mean())
    if found.any():
      result[f"{head}_ece"] = expected_calibration_error(confidence[found], correct[found])
  if vocabulary.AGE_KEY in predictions:
    fallback = float(np.median(ages)) if fallback_age is None else fallback_age
    predicted = np.where(found, np.asarray(predictions[vocabulary.AGE_KEY])[:, 0], fallback)
    result["age_bucket_accuracy_from_age"] = float((found & (age_buckets(predicted) == age_buckets(ages))).mean())
    result["age_mae"] = float(np.abs(predicted - ages).mean())
    result["age_mean_error"] = float((predicted - ages)[found].mean()) if found.any() else 0.0
  return result


def top1(predictions: Dict[str, np.ndarray], ages, genders, head: str) -> Tuple[np.ndarray, np.ndarray]:
  """(confidence, correct) of a classifier head's answer per row: `gender`: max(p, 1 - p), the answered
  gender against `genders`; `age_bucket`: the largest probability, its bucket against the bucket of `ages`."""
  if head == vocabulary.GENDER_KEY:
    p_female = np.asarray(predictions[head], float)[:, 0]
    return np.maximum(p_female, 1.0 - p_female), is_female(p_female) == (np.asarray(genders) == 1)
  probabilities = np.asarray(predictions[head], float)
  return probabilities.max(axis=-1), probabilities.argmax(axis=-1) == age_buckets(np.asarray(ages))


def reliability(confidence, correct, bins: int = CALIBRATION_BINS) -> List[dict]:
  """Per equal-width confidence bin [low, high) (the last one includes 1.0): low, high, count, mean
  confidence and accuracy (None in an empty bin): a reliability diagram's data."""
  confidence, correct = np.asarray(confidence, float), np.asarray(correct, bool)
  index = np.clip((confidence * bins).astype(int), 0, bins - 1)
  rows = []
  for b in range(bins):
    rows_in = index == b
    count = int(rows_in.sum())
    rows.append({"low": b / bins, "high": (b + 1) / bins, "count": count,
                 "confidence": float(confidence[rows_in].mean()) if count else None,
                 "accuracy": float(correct[rows_in].mean()) if count else None})
  return rows


def expected_calibration_error(confidence, correct, bins: int = CALIBRATION_BINS) -> float:
  """Sum over the confidence bins of (the bin's share of the rows) x |its accuracy - its mean confidence|."""
  total = len(np.asarray(confidence))
  return float(sum(b["count"] / total * abs(b["accuracy"] - b["confidence"])
                   for b in reliability(confidence, correct, bins) if b["count"]))


def kept_above(confidence, correct, thresholds) -> Dict[str, np.ndarray]:
  """Per threshold t: coverage (the share of rows with confidence >= t, those a rule `confidence < t` leaves
  unwarned) and accuracy of those rows (NaN when none is kept)."""
  confidence, correct = np.asarray(confidence, float), np.asarray(correct, bool)
  order = np.argsort(confidence, kind="stable")
  hits_below = np.concatenate([[0], np.cumsum(correct[order])])
  first_kept = np.searchsorted(confidence[order], np.asarray(thresholds, float), side="left")
  kept = len(confidence) - first_kept
  with np.errstate(invalid="ignore", divide="ignore"):
    accuracy = np.where(kept > 0, (hits_below[-1] - hits_below[first_kept]) / kept, np.nan)
  return {"threshold": np.asarray(thresholds, float), "coverage": kept / max(len(confidence), 1),
          "accuracy": accuracy}


def accuracy_coverage(confidence, correct) -> Dict[str, np.ndarray]:
  """Accuracy against coverage: kept_above() at every distinct confidence, from the highest down (keeping
  the most confident fraction of the rows; rows of equal confidence are kept or warned together)."""
  return kept_above(confidence, correct, np.unique(np.asarray(confidence, float))[::-1])


def choose_threshold(confidence, correct, target_accuracy: float,
                     candidates: Optional[Sequence[float]] = None) -> Optional[dict]:
  """The warning rule `confidence < threshold` whose unwarned rows reach `target_accuracy` with the largest
  coverage (the smallest such threshold), among `candidates` (default: every distinct confidence):
  {threshold, coverage, accuracy} of the unwarned rows; None when no candidate reaches the target."""
  curve = kept_above(confidence, correct, np.unique(np.asarray(
      confidence if candidates is None else candidates, float))[::-1])
  reaching = np.nonzero(curve["accuracy"] >= target_accuracy)[0]
  if not len(reaching):
    return None
  best = reaching[-1]  # thresholds fall and coverage grows along the curve
  return {name: float(values[best]) for name, values in curve.items()}


def warning_figures(warned, correct) -> dict:
  """What a warning rule does to a head's answers: the share and accuracy of the unwarned and the warned
  rows (an accuracy is None where no row is)."""
  warned, correct = np.asarray(warned, bool), np.asarray(correct, bool)
  n = max(len(warned), 1)

  def accuracy(rows):
    return float(correct[rows].mean()) if rows.any() else None
  return {"unwarned_share": float((~warned).sum() / n), "unwarned_accuracy": accuracy(~warned),
          "warned_share": float(warned.sum() / n), "warned_accuracy": accuracy(warned)}


def calibration(confidence, correct, coverages: Sequence[float] = COVERAGES) -> dict:
  """A head's calibration in brief: n, accuracy, ece, the reliability bins, and the accuracy of the most
  confident rows at each of `coverages` (the highest threshold that keeps at least that share)."""
  confidence, correct = np.asarray(confidence, float), np.asarray(correct, bool)
  curve = accuracy_coverage(confidence, correct)
  at = {}
  for share in coverages:
    i = int(np.argmax(curve["coverage"] >= share - 1e-9))
    at[f"{share:g}"] = {"threshold": float(curve["threshold"][i]), "coverage": float(curve["coverage"][i]),
                        "accuracy": float(curve["accuracy"][i])}
  return {"n": int(len(confidence)), "accuracy": float(correct.mean()),
          "ece": expected_calibration_error(confidence, correct), "reliability": reliability(confidence, correct),
          "accuracy_at_coverage": at}


def metrics(kind: str, predictions: Dict[str, np.ndarray], labels: Dict[str, np.ndarray]) -> dict:
  """A model kind's headline metrics over whatever rows it is given, and the age MAE of a classifier that
  exports its own age."""
  everything = face_metrics(predictions, labels[vocabulary.AGE_KEY], labels[vocabulary.GENDER_KEY])
  result = {name: everything[name] for name in HEADLINE[kind]}
  if "age_mae" in everything:
    result.setdefault("age_mae", everything["age_mae"])
  return result


def age_range_rows(ages: np.ndarray) -> Dict[str, np.ndarray]:
  """'age=0-9', 'age=10-17', 'age=18-59', 'age=60+' -> row mask (the ranges without rows are left out)."""
  rows = {}
  for low, high in AGE_RANGES:
    name = f"{vocabulary.AGE_KEY}={low}+" if high is None else f"{vocabulary.AGE_KEY}={low}-{high}"
    mask = (ages >= low) & (ages <= (np.inf if high is None else high))
    if mask.any():
      rows[name] = mask
  return rows


def slice_rows(labels: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
  """'feature=value' -> row mask, for gender, race (when present), age bucket and age range."""
  columns = {vocabulary.GENDER_KEY: labels[vocabulary.GENDER_KEY], vocabulary.RACE_KEY: labels[vocabulary.RACE_KEY],
             vocabulary.AGE_BUCKET_KEY: age_buckets(labels[vocabulary.AGE_KEY])}
  rows = {f"{feature}={value}": columns[feature] == value
          for feature in SLICE_FEATURES for value in np.unique(columns[feature]) if value >= 0}
  rows.update(age_range_rows(np.asarray(labels[vocabulary.AGE_KEY])))
  return rows


def report(model_dir: str, kind: str, split: str, labels: Dict[str, np.ndarray],
           predictions: Dict[str, np.ndarray]) -> dict:
  """{model, kind, split, n, overall, slices}: overall and per-slice metrics of predictions already made on
  the examples `labels`."""
  slices = {}
  for name, rows in slice_rows(labels).items():
    sliced = {k: v[rows] for k, v in labels.items()}
    slices[name] = dict(n=int(rows.sum()), **metrics(kind, {k: v[rows] for k, v in predictions.items()}, sliced))
  return {"model": model_dir, "kind": kind, "split": split, "n": int(len(labels[vocabulary.AGE_KEY])),
          "overall": metrics(kind, predictions, labels), "slices": slices}


def against_targets(measured: dict, targets: Dict[str, tuple]) -> dict:
  """name -> {target, measured, met} for targets {name: (">=" or "<=", value)}."""
  return {name: {"target": f"{op} {value}", "measured": round(measured[name], 4),
                 "met": bool(measured[name] >= value if op == ">=" else measured[name] <= value)}
          for name, (op, value) in targets.items()}
