"""Benchmark: the whole local pipeline on the full real UTKFace folder.

Writes benchmarks/results/pipeline_full.json (+ a PNG of per-component wall time):
per-component wall time, peak RSS of the run (the process and its children), Trainer images/s,
the evaluation metrics, and a baseline measured in the same run: a plain Keras `fit` of the same
model on the same transformed TFRecords, no TFX around it.

Goals: the whole run (both models) <= 90 min and <= 8 GB RAM on a 2-core machine; Trainer throughput
>= 0.9x the plain fit.

  .venv/bin/python -m benchmarks.pipeline_full [--data DIR] [--home DIR] [--epochs N] [--regressor-epochs N]
      [--baseline-steps N]
"""
import argparse
import glob
import json
import os
import tempfile
import threading
import time

import psutil

from benchmarks import results_file
from vocabulary import settings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "benchmarks", "results")


class PeakRss(threading.Thread):
  """Samples the resident memory of this process plus its children every `interval` seconds."""

  def __init__(self, interval=0.5):
    super().__init__(daemon=True)
    self.peak, self._interval, self._done = 0, interval, threading.Event()

  def run(self):
    me = psutil.Process()
    while not self._done.is_set():
      try:
        rss = me.memory_info().rss + sum(c.memory_info().rss for c in me.children(recursive=True))
      except psutil.Error:
        rss = 0
      self.peak = max(self.peak, rss)
      self._done.wait(self._interval)

  def stop(self):
    self._done.set()
    self.join()


def trainer_histories(home, pipeline_name):
  histories = {}
  for path in glob.glob(os.path.join(home, "pipelines", pipeline_name, "*_trainer", "model_run", "*",
                                     "training_history.json")):
    with open(path) as f:
      history = json.load(f)
    histories[history["model"]] = history
  return histories


def plain_keras_fit_images_per_second(home, pipeline_name, training, model_name, steps):
  """The baseline: the same model, input pipeline and TFRecords, fit by Keras alone (after one
  epoch that fills the decoded-image cache, as the Trainer's later epochs find it filled)."""
  import tensorflow_transform as tft  # pylint: disable=g-import-not-at-top
  from vocabulary import layout  # pylint: disable=g-import-not-at-top
  from trainer import models, train  # pylint: disable=g-import-not-at-top
  transform_dir = sorted(glob.glob(os.path.join(home, "pipelines", pipeline_name, "Transform",
                                                "transform_graph", "*")))[-1]
  examples_dir = sorted(glob.glob(os.path.join(home, "pipelines", pipeline_name, "Transform",
                                               "transformed_examples", "*")))[-1]
  ds = train.make_dataset(os.path.join(examples_dir, layout.split_dir("train"), "*"),
                          tft.TFTransformOutput(transform_dir), training, training=True)
  model = models.build_model(model_name, training, steps_per_epoch=steps)
  model.fit(ds, epochs=1, verbose=0)  # tracing, graph building, decoding into the cache
  start = time.perf_counter()
  model.fit(ds.repeat(), steps_per_epoch=steps, epochs=1, verbose=0)
  return steps * training.batch_size / (time.perf_counter() - start)


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--data", default=str(settings.utkface_dir()))
  parser.add_argument("--home", default=None, help="default: a new temporary folder")
  parser.add_argument("--epochs", type=int, default=None)
  parser.add_argument("--regressor-epochs", type=int, default=None)
  parser.add_argument("--baseline-steps", type=int, default=150, help="0: no plain-fit baseline")
  parser.add_argument("--out", default=os.path.join(RESULTS, "pipeline_full.json"))
  args = parser.parse_args()

  import dataclasses  # pylint: disable=g-import-not-at-top
  from trainer import hyperparameters
  import vocabulary
  from pipeline import local_runner  # pylint: disable=g-import-not-at-top
  training = hyperparameters.TrainingConfig()
  for field in ("epochs", "regressor_epochs"):
    if getattr(args, field) is not None:
      training = dataclasses.replace(training, **{field: getattr(args, field)})
  home = args.home or tempfile.mkdtemp(prefix="fdp-bench-")
  rss = PeakRss()
  rss.start()
  started = time.time()
  summary = local_runner.run_local(args.data, vocabulary.UTKFACE, home, training=training)
  wall = time.time() - started
  rss.stop()
  histories = trainer_histories(home, summary["pipeline_name"])
  result = {
      "data": args.data, "machine": {"cpus": os.cpu_count(), "ram_gb": round(psutil.virtual_memory().total / 2**30, 1)},
      "training": dataclasses.asdict(training),
      "wall_seconds": wall, "peak_rss_gb": rss.peak / 2**30,
      "components": summary["components"], "models": summary["models"], "trainers": {},
  }
  for model_name, history in histories.items():
    per_epoch = sorted(e["images_per_second"] for e in history["epochs"])
    pipeline_ips = per_epoch[len(per_epoch) // 2]
    if not args.baseline_steps:  # --baseline-steps 0: no plain-fit baseline
      result["trainers"][model_name] = {"epochs_run": len(history["epochs"]),
                                        "images_per_second_median_epoch": pipeline_ips}
      continue
    baseline_ips = plain_keras_fit_images_per_second(home, summary["pipeline_name"], training, model_name,
                                                     args.baseline_steps)
    result["trainers"][model_name] = {
        "epochs_run": len(history["epochs"]), "images_per_second_median_epoch": pipeline_ips,
        "plain_keras_fit_images_per_second": baseline_ips, "ratio_vs_plain_fit": pipeline_ips / baseline_ips}
  result["goals"] = {
      "wall_minutes<=90": wall / 60 <= 90, "peak_rss_gb<=8": rss.peak / 2**30 <= 8,
      "throughput_ratio>=0.9": all(t.get("ratio_vs_plain_fit", 0) >= 0.9 for t in result["trainers"].values())}
  results_file.write(args.out, result, results_file.model_versions(os.path.join(home, "serving_model")))
  plot_components(result, os.path.splitext(args.out)[0] + ".png")
  print(json.dumps({k: result[k] for k in ("wall_seconds", "peak_rss_gb", "trainers", "goals")}, indent=2))


def plot_components(result, path):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  components = [c for c in result["components"] if c["seconds"] >= 0.5]
  fig, ax = plt.subplots(figsize=(8, 0.4 * len(components) + 1.5))
  ax.barh([c["id"] for c in components], [c["seconds"] / 60 for c in components], color="tab:blue")
  ax.invert_yaxis()
  ax.set_xlabel("minutes")
  ax.set_title(f"Full UTKFace pipeline: {result['wall_seconds'] / 60:.1f} min, "
               f"peak RSS {result['peak_rss_gb']:.1f} GB")
  fig.tight_layout()
  fig.savefig(path, dpi=110)


if __name__ == "__main__":
  main()
