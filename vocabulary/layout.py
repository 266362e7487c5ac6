"""How the data is laid out on disk: spans, splits and the files the ingest writes (light: `fdp` reads
them before importing Beam)."""

# New data arriving over time: one folder per span under the data root (the latest span is read).
SPAN_FOLDER = "span-{SPAN}"

TRAIN, VALIDATION, EVAL, TEST = "train", "validation", "eval", "test"

# Deterministic split by content hash (docs/splits.md), in two steps:
# 1. the SHA-256 read as a number, modulo 10: name -> hash buckets (80/10/10);
HASH_SPLITS = ((TRAIN, 8), (EVAL, 1), (TEST, 1))
# 2. a slice carved from one of those splits: (carved from, name, fraction), chosen by the hash's first
#    32 bits read as a fraction of 2**32 (independent of step 1): 1 in 10 train images -> validation.
VALIDATION_SLICE = (TRAIN, VALIDATION, 0.1)
# Every split the ingest writes, in order.
SPLITS = (TRAIN, VALIDATION, EVAL, TEST)

REPORT_FILE = "ingest_report.json"  # written beside the split folders


def split_dir(split: str) -> str:
  """The folder of a split inside an Examples artifact (TFX's layout)."""
  return f"Split-{split}"


def split_shares() -> dict:
  """Each split's expected share of the examples: {train: 0.72, validation: 0.08, eval: 0.1, test: 0.1}."""
  total = sum(buckets for _, buckets in HASH_SPLITS)
  shares = {name: buckets / total for name, buckets in HASH_SPLITS}
  carved_from, name, fraction = VALIDATION_SLICE
  shares[name] = shares[carved_from] * fraction
  shares[carved_from] -= shares[name]
  return {split: shares[split] for split in SPLITS}


# A serving root (what the Pusher writes, what TF Serving and `fdp serve` read): <root>/<model>/<version>/,
# each version a numbered folder holding saved_model.pb; the newest number is what a model serves by default.
SAVED_MODEL_FILE = "saved_model.pb"


def is_version_dir(name: str) -> bool:
  """A model version's folder name: a number (TF Serving's rule)."""
  return name.isdigit()


def model_folders(serving_root: str) -> list:
  """The model names under a serving root: its sub-folders, sorted (hidden ones left out)."""
  import os  # pylint: disable=g-import-not-at-top
  return sorted(name for name in os.listdir(serving_root)
                if os.path.isdir(os.path.join(serving_root, name)) and not name.startswith("."))


def newest_version(version_names) -> str:
  """The newest of a model's version folder names (others, e.g. a push's temporary folder, ignored);
  None when there is none."""
  versions = [name for name in version_names if is_version_dir(name)]
  return max(versions, key=int) if versions else None
