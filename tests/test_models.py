"""Model builders: output names and shapes, size, and that a few steps of training reduce the loss."""
import numpy as np

from pipeline import configs
from trainer import models

CFG = configs.TrainingConfig(image_size=48, width=8, batch_size=8, epochs=1)


def _images(n):
  return np.random.default_rng(0).random((n, CFG.image_size, CFG.image_size, 3), dtype=np.float32)


def test_classifier_heads():
  model = models.build_classifier(CFG)
  out = model.predict(_images(4), verbose=0)
  assert set(out) == {"age_bucket", "gender"}
  assert out["age_bucket"].shape == (4, 5) and np.allclose(out["age_bucket"].sum(axis=1), 1, atol=1e-5)
  assert out["gender"].shape == (4, 1) and ((out["gender"] >= 0) & (out["gender"] <= 1)).all()


def test_regressor_head_starts_near_the_mean_age():
  model = models.build_regressor(CFG, mean_age=33.0)
  out = model.predict(_images(4), verbose=0)
  assert set(out) == {"age"} and out["age"].shape == (4, 1)
  assert np.all(np.abs(out["age"] - 33.0) < 10)


def test_default_models_are_small():
  cfg = configs.TrainingConfig()
  for build in models.BUILDERS.values():
    params = build(cfg).count_params()
    assert params * 4 < 5 * 1024 * 1024, params  # float32 weights under 5 MB


def test_training_reduces_the_loss_on_learnable_data():
  buckets = np.arange(64) % 5
  x = _images(64) * 0.2 + (buckets / 5.0)[:, None, None, None]  # brightness encodes the label
  labels = {"age_bucket": buckets, "gender": (buckets % 2).astype(np.float32)}
  model = models.build_classifier(CFG, steps_per_epoch=8)
  history = model.fit(x, labels, epochs=8, batch_size=8, verbose=0).history["loss"]
  assert history[-1] < 0.8 * history[0], history
