"""The one place for names, paths and defaults of the facial-demographics pipeline.

Runners and the CLI read these; nothing below the pipeline hard-codes them.
"""
import dataclasses
import os

PIPELINE_NAME = "face-demographics"

# Datasets the pipeline knows how to ingest.
UTKFACE = "utkface"
WIKI = "wiki"
TFRECORDS = "tfrecords"  # a folder written by `fdp ingest` (read through ImportExampleGen)
DATASETS = (UTKFACE, WIKI, TFRECORDS)

# The two models trained from the same validated data.
CLASSIFIER = "classifier"  # heads: age bucket (5 classes) + gender
REGRESSOR = "regressor"  # head: age in years
MODELS = (CLASSIFIER, REGRESSOR)

# Backbones (TrainingConfig.backbone): the pretrained face network (trainer/face_network.py), fine-tuned,
# or the residual CNN trained from scratch.
FACERES = "faceres"
RESNET = "resnet"

# Feature names of the tf.Examples written by ingestion.
IMAGE_KEY = "image"  # encoded JPEG bytes
AGE_KEY = "age"
GENDER_KEY = "gender"  # 0 = male, 1 = female (UTKFace convention)
RACE_KEY = "race"  # 0..4 = white, black, asian, indian, others (UTKFace only)
SOURCE_KEY = "source"
SHA256_KEY = "sha256"  # content hash of the image bytes
IMAGE_WIDTH_KEY = "image_width"  # pixels, for statistics and drift checks
IMAGE_HEIGHT_KEY = "image_height"
# Label derived in Transform.
AGE_BUCKET_KEY = "age_bucket"

AGE_BUCKET_WIDTH = 25
AGE_BUCKETS = ("0-24", "25-49", "50-74", "75-99", "100-124")
GENDERS = ("male", "female")
RACES = ("white", "black", "asian", "indian", "others")
MAX_AGE = 124

# New data arriving over time: one folder per span under the data root (the latest span is read).
SPAN_FOLDER = "span-{SPAN}"

# Deterministic split by content hash: name -> hash buckets (80/10/10).
SPLITS = (("train", 8), ("eval", 1), ("test", 1))

# Drift between the statistics of a run and those of the previous run (TFDV drift comparators on the
# train split): feature -> (comparator, threshold). Crossing a threshold is an anomaly.
DRIFT_THRESHOLDS = {
    AGE_KEY: ("jensen_shannon_divergence", 0.1),
    GENDER_KEY: ("infinity_norm", 0.1),
    RACE_KEY: ("infinity_norm", 0.1),
    IMAGE_WIDTH_KEY: ("jensen_shannon_divergence", 0.1),
    IMAGE_HEIGHT_KEY: ("jensen_shannon_divergence", 0.1),
}

# WIKI metadata filters (the original project's filters).
WIKI_MIN_FACE_SCORE = 1.75
WIKI_MAX_AGE = 100
WIKI_CROP_MARGIN = 0.4  # fraction of the face box added on each side

# The Kubeflow pipeline image (built from kubeflow/Dockerfile); `fdp run kubeflow --image` overrides.
KUBEFLOW_IMAGE = "ghcr.io/face-demographics/pipeline:0.1.0"
# Where that image keeps the converted pretrained face network (FDP_PRETRAINED_CACHE at build time).
KUBEFLOW_PRETRAINED_CACHE = "/opt/face-demographics/pretrained"

# Where things live by default. FDP_HOME holds pipeline outputs, MLMD and the serving root.
DEFAULT_HOME = os.environ.get("FDP_HOME", os.path.join(os.getcwd(), "fdp_home"))
# The trained models shipped with the project (a serving root: <model>/<version>/saved_model.pb): the
# checkout's models/; FDP_MODELS_DIR elsewhere (an installed package has no models/; the image sets it).
SHIPPED_MODELS_DIR = os.environ.get(
    "FDP_MODELS_DIR", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models"))
SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema")


def schema_path(dataset: str) -> str:
  """The curated, committed schema for a dataset's examples."""
  return os.path.join(SCHEMA_DIR, f"{WIKI if dataset == WIKI else UTKFACE}.pbtxt")


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
  """Hyper-parameters handed to the Trainer through custom_config (benchmarks/model_experiments.py
  records how the defaults were chosen)."""
  epochs: int = 8  # the classifier's
  # The regressor starts from the classifier trained in the same run (same backbone, all heads
  # already trained) and is fine-tuned with age first for this many epochs, at this learning rate.
  regressor_epochs: int = 4
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
  age_sigma: float = 2.0  # years: width of the age label distribution
  shuffle_buffer: int = 10000
  augment: bool = True  # flip, rotation, zoom, shift, colour
  max_rotation_degrees: float = 10.0
  max_zoom: float = 0.15  # detector crops of other photos vary in scale and position more than UTKFace's
  max_shift: float = 0.08  # fraction of the image size
  test_time_flip: bool = True  # the exported graph averages the image and its mirror image
  seed: int = 42
  warm_start: bool = False  # start from the latest blessed model's weights (same architecture)

  def __post_init__(self):
    # TensorFlow 2.16's oneDNN CPU kernels abort the process while training this network with fewer
    # than 16 channels in the first stage (measured: 4, 8 and 12 crash, 16 and 24 train).
    if self.width < 16:
      raise ValueError(f"width must be at least 16, got {self.width}")


@dataclasses.dataclass(frozen=True)
class EvaluationThresholds:
  """Blessing rules for the Evaluator: an absolute floor plus no regression vs. the last blessed model.

  The floors are sanity checks (better than chance); the change thresholds are what keep a worse
  model out of serving. `max_regression` is how much worse than the baseline a model may be.
  """
  min_gender_accuracy: float = 0.55
  min_age_bucket_accuracy: float = 0.25
  max_age_mae: float = 25.0
  max_regression: float = 0.0


SMOKE_TRAINING = TrainingConfig(epochs=4, regressor_epochs=2, image_size=64, batch_size=32)
SMOKE_THRESHOLDS = EvaluationThresholds(min_gender_accuracy=0.0, min_age_bucket_accuracy=0.0,
                                         max_age_mae=1000.0)
