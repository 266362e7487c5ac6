"""Model-design experiments on the real UTKFace data: what each change to the model or the training
gave, measured on the pipeline's eval split (the test split is never looked at here).

Each experiment trains trainer/models.py's network through trainer/train.py's input pipeline with
some TrainingConfig fields changed, then scores the eval split. Results are merged into
benchmarks/results/model_experiments.json (one entry per experiment, re-running one replaces it).

  .venv/bin/python benchmarks/model_experiments.py --list
  .venv/bin/python benchmarks/model_experiments.py --table [--update-readme]
  .venv/bin/python benchmarks/model_experiments.py dldl-96px-w24 [more names...] [--epochs N]

The data is `fdp ingest`'s output (same dedup and content-hash split as the pipeline); it is
written to --records first if that folder does not exist.
"""
import argparse
import dataclasses
import glob
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from components import layout  # noqa: E402
from pipeline import configs  # noqa: E402
from pipeline.labels import age_bucket, is_female  # noqa: E402

DATASETS = os.environ.get("FDP_DATASETS", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "datasets"))
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "model_experiments.json")

# The from-scratch recipe these experiments were run with (the TrainingConfig defaults of that time;
# the defaults now fine-tune the pretrained face network).
FROM_SCRATCH = {"backbone": configs.RESNET, "epochs": 40, "regressor_epochs": 15, "regressor_learning_rate": 5e-4,
                "batch_size": 64, "learning_rate": 2e-3, "trainable_from_block": 0, "max_zoom": 0.1,
                "max_shift": 0.05}
# name -> (model trained, TrainingConfig fields changed from FROM_SCRATCH, what the change is)
EXPERIMENTS = {
    "resnet-64px-w24": (configs.CLASSIFIER, {"image_size": 64}, "residual backbone, multi-task heads, DLDL age, 64 px"),
    "resnet-64px-w24-noaug": (configs.CLASSIFIER, {"image_size": 64, "augment": False},
                              "without rotation/zoom/shift/colour (mirror neither)"),
    "resnet-64px-w16": (configs.CLASSIFIER, {"image_size": 64, "width": 16}, "narrower: width 16 (0.32 M parameters)"),
    "resnet-96px-w24": (configs.CLASSIFIER, {"image_size": 96}, "96 px input"),
}


def ensure_records(records: str) -> str:
  if not os.path.isdir(records):
    subprocess.run([sys.executable, "-m", "pipeline.cli", "ingest", configs.UTKFACE,
                    os.path.join(DATASETS, "utkface", "UTKFace"), "--out", records, "--quiet"], check=True)
  return records


def raw_parser():
  import tensorflow as tf
  from trainer import preprocessing
  spec = {configs.IMAGE_KEY: tf.io.FixedLenFeature([], tf.string),
          configs.AGE_KEY: tf.io.FixedLenFeature([], tf.int64),
          configs.GENDER_KEY: tf.io.FixedLenFeature([], tf.int64)}

  def parse(serialized):
    features = tf.io.parse_single_example(serialized, spec)
    features[configs.AGE_BUCKET_KEY] = preprocessing.age_bucket(features[configs.AGE_KEY])
    return features
  return parse


def score(model, eval_ds, cfg) -> dict:
  """Eval-split metrics, with and without the test-time mirror image."""
  import numpy as np
  from trainer import export
  outputs = (configs.AGE_BUCKET_KEY, configs.GENDER_KEY, configs.AGE_KEY)
  results = {}
  for flip in (False, True):
    run_cfg = dataclasses.replace(cfg, test_time_flip=flip)
    predictions, labels = {k: [] for k in outputs}, {k: [] for k in outputs}
    for batch, batch_labels in eval_ds:
      for name, value in export.predict(model, batch, run_cfg, outputs).items():
        predictions[name].append(value.numpy())
        labels[name].append(batch_labels[name].numpy())
    p = {k: np.concatenate(v) for k, v in predictions.items()}
    y = {k: np.concatenate(v) for k, v in labels.items()}
    true_bucket = y[configs.AGE_BUCKET_KEY].argmax(-1)
    age_as_bucket = age_bucket(p[configs.AGE_KEY][:, 0])
    results["tta" if flip else "single"] = {
        "gender_accuracy": float((is_female(p[configs.GENDER_KEY][:, 0]) == (y[configs.GENDER_KEY][:, 0] == 1)).mean()),
        "age_bucket_accuracy": float((p[configs.AGE_BUCKET_KEY].argmax(-1) == true_bucket).mean()),
        "age_bucket_accuracy_from_age": float((age_as_bucket == true_bucket).mean()),
        "age_mae": float(np.abs(p[configs.AGE_KEY][:, 0] - y[configs.AGE_KEY][:, 0]).mean()),
        "n": int(len(true_bucket)),
    }
  results["params"] = int(model.count_params())
  return results


