"""The encoded image formats the models' `images` input reads, by their leading bytes (the model server
and the web page judge uploads by these: serving/image_bytes.py)."""

# Leading bytes -> format. TensorFlow's decode_image (the models' serving signatures) reads these four.
MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
         (b"BM", "BMP"))
TENSORFLOW_FORMATS = ("JPEG", "PNG", "GIF", "BMP")
WEBP = "WEBP"  # RIFF....WEBP: Pillow reads it (the web page), TensorFlow does not
# File name endings of each format (lower case): what `fdp predict` takes from a folder.
EXTENSIONS = {"JPEG": (".jpg", ".jpeg"), "PNG": (".png",), "GIF": (".gif",), "BMP": (".bmp",), WEBP: (".webp",)}
IMAGE_EXTENSIONS = tuple(ending for endings in EXTENSIONS.values() for ending in endings)

# Larger images are refused before decoding: a small file can declare a huge canvas (a decompression bomb).
MAX_PIXELS = 50_000_000
