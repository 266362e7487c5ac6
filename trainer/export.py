"""Exported SavedModel signatures.

serving_default         images: string [N] of encoded JPEG/PNG bytes  -> the model's outputs (one pass)
serving_mirror_average  images -> the same outputs, averaged over each image and its mirror image (two
                        passes: benchmarks/inference_ablations.py measures what that buys)
serving_examples        examples: string [N] of serialized tf.Examples -> the outputs (one pass; TFMA calls it)
transform_features      examples: string [N] of serialized tf.Examples -> transformed features (labels for TFMA)

Outputs: classifier {age_bucket: float [N, 5] probabilities, gender: float [N, 1] P(female), age: float [N, 1]
years (its own age head: one pass answers a face in full)}; regressor {age: float [N, 1] years}. Probabilities are temperature-scaled (trainer/calibration.py) with the
temperatures the Trainer fitted on the validation split.
"""
import os
from typing import Dict, Optional

import keras
import tensorflow as tf
import tensorflow_transform as tft

from trainer import calibration, images, models
from trainer.hyperparameters import TrainingConfig
import vocabulary
from vocabulary.signatures import (EXAMPLES_INPUT, IMAGES_INPUT, SERVING_DEFAULT, SERVING_EXAMPLES,
                                SERVING_MIRROR_AVERAGE, TRANSFORM_FEATURES)

# The trained weights are the SavedModel's own variables (the Keras model is tracked as `model`), so a
# later run warm-starts from them with an object-based checkpoint read: no second copy is saved.
VARIABLES = os.path.join("variables", "variables")


class ServingModule(tf.Module):
  """Wraps the trained Keras model and the Transform graph into the serving signatures."""

  def __init__(self, model: keras.Model, tf_transform_output: tft.TFTransformOutput, model_name: str,
               cfg: TrainingConfig, temperatures: Optional[Dict[str, float]] = None):
    super().__init__()
    self.model = model
    self.tft_layer = tf_transform_output.transform_features_layer()
    self._raw_feature_spec = tf_transform_output.raw_feature_spec()
    self._cfg = cfg
    self._outputs = models.EXPORTED_OUTPUTS[model_name]
    # Variables, so that a loaded SavedModel tells its temperatures (`loaded.temperatures["gender"]`).
    self.temperatures = {name: tf.Variable(float(value), trainable=False, name=f"{name}_temperature")
                         for name, value in sorted((temperatures or {}).items())}

  def _predict(self, encoded_images, mirror_average: bool = False):
    return predict(self.model, images.decode_images(encoded_images, self._cfg.image_size), self._outputs,
                   mirror_average=mirror_average, temperatures=self.temperatures)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=IMAGES_INPUT)])
  def serve_images(self, images_bytes):
    return self._predict(images_bytes)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=IMAGES_INPUT)])
  def serve_images_mirror_average(self, images_bytes):
    return self._predict(images_bytes, mirror_average=True)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)])
  def serve_examples(self, serialized):
    spec = {vocabulary.IMAGE_KEY: tf.io.FixedLenFeature([], tf.string)}
    return self._predict(tf.io.parse_example(serialized, spec)[vocabulary.IMAGE_KEY])

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)])
  def transform_features(self, serialized):
    raw = tf.io.parse_example(serialized, self._raw_feature_spec)
    transformed = self.tft_layer(raw)
    transformed.pop(vocabulary.IMAGE_KEY, None)  # labels only: TFMA need not carry image bytes twice
    return transformed


def predict(model: keras.Model, batch: tf.Tensor, outputs, mirror_average: bool = False,
            temperatures: Optional[Dict[str, object]] = None) -> dict:
  """The named outputs for a batch of decoded images, the probability heads divided by their
  `temperatures`; with `mirror_average`, the average of the predictions for the images and their
  mirror images."""
  predictions = model(batch, training=False)
  if mirror_average:
    mirrored = model(tf.image.flip_left_right(batch), training=False)
    predictions = {name: (predictions[name] + mirrored[name]) / 2.0 for name in outputs}
  scaled = {}
  for name in outputs:
    value = predictions[name]
    if temperatures and name in temperatures:
      value = calibration.scale_tensor(value, temperatures[name], calibration.PROBABILITY_HEADS[name])
    scaled[name] = tf.identity(value, name=name)
  return scaled


def export_serving_model(model: keras.Model, tf_transform_output: tft.TFTransformOutput, model_name: str,
                         cfg: TrainingConfig, export_dir: str,
                         temperatures: Optional[Dict[str, float]] = None) -> None:
  # A copy without the optimizer: the SavedModel would otherwise also carry the Adam moments
  # (three times the weights' size).
  serving_model = keras.models.clone_model(model)
  serving_model.set_weights(model.get_weights())
  module = ServingModule(serving_model, tf_transform_output, model_name, cfg, temperatures)
  signatures = {
      SERVING_DEFAULT: module.serve_images.get_concrete_function(),
      SERVING_MIRROR_AVERAGE: module.serve_images_mirror_average.get_concrete_function(),
      SERVING_EXAMPLES: module.serve_examples.get_concrete_function(),
      TRANSFORM_FEATURES: module.transform_features.get_concrete_function(),
  }
  tf.saved_model.save(module, export_dir, signatures=signatures)
