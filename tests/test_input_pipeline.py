"""The Trainer's input pipeline (trainer/train.py): batches of images with every head's label, and the
age-balanced loss weights."""
import dataclasses
import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from trainer import hyperparameters
from trainer import models
from trainer import train
import vocabulary

CFG = hyperparameters.TrainingConfig(image_size=32, batch_size=64, augment=False)
# 30 images in their twenties, 10 in their sixties, none elsewhere
AGES = [21] * 30 + [64] * 10


def _records(path) -> str:
  """The ages above, every fourth image from WIKI, the others from UTKFace."""
  buffer = io.BytesIO()
  Image.new("RGB", (40, 40), (120, 90, 60)).save(buffer, format="JPEG")
  with tf.io.TFRecordWriter(path, options="GZIP") as writer:
    for i, age in enumerate(AGES):
      source = (vocabulary.WIKI if i % 4 == 0 else vocabulary.UTKFACE).encode()
      example = tf.train.Example(features=tf.train.Features(feature={
          vocabulary.SOURCE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[source])),
          vocabulary.IMAGE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[buffer.getvalue()])),
          vocabulary.AGE_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[age])),
          vocabulary.AGE_BUCKET_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[age // 25])),
          vocabulary.GENDER_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[age % 2]))}))
      writer.write(example.SerializeToString())
  return path


def _parse(serialized):
  return tf.io.parse_single_example(serialized, {
      vocabulary.IMAGE_KEY: tf.io.FixedLenFeature([], tf.string),
      vocabulary.SOURCE_KEY: tf.io.FixedLenFeature([], tf.string),
      **{key: tf.io.FixedLenFeature([], tf.int64)
         for key in (vocabulary.AGE_KEY, vocabulary.AGE_BUCKET_KEY, vocabulary.GENDER_KEY)}})


def test_without_age_balance_batches_are_images_and_labels(tmp_path):
  batch = next(iter(train.dataset_from_records([_records(str(tmp_path / "r.gz"))], _parse, CFG, training=True)))
  assert len(batch) == 2
  images, labels = batch
  assert images.shape == (len(AGES), 32, 32, 3)
  assert sorted(np.asarray(labels[vocabulary.AGE_KEY])[:, 0].tolist()) == sorted(AGES)


def test_age_balance_one_weighs_every_decade_the_same(tmp_path):
  cfg = dataclasses.replace(CFG, age_balance=1.0)
  _, labels, weights = next(iter(train.dataset_from_records([_records(str(tmp_path / "r.gz"))], _parse, cfg,
                                                            training=True)))
  ages, weights = np.asarray(labels[vocabulary.AGE_KEY])[:, 0], np.asarray(weights)
  assert np.isclose(weights.mean(), 1.0)
  assert np.isclose(weights[ages == 21].sum(), weights[ages == 64].sum())  # each decade's total the same
  assert np.allclose(weights[ages == 64], 3 * weights[ages == 21][0])


def test_age_balance_half_is_between_and_eval_batches_carry_no_weights(tmp_path):
  cfg = dataclasses.replace(CFG, age_balance=0.5)
  records = _records(str(tmp_path / "r.gz"))
  _, labels, weights = next(iter(train.dataset_from_records([records], _parse, cfg, training=True)))
  ages, weights = np.asarray(labels[vocabulary.AGE_KEY])[:, 0], np.asarray(weights)
  assert np.isclose(weights[ages == 64][0] / weights[ages == 21][0], np.sqrt(3))
  assert len(next(iter(train.dataset_from_records([records], _parse, cfg, training=False)))) == 2


def test_source_weights_multiply_the_age_balance(tmp_path):
  cfg = dataclasses.replace(CFG, age_balance=1.0, source_weights={vocabulary.WIKI: 0.5}, shuffle_buffer=1)
  records = _records(str(tmp_path / "r.gz"))
  _, labels, weights = next(iter(train.dataset_from_records([records], _parse, cfg, training=True)))
  ages, weights = np.asarray(labels[vocabulary.AGE_KEY])[:, 0], np.asarray(weights)
  balanced = next(iter(train.dataset_from_records([records], _parse, dataclasses.replace(cfg, source_weights=None),
                                                  training=True)))[2].numpy()
  wiki = np.arange(len(AGES)) % 4 == 0  # shuffle_buffer 1 keeps the order
  np.testing.assert_allclose(weights[wiki], 0.5 * balanced[wiki])
  np.testing.assert_allclose(weights[~wiki], balanced[~wiki])
  assert np.allclose(weights[ages == 64][~wiki[ages == 64]], 3 * weights[ages == 21][~wiki[ages == 21]][0])


def test_low_resolution_blurs_the_chosen_share_and_keeps_the_size():
  rng = np.random.default_rng(0)
  batch = tf.constant(rng.uniform(0, 1, (64, 96, 96, 3)), tf.float32)
  cfg = dataclasses.replace(CFG, image_size=96, low_resolution_share=0.5, low_resolution_sides=(24, 24))
  out = train.low_resolution(batch, cfg).numpy()
  assert out.shape == batch.shape
  changed = np.abs(out - batch.numpy()).mean(axis=(1, 2, 3)) > 1e-3
  assert 16 <= changed.sum() <= 48  # about half
  # the blurred ones lost their fine detail: neighbouring pixels are close
  detail = np.abs(np.diff(out, axis=2)).mean(axis=(1, 2, 3))
  assert detail[changed].max() < detail[~changed].min()
  unchanged = train.low_resolution(batch, dataclasses.replace(cfg, low_resolution_share=0.0)).numpy()
  np.testing.assert_array_equal(unchanged, batch.numpy())


@pytest.mark.training
def test_every_head_trains_on_weighted_batches(tmp_path):
  cfg = dataclasses.replace(CFG, backbone=hyperparameters.RESNET, width=16, age_balance=1.0, batch_size=8, epochs=1)
  ds = train.dataset_from_records([_records(str(tmp_path / "r.gz"))], _parse, cfg, training=True)
  model = models.build_model(vocabulary.CLASSIFIER, cfg, steps_per_epoch=5)
  loss = model.fit(ds, epochs=1, verbose=0).history["loss"][0]
  assert np.isfinite(loss) and loss > 0
