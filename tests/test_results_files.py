"""Every benchmark result says which models and which commit it measured and the command that produced
it, holds no path of the machine that wrote it, and is written through benchmarks/results_file.py; the
benchmarks score with pipeline/metrics.py, never with metrics of their own."""
import json
import re

import pytest

from benchmarks import results_file
from tests.conftest import REPO
from vocabulary import settings

RESULTS = sorted((REPO / "benchmarks" / "results").glob("*.json"))
MACHINE_PATH = re.compile(r"(?<![\w.:/$])/(?:[\w.+-]+/)+[\w.+-]*")
def strings(value):
  if isinstance(value, dict):
    for item in value.values():
      yield from strings(item)
  elif isinstance(value, list):
    for item in value:
      yield from strings(item)
  elif isinstance(value, str):
    yield value


@pytest.mark.parametrize("path", RESULTS, ids=lambda path: path.name)
def test_every_result_names_its_models_commit_and_command(path):
  result = json.loads(path.read_text())
  provenance = result[results_file.PROVENANCE]
  assert provenance["models"], path.name
  assert re.fullmatch(r"[0-9a-f]{7,40}(\+changes)?", provenance["commit"])
  assert provenance["command"].startswith("python -m benchmarks.")
  assert [s for s in strings(result) if MACHINE_PATH.search(s)] == []


def test_the_writer_records_provenance_and_strips_machine_paths(tmp_path, monkeypatch):
  monkeypatch.setenv(settings.DATASETS, "/data/sets")
  monkeypatch.setenv(settings.HOME, "/srv/fdp")
  result = {"data": "/data/sets/utkface/UTKFace", "model": "/srv/fdp/serving_model/classifier/7",
            "elsewhere": "/mnt/x/models/regressor/3", "script": str(REPO / "benchmarks" / "quality.py"),
            "note": "1 / 5 faces at 12 ms/photo over http://host:8501/v1", "list": ["/opt/tmp/file.txt"]}
  path = results_file.write(str(tmp_path / "r.json"), result, {"classifier": "7"})
  written = json.loads(open(path).read())
  assert written[results_file.PROVENANCE]["models"] == {"classifier": "7"}
  assert written[results_file.PROVENANCE]["commit"].startswith(results_file.git_commit()[:40])
  assert written[results_file.PROVENANCE]["command"].startswith("python -m ")
  assert {k: v for k, v in written.items() if k != results_file.PROVENANCE} == {
      "data": "$FDP_DATASETS/utkface/UTKFace", "model": "$FDP_HOME/serving_model/classifier/7",
      "elsewhere": "models/regressor/3", "script": "benchmarks/quality.py",
      "note": "1 / 5 faces at 12 ms/photo over http://host:8501/v1", "list": ["file.txt"]}


def test_model_versions_of_a_serving_root(tmp_path):
  for kind, version in (("classifier", "5"), ("classifier", "12"), ("regressor", "3")):
    (tmp_path / "models" / kind / version).mkdir(parents=True)
  assert results_file.model_versions(str(tmp_path / "models")) == {
      "folder": "models", "classifier": "12", "regressor": "3"}


def test_benchmarks_write_through_the_helper_and_score_with_the_metrics_module():
  scripts = [path for path in sorted((REPO / "benchmarks").glob("*.py")) if path.name != "results_file.py"]
  writers = {path.name for path in scripts if re.search(r"json\.dump\(|write_text\(json\.dumps", path.read_text())}
  assert writers == set()
  own_metrics = [path.name for path in scripts
                 if re.search(r"is_female\(|labels\.age_bucket\(|np\.abs\([^)]*age", path.read_text())]
  assert own_metrics == []
