"""The multi-task network: outputs and shapes, the age distribution loss, size, and that a few steps
of training reduce the loss."""
import dataclasses

import numpy as np
import pytest

from trainer import hyperparameters
from trainer import models
import vocabulary

CFG = hyperparameters.TrainingConfig(backbone=hyperparameters.RESNET, image_size=48, width=16, batch_size=8, epochs=1)
FACERES_CFG = hyperparameters.TrainingConfig(image_size=64, batch_size=8, epochs=1)


def _images(n):
  return np.random.default_rng(0).random((n, CFG.image_size, CFG.image_size, 3), dtype=np.float32)


def _labels(ages, genders):
  ages = np.asarray(ages, np.float32)
  buckets = np.minimum(ages // 25, 4).astype(int)
  return {"age_bucket": np.eye(5, dtype=np.float32)[buckets], "gender": np.asarray(genders, np.float32)[:, None],
          models.AGE_DISTRIBUTION_KEY: ages, "age": ages[:, None]}


def test_every_head_and_its_shape():
  out = models.build_model(vocabulary.CLASSIFIER, CFG).predict(_images(4), verbose=0)
  assert set(out) == {"age_bucket", "gender", "age", models.AGE_DISTRIBUTION_KEY}
  assert out["age_bucket"].shape == (4, 5) and np.allclose(out["age_bucket"].sum(axis=1), 1, atol=1e-5)
  assert out["gender"].shape == (4, 1) and ((out["gender"] >= 0) & (out["gender"] <= 1)).all()
  distribution = out[models.AGE_DISTRIBUTION_KEY]
  assert distribution.shape == (4, models.AGE_BINS)
  np.testing.assert_allclose(out["age"][:, 0], distribution @ np.arange(models.AGE_BINS), rtol=1e-4)


def test_exported_outputs_are_a_subset_of_the_heads():
  heads = set(models.build_model(vocabulary.REGRESSOR, CFG).output_names)
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


def test_age_sigma_zero_is_cross_entropy_on_the_true_age_bin():
  loss = models.AgeDistributionLoss(sigma=0.0)
  p = np.random.default_rng(0).random((3, models.AGE_BINS)).astype(np.float32)
  p /= p.sum(axis=1, keepdims=True)
  ages = np.array([0.0, 30.0, 124.0], np.float32)
  expected = -np.log(p[np.arange(3), ages.astype(int)] + 1e-7)
  np.testing.assert_allclose([float(loss(ages[i:i + 1], p[i:i + 1])) for i in range(3)], expected, rtol=1e-4)


def test_default_models_are_small():
  params = models.build_model(vocabulary.CLASSIFIER, hyperparameters.TrainingConfig()).count_params()
  assert params * 4 < 18 * 1024 * 1024, params  # float32 weights under 18 MB: the SavedModel stays under 20 MB


def test_the_pretrained_backbone_freezes_the_blocks_before_trainable_from_block():
  model = models.build_model(vocabulary.CLASSIFIER, dataclasses.replace(FACERES_CFG, trainable_from_block=12))
  trainable = {layer.name for layer in model.layers if layer.trainable and layer.weights}
  assert {"conv_dw_12", "conv_pw_12", "conv_dw_13", "conv_pw_13", "feats", "gender", "age_bucket"} <= trainable
  assert not trainable & {"conv1", "conv_dw_1", "conv_pw_11"}
  everything = models.build_model(vocabulary.CLASSIFIER, dataclasses.replace(FACERES_CFG, trainable_from_block=0))
  assert all(layer.trainable for layer in everything.layers if layer.weights)


def test_pretrained_heads_start_from_the_pretrained_ones():
  """load_pretrained: backbone weights by layer name; gender flipped to P(female); the age head's first
  100 bins from the pretrained head, the older ones nearly impossible."""
  model = models.build_model(vocabulary.CLASSIFIER, FACERES_CFG)
  rng = np.random.default_rng(0)
  weights = {f"{layer.name}/{part}": rng.normal(size=w.shape).astype(np.float32)
             for layer in model.layers if layer.name.startswith("conv") or layer.name == "feats"
             for part, w in zip(("kernel", "bias"), layer.get_weights())}
  weights.update({"gender_pred/kernel": rng.normal(size=(256, 1)).astype(np.float32),
                  "gender_pred/bias": np.array([0.3], np.float32),
                  "age_pred/kernel": rng.normal(size=(256, 100)).astype(np.float32),
                  "age_pred/bias": rng.normal(size=100).astype(np.float32)})
  models.load_pretrained(model, weights)
  np.testing.assert_array_equal(model.get_layer("conv_pw_7").get_weights()[0], weights["conv_pw_7/kernel"])
  gender_kernel, gender_bias = model.get_layer("gender").get_weights()
  np.testing.assert_array_equal(gender_kernel, -weights["gender_pred/kernel"])
  assert gender_bias[0] == np.float32(-0.3)
  age_kernel, age_bias = model.get_layer(models.AGE_DISTRIBUTION_KEY).get_weights()
  np.testing.assert_array_equal(age_kernel[:, :100], weights["age_pred/kernel"])
  assert (age_kernel[:, 100:] == 0).all() and (age_bias[100:] < weights["age_pred/bias"].min()).all()


def test_caffe_bgr_input():
  rgb = np.array([[[[1.0, 0.5, 0.0]]]], np.float32)
  out = np.asarray(models.CaffeBGR()(rgb))
  np.testing.assert_allclose(out[0, 0, 0], [0.0 - 103.939, 127.5 - 116.779, 255.0 - 123.68], rtol=1e-5)


@pytest.mark.training
def test_training_reduces_the_loss_on_learnable_data():
  ages = (np.arange(64) % 5) * 20 + 10
  x = _images(64) * 0.2 + (ages / 100.0)[:, None, None, None]  # brightness encodes the label
  model = models.build_model(vocabulary.CLASSIFIER, dataclasses.replace(CFG, epochs=8), steps_per_epoch=8)
  history = model.fit(x, _labels(ages, (ages // 20) % 2), epochs=8, batch_size=8, verbose=0).history["loss"]
  assert history[-1] < 0.8 * history[0], history


def test_a_width_the_cpu_kernels_cannot_train_is_refused():
  with pytest.raises(ValueError, match="width must be at least 16"):
    hyperparameters.TrainingConfig(width=8)
