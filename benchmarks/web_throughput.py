"""The web page's throughput against `fdp predict`'s, on the same photos and the same `fdp serve`.

Measured in one run: `fdp serve` (the shipped models), then
  fdp predict   over the photos (a folder), timed from start to end, start-up included: photos/s
  fdp web       1 and 8 uploaders at once, each photo one upload (multipart, as the page sends it),
                after a few warm-up uploads: photos/s
and each web figure over `fdp predict`'s. The photos are All-Age-Faces photos (one face each), spread over
the folder.

  .venv/bin/python -m benchmarks.web_throughput [--photos 400] [--uploaders 1 8] [--serving-root models]
      [--model both|classifier|regressor]
Writes benchmarks/results/web_throughput.json (web_throughput_<model>.json for one model: half the network
passes per face, what a cheaper model would cost).
"""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile
import time

from benchmarks import results_file
from tests.serve_process import PROJECT_ROOT, serve_process
from vocabulary import settings

RESULTS = "web_throughput.json"
WARM_UP_UPLOADS = 8


def _photos(count: int):
  folder = settings.aaf_dir() / "faces"
  names = sorted(os.listdir(folder))
  step = max(1, len(names) // count)
  return [folder / name for name in names[::step][:count]]


def predict_photos_per_s(photos, rest_port: str, model: str) -> float:
  with tempfile.TemporaryDirectory() as folder:
    for photo in photos:
      os.symlink(photo, os.path.join(folder, photo.name))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cli", "predict", folder, "--json", "--no-progress", "--server",
                           f"127.0.0.1:{rest_port}", "--model", model], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, check=False)
    seconds = time.perf_counter() - started
  answered = sum('"faces"' in line for line in done.stdout.splitlines())
  if answered != len(photos):
    raise RuntimeError(f"fdp predict answered {answered} of {len(photos)}: {done.stderr[-2000:]}")
  return len(photos) / seconds


def _upload(url: str, photo) -> None:
  import requests  # pylint: disable=g-import-not-at-top
  with open(photo, "rb") as f:
    response = requests.post(url, files={"photo": (photo.name, f, "image/jpeg")}, timeout=120)
  if response.status_code != 200 or not response.json().get("faces"):
    raise RuntimeError(f"{photo.name}: HTTP {response.status_code} {response.text[:200]}")


def web_photos_per_s(photos, url: str, uploaders: int) -> float:
  with concurrent.futures.ThreadPoolExecutor(uploaders) as pool:
    list(pool.map(lambda photo: _upload(url, photo), photos[:WARM_UP_UPLOADS]))
    started = time.perf_counter()
    list(pool.map(lambda photo: _upload(url, photo), photos))
    return len(photos) / (time.perf_counter() - started)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--photos", type=int, default=400)
  parser.add_argument("--uploaders", type=int, nargs="+", default=[1, 8])
  parser.add_argument("--serving-root", default=settings.models_dir())
  parser.add_argument("--model", choices=("both", "classifier", "regressor"), default="both")
  args = parser.parse_args(argv)
  serving_root = os.path.abspath(args.serving_root)
  photos = _photos(args.photos)
  with serve_process("--model-base-dir", serving_root) as served:
    predict_rate = predict_photos_per_s(photos, served.rest_port, args.model)
    print(f"fdp predict: {predict_rate:.1f} photos/s", flush=True)
    web = subprocess.Popen([sys.executable, "-m", "cli", "web", "--server", f"127.0.0.1:{served.rest_port}",
                            "--port", "0", "--model", args.model], cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    try:
      line = next(line for line in web.stdout if line.startswith("Open "))
      url = re.search(r"(http://\S+?)/? ", line).group(1) + "/api/predict"
      rates = {}
      for uploaders in args.uploaders:
        rates[str(uploaders)] = round(web_photos_per_s(photos, url, uploaders), 2)
        print(f"fdp web, {uploaders} uploaders: {rates[str(uploaders)]} photos/s", flush=True)
    finally:
      web.terminate()
      web.wait(timeout=60)
  summary = {"photos": len(photos), "model": args.model, "machine": {"cpus": os.cpu_count()},
             "fdp_predict_photos_per_s": round(predict_rate, 2), "fdp_web_photos_per_s": rates,
             "web_over_predict": {k: round(v / predict_rate, 2) for k, v in rates.items()}}
  name = RESULTS if args.model == "both" else RESULTS.replace(".json", f"_{args.model}.json")
  path = results_file.write(name, summary, results_file.model_versions(serving_root))
  print(f"{summary['web_over_predict']} of fdp predict; wrote {os.path.relpath(path, PROJECT_ROOT)}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
