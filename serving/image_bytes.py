"""What encoded image bytes are, judged from their leading bytes and header alone (nothing is decoded).

Shared by the model server (serving/server/core.py: the `images` input) and the web page (application/web/), so both
accept the same formats and refuse the same decompression bombs, with a sentence saying what is wrong.
"""
import io
import struct
from typing import Optional, Tuple

from vocabulary.image_formats import MAGIC, MAX_PIXELS, WEBP


def image_type(data: bytes) -> Optional[str]:
  """The format the bytes start with ("JPEG", "PNG", "GIF", "BMP", "WEBP"), or None."""
  for magic, name in MAGIC:
    if data.startswith(magic):
      return name
  if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
    return WEBP
  return None


def _jpeg_size(data: bytes) -> Optional[Tuple[int, int]]:
  """The frame header's size: the first SOFn marker segment (the segments before it are skipped)."""
  i = 2
  while i + 9 <= len(data) and data[i] == 0xFF:
    marker = data[i + 1]
    if marker == 0xFF or marker == 0x01 or 0xD0 <= marker <= 0xD8:  # fill byte, TEM, RSTn, SOI: no length
      i += 1 if marker == 0xFF else 2
      continue
    if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # SOFn (not DHT, JPG, DAC)
      height, width = struct.unpack(">HH", data[i + 5:i + 9])
      return width, height
    i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
  return None


def _webp_size(data: bytes) -> Optional[Tuple[int, int]]:
  from PIL import WebPImagePlugin  # pylint: disable=g-import-not-at-top  (three container variants)
  try:  # the format's own header parser, without Image.open's bomb check (which hides the size)
    with WebPImagePlugin.WebPImageFile(io.BytesIO(data)) as image:
      return image.size
  except (OSError, SyntaxError, ValueError, EOFError):
    return None


def size(data: bytes) -> Optional[Tuple[int, int]]:
  """(width, height) as the header declares them; None when the header cannot be read. Reads a few
  bytes, decodes nothing (the model server checks every image of every request)."""
  kind = image_type(data)
  if kind == "JPEG":
    return _jpeg_size(data)
  if kind == "PNG" and data[12:16] == b"IHDR" and len(data) >= 24:
    return struct.unpack(">II", data[16:24])
  if kind == "GIF" and len(data) >= 10:
    return struct.unpack("<HH", data[6:10])  # the logical screen, which every frame is decoded to
  if kind == "BMP" and len(data) >= 26:
    if struct.unpack("<I", data[14:18])[0] == 12:  # BITMAPCOREHEADER: 16-bit sizes
      return struct.unpack("<HH", data[18:22])
    width, height = struct.unpack("<ii", data[18:26])
    return abs(width), abs(height)  # a negative height means top-down rows
  if kind == WEBP:
    return _webp_size(data)
  return None


def too_many_pixels(data: bytes, max_pixels: int = MAX_PIXELS) -> Optional[str]:
  """Why the image is too large to decode, in a sentence; None when it is not (or its size is unknown)."""
  dimensions = size(data)
  if dimensions is None or dimensions[0] * dimensions[1] <= max_pixels:
    return None
  width, height = dimensions
  return f"the image has too many pixels: {width}x{height} ({width * height:,}); the limit is {max_pixels:,}"
