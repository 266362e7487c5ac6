"""Serving, in two parts: server/ (the model server speaking TF Serving's API) and client/ (the client
library for that API). Beside them, what both read: defaults.py (ports, limits, the shipped models),
wire.py (TF Serving's JSON forms), image_bytes.py (what uploaded bytes are); k8s/ deploys the real TF
Serving. The photo application built on the client lives in the top-level application/ package."""
