"""Settings from the environment are read in one place (vocabulary/settings.py), when asked, never at
import; and nothing is captured or started when a module is imported."""
import ast
import pathlib
import subprocess
import sys

import pytest

from tests.conftest import REPO
from vocabulary import settings

SETTINGS = REPO / "vocabulary" / "settings.py"


def environment_reads(path: pathlib.Path):
  """(line, variable) of each os.environ[...] / os.environ.get(...) / os.getenv(...) / environ.setdefault(...)
  naming an FDP_* variable in `path`."""
  for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
    key = None
    if isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("environ"):
      key = node.slice
    elif isinstance(node, ast.Call) and node.args and (
        ast.unparse(node.func).endswith(("environ.get", "environ.setdefault", "environ.pop", "getenv"))):
      key = node.args[0]
    if key is not None and "FDP_" in ast.unparse(key):
      yield node.lineno, ast.unparse(key)


def python_files():
  for path in sorted(REPO.rglob("*.py")):
    if not any(part.startswith(".") or part in ("models", "fdp_home") for part in path.relative_to(REPO).parts):
      yield path


def test_only_the_settings_module_reads_fdp_variables():
  readers = {str(path.relative_to(REPO)): list(environment_reads(path)) for path in python_files()}
  assert {path: reads for path, reads in readers.items() if reads} == {}
  assert "os.environ.get(name)" in SETTINGS.read_text()  # by the names it lists (settings.VARIABLES)


@pytest.mark.parametrize("source,found", [
    ('import os\nos.environ["FDP_HOME"]\n', True),
    ('import os\nos.environ.get("FDP_DATASETS", "x")\n', True),
    ('from os import getenv\ngetenv("FDP_MODELS_DIR")\n', True),
    ('import os\nos.environ.get("HOME")\n', False),
    ('MESSAGE = "set FDP_NPM_REGISTRY to a mirror"\n', False),
])
def test_the_check_sees_each_form_of_read(tmp_path, source, found):
  path = tmp_path / "m.py"
  path.write_text(source)
  assert bool(list(environment_reads(path))) == found


def test_settings_are_read_when_asked(monkeypatch, tmp_path):
  monkeypatch.setenv(settings.HOME, str(tmp_path / "home"))
  monkeypatch.setenv(settings.DATASETS, str(tmp_path / "data"))
  monkeypatch.setenv(settings.MODELS_DIR, str(tmp_path / "models"))
  assert settings.home() == str(tmp_path / "home")
  assert settings.utkface_dir() == tmp_path / "data" / "utkface" / "UTKFace"
  assert settings.aaf_dir() == tmp_path / "data" / "aaf" and settings.wiki_mat() == tmp_path / "data" / "wiki" / "wiki.mat"
  assert settings.models_dir() == str(tmp_path / "models")
  from serving import defaults  # pylint: disable=g-import-not-at-top
  assert defaults.SHIPPED_MODELS_DIR == str(tmp_path / "models")
  monkeypatch.delenv(settings.HOME)
  monkeypatch.delenv(settings.MODELS_DIR)
  monkeypatch.chdir(tmp_path)
  assert settings.home() == str(tmp_path / "fdp_home")  # the directory the command runs in, not the import's
  assert settings.models_dir() == str(REPO / "models")


def test_importing_the_cli_and_the_photo_application_creates_no_thread_pool():
  script = ("import concurrent.futures, gc, threading; import cli.main, application.faces, application.web.app;"
            "pools = [o for o in gc.get_objects() if isinstance(o, concurrent.futures.ThreadPoolExecutor)];"
            "print(len(pools), threading.active_count())")
  out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True).stdout
  assert out.split()[-2:] == ["0", "1"]
