"""How the data is laid out on disk: spans, splits and the files the ingest writes (light: `fdp` reads
them before importing Beam)."""

# New data arriving over time: one folder per span under the data root (the latest span is read).
SPAN_FOLDER = "span-{SPAN}"

# Deterministic split by content hash: name -> hash buckets (80/10/10).
SPLITS = (("train", 8), ("eval", 1), ("test", 1))

REPORT_FILE = "ingest_report.json"  # written beside the split folders


def split_dir(split: str) -> str:
  """The folder of a split inside an Examples artifact (TFX's layout)."""
  return f"Split-{split}"
