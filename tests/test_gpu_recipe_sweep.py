"""The CPU side of benchmarks/gpu_recipe_sweep.py (the training half needs PyTorch and a GPU): the
age-bucket-vs-MAE analysis agrees with a simulation, and README.md shows the recorded sweep."""
import importlib.util
import json

import numpy as np
import pytest

from tests.conftest import REPO

SCRIPT = REPO / "benchmarks" / "gpu_recipe_sweep.py"


@pytest.fixture(scope="module")
def sweep():
  spec = importlib.util.spec_from_file_location("gpu_recipe_sweep", SCRIPT)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)  # imports no PyTorch: that happens inside the training functions
  return module


@pytest.mark.parametrize("mae", [1.5, 3.4, 6.0])
def test_bucket_accuracy_at_mae_agrees_with_a_simulation(sweep, mae):
  rng = np.random.default_rng(0)
  ages = rng.integers(0, 117, size=4000)
  estimates = np.clip(np.round(ages[None] + rng.laplace(0.0, mae, size=(50, len(ages)))), 0, 124)
  simulated = np.mean(np.minimum(estimates // 25, 4) == np.minimum(ages // 25, 4)[None])
  assert sweep.bucket_accuracy_at_mae(ages, mae) == pytest.approx(simulated, abs=0.005)


def test_bucket_accuracy_falls_with_the_mae_and_is_exact_without_errors(sweep):
  ages = np.arange(0, 117)
  accuracies = [sweep.bucket_accuracy_at_mae(ages, mae) for mae in (0.01, 1.0, 3.0, 5.0)]
  assert accuracies[0] == pytest.approx(1.0, abs=1e-6)
  assert accuracies == sorted(accuracies, reverse=True)


def test_readme_shows_the_recorded_sweep(sweep):
  with open(sweep.RESULTS) as f:
    report = json.load(f)
  readme = (REPO / "README.md").read_text()
  block = readme.split("<!-- gpu-sweep:begin -->\n", 1)[1].split("\n<!-- gpu-sweep:end -->", 1)[0]
  assert block == sweep.markdown_table(report)
  assert len(block.splitlines()) == 2 + sum(len(run["results"]) for run in report["runs"])
  for mae, accuracy in report["bucket_accuracy_at_mae"].items():
    assert f"{accuracy:.3f}" in readme, (mae, accuracy)
