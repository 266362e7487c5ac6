"""`fdp batch-predict` against `fdp predict` + `fdp serve` over the All-Age-Faces photos, in the same run.

  .venv/bin/python -m benchmarks.batch_predict [--limit N] [--workers 1 2] [--portable]

Each command runs as a subprocess, timed from its start to its end (imports and model loading included):
`fdp serve` (the shipped models) with `fdp predict DIR --json`, then `fdp batch-predict DIR` on the
DirectRunner with each number of --beam-workers (and with --portable, on the portable runner with external
workers: `fdp beam-local`'s job service and worker pool, started and stopped here). The records of each batch
job are compared with `fdp predict`'s: same number of faces, same boxes, gender and age bucket, age within
0.5 years. Writes benchmarks/results/batch_predict.json (no machine paths in it).
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

from benchmarks import results_file
from vocabulary import settings

REPO = pathlib.Path(__file__).resolve().parent.parent
AGE_TOLERANCE = 0.5


def fdp(*args: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "cli", *args], cwd=REPO, capture_output=True, text=True, check=True)


def timed(function):
  started = time.time()
  value = function()
  return value, time.time() - started


def by_image(lines, root: str):
  return {os.path.relpath(r["image"], root): r for r in map(json.loads, lines) if r}


def agreement(batch: dict, served: dict) -> dict:
  """How many photos' records agree (faces, boxes, gender, bucket; age within AGE_TOLERANCE)."""
  agree, age_diffs = 0, []
  for image, record in served.items():
    ours = batch.get(image, {})
    if "error" in record or "error" in ours:
      agree += ours == record
      continue
    same = len(ours["faces"]) == len(record["faces"])
    for a, b in zip(ours["faces"], record["faces"]):
      age_diffs.append(abs(a["age"] - b["age"]))
      same &= (a["box"], a["gender"], a["age_bucket"]) == (b["box"], b["gender"], b["age_bucket"])
      same &= abs(a["age"] - b["age"]) <= AGE_TOLERANCE
    agree += same
  return {"photos": len(served), "photos_agreeing": agree, "share_agreeing": round(agree / len(served), 4),
          "records_missing": len(set(served) - set(batch)), "max_age_difference": round(max(age_diffs, default=0), 2),
          "identical_records": sum(batch.get(image) == record for image, record in served.items())}


def batch_predict(photos: str, out: str, beam_args: list) -> tuple:
  (done, seconds) = timed(lambda: fdp("batch-predict", photos, "--output", out, *beam_args))
  result = json.loads(done.stdout[done.stdout.index("{"):])
  lines = [line for path in pathlib.Path(out).parent.glob(pathlib.Path(out).name + "-*")
           for line in path.read_text().splitlines()]
  return result, seconds, lines


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--limit", type=int, help="the first N photos only (sorted by name)")
  parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
  parser.add_argument("--portable", action="store_true", help="also on the portable runner (external workers)")
  parser.add_argument("--out", default="batch_predict.json", help="a file name under benchmarks/results/, or a path")
  args = parser.parse_args()
  from tests.serve_process import fdp_serve  # pylint: disable=g-import-not-at-top
  from cli import beam_local_command  # pylint: disable=g-import-not-at-top

  with tempfile.TemporaryDirectory(prefix="fdp-batch-bench-") as tmp:
    photos = os.path.join(tmp, "photos")
    os.makedirs(photos)
    names = sorted(os.listdir(settings.aaf_dir() / "faces"))[:args.limit]
    for name in names:
      os.symlink(settings.aaf_dir() / "faces" / name, os.path.join(photos, name))
    rows = []
    with fdp_serve() as (_, rest_port, _):
      served, seconds = timed(lambda: fdp("predict", photos, "--json", "--no-progress",
                                          "--server", f"127.0.0.1:{rest_port}"))
    served = by_image(served.stdout.splitlines(), photos)
    rows.append({"command": "fdp predict DIR --json (against fdp serve, started before)", "runner": None,
                 "workers": None, "seconds": round(seconds, 1), "photos_per_s": round(len(names) / seconds, 2)})
    print(json.dumps(rows[-1]), flush=True)
    runs = [(f"DirectRunner, {n} worker{'s' if n > 1 else ''}", n, ["--beam-workers", str(n)]) for n in args.workers]
    portable = None
    if args.portable:
      portable = beam_local_command.LocalPortableRunner.start(os.path.join(tmp, "beam-local"))
      runs.append(("PortableRunner, external worker pool", None, ["--beam-args", " ".join(portable.beam_args())]))
    try:
      for runner, workers, beam_args in runs:
        row = {"command": "fdp batch-predict DIR --output PREFIX " + " ".join(
            beam_args[:1] + (beam_args[1:] if workers else ["..."])), "runner": runner, "workers": workers}
        try:
          result, seconds, lines = batch_predict(photos, os.path.join(tmp, f"out-{len(rows)}", "records"), beam_args)
        except subprocess.CalledProcessError as e:
          errors = [line.strip() for line in e.stderr.splitlines() if "Error" in line or "details" in line]
          rows.append({**row, "failed": errors[-1] if errors else f"exit status {e.returncode}"})
          print(json.dumps(rows[-1]), flush=True)
          continue
        rows.append({**row, "seconds": round(seconds, 1), "photos_per_s": round(len(names) / seconds, 2),
                     "counters": result["counters"],
                     "agreement_with_fdp_predict": agreement(by_image(lines, photos), served)})
        print(json.dumps(rows[-1]), flush=True)
    finally:
      if portable:
        portable.stop()

  predict_rate = rows[0]["photos_per_s"]
  direct = {row["workers"]: row["photos_per_s"] for row in rows if row["workers"] and "photos_per_s" in row}
  report = {
      "photos": len(names), "dataset": "All-Age-Faces (aaf/faces)", "cpus": os.cpu_count(), "rows": rows,
      "speedup_vs_fdp_predict": {str(n): round(rate / predict_rate, 2) for n, rate in direct.items()},
      "scaling_1_to_2_workers": round(direct[2] / direct[1], 2) if {1, 2} <= set(direct) else None,
  }
  results_file.write(args.out, report, results_file.model_versions(settings.models_dir()))
  print(json.dumps({k: report[k] for k in ("speedup_vs_fdp_predict", "scaling_1_to_2_workers")}))
  return 0


if __name__ == "__main__":
  sys.exit(main())
