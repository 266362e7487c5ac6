"""The direction of the project's dependencies: vocabulary/ at the bottom, cli/ on top, no loop.

Read from the import statements of every module (at the top or inside a function), nothing is imported.
"""
import ast
import pathlib

import pytest

from tests.conftest import REPO
from vocabulary.packages import PROJECT_PACKAGES

# A part -> the parts it may import (besides itself). Listed bottom-up.
ALLOWED = {
    "vocabulary": set(),
    "components": {"vocabulary"},
    "trainer": {"vocabulary"},
    "serving": {"vocabulary"},  # serving/'s own shared modules: defaults, wire, image_bytes
    "serving.server": {"vocabulary", "serving"},
    "serving.client": {"vocabulary", "serving"},
    "application": {"vocabulary", "serving", "serving.client"},
    "pipeline": {"vocabulary", "components", "trainer"},
    "kubeflow": {"vocabulary", "components", "trainer", "pipeline"},
    "cli": {"vocabulary", "components", "trainer", "pipeline", "kubeflow", "serving", "serving.server",
            "serving.client", "application"},
}
SERVING_PARTS = ("server", "client")


def part_of(module: str):
  """'serving.server.core' -> 'serving.server'; 'serving.wire' -> 'serving'; 'numpy' -> None."""
  names = module.split(".")
  if names[0] not in ALLOWED:
    return None
  if names[0] == "serving" and len(names) > 1 and names[1] in SERVING_PARTS:
    return f"serving.{names[1]}"
  return names[0]


def imported_modules(path: pathlib.Path):
  """Every project module `path` imports, with the line."""
  for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
    if isinstance(node, ast.Import):
      yield from ((alias.name, node.lineno) for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
      # `from serving import wire` imports serving.wire (a module or a name in it: the part is the same)
      yield from ((f"{node.module}.{alias.name}", node.lineno) for alias in node.names)


def project_modules():
  for package in PROJECT_PACKAGES:
    yield from sorted((REPO / package).rglob("*.py"))


def test_every_project_package_has_its_place_in_the_layers():
  assert {part.split(".")[0] for part in ALLOWED} == set(PROJECT_PACKAGES)
  assert all((REPO / package / "__init__.py").is_file() for package in PROJECT_PACKAGES)
  top_level = {path.parent.name for path in REPO.glob("*/__init__.py")} - {"tests", "benchmarks"}
  assert top_level == set(PROJECT_PACKAGES)


def test_every_import_points_down():
  wrong = []
  for path in project_modules():
    module = ".".join(path.relative_to(REPO).with_suffix("").parts)
    own = part_of(module)
    for imported, line in imported_modules(path):
      target = part_of(imported)
      if target is not None and target != own and target not in ALLOWED[own]:
        wrong.append(f"{path.relative_to(REPO)}:{line} ({own}) imports {imported} ({target})")
  assert not wrong, "\n".join(wrong)


def test_the_vocabulary_imports_nothing_of_the_project_and_nothing_imports_the_cli():
  users_of_cli = [str(path.relative_to(REPO)) for path in project_modules() if not path.parts[-2] == "cli"
                  and any(part_of(m) == "cli" for m, _ in imported_modules(path))]
  assert users_of_cli == []
  assert all(part_of(m) is None for path in (REPO / "vocabulary").glob("*.py") for m, _ in imported_modules(path)
             if not m.startswith("vocabulary"))


@pytest.mark.parametrize("source,expected", [
    ("from serving.server import core\n", "serving.server"),
    ("from serving import wire\n", "serving"),
    ("import vocabulary\n", "vocabulary"),
    ("def f():\n  from cli import main\n", "cli"),
])
def test_the_check_sees_each_form_of_import(tmp_path, source, expected):
  path = tmp_path / "m.py"
  path.write_text(source)
  assert [part_of(m) for m, _ in imported_modules(path)] == [expected]
