"""Uploads: the formats the page accepts (judged from the bytes by serving/image_bytes.py, never the name),
kept in memory."""
import io

from flask import Request

ACCEPTED = "JPEG, PNG, WebP, GIF or BMP"  # what serving.image_bytes.image_type() recognises


class InMemoryRequest(Request):
  """A request whose uploaded files are kept in memory: Werkzeug would spool large ones to a temporary
  file. MAX_CONTENT_LENGTH bounds the memory."""

  def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
    return io.BytesIO()
