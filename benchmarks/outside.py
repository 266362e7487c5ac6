"""Outside validation: All-Age-Faces photos (another camera, framing and population than UTKFace)
through the product's own path, never used for training or for any split.

`fdp serve` serves the models folder; `fdp predict --json --model both` (face detection and alignment
on) answers for every photo; the largest face found is the photo's answer, and a photo where no face
is found counts as wrong for every metric (its age error is the error of guessing the photo set's
median age).

  .venv/bin/python -m benchmarks.outside [--models models] [--aaf DIR] [--subset] [--detector NAME] [--model both]

Writes benchmarks/results/outside_aaf.json: the figures on all photos ("all") or, with --subset, on the
fixed stratified subset that CI re-computes (tests/test_outside.py), plus outside_aaf.png (gender and
age-bucket accuracy and age MAE per age decade) and calibration_aaf.png (reliability diagrams, accuracy
against coverage). Both runs are kept in the one JSON file. Calibration (`calibration`, over the faces
found): per classifier head the ECE (10 bins) and reliability bins of the answers' probabilities as
`fdp predict` prints them, and what its warning (application/trust.py) did: the share and accuracy of the
faces it left unwarned and of those it warned ("served", the thresholds fdp predict ran with), and the same
at the thresholds set by hand before ("earlier", benchmarks/warning_rules.py).
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time
from typing import Dict, List, Optional

import numpy as np

from application import faces as photo_faces
from application import trust
from benchmarks import calibration_plot
from benchmarks import results_file
from benchmarks import warning_rules
from pipeline import metrics
from vocabulary import settings
import vocabulary

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "benchmarks", "results")
OUT = os.path.join(RESULTS, "outside_aaf.json")
SUBSET_EVERY = 10  # the CI subset: every 10th photo (by file name) of each gender x age-decade cell
TARGETS = {"gender_accuracy": (">=", 0.94), "gender_accuracy_18+": (">=", 0.965), "age_mae": ("<=", 5.0),
           "age_bucket_accuracy": (">=", 0.80)}
CALIBRATION_TARGETS = {"gender_ece": ("<=", 0.015), "age_bucket_ece": ("<=", 0.025),
                       "gender_unwarned_share": (">=", 0.90), "gender_unwarned_accuracy": (">=", 0.975)}
WARNINGS = {vocabulary.GENDER_KEY: trust.GENDER_UNCERTAIN, vocabulary.AGE_BUCKET_KEY: trust.AGE_BUCKET_UNCERTAIN}
MIDDLE_AGES = (40, 69)
COVERAGE_GRID = tuple(np.arange(1, 21) / 20)  # accuracy against coverage, recorded at 0.05, 0.10, ... 1.0


def read_labels(aaf_dir: str) -> List[dict]:
  """labels.csv -> [{file, age, gender (0 male, 1 female as in UTKFace)}], sorted by file name."""
  with open(os.path.join(aaf_dir, "labels.csv")) as f:
    rows = [{"file": r["file"], "age": int(r["age"]), "gender": vocabulary.GENDERS.index(r["gender"])}
            for r in csv.DictReader(f)]
  return sorted(rows, key=lambda r: r["file"])


def stratified_subset(rows: List[dict], every: int = SUBSET_EVERY) -> List[dict]:
  """Every `every`-th row of each gender x age-decade cell (a fixed, balanced subset)."""
  cells: Dict[tuple, List[dict]] = {}
  for row in sorted(rows, key=lambda r: r["file"]):
    cells.setdefault((row["gender"], min(row["age"] // 10, 7)), []).append(row)
  return sorted((r for cell in cells.values() for r in cell[::every]), key=lambda r: r["file"])


def largest_face(record: dict) -> Optional[dict]:
  faces = record.get("faces") or []
  return max(faces, key=lambda face: face["box"][2] * face["box"][3]) if faces else None


def answers_as_predictions(answers: List[Optional[dict]]) -> Dict[str, np.ndarray]:
  """fdp predict's face records (None: no face) -> the models' outputs as pipeline/metrics.py reads them:
  P(female) from the answered gender and its gender_prob; the answered bucket gets its age_bucket_prob and
  the other buckets share the rest evenly (the record holds only the top one). A record without those
  probabilities counts as sure (1.0)."""
  buckets = np.eye(len(vocabulary.AGE_BUCKETS))[[vocabulary.AGE_BUCKETS.index(a["age_bucket"]) if a else 0
                                                  for a in answers]]
  top = np.array([[a.get("age_bucket_prob", 1.0) if a else 1.0] for a in answers]).reshape(-1, 1)
  gender_prob = np.array([a.get("gender_prob", 1.0) if a else 1.0 for a in answers])
  female = np.array([bool(a) and a["gender"] == vocabulary.GENDERS[1] for a in answers])
  return {vocabulary.GENDER_KEY: np.where(female, gender_prob, 1.0 - gender_prob)[:, None],
          vocabulary.AGE_BUCKET_KEY: buckets * top + (1 - buckets) * (1.0 - top) / (len(vocabulary.AGE_BUCKETS) - 1),
          vocabulary.AGE_KEY: np.array([[a["age"] if a else 0.0] for a in answers])}


def calibration(answers: List[Optional[dict]], ages, genders) -> dict:
  """Per classifier head, over the faces found: its calibration (pipeline/metrics.py) and what its warning
  did at the thresholds fdp predict ran with ("served") and at the earlier hand-set ones ("earlier")."""
  kept = [i for i, a in enumerate(answers) if a]
  faces = [answers[i] for i in kept]
  predictions = answers_as_predictions(faces)
  result = {}
  for head, warning in WARNINGS.items():
    confidence, correct = metrics.top1(predictions, np.asarray(ages)[kept], np.asarray(genders)[kept], head)
    warned = [warning in face.get("warnings", []) for face in faces]
    threshold = getattr(trust.Trust(), warning_rules.TRUST_FIELDS[head])
    result[head] = {"calibration": metrics.calibration(confidence, correct, COVERAGE_GRID), "warning": warning,
                    "served": {"threshold": threshold, **metrics.warning_figures(warned, correct)},
                    "earlier": warning_rules.rule(confidence, correct, warning_rules.EARLIER_THRESHOLDS[head])}
  return result


def calibration_figures(result: dict) -> dict:
  """The figures CALIBRATION_TARGETS name, read from a run's result."""
  gender = result["calibration"][vocabulary.GENDER_KEY]["served"]
  return {"gender_ece": result["gender_ece"], "age_bucket_ece": result["age_bucket_ece"],
          "gender_unwarned_share": gender["unwarned_share"], "gender_unwarned_accuracy": gender["unwarned_accuracy"]}


