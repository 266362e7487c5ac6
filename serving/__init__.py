"""Serving, in three parts: server/ (the model server speaking TF Serving's API), client/ (the client
library for that API) and application/ (face detection, alignment, `fdp predict` and the web page, built
on the client). Beside them, what more than one part reads: defaults.py (ports, limits, the shipped
models), wire.py (TF Serving's JSON forms), image_bytes.py (what uploaded bytes are); k8s/ deploys the
real TF Serving."""
