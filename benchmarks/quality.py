"""Quality report of the shipped models on the pipeline's held-out test split of the real UTKFace data.

  .venv/bin/python -m benchmarks.quality [--models models] [--data UTKFace folder or fdp ingest output]
                                         [--wiki-data WIKI folder or fdp ingest output [--wiki-mat FILE]]

Writes benchmarks/results/quality.json (the `fdp evaluate` reports of both models, the age-bucket
confusion matrix, MAE by true age, sizes, the targets and whether each is met) and three plots:
quality_confusion.png, quality_mae_by_age.png, quality_by_group.png.
"""
import argparse
import os

import numpy as np


from benchmarks import results_file
from pipeline import evaluate
from pipeline import metrics
from serving import defaults
from vocabulary import settings
import vocabulary

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "benchmarks", "results")
AGE_BINS = [(0, 10), (10, 20), (20, 30), (30, 40), (40, 50), (50, 60), (60, 70), (70, 80), (80, 90), (90, 117)]
TARGETS = {"gender_accuracy": (">=", 0.955), "gender_accuracy_age=18-59": (">=", 0.975),
           "age_bucket_accuracy": (">=", 0.83), "age_mae": ("<=", 4.3), "saved_model_mb": ("<=", 20.0)}


def folder_mb(path: str) -> float:
  return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files) / 2 ** 20


def confusion_matrix(true_buckets, predicted_buckets) -> list:
  n = len(vocabulary.AGE_BUCKETS)
  matrix = np.zeros((n, n), dtype=int)
  np.add.at(matrix, (true_buckets, predicted_buckets), 1)
  return matrix.tolist()


def mae_by_age(ages, predicted_ages) -> list:
  rows = []
  for low, high in AGE_BINS:
    rows_in = (ages >= low) & (ages < high)
    if rows_in.any():
      scores = metrics.face_metrics({vocabulary.AGE_KEY: predicted_ages[rows_in, None]}, ages[rows_in],
                                    np.zeros(int(rows_in.sum())))
      rows.append({"ages": f"{low}-{high - 1}", "n": scores["n"], "mae": scores["age_mae"],
                   "mean_error": scores["age_mean_error"]})
  return rows


def plot(report: dict, out_dir: str) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  matrix = np.array(report["age_bucket_confusion"])
  shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
  fig, ax = plt.subplots(figsize=(5.5, 4.5))
  ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
  for (i, j), count in np.ndenumerate(matrix):
    ax.text(j, i, f"{count}\n{shares[i, j]:.0%}", ha="center", va="center", fontsize=8,
            color="white" if shares[i, j] > 0.5 else "black")
  ax.set_xticks(range(len(vocabulary.AGE_BUCKETS)), vocabulary.AGE_BUCKETS)
  ax.set_yticks(range(len(vocabulary.AGE_BUCKETS)), vocabulary.AGE_BUCKETS)
  ax.set_xlabel("predicted age bucket")
  ax.set_ylabel("true age bucket")
  ax.set_title(f"Age bucket, test split: accuracy {report['classifier']['overall']['age_bucket_accuracy']:.3f}")
  fig.tight_layout()
  fig.savefig(os.path.join(out_dir, "quality_confusion.png"), dpi=110)

  rows = report["mae_by_age"]
  fig, ax = plt.subplots(figsize=(7, 3.8))
  ax.bar([r["ages"] for r in rows], [r["mae"] for r in rows], color="#4c72b0", label="MAE")
  ax.plot([r["ages"] for r in rows], [r["mean_error"] for r in rows], "o-", color="#dd8452",
          label="mean error (prediction - truth)")
  ax.axhline(0, color="grey", linewidth=0.5)
  for i, r in enumerate(rows):
    ax.text(i, r["mae"] + 0.3, f"n={r['n']}", ha="center", fontsize=7)
  ax.set_xlabel("true age")
  ax.set_ylabel("years")
  ax.set_title(f"Age regressor, test split: MAE {report['regressor']['overall']['age_mae']:.2f} years")
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(os.path.join(out_dir, "quality_mae_by_age.png"), dpi=110)

  groups = [f"{vocabulary.GENDER_KEY}={i}" for i in range(2)] + [f"{vocabulary.RACE_KEY}={i}" for i in range(5)]
  names = list(vocabulary.GENDERS) + list(vocabulary.RACES)
  fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
  x = np.arange(len(groups))
  for offset, metric in ((-0.2, "gender_accuracy"), (0.2, "age_bucket_accuracy")):
    left.bar(x + offset, [report["classifier"]["slices"][g][metric] for g in groups], 0.4,
             label=metric.replace("_", " "))
  left.set_ylim(0.5, 1.0)
  left.set_xticks(x, names, rotation=30)
  left.set_title("Classifier accuracy by group (test split)")
  left.legend(fontsize=8, loc="lower left")
  right.bar(x, [report["regressor"]["slices"][g]["age_mae"] for g in groups], color="#55a868")
  right.set_xticks(x, names, rotation=30)
  right.set_ylabel("MAE (years)")
  right.set_title("Regressor MAE by group (test split)")
  fig.tight_layout()
  fig.savefig(os.path.join(out_dir, "quality_by_group.png"), dpi=110)


