"""The Trainers' hyper-parameters: handed to trainer/train.py through the Trainer's custom_config
(pipeline/configs.py holds the pipeline's choices of them)."""
import dataclasses
from typing import Optional

# Backbones (TrainingConfig.backbone): the pretrained face network (trainer/face_network.py), fine-tuned,
# or the residual CNN trained from scratch.
FACERES = "faceres"
RESNET = "resnet"


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
  """Hyper-parameters handed to the Trainer through custom_config (benchmarks/experiments_pretrained.py
  records how the defaults were chosen)."""
  epochs: int = 11  # the classifier's
  # The regressor starts from the classifier trained in the same run (same backbone, all heads
  # already trained) and is fine-tuned with age first for this many epochs, at this learning rate.
  regressor_epochs: int = 5
  regressor_learning_rate: float = 1e-4
  image_size: int = 160
  batch_size: int = 32
  learning_rate: float = 3e-4
  weight_decay: float = 1e-4
  # "faceres": the pretrained face network (trainer/face_network.py) fine-tuned from its weights;
  # "resnet": the residual CNN trained from scratch (width, stage_multipliers, blocks_per_stage).
  backbone: str = FACERES
  pretrained_variant: str = "faceres-deep"
  trainable_from_block: int = 6  # faceres: blocks before this one stay frozen (0: all train)
  width: int = 24  # channels of the stem and the first stage
  stage_multipliers: tuple = (1, 2, 4, 8)  # channels of the residual stages, in units of width
  blocks_per_stage: int = 1
  dropout: float = 0.2
  label_smoothing: float = 0.05
  age_sigma: float = 2.0  # years: width of the age label distribution (DLDL); 0: one-hot age target
  # Loss weight of an image: its age decade's share of the training images to the power -age_balance
  # (0: every image the same; 1: every decade weighs the same, as in photo sets balanced by age).
  age_balance: float = 0.0
  # Loss weight of an image by its source (vocabulary.SOURCE_KEY, e.g. {"wiki": 0.5}); sources not named
  # weigh 1. Multiplies the age-balance weight.
  source_weights: Optional[dict] = None
  shuffle_buffer: int = 10000
  augment: bool = True  # flip, rotation, zoom, shift, colour
  max_rotation_degrees: float = 10.0
  max_zoom: float = 0.15  # detector crops of other photos vary in scale and position more than UTKFace's
  max_shift: float = 0.08  # fraction of the image size
  # Share of training images shown at a low resolution (downscaled to a random side in low_resolution_sides,
  # then back up): serving also sees small faces (thumbnails, WIKI's 64x64 photos, faces far from the
  # camera), so blur must not come to mean an age.
  low_resolution_share: float = 0.25
  low_resolution_sides: tuple = (24, 64)
  calibrate: bool = True  # temperature-scale the probability heads, fitted on the selection split
  seed: int = 42
  warm_start: bool = False  # start from the latest blessed model's weights (same architecture)

  def __post_init__(self):
    # TensorFlow 2.16's oneDNN CPU kernels abort the process while training this network with fewer
    # than 16 channels in the first stage (measured: 4, 8 and 12 crash, 16 and 24 train).
    if self.width < 16:
      raise ValueError(f"width must be at least 16, got {self.width}")
