"""Keras 3 model builders: one residual backbone with multi-task heads, two models.

Both models see every label; what differs is which heads they are judged on (and export):
  classifier: age bucket (5-way softmax) and gender (sigmoid, P(female)); it also exports its own age
              estimate, so that one pass of one model answers a face in full.
  regressor:  age in years; gender is an auxiliary task.

Age is learned as a distribution over whole years (DLDL: the label is a Gaussian around the true
age, so being off by one year costs little and off by thirty costs a lot), and the estimate is that
distribution's expectation, trained with an L1 loss as well.
"""
import keras
from keras import ops

from trainer import face_network
from trainer.hyperparameters import FACERES, TrainingConfig
import vocabulary

AGE_DISTRIBUTION_KEY = "age_distribution"  # auxiliary output: P(age = 0..MAX_AGE), not exported
AGE_BINS = vocabulary.MAX_AGE + 1
PRETRAINED_GENDER_SIGN = -1.0  # the pretrained gender head gives P(male): measured on UTKFace labels
BN_MOMENTUM = 0.9  # Keras' 0.99 leaves the moving statistics behind: eval predictions collapse

# The outputs each model is exported (served, evaluated) with. The classifier's age is its auxiliary age
# head: one pass of the classifier gives the whole answer (bucket, gender, age).
EXPORTED_OUTPUTS = {
    vocabulary.CLASSIFIER: (vocabulary.AGE_BUCKET_KEY, vocabulary.GENDER_KEY, vocabulary.AGE_KEY),
    vocabulary.REGRESSOR: (vocabulary.AGE_KEY,),
}
# What the Trainer's early stopping watches on the eval split (and restores the best epoch of).
SELECTION_METRIC = {vocabulary.CLASSIFIER: "val_loss", vocabulary.REGRESSOR: "val_age_mean_absolute_error"}
# Loss weights: the judged heads at 1, the auxiliary ones lower.
LOSS_WEIGHTS = {
    vocabulary.CLASSIFIER: {vocabulary.AGE_BUCKET_KEY: 1.0, vocabulary.GENDER_KEY: 1.0,
                         AGE_DISTRIBUTION_KEY: 0.5, vocabulary.AGE_KEY: 0.02},
    vocabulary.REGRESSOR: {vocabulary.AGE_BUCKET_KEY: 0.2, vocabulary.GENDER_KEY: 0.2,
                        AGE_DISTRIBUTION_KEY: 1.0, vocabulary.AGE_KEY: 0.05},
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
  age distribution. sigma 0: no label distribution, the target is the true age's bin alone (plain
  softmax cross-entropy over the age bins)."""

  def __init__(self, sigma: float = 2.0, name="age_distribution_loss", **kwargs):
    super().__init__(name=name, **kwargs)
    self.sigma = sigma

  def call(self, y_true, y_pred):
    ages = ops.arange(AGE_BINS, dtype="float32")
    age = ops.reshape(ops.cast(y_true, "float32"), (-1, 1))
    if self.sigma <= 0:
      target = ops.cast(ops.equal(ages, ops.round(age)), "float32")
    else:
      target = ops.exp(-0.5 * ops.square((ages - age) / self.sigma))
    target = target / ops.sum(target, axis=-1, keepdims=True)
    eps = 1e-7
    return ops.sum(target * (ops.log(target + eps) - ops.log(y_pred + eps)), axis=-1)


class CaffeBGR(keras.layers.Layer):
  """RGB in [0, 1] -> BGR in [0, 255] minus the ImageNet channel means (the pretrained network's input)."""

  def call(self, images):
    bgr = ops.flip(images, axis=-1) * 255.0
    return bgr - ops.convert_to_tensor(face_network.CAFFE_BGR_MEAN, dtype=images.dtype)


def faceres_backbone(images, cfg: TrainingConfig):
  """MobileNet v1 with batch norm folded into the convolutions (names as in the pretrained graph),
  global pooling and the pretrained 256-d feature layer. Blocks before cfg.trainable_from_block stay
  frozen (0: everything trains)."""
  def conv(layer, x, block):
    layer.trainable = block >= cfg.trainable_from_block
    return keras.layers.ReLU(6.0, name=f"{layer.name}_relu")(layer(x))

  x = CaffeBGR(name="caffe_bgr")(images)
  x = conv(keras.layers.Conv2D(32, 3, strides=2, padding="same", name="conv1"), x, 0)
  for block, (filters, stride) in enumerate(face_network.BLOCKS, start=1):
    x = conv(keras.layers.DepthwiseConv2D(3, strides=stride, padding="same", name=f"conv_dw_{block}"), x, block)
    x = conv(keras.layers.Conv2D(filters, 1, name=f"conv_pw_{block}"), x, block)
  x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
  x = keras.layers.Dense(face_network.FEATURES, activation="relu", name="feats")(x)
  return keras.layers.Dropout(cfg.dropout, name="dropout")(x)


def load_pretrained(model: keras.Model, weights: dict) -> None:
  """Sets the backbone's weights from face_network's converted archive, and starts the gender and age
  heads from the pretrained ones: the gender head predicts P(male) there (its sign is flipped to give
  P(female)); the age head's 100 bins are ages 0-99 (the older bins start at a low probability)."""
  for layer in model.layers:
    if f"{layer.name}/kernel" in weights:
      layer.set_weights([weights[f"{layer.name}/kernel"], weights[f"{layer.name}/bias"]])
  gender = model.get_layer(vocabulary.GENDER_KEY)
  gender.set_weights([PRETRAINED_GENDER_SIGN * weights["gender_pred/kernel"],
                      PRETRAINED_GENDER_SIGN * weights["gender_pred/bias"]])
  age = model.get_layer(AGE_DISTRIBUTION_KEY)
  kernel, bias = age.get_weights()
  n = face_network.PRETRAINED_AGE_BINS
  kernel[:, :n], bias[:n] = weights["age_pred/kernel"], weights["age_pred/bias"]
  kernel[:, n:], bias[n:] = 0.0, weights["age_pred/bias"].min() - 2.0
  age.set_weights([kernel, bias])


def heads(features) -> dict:
  age_distribution = keras.layers.Dense(AGE_BINS, activation="softmax", name=AGE_DISTRIBUTION_KEY)(features)
  return {
      vocabulary.AGE_BUCKET_KEY: keras.layers.Dense(
          len(vocabulary.AGE_BUCKETS), activation="softmax", name=vocabulary.AGE_BUCKET_KEY)(features),
      vocabulary.GENDER_KEY: keras.layers.Dense(1, activation="sigmoid", name=vocabulary.GENDER_KEY)(features),
      AGE_DISTRIBUTION_KEY: age_distribution,
      vocabulary.AGE_KEY: Expectation(name=vocabulary.AGE_KEY)(age_distribution),
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
  images = keras.Input((cfg.image_size, cfg.image_size, 3), name=vocabulary.IMAGE_KEY)
  features = faceres_backbone(images, cfg) if cfg.backbone == FACERES else backbone(images, cfg)
  model = keras.Model(images, heads(features), name=model_name)
  model.compile(
      optimizer=optimizer(cfg, steps_per_epoch),
      loss={vocabulary.AGE_BUCKET_KEY: keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
            vocabulary.GENDER_KEY: keras.losses.BinaryCrossentropy(label_smoothing=cfg.label_smoothing),
            AGE_DISTRIBUTION_KEY: AgeDistributionLoss(cfg.age_sigma),
            vocabulary.AGE_KEY: keras.losses.MeanAbsoluteError()},
      loss_weights=LOSS_WEIGHTS[model_name],
      metrics={vocabulary.AGE_BUCKET_KEY: ["categorical_accuracy"],
               vocabulary.GENDER_KEY: ["binary_accuracy"],
               vocabulary.AGE_KEY: ["mean_absolute_error"]})
  return model
