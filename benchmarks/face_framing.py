"""Measure a detector's `Framing` (application/face_alignment.py) on real UTKFace crops (200x200).

For each crop, the detector's keypoints give the eyes' midpoint and the eye and eyes-to-mouth distances
as fractions of the crop; the medians, with both distances raised by the factor that makes the median of
`face_scale` (the larger of its two estimates) 200 pixels again, are the framing that reproduces
UTKFace's crops.

  .venv/bin/python -m benchmarks.face_framing [--detector blazeface|mtcnn] [--count 200]

With --wiki: how serving frames the faces of WIKI's 64x64 images (components/wiki.py's FACE_FRACTION). On
random WIKI images of the validation split, the product's crop (detection with a 12 px minimum face, alignment) as a fraction of the
image (its side and centre: quartiles), and the models' zero-shot answers on that crop against centre
crops of several fractions and the whole image: regressor MAE, classifier gender accuracy. Writes
benchmarks/results/wiki_framing.json.

  .venv/bin/python -m benchmarks.face_framing --wiki [--count 600] [--models models]
"""
import argparse
import os
import sys

import numpy as np

from vocabulary import settings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure(utkface_dir: str, detector: str, count: int):
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from application import face_alignment  # pylint: disable=g-import-not-at-top
  from application import face_detection  # pylint: disable=g-import-not-at-top
  names = sorted(os.listdir(utkface_dir))
  centres, eyes, mouths = [], [], []
  for name in names[::max(1, len(names) // count)][:count]:
    crop = Image.open(os.path.join(utkface_dir, name)).convert("RGB")
    found = face_detection.locate_faces(crop, detector=detector)
    if len(found) != 1:
      continue
    points = found[0].landmarks
    centre = face_alignment.eyes_center(points)
    centres.append(centre / np.array(crop.size))
    eyes.append(np.linalg.norm(np.subtract(points.right_eye, points.left_eye)) / crop.width)
    mouths.append(np.linalg.norm(np.asarray(points.mouth) - centre) / crop.height)
  eye_distance, eyes_to_mouth = float(np.median(eyes)), float(np.median(mouths))
  raise_by = float(np.median(np.maximum(np.array(eyes) / eye_distance, np.array(mouths) / eyes_to_mouth)))
  x, y = np.median(centres, axis=0)
  return len(centres), face_alignment.Framing(eyes_center=(round(float(x), 4), round(float(y), 4)),
                                              eye_distance=round(eye_distance * raise_by, 4),
                                              eyes_to_mouth=round(eyes_to_mouth * raise_by, 4))


WIKI_FRACTIONS = (0.52, 0.56, 0.60, 0.70, 1.0)


def _jpeg(image) -> bytes:
  import io  # pylint: disable=g-import-not-at-top
  buffer = io.BytesIO()
  image.save(buffer, format="JPEG", quality=95)
  return buffer.getvalue()


def _answers(models_dir: str, crops) -> dict:
  """{age, gender} predictions ([N, 1] each) of every crop from the models' serving_default, batches of 32."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from pipeline import evaluate  # pylint: disable=g-import-not-at-top
  regressor = evaluate.load_model(os.path.join(models_dir, "regressor"))[1].signatures["serving_default"]
  classifier = evaluate.load_model(os.path.join(models_dir, "classifier"))[1].signatures["serving_default"]
  ages, genders = [], []
  for start in range(0, len(crops), 32):
    batch = tf.constant(crops[start:start + 32])
    ages.append(regressor(images=batch)["age"].numpy())
    genders.append(classifier(images=batch)["gender"].numpy())
  return {"age": np.concatenate(ages), "gender": np.concatenate(genders)}


def measure_wiki(wiki_dir: str, wiki_mat: str, models_dir: str, count: int, detector: str) -> dict:
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from application import face_alignment, face_detection, detectors  # pylint: disable=g-import-not-at-top
  from components import ingest, wiki  # pylint: disable=g-import-not-at-top
  from vocabulary import layout  # pylint: disable=g-import-not-at-top
  framing = detectors.DETECTORS[detector].framing
  # The validation split's images: the framing is a choice (eval and test are for the report).
  rows = [labels for labels in wiki.labelled_images(wiki_dir, wiki_mat) if ingest.split_of(labels) == layout.VALIDATION]
  chosen = [rows[i] for i in sorted(np.random.default_rng(1).choice(len(rows), min(count, len(rows)), replace=False))]
  sides, centres, crops, ages, genders = [], [], {"aligned": []}, [], []
  crops.update({f"centre {f:.2f}": [] for f in WIKI_FRACTIONS})
  for labels in chosen:
    photo = Image.open(labels.path).convert("RGB")
    found = face_detection.locate_faces(photo, min_face_size=12, detector=detector)
    if not found:
      continue
    points = found[0].landmarks
    side = face_alignment.face_scale(points, framing)
    centre = face_alignment.eyes_center(points) + (0.5 - np.asarray(framing.eyes_center)) * side
    sides.append(side / photo.width)
    centres.append(centre / np.asarray(photo.size))
    crops["aligned"].append(face_detection.crop_faces(photo, found[:1], detector)[0].crop_jpeg)
    for fraction in WIKI_FRACTIONS:
      crops[f"centre {fraction:.2f}"].append(_jpeg(photo.crop(ingest.centre_box(fraction, *photo.size))))
    ages.append(labels.age)
    genders.append(labels.gender)
  ages, genders = np.asarray(ages), np.asarray(genders)
  quartiles = lambda values: [round(float(v), 3) for v in np.percentile(values, [25, 50, 75])]  # noqa: E731
  result = {"images": len(chosen), "faces_found": len(ages), "detector": detector,
            "crop_side_fraction_quartiles": quartiles(sides),
            "crop_centre_x_quartiles": quartiles([c[0] for c in centres]),
            "crop_centre_y_quartiles": quartiles([c[1] for c in centres]), "framings": {}}
  from pipeline import metrics  # pylint: disable=g-import-not-at-top
  for name, jpegs in crops.items():
    scored = metrics.face_metrics(_answers(models_dir, jpegs), ages, genders)
    result["framings"][name] = {key: round(scored[key], 3) for key in ("age_mae", "age_mean_error", "gender_accuracy")}
    print(name, result["framings"][name], flush=True)
  return result


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--detector", default="blazeface")
  parser.add_argument("--utkface", default=str(settings.utkface_dir()))
  parser.add_argument("--count", type=int, default=None, help="images (default: 200 UTKFace, 600 WIKI)")
  parser.add_argument("--wiki", action="store_true", help="measure how serving frames WIKI's 64x64 faces")
  parser.add_argument("--wiki-dir", default=str(settings.wiki_crop_64_dir()))
  parser.add_argument("--wiki-mat", default=str(settings.wiki_mat()))
  parser.add_argument("--models", default=str(settings.models_dir()))
  args = parser.parse_args()
  if args.wiki:
    from benchmarks import results_file  # pylint: disable=g-import-not-at-top
    result = measure_wiki(args.wiki_dir, args.wiki_mat, args.models, args.count or 600, args.detector)
    path = results_file.write("wiki_framing.json", result, results_file.model_versions(args.models))
    print(f"wrote {path}")
    return 0
  args.count = args.count or 200
  used, framing = measure(args.utkface, args.detector, args.count)
  print(f"{args.detector}: {used} of {args.count} crops with one face: {framing}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
