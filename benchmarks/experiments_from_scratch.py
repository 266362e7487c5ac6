"""Training experiments of the from-scratch family (earlier versions: a residual CNN trained from random
weights): what each change to the model or the training gave, measured on the pipeline's eval split.

Each experiment trains trainer/models.py's network through trainer/train.py's input pipeline with
some TrainingConfig fields changed, then scores the eval split (pipeline/metrics.py, with and without the
test-time mirror image). Results are merged into benchmarks/results/model_experiments.json.

  .venv/bin/python -m benchmarks.experiments_from_scratch --list
  .venv/bin/python -m benchmarks.experiments_from_scratch --table [--update-docs]
  .venv/bin/python -m benchmarks.experiments_from_scratch resnet-64px-w24 [more names...] [--epochs N]

The data is `fdp ingest`'s output, written to --records first if that folder does not exist.
"""
import argparse
import dataclasses
import glob
import json
import os
import time

from benchmarks import experiments
from benchmarks import results_file
from trainer import hyperparameters
from vocabulary import layout
import vocabulary

RESULTS = os.path.join(results_file.RESULTS, "model_experiments.json")
ABOUT = "From-scratch training experiments (benchmarks/experiments_from_scratch.py), eval split."

# The from-scratch recipe these experiments were run with (the TrainingConfig defaults of that time;
# the defaults now fine-tune the pretrained face network).
FROM_SCRATCH = {"backbone": hyperparameters.RESNET, "epochs": 40, "regressor_epochs": 15, "regressor_learning_rate": 5e-4,
                "batch_size": 64, "learning_rate": 2e-3, "trainable_from_block": 0, "max_zoom": 0.1,
                "max_shift": 0.05}
# name -> (model trained, TrainingConfig fields changed from FROM_SCRATCH, what the change is)
EXPERIMENTS = {
    "resnet-64px-w24": (vocabulary.CLASSIFIER, {"image_size": 64}, "residual backbone, multi-task heads, DLDL age, 64 px"),
    "resnet-64px-w24-noaug": (vocabulary.CLASSIFIER, {"image_size": 64, "augment": False},
                              "without rotation/zoom/shift/colour (mirror neither)"),
    "resnet-64px-w16": (vocabulary.CLASSIFIER, {"image_size": 64, "width": 16}, "narrower: width 16 (0.32 M parameters)"),
    "resnet-96px-w24": (vocabulary.CLASSIFIER, {"image_size": 96}, "96 px input"),
}


def score(model, eval_ds, cfg) -> dict:
  """Eval-split metrics, with and without the test-time mirror image."""
  from trainer import export  # pylint: disable=g-import-not-at-top
  outputs = (vocabulary.AGE_BUCKET_KEY, vocabulary.GENDER_KEY, vocabulary.AGE_KEY)

  def both(batch):
    return [export.predict(model, batch, outputs, mirror_average=flip) for flip in (False, True)]
  return dict(experiments.score_dataset(both, eval_ds), params=int(model.count_params()))


def run(name: str, records: str, epochs: int = None) -> dict:
  import keras
  from trainer import models, train
  model_name, changes, what = EXPERIMENTS[name]
  cfg = dataclasses.replace(hyperparameters.TrainingConfig(), **FROM_SCRATCH, **changes)
  if epochs:
    cfg = dataclasses.replace(cfg, epochs=epochs)
  keras.utils.set_random_seed(cfg.seed)
  parse = experiments.raw_parser()
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
            "images_per_second": experiments.median_images_per_second(throughput.epochs),
            "eval": score(model, eval_ds, cfg), "history": throughput.epochs}
  return result


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
  parser.add_argument("--records", default=experiments.DEFAULT_RECORDS)
  parser.add_argument("--epochs", type=int, help="override every experiment's epochs")
  parser.add_argument("--list", action="store_true")
  parser.add_argument("--table", action="store_true", help="print the recorded results as a Markdown table")
  parser.add_argument("--update-docs", action="store_true", help="write that table into docs/experiments.md")
  args = parser.parse_args(argv)
  if args.table or args.update_docs:
    print(markdown_table())
    if args.update_docs:
      results_file.update_block(os.path.join(results_file.REPO, "docs", "experiments.md"), "experiments",
                                markdown_table())
    return
  if args.list or not args.names:
    for name, (model_name, changes, what) in EXPERIMENTS.items():
      print(f"{name:32s} {model_name:10s} {what} {changes}")
    return
  records = experiments.ensure_records(args.records)
  for name in args.names:
    result = run(name, records, args.epochs)
    experiments.save_result(RESULTS, ABOUT, result, EXPERIMENTS)
    print(json.dumps({k: result[k] for k in ("name", "train_seconds", "images_per_second", "eval")}, indent=1),
          flush=True)


if __name__ == "__main__":
  main()
