"""`fdp serve` of this checkout against `fdp serve` of another revision, on the same models and load:
whether a change made the server slower. Both servers run at once (an idle one costs nothing) and are
measured in alternating windows, so a change in the machine's load falls on both.

  .venv/bin/python -m benchmarks.serving_compare --base REV [--clients 32] [--protocol rest|grpc]
      [--rounds 5] [--seconds 6] [--serving-root models]
Writes benchmarks/results/serving_compare.json: each window's requests/s, the medians and their ratio.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

from benchmarks import results_file
from benchmarks import serving
from tests.serve_process import PROJECT_ROOT, serve_process
from vocabulary import settings

RESULTS = "serving_compare.json"


def _worktree(revision: str, folder: str) -> str:
  subprocess.run(["git", "worktree", "add", "--detach", folder, revision], cwd=PROJECT_ROOT, check=True,
                 capture_output=True)
  return folder


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--base", required=True, help="the revision to compare with (e.g. main~1, a commit)")
  parser.add_argument("--clients", type=int, default=32)
  parser.add_argument("--protocol", choices=("rest", "grpc"), default="rest")
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--seconds", type=float, default=6.0)
  parser.add_argument("--serving-root", default=settings.models_dir())
  args = parser.parse_args(argv)
  serving_root = os.path.abspath(args.serving_root)
  faces = serving._faces()  # pylint: disable=protected-access
  rates = {"this": [], "base": []}
  with tempfile.TemporaryDirectory() as scratch:
    base_checkout = _worktree(args.base, os.path.join(scratch, "base"))
    base_commit = results_file.git_commit(base_checkout)
    try:
      with serve_process("--model-base-dir", serving_root) as this, \
           serve_process("--model-base-dir", serving_root, checkout=base_checkout) as base:
        for round_number in range(args.rounds):
          for name, server in (("this", this), ("base", base)) if round_number % 2 == 0 else (("base", base), ("this", this)):
            port = server.rest_port if args.protocol == "rest" else server.grpc_port
            row = serving.measure(serving._senders(args.protocol, f"127.0.0.1:{port}", faces),  # pylint: disable=protected-access
                                  args.clients, args.seconds)
            rates[name].append(row["throughput_rps"])
            print(f"round {round_number + 1} {name}: {row['throughput_rps']} requests/s, errors {row['errors']}",
                  flush=True)
    finally:
      subprocess.run(["git", "worktree", "remove", "--force", base_checkout], cwd=PROJECT_ROOT, check=False,
                     capture_output=True)
  medians = {name: float(np.median(values)) for name, values in rates.items()}
  summary = {"base": base_commit,
             "protocol": args.protocol, "clients": args.clients, "seconds_per_window": args.seconds,
             "requests_per_s": rates, "median_requests_per_s": medians,
             "this_over_base": round(medians["this"] / medians["base"], 3)}
  path = results_file.write(RESULTS, summary, results_file.model_versions(serving_root))
  print(f"median: this {medians['this']:.1f}, base {medians['base']:.1f} requests/s: "
        f"{summary['this_over_base']:.3f}x; wrote {os.path.relpath(path, PROJECT_ROOT)}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
