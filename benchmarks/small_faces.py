"""Benchmark (not a test): small faces through the product path with its default settings.

The photos go through `fdp predict`'s detection and alignment with no threshold given
(application/face_detection.py: detect_faces, the default minimum face for the photo's size), the photo's
largest face is its answer (a photo without a face counts as wrong), and its crop goes to the shipped
models, loaded directly and called through their `serving_default` signature with the JPEG crops, as
the model server calls them (pipeline/evaluate.py). Scores: pipeline/metrics.py.

- Detection rules: faces found on N random WIKI 64x64 face crops of the validation split (fixed seed) and on face-free small
  photos (crops of scikit-image's photos without a face, 32-160 px) with a fixed 40 px minimum face (the
  earlier default) and with the minimum face a fraction of the photo's shorter side (at least 12 px):
  how application/detectors.py's rule for small photos was chosen.
- WIKI 64x64: N random photos of the test split with the defaults: faces found, their boxes, gender accuracy and age MAE
  against wiki.mat's labels; also each whole image sent as the face (`--no-detect`).
- Face size: the photos of UTKFace's validation split (the warning's size is a choice: never made on
  All-Age-Faces, eval or test) downscaled so that the face's box is 16 ... 96 px wide, each run through the same path: faces found, gender accuracy and age
  MAE per size, on the faces found at that size and on those found at every size ("paired": only the
  size differs). The warning face_too_small (application/trust.py) marks faces narrower than the smallest
  size from which on the paired figures stay within MAX_GENDER_DROP and MAX_MAE_RISE of full size.

  .venv/bin/python -m benchmarks.small_faces [--serving-root models] [--wiki-photos 1000] [--face-size-photos 0]

Writes benchmarks/results/small_faces.json and small_faces.png (accuracy and MAE against face size).
"""
import argparse
import json
import os
import random
import sys
import time
from typing import Callable, Dict, List, Sequence

import numpy as np

from benchmarks import results_file
from vocabulary import settings
import vocabulary

FACE_SIZES = (16, 24, 32, 40, 48, 64, 96)  # the face's box side after downscaling, px
FULL = "full"
MAX_GENDER_DROP, MAX_MAE_RISE = 0.01, 0.5  # against full size: where quality falls off measurably
FRACTIONS = (0.15, 0.2, 0.25, 0.3, 0.35)  # minimum face as a fraction of the photo's shorter side
FACE_FREE_IMAGES = ("binary_blobs", "brick", "cat", "cell", "checkerboard", "chelsea", "clock", "coffee", "coins",
                    "colorwheel", "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo",
                    "microaneurysms", "moon", "page", "retina", "rocket", "text")  # scikit-image, no face in any
FACE_FREE_SIDES = (32, 48, 64, 96, 128, 160)
FACE_FREE_PHOTOS = 600
CHUNK = 64  # photos whose crops are predicted together
OUTPUTS = (vocabulary.GENDER_KEY, vocabulary.AGE_BUCKET_KEY, vocabulary.AGE_KEY)
REPORTED = ("n", "faces_found", "gender_accuracy", "age_bucket_accuracy", "age_mae", "age_mean_error")


class Models:
  """The classifier and the regressor of a serving root (newest versions), called as the server calls them."""

  def __init__(self, serving_root: str):
    from pipeline import evaluate  # pylint: disable=g-import-not-at-top  (TensorFlow)
    self._evaluate = evaluate
    self._loaded = [evaluate.load_model(os.path.join(serving_root, model))[1] for model in vocabulary.MODELS]

  def predict(self, crops: Sequence[bytes]) -> Dict[str, np.ndarray]:
    outputs = {}
    for loaded in self._loaded:
      outputs.update(self._evaluate.predict(loaded, list(crops)))
    return outputs


def answers(models: Models, photos: Sequence[bytes], detect: Callable[[bytes], list]) -> Dict[str, np.ndarray]:
  """Each photo's largest face: {found, box (its shorter side, 0 without a face), detect_ms, and the models'
  outputs (zeros without a face)}, one row per photo."""
  found, boxes, crops, detect_ms = [], [], [], []
  for data in photos:
    start = time.perf_counter()
    faces = detect(data)
    detect_ms.append((time.perf_counter() - start) * 1000)
    face = max(faces, key=lambda f: f.box[2] * f.box[3]) if faces else None
    found.append(face is not None)
    boxes.append(min(face.box[2:]) if face else 0)
    if face:
      crops.append(face.crop_jpeg)
  rows = {"found": np.array(found, bool), "box": np.array(boxes, float), "detect_ms": np.array(detect_ms)}
  outputs = models.predict(crops) if crops else {}
  for name in OUTPUTS:
    width = len(vocabulary.AGE_BUCKETS) if name == vocabulary.AGE_BUCKET_KEY else 1
    rows[name] = np.zeros((len(photos), width))
    if crops:
      rows[name][rows["found"]] = outputs[name].reshape(len(crops), width)
  return rows


