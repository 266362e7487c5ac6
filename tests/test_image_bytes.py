"""serving/image_bytes.py: the formats and sizes both front ends accept, read from the bytes alone; the web
page refuses a decompression bomb saying why, before any decoding."""
import io
import struct

import pytest
from PIL import Image

from serving import image_bytes
from application.web import app as web_app
from tests.conftest import decompression_bomb_png
from vocabulary import image_formats

TOO_MANY_PIXELS = "the image has too many pixels: 30000x30000 (900,000,000); the limit is 50,000,000"


def _encoded(image_format: str, size=(300, 200)) -> bytes:
  buffer = io.BytesIO()
  Image.new("RGB", size, "gray").save(buffer, image_format)
  return buffer.getvalue()


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "GIF", "BMP", "WEBP"])
def test_each_accepted_format_is_recognised_with_its_size(image_format):
  data = _encoded(image_format)
  assert image_bytes.image_type(data) == image_format
  assert image_bytes.size(data) == (300, 200)
  assert image_bytes.too_many_pixels(data) is None
  assert (image_format in image_formats.TENSORFLOW_FORMATS) == (image_format != image_formats.WEBP)


def test_sizes_agree_with_pillow_on_real_photos_and_other_encodings(utkface_dir):
  for path in sorted(utkface_dir.iterdir())[::100]:
    data = path.read_bytes()
    assert image_bytes.size(data) == Image.open(io.BytesIO(data)).size, path
  image = Image.new("RGB", (301, 203), "gray")
  for image_format, options in (("JPEG", {"progressive": True}), ("JPEG", {"exif": Image.Exif(), "dpi": (72, 72)}),
                                ("PNG", {"optimize": True}), ("GIF", {"interlace": True}), ("WEBP", {"lossless": True})):
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    assert image_bytes.size(buffer.getvalue()) == (301, 203), (image_format, options)
  top_down = bytearray(_encoded("BMP", (301, 203)))
  top_down[22:26] = struct.pack("<i", -203)  # a negative height: rows stored top row first
  assert image_bytes.size(bytes(top_down)) == (301, 203) == Image.open(io.BytesIO(bytes(top_down))).size


def test_what_is_no_image_or_has_no_readable_header_has_no_type_or_size():
  assert image_bytes.image_type(b"plain text") is None and image_bytes.size(b"plain text") is None
  assert image_bytes.image_type(b"\xff\xd8\xff\xe0 truncated jpeg") == "JPEG"
  assert image_bytes.size(b"\xff\xd8\xff\xe0 truncated jpeg") is None  # left for the decoder to report


def test_the_pixel_limit_is_inclusive():
  at_limit = decompression_bomb_png(10_000, 5_000)
  assert image_bytes.too_many_pixels(at_limit) is None
  assert image_bytes.too_many_pixels(at_limit, max_pixels=49_999_999) == (
      "the image has too many pixels: 10000x5000 (50,000,000); the limit is 49,999,999")
  bomb = decompression_bomb_png()
  assert len(bomb) < 200_000 and image_bytes.too_many_pixels(bomb) == TOO_MANY_PIXELS


def _never_called(crops):
  raise AssertionError(f"the model server was asked about {len(crops)} crops")


@pytest.fixture
def web_client():
  return web_app.create_app(web_app.WebConfig(server="127.0.0.1:1"), _never_called).test_client()


def test_the_web_page_refuses_a_decompression_bomb_saying_why(web_client):
  response = web_client.post("/api/predict", data={"photo": (io.BytesIO(decompression_bomb_png()), "bomb.png")})
  assert response.status_code == 400
  assert response.get_json() == {"error": f"This photo cannot be read: {TOO_MANY_PIXELS}."}


def test_the_web_page_refuses_what_is_no_image(web_client):
  response = web_client.post("/api/predict", data={"photo": (io.BytesIO(b"RIFF1234WAVE"), "song.webp")})
  assert response.status_code == 400 and "This file is not a photo" in response.get_json()["error"]
