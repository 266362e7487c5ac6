"""Where `fdp serve` finds the shipped models outside a checkout: $FDP_MODELS_DIR (the pipeline image sets
it to the models/ it copies in); when they are missing it says where it looked, before loading anything."""
import os
import re
import shutil
import subprocess
import sys

import requests

from tests.serve_process import fdp_serve
from tests.conftest import REPO


def test_fdp_serve_without_the_shipped_models_says_where_it_looked(tmp_path):
  missing = tmp_path / "site-packages" / "models"
  result = subprocess.run([sys.executable, "-m", "cli", "serve", "--rest-port", "0", "--grpc-port", "0"],
                          env={**os.environ, "FDP_MODELS_DIR": str(missing)}, cwd=REPO, capture_output=True,
                          text=True, timeout=120)
  assert result.returncode == 1
  assert result.stderr.startswith(f"fdp serve: no trained models at {missing} (")
  assert "Set FDP_MODELS_DIR to a folder holding classifier/ and regressor/, or pass --model-base-dir" in result.stderr


def test_fdp_serve_serves_the_models_fdp_models_dir_names(tmp_path, shipped_models):
  root = tmp_path / "models"
  for model, path in shipped_models.items():
    shutil.copytree(path, root / model / os.path.basename(path))
  with fdp_serve(env={"FDP_MODELS_DIR": str(root)}) as (lines, rest_port, _):
    assert [line.split(": ")[1].strip() for line in lines[:2]] == [str(root / "classifier"), str(root / "regressor")]
    status = requests.get(f"http://127.0.0.1:{rest_port}/v1/models/regressor", timeout=30).json()
    assert status["model_version_status"][0]["state"] == "AVAILABLE"


def test_the_image_ships_the_models_where_fdp_models_dir_points():
  text = (REPO / "kubeflow" / "Dockerfile").read_text()
  workdir = re.search(r"^WORKDIR (\S+)$", text, re.M).group(1)
  assert re.search(r"^COPY models/ models/$", text, re.M)
  assert re.search(rf"^ENV FDP_MODELS_DIR={re.escape(workdir)}/models$", text, re.M)
