"""Serving benchmark: latency (p50/p99) and throughput of the classifier for 1 and 8 concurrent clients.

Servers, each in its own process, started by this script on free ports:
  fdp serve, REST and gRPC   (`fdp serve --model-base-dir`, default batching: max 32, 2 ms timeout)
  seed-style baseline        a Flask app that, per request, decodes the JSON/base64 body and calls Keras
                             `model.predict` on a Keras 3 model wrapping the same SavedModel's serving_default
                             signature (keras.layers.TFSMLayer) -- the original project's way of serving
                             (Flask + model.predict per request); the image decoding is the same graph op.
Every request carries one real UTKFace JPEG. Writes benchmarks/results/serving.json and prints a table.

  .venv/bin/python -m benchmarks.serving [--serving-root DIR] [--seconds 8]
"""
import argparse
import base64
import json
import os
import pathlib
import platform
import socket
import subprocess
import sys
import threading
import time

import numpy as np

from vocabulary import settings

REPO = pathlib.Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "serving.json"
IMAGE = "26_1_3_20170104235421282.jpg.chip.jpg"  # in settings.utkface_dir()
MODEL = "classifier"
CONCURRENCY = (1, 8)


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def run_baseline_server(model_dir: str, port: int) -> None:
  """The seed-style server: Flask + Keras model.predict on every request."""
  import flask  # pylint: disable=g-import-not-at-top
  import keras  # pylint: disable=g-import-not-at-top
  from werkzeug import serving as werkzeug_serving  # pylint: disable=g-import-not-at-top
  from vocabulary import signatures  # pylint: disable=g-import-not-at-top
  images = keras.Input(shape=(), dtype="string", name=signatures.IMAGES_INPUT)
  serve = keras.layers.TFSMLayer(model_dir, call_endpoint=signatures.SERVING_DEFAULT)
  model = keras.Model(images, serve(images))
  app = flask.Flask("baseline")

  @app.route("/predict", methods=["POST"])
  def predict():
    jpeg = base64.b64decode(flask.request.get_json()["image"])
    outputs = model.predict(np.array([jpeg], dtype=object), verbose=0)
    return flask.jsonify({name: value.tolist() for name, value in outputs.items()})

  @app.route("/ready")
  def ready():
    return "ok"

  print("ready", flush=True)
  werkzeug_serving.make_server("127.0.0.1", port, app, threaded=True).serve_forever()


def _wait_ready(url: str, process, timeout: float = 180) -> None:
  import requests  # pylint: disable=g-import-not-at-top
  deadline = time.time() + timeout
  while time.time() < deadline:
    if process.poll() is not None:
      raise RuntimeError(f"server exited with {process.returncode}")
    try:
      if requests.get(url, timeout=2).status_code == 200:
        return
    except requests.RequestException:
      pass
    time.sleep(0.5)
  raise TimeoutError(url)


def _senders(kind: str, address: str, jpeg: bytes):
  """A factory of per-thread `send()` callables for one server kind."""
  import requests  # pylint: disable=g-import-not-at-top
  from serving.client import model_client as client_lib  # pylint: disable=g-import-not-at-top
  if kind == "baseline":
    body = {"image": base64.b64encode(jpeg).decode()}

    def make():
      session = requests.Session()
      return lambda: session.post(f"http://{address}/predict", json=body, timeout=60).raise_for_status()
    return make

  def make():
    client = client_lib.connect(address, kind, timeout=60)
    return lambda: client.predict(MODEL, [jpeg])
  return make