def joined(parts: List[Dict[str, np.ndarray]]) -> Dict[str, np.ndarray]:
  return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def scores(rows: Dict[str, np.ndarray], ages, genders, mask=None) -> dict:
  """pipeline/metrics.py's figures of the rows in `mask` (a row without a face counts as wrong)."""
  from pipeline import metrics  # pylint: disable=g-import-not-at-top
  mask = np.ones(len(ages), bool) if mask is None else mask
  figures = metrics.face_metrics({name: rows[name][mask] for name in OUTPUTS}, np.asarray(ages)[mask],
                                 np.asarray(genders)[mask], rows["found"][mask], float(np.median(ages)))
  return {name: round(figures[name], 4) if isinstance(figures[name], float) else figures[name] for name in REPORTED}


def box_sizes(rows) -> dict:
  boxes = rows["box"][rows["found"]]
  if not len(boxes):
    return {}
  return {name: round(float(value), 1) for name, value in zip(("p5", "median", "p95"), np.percentile(boxes, [5, 50, 95]))}


def face_free_photos(count: int = FACE_FREE_PHOTOS, seed: int = 1):
  """`count` small photos without a face: random square crops (a fifth of the image's shorter side or
  more) of scikit-image's face-free photos, resized to FACE_FREE_SIDES."""
  import skimage.data  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  images = []
  for name in FACE_FREE_IMAGES:
    pixels = np.asarray(getattr(skimage.data, name)())
    if pixels.dtype != np.uint8:  # booleans, floats: stretched to 0-255
      pixels = pixels.astype(float)
      pixels = (255 * (pixels - pixels.min()) / max(1e-9, pixels.max() - pixels.min())).astype(np.uint8)
    images.append(Image.fromarray(pixels).convert("RGB"))
  rng = random.Random(seed)
  photos = []
  for _ in range(count):
    image = rng.choice(images)
    side = rng.uniform(0.2, 1.0) * min(image.size)
    x, y = rng.uniform(0, image.width - side), rng.uniform(0, image.height - side)
    out = rng.choice(FACE_FREE_SIDES)
    photos.append(image.resize((out, out), Image.Resampling.LANCZOS, box=(x, y, x + side, y + side)))
  return photos


def found_by_rule(photos) -> dict:
  """Photos with a face found, per rule for the minimum face: the detector's fixed default, and each
  fraction of FRACTIONS (of the photo's shorter side, at most the default, at least 12 px)."""
  from application import detectors, face_detection  # pylint: disable=g-import-not-at-top
  spec = detectors.DETECTORS[detectors.DEFAULT]
  rules = {f"fixed_{spec.min_face_size}px": lambda size: spec.min_face_size}
  rules.update({f"fraction_{fraction:g}": (lambda size, f=fraction: spec.default_min_face_size(size, f))
                for fraction in FRACTIONS})
  return {name: sum(bool(face_detection.locate_faces(photo, min_face_size=rule(photo.size))) for photo in photos)
          for name, rule in rules.items()}


def wiki_sample(count: int, seed: int, split: str):
  """`count` random WIKI 64x64 images of one split (as ingestion splits them) that pass the dataset's
  filters: [FaceLabels] (path, age, gender)."""
  from components import ingest, wiki  # pylint: disable=g-import-not-at-top
  labelled = [labels for labels in wiki.labelled_images(str(settings.wiki_crop_64_dir()), str(settings.wiki_mat()))
              if ingest.split_of(labels) == split]
  return random.Random(seed).sample(labelled, min(count, len(labelled)))


def read(path: str) -> bytes:
  with open(path, "rb") as f:
    return f.read()