def run(name: str, records: str, epochs: int = None) -> dict:
  import keras
  from trainer import models, train
  model_name, changes, what = EXPERIMENTS[name]
  cfg = dataclasses.replace(configs.TrainingConfig(), **FROM_SCRATCH, **changes)
  if epochs:
    cfg = dataclasses.replace(cfg, epochs=epochs)
  keras.utils.set_random_seed(cfg.seed)
  parse = raw_parser()
  train_files = glob.glob(os.path.join(records, layout.split_dir("train"), "*"))
  eval_files = glob.glob(os.path.join(records, layout.split_dir("eval"), "*"))
  train_ds = train.dataset_from_records(train_files, parse, cfg, training=True)
  eval_ds = train.dataset_from_records(eval_files, parse, cfg, training=False)
  num_train = train.count_records(train_files)
  model = models.build_model(model_name, cfg, steps_per_epoch=-(-num_train // cfg.batch_size))
  throughput = train.ThroughputLogger(num_train)
  start = time.perf_counter()
  model.fit(train_ds, validation_data=eval_ds, epochs=cfg.epochs, callbacks=[throughput], verbose=2)
  seconds = time.perf_counter() - start
  result = {"name": name, "model": model_name, "what": what, "changes": changes, "epochs": cfg.epochs,
            "train_seconds": round(seconds, 1),
            "images_per_second": round(float(sorted(e["images_per_second"] for e in throughput.epochs)[
                len(throughput.epochs) // 2]), 1),
            "eval": score(model, eval_ds, cfg), "history": throughput.epochs}
  return result


def save(result: dict) -> None:
  results = json.load(open(RESULTS)) if os.path.exists(RESULTS) else {"experiments": []}
  results["experiments"] = [r for r in results["experiments"] if r["name"] != result["name"]] + [result]
  os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
  with open(RESULTS, "w") as f:
    json.dump(results, f, indent=2)


def markdown_table() -> str:
  """The recorded experiments as a Markdown table (eval split; each metric without / with the
  test-time mirror image)."""
  rows = ["| experiment | change | epochs | train min | img/s | gender acc | age-bucket acc | "
          "bucket from age | age MAE |", "|---|---|---|---|---|---|---|---|---|"]
  for r in json.load(open(RESULTS))["experiments"]:
    one, both = r["eval"]["single"], r["eval"]["tta"]

    def pair(metric, digits=3):
      return f"{one[metric]:.{digits}f} / {both[metric]:.{digits}f}"
    rows.append(f"| {r['name']} | {r['what']} | {r['epochs']} | {r['train_seconds'] / 60:.1f} | "
                f"{r['images_per_second']:.0f} | {pair('gender_accuracy')} | {pair('age_bucket_accuracy')} | "
                f"{pair('age_bucket_accuracy_from_age')} | {pair('age_mae', 2)} |")
  return "\n".join(rows)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("names", nargs="*")
  parser.add_argument("--records", default=os.path.join("/tmp", "fdp-utkface-records"))
  parser.add_argument("--epochs", type=int, help="override every experiment's epochs")
  parser.add_argument("--list", action="store_true")
  parser.add_argument("--table", action="store_true", help="print the recorded results as a Markdown table")
  parser.add_argument("--update-readme", action="store_true", help="write that table into README.md")
  args = parser.parse_args(argv)
  if args.table or args.update_readme:
    print(markdown_table())
    if args.update_readme:
      import quality  # pylint: disable=g-import-not-at-top  (benchmarks/quality.py, beside this script)
      quality.update_block(os.path.join(quality.REPO, "README.md"), "experiments", markdown_table())
    return
  if args.list or not args.names:
    for name, (model_name, changes, what) in EXPERIMENTS.items():
      print(f"{name:32s} {model_name:10s} {what} {changes}")
    return
  records = ensure_records(args.records)
  for name in args.names:
    result = run(name, records, args.epochs)
    save(result)
    print(json.dumps({k: result[k] for k in ("name", "train_seconds", "images_per_second", "eval")}, indent=1),
          flush=True)


if __name__ == "__main__":
  main()
