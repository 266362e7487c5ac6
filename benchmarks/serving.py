"""Serving benchmark: `fdp serve` against the model's own speed, from 1 to 128 clients, REST and gRPC.

Measured in one run, each server in its own process on free ports, the clients threads of this process
sending one real UTKFace face per request (pre-encoded requests over http.client and the official gRPC stub,
so that as little of the 2 cores as possible goes to the clients):
  raw SavedModel   the classifier's serving_default on batches of 32 (a child process): faces/s
  full answer      one face's whole answer (classifier and regressor, raw SavedModels, batches of 32, one
                   child process, windows alternating): serving_default against serving_mirror_average (the
                   mirror average, what serving_default was before) and, with --before-root, against the
                   serving_default of other models (e.g. the models shipped before): faces/s, medians
  fdp serve        REST (waitress) and gRPC at 1, 8, 32 and 128 clients: requests/s, p50, p99, errors,
                   and requests/s over the raw faces/s
  werkzeug         the same REST application on werkzeug's threaded development server (what `fdp serve`
                   ran on before), at 1 and 32 clients
  Flask baseline   the original project's way of serving (Flask + Keras model.predict per request), 8 clients
  first request    after a push, with and without the SavedModel's warm-up requests, over a warm request
  slow clients     a status request while 1,000 connections never finish their headers; the server's threads
  pushes           predict and status clients during 3 pushes and a delete: errors

  .venv/bin/python -m benchmarks.serving [--serving-root models] [--seconds 6] [--update-docs]
Writes benchmarks/results/serving.json (and, with --update-docs, the tables in docs/serving.md).
"""
import argparse
import base64
import json
import os
import pathlib
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from benchmarks import results_file
from tests.serve_process import serve_process, threads_of
from vocabulary import layout
from vocabulary import settings
import vocabulary

REPO = pathlib.Path(__file__).resolve().parent.parent
RESULTS = "serving.json"
MODEL = "classifier"
CLIENTS = (1, 8, 32, 128)
WERKZEUG_CLIENTS = (1, 32)
BASELINE_CLIENTS = 8
RAW_BATCH = 32
SLOW_CLIENTS = 1000  # fdp serve's connection limit: they fill it
PUSHES_PER_MODE = 4


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _faces(count: int = RAW_BATCH):
  utkface = settings.utkface_dir()
  names = sorted(n for n in os.listdir(utkface) if n.endswith(".jpg"))
  step = len(names) // count
  return [(utkface / names[i * step]).read_bytes() for i in range(count)]


# Child processes (internal modes of this script).

def run_raw(model_dir: str, seconds: float) -> None:
  """Prints the SavedModel's faces/s on batches of RAW_BATCH, after one untimed batch."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from vocabulary import signatures  # pylint: disable=g-import-not-at-top
  serve = tf.saved_model.load(model_dir).signatures[signatures.SERVING_DEFAULT]
  batch = tf.constant(_faces(RAW_BATCH))
  serve(images=batch)
  done, start = 0, time.perf_counter()
  while time.perf_counter() - start < seconds:
    serve(images=batch)
    done += RAW_BATCH
  print(json.dumps({"faces_per_s": round(done / (time.perf_counter() - start), 1)}), flush=True)


def run_werkzeug_server(serving_root: str, port: int) -> None:
  """fdp serve's REST application on werkzeug's threaded development server (a thread per connection)."""
  from werkzeug import serving as werkzeug_serving  # pylint: disable=g-import-not-at-top
  from serving.server import batching, core, model_config, registry, rest, servables  # pylint: disable=g-import-not-at-top

  class KeepAlive(werkzeug_serving.WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_request(self, *args, **kwargs):
      pass

  models = registry.ModelRegistry(model_config.model_config_for_base_dir(serving_root),
                                  servables.loader(batching.BatchingOptions()))
  models.start()
  app = rest.RestApp(core.ServingCore(models), 16 << 20)
  print("ready", flush=True)
  werkzeug_serving.make_server("127.0.0.1", port, app, threaded=True, request_handler=KeepAlive).serve_forever()


def run_baseline_server(model_dir: str, port: int) -> None:
  """The original project's server: Flask + Keras model.predict on every request."""
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

  werkzeug_serving.make_server("127.0.0.1", port, app, threaded=True).serve_forever()


