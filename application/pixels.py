"""A decoded photo's pixels as the detector and the models take them: 8-bit RGB, whatever the file held
(16-bit and 32-bit grey, CMYK, palette, alpha)."""
import numpy as np
from PIL import Image

WIDE_MODES = ("I;16", "I;16B", "I;16L", "I")  # grey at more than 8 bits


def as_rgb(image: Image.Image) -> Image.Image:
  """8-bit RGB (Pillow's RGB conversion clips wide grey at 255: it is scaled down first)."""
  if image.mode in WIDE_MODES:
    values = np.asarray(image, dtype=np.float64)
    top = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
    image = Image.fromarray(np.clip(values / top * 255.0, 0, 255).round().astype(np.uint8), mode="L")
  return image if image.mode == "RGB" else image.convert("RGB")
