"""`fdp predict` over many photos: folders, input order, requests shared by consecutive photos, bad
photos reported one by one, the warnings on each face (application/trust.py), and the real command against
`fdp serve` with the shipped models on real outside photos (AAF)."""
import concurrent.futures
import io
import json
import os
import struct
import subprocess
import sys
import threading
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from application import faces
from application import trust
from tests.serve_process import fdp_serve
from tests.conftest import REPO
import vocabulary


class FakeClient:
  """Answers like the served models (fixed outputs per crop) and records each request's size."""

  def __init__(self):
    self.requests = []
    self._lock = threading.Lock()

  def predict(self, model, crops):
    with self._lock:
      self.requests.append((model, len(crops), threading.current_thread().name))
    n = len(crops)
    if model == vocabulary.CLASSIFIER:
      return {vocabulary.AGE_BUCKET_KEY: np.tile([[0.1, 0.6, 0.1, 0.1, 0.1]], (n, 1)),
              vocabulary.GENDER_KEY: np.full((n, 1), 0.9)}
    return {vocabulary.AGE_KEY: np.full((n, 1), 30.0)}


def jpeg(size=(60, 60)) -> bytes:
  buffer = io.BytesIO()
  Image.new("RGB", size, (128, 100, 90)).save(buffer, format="JPEG")
  return buffer.getvalue()


def fake_detector(faces_per_image, delays):
  """A detector that finds `faces_per_image[name]` faces and takes `delays[name]` seconds."""

  def detect(image_bytes):
    name = image_bytes.decode()
    time.sleep(delays.get(name, 0))
    if name.startswith("bad"):
      raise ValueError(f"not a readable image: {name}")
    return [([10 * i, 0, 60, 60], 0.9, b"crop") for i in range(faces_per_image[name])]

  return detect


def write_named_files(folder, names):
  for name in names:
    (folder / name).write_bytes(name.encode())  # the fake detector reads the name back
  return [str(folder / name) for name in names]


def test_records_come_in_input_order_and_consecutive_photos_share_requests(tmp_path):
  names = [f"p{i:02d}" for i in range(12)] + ["bad1"] + [f"q{i:02d}" for i in range(6)]
  paths = write_named_files(tmp_path, names)
  counts = {name: (i % 3) for i, name in enumerate(names)}
  delays = {name: 0.03 if i % 4 == 0 else 0.0 for i, name in enumerate(names)}  # later photos finish first
  client = FakeClient()
  progress = []
  records = list(faces.predict_images(client, paths, vocabulary.MODELS, fake_detector(counts, delays), workers=3,
                                      batch_faces=4, progress=progress.append))
  assert [record["image"] for record in records] == paths
  for name, record in zip(names, records):
    if name == "bad1":
      assert record["error"] == "not a readable image: bad1" and "faces" not in record
    else:
      assert len(record["faces"]) == counts[name]
      assert all(face["age_bucket"] == "25-49" and face["age"] == 30.0 for face in record["faces"])
  sizes = [size for model, size, _ in client.requests if model == vocabulary.CLASSIFIER]
  assert sum(sizes) == sum(counts[name] for name in names if name != "bad1")
  assert max(sizes) <= 4 and len(sizes) < len(names) - 1  # fewer requests than photos with faces
  assert sum(progress) == len(names)


def test_detection_runs_ahead_while_the_server_answers(tmp_path):
  """The first request is held at the server until three more photos have been detected: one after
  another, that could never happen (the request would time out waiting)."""
  names = [f"p{i:02d}" for i in range(8)]
  paths = write_named_files(tmp_path, names)
  detected, ahead, first_request_saw = [], threading.Event(), []

  def detect(image_bytes):
    detected.append(image_bytes.decode())
    if len(detected) >= 4:
      ahead.set()
    return [([0, 0, 60, 60], 0.9, b"crop")]

  class SlowClient(FakeClient):
    def predict(self, model, crops):
      if model == vocabulary.CLASSIFIER and not first_request_saw:  # one thread sends the classifier's
        first_request_saw.append(ahead.wait(10))
      return super().predict(model, crops)

  records = list(faces.predict_images(SlowClient(), paths, vocabulary.MODELS, detect, workers=2, batch_faces=1))
  assert len(records) == 8 and sorted(detected) == names
  assert first_request_saw == [True]