# Clients.

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
    time.sleep(0.3)
  raise TimeoutError(url)


def _http_sender(address: str, path: str, body: bytes):
  """POSTs one pre-encoded JSON body over a keep-alive connection (http.client: little client CPU, so the
  2 cores go to the server, as with a load generator on another machine)."""
  import http.client  # pylint: disable=g-import-not-at-top
  host, port = address.rsplit(":", 1)
  connection = http.client.HTTPConnection(host, int(port), timeout=60)

  def send():
    connection.request("POST", path, body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    data = response.read()
    if response.status != 200:
      raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
  return send


def _grpc_sender(address: str, face: bytes):
  """Predict with one pre-built request on the official stub."""
  import grpc  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc  # pylint: disable=g-import-not-at-top
  from vocabulary import signatures  # pylint: disable=g-import-not-at-top
  stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(address))
  request = predict_pb2.PredictRequest()
  request.model_spec.name = MODEL
  request.inputs[signatures.IMAGES_INPUT].CopyFrom(tf.make_tensor_proto([face], dtype=tf.string))
  return lambda: stub.Predict(request, timeout=60)


def _senders(kind: str, address: str, faces):
  """A factory of per-thread `send()` callables for one server kind; thread k sends face k (TF Serving's
  row format over REST, one image per request)."""
  counter = iter(range(1 << 30))

  def make():
    face = faces[next(counter) % len(faces)]
    encoded = base64.b64encode(face).decode()
    if kind == "baseline":
      return _http_sender(address, "/predict", json.dumps({"image": encoded}).encode())
    if kind == "grpc":
      return _grpc_sender(address, face)
    return _http_sender(address, f"/v1/models/{MODEL}:predict", json.dumps({"instances": [{"b64": encoded}]}).encode())
  return make


def measure(make_sender, clients: int, seconds: float, warmup: float = 1.0) -> dict:
  """`clients` threads send back to back; each first sends one untimed request, then all time their
  requests over the same window."""
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
          "p50_ms": round(float(np.percentile(ms, 50)), 1), "p99_ms": round(float(np.percentile(ms, 99)), 1),
          "throughput_rps": round(len(latencies) / seconds, 1)}


FULL_ANSWER_ROUNDS = 5
WHOLE_ANSWER = {vocabulary.AGE_BUCKET_KEY, vocabulary.GENDER_KEY, vocabulary.AGE_KEY}


def _latest_version(model_root: str) -> str:
  return os.path.join(model_root, layout.newest_version(os.listdir(model_root)))


