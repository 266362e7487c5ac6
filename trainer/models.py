"""Keras 3 model builders: one residual backbone with multi-task heads, two models.

Both models see every label; what differs is which heads they are judged on (and export):
  classifier: age bucket (5-way softmax) and gender (sigmoid, P(female)); age is an auxiliary task.
  regressor:  age in years; gender is an auxiliary task.

Age is learned as a distribution over whole years (DLDL: the label is a Gaussian around the true
age, so being off by one year costs little and off by thirty costs a lot), and the estimate is that
distribution's expectation, trained with an L1 loss as well.
"""
import keras
from keras import ops

from pipeline import configs
from pipeline.configs import TrainingConfig

AGE_DISTRIBUTION_KEY = "age_distribution"  # auxiliary output: P(age = 0..MAX_AGE), not exported
AGE_BINS = configs.MAX_AGE + 1
BN_MOMENTUM = 0.9  # Keras' 0.99 leaves the moving statistics behind: eval predictions collapse

# The outputs each model is exported (served, evaluated) with.
EXPORTED_OUTPUTS = {
    configs.CLASSIFIER: (configs.AGE_BUCKET_KEY, configs.GENDER_KEY),
    configs.REGRESSOR: (configs.AGE_KEY,),
}
# What the Trainer's early stopping watches on the eval split (and restores the best epoch of).
SELECTION_METRIC = {configs.CLASSIFIER: "val_loss", configs.REGRESSOR: "val_age_mean_absolute_error"}
# Loss weights: the judged heads at 1, the auxiliary ones lower.
LOSS_WEIGHTS = {
    configs.CLASSIFIER: {configs.AGE_BUCKET_KEY: 1.0, configs.GENDER_KEY: 1.0,
                         AGE_DISTRIBUTION_KEY: 0.5, configs.AGE_KEY: 0.02},
    configs.REGRESSOR: {configs.AGE_BUCKET_KEY: 0.2, configs.GENDER_KEY: 0.2,
                        AGE_DISTRIBUTION_KEY: 1.0, configs.AGE_KEY: 0.05},
}


def _conv_bn(x, filters, stride, name, relu=True, kernel_size=3):
  x = keras.layers.Conv2D(filters, kernel_size, strides=stride, padding="same", use_bias=False,
                          name=f"{name}_conv")(x)
  x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
  return keras.layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


def residual_block(x, filters: int, stride: int, name: str):
  """Two 3x3 convolutions plus a shortcut (1x1 projection when the shape changes)."""
  shortcut = x
  if stride != 1 or x.shape[-1] != filters:
    shortcut = _conv_bn(x, filters, stride, f"{name}_proj", relu=False, kernel_size=1)
  y = _conv_bn(x, filters, stride, f"{name}_a")
  y = _conv_bn(y, filters, 1, f"{name}_b", relu=False)
  y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
  return keras.layers.Activation("relu", name=f"{name}_out")(y)


def backbone(images, cfg: TrainingConfig):
  """Stem (stride 2), four residual stages (the last three halve the resolution), global pooling."""
  x = _conv_bn(images, cfg.width, 2, "stem")
  for stage, multiplier in enumerate(cfg.stage_multipliers):
    for block in range(cfg.blocks_per_stage):
      stride = 2 if stage > 0 and block == 0 else 1
      x = residual_block(x, cfg.width * multiplier, stride, f"stage{stage}_block{block}")
  x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
  return keras.layers.Dropout(cfg.dropout, name="dropout")(x)


class Expectation(keras.layers.Layer):
  """P(age = 0..MAX_AGE) [N, AGE_BINS] -> expected age [N, 1]."""

  def call(self, probabilities):
    ages = ops.arange(AGE_BINS, dtype=probabilities.dtype)
    return ops.sum(probabilities * ages, axis=-1, keepdims=True)


class AgeDistributionLoss(keras.losses.Loss):
  """KL divergence between a Gaussian of width `sigma` years around the true age and the predicted
  age distribution."""

  def __init__(self, sigma: float = 2.0, name="age_distribution_loss", **kwargs):
    super().__init__(name=name, **kwargs)
    self.sigma = sigma

  def call(self, y_true, y_pred):
    ages = ops.arange(AGE_BINS, dtype="float32")
    age = ops.reshape(ops.cast(y_true, "float32"), (-1, 1))
    target = ops.exp(-0.5 * ops.square((ages - age) / self.sigma))
    target = target / ops.sum(target, axis=-1, keepdims=True)
    eps = 1e-7
    return ops.sum(target * (ops.log(target + eps) - ops.log(y_pred + eps)), axis=-1)


def heads(features) -> dict:
  age_distribution = keras.layers.Dense(AGE_BINS, activation="softmax", name=AGE_DISTRIBUTION_KEY)(features)
  return {
      configs.AGE_BUCKET_KEY: keras.layers.Dense(
          len(configs.AGE_BUCKETS), activation="softmax", name=configs.AGE_BUCKET_KEY)(features),
      configs.GENDER_KEY: keras.layers.Dense(1, activation="sigmoid", name=configs.GENDER_KEY)(features),
      AGE_DISTRIBUTION_KEY: age_distribution,
      configs.AGE_KEY: Expectation(name=configs.AGE_KEY)(age_distribution),
  }


def optimizer(cfg: TrainingConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
  """AdamW; one epoch of linear warm-up, then cosine decay to 1 % over the remaining epochs."""
  warmup = min(steps_per_epoch, max(0, cfg.epochs - 1) * steps_per_epoch)
  schedule = keras.optimizers.schedules.CosineDecay(
      cfg.learning_rate * (0.1 if warmup else 1.0), decay_steps=max(1, cfg.epochs * steps_per_epoch - warmup),
      alpha=0.01, warmup_target=cfg.learning_rate if warmup else None, warmup_steps=warmup)
  return keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay)


def build_model(model_name: str, cfg: TrainingConfig, steps_per_epoch: int = 1) -> keras.Model:
  """The multi-task network, compiled with `model_name`'s loss weights."""
  images = keras.Input((cfg.image_size, cfg.image_size, 3), name=configs.IMAGE_KEY)
  model = keras.Model(images, heads(backbone(images, cfg)), name=model_name)
  model.compile(
      optimizer=optimizer(cfg, steps_per_epoch),
      loss={configs.AGE_BUCKET_KEY: keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
            configs.GENDER_KEY: keras.losses.BinaryCrossentropy(label_smoothing=cfg.label_smoothing),
            AGE_DISTRIBUTION_KEY: AgeDistributionLoss(cfg.age_sigma),
            configs.AGE_KEY: keras.losses.MeanAbsoluteError()},
      loss_weights=LOSS_WEIGHTS[model_name],
      metrics={configs.AGE_BUCKET_KEY: ["categorical_accuracy"],
               configs.GENDER_KEY: ["binary_accuracy"],
               configs.AGE_KEY: ["mean_absolute_error"]})
  return model