def headline_table(report: dict) -> str:
  rows = ["| metric (test split, %d images) | target | measured | met |" % report["n"], "|---|---|---|---|"]
  formats = {"gender_accuracy": "{:.3f}", "gender_accuracy_age=18-59": "{:.3f}", "age_bucket_accuracy": "{:.3f}",
             "age_mae": "{:.2f} years", "saved_model_mb": "{:.2f} MB"}
  for name, t in report["targets"].items():
    rows.append(f"| {name.replace('_', ' ')} | {t['target']} | {formats[name].format(t['measured'])} | "
                f"{'yes' if t['met'] else '**no**'} |")
  return "\n".join(rows)


def slices_table(report: dict) -> str:
  rows = ["| slice | images | gender accuracy | age-bucket accuracy | age MAE (years) |", "|---|---|---|---|---|"]
  classifier, regressor = report[vocabulary.CLASSIFIER], report[vocabulary.REGRESSOR]
  names = ["overall"] + list(classifier["slices"])
  for name in names:
    c = classifier["overall"] if name == "overall" else classifier["slices"][name]
    r = regressor["overall"] if name == "overall" else regressor["slices"][name]
    label = name if name == "overall" else evaluate.slice_label(name)
    n = report["n"] if name == "overall" else c["n"]
    rows.append(f"| {label} | {n} | {c['gender_accuracy']:.3f} | {c['age_bucket_accuracy']:.3f} | {r['age_mae']:.2f} |")
  return "\n".join(rows)


def build_report(models_dir: str, data: str, split: str) -> dict:
  examples = evaluate.read_split(data, split)
  reports, predictions = {}, {}
  for kind in vocabulary.MODELS:
    model_dir, loaded = evaluate.load_model(os.path.join(models_dir, kind))
    predictions[kind] = evaluate.predict(loaded, examples[vocabulary.IMAGE_KEY])
    reports[kind] = metrics.report(model_dir, evaluate.model_kind(loaded), split, examples, predictions[kind])
    reports[kind]["saved_model_mb"] = round(folder_mb(model_dir), 2)
  ages = examples[vocabulary.AGE_KEY]
  measured = {"gender_accuracy": reports[vocabulary.CLASSIFIER]["overall"]["gender_accuracy"],
              "gender_accuracy_age=18-59": reports[vocabulary.CLASSIFIER]["slices"]["age=18-59"]["gender_accuracy"],
              "age_bucket_accuracy": reports[vocabulary.CLASSIFIER]["overall"]["age_bucket_accuracy"],
              "age_mae": reports[vocabulary.REGRESSOR]["overall"]["age_mae"],
              "saved_model_mb": max(r["saved_model_mb"] for r in reports.values())}
  return {
      "split": split, "n": int(len(ages)),
      "classifier": reports[vocabulary.CLASSIFIER], "regressor": reports[vocabulary.REGRESSOR],
      "age_bucket_confusion": confusion_matrix(
          metrics.age_buckets(ages), predictions[vocabulary.CLASSIFIER][vocabulary.AGE_BUCKET_KEY].argmax(axis=-1)),
      "mae_by_age": mae_by_age(ages, predictions[vocabulary.REGRESSOR][vocabulary.AGE_KEY][:, 0]),
      "targets": metrics.against_targets(measured, TARGETS),
  }


