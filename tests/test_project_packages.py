"""The project's packages and its Python version are written once (vocabulary/packages.py): setup.py installs
them, the Kubeflow image copies them, the lock file was resolved for that Python."""
import ast
import re
import subprocess
import sys

from tests.conftest import REPO
from vocabulary import packages


def test_setup_py_installs_exactly_the_project_packages_for_python_3_10():
  script = "import runpy, setuptools; setuptools.setup = lambda **kw: print(repr(kw)); runpy.run_path('setup.py')"
  out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True).stdout
  config = ast.literal_eval(out)  # setup.py's own keyword arguments, printed by repr
  assert {name.split(".")[0] for name in config["packages"]} == set(packages.PROJECT_PACKAGES)
  assert config["python_requires"] == packages.PYTHON_REQUIRES == ">=3.10,<3.11"
  assert "--python-version 3.10" in (REPO / "Makefile").read_text()


def test_the_pipeline_image_copies_every_project_package_and_nothing_else_of_the_code():
  dockerfile = (REPO / "kubeflow" / "Dockerfile").read_text()
  copied = set(re.findall(r"^COPY (\w+)/ \1/$", dockerfile, re.M)) - {"models"}
  assert copied == set(packages.PROJECT_PACKAGES)