def test_a_folder_stands_for_its_images_in_sorted_order(tmp_path):
  (tmp_path / "b").mkdir()
  for name in ("b/2.PNG", "a.jpg", "b/1.jpeg", "notes.txt", ".hidden.jpg", "c.webp"):
    (tmp_path / name).write_bytes(b"x")
  listed = faces.image_paths([str(tmp_path), str(tmp_path / "notes.txt")])
  assert [os.path.relpath(path, tmp_path) for path in listed] == ["a.jpg", "c.webp", "b/1.jpeg", "b/2.PNG",
                                                                    "notes.txt"]


@pytest.mark.parametrize("face, expected", [
    ({"box": [5, 5, 22, 22], "age_bucket": "75-99", "age_bucket_prob": 0.31, "gender": "male",
      "gender_prob": 0.9, "age": 40.0}, [trust.FACE_TOO_SMALL, trust.AGE_BUCKET_UNCERTAIN, trust.MODELS_DISAGREE]),
    ({"box": [0, 0, 120, 120], "age_bucket": "25-49", "age_bucket_prob": 0.8, "gender": "female",
      "gender_prob": 0.55, "age": 52.0}, [trust.GENDER_UNCERTAIN]),
    ({"box": [0, 0, 120, 120], "age_bucket": "25-49", "age_bucket_prob": 0.8, "gender": "female",
      "gender_prob": 0.95, "age": 53.9}, []),  # within 5 years of the bucket
    ({"box": [0, 0, 120, 120], "age_bucket": "25-49", "age_bucket_prob": 0.8, "gender": "female",
      "gender_prob": 0.95, "age": 18.0}, [trust.MODELS_DISAGREE]),
    ({"box": [0, 0, 39, 200], "age": 30.0}, [trust.FACE_TOO_SMALL]),  # one model only: nothing to compare
])
def test_warnings_say_what_not_to_trust(face, expected):
  assert trust.warnings(face) == expected


def test_a_larger_minimum_judged_size_marks_more_faces_too_small():
  face = {"box": [0, 0, 70, 70]}
  assert trust.warnings(face) == [] and trust.warnings(face, trust.Trust(min_face_size=80)) == [trust.FACE_TOO_SMALL]


