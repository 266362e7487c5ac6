"""Small photos (a thumbnail, a 64x64 face crop) with the default settings: the minimum face follows the
photo's size (application/detectors.py), so their face is found and cropped by `fdp predict`,
`fdp batch-predict` and the web page alike; photos without a face still give none; large photos keep the
usual minimum; `face_too_small` marks the faces narrower than the size benchmarks/small_faces.py measured."""
import dataclasses
import io
import json
import random

import numpy as np
import pytest
import skimage.data
from PIL import Image

from application import detectors
from application import face_detection
from application import trust
from benchmarks import small_faces
from cli import main as cli
from cli import predict_command
from tests.conftest import REPO

ASTRONAUT = Image.fromarray(skimage.data.astronaut())  # public domain (NASA)
ASTRONAUT_FACE_SURROUND = (110, 40, 310, 240)  # a 200 px square around her face (box about 100 px)
WIKI_SAMPLE = 40
SMALL_FACES_RESULTS = REPO / "benchmarks" / "results" / "small_faces.json"


def jpeg(image: Image.Image) -> bytes:
  buffer = io.BytesIO()
  image.save(buffer, format="JPEG", quality=90)
  return buffer.getvalue()


def astronaut_thumbnail(side: int) -> Image.Image:
  """A photo that is itself a small face: the astronaut's face downscaled to side x side (face ~side/2)."""
  return ASTRONAUT.resize((side, side), Image.Resampling.LANCZOS, box=ASTRONAUT_FACE_SURROUND)


def test_the_default_minimum_face_is_lowered_in_small_photos_only():
  blazeface, mtcnn = detectors.BLAZEFACE, detectors.MTCNN
  for size in ((1280, 720), (512, 512), (400, 160), (4000, 3000)):
    assert blazeface.default_min_face_size(size) == blazeface.min_face_size == 40, size
    assert mtcnn.default_min_face_size(size) == mtcnn.min_face_size == 20, size
  assert blazeface.default_min_face_size((64, 64)) == 16 == mtcnn.default_min_face_size((64, 64))
  assert blazeface.default_min_face_size((120, 100)) == 25
  assert blazeface.default_min_face_size((48, 48)) == 12 == blazeface.default_min_face_size((20, 30))


def test_locate_faces_takes_the_minimum_face_from_the_photo_unless_one_is_given(monkeypatch):
  asked = []
  spec = detectors.DETECTORS[detectors.DEFAULT]
  recording = dataclasses.replace(spec, locate=lambda photo, min_face, confidence: asked.append(min_face) or [])
  monkeypatch.setitem(detectors.DETECTORS, detectors.DEFAULT, recording)
  for size in ((1280, 720), (512, 512), (64, 64), (40, 30)):
    face_detection.locate_faces(Image.new("RGB", size))
  face_detection.locate_faces(Image.new("RGB", (64, 64)), min_face_size=30)
  assert asked == [40, 40, 16, 12, 30]


@pytest.mark.parametrize("side", [48, 64, 96])
def test_a_thumbnail_of_a_face_is_found_and_cropped_with_the_defaults(side):
  data = jpeg(astronaut_thumbnail(side))
  [face] = face_detection.detect_faces(data)
  x, y, width, height = face.box
  assert 0.35 * side < width < 0.65 * side and abs(x + width / 2 - side / 2) < 0.15 * side, (side, face.box)
  assert face.score > detectors.BLAZEFACE.min_confidence
  assert Image.open(io.BytesIO(face.crop_jpeg)).size == (200, 200)
  if side < 80:  # the earlier fixed 40 px minimum missed it
    assert face_detection.detect_faces(data, min_face_size=40) == []


def test_a_large_photo_still_uses_the_usual_minimum():
  found = face_detection.locate_faces(ASTRONAUT)
  assert found == face_detection.locate_faces(ASTRONAUT, min_face_size=detectors.BLAZEFACE.min_face_size)
  assert len(found) == 1


@pytest.mark.parametrize("name", ["coffee", "chelsea", "cat", "rocket", "coins", "clock", "horse", "brick"])
def test_small_photos_without_a_face_give_no_face(name):
  image = Image.fromarray(np.asarray(getattr(skimage.data, name)())).convert("RGB")
  for side in (32, 48, 64, 96, 128):
    small = image.resize((side, round(side * image.height / image.width)), Image.Resampling.LANCZOS)
    assert face_detection.detect_faces(jpeg(small)) == [], (name, side)


