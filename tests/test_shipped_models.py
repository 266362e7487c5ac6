"""The trained models shipped in models/: `fdp evaluate` re-computes, on the real held-out test split,
the figures of the quality report (benchmarks/results/quality.json, which README.md and the model card
quote); the models are small, and `fdp serve` / `fdp predict` use them on a fresh clone."""
import contextlib
import io
import json
import os
import subprocess
import sys

import pytest

from cli import main as cli_main
from pipeline import evaluate
from serving import defaults
from tests.serve_process import fdp_serve
from tests.conftest import REPO
import vocabulary

REPORT = REPO / "benchmarks" / "results" / "quality.json"
WOMAN_26 = "26_1_3_20170104235421282.jpg.chip.jpg"
# CPU float differences may flip a borderline prediction or two: that much slack, no more.
TOLERANCE = {"gender_accuracy": 0.002, "age_bucket_accuracy": 0.002, "age_mae": 0.01}


def _fdp(*args, **kwargs):
  return subprocess.run([sys.executable, "-m", "cli", *args], cwd=REPO, capture_output=True,
                        text=True, **kwargs)


@pytest.fixture(scope="module")
def reported():
  with open(REPORT) as f:
    return json.load(f)


@pytest.fixture(scope="module")
def evaluated(utkface_records):
  """`fdp evaluate --json` of each shipped model (in this process: TensorFlow is loaded already)."""
  reports = {}
  for kind in vocabulary.MODELS:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
      code = cli_main.main(["evaluate", "--model", os.path.join(defaults.SHIPPED_MODELS_DIR, kind),
                            "--data", str(utkface_records), "--split", "test", "--json"])
    assert code == 0
    reports[kind] = json.loads(out.getvalue())
  return reports


def test_fdp_evaluate_reproduces_the_reported_figures(evaluated, reported):
  for kind in vocabulary.MODELS:
    got, published = evaluated[kind], reported[kind]
    assert got["kind"] == kind and got["split"] == "test"
    assert got["n"] == published["n"] == 2298
    assert set(got["overall"]) == set(published["overall"]) != set()
    for metric, value in published["overall"].items():
      assert got["overall"][metric] == pytest.approx(value, abs=TOLERANCE[metric]), (kind, metric)
    assert set(got["slices"]) == set(published["slices"])
    assert {s for s in got["slices"] if s.startswith("race=")} == {f"race={r}" for r in range(5)}
    for name, values in published["slices"].items():
      assert got["slices"][name]["n"] == values["n"]
      for metric in published["overall"]:
        slack = TOLERANCE[metric] * 100 if metric == "age_mae" else 2.0 / values["n"]  # two images
        assert got["slices"][name][metric] == pytest.approx(values[metric], abs=slack), (kind, name, metric)


def test_the_shipped_models_are_small(reported):
  for kind in vocabulary.MODELS:
    versions = os.listdir(os.path.join(defaults.SHIPPED_MODELS_DIR, kind))
    assert len(versions) == 1 and versions[0].isdigit()
    folder = os.path.join(defaults.SHIPPED_MODELS_DIR, kind, versions[0])
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(folder) for f in files)
    assert size <= 20 * 2 ** 20, (kind, size)
    assert reported[kind]["saved_model_mb"] == pytest.approx(size / 2 ** 20, abs=0.01)


def test_fdp_serve_and_fdp_predict_use_the_shipped_models_by_default(utkface_dir):
  jpeg = utkface_dir / WOMAN_26
  with fdp_serve() as (lines, rest_port, _):
    assert any(line.startswith(f"classifier: {defaults.SHIPPED_MODELS_DIR}") for line in lines), lines
    result = _fdp("predict", str(jpeg), "--no-detect", "--json", "--server", f"127.0.0.1:{rest_port}", timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    face = json.loads(result.stdout.splitlines()[0])["faces"][0]
    direct = {kind: evaluate.predict(evaluate.load_model(os.path.join(defaults.SHIPPED_MODELS_DIR, kind))[1],
                                     [jpeg.read_bytes()]) for kind in vocabulary.MODELS}
    female = direct[vocabulary.CLASSIFIER]["gender"][0, 0] > 0.5
    assert face["gender"] == ("female" if female else "male")
    assert face["age_bucket"] == vocabulary.AGE_BUCKETS[int(direct[vocabulary.CLASSIFIER]["age_bucket"][0].argmax())]
    assert face["age"] == pytest.approx(float(direct[vocabulary.REGRESSOR]["age"][0, 0]), abs=0.06)
