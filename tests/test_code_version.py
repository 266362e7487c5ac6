"""The components that run user code are re-run by TFX's cache exactly when that code changes: their
configuration carries a fingerprint of the project modules they import (pipeline/code_version.py)."""
import re
import shutil

import pytest

from pipeline import code_version
from tests.conftest import REPO

PACKAGES = ("components", "pipeline", "trainer", "vocabulary")
USER_CODE = {"FileBasedExampleGen", "DriftValidator", "DataValidationGate", "Transform", "classifier_trainer",
             "regressor_trainer"}


def test_the_closure_follows_imports_into_every_project_module_and_no_further():
  transform = code_version.closure(["trainer.preprocessing"])
  assert transform == ["trainer/__init__.py", "trainer/preprocessing.py", "vocabulary/__init__.py"]
  trainer = code_version.closure(["trainer.train"])
  assert {"trainer/hyperparameters.py", "trainer/models.py", "trainer/export.py", "trainer/images.py",
          "vocabulary/signatures.py"} <= set(trainer)
  assert not any(path.startswith("pipeline/") for path in trainer)  # the user code reads no pipeline setting
  example_gen = code_version.closure(["components.example_gen"])
  assert {"components/ingest.py", "components/wiki.py", "components/utkface.py", "vocabulary/layout.py"} <= \
      set(example_gen)  # wiki and utkface are imported inside a function
  assert code_version.closure(["components.validation_gate"]) == [
      "components/__init__.py", "components/validation_gate.py", "vocabulary/__init__.py", "vocabulary/layout.py"]
  # the drift thresholds travel as a parameter (pipeline/configs.py: DRIFT_THRESHOLDS)
  assert code_version.closure(["components.drift"]) == ["components/__init__.py", "components/drift.py"]


def test_only_the_project_packages_are_followed(tmp_path):
  (tmp_path / "tensorflow").mkdir()  # installed, the project's packages sit beside the libraries
  (tmp_path / "tensorflow" / "__init__.py").write_text("import keras\n")
  (tmp_path / "trainer").mkdir()
  (tmp_path / "trainer" / "__init__.py").write_text("")
  (tmp_path / "trainer" / "images.py").write_text("import tensorflow as tf\n")
  assert code_version.closure(["trainer.images"], str(tmp_path)) == ["trainer/__init__.py", "trainer/images.py"]


@pytest.fixture
def source_copy(tmp_path, monkeypatch):
  """A copy of the project's Python packages that create_pipeline() fingerprints instead of the tree's."""
  for package in PACKAGES:
    shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "schema"))
  monkeypatch.setattr(code_version, "ROOT", str(tmp_path))
  return tmp_path


def _configs_by_component():
  from pipeline import pipeline  # pylint: disable=import-outside-toplevel  (imports TFX)
  built = pipeline.create_pipeline(pipeline_name="p", pipeline_root="/r", data_root="/d", dataset="utkface",
                                   serving_root="/s", pretrained_model_uri="/pretrained")
  return {c.id: {k: str(v) for k, v in c.exec_properties.items()} for c in built.components}


def _changed(before, after):
  assert set(before) == set(after)
  return {component for component in before if before[component] != after[component]}


def test_an_edit_changes_the_configuration_of_exactly_the_components_that_import_it(source_copy):
  original = _configs_by_component()
  for component in USER_CODE:
    assert any("code_version" in key + value for key, value in original[component].items()), component

  vocabulary_py = source_copy / "vocabulary" / "__init__.py"
  text, count = re.subn(r"^AGE_BUCKET_WIDTH = 25$", "AGE_BUCKET_WIDTH = 20", vocabulary_py.read_text(), flags=re.M)
  assert count == 1
  vocabulary_py.write_text(text)  # read by Transform (labels); every component but the drift check reads words
  edited_constant = _configs_by_component()
  assert _changed(original, edited_constant) == USER_CODE - {"DriftValidator"}

  with open(source_copy / "trainer" / "models.py", "a", encoding="utf-8") as f:
    f.write("\nWIDTH_MULTIPLIER = 2\n")
  assert _changed(edited_constant, _configs_by_component()) == {"classifier_trainer", "regressor_trainer"}

  vocabulary_py.write_text(vocabulary_py.read_text().replace("AGE_BUCKET_WIDTH = 20", "AGE_BUCKET_WIDTH = 25"))
  with open(source_copy / "components" / "validation_gate.py", "a", encoding="utf-8") as f:
    f.write("\n# a new rule\n")
  now = _configs_by_component()
  assert _changed(original, now) == {"classifier_trainer", "regressor_trainer", "DataValidationGate"}


def test_a_changed_drift_threshold_re_runs_the_drift_check_alone(monkeypatch):
  from pipeline import configs  # pylint: disable=import-outside-toplevel
  original = _configs_by_component()
  monkeypatch.setitem(configs.DRIFT_THRESHOLDS, "age", ("jensen_shannon_divergence", 0.05))
  assert _changed(original, _configs_by_component()) == {"DriftValidator"}
