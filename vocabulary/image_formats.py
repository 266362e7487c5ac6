"""The encoded image formats the models' `images` input reads, by their leading bytes (the model server
and the web page judge uploads by these: serving/image_bytes.py)."""

# Leading bytes -> format. TensorFlow's decode_image (the models' serving signatures) reads these four.
MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
         (b"BM", "BMP"))
TENSORFLOW_FORMATS = ("JPEG", "PNG", "GIF", "BMP")
WEBP = "WEBP"  # RIFF....WEBP: Pillow reads it (the web page), TensorFlow does not
