"""Checks on an uploaded photo that need no model: its type, judged from the bytes (never the name)."""
import io

from flask import Request

# Leading bytes of the image formats the page accepts (Pillow reads them all).
IMAGE_MAGIC = (
    (b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)
WEBP_MAGIC = (b"RIFF", b"WEBP")  # RIFF....WEBP
ACCEPTED = "JPEG, PNG, WebP, GIF or BMP"


def image_type(data: bytes):
  """The image format the bytes start with, or None for anything else."""
  for magic, name in IMAGE_MAGIC:
    if data.startswith(magic):
      return name
  if data[:4] == WEBP_MAGIC[0] and data[8:12] == WEBP_MAGIC[1]:
    return "WEBP"
  return None


class InMemoryRequest(Request):
  """A request whose uploaded files are kept in memory: Werkzeug would spool large ones to a temporary
  file. MAX_CONTENT_LENGTH bounds the memory."""

  def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
    return io.BytesIO()
