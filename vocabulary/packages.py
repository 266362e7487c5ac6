"""The project's packages (what setup.py installs, what kubeflow/Dockerfile copies into the pipeline
image, whose imports pipeline/code_version.py follows and tests/test_layering.py checks), and the Python it
runs on. Plain constants: setup.py reads this file without importing the project."""

PROJECT_PACKAGES = ("application", "cli", "components", "kubeflow", "pipeline", "serving", "trainer", "vocabulary")
PYTHON_REQUIRES = ">=3.10,<3.11"  # TFX 1.16 on the lock file's Python 3.10
