"""Names of the files and folders the ingest writes (light: `fdp` reads them before importing Beam)."""

REPORT_FILE = "ingest_report.json"  # written beside the split folders


def split_dir(split: str) -> str:
  """The folder of a split inside an Examples artifact (TFX's layout)."""
  return f"Split-{split}"
