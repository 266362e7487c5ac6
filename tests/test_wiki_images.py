"""WIKI ingestion on a generated wiki_crop-style folder (NN/name.jpg) for real wiki.mat rows."""
import io
import pathlib

import numpy as np
from PIL import Image

from components import ingest, wiki
from tests.test_ingest import run_ingest, _feature


def _write_photo(path, size, seed):
  """A wiki_crop-style image: the "face" (a bright block) fills its middle, a dark margin around it."""
  rng = np.random.default_rng(seed)
  pixels = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
  face = slice(round(size * 0.2), round(size * 0.8))
  pixels[face, face] = (200, 150, 120) + pixels[face, face]  # bright, and still each image its own
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(pixels).save(path, format="JPEG", quality=95)


def test_wiki_folder_frames_faces_and_counts_missing_images(tmp_path, wiki_mat):
  rows = wiki.read_metadata(str(wiki_mat), image_root=str(tmp_path))
  kept = []
  for row in rows:
    try:
      kept.append((row, wiki.to_labels(row)))
    except wiki.FilteredOut:
      pass
  chosen = kept[:12]
  for i, (row, _) in enumerate(chosen[:10]):
    _write_photo(pathlib.Path(row.path), 64 if i % 2 else 480, seed=i)
  for row, _ in chosen[10:]:
    pathlib.Path(row.path).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(row.path).write_bytes(b"\xff\xd8\xff\xe0 truncated")

  examples, report = run_ingest("wiki", tmp_path, tmp_path / "out", wiki_mat=str(wiki_mat))
  counts = report["counts"]
  assert counts["read"] == 62328
  assert counts["no_face"] == 18016 and counts["second_face"] == 3759
  assert counts["corrupt"] == 2
  assert counts["missing_image"] == len(kept) - 12  # images that the folder does not have
  assert "unreadable" not in counts
  assert counts["examples"] == 10
  assert not any(r["category"] == "missing_image" for r in report["rejected"])  # counted, not listed

  sizes = []
  for split_examples in examples.values():
    for example in split_examples:
      image = Image.open(io.BytesIO(_feature(example, "image")))
      assert _feature(example, "source") == b"wiki"
      assert "race" not in example.features.feature
      sizes.append(image.size)
      # the crop lies inside the face: bright from edge to edge, no dark margin
      pixels = np.asarray(image.convert("L"), dtype=np.float32)
      assert pixels[2:-2, 2:-2].min() > 80
  assert sorted(sizes) == [(34, 34)] * 5 + [(250, 250)] * 5


def test_centre_box():
  assert ingest.centre_box(0.52, 64, 64) == (15, 15, 49, 49)
  assert ingest.centre_box(0.5, 200, 100) == (50, 25, 150, 75)
  assert ingest.centre_box(1.0, 64, 48) == (0, 0, 64, 48)