def wiki_figures(models: Models, count: int, seed: int) -> dict:
  """The models' answers through the product's path on WIKI's test split (never trained on, the report),
  and the detection rule's found counts on its validation split (where the rule is chosen)."""
  from application import face_detection, faces  # pylint: disable=g-import-not-at-top
  from vocabulary import layout  # pylint: disable=g-import-not-at-top
  sample = wiki_sample(count, seed, layout.TEST)
  photos = [read(labels.path) for labels in sample]
  ages, genders = [labels.age for labels in sample], [labels.gender for labels in sample]
  detected = answers(models, photos, face_detection.detect_faces)
  whole = answers(models, photos, lambda data: [face_detection.Face(*face) for face in faces.whole_image(data)])
  choosing = [face_detection.decode_photo(read(labels.path)) for labels in wiki_sample(count, seed, layout.VALIDATION)]
  return {"split": layout.TEST, "photos": len(sample), "seed": seed, "image_size": list(choosing[0].size),
          "found": int(detected["found"].sum()), "box_px": box_sizes(detected),
          "detect_ms_median": round(float(np.median(detected["detect_ms"])), 1),
          "defaults": scores(detected, ages, genders), "whole_image": scores(whole, ages, genders),
          "found_by_rule_split": layout.VALIDATION, "found_by_rule_photos": len(choosing),
          "found_by_rule": found_by_rule(choosing)}


def downscaled(photo, face_side: float, target: int) -> bytes:
  """The photo resized (Lanczos, as a smaller photo would be) so that a face of `face_side` px is `target`
  px, as JPEG."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from application import face_detection  # pylint: disable=g-import-not-at-top
  scale = target / face_side
  size = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
  return face_detection.encode_jpeg(photo.resize(size, Image.Resampling.LANCZOS))


def face_size_rows(models: Models, paths: Sequence[str]):
  """(the indices of the photos whose face is found at full size, {FULL or face size: their rows})."""
  from application import face_detection  # pylint: disable=g-import-not-at-top
  kept, parts = [], {size: [] for size in (FULL,) + FACE_SIZES}
  for start in range(0, len(paths), CHUNK):
    photos = [read(path) for path in paths[start:start + CHUNK]]
    full = answers(models, photos, face_detection.detect_faces)
    keep = np.flatnonzero(full["found"])
    kept.extend(start + keep)
    parts[FULL].append({name: values[keep] for name, values in full.items()})
    decoded = [face_detection.decode_photo(photos[i]) for i in keep]
    for size in FACE_SIZES:
      parts[size].append(answers(models, [downscaled(photo, full["box"][i], size) for photo, i in zip(decoded, keep)],
                                 face_detection.detect_faces))
    print(f"  {start + len(photos)} / {len(paths)} photos", file=sys.stderr, flush=True)
  return np.array(kept, int), {size: joined(chunks) for size, chunks in parts.items()}


def smallest_judged_size(table: List[dict]):
  """The smallest face size from which on (it and every larger one) the paired gender accuracy is within
  MAX_GENDER_DROP and the paired age MAE within MAX_MAE_RISE of full size's (None: not even the largest)."""
  full = next(row for row in table if row["face_px"] == FULL)["paired"]
  chosen = None
  for row in sorted((row for row in table if row["face_px"] != FULL), key=lambda row: -row["face_px"]):
    paired = row["paired"]
    if (paired["gender_accuracy"] < full["gender_accuracy"] - MAX_GENDER_DROP
        or paired["age_mae"] > full["age_mae"] + MAX_MAE_RISE):
      break
    chosen = row["face_px"]
  return chosen


def utkface_validation(utkface_dir: str) -> List[dict]:
  """UTKFace's validation split (as ingestion splits it: the warning's size is a choice, so it is made there,
  never on All-Age-Faces, eval or test): [{path, age, gender}] by file name."""
  from components import ingest, utkface  # pylint: disable=g-import-not-at-top
  from vocabulary import layout  # pylint: disable=g-import-not-at-top
  rows = []
  for path in utkface.list_images(utkface_dir):
    try:
      labels = utkface.parse_file_name(path)
    except ValueError:
      continue
    if ingest.split_of(labels) == layout.VALIDATION:
      rows.append({"path": path, "age": labels.age, "gender": labels.gender})
  return rows


def face_size_figures(models: Models, utkface_dir: str, count: int, seed: int) -> dict:
  """The per-size table on UTKFace's validation split (all of it, or `count` random photos)."""
  labels = utkface_validation(utkface_dir)
  if count:
    labels = sorted(random.Random(seed).sample(labels, count), key=lambda row: row["path"])
  kept, rows = face_size_rows(models, [row["path"] for row in labels])
  ages = np.array([labels[i]["age"] for i in kept])
  genders = np.array([labels[i]["gender"] for i in kept])
  everywhere = np.logical_and.reduce([size_rows["found"] for size_rows in rows.values()])
  table = []
  for size, size_rows in rows.items():
    table.append({"face_px": size, "found": int(size_rows["found"].sum()), "box_px": box_sizes(size_rows),
                  "detect_ms_median": round(float(np.median(size_rows["detect_ms"])), 1),
                  "found_faces": scores(size_rows, ages, genders, size_rows["found"]),
                  "paired": scores(size_rows, ages, genders, everywhere)})
  return {"dataset": "utkface", "split": "validation", "photos": len(labels), "seed": seed if count else None,
          "found_at_full_size": len(kept), "found_at_every_size": int(everywhere.sum()),
          "rule": f"the smallest face size from which on the paired gender accuracy is within {MAX_GENDER_DROP} "
                  f"and the paired age MAE within {MAX_MAE_RISE} years of full size's",
          "smallest_judged_face_px": smallest_judged_size(table), "sizes": table}