def run_full_answer(variants_json: str, seconds: float) -> None:
  """Prints {variant: median faces/s} of one face's whole answer (every model of the variant's serving
  root, its signature) on batches of RAW_BATCH; the variants' windows alternate, FULL_ANSWER_ROUNDS
  rounds."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  variants = json.loads(variants_json)
  batch = tf.constant(_faces(RAW_BATCH))
  answers = {}
  for variant in variants:
    functions = [tf.saved_model.load(_latest_version(os.path.join(variant["root"], model))).signatures[
        variant["signature"]] for model in variant.get("models", vocabulary.MODELS)]
    if not WHOLE_ANSWER <= {name for function in functions for name in function.structured_outputs}:
      continue  # these models do not answer a face in full
    answers[variant["name"]] = functions
    for function in functions:
      function(images=batch)
  rates = {name: [] for name in answers}
  for _ in range(FULL_ANSWER_ROUNDS):
    for name, functions in answers.items():
      done, start = 0, time.perf_counter()
      while time.perf_counter() - start < seconds:
        for function in functions:
          function(images=batch)
        done += RAW_BATCH
      rates[name].append(done / (time.perf_counter() - start))
  print(json.dumps({name: {"median_faces_per_s": round(float(np.median(r)), 1), "rounds": [round(x, 1) for x in r]}
                    for name, r in rates.items()}), flush=True)


def full_answer(serving_root: str, before_root: str, seconds: float) -> dict:
  """One face's whole answer, faces/s: serving_default (one pass per model) over the mirror average (two),
  and over `before_root`'s serving_default if given; where the classifier exports its own age, also the
  classifier's one pass alone (the whole answer from one model)."""
  from vocabulary import signatures  # pylint: disable=g-import-not-at-top
  variants = [{"name": "serving_default", "root": serving_root, "signature": signatures.SERVING_DEFAULT},
              {"name": "serving_mirror_average", "root": serving_root, "signature": signatures.SERVING_MIRROR_AVERAGE},
              # measured where the classifier exports its own age (the child skips it otherwise)
              {"name": "classifier_one_pass", "root": serving_root, "signature": signatures.SERVING_DEFAULT,
               "models": [vocabulary.CLASSIFIER]}]
  if before_root:
    variants.append({"name": "before", "root": before_root, "signature": signatures.SERVING_DEFAULT})
  child = _child("--full-answer", json.dumps(variants), "--seconds", str(seconds))
  rates = json.loads(child.communicate(timeout=1800)[0].strip().splitlines()[-1])
  result = {"batch": RAW_BATCH, "rounds": FULL_ANSWER_ROUNDS, "faces_per_s": rates,
            "default_over_mirror_average": round(rates["serving_default"]["median_faces_per_s"]
                                                 / rates["serving_mirror_average"]["median_faces_per_s"], 2)}
  if before_root:
    result["before_models"] = results_file.model_versions(before_root)
    for name, ratio in (("serving_default", "default_over_before"),
                        ("classifier_one_pass", "classifier_one_pass_over_before")):
      if name in rates:
        result[ratio] = round(rates[name]["median_faces_per_s"] / rates["before"]["median_faces_per_s"], 2)
  print("full answer:", result, flush=True)
  return result


def _child(*args: str):
  return subprocess.Popen([sys.executable, "-m", "benchmarks.serving", *args], cwd=REPO,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)


def _stop(*processes) -> None:
  for process in processes:
    process.terminate()
    process.wait(timeout=60)


# The measurements.

def raw_faces_per_s(version_dir: str, seconds: float) -> float:
  raw = _child("--raw", version_dir, "--seconds", str(seconds))
  faces_per_s = json.loads(raw.communicate(timeout=600)[0].strip().splitlines()[-1])["faces_per_s"]
  print(f"raw SavedModel, batch {RAW_BATCH}: {faces_per_s} faces/s", flush=True)
  return faces_per_s


def _measure_servers(rows, ours, werkzeug, werkzeug_port, baseline, baseline_port, seconds, faces) -> None:
  """Every (server, clients) row of the throughput table, appended to `rows`."""
  _wait_ready(f"http://127.0.0.1:{werkzeug_port}/v1/models/{MODEL}", werkzeug)
  _wait_ready(f"http://127.0.0.1:{baseline_port}/ready", baseline)
  runs = [("fdp serve REST (waitress)", "rest", ours.rest_port, CLIENTS),
          ("fdp serve gRPC", "grpc", ours.grpc_port, CLIENTS),
          ("REST on werkzeug's development server", "rest", werkzeug_port, WERKZEUG_CLIENTS),
          ("baseline Flask + Keras model.predict", "baseline", baseline_port, (BASELINE_CLIENTS,))]
  for name, kind, port, client_counts in runs:
    for clients in client_counts:
      row = dict(server=name, **measure(_senders(kind, f"127.0.0.1:{port}", faces), clients, seconds))
      row["p99_over_p50"] = round(row["p99_ms"] / row["p50_ms"], 2)
      print(row, flush=True)
      rows.append(row)


