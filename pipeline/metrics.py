"""The project's metrics and slices, in one place: `fdp evaluate` (pipeline/evaluate.py) reports them and
every benchmark scores with them (benchmarks/).

Predictions are the models' outputs as arrays, any of them absent: `age_bucket` [N,5] probabilities,
`gender` [N,1] P(female), `age` [N,1] years. A row that is not `found` (a photo where no face was detected)
is wrong for every metric, and its age error is that of guessing `fallback_age` (the set's median age).
"""
from typing import Dict, Optional

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


def face_metrics(predictions: Dict[str, np.ndarray], ages, genders, found=None,
                 fallback_age: Optional[float] = None) -> dict:
  """Every metric the predictions allow: n and faces_found; gender_accuracy and gender_accuracy_18+ (from
  `gender`); age_bucket_accuracy (the bucket head); age_bucket_accuracy_from_age, age_mae and age_mean_error
  (from `age`; the mean error over the rows found)."""
  ages, genders = np.asarray(ages), np.asarray(genders)
  found = np.ones(len(ages), bool) if found is None else np.asarray(found, bool)
  result = {"n": int(len(ages)), "faces_found": int(found.sum())}
  if vocabulary.GENDER_KEY in predictions:
    gender_ok = found & (is_female(np.asarray(predictions[vocabulary.GENDER_KEY])[:, 0]) == (genders == 1))
    result["gender_accuracy"] = float(gender_ok.mean())
    if (ages >= ADULT_AGE).any():
      result[f"gender_accuracy_{ADULT_AGE}+"] = float(gender_ok[ages >= ADULT_AGE].mean())
  if vocabulary.AGE_BUCKET_KEY in predictions:
    bucket = np.asarray(predictions[vocabulary.AGE_BUCKET_KEY]).argmax(axis=-1)
    result["age_bucket_accuracy"] = float((found & (bucket == age_buckets(ages))).mean())
  if vocabulary.AGE_KEY in predictions:
    fallback = float(np.median(ages)) if fallback_age is None else fallback_age
    predicted = np.where(found, np.asarray(predictions[vocabulary.AGE_KEY])[:, 0], fallback)
    result["age_bucket_accuracy_from_age"] = float((found & (age_buckets(predicted) == age_buckets(ages))).mean())
    result["age_mae"] = float(np.abs(predicted - ages).mean())
    result["age_mean_error"] = float((predicted - ages)[found].mean()) if found.any() else 0.0
  return result


def metrics(kind: str, predictions: Dict[str, np.ndarray], labels: Dict[str, np.ndarray]) -> dict:
  """A model kind's headline metrics over whatever rows it is given."""
  everything = face_metrics(predictions, labels[vocabulary.AGE_KEY], labels[vocabulary.GENDER_KEY])
  return {name: everything[name] for name in HEADLINE[kind]}


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
