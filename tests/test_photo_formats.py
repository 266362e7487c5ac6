"""Every photo the application accepts works end to end, and a bad one costs no other photo its answer: the
same real face as JPEG, PNG, WebP, BMP, GIF, CMYK JPEG, 16-bit PNG and animated GIF, with and without
detection, in `fdp predict`, `fdp batch-predict` and the web page; next to them an empty file, a truncated
JPEG, a text file named .jpg and a 1x1 image. Both photo commands exit 1 when some photos failed."""
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from application import faces
from cli import exit_codes
from cli import main as cli
from tests.conftest import REPO, SHIPPED_MODELS
from tests.serve_process import fdp_serve

pytestmark = pytest.mark.datasets
GOOD = ("face.jpg", "face.png", "face.webp", "face.bmp", "face.gif", "face_cmyk.jpg", "face_16bit.png",
        "face_animated.gif")
BAD = {"empty.jpg": "not a readable image", "truncated.jpg": "not a readable image",
       "text.jpg": "unknown image format"}


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
  buffer = io.BytesIO()
  image.save(buffer, format=fmt, **options)
  return buffer.getvalue()


def _sixteen_bit_png(image: Image.Image) -> bytes:
  grey = (np.asarray(image.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
  return _encode(Image.fromarray(grey, mode="I;16"), "PNG")


@pytest.fixture(scope="module")
def photos(tmp_path_factory, utkface_dir):
  """One real face (200x200 UTKFace crop, padded so the detector sees margin) in every format, and the
  bad files."""
  folder = tmp_path_factory.mktemp("formats")
  face = Image.open(utkface_dir / sorted(os.listdir(utkface_dir))[4000]).convert("RGB")
  photo = Image.new("RGB", (320, 320), (128, 128, 128))
  photo.paste(face, (60, 60))
  frames = [photo, photo.transpose(Image.FLIP_LEFT_RIGHT)]
  files = {"face.jpg": _encode(photo, "JPEG", quality=95), "face.png": _encode(photo, "PNG"),
           "face.webp": _encode(photo, "WEBP", lossless=True), "face.bmp": _encode(photo, "BMP"),
           "face.gif": _encode(photo, "GIF"), "face_cmyk.jpg": _encode(photo.convert("CMYK"), "JPEG", quality=95),
           "face_16bit.png": _sixteen_bit_png(photo),
           "face_animated.gif": _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100),
           "empty.jpg": b"", "truncated.jpg": _encode(photo, "JPEG")[:300], "text.jpg": b"not a photo\n"}
  for name, data in files.items():
    (folder / name).write_bytes(data)
  return folder


def test_what_tensorflow_cannot_read_is_re_encoded_losslessly(photos):
  kept = {name: faces.model_readable((photos / name).read_bytes()) == (photos / name).read_bytes() for name in GOOD}
  assert kept == {"face.jpg": True, "face.png": True, "face.webp": False, "face.bmp": True, "face.gif": True,
                  "face_cmyk.jpg": False, "face_16bit.png": False, "face_animated.gif": True}
  webp = Image.open(io.BytesIO(faces.model_readable((photos / "face.webp").read_bytes())))
  assert webp.format == "PNG" and np.array_equal(np.asarray(webp), np.asarray(Image.open(photos / "face.png")))
  tiny = _encode(Image.new("RGB", (1, 1)), "PNG")
  assert faces.whole_image(tiny)[0][0] == [0, 0, 1, 1]  # a 1x1 image is an image (the models answer it)


def _predict(photos, server, *options):
  done = subprocess.run([sys.executable, "-m", "cli", "predict", str(photos), "--json", "--server", server,
                         "--no-progress", *options], cwd=REPO, capture_output=True, text=True, timeout=600,
                        check=False)
  return done.returncode, {os.path.basename(r["image"]): r for r in map(json.loads, done.stdout.splitlines())}


def _check(records, faces_expected):
  assert set(records) == set(GOOD) | set(BAD)
  for name, why in BAD.items():
    assert why in records[name]["error"], records[name]
  ages = {}
  for name in GOOD:
    assert "error" not in records[name], records[name]
    assert len(records[name]["faces"]) == faces_expected, records[name]
    ages[name] = records[name]["faces"][0]["age"]
  lossless = [ages[name] for name in ("face.png", "face.webp", "face.bmp")]
  assert max(lossless) - min(lossless) < 0.05  # the same pixels: the same answer
  assert max(ages.values()) - min(ages.values()) < 15, ages  # JPEG, GIF's palette, grey 16-bit: close


def test_fdp_predict_answers_every_format_with_and_without_detection(photos):
  with fdp_serve() as (_, rest_port, _):
    server = f"127.0.0.1:{rest_port}"
    code, records = _predict(photos, server, "--no-detect")
    assert code == exit_codes.SOME_FAILED
    _check(records, faces_expected=1)
    code, records = _predict(photos, server)
    assert code == exit_codes.SOME_FAILED
    _check(records, faces_expected=1)
    code, _ = _predict(photos / "face.png", server)
    assert code == exit_codes.ALL_ANSWERED


def test_fdp_batch_predict_answers_every_format_and_exits_1_for_the_bad_ones(photos, tmp_path):
  code = cli.main(["batch-predict", str(photos), "--output", str(tmp_path / "out" / "records"),
                   "--serving-root", str(SHIPPED_MODELS), "--no-detect", "--beam-args",
                   "--direct_running_mode=in_memory"])
  assert code == exit_codes.SOME_FAILED
  lines = [line for path in (tmp_path / "out").iterdir() for line in path.read_text().splitlines()]
  _check({os.path.basename(r["image"]): r for r in map(json.loads, lines)}, faces_expected=1)
  assert cli.main(["batch-predict", str(tmp_path / "no-such-folder"), "--output", str(tmp_path / "x"),
                   "--serving-root", str(SHIPPED_MODELS)]) == exit_codes.BAD_ARGUMENTS


def test_the_page_answers_every_format(photos):
  from application.web import app as app_lib  # pylint: disable=g-import-not-at-top
  from serving.client import model_client as client_lib  # pylint: disable=g-import-not-at-top
  from serving.server import model_config  # pylint: disable=g-import-not-at-top
  from serving.server import model_server as server_lib  # pylint: disable=g-import-not-at-top
  server = server_lib.ModelServer(model_config.build(None, str(SHIPPED_MODELS)), rest_port=0, grpc_port=0,
                                  host="127.0.0.1").start()
  try:
    with client_lib.connect(f"127.0.0.1:{server.rest_port}", "rest") as client:
      app = app_lib.create_app(app_lib.WebConfig(server="test"), app_lib.client_predictor(client))
      page = app.test_client()
      for name in GOOD:
        response = page.post("/api/predict", data={"photo": (io.BytesIO((photos / name).read_bytes()), name)})
        assert response.status_code == 200 and len(response.get_json()["faces"]) == 1, (name, response.get_json())
      for name in BAD:
        response = page.post("/api/predict", data={"photo": (io.BytesIO((photos / name).read_bytes()), name)})
        assert response.status_code == 400 and response.get_json()["error"], name
  finally:
    server.stop()