def throughput_table(serving_root: str, version_dir: str, seconds: float, faces) -> dict:
  """The raw model is measured before and after the servers (the ratio uses the mean of the two, so a
  change in the machine's load during the run shows as a gap between them)."""
  raw_before = raw_faces_per_s(version_dir, 2 * seconds)
  rows = []
  werkzeug_port, baseline_port = _free_port(), _free_port()
  werkzeug = _child("--werkzeug-server", serving_root, "--port", str(werkzeug_port))
  baseline = _child("--baseline-server", version_dir, "--port", str(baseline_port))
  try:
    with serve_process("--model-base-dir", serving_root) as ours:
      _measure_servers(rows, ours, werkzeug, werkzeug_port, baseline, baseline_port, seconds, faces)
  finally:
    _stop(werkzeug, baseline)
  raw_after = raw_faces_per_s(version_dir, 2 * seconds)
  raw = (raw_before + raw_after) / 2
  for row in rows:
    row["over_raw"] = round(row["throughput_rps"] / raw, 2)

  def rps(server, clients):
    return next(r["throughput_rps"] for r in rows if r["server"].startswith(server) and r["clients"] == clients)

  baseline_rps = rps("baseline", BASELINE_CLIENTS)
  return {"raw_faces_per_s": round(raw, 1), "raw_faces_per_s_before_and_after": [raw_before, raw_after],
          "results": rows,
          "over_baseline_at_8_clients": {"rest": round(rps("fdp serve REST", 8) / baseline_rps, 2),
                                         "grpc": round(rps("fdp serve gRPC", 8) / baseline_rps, 2)},
          "waitress_over_werkzeug": {str(c): round(rps("fdp serve REST", c) / rps("REST on werkzeug", c), 2)
                                     for c in WERKZEUG_CLIENTS}}


def _states(rest_port: int) -> dict:
  import requests  # pylint: disable=g-import-not-at-top
  body = requests.get(f"http://127.0.0.1:{rest_port}/v1/models/{MODEL}", timeout=30).json()
  return {int(s["version"]): s["state"] for s in body.get("model_version_status", [])}


def _wait_for(condition, timeout: float = 180) -> None:
  deadline = time.time() + timeout
  while not condition():
    if time.time() > deadline:
      raise TimeoutError("condition not met")
    time.sleep(0.05)


def first_requests_and_pushes(version_dir: str, faces) -> dict:
  """Pushes copies of the classifier into a served root, alternately with and without the warm-up file:
  the first request's latency after each becomes AVAILABLE, over the median of the next five. Meanwhile,
  clients ask for predictions and statuses; a last push is deleted again; every error is counted."""
  root = pathlib.Path(tempfile.mkdtemp(prefix="serving-bench-"))
  version = int(os.path.basename(version_dir))
  shutil.copytree(version_dir, root / MODEL / str(version))
  try:
    with serve_process("--model-base-dir", str(root), "--poll-seconds", "0.2") as server:
      timings, during = _push_under_traffic(root, version_dir, version, int(server.rest_port), faces)
  finally:
    shutil.rmtree(root, ignore_errors=True)
  summary = {}
  for mode, runs in timings.items():
    first, warm = np.median([r["first_ms"] for r in runs]), np.median([r["warm_ms"] for r in runs])
    summary[mode] = {"pushes": runs, "first_p50_ms": round(float(first), 1), "warm_p50_ms": round(float(warm), 1),
                     "first_over_warm": round(float(first / warm), 2)}
  return {"first_request_after_push": summary, "during_pushes": during}


