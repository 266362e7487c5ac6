"""The label rules on NumPy arrays or plain numbers, used wherever labels or predictions are read
(trainer/preprocessing.py's Transform computes the same age buckets in TensorFlow: tests/test_preprocessing.py)."""
import numpy as np

import vocabulary

LAST_AGE_BUCKET = len(vocabulary.AGE_BUCKETS) - 1
GENDER_CUTOFF = 0.5  # P(female) strictly above it reads as female (Keras' and TFMA's binary accuracy rule)


def age_bucket(age):
  """Years (a number or an array) -> age bucket index: min(age // 25, 4), so 0-24 -> 0, ..., 100+ -> 4."""
  return np.minimum(np.asarray(age) // vocabulary.AGE_BUCKET_WIDTH, LAST_AGE_BUCKET).astype(int)


def is_female(p_female):
  """The gender model's P(female) (a number or an array) -> whether it predicts female."""
  return p_female > GENDER_CUTOFF
