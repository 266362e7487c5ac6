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
import tensorflow as tf
import tensorflow_transform as tft
import logging

from pipeline import configs
from pipeline.configs import TrainingConfig
from trainer import export, images, models

AUTOTUNE = tf.data.AUTOTUNE
logger = logging.getLogger("fdp.trainer")


def distribution_strategy() -> tf.distribute.Strategy:
  gpus = tf.config.list_physical_devices("GPU")
  if gpus:
    logger.info("Training on %d GPU(s) with MirroredStrategy", len(gpus))
    return tf.distribute.MirroredStrategy()
  logger.info("No GPU visible: training on the CPU")
  return tf.distribute.get_strategy()


def labels_for(features, model_name: str):
  """The label dict a model is fit on, from transformed features."""
  if model_name == configs.CLASSIFIER:
    return {configs.AGE_BUCKET_KEY: features[configs.AGE_BUCKET_KEY],
            configs.GENDER_KEY: tf.cast(features[configs.GENDER_KEY], tf.float32)}
  return {configs.AGE_KEY: features[configs.AGE_KEY]}


def augment(image: tf.Tensor) -> tf.Tensor:
  """Label-preserving training augmentation: mirror, small brightness/contrast changes."""
  image = tf.image.random_flip_left_right(image)
  image = tf.image.random_brightness(image, 0.1)
  image = tf.image.random_contrast(image, 0.85, 1.15)
  return tf.clip_by_value(image, 0.0, 1.0)


def make_dataset(file_pattern, tf_transform_output: tft.TFTransformOutput, model_name: str,
                 cfg: TrainingConfig, training: bool) -> tf.data.Dataset:
  """Transformed, gzipped TFRecords -> (image batch, label dict) batches."""
  patterns = file_pattern if isinstance(file_pattern, (list, tuple)) else [file_pattern]
  files = sorted(f for p in patterns for f in tf.io.gfile.glob(p))
  feature_spec = tf_transform_output.transformed_feature_spec()
  ds = tf.data.TFRecordDataset(files, compression_type="GZIP", num_parallel_reads=AUTOTUNE)
  if training:
    ds = ds.shuffle(cfg.shuffle_buffer, reshuffle_each_iteration=True)

  def _parse(serialized):
    features = tf.io.parse_single_example(serialized, feature_spec)
    image = images.decode_image(features[configs.IMAGE_KEY], cfg.image_size)
    if training and cfg.augment:
      image = augment(image)
    return image, labels_for(features, model_name)

  return ds.map(_parse, num_parallel_calls=AUTOTUNE).batch(cfg.batch_size).prefetch(AUTOTUNE)


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
  """Loads the weights a previous export saved beside its SavedModel; False if they do not fit."""
  weights = os.path.join(base_model_dir, export.KERAS_WEIGHTS)
  if not tf.io.gfile.exists(weights):
    logger.info("warm start skipped: %s has no Keras weights", base_model_dir)
    return False
  try:
    model.load_weights(weights)
  except ValueError as e:  # another architecture (image size, width)
    logger.info("warm start skipped: the base model does not fit this architecture (%s)", e)
    return False
  logger.info("warm start from %s", base_model_dir)
  return True


def train_and_export(model_name: str, cfg: TrainingConfig, train_files, eval_files,
                     transform_output_dir: str, serving_model_dir: str, model_run_dir: str,
                     base_model_dir: Optional[str] = None) -> dict:
  """Trains one model and exports its SavedModel; returns the training history."""
  keras.utils.set_random_seed(cfg.seed)
  tf_transform_output = tft.TFTransformOutput(transform_output_dir)
  num_train = count_records(train_files)
  steps_per_epoch = max(1, -(-num_train // cfg.batch_size))
  train_ds = make_dataset(train_files, tf_transform_output, model_name, cfg, training=True)
  eval_ds = make_dataset(eval_files, tf_transform_output, model_name, cfg, training=False)
  with distribution_strategy().scope():
    model = models.BUILDERS[model_name](cfg, steps_per_epoch=steps_per_epoch)
  warm_started = bool(cfg.warm_start and base_model_dir) and load_base_weights(model, base_model_dir)
  throughput = ThroughputLogger(num_train)
  callbacks = [
      throughput,
      keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
      keras.callbacks.TensorBoard(log_dir=os.path.join(model_run_dir, "logs")),
  ]
  logger.info("Training %s on %d images, %d epochs, %d px, batch %d", model_name, num_train,
               cfg.epochs, cfg.image_size, cfg.batch_size)
  model.fit(train_ds, validation_data=eval_ds, epochs=cfg.epochs, callbacks=callbacks, verbose=2)
  export.export_serving_model(model, tf_transform_output, cfg.image_size, serving_model_dir)
  history = {"model": model_name, "num_train_images": num_train, "config": dataclasses.asdict(cfg),
             "warm_started_from": base_model_dir if warm_started else None,
             "epochs": throughput.epochs}
  tf.io.gfile.makedirs(model_run_dir)
  with tf.io.gfile.GFile(os.path.join(model_run_dir, "training_history.json"), "w") as f:
    json.dump(history, f, indent=2)
  return history


def run_fn(fn_args) -> None:
  """TFX Trainer entry point (GenericExecutor)."""
  custom = fn_args.custom_config or {}
  model_name = custom["model"]
  cfg = TrainingConfig(**custom.get("training", {}))
  train_and_export(model_name, cfg, fn_args.train_files, fn_args.eval_files, fn_args.transform_output,
                   fn_args.serving_model_dir, fn_args.model_run_dir, base_model_dir=fn_args.base_model)
