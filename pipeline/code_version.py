"""Code versions for the components whose code TFX's cache cannot see.

User code is referenced by dotted module path (`trainer.train.run_fn`, ...), so TFX caches such a
component by its configuration alone. Each one gets, in its configuration, a fingerprint of its module's
source and of every project module that module imports, directly or not, at the top or inside a function
(read from the import statements, nothing is imported): changing any of them, a word of
`vocabulary/` included, re-runs the component, and only the components that import it. The pipeline's
settings reach components as parameters (custom_config, the drift thresholds), which the cache sees.
"""
import ast
import hashlib
import os
from typing import Iterator, List, Optional, Sequence

from vocabulary.packages import PROJECT_PACKAGES

# The folder holding the project's packages (the repository, or site-packages when installed), and those
# packages (vocabulary/packages.py, setup.py's): imports of anything else (tensorflow, ...) are not followed, even
# from site-packages.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def module_file(name: str, root: str) -> Optional[str]:
  """The source file of project module `name` under `root`; None for any other module."""
  if name.split(".")[0] not in PROJECT_PACKAGES:
    return None
  base = os.path.join(root, *name.split("."))
  for candidate in (base + ".py", os.path.join(base, "__init__.py")):
    if os.path.isfile(candidate):
      return candidate
  return None


def _imported_modules(path: str, name: str) -> Iterator[str]:
  """Every module an `import` in the file may load, with the packages above it (whose __init__ runs)."""
  with open(path, encoding="utf-8") as f:
    tree = ast.parse(f.read(), path)
  package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      targets = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:  # relative: from . import x, from ..pkg import y
        parent = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1])
        base = f"{parent}.{base}" if base else parent
      targets = [base] + [f"{base}.{alias.name}" for alias in node.names]  # `from pkg import submodule`
    else:
      continue
    for target in targets:
      yield from _with_packages(target)


def _with_packages(name: str) -> List[str]:
  """a.b.c -> [a, a.b, a.b.c]: importing a module runs the __init__ of each package above it."""
  parts = name.split(".")
  return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def closure(modules: Sequence[str], root: Optional[str] = None) -> List[str]:
  """The source files (relative to root, sorted) of `modules` and of every project module they import."""
  root = root or ROOT
  seen, files, queue = set(), set(), [package for name in modules for package in _with_packages(name)]
  while queue:
    name = queue.pop()
    if name in seen:
      continue
    seen.add(name)
    path = module_file(name, root)
    if path is None:
      continue
    files.add(os.path.relpath(path, root))
    queue.extend(_imported_modules(path, name))
  return sorted(files)


def fingerprint(modules: Sequence[str], root: Optional[str] = None) -> str:
  """A short hash of the source files in closure(modules): names and contents."""
  root = root or ROOT
  digest = hashlib.sha256()
  for relative in closure(modules, root):
    with open(os.path.join(root, relative), "rb") as f:
      digest.update(relative.encode() + b"\0" + f.read() + b"\0")
  return digest.hexdigest()[:16]


def of_callable(dotted_path: str) -> str:
  """fingerprint() of the module defining `module.function` (as TFX's preprocessing_fn/run_fn take it)."""
  return fingerprint([dotted_path.rpartition(".")[0]])
