"""Exported SavedModel signatures.

serving_default     images: string [N] of encoded JPEG/PNG bytes  -> the model's outputs
serving_examples    examples: string [N] of serialized tf.Examples -> the same outputs (TFMA calls this)
transform_features  examples: string [N] of serialized tf.Examples -> transformed features (labels for TFMA)

Outputs: classifier {age_bucket: float [N, 5] probabilities, gender: float [N, 1] P(female)};
regressor {age: float [N, 1] years}.
"""
import os

import keras
import tensorflow as tf
import tensorflow_transform as tft

from pipeline import configs
from trainer import images

SERVING_DEFAULT = "serving_default"
SERVING_EXAMPLES = "serving_examples"
TRANSFORM_FEATURES = "transform_features"
# The Keras weights ride along in the SavedModel's assets.extra (which TF Serving ignores), so a
# later run can warm-start from a blessed model.
KERAS_WEIGHTS = os.path.join("assets.extra", "keras_model.weights.h5")
IMAGES_INPUT = "images"
EXAMPLES_INPUT = "examples"


class ServingModule(tf.Module):
  """Wraps the trained Keras model and the Transform graph into the serving signatures."""

  def __init__(self, model: keras.Model, tf_transform_output: tft.TFTransformOutput, image_size: int):
    super().__init__()
    self.model = model
    self.tft_layer = tf_transform_output.transform_features_layer()
    self._raw_feature_spec = tf_transform_output.raw_feature_spec()
    self._image_size = image_size

  def _predict(self, encoded_images):
    outputs = self.model(images.decode_images(encoded_images, self._image_size), training=False)
    return {name: tf.identity(value, name=name) for name, value in outputs.items()}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=IMAGES_INPUT)])
  def serve_images(self, images_bytes):
    return self._predict(images_bytes)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)])
  def serve_examples(self, serialized):
    spec = {configs.IMAGE_KEY: tf.io.FixedLenFeature([], tf.string)}
    return self._predict(tf.io.parse_example(serialized, spec)[configs.IMAGE_KEY])

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)])
  def transform_features(self, serialized):
    raw = tf.io.parse_example(serialized, self._raw_feature_spec)
    transformed = self.tft_layer(raw)
    transformed.pop(configs.IMAGE_KEY, None)  # labels only: TFMA need not carry image bytes twice
    return transformed


def export_serving_model(model: keras.Model, tf_transform_output: tft.TFTransformOutput,
                         image_size: int, export_dir: str) -> None:
  module = ServingModule(model, tf_transform_output, image_size)
  signatures = {
      SERVING_DEFAULT: module.serve_images.get_concrete_function(),
      SERVING_EXAMPLES: module.serve_examples.get_concrete_function(),
      TRANSFORM_FEATURES: module.transform_features.get_concrete_function(),
  }
  tf.saved_model.save(module, export_dir, signatures=signatures)
  weights = os.path.join(export_dir, KERAS_WEIGHTS)
  tf.io.gfile.makedirs(os.path.dirname(weights))
  model.save_weights(weights)
