"""The shared decode/resize/normalise function."""
import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from trainer import images


def _jpeg(width, height, color):
  out = io.BytesIO()
  Image.new("RGB", (width, height), color).save(out, format="JPEG", quality=95)
  return out.getvalue()


def test_decode_resize_normalise():
  batch = tf.constant([_jpeg(200, 200, (255, 0, 0)), _jpeg(64, 40, (0, 0, 255))])
  out = images.decode_images(batch, 48).numpy()
  assert out.shape == (2, 48, 48, 3) and out.dtype == np.float32
  assert 0.0 <= out.min() and out.max() <= 1.0
  assert out[0, ..., 0].mean() > 0.95 and out[0, ..., 2].mean() < 0.05
  assert out[1, ..., 2].mean() > 0.95


def test_png_and_grayscale_are_accepted():
  out = io.BytesIO()
  Image.new("L", (30, 30), 128).save(out, format="PNG")
  image = images.decode_image(tf.constant(out.getvalue()), 16).numpy()
  assert image.shape == (16, 16, 3) and abs(image.mean() - 128 / 255) < 0.01


def test_non_image_bytes_fail():
  with pytest.raises(tf.errors.InvalidArgumentError):
    images.decode_image(tf.constant(b"not an image"), 16)
