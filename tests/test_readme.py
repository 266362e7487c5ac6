"""README.md is the manual: short, the two commands first, and every module, file and function it names
exists (the details live in docs/, one page per subject)."""
import importlib.util
import re

import pytest

from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
# `path/file.py`, `folder/`, `docs/x.md` (of the repository: starting with a top-level name);
# `module.path.function`; `file.py: Name`
TOP_LEVEL = "|".join(sorted(p.name for p in REPO.iterdir() if not p.name.startswith(".")) + [r"\.ci"])
PATH = re.compile(rf"`((?:{TOP_LEVEL})/[\w./-]*)`")
DOTTED = re.compile(r"`((?:application|cli|components|kubeflow|pipeline|serving|trainer|vocabulary|benchmarks)"
                    r"(?:\.(?!py\b)\w+)+)(?:\([^`]*\))?`")
RUN_MODULE = re.compile(r"python -m ([a-z_]+(?:\.[a-z_]+)*)\b(?!\.)")
FILE_NAME = re.compile(r"`((?:[\w-]+/)+\w+\.py): (\w+)`")
LINKS = re.compile(r"\]\(((?!https?:)[^)#]+)(?:#[^)]*)?\)")


def test_the_readme_is_short_and_starts_with_the_two_commands():
  lines = README.splitlines()
  assert len(lines) <= 400
  first = "\n".join(lines[:80])
  assert re.search(r"^make run\b", first, re.M) and re.search(r"^make test\b", first, re.M)


def test_every_path_the_readme_names_exists():
  paths = {p for p in PATH.findall(README) if "<" not in p}
  missing = sorted(p for p in paths if not (REPO / p).exists())
  assert {"vocabulary/settings.py", "serving/client/model_client.py"} <= paths
  assert missing == []


def test_every_link_points_at_a_file():
  for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
    targets = LINKS.findall(doc.read_text(encoding="utf-8"))
    missing = [t for t in targets if not (doc.parent / t).exists()]
    assert missing == [], doc.name


def _resolve(dotted: str):
  """A dotted name -> the object (importing the longest module prefix, then attributes)."""
  parts = dotted.split(".")
  for cut in range(len(parts), 0, -1):
    module = ".".join(parts[:cut])
    try:
      found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a prefix that is a module, not a package
      found = False
    if found:
      obj = importlib.import_module(module)
      for attr in parts[cut:]:
        obj = getattr(obj, attr)
      return obj
  raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("dotted", sorted(set(DOTTED.findall(README))))
def test_every_module_and_function_the_readme_names_exists(dotted):
  assert _resolve(dotted) is not None


def test_every_module_the_readme_runs_exists():
  modules = set(RUN_MODULE.findall(README))
  assert {"benchmarks.quality", "cli"} <= modules
  assert [m for m in modules if importlib.util.find_spec(m) is None] == []


def test_every_name_given_with_its_file_exists():
  named = FILE_NAME.findall(README)
  assert ("vocabulary/image_formats.py", "IMAGE_EXTENSIONS") in named
  for path, name in named:
    text = (REPO / path).read_text(encoding="utf-8")
    assert re.search(rf"^(def|class) {name}\b|^{name}\b.*=", text, re.M), (path, name)
