"""The thresholds of the warnings `gender_uncertain` and `age_bucket_uncertain` (application/trust.py: a
face is warned when its answer's probability is below the threshold), chosen on the VALIDATION split: the
split that chooses (eval and test are read for the report only, All-Age-Faces for outside validation only).

The classifier predicts the validation split through its `serving_default` signature (the pre-cropped
UTKFace faces, encoded, as `fdp predict --no-detect` sends them; pipeline/evaluate.py). For each head the
threshold is the smallest on a 0.01 grid at which the unwarned faces reach the head's target accuracy
(TARGET_ACCURACY), i.e. the one that warns the fewest faces (pipeline/metrics.py: choose_threshold).

  .venv/bin/python -m benchmarks.warning_rules --records RECORDS [--model models/classifier] [--update-docs]

RECORDS: an `fdp ingest` output (`fdp ingest utkface UTKFACE_DIR --out RECORDS`). Writes
benchmarks/results/warning_rules.json: per head the target, the chosen threshold, the unwarned and warned
faces' share and accuracy on the validation split, the same at the thresholds set by hand before
(EARLIER_THRESHOLDS) and the head's calibration (ECE, reliability bins, accuracy at coverage); with
--update-docs the table in docs/quality.md. The defaults of application/trust.py are copied from it
(tests/test_calibration.py checks that they agree).
"""
import argparse
import json
import os

import numpy as np

from benchmarks import results_file
from pipeline import evaluate
from pipeline import metrics
from vocabulary import layout
import vocabulary

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(results_file.RESULTS, "warning_rules.json")
SPLIT = layout.VALIDATION
# Gender: 39 in 40 unwarned answers right. Age bucket (about 0.86 right overall on validation): 9 in 10
# unwarned answers right, which warns the least trustworthy tenth or so of the faces.
TARGET_ACCURACY = {vocabulary.GENDER_KEY: 0.975, vocabulary.AGE_BUCKET_KEY: 0.90}
EARLIER_THRESHOLDS = {vocabulary.GENDER_KEY: 0.7, vocabulary.AGE_BUCKET_KEY: 0.5}  # set by hand, for comparison
GRID = np.arange(100) / 100  # candidate thresholds 0.00 ... 0.99
TRUST_FIELDS = {vocabulary.GENDER_KEY: "min_gender_prob", vocabulary.AGE_BUCKET_KEY: "min_age_bucket_prob"}


def rule(confidence, correct, threshold: float) -> dict:
  """The warning rule `confidence < threshold` on a head's answers."""
  return {"threshold": threshold, **metrics.warning_figures(np.asarray(confidence) < threshold, correct)}


def choose(predictions: dict, ages, genders) -> dict:
  """Per head: target accuracy, the chosen rule (None when no threshold reaches the target), the earlier
  hand-set rule and the head's calibration."""
  chosen = {}
  for head, target in TARGET_ACCURACY.items():
    confidence, correct = metrics.top1(predictions, ages, genders, head)
    best = metrics.choose_threshold(confidence, correct, target, GRID)
    chosen[head] = {"trust_field": TRUST_FIELDS[head], "target_accuracy": target,
                    "chosen": rule(confidence, correct, round(best["threshold"], 2)) if best else None,
                    "earlier": rule(confidence, correct, EARLIER_THRESHOLDS[head]),
                    "calibration": metrics.calibration(confidence, correct)}
  return chosen


def run(records: str, model: str) -> dict:
  model_dir, loaded = evaluate.load_model(model)
  if evaluate.model_kind(loaded) != vocabulary.CLASSIFIER:
    raise ValueError(f"{model_dir} is not a classifier")
  labels = evaluate.read_split(records, SPLIT)
  predictions = evaluate.predict(loaded, labels[vocabulary.IMAGE_KEY])
  return {"model": model_dir, "split": SPLIT, "n": int(len(labels[vocabulary.AGE_KEY])),
          "heads": choose(predictions, labels[vocabulary.AGE_KEY], labels[vocabulary.GENDER_KEY])}


def table(result: dict) -> str:
  """The docs/quality.md block: per head the target, the threshold chosen and what it and the earlier one
  leave unwarned on the validation split."""
  def kept(rule):
    return f"{rule['unwarned_share']:.1%} at {rule['unwarned_accuracy']:.3f}"
  rows = [f"| {result['split']} split, {result['n']} faces | target accuracy | threshold chosen | not warned, "
          "at accuracy | warned faces' accuracy | ECE, 10 bins | at the earlier threshold |",
          "|---|---|---|---|---|---|---|"]
  for head, figures in result["heads"].items():
    chosen, earlier = figures["chosen"], figures["earlier"]
    rows.append(f"| {head.replace('_', ' ')} (`{figures['trust_field']}`) | {figures['target_accuracy']:g} | "
                + (f"{chosen['threshold']:g} | {kept(chosen)} | {chosen['warned_accuracy']:.3f}" if chosen
                   else "none reaches it | | ")
                + f" | {figures['calibration']['ece']:.3f} | {earlier['threshold']:g}: {kept(earlier)} |")
  return "\n".join(rows)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--records", required=True, help="an `fdp ingest` output (split folders)")
  parser.add_argument("--model", default=os.path.join(REPO, "models", vocabulary.CLASSIFIER),
                      help="a classifier SavedModel or a folder of numbered versions (the newest is taken)")
  parser.add_argument("--out", default=OUT)
  parser.add_argument("--update-docs", action="store_true", help="rewrite the warning-rules table in docs/quality.md")
  args = parser.parse_args(argv)
  result = run(args.records, args.model)
  results_file.write(args.out, result, results_file.portable(os.path.abspath(result["model"])))
  if args.update_docs:
    results_file.update_block(os.path.join(REPO, "docs", "quality.md"), "warning-rules", table(result))
  print(json.dumps({head: {k: v for k, v in figures.items() if k != "calibration"}
                    for head, figures in result["heads"].items()}, indent=2))


if __name__ == "__main__":
  main()