def score(rows: List[dict], records: Dict[str, dict]) -> dict:
  """Overall and per-slice figures of the answers `records` (file name -> fdp predict record)."""
  ages = np.array([r["age"] for r in rows])
  genders = np.array([r["gender"] for r in rows])
  answers = [largest_face(records.get(r["file"], {})) for r in rows]
  found = np.array([a is not None for a in answers])
  predictions = answers_as_predictions(answers)
  fallback_age = float(np.median(ages))  # of the whole set, in every slice

  def figures(mask) -> dict:
    return metrics.face_metrics({k: v[mask] for k, v in predictions.items()}, ages[mask], genders[mask],
                                found[mask], fallback_age)

  result = figures(np.ones(len(rows), bool))
  result["slices"] = {name: figures(mask) for name, mask in metrics.age_range_rows(ages).items()}
  result["slices"].update({f"gender={g}": figures(genders == g) for g in (0, 1)})
  result["by_decade"] = [dict(decade=f"{d * 10}-{d * 10 + 9}", **figures((ages // 10) == d))
                         for d in range(int(ages.max()) // 10 + 1) if ((ages // 10) == d).any()]
  middle_aged = (ages >= MIDDLE_AGES[0]) & (ages <= MIDDLE_AGES[1])
  if middle_aged.any():  # the ages the models were weakest at on this set
    result["slices"][f"age={MIDDLE_AGES[0]}-{MIDDLE_AGES[1]}"] = figures(middle_aged)
  if found.any():
    result["calibration"] = calibration(answers, ages, genders)
  return result


def predict_with_fdp(paths: List[str], models_dir: str, detector: Optional[str] = None,
                     model: str = photo_faces.BOTH) -> Dict[str, dict]:
  """`fdp serve` on the models folder + `fdp predict --json --model MODEL` over the photos:
  file name -> the JSON record fdp predict printed."""
  from tests.serve_process import fdp_serve  # pylint: disable=g-import-not-at-top
  with fdp_serve("--model-base-dir", models_dir) as (_, rest_port, _):
    command = [sys.executable, "-m", "cli", "predict", "--json", "--model", model,
               "--server", f"127.0.0.1:{rest_port}"] + (["--detector", detector] if detector else []) + paths
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
  records = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
  if len(records) != len(paths):
    raise RuntimeError(f"fdp predict answered {len(records)} of {len(paths)} photos: {result.stderr[-2000:]}")
  return {os.path.basename(r["image"]): r for r in records}


def run(aaf_dir: str, models_dir: str, subset: bool, detector: Optional[str] = None, model: str = photo_faces.BOTH) -> dict:
  rows = read_labels(aaf_dir)
  rows = stratified_subset(rows) if subset else rows
  started = time.perf_counter()
  records = predict_with_fdp([os.path.join(aaf_dir, "faces", r["file"]) for r in rows], models_dir, detector, model)
  seconds = time.perf_counter() - started
  result = score(rows, records)
  result.update(photos_per_second=len(rows) / seconds, detector=detector or "default", model=model,
                models=results_file.portable(os.path.abspath(models_dir)))
  result["targets"] = metrics.against_targets(result, TARGETS)
  if "calibration" in result:
    result["calibration_targets"] = metrics.against_targets(calibration_figures(result), CALIBRATION_TARGETS)
  return result


def plot(result: dict, path: str) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  decades = result["by_decade"]
  names = [d["decade"] for d in decades]
  fig, (acc, mae) = plt.subplots(1, 2, figsize=(11, 4))
  acc.plot(names, [d["gender_accuracy"] for d in decades], "o-", label="gender")
  acc.plot(names, [d["age_bucket_accuracy"] for d in decades], "s-", label="age bucket")
  acc.set_ylim(0, 1)
  acc.set_ylabel("accuracy")
  acc.legend()
  mae.bar(names, [d["age_mae"] for d in decades], color="tab:orange")
  mae.set_ylabel("age MAE (years)")
  for ax in (acc, mae):
    ax.set_xlabel("true age")
  fig.suptitle(f"All-Age-Faces, {result['n']} photos through fdp predict (detection on): "
               f"gender {result['gender_accuracy']:.3f}, bucket {result['age_bucket_accuracy']:.3f}, "
               f"MAE {result['age_mae']:.2f}")
  fig.tight_layout()
  fig.savefig(path, dpi=110)


def readme_table(recorded: dict) -> str:
  """The docs/quality.md block: the targets against all photos and the CI subset."""
  runs = [name for name in ("all", "subset") if name in recorded]
  rows = ["| All-Age-Faces through `fdp predict` (detection on) | target | "
          + " | ".join(f"{'all' if r == 'all' else 'CI subset'}: {recorded[r]['n']} photos" for r in runs) + " |",
          "|---|---|" + "---|" * len(runs)]
  rows.append("| faces found | | " + " | ".join(str(recorded[r]["faces_found"]) for r in runs) + " |")
  for name, (op, value) in TARGETS.items():
    cells = []
    for r in runs:
      figure = recorded[r][name]
      met = figure >= value if op == ">=" else figure <= value
      cells.append(f"{figure:.2f} years" if name == "age_mae" else f"{figure:.3f}")
      cells[-1] += "" if met else " (**not met**)"
    label = name.replace("_", " ").replace("18+", "ages 18+").replace("mae", "MAE")
    rows.append(f"| {label} | {op} {value} | " + " | ".join(cells) + " |")
  rows.append("| bucket read off the regressor's age | | "
              + " | ".join(f"{recorded[r]['age_bucket_accuracy_from_age']:.3f}" for r in runs) + " |")
  return "\n".join(rows)


def calibration_table(result: dict) -> str:
  """The docs/quality.md block: calibration and the warnings of one run (all photos), against the targets."""
  runs = {head: result["calibration"][head] for head in WARNINGS}
  measured = calibration_figures(result)
  met = {name: t["met"] for name, t in metrics.against_targets(measured, CALIBRATION_TARGETS).items()}

  def cell(text, *names):
    wanted = " and ".join(f"{CALIBRATION_TARGETS[n][0]} {CALIBRATION_TARGETS[n][1]}" for n in names)
    return f"{text} (target {wanted}{'' if all(met[n] for n in names) else ', **not met**'})"

  def kept(rule):
    return f"{rule['unwarned_share']:.1%} at {rule['unwarned_accuracy']:.3f}"
  gender, bucket = runs[vocabulary.GENDER_KEY], runs[vocabulary.AGE_BUCKET_KEY]
  rows = [f"| All-Age-Faces through `fdp predict`, {result['faces_found']} faces | gender | age bucket |",
          "|---|---|---|",
          "| ECE, 10 bins | " + " | ".join(cell(f"{measured[f'{head}_ece']:.3f}", f"{head}_ece") for head in WARNINGS)
          + " |",
          f"| accuracy, all faces | {gender['calibration']['accuracy']:.3f} | "
          f"{bucket['calibration']['accuracy']:.3f} |",
          f"| warning threshold (`application/trust.py`) | {gender['served']['threshold']:g} | "
          f"{bucket['served']['threshold']:g} |",
          f"| faces not warned, at accuracy | "
          f"{cell(kept(gender['served']), 'gender_unwarned_share', 'gender_unwarned_accuracy')} | "
          f"{kept(bucket['served'])} |",
          f"| warned faces' accuracy | {gender['served']['warned_accuracy']:.3f} | "
          f"{bucket['served']['warned_accuracy']:.3f} |",
          f"| not warned at the earlier thresholds ({gender['earlier']['threshold']:g} / "
          f"{bucket['earlier']['threshold']:g}), at accuracy | {kept(gender['earlier'])} | {kept(bucket['earlier'])} |"]
  return "\n".join(rows)


def slices_table(result: dict) -> str:
  """The model card block: every slice and decade of one run."""
  rows = ["| photos | n | faces found | gender accuracy | age-bucket accuracy | age MAE (years) | mean age error |",
          "|---|---|---|---|---|---|---|"]
  named = [("all", result)] + list(result["slices"].items()) + [(f"age {d['decade']}", d) for d in result["by_decade"]]
  for name, f in named:
    rows.append(f"| {name} | {f['n']} | {f['faces_found']} | {f['gender_accuracy']:.3f} | "
                f"{f['age_bucket_accuracy']:.3f} | {f['age_mae']:.2f} | {f.get('age_mean_error', 0.0):+.1f} |")
  return "\n".join(rows)


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--models", default=os.path.join(REPO, "models"), help="a serving root")
  parser.add_argument("--aaf", default=str(settings.aaf_dir()))
  parser.add_argument("--subset", action="store_true", help="the fixed ~300-photo subset CI re-computes")
  parser.add_argument("--detector", default=None, help="fdp predict --detector (default: its default)")
  parser.add_argument("--model", choices=photo_faces.MODEL_CHOICES, default=photo_faces.BOTH,
                      help="fdp predict --model (classifier: the classifier's one pass "
                      "answers all three, where it exports its own age)")
  parser.add_argument("--out", default=OUT)
  parser.add_argument("--update-docs", action="store_true", help="rewrite the outside-validation table in docs/quality.md")
  args = parser.parse_args()
  result = run(args.aaf, args.models, args.subset, args.detector, args.model)
  recorded = {}
  if os.path.exists(args.out):
    with open(args.out) as f:
      recorded = json.load(f)
  models = results_file.model_versions(args.models)
  recorded["subset" if args.subset else "all"] = {results_file.PROVENANCE: results_file.provenance(models), **result}
  results_file.write(args.out, recorded, models)
  if not args.subset:
    plot(result, os.path.splitext(args.out)[0] + ".png")
    calibration_plot.plot(result["calibration"], os.path.join(os.path.dirname(args.out), "calibration_aaf.png"),
                          f"All-Age-Faces, {result['faces_found']} faces through fdp predict (detection on)")
  if args.update_docs:
    results_file.update_block(os.path.join(REPO, "docs", "quality.md"), "outside", readme_table(recorded))
    if "all" in recorded:
      results_file.update_block(os.path.join(REPO, "docs", "model_card.md"), "outside-slices", slices_table(recorded["all"]))
      results_file.update_block(os.path.join(REPO, "docs", "quality.md"), "calibration",
                                calibration_table(recorded["all"]))
  print(json.dumps({k: v for k, v in result.items() if k not in ("by_decade", "slices", "calibration")}, indent=2))


if __name__ == "__main__":
  main()
