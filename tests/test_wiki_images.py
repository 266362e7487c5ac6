"""WIKI ingestion on a generated wiki_crop-style folder (NN/name.jpg) for real wiki.mat rows."""
import io
import pathlib

import numpy as np
from PIL import Image

from components import ingest, wiki
from tests.test_ingest import run_ingest, _feature


def _write_photo(path, width, height, box, seed):
  rng = np.random.default_rng(seed)
  pixels = rng.integers(0, 60, (height, width, 3), dtype=np.uint8)
  x1, y1, x2, y2 = (int(v) for v in box)
  pixels[y1:y2, x1:x2] = (200, 150, 120)  # the "face" is a bright block where face_location says
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(pixels).save(path, format="JPEG", quality=95)


def test_wiki_folder_crops_faces_and_counts_missing_images(tmp_path, wiki_mat):
  rows = wiki.read_metadata(str(wiki_mat), image_root=str(tmp_path))
  kept = []
  for row in rows:
    try:
      kept.append((row, wiki.to_labels(row)))
    except wiki.FilteredOut:
      pass
  chosen = [(r, l) for r, l in kept if r.face_location[2] < 400 and r.face_location[3] < 400][:12]
  for i, (row, _) in enumerate(chosen[:10]):
    _write_photo(pathlib.Path(row.path), 480, 480, row.face_location, seed=i)
  for row, _ in chosen[10:]:
    pathlib.Path(row.path).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(row.path).write_bytes(b"\xff\xd8\xff\xe0 truncated")

  examples, report = run_ingest("wiki", tmp_path, tmp_path / "out", wiki_mat=str(wiki_mat))
  counts = report["counts"]
  assert counts["read"] == 62328
  assert counts["no_face"] == 18016 and counts["second_face"] == 3759
  assert counts["corrupt"] == 2
  assert counts["unreadable"] == len(kept) - 12  # images that the folder does not have
  assert counts["examples"] == 10

  expected_sizes = sorted(
      (box[2] - box[0], box[3] - box[1])
      for box in (ingest.face_crop_box(r.face_location, l.crop_margin, 480, 480) for r, l in chosen[:10]))
  sizes = []
  for split_examples in examples.values():
    for example in split_examples:
      image = Image.open(io.BytesIO(_feature(example, "image")))
      assert _feature(example, "source") == b"wiki"
      assert "race" not in example.features.feature
      sizes.append(image.size)
      # the face (the bright block) sits in the middle of the crop, the dark photo around it
      pixels = np.asarray(image.convert("L"), dtype=np.float32)
      h, w = pixels.shape
      assert pixels[h // 2 - 2:h // 2 + 2, w // 2 - 2:w // 2 + 2].mean() > 120
      assert pixels.mean() < pixels[h // 2, w // 2]
  assert sorted(sizes) == expected_sizes


def test_face_crop_box_margin_and_clipping():
  assert ingest.face_crop_box((100, 100, 200, 200), 0.4, 1000, 1000) == (60, 60, 240, 240)
  assert ingest.face_crop_box((10, 10, 110, 110), 0.4, 1000, 1000) == (0, 0, 150, 150)
  # a face box outside the image (wiki_crop images are already crops): keep the whole image
  assert ingest.face_crop_box((500, 500, 700, 700), 0.4, 300, 300) is None
