"""The Trainer's run_fn: trains the model named in custom_config on the transformed examples.

custom_config = {"model": "classifier" | "regressor", "training": TrainingConfig fields}
Uses every visible GPU through MirroredStrategy, the CPU otherwise; no code change either way.
"""
import dataclasses
import json
import os
import time
from typing import Optional

import keras
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import logging

from trainer import calibration, export, face_network, images, models, warmup
from trainer.hyperparameters import FACERES, TrainingConfig
import vocabulary

AUTOTUNE = tf.data.AUTOTUNE
AGE_GROUP_YEARS = 10
AGE_GROUPS = vocabulary.MAX_AGE // AGE_GROUP_YEARS + 1
logger = logging.getLogger("fdp.trainer")


def distribution_strategy() -> tf.distribute.Strategy:
  gpus = tf.config.list_physical_devices("GPU")
  if gpus:
    logger.info("Training on %d GPU(s) with MirroredStrategy", len(gpus))
    return tf.distribute.MirroredStrategy()
  logger.info("No GPU visible: training on the CPU")
  return tf.distribute.get_strategy()


def labels_for(features) -> dict:
  """The label of every head (both models are fit on all of them, with different loss weights)."""
  age = tf.cast(features[vocabulary.AGE_KEY], tf.float32)
  return {vocabulary.AGE_BUCKET_KEY: tf.one_hot(features[vocabulary.AGE_BUCKET_KEY], len(vocabulary.AGE_BUCKETS)),
          vocabulary.GENDER_KEY: tf.cast(features[vocabulary.GENDER_KEY], tf.float32)[..., tf.newaxis],
          models.AGE_DISTRIBUTION_KEY: age,
          vocabulary.AGE_KEY: age[..., tf.newaxis]}


def _random_affine(batch: tf.Tensor, cfg: TrainingConfig) -> tf.Tensor:
  """Rotates, zooms and shifts each image of an [N, S, S, 3] batch by its own random amount
  (edges reflected)."""
  n, size = tf.shape(batch)[0], float(cfg.image_size)
  angle = tf.random.uniform([n], -1.0, 1.0) * cfg.max_rotation_degrees * 3.141592653589793 / 180.0
  scale = 1.0 + tf.random.uniform([n], -cfg.max_zoom, cfg.max_zoom)
  shift_x, shift_y = tf.unstack(tf.random.uniform([2, n], -cfg.max_shift, cfg.max_shift) * size)
  cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
  center = (size - 1.0) / 2.0
  zeros = tf.zeros_like(cos)
  # Row i maps output pixel (x, y) of image i to the input pixel it is sampled from.
  transforms = tf.stack([cos, -sin, center - cos * center + sin * center + shift_x,
                         sin, cos, center - sin * center - cos * center + shift_y, zeros, zeros], axis=1)
  return tf.raw_ops.ImageProjectiveTransformV3(
      images=batch, transforms=transforms, output_shape=[cfg.image_size, cfg.image_size], fill_value=0.0,
      interpolation="BILINEAR", fill_mode="REFLECT")


def low_resolution(batch: tf.Tensor, cfg: TrainingConfig) -> tf.Tensor:
  """cfg.low_resolution_share of an [N, S, S, 3] batch downscaled to one random side in
  cfg.low_resolution_sides (area-averaged, as a camera or a thumbnail does) and back up (bilinear, as
  serving's decoder does)."""
  n = tf.shape(batch)[0]
  low, high = cfg.low_resolution_sides
  side = tf.random.uniform([], low, high + 1, dtype=tf.int32)
  small = tf.image.resize(batch, [side, side], method="area")
  blurred = tf.image.resize(small, [cfg.image_size, cfg.image_size], method="bilinear")
  chosen = tf.random.uniform([n, 1, 1, 1]) < cfg.low_resolution_share
  return tf.where(chosen, blurred, batch)


