"""Facial demographics ML pipeline on TFX and Kubeflow (console script: `fdp`).

Dependencies are pinned in requirements.lock (generated from requirements.in with uv); install
with `make venv`, which installs the lock file and then this package with --no-deps.
"""
import setuptools

setuptools.setup(
    name="face-demographics-pipeline",
    version="0.1.0",
    description="UTKFace/WIKI -> TFX (TFDV, TFT, Trainer, TFMA) -> TF Serving, locally or on Kubeflow",
    python_requires=">=3.9,<3.11",
    packages=setuptools.find_packages(include=["pipeline*", "components*", "trainer*", "serving*", "application*",
                                               "kubeflow*", "vocabulary*", "cli*"]),
    package_data={"pipeline": ["schema/*.pbtxt"], "application.web": ["templates/*.html", "static/*"]},
    entry_points={"console_scripts": ["fdp=cli.main:main"]},
)
