"""Image decoding, resizing and normalising: the one function used by the training input
pipeline (tf.data) and inside the exported serving graph, so the two cannot drift."""
import tensorflow as tf


def decode_image(encoded: tf.Tensor, image_size: int) -> tf.Tensor:
  """Encoded JPEG/PNG bytes (scalar string) -> float32 [image_size, image_size, 3] in [0, 1]."""
  image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
  image = tf.image.resize(image, [image_size, image_size], method="bilinear", antialias=True)
  image.set_shape([image_size, image_size, 3])
  return tf.clip_by_value(image / 255.0, 0.0, 1.0)


def decode_images(encoded: tf.Tensor, image_size: int) -> tf.Tensor:
  """A batch of encoded images (string [N]) -> float32 [N, image_size, image_size, 3]."""
  return tf.map_fn(
      lambda x: decode_image(x, image_size), encoded,
      fn_output_signature=tf.TensorSpec([image_size, image_size, 3], tf.float32))