def augment(batch: tf.Tensor, cfg: TrainingConfig) -> tf.Tensor:
  """Label-preserving training augmentation of an [N, S, S, 3] batch, drawn per image: mirror,
  small rotation/zoom/shift, low resolution, brightness, contrast and saturation."""
  n = tf.shape(batch)[0]

  def per_image(low, high):
    return tf.random.uniform([n, 1, 1, 1], low, high)

  batch = tf.where(per_image(0.0, 1.0) < 0.5, tf.image.flip_left_right(batch), batch)
  batch = _random_affine(batch, cfg)
  if cfg.low_resolution_share > 0:
    batch = low_resolution(batch, cfg)
  batch = batch + per_image(-0.1, 0.1)
  mean = tf.reduce_mean(batch, axis=[1, 2, 3], keepdims=True)
  batch = (batch - mean) * per_image(0.8, 1.2) + mean
  gray = tf.reduce_mean(batch, axis=3, keepdims=True)
  batch = (batch - gray) * per_image(0.8, 1.2) + gray
  return tf.clip_by_value(batch, 0.0, 1.0)


def age_group(age: tf.Tensor) -> tf.Tensor:
  """The age decade (0: 0-9 years, ...) of each age, the last one open-ended."""
  return tf.minimum(tf.cast(age, tf.int32) // AGE_GROUP_YEARS, AGE_GROUPS - 1)


def age_group_weights(files, parse_features, age_balance: float) -> tf.Tensor:
  """A loss weight per age decade: the decade's number of images to the power -age_balance, scaled so
  that the mean weight over the images is 1 (0: every image weighs 1; 1: every decade weighs the same)."""
  ds = tf.data.TFRecordDataset(sorted(files), compression_type="GZIP", num_parallel_reads=AUTOTUNE)
  counts = ds.map(lambda serialized: tf.one_hot(age_group(parse_features(serialized)[vocabulary.AGE_KEY]),
                                                AGE_GROUPS), num_parallel_calls=AUTOTUNE) \
      .reduce(tf.zeros([AGE_GROUPS]), lambda total, one: total + one).numpy()
  weights = np.where(counts > 0, np.maximum(counts, 1.0) ** -age_balance, 0.0)
  weights *= counts.sum() / max((weights * counts).sum(), 1e-9)
  logger.info("age-balanced loss weights per decade: %s", np.round(weights, 2).tolist())
  return tf.constant(weights, tf.float32)


def source_weight(source: tf.Tensor, source_weights: dict) -> tf.Tensor:
  """The loss weight of an image from `source` (a string scalar): source_weights' value, else 1."""
  weight = tf.constant(1.0)
  for name, value in sorted(source_weights.items()):
    weight = tf.where(tf.equal(source, name), tf.constant(float(value)), weight)
  return weight


def dataset_from_records(files, parse_features, cfg: TrainingConfig,
                         training: bool) -> tf.data.Dataset:
  """Gzipped TFRecords -> (image batch, label dict) batches, with a per-image loss weight when training
  with cfg.age_balance or cfg.source_weights. Images are decoded and resized once and kept in memory as
  uint8 (a 160 px image is 77 KB: 1.4 GB for UTKFace's train split); augmentation runs on the cached
  images every epoch."""
  age_weights = age_group_weights(files, parse_features, cfg.age_balance) if training and cfg.age_balance else None
  source_weights = cfg.source_weights if training and cfg.source_weights else None
  ds = tf.data.TFRecordDataset(sorted(files), compression_type="GZIP", num_parallel_reads=AUTOTUNE)

  def _decode(serialized):
    features = parse_features(serialized)
    image = images.decode_image(features[vocabulary.IMAGE_KEY], cfg.image_size)
    decoded = tf.cast(tf.round(image * 255.0), tf.uint8), labels_for(features)
    if age_weights is None and source_weights is None:
      return decoded
    weight = tf.constant(1.0)
    if age_weights is not None:
      weight *= tf.gather(age_weights, age_group(features[vocabulary.AGE_KEY]))
    if source_weights is not None:
      weight *= source_weight(features[vocabulary.SOURCE_KEY], source_weights)
    return decoded + (weight,)

  def _to_float(batch, labels, *weight):
    batch = tf.cast(batch, tf.float32) / 255.0
    return ((augment(batch, cfg) if training and cfg.augment else batch), labels) + weight

  ds = ds.map(_decode, num_parallel_calls=AUTOTUNE).cache()
  if training:
    ds = ds.shuffle(cfg.shuffle_buffer, seed=cfg.seed, reshuffle_each_iteration=True)
  return ds.batch(cfg.batch_size).map(_to_float, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def make_dataset(file_pattern, tf_transform_output: tft.TFTransformOutput,
                 cfg: TrainingConfig, training: bool) -> tf.data.Dataset:
  """The Trainer's input: Transform's output examples."""
  patterns = file_pattern if isinstance(file_pattern, (list, tuple)) else [file_pattern]
  feature_spec = tf_transform_output.transformed_feature_spec()
  return dataset_from_records([f for p in patterns for f in tf.io.gfile.glob(p)],
                              lambda serialized: tf.io.parse_single_example(serialized, feature_spec),
                              cfg, training)


def count_records(file_pattern) -> int:
  patterns = file_pattern if isinstance(file_pattern, (list, tuple)) else [file_pattern]
  files = [f for p in patterns for f in tf.io.gfile.glob(p)]
  return int(tf.data.TFRecordDataset(files, compression_type="GZIP").reduce(0, lambda n, _: n + 1))


class ThroughputLogger(keras.callbacks.Callback):
  """Logs a progress line per epoch with images/s, and keeps the history for the run summary."""

  def __init__(self, num_images: int):
    super().__init__()
    self._num_images = num_images
    self.epochs = []

  def on_epoch_begin(self, epoch, logs=None):
    self._start = time.perf_counter()

  def on_epoch_end(self, epoch, logs=None):
    seconds = time.perf_counter() - self._start
    record = {"epoch": epoch + 1, "seconds": seconds, "images_per_second": self._num_images / seconds}
    record.update({k: float(v) for k, v in (logs or {}).items()})
    self.epochs.append(record)
    logger.info("epoch %d: %.1f s, %.0f images/s, %s", epoch + 1, seconds,
                 record["images_per_second"], {k: round(v, 4) for k, v in (logs or {}).items()})


def load_base_weights(model: keras.Model, base_model_dir: str) -> bool:
  """Reads a previously exported model's variables into `model`; False if they do not fit.

  They are read into an optimizer-free copy first (every variable of the copy must be found, with
  its shape; anything else in the checkpoint is ignored), then copied into `model`."""
  if not tf.io.gfile.exists(base_model_dir + "/" + export.VARIABLES + ".index"):
    logger.info("warm start skipped: %s has no variables", base_model_dir)
    return False
  copy = keras.models.clone_model(model)
  try:
    tf.train.Checkpoint(model=copy).read(os.path.join(base_model_dir, export.VARIABLES)) \
        .expect_partial().assert_existing_objects_matched()
  except (ValueError, AssertionError, tf.errors.OpError) as e:  # another architecture (image size, width)
    logger.info("warm start skipped: the base model does not fit this architecture (%s)", str(e)[:200])
    return False
  model.set_weights(copy.get_weights())
  logger.info("warm start from %s", base_model_dir)
  return True


def pretrained_weights_dir(base_model_dir: str) -> Optional[str]:
  """The folder of converted pretrained weights (face_network.WEIGHTS_FILE) that `base_model_dir`
  points into, if it is one: TFX hands a Trainer `<artifact uri>/Format-Serving`."""
  for folder in (base_model_dir, os.path.dirname(base_model_dir.rstrip("/"))):
    if tf.io.gfile.exists(os.path.join(folder, face_network.WEIGHTS_FILE)):
      return folder
  return None


def start_from_base(model: keras.Model, cfg: TrainingConfig, base_model_dir: Optional[str]) -> Optional[str]:
  """Loads the base model's weights: a pretrained face network (the Importer's artifact) or a trained
  model of this project (the regressor's classifier, or the latest blessed model). Returns what the
  model started from, or None."""
  if not base_model_dir:
    return None
  pretrained = pretrained_weights_dir(base_model_dir)
  if pretrained:
    if cfg.backbone != FACERES:
      raise ValueError(f"the base model {pretrained} is a pretrained face network; backbone is {cfg.backbone!r}")
    models.load_pretrained(model, face_network.load_converted(pretrained))
    logger.info("starting from the pretrained face network in %s", pretrained)
    return pretrained
  return base_model_dir if cfg.warm_start and load_base_weights(model, base_model_dir) else None


def fit_temperatures(model: keras.Model, selection_ds: tf.data.Dataset, model_name: str) -> dict:
  """{head: temperature} for the probability heads `model_name` exports, fitted on the selection split
  (trainer/calibration.py), one pass per image as serving_default answers."""
  heads = [h for h in models.EXPORTED_OUTPUTS[model_name] if h in calibration.PROBABILITY_HEADS]
  if not heads:
    return {}
  predictions, labels = {h: [] for h in heads}, {h: [] for h in heads}
  for batch, batch_labels, *_ in selection_ds:
    outputs = model(batch, training=False)
    for head in heads:
      predictions[head].append(outputs[head].numpy())
      label = batch_labels[head].numpy()
      labels[head].append(label.argmax(axis=-1) if head == vocabulary.AGE_BUCKET_KEY else label.reshape(-1))
  temperatures = calibration.fit_temperatures({h: np.concatenate(v) for h, v in predictions.items()},
                                              {h: np.concatenate(v) for h, v in labels.items()})
  logger.info("temperatures fitted on the selection split: %s", temperatures)
  return temperatures


def train_and_export(model_name: str, cfg: TrainingConfig, train_files, selection_files,
                     transform_output_dir: str, serving_model_dir: str, model_run_dir: str,
                     base_model_dir: Optional[str] = None) -> dict:
  """Trains one model on `train_files` and exports its SavedModel; returns the training history.

  `selection_files` (the Trainer's eval_args splits: validation, never the Evaluator's split) choose the
  epoch: early stopping and the restored best weights."""
  keras.utils.set_random_seed(cfg.seed)
  tf_transform_output = tft.TFTransformOutput(transform_output_dir)
  num_train = count_records(train_files)
  steps_per_epoch = max(1, -(-num_train // cfg.batch_size))
  train_ds = make_dataset(train_files, tf_transform_output, cfg, training=True)
  selection_ds = make_dataset(selection_files, tf_transform_output, cfg, training=False)
  with distribution_strategy().scope():
    model = models.build_model(model_name, cfg, steps_per_epoch=steps_per_epoch)
  started_from = start_from_base(model, cfg, base_model_dir)
  throughput = ThroughputLogger(num_train)
  callbacks = [
      throughput,
      # The best epoch on the selection split is kept. Patience is half the schedule: its score is
      # noisy while the learning rate is high, and the cosine schedule's low-rate tail is where it
      # improves most (patience 5 stopped a 60-epoch run at epoch 29, half-way down the schedule).
      keras.callbacks.EarlyStopping(monitor=models.SELECTION_METRIC[model_name], mode="min",
                                    patience=max(5, cfg.epochs // 2), restore_best_weights=True),
      keras.callbacks.TensorBoard(log_dir=os.path.join(model_run_dir, "logs")),
  ]
  num_selection = count_records(selection_files)
  logger.info("Training %s on %d images (epoch chosen on %d others), %d epochs, %d px, batch %d", model_name,
               num_train, num_selection, cfg.epochs, cfg.image_size, cfg.batch_size)
  model.fit(train_ds, validation_data=selection_ds, epochs=cfg.epochs, callbacks=callbacks, verbose=2)
  temperatures = fit_temperatures(model, selection_ds, model_name) if cfg.calibrate else {}
  export.export_serving_model(model, tf_transform_output, model_name, cfg, serving_model_dir, temperatures)
  warmup.write_warmup_requests(serving_model_dir, warmup.images_from_examples(selection_files))
  history = {"model": model_name, "num_train_images": num_train, "num_selection_images": num_selection,
             "config": dataclasses.asdict(cfg),
             "started_from": started_from, "temperatures": temperatures,
             "epochs": throughput.epochs}
  tf.io.gfile.makedirs(model_run_dir)
  with tf.io.gfile.GFile(os.path.join(model_run_dir, "training_history.json"), "w") as f:
    json.dump(history, f, indent=2)
  return history


def run_fn(fn_args) -> None:
  """TFX Trainer entry point (GenericExecutor). The regressor's base model is this run's classifier,
  which it fine-tunes; the classifier's (only with warm_start) is the latest blessed classifier."""
  custom = fn_args.custom_config or {}
  model_name = custom["model"]
  cfg = TrainingConfig(**custom.get("training", {}))
  if model_name == vocabulary.REGRESSOR:
    cfg = dataclasses.replace(cfg, epochs=cfg.regressor_epochs, learning_rate=cfg.regressor_learning_rate,
                              warm_start=True)
  train_and_export(model_name, cfg, fn_args.train_files, fn_args.eval_files, fn_args.transform_output,
                   fn_args.serving_model_dir, fn_args.model_run_dir, base_model_dir=fn_args.base_model)
