"""Benchmark (not a test): face detection + prediction time per photo, recall, and `fdp predict` over a
folder, for each detector (BlazeFace, the default, and MTCNN) in the same run.

Photos: 1280x720 canvases holding 1 or 5 real UTKFace faces (150-260 px, random places, different photos
for every sample), plus scikit-image's `astronaut` (512x512, one face). Per photo: detection (decode,
detector, alignment, JPEG crops: application/face_detection.py) and prediction (the crops through the client
library to both served models, REST and gRPC, against `fdp serve`'s server started in this process).
Medians over the samples, after a warm-up. Recall: AAF's outside photos with a face found (every photo
holds one face) and composites with every face found. Throughput: `fdp predict AAF_DIR --json` as a
subprocess against `fdp serve` in another one, wall time from start to the last line. Also where
BlazeFace's time goes (decoding, each pyramid level, O-Net's keypoints, alignment + crops) and MTCNN's
detection time when asked for BlazeFace's default minimum face instead of its own.

  .venv/bin/python -m benchmarks.face_detection [--serving-root models] [--samples 15] [--mtcnn-predict-limit N]

Writes benchmarks/results/face_detection.json.
"""
import argparse
import contextlib
import io
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time

from benchmarks import results_file
from vocabulary import settings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "benchmarks", "results")
CANVAS_SIZE = (1280, 720)
FACE_SIDES = (150, 260)
WARM_UP = 2


def composite_photos(utkface_dir: str, faces_per_photo: int, count: int, seed: int):
  """`count` JPEG photos, each with `faces_per_photo` real UTKFace faces placed without overlap."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  rng = random.Random(seed)
  names = sorted(os.listdir(utkface_dir))
  columns = faces_per_photo if faces_per_photo < 4 else 3
  cell_w, cell_h = CANVAS_SIZE[0] // columns, CANVAS_SIZE[1] // -(-faces_per_photo // columns)
  for _ in range(count):
    canvas = Image.new("RGB", CANVAS_SIZE, (110, 110, 110))
    for slot in range(faces_per_photo):
      side = rng.randint(FACE_SIDES[0], min(FACE_SIDES[1], cell_w, cell_h))
      face = Image.open(os.path.join(utkface_dir, rng.choice(names))).convert("RGB").resize((side, side))
      left, top = (slot % columns) * cell_w, (slot // columns) * cell_h
      canvas.paste(face, (left + rng.randint(0, cell_w - side), top + rng.randint(0, cell_h - side)))
    buffer = io.BytesIO()
    canvas.save(buffer, format="JPEG", quality=92)
    yield buffer.getvalue()


def astronaut_photos(count: int):
  import skimage.data  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  buffer = io.BytesIO()
  Image.fromarray(skimage.data.astronaut()).save(buffer, format="JPEG", quality=92)
  return [buffer.getvalue()] * count


def time_photos(photos, expected_faces: int, predictors, detector: str, min_face_size: float = None) -> dict:
  """Median milliseconds per photo: detection, prediction per protocol (none: detection only), and their
  sum. `min_face_size`: the detector's default unless given."""
  from application import face_detection  # pylint: disable=g-import-not-at-top
  detect_ms, predict_ms, found = [], {name: [] for name in predictors}, []
  for index, photo in enumerate(photos):
    start = time.perf_counter()
    faces = face_detection.detect_faces(photo, min_face_size=min_face_size, detector=detector)
    detect_time = (time.perf_counter() - start) * 1000
    crops = [face.crop_jpeg for face in faces]
    predict_times = {}
    for name, predict_crops in predictors.items():
      start = time.perf_counter()
      predict_crops(crops)
      predict_times[name] = (time.perf_counter() - start) * 1000
    if index >= WARM_UP:
      detect_ms.append(detect_time)
      found.append(len(faces))
      for name, value in predict_times.items():
        predict_ms[name].append(value)
  detect_median = statistics.median(detect_ms)
  return {
      "photos": len(detect_ms), "expected_faces": expected_faces,
      "photos_with_all_faces_found": sum(count == expected_faces for count in found),
      "detect_ms_median": round(detect_median, 1),
      "predict_ms_median": {name: round(statistics.median(values), 1) for name, values in predict_ms.items()},
      "total_ms_median": {name: round(statistics.median([d + p for d, p in zip(detect_ms, values)]), 1)
                          for name, values in predict_ms.items()},
  }


@contextlib.contextmanager
def timing(module, name: str, record):
  """Replaces `module.name` by a wrapper that hands each call's milliseconds and arguments to `record`."""
  original = getattr(module, name)

  def timed(*args, **kwargs):
    start = time.perf_counter()
    result = original(*args, **kwargs)
    record((time.perf_counter() - start) * 1000, args)
    return result

  setattr(module, name, timed)
  try:
    yield
  finally:
    setattr(module, name, original)


