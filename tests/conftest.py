"""Shared fixtures and the test tiers. Real data is read where it lies: $FDP_DATASETS (default
../shared/datasets), through vocabulary/settings.py.

Tiers (markers registered in pytest.ini): a test that takes a dataset fixture (or lives in a module that
takes a dataset path from here) is marked `datasets`; one that runs the whole pipeline `training`; one that
drives the browser `browser`. `make test-fast` runs the rest.

`make test` runs the suite on pytest-xdist workers (`--dist loadgroup`): each module is one group, so its
module-scoped fixtures (a server, the portable runner) start once, and the modules sharing an expensive
session fixture (the e2e pipeline run, the whole UTKFace ingested) form one group, so it is built once; the
groups that train or read the datasets come first in the collection (`--no-loadscope-reorder` keeps that
order), so the two workers start on the long ones.
"""
import functools
import os
import pathlib
import struct
import subprocess
import sys
import zlib

import pytest

from vocabulary import settings

REPO = pathlib.Path(__file__).resolve().parent.parent
# Paths only (nothing is read at import): a test module that uses one of these is marked `datasets`.
DATASETS = settings.datasets_dir()
UTKFACE_DIR = settings.utkface_dir()
WIKI_MAT = settings.wiki_mat()
WIKI_CROP_64_DIR = settings.wiki_crop_64_dir()
AAF_DIR = settings.aaf_dir()
SHIPPED_MODELS = REPO / "models"

# fixture -> the markers of every test that uses it (directly or through another fixture)
FIXTURE_MARKERS = {"utkface_dir": ("datasets",), "wiki_mat": ("datasets",), "wiki_crop_64_dir": ("datasets",),
                   "aaf_dir": ("datasets",),
                   "utkface_records": ("datasets",), "e2e_pipeline": ("datasets", "training"),
                   "browser": ("browser",)}
DATASET_PATHS = ("DATASETS", "UTKFACE_DIR", "WIKI_MAT", "WIKI_CROP_64_DIR", "AAF_DIR")
# Session fixtures that take minutes: the modules using one run on the same xdist worker.
SHARED_SESSION_FIXTURES = ("e2e_pipeline", "utkface_records")


def _module(item) -> str:
  return item.module.__name__ if item.module else item.nodeid


def _xdist_groups(items) -> dict:
  """module name -> its xdist group: a shared session fixture one of its tests uses, else the module."""
  groups = {}
  for item in items:
    shared = next((name for name in SHARED_SESSION_FIXTURES if name in getattr(item, "fixturenames", ())), None)
    if shared:
      groups[_module(item)] = shared
    else:
      groups.setdefault(_module(item), _module(item))
  return groups


def _slowest_groups_first(items, groups) -> list:
  """The items, groups that train or build a shared session fixture first, then those reading datasets,
  then the rest (the order is otherwise kept): with --no-loadscope-reorder the workers start on the long
  groups and the short ones fill in at the end."""
  weight = {}
  for item in items:
    group = groups[_module(item)]
    slow = item.get_closest_marker("training") or group in SHARED_SESSION_FIXTURES
    rank = 2 if slow else 1 if item.get_closest_marker("datasets") else 0
    weight[group] = max(rank, weight.get(group, 0))
  return sorted(items, key=lambda item: -weight[groups[_module(item)]])


@pytest.hookimpl(tryfirst=True)  # before xdist's worker reads the groups
def pytest_collection_modifyitems(items):
  for item in items:
    names = set(getattr(item, "fixturenames", ()))
    markers = {marker for name in names for marker in FIXTURE_MARKERS.get(name, ())}
    module_globals = vars(item.module) if item.module else {}
    if any(module_globals.get(name) is globals()[name] for name in DATASET_PATHS):
      markers.add("datasets")
    for marker in sorted(markers):
      item.add_marker(marker)
  groups = _xdist_groups(items)
  for item in items:
    item.add_marker(pytest.mark.xdist_group(groups[_module(item)]))
  items[:] = _slowest_groups_first(items, groups)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _require(path: pathlib.Path) -> pathlib.Path:
  if not path.exists():
    raise FileNotFoundError(f"{path} is missing: set FDP_DATASETS to the folder holding utkface/ and wiki/")
  return path


@pytest.fixture(scope="session")
def utkface_dir() -> pathlib.Path:
  return _require(UTKFACE_DIR)


@pytest.fixture(scope="session")
def wiki_mat() -> pathlib.Path:
  return _require(WIKI_MAT)


@pytest.fixture(scope="session")
def wiki_crop_64_dir() -> pathlib.Path:
  return _require(WIKI_CROP_64_DIR)