def _push_under_traffic(root, version_dir: str, version: int, rest_port: int, faces):
  """(first/warm latencies per push mode, the errors of the background clients)."""
  from serving.client import model_client as client_lib  # pylint: disable=g-import-not-at-top
  from vocabulary import signatures  # pylint: disable=g-import-not-at-top
  stop, errors, answered = threading.Event(), [], [0]

  def background():
    with client_lib.connect(f"127.0.0.1:{rest_port}", "rest", timeout=60) as client:
      while not stop.is_set():
        try:
          client.predict(MODEL, [faces[0]])
          client.status(MODEL)
          answered[0] += 1
        except Exception as e:  # pylint: disable=broad-except
          errors.append(repr(e))
        time.sleep(0.2)

  clients = [threading.Thread(target=background) for _ in range(2)]
  for thread in clients:
    thread.start()
  timings = {"with warm-up requests": [], "without": []}
  try:
    with client_lib.connect(f"127.0.0.1:{rest_port}", "rest", timeout=60) as client:
      for push in range(2 * PUSHES_PER_MODE):
        version += 1
        warm = push % 2 == 0
        shutil.copytree(version_dir, root / MODEL / str(version), ignore=None if warm else shutil.ignore_patterns(
            os.path.dirname(signatures.WARMUP_REQUESTS_FILE)))
        _wait_for(lambda v=version: _states(rest_port).get(v) == "AVAILABLE")
        latencies = []
        for k in range(6):
          start = time.perf_counter()
          client.predict(MODEL, [faces[(push * 6 + k) % len(faces)]])
          latencies.append((time.perf_counter() - start) * 1000)
        timings["with warm-up requests" if warm else "without"].append(
            {"first_ms": round(latencies[0], 1), "warm_ms": round(float(np.median(latencies[1:])), 1)})
      shutil.rmtree(root / MODEL / str(version))  # a delete: the previous version comes back
      _wait_for(lambda: _states(rest_port).get(version - 1) == "AVAILABLE")
  finally:
    stop.set()
    for thread in clients:
      thread.join(60)
  return timings, {"pushes": 2 * PUSHES_PER_MODE, "deletes": 1, "requests": answered[0], "errors": len(errors),
                   "first_errors": errors[:3]}


def slow_clients(serving_root: str) -> dict:
  import requests  # pylint: disable=g-import-not-at-top
  with serve_process("--model-base-dir", serving_root) as server:
    idle_threads = threads_of(server.process.pid)
    sockets = []
    try:
      for _ in range(SLOW_CLIENTS):
        s = socket.create_connection(("127.0.0.1", int(server.rest_port)), timeout=10)
        s.sendall(b"POST /v1/models/classifier:predict HTTP/1.1\r\nHost: x\r\n")
        sockets.append(s)
      start = time.perf_counter()
      code = requests.get(f"http://127.0.0.1:{server.rest_port}/v1/models/{MODEL}", timeout=30).status_code
      return {"slow_connections": SLOW_CLIENTS, "status_code": code,
              "status_ms": round((time.perf_counter() - start) * 1000, 1), "server_threads_idle": idle_threads,
              "server_threads_with_slow_clients": threads_of(server.process.pid)}
    finally:
      for s in sockets:
        s.close()


