"""The multi-task network: outputs and shapes, the age distribution loss, size, and that a few steps
of training reduce the loss."""
import dataclasses

import numpy as np

from pipeline import configs
from trainer import models

CFG = configs.TrainingConfig(image_size=48, width=16, batch_size=8, epochs=1)


def _images(n):
  return np.random.default_rng(0).random((n, CFG.image_size, CFG.image_size, 3), dtype=np.float32)


def _labels(ages, genders):
  ages = np.asarray(ages, np.float32)
  buckets = np.minimum(ages // 25, 4).astype(int)
  return {"age_bucket": np.eye(5, dtype=np.float32)[buckets], "gender": np.asarray(genders, np.float32)[:, None],
          models.AGE_DISTRIBUTION_KEY: ages, "age": ages[:, None]}


def test_every_head_and_its_shape():
  out = models.build_model(configs.CLASSIFIER, CFG).predict(_images(4), verbose=0)
  assert set(out) == {"age_bucket", "gender", "age", models.AGE_DISTRIBUTION_KEY}
  assert out["age_bucket"].shape == (4, 5) and np.allclose(out["age_bucket"].sum(axis=1), 1, atol=1e-5)
  assert out["gender"].shape == (4, 1) and ((out["gender"] >= 0) & (out["gender"] <= 1)).all()
  distribution = out[models.AGE_DISTRIBUTION_KEY]
  assert distribution.shape == (4, models.AGE_BINS)
  np.testing.assert_allclose(out["age"][:, 0], distribution @ np.arange(models.AGE_BINS), rtol=1e-4)


def test_exported_outputs_are_a_subset_of_the_heads():
  heads = set(models.build_model(configs.REGRESSOR, CFG).output_names)
  for outputs in models.EXPORTED_OUTPUTS.values():
    assert set(outputs) <= heads


def test_age_distribution_loss_grows_with_the_distance_to_the_true_age():
  loss = models.AgeDistributionLoss(sigma=2.0)
  ages = np.arange(models.AGE_BINS, dtype=np.float32)

  def peaked_at(age):
    p = np.exp(-0.5 * ((ages - age) / 2.0) ** 2)
    return (p / p.sum())[None].astype(np.float32)

  values = [float(loss(np.array([30.0]), peaked_at(guess))) for guess in (30, 32, 40, 70)]
  assert values[0] < 1e-3 and values == sorted(values) and values[-1] > 10 * values[1]


def test_default_models_are_small():
  params = models.build_model(configs.CLASSIFIER, configs.TrainingConfig()).count_params()
  assert params * 4 < 4 * 1024 * 1024, params  # float32 weights under 4 MB: the SavedModel stays under 5 MB


def test_training_reduces_the_loss_on_learnable_data():
  ages = (np.arange(64) % 5) * 20 + 10
  x = _images(64) * 0.2 + (ages / 100.0)[:, None, None, None]  # brightness encodes the label
  model = models.build_model(configs.CLASSIFIER, dataclasses.replace(CFG, epochs=8), steps_per_epoch=8)
  history = model.fit(x, _labels(ages, (ages // 20) % 2), epochs=8, batch_size=8, verbose=0).history["loss"]
  assert history[-1] < 0.8 * history[0], history


def test_a_width_the_cpu_kernels_cannot_train_is_refused():
  import pytest
  with pytest.raises(ValueError, match="width must be at least 16"):
    configs.TrainingConfig(width=8)
