"""`fdp`, the project's one command: the root of the dependency graph. It imports the pipeline, the
serving parts and the Kubeflow runner; none of them imports it (tests/test_layering.py)."""
