"""How every benchmark writes its results (benchmarks/results/*.json): the file says which models and which
commit it measured and the command that produced it, and holds no path of the machine that wrote it."""
import datetime
import json
import os
import re
import subprocess
import sys
from typing import Union

from vocabulary import layout
from vocabulary import settings
import vocabulary

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "benchmarks", "results")
PROVENANCE = "provenance"
SERVING_ROOTS = ("models", "serving_model")  # the shipped models' folder, the pipeline's serving root
_ABSOLUTE = re.compile(r"(?<![\w.:/])/(?:[\w.+-]+/)*[\w.+-]*")


def git_commit(repo: str = REPO) -> str:
  """The checked-out commit, with "+changes" when tracked files differ from it."""
  def git(*args):
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
  return git("rev-parse", "HEAD") + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def model_versions(models_dir: str) -> dict:
  """{folder (relative to the checkout when inside it), kind: version} of the models in a serving root."""
  versions = {kind: layout.newest_version(os.listdir(os.path.join(models_dir, kind)))
              for kind in vocabulary.MODELS if os.path.isdir(os.path.join(models_dir, kind))}
  return {"folder": portable(os.path.abspath(models_dir)), **versions}


def command(argv=None) -> str:
  """`python -m benchmarks.NAME ARGS` as this process was started."""
  main = sys.modules["__main__"]
  spec = getattr(main, "__spec__", None)
  module = spec.name if spec else os.path.relpath(getattr(main, "__file__", "?"), REPO)
  return " ".join(["python -m", module, *(sys.argv[1:] if argv is None else argv)])


def portable(value):
  """`value` with every absolute path made machine-free: inside the checkout relative to it, under the
  datasets or the home folder as $FDP_DATASETS/... or $FDP_HOME/..., inside a serving root from the root's
  name on (models/classifier/1, serving_model/regressor/2), anything else reduced to its last part."""
  if isinstance(value, dict):
    return {key: portable(item) for key, item in value.items()}
  if isinstance(value, (list, tuple)):
    return [portable(item) for item in value]
  if not isinstance(value, str):
    return value
  roots = ((REPO, ""), (str(settings.datasets_dir()), "$FDP_DATASETS/"), (settings.home(), "$FDP_HOME/"))

  def replace(match):
    path = os.path.normpath(match.group(0))
    for root, name in roots:
      root = os.path.normpath(os.path.abspath(root))
      if path == root or path.startswith(root + os.sep):
        return name + os.path.relpath(path, root) if path != root else (name.rstrip("/") or ".")
    parts = path.split(os.sep)
    starts = [i for i, part in enumerate(parts) if part in SERVING_ROOTS]
    return os.path.join(*parts[starts[-1]:]) if starts else (os.path.basename(path) or path)
  return _ABSOLUTE.sub(replace, value)


def provenance(models: Union[str, dict], argv=None) -> dict:
  """What the results measured: `models` (model_versions() of a serving root, or words for models trained by
  the benchmark itself), the commit and the command (its paths made machine-free as portable() does)."""
  return {"models": models, "commit": git_commit(), "command": portable(command(argv)),
          "date": datetime.date.today().isoformat()}


def write(path: str, result: dict, models: Union[str, dict]) -> str:
  """Writes {provenance, ...result} with machine paths removed to `path` (a bare file name: under
  benchmarks/results/)."""
  path = path if os.path.dirname(path) else os.path.join(RESULTS, path)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w") as f:
    json.dump({PROVENANCE: provenance(models), **portable({k: v for k, v in result.items() if k != PROVENANCE})},
              f, indent=2)
    f.write("\n")
  return path


def update_block(path: str, name: str, content: str) -> None:
  """Replaces the text between `<!-- name:begin -->` and `<!-- name:end -->` in a Markdown file."""
  begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
  with open(path) as f:
    text = f.read()
  if begin not in text or end not in text:
    raise ValueError(f"{path} has no {begin} ... {end} block")
  head, rest = text.split(begin, 1)
  with open(path, "w") as f:
    f.write(head + begin + "\n" + content + "\n" + end + rest.split(end, 1)[1])
