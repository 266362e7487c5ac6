"""The Transform preprocessing_fn, run through tf.Transform's Beam implementation."""
import tempfile

import numpy as np
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from trainer import preprocessing
from vocabulary import labels


def test_labels_and_passthrough_image():
  ages = [0, 24, 25, 49, 50, 74, 75, 99, 100, 116, 124]
  sources = [b"utkface", b"wiki"]
  raw = [{"image": [f"jpeg{i}".encode()], "age": [a], "gender": [i % 2], "race": [i % 5], "source": [sources[i % 2]]}
         for i, a in enumerate(ages)]
  spec = {"image": tf.io.FixedLenFeature([1], tf.string), "age": tf.io.FixedLenFeature([1], tf.int64),
          "gender": tf.io.FixedLenFeature([1], tf.int64), "race": tf.io.FixedLenFeature([1], tf.int64),
          "source": tf.io.FixedLenFeature([1], tf.string)}
  metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
  with tft_beam.Context(temp_dir=tempfile.mkdtemp()):
    (transformed, _), _ = ((raw, metadata) | tft_beam.AnalyzeAndTransformDataset(
        preprocessing.preprocessing_fn, output_record_batches=False))
  assert [t["age_bucket"] for t in transformed] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4]
  assert [t["image"] for t in transformed] == [f"jpeg{i}".encode() for i in range(len(ages))]
  assert np.allclose([t["age"] for t in transformed], ages)
  assert [t["gender"] for t in transformed] == [i % 2 for i in range(len(ages))]
  assert [t["source"] for t in transformed] == [sources[i % 2] for i in range(len(ages))]  # for source weights
  assert "race" not in transformed[0]


def test_transform_age_buckets_agree_with_the_numpy_rule():
  ages = np.arange(0, 131)
  assert preprocessing.age_bucket(tf.constant(ages, tf.int64)).numpy().tolist() == labels.age_bucket(ages).tolist()
  assert [labels.age_bucket(a) for a in (0, 24, 25, 99, 100, 130)] == [0, 0, 1, 3, 4, 4]
