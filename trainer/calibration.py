"""Temperature scaling: the classifier's probabilities made to mean what they say.

After training, one temperature per probability head (age bucket: softmax over 5 classes; gender: one
sigmoid) is fitted on the selection split (validation: never the blessing or test split) by minimising
the negative log-likelihood, and the exported graph divides the head's logits by it (Guo et al. 2017, "On
Calibration of Modern Neural Networks"). A temperature changes no prediction's argmax: only how sure it
says it is. The network's heads output probabilities, so the logits are recovered from them: log p for a
softmax (up to a constant per row, which softmax ignores), log(p / (1 - p)) for a sigmoid.
"""
from typing import Dict

import numpy as np

import vocabulary

# The heads that are probabilities, and whether each is one sigmoid (True) or a softmax (False).
PROBABILITY_HEADS = {vocabulary.AGE_BUCKET_KEY: False, vocabulary.GENDER_KEY: True}
TEMPERATURES = np.geomspace(0.25, 4.0, 241)  # the candidates, 1.2 % apart
EPSILON = 1e-7


def scale_numpy(probabilities: np.ndarray, temperature: float, binary: bool) -> np.ndarray:
  """Probabilities of one head with their logits divided by `temperature` (numpy)."""
  p = np.clip(np.asarray(probabilities, dtype=np.float64), EPSILON, 1.0 - EPSILON)
  if binary:
    return 1.0 / (1.0 + np.exp(-np.log(p / (1.0 - p)) / temperature))
  logits = np.log(p) / temperature
  logits -= logits.max(axis=-1, keepdims=True)
  exp = np.exp(logits)
  return exp / exp.sum(axis=-1, keepdims=True)


def scale_tensor(probabilities, temperature, binary: bool):
  """The same in TensorFlow, for the exported graph."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  p = tf.clip_by_value(probabilities, EPSILON, 1.0 - EPSILON)
  if binary:
    return tf.sigmoid(tf.math.log(p / (1.0 - p)) / temperature)
  return tf.nn.softmax(tf.math.log(p) / temperature, axis=-1)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray, binary: bool) -> float:
  p = np.clip(probabilities, EPSILON, 1.0 - EPSILON)
  if binary:
    p, y = p.reshape(-1), np.asarray(labels).reshape(-1)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
  return float(-np.mean(np.log(p[np.arange(len(p)), np.asarray(labels).astype(int)])))


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray, binary: bool) -> float:
  """The temperature (from TEMPERATURES) with the lowest negative log-likelihood of `labels` (class
  indices; 0/1 for a sigmoid)."""
  losses = [negative_log_likelihood(scale_numpy(probabilities, t, binary), labels, binary) for t in TEMPERATURES]
  return float(TEMPERATURES[int(np.argmin(losses))])


def fit_temperatures(predictions: Dict[str, np.ndarray], labels: Dict[str, np.ndarray]) -> Dict[str, float]:
  """{head: temperature} for each probability head present in `predictions` (labels as class indices)."""
  return {head: fit_temperature(predictions[head], labels[head], binary)
          for head, binary in PROBABILITY_HEADS.items() if head in predictions}
