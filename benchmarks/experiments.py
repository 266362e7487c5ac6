"""What the two families of training experiments share (benchmarks/experiments_from_scratch.py,
benchmarks/experiments_pretrained.py): the data (`fdp ingest`'s output of the real UTKFace, the pipeline's dedup
and content-hash split; the test split is never looked at), the examples parsed with their labels, scoring an
eval dataset with pipeline/metrics.py, and a results file of one entry per experiment (re-running one
replaces it)."""
import json
import os
import subprocess
import sys

import numpy as np

from benchmarks import results_file
from pipeline import metrics
from vocabulary import settings
import vocabulary

DEFAULT_RECORDS = os.path.join("/tmp", "fdp-utkface-records")
TRAINED_HERE = "trained by the experiment itself (see each entry's changes)"


def ensure_records(records: str) -> str:
  """`records`, written first by `fdp ingest` from the real UTKFace folder when missing."""
  if not os.path.isdir(records):
    subprocess.run([sys.executable, "-m", "cli", "ingest", vocabulary.UTKFACE,
                    str(settings.utkface_dir()), "--out", records, "--quiet"], check=True)
  return records


def raw_parser():
  """A tf.Example parser: image bytes, age, gender, and the age bucket as Transform computes it."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from trainer import preprocessing  # pylint: disable=g-import-not-at-top
  spec = {vocabulary.IMAGE_KEY: tf.io.FixedLenFeature([], tf.string),
          vocabulary.AGE_KEY: tf.io.FixedLenFeature([], tf.int64),
          vocabulary.GENDER_KEY: tf.io.FixedLenFeature([], tf.int64)}

  def parse(serialized):
    features = tf.io.parse_single_example(serialized, spec)
    features[vocabulary.AGE_BUCKET_KEY] = preprocessing.age_bucket(features[vocabulary.AGE_KEY])
    return features
  return parse


def score_dataset(predict_variants, eval_ds, names=("single", "tta")) -> dict:
  """pipeline/metrics.py's face metrics of each prediction variant over an eval dataset of (images, labels)
  batches; `predict_variants(batch)` gives one {output: array} per name."""
  parts, ages, genders = tuple([] for _ in names), [], []
  for batch, labels in eval_ds:
    for part, predictions in zip(parts, predict_variants(batch)):
      part.append({k: np.asarray(v) for k, v in predictions.items()})
    ages.append(labels[vocabulary.AGE_KEY].numpy()[:, 0])
    genders.append(labels[vocabulary.GENDER_KEY].numpy()[:, 0])
  ages, genders = np.concatenate(ages), np.concatenate(genders)
  return {name: metrics.face_metrics({k: np.concatenate([p[k] for p in part]) for k in part[0]}, ages, genders)
          for name, part in zip(names, parts)}


def median_images_per_second(epochs) -> float:
  """The median epoch's throughput of a train.ThroughputLogger's epochs (None without epochs)."""
  speeds = sorted(e["images_per_second"] for e in epochs)
  return round(float(speeds[len(speeds) // 2]), 1) if speeds else None


def load_results(path: str, about: str) -> dict:
  if os.path.exists(path):
    with open(path) as f:
      return json.load(f)
  return {"about": about, "experiments": []}


def save_result(path: str, about: str, result: dict, order=()) -> None:
  """Merges one experiment's result (with its own provenance) into the results file at `path`."""
  results = load_results(path, about)
  entry = {results_file.PROVENANCE: results_file.provenance(TRAINED_HERE), **result}
  kept = [r for r in results["experiments"] if r["name"] != result["name"]] + [entry]
  order = list(order)
  results["experiments"] = sorted(kept, key=lambda r: order.index(r["name"]) if r["name"] in order else len(order))
  results_file.write(path, results, TRAINED_HERE)