def measure(make_sender, clients: int, seconds: float, warmup: float = 1.0) -> dict:
  """`clients` threads send back to back; each first sends one untimed request (the baseline traces its
  predict function on the first call), then all time their requests over the same window."""
  latencies, errors = [], []
  lock = threading.Lock()
  window = {}

  def open_window():
    window["start"] = time.perf_counter() + warmup
    window["stop"] = window["start"] + seconds

  ready = threading.Barrier(clients, action=open_window)

  def worker():
    send = make_sender()
    send()
    ready.wait()
    mine = []
    while True:
      t0 = time.perf_counter()
      if t0 >= window["stop"]:
        break
      try:
        send()
      except Exception as e:  # pylint: disable=broad-except
        errors.append(repr(e))
        continue
      if t0 >= window["start"]:
        mine.append(time.perf_counter() - t0)
    with lock:
      latencies.extend(mine)

  threads = [threading.Thread(target=worker) for _ in range(clients)]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  if not latencies:
    raise RuntimeError(f"no request answered in the window; errors: {errors[:1]}")
  ms = np.array(latencies) * 1000
  return {"clients": clients, "requests": len(latencies), "errors": len(errors),
          "p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2),
          "throughput_rps": round(len(latencies) / seconds, 1)}


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--serving-root", default=os.path.join(settings.home(), "serving_model"))
  parser.add_argument("--seconds", type=float, default=8.0)
  parser.add_argument("--baseline-server", help=argparse.SUPPRESS)  # internal: run the baseline in this process
  parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.baseline_server:
    run_baseline_server(args.baseline_server, args.port)
    return 0

  model_root = os.path.join(args.serving_root, MODEL)
  version_dir = os.path.join(model_root, max(os.listdir(model_root), key=int))
  jpeg = (settings.utkface_dir() / IMAGE).read_bytes()
  rest_port, grpc_port, baseline_port = _free_port(), _free_port(), _free_port()
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  ours = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--model-base-dir", args.serving_root,
                           "--rest-port", str(rest_port), "--grpc-port", str(grpc_port), "--host", "127.0.0.1"],
                          cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  baseline = subprocess.Popen([sys.executable, "-m", "benchmarks.serving", "--baseline-server", version_dir,
                               "--port", str(baseline_port)],
                              cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  results = []
  try:
    _wait_ready(f"http://127.0.0.1:{rest_port}/v1/models/{MODEL}", ours)
    _wait_ready(f"http://127.0.0.1:{baseline_port}/ready", baseline)
    targets = [("fdp serve REST", "rest", f"127.0.0.1:{rest_port}"),
               ("fdp serve gRPC", "grpc", f"127.0.0.1:{grpc_port}"),
               ("baseline Flask + Keras model.predict", "baseline", f"127.0.0.1:{baseline_port}")]
    for name, kind, address in targets:
      for clients in CONCURRENCY:
        row = dict(server=name, **measure(_senders(kind, address, jpeg), clients, args.seconds))
        print(row, flush=True)
        results.append(row)
  finally:
    for process in (ours, baseline):
      process.terminate()
      process.wait(timeout=60)

  def throughput(server, clients):
    return next(r["throughput_rps"] for r in results if r["server"] == server and r["clients"] == clients)

  base8 = throughput(targets[2][0], 8)
  summary = {
      "model": version_dir, "image": IMAGE, "seconds_per_run": args.seconds,
      "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
      "baseline": targets[2][0] + " (keras.layers.TFSMLayer over the same SavedModel's serving_default)",
      "results": results,
      "speedup_at_8_clients": {name: round(throughput(name, 8) / base8, 2) for name, _, _ in targets[:2]},
      "p99_over_p50": {f"{r['server']} x{r['clients']}": round(r["p99_ms"] / r["p50_ms"], 2) for r in results},
  }
  RESULTS.parent.mkdir(parents=True, exist_ok=True)
  RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
  print("\n| server | clients | p50 ms | p99 ms | requests/s |\n|---|---|---|---|---|")
  for r in results:
    print(f"| {r['server']} | {r['clients']} | {r['p50_ms']} | {r['p99_ms']} | {r['throughput_rps']} |")
  print(f"\nthroughput vs. baseline at 8 clients: {summary['speedup_at_8_clients']}\nwrote {RESULTS}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
