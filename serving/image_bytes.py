"""What encoded image bytes are, judged from their leading bytes and header alone (nothing is decoded).

Shared by the model server (serving/core.py: the `images` input) and the web page (serving/web/), so both
accept the same formats and refuse the same decompression bombs, with a sentence saying what is wrong.
"""
import io
from typing import Optional, Tuple

# Leading bytes -> format. TensorFlow's decode_image (the models' serving signatures) reads these four.
MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
         (b"BM", "BMP"))
TENSORFLOW_FORMATS = ("JPEG", "PNG", "GIF", "BMP")
WEBP = "WEBP"  # RIFF....WEBP: Pillow reads it (the web page), TensorFlow does not
# Larger images are refused before decoding: a small file can declare a huge canvas (a decompression bomb).
MAX_PIXELS = 50_000_000


def image_type(data: bytes) -> Optional[str]:
  """The format the bytes start with ("JPEG", "PNG", "GIF", "BMP", "WEBP"), or None."""
  for magic, name in MAGIC:
    if data.startswith(magic):
      return name
  if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
    return WEBP
  return None


def size(data: bytes) -> Optional[Tuple[int, int]]:
  """(width, height) as the header declares them; None when the header cannot be read."""
  # pylint: disable=g-import-not-at-top
  from PIL import BmpImagePlugin, GifImagePlugin, JpegImagePlugin, PngImagePlugin, WebPImagePlugin
  reader = {"JPEG": JpegImagePlugin.JpegImageFile, "PNG": PngImagePlugin.PngImageFile,
            "GIF": GifImagePlugin.GifImageFile, "BMP": BmpImagePlugin.BmpImageFile,
            WEBP: WebPImagePlugin.WebPImageFile}.get(image_type(data))
  if reader is None:
    return None
  try:  # the format's own header parser, without Image.open's bomb check (which hides the size)
    with reader(io.BytesIO(data)) as image:
      return image.size
  except (OSError, SyntaxError, ValueError, EOFError, IndexError):
    return None


def too_many_pixels(data: bytes, max_pixels: int = MAX_PIXELS) -> Optional[str]:
  """Why the image is too large to decode, in a sentence; None when it is not (or its size is unknown)."""
  dimensions = size(data)
  if dimensions is None or dimensions[0] * dimensions[1] <= max_pixels:
    return None
  width, height = dimensions
  return f"the image has too many pixels: {width}x{height} ({width * height:,}); the limit is {max_pixels:,}"