def wiki_report(models_dir: str, data: str, split: str, wiki_mat=None) -> dict:
  """Both models on WIKI's split (a WIKI folder with wiki.mat, or its `fdp ingest` output): overall and by
  age range."""
  examples = evaluate.read_split(data, split, vocabulary.WIKI, wiki_mat)
  result = {"split": split, "n": int(len(examples[vocabulary.AGE_KEY]))}
  for kind in vocabulary.MODELS:
    model_dir, loaded = evaluate.load_model(os.path.join(models_dir, kind))
    scored = metrics.report(model_dir, evaluate.model_kind(loaded), split, examples,
                            evaluate.predict(loaded, examples[vocabulary.IMAGE_KEY]))
    result[kind] = {"overall": scored["overall"],
                    "slices": {k: v for k, v in scored["slices"].items() if k.startswith(("age=", "gender="))}}
  return result


def wiki_table(wiki: dict) -> str:
  c, r = wiki[vocabulary.CLASSIFIER], wiki[vocabulary.REGRESSOR]
  rows = [f"| WIKI, {wiki['split']} split ({wiki['n']} images) | gender accuracy | age-bucket accuracy | age MAE (years) |",
          "|---|---|---|---|",
          f"| overall | {c['overall']['gender_accuracy']:.3f} | {c['overall']['age_bucket_accuracy']:.3f} | "
          f"{r['overall']['age_mae']:.2f} |"]
  for name in sorted(c["slices"]):
    rows.append(f"| {evaluate.slice_label(name)} ({c['slices'][name]['n']}) | {c['slices'][name]['gender_accuracy']:.3f} | "
                f"{c['slices'][name]['age_bucket_accuracy']:.3f} | {r['slices'][name]['age_mae']:.2f} |")
  return "\n".join(rows)


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--models", default=defaults.SHIPPED_MODELS_DIR, help="a folder with classifier/ and regressor/")
  parser.add_argument("--data", default=str(settings.utkface_dir()))
  parser.add_argument("--split", default="test")
  parser.add_argument("--wiki-data", help="also WIKI's split: a WIKI folder (wiki.mat inside, or --wiki-mat) or "
                      "its `fdp ingest` output")
  parser.add_argument("--wiki-mat")
  parser.add_argument("--out", default=RESULTS)
  parser.add_argument("--update-docs", action="store_true",
                      help="rewrite the generated tables in README.md and docs/model_card.md")
  args = parser.parse_args()
  report = build_report(args.models, args.data, args.split)
  if args.wiki_data:
    report["wiki"] = wiki_report(args.models, args.wiki_data, args.split, args.wiki_mat)
  results_file.write(os.path.join(args.out, "quality.json"), report, results_file.model_versions(args.models))
  plot(report, args.out)
  if args.update_docs:
    for doc in ("README.md", os.path.join("docs", "model_card.md")):
      results_file.update_block(os.path.join(REPO, doc), "quality-headline", headline_table(report))
    results_file.update_block(os.path.join(REPO, "docs", "model_card.md"), "quality-slices", slices_table(report))
    if "wiki" in report:
      for doc in ("README.md", os.path.join("docs", "model_card.md")):
        results_file.update_block(os.path.join(REPO, doc), "quality-wiki", wiki_table(report["wiki"]))
  print(headline_table(report))
  if "wiki" in report:
    print(wiki_table(report["wiki"]))


if __name__ == "__main__":
  main()