def blazeface_time_breakdown(photos) -> dict:
  """Where BlazeFace's detection time goes, medians in ms per photo: decoding, the pyramid and each of its
  levels (named by the photo's size in it; the model and its input), O-Net's keypoints, and alignment +
  JPEG crops."""
  from application import blazeface, detectors, face_detection  # pylint: disable=g-import-not-at-top
  from application import onet_keypoints  # pylint: disable=g-import-not-at-top
  spec = detectors.DETECTORS["blazeface"]
  parts = {"decode": [], "pyramid": [], "onet_keypoints": [], "align_and_crop": []}
  levels, calls = {}, []

  def note(part):
    return lambda ms, args: calls.append((part, ms, args))

  with timing(blazeface, "detect", note("pyramid")), timing(onet_keypoints, "keypoints", note("onet_keypoints")), \
       timing(blazeface, "_search", note("level")):
    for index, data in enumerate(photos):
      calls.clear()
      start = time.perf_counter()
      photo = face_detection.decode_photo(data)
      decoded = time.perf_counter()
      detections = spec.locate(photo, spec.min_face_size, spec.min_confidence)
      located = time.perf_counter()
      face_detection.crop_faces(photo, detections)
      cropped = time.perf_counter()
      if index < WARM_UP:
        continue
      parts["decode"].append((decoded - start) * 1000)
      parts["align_and_crop"].append((cropped - located) * 1000)
      for part, ms, args in calls:
        if part == "level":
          levels.setdefault("x".join(map(str, args[0].size)), []).append(ms)
        else:
          parts[part].append(ms)
  return {**{name: round(statistics.median(values), 1) for name, values in parts.items()},
          "pyramid_levels": {size: round(statistics.median(values), 1) for size, values in levels.items()}}


def aaf_recall(aaf_dir: str, detector: str, limit: int = 0) -> dict:
  """AAF photos (one face each) with at least one face found."""
  from application import face_detection  # pylint: disable=g-import-not-at-top
  names = sorted(os.listdir(os.path.join(aaf_dir, "faces")))[:limit or None]
  found, extra, start = 0, 0, time.perf_counter()
  for name in names:
    with open(os.path.join(aaf_dir, "faces", name), "rb") as f:
      faces = face_detection.detect_faces(f.read(), detector=detector)
    found += bool(faces)
    extra += max(0, len(faces) - 1)
  return {"photos": len(names), "with_a_face_found": found, "more_than_one_face": extra,
          "detect_s": round(time.perf_counter() - start, 1)}


def predict_folder(folder: str, detector: str, rest_port: int, limit: int = 0) -> dict:
  """`fdp predict FOLDER --json` (a subprocess, as users run it): wall time and photos per second."""
  import tempfile  # pylint: disable=g-import-not-at-top
  with tempfile.TemporaryDirectory() as tmp:
    target = folder
    if limit:  # the first `limit` photos, as links
      target = os.path.join(tmp, "photos")
      os.makedirs(target)
      for name in sorted(os.listdir(folder))[:limit]:
        os.symlink(os.path.join(folder, name), os.path.join(target, name))
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cli", "predict", target, "--json", "--no-progress",
                           "--detector", detector, "--server", f"127.0.0.1:{rest_port}"],
                          cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
  records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
  return {"photos": len(records), "wall_s": round(wall, 1), "photos_per_s": round(len(records) / wall, 1),
          "with_a_face": sum(bool(record.get("faces")) for record in records),
          "errors": sum("error" in record for record in records), "exit_code": done.returncode,
          "warnings_vs_labels": warnings_vs_labels(records, os.path.dirname(folder))}