def plot(figures: dict, path: str) -> None:
  """Gender accuracy and age MAE against the face's size (paired and on the faces found), full size and the
  limits around it, and the chosen smallest judged size."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  table = figures["sizes"]
  full = next(row for row in table if row["face_px"] == FULL)
  sized = sorted((row for row in table if row["face_px"] != FULL), key=lambda row: row["face_px"])
  sides = [row["face_px"] for row in sized]
  full_side = full["box_px"]["median"]
  fig, axes = plt.subplots(1, 2, figsize=(10, 4))
  for ax, metric, limit, label in ((axes[0], "gender_accuracy", -MAX_GENDER_DROP, "gender accuracy"),
                                   (axes[1], "age_mae", MAX_MAE_RISE, "age MAE (years)")):
    for kind, style in (("paired", "o-"), ("found_faces", "s--")):
      ax.plot(sides + [full_side], [row[kind][metric] for row in sized] + [full[kind][metric]], style,
              label="faces found at every size" if kind == "paired" else "faces found at this size")
    ax.axhline(full["paired"][metric] + limit, color="grey", linestyle=":",
               label=f"full size {'-' if limit < 0 else '+'} {abs(limit):g}")
    if figures["smallest_judged_face_px"]:
      ax.axvline(figures["smallest_judged_face_px"], color="tab:red", linestyle="-.",
                 label="face_too_small below this")
    ax.set_xscale("log", base=2)
    ax.set_xticks(sides + [full_side], [str(side) for side in sides] + [f"full\n(~{full_side:.0f})"])
    ax.set_xlabel("face box side (px)")
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
  fig.suptitle(f"All-Age-Faces photos downscaled ({figures['found_at_full_size']} photos), shipped models")
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--serving-root", default=os.path.join(results_file.REPO, "models"),
                      help="a serving root (default: the shipped models)")
  parser.add_argument("--wiki-photos", type=int, default=1000, help="random WIKI 64x64 photos of the test split "
                      "(and as many of the validation split for the detection rule; default %(default)s)")
  parser.add_argument("--utkface", default=str(settings.utkface_dir()))
  parser.add_argument("--face-size-photos", type=int, default=0,
                      help="random photos of UTKFace's validation split for the face sizes (0: all)")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--out", default=os.path.join(results_file.RESULTS, "small_faces.json"))
  args = parser.parse_args()
  from application import detectors  # pylint: disable=g-import-not-at-top
  from application import face_detection  # pylint: disable=g-import-not-at-top
  face_detection.load_detector()
  models = Models(args.serving_root)
  spec = detectors.DETECTORS[detectors.DEFAULT]
  started = time.perf_counter()
  result = {
      "benchmark": "small_faces", "detector": spec.name,
      "default_min_face": {"px": spec.min_face_size, "small_photo_fraction": detectors.SMALL_PHOTO_FACE_FRACTION,
                           "smallest_px": detectors.SMALLEST_MIN_FACE},
      "wiki_64px": wiki_figures(models, args.wiki_photos, args.seed),
      "face_free_small_photos": {"photos": FACE_FREE_PHOTOS, "sides_px": list(FACE_FREE_SIDES),
                                 "found_by_rule": found_by_rule(face_free_photos())},
      "face_sizes": face_size_figures(models, args.utkface, args.face_size_photos, args.seed),
      "cpu_count": os.cpu_count()}
  result["seconds"] = round(time.perf_counter() - started)
  results_file.write(args.out, result, results_file.model_versions(args.serving_root))
  plot(result["face_sizes"], os.path.splitext(args.out)[0] + ".png")
  print(json.dumps({name: result[name] for name in ("wiki_64px", "face_free_small_photos")}, indent=2))
  print(json.dumps(result["face_sizes"]["sizes"], indent=2))
  print(f"written to {args.out}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