def test_fdp_predict_batch_predict_and_the_web_page_find_a_thumbnail_with_their_defaults(tmp_path):
  from application import batch_prediction  # pylint: disable=g-import-not-at-top  (Beam)
  from application.web import app as app_lib  # pylint: disable=g-import-not-at-top  (Flask)
  path = tmp_path / "thumbnail.jpg"
  path.write_bytes(jpeg(astronaut_thumbnail(64)))
  parser = cli.build_parser()

  predict_args = parser.parse_args(["predict", str(path)])
  assert len(predict_command.face_detector(predict_args)(path.read_bytes())) == 1

  batch_args = parser.parse_args(["batch-predict", str(path), "--output", str(tmp_path / "out")])
  detect = batch_prediction.DetectFaces(predict_command.detection_options(batch_args))
  detect.setup()
  (found_path, found), crop = list(detect.process(str(path)))
  assert found_path == str(path) and len(found) == 1 and crop.tag == batch_prediction.CROPS

  web_args = parser.parse_args(["web", "--server", "localhost:8501"])
  config = app_lib.WebConfig(server="test", **predict_command.detection_options(web_args))
  answer = app_lib.describe_photo(path.read_bytes(), config, lambda crops: [{} for _ in crops])
  assert answer["width"] == 64 and len(answer["faces"]) == 1


def test_real_wiki_64px_photos_have_their_face_found_with_the_defaults(wiki_crop_64_dir):
  paths = sorted(str(path) for path in wiki_crop_64_dir.glob("*/*.jpg"))
  assert len(paths) > 20_000
  sample = random.Random(0).sample(paths, WIKI_SAMPLE)
  found = [face_detection.detect_faces(open(path, "rb").read()) for path in sample]
  assert sum(bool(faces) for faces in found) >= WIKI_SAMPLE - 1  # 999 of 1,000 in the benchmark
  widths = [faces[0].box[2] for faces in found if faces]
  assert 20 < float(np.median(widths)) < 44  # the middle half of the image or so
  # The earlier fixed 40 px minimum found (almost) none of them.
  missed = [face_detection.detect_faces(open(path, "rb").read(), min_face_size=40) for path in sample[:10]]
  assert sum(bool(faces) for faces in missed) <= 1


def test_face_too_small_marks_the_faces_narrower_than_the_measured_size():
  measured = json.loads(SMALL_FACES_RESULTS.read_text())["face_sizes"]
  smallest = trust.Trust().min_face_size
  assert smallest == measured["smallest_judged_face_px"] == small_faces.smallest_judged_size(measured["sizes"])
  face = {"box": [0, 0, smallest, smallest]}
  assert trust.FACE_TOO_SMALL not in trust.warnings(face)
  assert trust.warnings({"box": [0, 0, smallest - 1, smallest]}) == [trust.FACE_TOO_SMALL]
  assert trust.warnings({"box": [0, 0, smallest, smallest - 1]}) == [trust.FACE_TOO_SMALL]
  assert SMALL_FACES_RESULTS.with_suffix(".png").exists()


def test_the_smallest_judged_size_is_where_quality_stays_within_the_limits_from_there_on():
  def row(size, gender_accuracy, age_mae):
    return {"face_px": size, "paired": {"gender_accuracy": gender_accuracy, "age_mae": age_mae}}
  full = row(small_faces.FULL, 0.95, 5.0)
  assert small_faces.smallest_judged_size([full, row(16, 0.80, 9.0), row(24, 0.945, 5.4), row(32, 0.95, 5.1)]) == 24
  assert small_faces.smallest_judged_size([full, row(16, 0.80, 9.0), row(24, 0.95, 5.6), row(32, 0.95, 5.1)]) == 32
  # A size within the limits below one that is not does not count: quality must hold from there on.
  assert small_faces.smallest_judged_size([full, row(16, 0.95, 5.0), row(24, 0.90, 5.0), row(32, 0.95, 5.0)]) == 32
  assert small_faces.smallest_judged_size([full, row(16, 0.80, 9.0), row(24, 0.90, 7.0)]) is None
