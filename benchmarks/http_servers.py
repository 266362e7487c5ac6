"""Which WSGI server carries `fdp serve`'s REST API and the page: the candidates on one small application.

For each server (each in its own process, 8 worker threads where the server has a pool):
  slow clients   N connections that send half a request line and stop; then a normal request: its latency
                 (or "starved" past 10 s) and the server process's threads
  throughput     32 keep-alive clients on an application that sleeps 20 ms per request (a model's wait):
                 requests/s and p99
Candidates: waitress (the one chosen), cheroot, werkzeug's development server. A candidate that is not
installed is reported as such (cheroot is not in the lock file: `pip install cheroot` to include it).

  .venv/bin/python -m benchmarks.http_servers [--slow 200]
Writes benchmarks/results/http_servers.json.
"""
import argparse
import pathlib
import socket
import subprocess
import sys
import threading
import time

import numpy as np

from benchmarks import results_file
from tests.serve_process import threads_of

REPO = pathlib.Path(__file__).resolve().parent.parent
RESULTS = "http_servers.json"
SERVERS = ("waitress", "cheroot", "werkzeug")
THREADS = 8
CLIENTS = 32
APP_SECONDS = 0.02


def app(environ, start_response):
  time.sleep(APP_SECONDS)
  start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
  return [b"{}"]


def serve(kind: str) -> None:
  """Child process: `kind` on a free port; prints the port."""
  if kind == "waitress":
    from serving import http_server  # pylint: disable=g-import-not-at-top
    server = http_server.HttpServer(app, "127.0.0.1", 0, http_server.HttpOptions(threads=THREADS)).start()
    port = server.port
  elif kind == "cheroot":
    from cheroot import wsgi  # pylint: disable=g-import-not-at-top
    server = wsgi.Server(("127.0.0.1", 0), app, numthreads=THREADS, timeout=30)
    server.prepare()
    port = server.bind_addr[1]
    threading.Thread(target=server.serve, daemon=True).start()
  else:
    from werkzeug import serving as werkzeug_serving  # pylint: disable=g-import-not-at-top

    class KeepAlive(werkzeug_serving.WSGIRequestHandler):
      protocol_version = "HTTP/1.1"

      def log_request(self, *args, **kwargs):
        pass
    server = werkzeug_serving.make_server("127.0.0.1", 0, app, threaded=True, request_handler=KeepAlive)
    port = server.server_port
    threading.Thread(target=server.serve_forever, daemon=True).start()
  print(port, flush=True)
  threading.Event().wait()


def _get(port: int, timeout: float):
  import requests  # pylint: disable=g-import-not-at-top
  return requests.get(f"http://127.0.0.1:{port}/", timeout=timeout)


def slow_clients(process, port: int, count: int) -> dict:
  sockets = []
  try:
    for _ in range(count):
      s = socket.create_connection(("127.0.0.1", port), timeout=10)
      s.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n")
      sockets.append(s)
    time.sleep(0.5)
    start = time.perf_counter()
    try:
      _get(port, 10)
      latency = round((time.perf_counter() - start) * 1000, 1)
    except Exception:  # pylint: disable=broad-except
      latency = "starved"
    return {"slow_connections": count, "normal_request_ms": latency, "server_threads": threads_of(process.pid)}
  finally:
    for s in sockets:
      s.close()


def throughput(port: int, seconds: float = 5.0) -> dict:
  import requests  # pylint: disable=g-import-not-at-top
  latencies, stop = [], time.perf_counter() + seconds

  def client():
    session = requests.Session()
    while time.perf_counter() < stop:
      start = time.perf_counter()
      session.get(f"http://127.0.0.1:{port}/", timeout=30)
      latencies.append(time.perf_counter() - start)

  threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  return {"clients": CLIENTS, "requests_per_s": round(len(latencies) / seconds, 1),
          "p99_ms": round(float(np.percentile(latencies, 99)) * 1000, 1)}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--slow", type=int, default=200)
  parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.serve:
    serve(args.serve)
    return 0
  results = {}
  for kind in SERVERS:
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.http_servers", "--serve", kind], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline().strip()
    if not line.isdigit():
      process.wait(timeout=30)
      results[kind] = {"error": (process.stderr.read().strip().splitlines() or ["did not start"])[-1]}
      print(kind, results[kind], flush=True)
      continue
    port = int(line)
    try:
      results[kind] = {"idle_threads": threads_of(process.pid), **throughput(port),
                       **slow_clients(process, port, args.slow)}
    finally:
      process.kill()
      process.wait()
    print(kind, results[kind], flush=True)
  results_file.write(RESULTS, {"worker_threads": THREADS, "app_seconds": APP_SECONDS, "results": results},
                     "none: a WSGI application that sleeps app_seconds per request")
  return 0


if __name__ == "__main__":
  sys.exit(main())