def warnings_vs_labels(records, aaf_dir: str) -> dict:
  """Per warning: faces marked, and how often the prediction it is about is right with and without it
  (each photo's most confident face against AAF's labels; pipeline/metrics.py)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from benchmarks import outside  # pylint: disable=g-import-not-at-top
  from pipeline import metrics  # pylint: disable=g-import-not-at-top
  labels = {row["file"]: row for row in outside.read_labels(aaf_dir)}
  pairs = [(record["faces"][0], labels[os.path.basename(record["image"])]) for record in records
           if record.get("faces") and os.path.basename(record["image"]) in labels]
  faces = [face for face, _ in pairs]
  predictions = outside.answers_as_predictions(faces)
  ages, genders = np.array([label["age"] for _, label in pairs]), np.array([label["gender"] for _, label in pairs])
  about = {"gender_uncertain": "gender_accuracy", "age_bucket_uncertain": "age_bucket_accuracy",
           "models_disagree": "age_bucket_accuracy"}  # warning -> the figure of the prediction it is about

  def right(mask, metric):
    if not mask.any():
      return None
    return round(metrics.face_metrics({k: v[mask] for k, v in predictions.items()}, ages[mask], genders[mask])[metric], 3)
  result = {}
  for warning, metric in about.items():
    marked = np.array([warning in face["warnings"] for face in faces], bool)
    result[warning] = {"marked": int(marked.sum()), "right_when_marked": right(marked, metric),
                       "right_otherwise": right(~marked, metric)}
  return result


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--serving-root", default=os.path.join(REPO, "models"),
                      help="a serving root (default: the shipped models)")
  parser.add_argument("--utkface", default=str(settings.utkface_dir()))
  parser.add_argument("--aaf", default=str(settings.aaf_dir()))
  parser.add_argument("--samples", type=int, default=15, help="photos per case, after the warm-up")
  parser.add_argument("--detectors", default="blazeface,mtcnn")
  parser.add_argument("--mtcnn-recall-limit", type=int, default=0,
                      help="MTCNN's AAF recall on the first N photos only (default 0: all)")
  parser.add_argument("--mtcnn-predict-limit", type=int, default=300,
                      help="fdp predict with MTCNN over the first N AAF photos only (0: all; at about 5 "
                      "photos/s the whole folder takes 10 minutes)")
  parser.add_argument("--skip-aaf", action="store_true")
  parser.add_argument("--out", default=os.path.join(RESULTS, "face_detection.json"))
  args = parser.parse_args()
  from serving.client import model_client as client_lib  # pylint: disable=g-import-not-at-top
  from serving.server import model_config  # pylint: disable=g-import-not-at-top
  from serving.server import model_server as server_lib  # pylint: disable=g-import-not-at-top
  from application.web import app as app_lib  # pylint: disable=g-import-not-at-top
  server = server_lib.ModelServer(model_config.build(None, args.serving_root), rest_port=0,
                                  grpc_port=0, host="127.0.0.1").start()
  clients = {client_lib.REST: client_lib.connect(f"127.0.0.1:{server.rest_port}", client_lib.REST),
             client_lib.GRPC: client_lib.connect(f"127.0.0.1:{server.grpc_port}", client_lib.GRPC)}
  predictors = {name: app_lib.client_predictor(client) for name, client in clients.items()}
  count = args.samples + WARM_UP
  detectors = args.detectors.split(",")
  results = {}
  for detector in detectors:
    results[detector] = {"cases": {
        "1_face": time_photos(composite_photos(args.utkface, 1, count, seed=1), 1, predictors, detector),
        "5_faces": time_photos(composite_photos(args.utkface, 5, count, seed=5), 5, predictors, detector),
        "astronaut_512px": time_photos(astronaut_photos(count), 1, predictors, detector),
    }}
  if "blazeface" in detectors:
    results["blazeface"]["time_breakdown_ms"] = {
        "1_face": blazeface_time_breakdown(composite_photos(args.utkface, 1, count, seed=1)),
        "5_faces": blazeface_time_breakdown(composite_photos(args.utkface, 5, count, seed=5))}
  if "mtcnn" in detectors:  # MTCNN asked for BlazeFace's default minimum face (its own default is smaller)
    from application import detectors as detector_specs  # pylint: disable=g-import-not-at-top
    same_min_face = detector_specs.BLAZEFACE.min_face_size
    results["mtcnn"][f"detect_ms_median_min_face_{same_min_face}px"] = {
        case: time_photos(composite_photos(args.utkface, faces, count, seed=faces), faces, {}, "mtcnn",
                          min_face_size=same_min_face)["detect_ms_median"]
        for case, faces in (("1_face", 1), ("5_faces", 5))}
  for client in clients.values():
    client.close()
  server.stop()
  if not args.skip_aaf:
    from tests.serve_process import fdp_serve  # pylint: disable=g-import-not-at-top
    with fdp_serve("--model-base-dir", args.serving_root) as (_, rest_port, _):
      for detector in detectors:
        mtcnn = detector == "mtcnn"
        results[detector]["aaf_recall"] = aaf_recall(args.aaf, detector, args.mtcnn_recall_limit if mtcnn else 0)
        results[detector]["fdp_predict_aaf"] = predict_folder(os.path.join(args.aaf, "faces"), detector, rest_port,
                                                              args.mtcnn_predict_limit if mtcnn else 0)
  if "mtcnn" in results and len(detectors) > 1:
    for detector in detectors:
      results[detector]["detect_speedup_vs_mtcnn"] = {
          case: round(results["mtcnn"]["cases"][case]["detect_ms_median"] / values["detect_ms_median"], 1)
          for case, values in results[detector]["cases"].items()}
  result = {"benchmark": "face_detection", "photo_size": list(CANVAS_SIZE), "face_sides_px": list(FACE_SIDES),
            "models": "classifier + regressor (both called per photo, all faces in one request each)",
            "serving_root": args.serving_root, "cpu_count": os.cpu_count(),
            "platform": platform.platform(), "detectors": results}
  results_file.write(args.out, result, results_file.model_versions(args.serving_root))
  print(json.dumps(results, indent=2))
  print(f"written to {args.out}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
