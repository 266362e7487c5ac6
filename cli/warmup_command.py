"""`fdp warmup SAVED_MODEL_DIR...`: TF Serving's warm-up requests for models exported without them.

The Trainer writes `assets.extra/tf_serving_warmup_requests` from real eval images; a SavedModel exported
elsewhere (or before) gets one made of drawn faces (components/synthetic_faces.py), which exercise the same
graph: that is how the repository's shipped models/ carry theirs without holding any dataset image.
"""
import io
import random
from typing import List

WARMUP_IMAGE_SIZE = 200


def synthetic_images(count: int) -> List[bytes]:
  from components import synthetic_faces  # pylint: disable=g-import-not-at-top  (Pillow only)
  rng = random.Random(0)
  images = []
  for i in range(count):
    buffer = io.BytesIO()
    synthetic_faces.draw_face(age=5 + 10 * i, gender=i % 2, race=i % 5, size=WARMUP_IMAGE_SIZE, rng=rng).save(
        buffer, format="JPEG", quality=90)
    images.append(buffer.getvalue())
  return images


def cmd_warmup(args) -> int:
  from trainer import warmup  # pylint: disable=g-import-not-at-top  (TensorFlow)
  for saved_model_dir in args.saved_model_dirs:
    print(warmup.write_warmup_requests(saved_model_dir, synthetic_images(warmup.WARMUP_IMAGES)))
  return 0


def register(subparsers) -> None:
  warmup = subparsers.add_parser("warmup", help="add TF Serving warm-up requests (drawn faces) to exported "
                                 "SavedModels")
  warmup.add_argument("saved_model_dirs", nargs="+", metavar="SAVED_MODEL_DIR")
  warmup.set_defaults(func=cmd_warmup)