def enormous_png(width: int = 9000, height: int = 9000) -> bytes:
  """A small PNG file whose header says width x height (81 Mpx: over the 50 Mpx limit)."""
  buffer = io.BytesIO()
  Image.new("RGB", (1, 1)).save(buffer, format="PNG")
  data = bytearray(buffer.getvalue())
  data[16:24] = struct.pack(">II", width, height)  # IHDR's width and height, then its CRC
  data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
  return bytes(data)


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory, aaf_dir):
  """25 real AAF photos (links), a truncated JPEG, a text file named like a photo and an enormous PNG."""
  folder = tmp_path_factory.mktemp("photos")
  names = sorted(os.listdir(aaf_dir / "faces"))[::120][:25]
  for name in names:
    os.symlink(aaf_dir / "faces" / name, folder / name)
  whole = (aaf_dir / "faces" / names[0]).read_bytes()
  (folder / "zz_truncated.jpg").write_bytes(whole[:len(whole) // 3])
  (folder / "zz_text.jpg").write_text("not a photo\n")
  (folder / "zz_enormous.png").write_bytes(enormous_png())
  return folder, names


def test_fdp_predict_a_folder_against_fdp_serve(photo_folder):
  folder, names = photo_folder
  with fdp_serve() as (_, rest_port, _):
    done = subprocess.run([sys.executable, "-m", "cli", "predict", str(folder), "--json",
                           "--server", f"127.0.0.1:{rest_port}"], cwd=REPO, capture_output=True, text=True,
                          timeout=600, check=False)
  records = [json.loads(line) for line in done.stdout.splitlines()]
  assert [os.path.basename(record["image"]) for record in records] == names + [
      "zz_enormous.png", "zz_text.jpg", "zz_truncated.jpg"]
  assert done.returncode == 1  # three photos failed, the others ran
  for record in records[:-3]:
    assert len(record["faces"]) >= 1, record
    face = record["faces"][0]
    assert set(face) == {"box", "score", "age_bucket", "age_bucket_prob", "gender", "gender_prob", "age",
                         "warnings"}
    assert set(face["warnings"]) <= {trust.FACE_TOO_SMALL, trust.AGE_BUCKET_UNCERTAIN, trust.GENDER_UNCERTAIN,
                                     trust.MODELS_DISAGREE}
    assert trust.FACE_TOO_SMALL not in face["warnings"]  # AAF faces are 150-250 px
  assert records[-3]["error"] == "the image is too large (9000x9000 pixels)"
  assert "unknown image format" in records[-2]["error"]
  assert "not a readable image" in records[-1]["error"]
  assert "28/28" in done.stderr  # the progress bar (28 photos: more than 20)


def test_a_small_background_face_is_found_and_marked_too_small(utkface_dir, tmp_path):
  import functools  # pylint: disable=g-import-not-at-top
  from application import face_detection  # pylint: disable=g-import-not-at-top
  names = sorted(os.listdir(utkface_dir))
  photo = Image.new("RGB", (1280, 720), (120, 120, 120))
  photo.paste(Image.open(utkface_dir / names[5000]).convert("RGB").resize((260, 260)), (200, 200))
  photo.paste(Image.open(utkface_dir / names[9300]).convert("RGB").resize((40, 40)), (900, 120))  # ~34 px box
  buffer = io.BytesIO()
  photo.save(buffer, format="JPEG", quality=92)
  (tmp_path / "group.jpg").write_bytes(buffer.getvalue())
  # Below the default 40 px minimum face of a photo this large: found as `--min-face-size 24` asks.
  records = list(faces.predict_images(FakeClient(), [str(tmp_path / "group.jpg")], vocabulary.MODELS,
                                      functools.partial(face_detection.detect_faces, min_face_size=24), workers=1))
  large, small = sorted(records[0]["faces"], key=lambda face: -face["box"][2])  # exactly two faces
  assert 200 < large["box"][2] < 260 and trust.FACE_TOO_SMALL not in large["warnings"]
  assert 24 <= small["box"][2] < trust.Trust().min_face_size and 880 < small["box"][0] < 960
  assert small["warnings"][0] == trust.FACE_TOO_SMALL


def test_the_two_models_are_asked_at_the_same_time():
  both_waiting = threading.Barrier(2, timeout=10)  # broken (an error) if the second request waits for the first

  class MeetingClient(FakeClient):
    def predict(self, model, crops):
      both_waiting.wait()
      return super().predict(model, crops)

  with concurrent.futures.ThreadPoolExecutor(1) as pool:  # the caller's pool
    [fields] = faces.predict_crops(MeetingClient(), [b"crop"], vocabulary.MODELS, pool)
  assert (fields["age_bucket"], fields["gender"], fields["age"]) == ("25-49", "female", 30.0)


class OnePassClient(FakeClient):
  """A classifier that also exports its own age estimate (models exported since it does)."""

  def predict(self, model, crops):
    outputs = super().predict(model, crops)
    if model == vocabulary.CLASSIFIER:
      outputs[vocabulary.AGE_KEY] = np.full((len(crops), 1), 41.26)
    return outputs


def test_a_classifier_with_its_own_age_answers_a_face_in_full_and_the_regressor_s_age_wins_with_both():
  client = OnePassClient()
  [alone] = faces.predict_crops(client, [b"crop"], (vocabulary.CLASSIFIER,))
  assert (alone["age_bucket"], alone["gender"], alone["age"]) == ("25-49", "female", 41.3)
  assert [model for model, _, _ in client.requests] == [vocabulary.CLASSIFIER]  # one request: one pass
  [both] = faces.predict_crops(client, [b"crop"], vocabulary.MODELS)
  assert (both["age_bucket"], both["age"]) == ("25-49", 30.0)
  [older] = faces.predict_crops(FakeClient(), [b"crop"], (vocabulary.CLASSIFIER,))  # a classifier without age
  assert "age" not in older and older["gender"] == "female"


def test_a_failed_model_request_is_raised_after_the_other_has_answered():
  answered, classifier_failed = [], threading.Event()

  class HalfBrokenClient(FakeClient):
    def predict(self, model, crops):
      if model == vocabulary.CLASSIFIER:
        classifier_failed.set()
        raise ConnectionError("classifier unreachable")
      assert classifier_failed.wait(10)  # the regressor answers only after the classifier has failed
      answered.append(model)
      return super().predict(model, crops)

  with pytest.raises(ConnectionError, match="classifier unreachable"), \
       concurrent.futures.ThreadPoolExecutor(1) as pool:
    faces.predict_crops(HalfBrokenClient(), [b"crop"], vocabulary.MODELS, pool)
  assert answered == [vocabulary.REGRESSOR]
