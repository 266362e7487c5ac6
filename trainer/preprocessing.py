"""The Transform preprocessing_fn: labels only. JPEG bytes pass through undecoded (decoding here
would materialise float images for the whole dataset in RAM); trainer/images.py decodes them."""
import tensorflow as tf

import vocabulary


def _dense(tensor: tf.Tensor) -> tf.Tensor:
  """[N, 1] fixed-length feature -> [N]."""
  return tf.reshape(tensor, [-1])


def age_bucket(age: tf.Tensor) -> tf.Tensor:
  """0-24 -> 0, 25-49 -> 1, 50-74 -> 2, 75-99 -> 3, 100+ -> 4."""
  last = len(vocabulary.AGE_BUCKETS) - 1
  return tf.minimum(tf.math.floordiv(age, vocabulary.AGE_BUCKET_WIDTH), last)


def preprocessing_fn(inputs):
  """Raw tf.Example features -> {image bytes, age, age_bucket, gender, source}."""
  age = tf.cast(_dense(inputs[vocabulary.AGE_KEY]), tf.int64)
  return {
      vocabulary.IMAGE_KEY: _dense(inputs[vocabulary.IMAGE_KEY]),
      vocabulary.AGE_KEY: tf.cast(age, tf.float32),
      vocabulary.AGE_BUCKET_KEY: age_bucket(age),
      vocabulary.GENDER_KEY: tf.cast(_dense(inputs[vocabulary.GENDER_KEY]), tf.int64),
      vocabulary.SOURCE_KEY: _dense(inputs[vocabulary.SOURCE_KEY]),  # for the Trainer's source weights
  }
