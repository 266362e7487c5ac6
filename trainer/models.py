"""Keras 3 model builders: one convolutional backbone, two models.

classifier: age-bucket (5-way softmax) and gender (sigmoid, P(female)) heads on a shared backbone.
regressor:  age in years (linear).
"""
import keras

from pipeline import configs
from pipeline.configs import TrainingConfig


def backbone(images, cfg: TrainingConfig):
  """A small separable-conv network: stem, three down-sampling stages, global pooling.

  BatchNormalization uses momentum 0.9 (Keras' default 0.99 leaves the moving statistics far from
  the batch statistics after a few hundred steps, and the model then predicts one class at eval)."""
  x = keras.layers.Conv2D(cfg.width, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(images)
  x = keras.layers.BatchNormalization(momentum=0.9, name="stem_bn")(x)
  x = keras.layers.Activation("relu", name="stem_relu")(x)
  for stage, multiplier in enumerate((2, 4, 8)):
    for block in range(2):
      name = f"stage{stage}_block{block}"
      x = keras.layers.SeparableConv2D(cfg.width * multiplier, 3, padding="same", use_bias=False,
                                       name=f"{name}_sepconv")(x)
      x = keras.layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
      x = keras.layers.Activation("relu", name=f"{name}_relu")(x)
    x = keras.layers.MaxPooling2D(2, name=f"stage{stage}_pool")(x)
  x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
  return keras.layers.Dropout(cfg.dropout, name="dropout")(x)


def _optimizer(cfg: TrainingConfig, steps_per_epoch: int):
  schedule = keras.optimizers.schedules.CosineDecay(
      cfg.learning_rate, decay_steps=max(1, cfg.epochs * steps_per_epoch), alpha=0.05)
  return keras.optimizers.Adam(schedule)


def build_classifier(cfg: TrainingConfig, steps_per_epoch: int = 1) -> keras.Model:
  images = keras.Input((cfg.image_size, cfg.image_size, 3), name=configs.IMAGE_KEY)
  features = backbone(images, cfg)
  outputs = {
      configs.AGE_BUCKET_KEY: keras.layers.Dense(
          len(configs.AGE_BUCKETS), activation="softmax", name=configs.AGE_BUCKET_KEY)(features),
      configs.GENDER_KEY: keras.layers.Dense(1, activation="sigmoid", name=configs.GENDER_KEY)(features),
  }
  model = keras.Model(images, outputs, name=configs.CLASSIFIER)
  model.compile(
      optimizer=_optimizer(cfg, steps_per_epoch),
      loss={configs.AGE_BUCKET_KEY: "sparse_categorical_crossentropy",
            configs.GENDER_KEY: "binary_crossentropy"},
      metrics={configs.AGE_BUCKET_KEY: ["sparse_categorical_accuracy"],
               configs.GENDER_KEY: ["binary_accuracy"]})
  return model


def build_regressor(cfg: TrainingConfig, steps_per_epoch: int = 1, mean_age: float = 33.0) -> keras.Model:
  images = keras.Input((cfg.image_size, cfg.image_size, 3), name=configs.IMAGE_KEY)
  features = backbone(images, cfg)
  age = keras.layers.Dense(1, name=configs.AGE_KEY,
                           bias_initializer=keras.initializers.Constant(mean_age))(features)
  model = keras.Model(images, {configs.AGE_KEY: age}, name=configs.REGRESSOR)
  model.compile(optimizer=_optimizer(cfg, steps_per_epoch), loss={configs.AGE_KEY: keras.losses.Huber(delta=5.0)},
                metrics={configs.AGE_KEY: ["mean_absolute_error"]})
  return model


BUILDERS = {configs.CLASSIFIER: build_classifier, configs.REGRESSOR: build_regressor}
