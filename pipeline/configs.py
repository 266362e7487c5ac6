"""The pipeline's settings: its name, where things live, the drift and blessing rules, the smoke run's
recipe, the Kubeflow image.

The runners and the CLI read these. The words every package shares (dataset, model and feature names,
age buckets) are in the leaf package vocabulary/; the Trainers' hyper-parameters and their defaults
(the recipe) in trainer/hyperparameters.py.
"""
import dataclasses
import os

from trainer.hyperparameters import TrainingConfig
from vocabulary import layout
import vocabulary

PIPELINE_NAME = "face-demographics"

# What each content-hash split is for (docs/splits.md). The Trainers fit on the training splits and choose
# the epoch (early stopping, restoring the best one) on the selection splits; the Evaluators bless on the
# blessing splits, which no Trainer reads. Nothing in the pipeline reads the test split: it is kept for
# the reported figures (`fdp evaluate --split test`).
TRAINING_SPLITS = (layout.TRAIN,)
SELECTION_SPLITS = (layout.VALIDATION,)
BLESSING_SPLITS = (layout.EVAL,)

# Drift between the statistics of a run and those of the previous run (TFDV drift comparators on the
# train split): feature -> (comparator, threshold). Crossing a threshold is an anomaly.
DRIFT_THRESHOLDS = {
    vocabulary.AGE_KEY: ("jensen_shannon_divergence", 0.1),
    vocabulary.GENDER_KEY: ("infinity_norm", 0.1),
    vocabulary.RACE_KEY: ("infinity_norm", 0.1),
    vocabulary.IMAGE_WIDTH_KEY: ("jensen_shannon_divergence", 0.1),
    vocabulary.IMAGE_HEIGHT_KEY: ("jensen_shannon_divergence", 0.1),
}

# The Kubeflow pipeline image (built from kubeflow/Dockerfile); `fdp run kubeflow --image` overrides.
KUBEFLOW_IMAGE = "ghcr.io/face-demographics/pipeline:0.1.0"
# Where that image keeps the converted pretrained face network (FDP_PRETRAINED_CACHE at build time).
KUBEFLOW_PRETRAINED_CACHE = "/opt/face-demographics/pretrained"

# Where things live by default: the home (FDP_HOME, pipeline outputs, MLMD and the serving root) is
# vocabulary.settings.home(), read when a command runs.
SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema")


def schema_path(dataset: str, more_datasets=()) -> str:
  """The curated, committed schema for a dataset's examples (UTKFace's for its TFRecords), or for several
  datasets' read into one run."""
  datasets = {dataset, *more_datasets}
  if len(datasets) > 1:
    return os.path.join(SCHEMA_DIR, "utkface_wiki.pbtxt")
  return os.path.join(SCHEMA_DIR, f"{vocabulary.WIKI if dataset == vocabulary.WIKI else vocabulary.UTKFACE}.pbtxt")


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
