"""What the shipped models' inference choices are worth, on the UTKFace test split and on the All-Age-Faces
subset of benchmarks/outside.py (its largest face per photo, detected and aligned as `fdp predict` does):
the mirror average (each face and its mirror image) against a single pass, and the age bucket from the
classifier's bucket head against the bucket read off an age estimate (the classifier's auxiliary age head,
the regressor's age).

The SavedModels' weights are read into the Keras network (trainer.train.load_base_weights) and run with and
without the mirror average (trainer.export.predict, the function the exported graph uses).

  .venv/bin/python -m benchmarks.inference_ablations [--models models] [--data UTKFace folder or fdp ingest output]
      [--aaf ../shared/datasets/aaf]

Writes benchmarks/results/inference_ablations.json.
"""
import argparse
import json
import os

import numpy as np

from benchmarks import results_file
from pipeline import evaluate
from pipeline import metrics
from trainer import hyperparameters
from vocabulary import settings
import vocabulary

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "benchmarks", "results", "inference_ablations.json")


def score(predictions: dict, examples: dict) -> dict:
  return metrics.face_metrics(predictions, examples[vocabulary.AGE_KEY], examples[vocabulary.GENDER_KEY])


def load_shipped(models_dir: str, kind: str, cfg):
  """The Keras network with a shipped SavedModel's weights."""
  from trainer import models, train  # pylint: disable=g-import-not-at-top
  model_dir, _ = evaluate.load_model(os.path.join(models_dir, kind))
  model = models.build_model(kind, cfg)
  if not train.load_base_weights(model, model_dir):
    raise ValueError(f"{model_dir} is not the default architecture")
  return model


def run_aaf(models_dir: str, aaf_dir: str) -> dict:
  """The same choices on the All-Age-Faces subset (experiments_pretrained.score_aaf: 'tta' is the mirror average)."""
  from benchmarks import experiments_pretrained  # pylint: disable=g-import-not-at-top
  crops, cfg = experiments_pretrained.aaf_crops(aaf_dir), hyperparameters.TrainingConfig()
  names = {"tta": "mirror_average", "single": "single_pass"}
  result = {}
  for kind in vocabulary.MODELS:
    scores = experiments_pretrained.score_aaf(load_shipped(models_dir, kind, cfg), crops, cfg.image_size)
    for name, metrics in scores.items():
      result[f"aaf/{kind}/{names[name]}"] = metrics
      print("aaf", kind, names[name], metrics, flush=True)
  return result


def run(models_dir: str, data: str) -> dict:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from trainer import export, images  # pylint: disable=g-import-not-at-top
  examples = evaluate.read_split(data, "test")
  cfg = hyperparameters.TrainingConfig()
  heads = (vocabulary.AGE_BUCKET_KEY, vocabulary.GENDER_KEY, vocabulary.AGE_KEY)
  result = {"n": int(len(examples[vocabulary.AGE_KEY]))}
  for kind in vocabulary.MODELS:
    model = load_shipped(models_dir, kind, cfg)
    for name, flip in (("mirror_average", True), ("single_pass", False)):
      batches = []
      for i in range(0, len(examples[vocabulary.IMAGE_KEY]), evaluate.BATCH_SIZE):
        batch = images.decode_images(tf.constant(list(examples[vocabulary.IMAGE_KEY][i:i + evaluate.BATCH_SIZE])),
                                     cfg.image_size)
        batches.append({k: v.numpy() for k, v in export.predict(model, batch, heads, mirror_average=flip).items()})
      predictions = {k: np.concatenate([b[k] for b in batches]) for k in heads}
      result[f"{kind}/{name}"] = score(predictions, examples)
      print(kind, name, result[f"{kind}/{name}"], flush=True)
  return result


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--models", default=os.path.join(REPO, "models"))
  parser.add_argument("--data", default=str(settings.utkface_dir()))
  parser.add_argument("--aaf", default=str(settings.aaf_dir()), help="the All-Age-Faces folder ('': skip)")
  parser.add_argument("--out", default=OUT)
  args = parser.parse_args()
  result = run(args.models, args.data)
  if args.aaf:
    result.update(run_aaf(args.models, args.aaf))
  results_file.write(args.out, result, results_file.model_versions(args.models))


if __name__ == "__main__":
  main()