def docs_tables(summary: dict) -> str:
  """The Markdown tables docs/serving.md shows."""
  raw = summary["raw_faces_per_s_before_and_after"]
  answer = summary["full_answer"]["faces_per_s"]
  lines = [f"Raw SavedModel, batches of {RAW_BATCH}: {summary['raw_faces_per_s']} faces/s (before the servers "
           f"{raw[0]}, after {raw[1]}).", "",
           "One face's whole answer (classifier and regressor, raw SavedModels, batches of "
           f"{RAW_BATCH}, median of {summary['full_answer']['rounds']} alternating windows): "
           + ", ".join(f"{name} {rate['median_faces_per_s']} faces/s" for name, rate in answer.items())
           + f"; serving_default over the mirror average {summary['full_answer']['default_over_mirror_average']}x"
           + (f", over the models before {summary['full_answer']['default_over_before']}x"
              if "default_over_before" in summary["full_answer"] else "")
           + (f"; the classifier's one pass alone over the models before "
              f"{summary['full_answer']['classifier_one_pass_over_before']}x"
              if "classifier_one_pass_over_before" in summary["full_answer"] else "") + ".", "",
           "| server | clients | requests/s | / raw | p50 ms | p99 ms | p99/p50 | errors |",
           "|---|---|---|---|---|---|---|---|"]
  lines += [f"| {r['server']} | {r['clients']} | {r['throughput_rps']} | {r['over_raw']} | {r['p50_ms']} | "
            f"{r['p99_ms']} | {r['p99_over_p50']} | {r['errors']} |" for r in summary["results"]]
  slow, pushes = summary["slow_clients"], summary["during_pushes"]
  lines += ["", f"Over the Flask baseline at 8 clients: {summary['over_baseline_at_8_clients']['rest']}x REST, "
            f"{summary['over_baseline_at_8_clients']['grpc']}x gRPC. waitress over werkzeug: "
            + ", ".join(f"{v}x at {c} client{'s' if c != '1' else ''}" for c, v in summary["waitress_over_werkzeug"].items())
            + ".", "",
            f"{slow['slow_connections']} connections that never finish their headers: a status request answered "
            f"{slow['status_code']} in {slow['status_ms']} ms; server threads {slow['server_threads_idle']} idle, "
            f"{slow['server_threads_with_slow_clients']} with them open.", "",
            "| first request after a push | p50 ms | warm request p50 ms | first / warm |", "|---|---|---|---|"]
  lines += [f"| {mode} | {row['first_p50_ms']} | {row['warm_p50_ms']} | {row['first_over_warm']} |"
            for mode, row in summary["first_request_after_push"].items()]
  lines += ["", f"During {pushes['pushes']} pushes and {pushes['deletes']} delete: {pushes['requests']} predict + "
            f"status rounds, {pushes['errors']} errors."]
  return "\n".join(lines)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--serving-root", default=settings.models_dir())
  parser.add_argument("--seconds", type=float, default=6.0, help="each measurement window")
  parser.add_argument("--update-docs", action="store_true", help="rewrite the tables in docs/serving.md")
  parser.add_argument("--before-root", help="a serving root of other models (e.g. those shipped before) whose "
                      "full answer is measured in the same run")
  parser.add_argument("--full-answer-only", action="store_true", help="measure only the full answer")
  parser.add_argument("--raw", help=argparse.SUPPRESS)  # internal modes: a child process of this script
  parser.add_argument("--full-answer", help=argparse.SUPPRESS)
  parser.add_argument("--werkzeug-server", help=argparse.SUPPRESS)
  parser.add_argument("--baseline-server", help=argparse.SUPPRESS)
  parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.raw:
    return run_raw(args.raw, args.seconds) or 0
  if args.full_answer:
    return run_full_answer(args.full_answer, args.seconds) or 0
  if args.werkzeug_server:
    return run_werkzeug_server(args.werkzeug_server, args.port) or 0
  if args.baseline_server:
    return run_baseline_server(args.baseline_server, args.port) or 0

  serving_root = os.path.abspath(args.serving_root)
  answer = full_answer(serving_root, args.before_root and os.path.abspath(args.before_root), args.seconds)
  if args.full_answer_only:
    path = results_file.write("full_answer.json", answer, results_file.model_versions(serving_root))
    print(f"wrote {os.path.relpath(path, REPO)}")
    return 0
  version_dir = _latest_version(os.path.join(serving_root, MODEL))
  faces = _faces()
  summary = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
             "seconds_per_window": args.seconds, "request": "one face (a real UTKFace crop) per request",
             **throughput_table(serving_root, version_dir, args.seconds, faces),
             "slow_clients": slow_clients(serving_root), **first_requests_and_pushes(version_dir, faces),
             "full_answer": answer}
  path = results_file.write(RESULTS, summary, results_file.model_versions(serving_root))
  tables = docs_tables(summary)
  print(tables)
  if args.update_docs:
    results_file.update_block(os.path.join(REPO, "docs", "serving.md"), "serving-benchmark", tables)
  print(f"wrote {os.path.relpath(path, REPO)}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
