"""`fdp evaluate`: an exported model's metrics on one split of a data folder, overall and per slice.

The split is the pipeline's own: the folder is ingested as ExampleGen does it (same dedup, same
content-hash split), unless it already is `fdp ingest` output. The model is called through its
`serving_default` signature (encoded images in, as TF Serving is called) and its kind is read from
that signature's outputs: {age_bucket, gender} -> classifier, {age} -> regressor. The metrics and slices
are pipeline/metrics.py's (the benchmarks score with the same).
"""
import glob
import os
import tempfile
from typing import Dict, Optional

import numpy as np

from pipeline.metrics import report
from vocabulary import layout, signatures
import vocabulary

BATCH_SIZE = 64


def read_split(data: str, split: str = "test", dataset: Optional[str] = None,
               wiki_mat: Optional[str] = None) -> Dict[str, np.ndarray]:
  """Encoded images and labels of one split: {image, age, gender, race (-1 if absent), sha256}."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from components import ingest, ingest_job  # pylint: disable=g-import-not-at-top
  if not os.path.exists(os.path.join(data, layout.REPORT_FILE)):
    with tempfile.TemporaryDirectory(prefix="fdp-evaluate-") as ingested:
      ingest_job.run_ingest(dataset or vocabulary.UTKFACE, data, ingested, show_progress=False, wiki_mat=wiki_mat)
      return read_split(ingested, split)
  files = sorted(glob.glob(os.path.join(data, layout.split_dir(split), "*")))
  if not files:
    raise ValueError(f"{data!r} has no {split!r} split")
  spec = {vocabulary.IMAGE_KEY: tf.io.FixedLenFeature([], tf.string),
          vocabulary.AGE_KEY: tf.io.FixedLenFeature([], tf.int64),
          vocabulary.GENDER_KEY: tf.io.FixedLenFeature([], tf.int64),
          vocabulary.RACE_KEY: tf.io.FixedLenFeature([], tf.int64, default_value=-1),
          vocabulary.SHA256_KEY: tf.io.FixedLenFeature([], tf.string)}
  columns = {name: [] for name in spec}
  for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
    for name, value in tf.io.parse_single_example(record, spec).items():
      columns[name].append(value.numpy())
  # A fixed order (by content hash), whatever order the runner wrote the records in.
  order = np.argsort(np.array(columns[vocabulary.SHA256_KEY]))
  return {name: np.array(values, dtype=object if name in (vocabulary.IMAGE_KEY, vocabulary.SHA256_KEY) else None)[order]
          for name, values in columns.items()}


def load_model(model_dir: str):
  """A SavedModel folder, or a model's base folder (its highest numeric version is taken)."""
  if not os.path.exists(os.path.join(model_dir, layout.SAVED_MODEL_FILE)):
    newest = layout.newest_version(os.listdir(model_dir)) if os.path.isdir(model_dir) else None
    if newest is None:
      raise ValueError(f"{model_dir!r} is neither a SavedModel nor a folder of numbered versions")
    model_dir = os.path.join(model_dir, newest)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return model_dir, tf.saved_model.load(model_dir)


def model_kind(loaded) -> str:
  outputs = set(loaded.signatures[signatures.SERVING_DEFAULT].structured_outputs)
  if {vocabulary.AGE_BUCKET_KEY, vocabulary.GENDER_KEY} <= outputs:
    return vocabulary.CLASSIFIER
  if vocabulary.AGE_KEY in outputs:
    return vocabulary.REGRESSOR
  raise ValueError(f"not a face-demographics model: {signatures.SERVING_DEFAULT} outputs {sorted(outputs)}")


def predict(loaded, encoded_images, batch_size: int = BATCH_SIZE) -> Dict[str, np.ndarray]:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  serve = loaded.signatures[signatures.SERVING_DEFAULT]
  batches = [serve(**{signatures.IMAGES_INPUT: tf.constant(list(encoded_images[i:i + batch_size]), tf.string)})
             for i in range(0, len(encoded_images), batch_size)]
  return {name: np.concatenate([b[name].numpy() for b in batches]) for name in batches[0]}


def evaluate(model_dir: str, data: str, split: str = "test", dataset: Optional[str] = None,
             wiki_mat: Optional[str] = None) -> dict:
  """{model, kind, split, n, overall, slices} of the model at `model_dir` on `split` of `data`."""
  model_dir, loaded = load_model(model_dir)
  labels = read_split(data, split, dataset, wiki_mat)
  return report(model_dir, model_kind(loaded), split, labels, predict(loaded, labels[vocabulary.IMAGE_KEY]))


SLICE_VALUE_NAMES = {vocabulary.GENDER_KEY: vocabulary.GENDERS, vocabulary.RACE_KEY: vocabulary.RACES,
                     vocabulary.AGE_BUCKET_KEY: vocabulary.AGE_BUCKETS}


def slice_label(name: str) -> str:
  """'race=1' -> 'race=1 black'; 'age=18-59' as it is."""
  feature, value = name.split("=")
  return f"{name} {SLICE_VALUE_NAMES[feature][int(value)]}" if feature in SLICE_VALUE_NAMES else name


def format_report(report: dict) -> str:
  """A plain-text table: one row per slice."""
  names = list(report["overall"])
  lines = [f"{report['kind']} {report['model']} on the {report['split']} split ({report['n']} images)",
           f"{'slice':20s}{'n':>7s}" + "".join(f"{n:>22s}" for n in names),
           f"{'overall':20s}{report['n']:7d}" + "".join(f"{report['overall'][n]:22.4f}" for n in names)]
  for name, values in report["slices"].items():
    lines.append(f"{slice_label(name):20s}{values['n']:7d}" + "".join(f"{values[n]:22.4f}" for n in names))
  return "\n".join(lines)
