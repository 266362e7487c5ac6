"""Temperature scaling (trainer/calibration.py): fitted on over- and under-confident predictions, it
recovers the temperature that made them so, and it never changes which class is predicted."""
import numpy as np
import tensorflow as tf

from trainer import calibration


def _softmax(logits):
  e = np.exp(logits - logits.max(axis=-1, keepdims=True))
  return e / e.sum(axis=-1, keepdims=True)


def _calibrated_buckets(n=20000, classes=5, seed=0):
  """Labels drawn from the predicted distribution itself: calibrated by construction."""
  rng = np.random.default_rng(seed)
  logits = rng.normal(0, 2.0, (n, classes))
  p = _softmax(logits)
  labels = np.array([rng.choice(classes, p=row) for row in p])
  return logits, labels


def test_an_over_confident_softmax_gets_its_temperature_back():
  logits, labels = _calibrated_buckets()
  over_confident = _softmax(logits * 2.0)  # logits doubled: temperature 2 undoes it
  assert abs(calibration.fit_temperature(over_confident, labels, binary=False) - 2.0) < 0.15
  assert abs(calibration.fit_temperature(_softmax(logits), labels, binary=False) - 1.0) < 0.08
  assert abs(calibration.fit_temperature(_softmax(logits * 0.5), labels, binary=False) - 0.5) < 0.05


def test_a_sigmoid_too_unsure_is_sharpened():
  rng = np.random.default_rng(1)
  logits = rng.normal(0, 3.0, 20000)
  labels = (rng.uniform(size=logits.size) < 1 / (1 + np.exp(-logits))).astype(int)
  unsure = 1 / (1 + np.exp(-logits / 2.0))
  assert abs(calibration.fit_temperature(unsure, labels, binary=True) - 0.5) < 0.05


def test_scaling_keeps_the_argmax_and_numpy_agrees_with_tensorflow():
  logits, _ = _calibrated_buckets(n=200)
  p = _softmax(logits)
  for t in (0.5, 1.0, 1.7):
    scaled = calibration.scale_numpy(p, t, binary=False)
    np.testing.assert_array_equal(scaled.argmax(-1), p.argmax(-1))
    np.testing.assert_allclose(scaled.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(calibration.scale_tensor(tf.constant(p, tf.float32), t, binary=False).numpy(),
                               scaled, atol=1e-5)
    g = p[:, :1]
    np.testing.assert_array_equal(calibration.scale_numpy(g, t, binary=True) > 0.5, g > 0.5)
    np.testing.assert_allclose(calibration.scale_tensor(tf.constant(g, tf.float32), t, binary=True).numpy(),
                               calibration.scale_numpy(g, t, binary=True), atol=1e-5)


def test_fit_temperatures_fits_only_the_probability_heads():
  logits, labels = _calibrated_buckets(n=2000)
  fitted = calibration.fit_temperatures({"age_bucket": _softmax(logits), "age": np.zeros((2000, 1))},
                                        {"age_bucket": labels, "age": np.zeros(2000)})
  assert set(fitted) == {"age_bucket"}