@pytest.fixture(scope="session")
def aaf_dir() -> pathlib.Path:
  return _require(AAF_DIR)


@pytest.fixture(scope="session")
def utkface_records(tmp_path_factory) -> pathlib.Path:
  """The whole real UTKFace folder through `fdp ingest` (the pipeline's dedup and content-hash
  split), once per session."""
  from components import ingest_job
  out = tmp_path_factory.mktemp("utkface-records")
  ingest_job.run_ingest("utkface", str(_require(UTKFACE_DIR)), str(out), show_progress=False)
  return out


@pytest.fixture(scope="session")
def utkface_subset(utkface_dir):
  """real_utkface_subset for a test (through utkface_dir, which marks the test `datasets`)."""
  return real_utkface_subset


def real_utkface_subset(count: int, dest: pathlib.Path) -> pathlib.Path:
  """A folder of `count` real UTKFace files (symlinks; every k-th well-formed name, so all ages,
  genders and races appear)."""
  names = sorted(os.listdir(_require(UTKFACE_DIR)))
  step = max(1, len(names) // count)
  dest.mkdir(parents=True, exist_ok=True)
  for name in names[::step][:count]:
    os.symlink(UTKFACE_DIR / name, dest / name)
  return dest


@pytest.fixture(scope="session")
def shipped_models() -> dict:
  """{model name: version folder} of the trained models committed in models/: the layout the Pusher writes,
  with the signatures the pipeline exports, so the serving tests need no pipeline run."""
  versions = {model: sorted((SHIPPED_MODELS / model).iterdir()) for model in ("classifier", "regressor")}
  assert all(len(folders) == 1 for folders in versions.values()), versions
  return {model: str(folders[0]) for model, folders in versions.items()}


@pytest.fixture(scope="session")
def artifacts_dir() -> pathlib.Path:
  folder = settings.artifacts_dir()
  folder.mkdir(parents=True, exist_ok=True)
  return folder


@pytest.fixture
def synthetic_dir(tmp_path) -> pathlib.Path:
  from components import synthetic_faces
  folder = tmp_path / "synthetic"
  synthetic_faces.write_dataset(str(folder), count=60, size=64, seed=1)
  return folder


@functools.lru_cache(maxsize=None)
def decompression_bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
  """A valid black-and-white PNG of width x height pixels in ~110 kB (at 30,000 x 30,000): decoded as
  RGB it would take 2.7 GB."""
  def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
  rows = bytes((1 + (width + 7) // 8) * 1000)  # filter byte + 1 bit per pixel, 1,000 rows at a time
  compressor = zlib.compressobj(9)
  idat = b"".join(compressor.compress(rows[:len(rows) * min(1000, height - i) // 1000])
                  for i in range(0, height, 1000)) + compressor.flush()
  header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
  return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# Three short epochs (two more for the regressor's fine-tuning): enough for both models to beat an
# untrained one (the blessing-gate test needs that).
E2E_TRAINING = dict(epochs=3, regressor_epochs=2, image_size=48, batch_size=32)
# For the pipeline runs that test Beam or drift, not the models: one epoch each.
SHORT_TRAINING = dict(E2E_TRAINING, epochs=1, regressor_epochs=1)


def training_flags(training: dict) -> list:
  """`fdp run local`'s flags for a recipe: {"image_size": 48} -> ["--image-size", "48"]."""
  return [part for key, value in training.items() for part in (f"--{key.replace('_', '-')}", str(value))]


@pytest.fixture(scope="session")
def e2e_pipeline(tmp_path_factory):
  """The whole pipeline on ~1,000 real UTKFace images, three short epochs per model at 48 px.

  First a run is killed as soon as the classifier Trainer starts; then the pipeline is started
  again and must complete, reusing what had finished. Returns (home, summary of that run)."""
  import subprocess
  import sys
  import time
  from pipeline import configs
  from trainer import hyperparameters
  from pipeline import local_runner
  root = tmp_path_factory.mktemp("e2e")
  data = real_utkface_subset(1000, root / "utkface")
  home = root / "home"
  cmd = [sys.executable, "-m", "cli", "run", "local", "--data", str(data), "--home", str(home),
         *training_flags(E2E_TRAINING)]
  killed = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
  deadline = time.time() + 600
  for line in killed.stdout:
    if "classifier_trainer: running" in line or time.time() > deadline:
      break
  killed.kill()
  killed.wait()
  summary = local_runner.run_local(
      data_root=str(data), dataset="utkface", home=str(home),
      training=hyperparameters.TrainingConfig(**E2E_TRAINING), thresholds=configs.SMOKE_THRESHOLDS)
  return home, summary


