"""Facial demographics ML pipeline on TFX and Kubeflow (console script: `fdp`).

Dependencies are pinned in requirements.lock (generated from requirements.in with uv); install
with `make venv`, which installs the lock file and then this package with --no-deps.
"""
import os
import runpy

import setuptools

# The package list and the Python version, from their one place (setup.py must not import the project).
PACKAGES = runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "vocabulary", "packages.py"))

setuptools.setup(
    name="face-demographics-pipeline",
    version="0.1.0",
    description="UTKFace/WIKI -> TFX (TFDV, TFT, Trainer, TFMA) -> TF Serving, locally or on Kubeflow",
    python_requires=PACKAGES["PYTHON_REQUIRES"],
    packages=setuptools.find_packages(include=[f"{name}*" for name in PACKAGES["PROJECT_PACKAGES"]]),
    package_data={"pipeline": ["schema/*.pbtxt"], "application.web": ["templates/*.html", "static/*"]},
    entry_points={"console_scripts": ["fdp=cli.main:main"]},
)
