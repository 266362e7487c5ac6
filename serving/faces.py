"""`fdp predict`: faces of an image -> the two models -> one record per image.

Face detection is pluggable: `detect_faces(image_bytes) -> [(box, score, crop_bytes)]` with box =
[x, y, w, h] in the image's pixels. `whole_image` (`--no-detect`) treats the whole image as one face
(box = the full image, score 1.0), which is right for pre-cropped faces such as UTKFace's.

The --json record is a stable format that scripts depend on:
  {"image": PATH, "faces": [{"box": [x, y, w, h], "score": S, "age_bucket": "25-49", "age_bucket_prob": P,
                             "gender": "female", "gender_prob": P, "age": 31.2}]}
Fields of a model not asked for are left out; an image that cannot be read or predicted gets "error"
instead of "faces", and the other images still run.
"""
import io
from typing import Callable, Iterator, List, Sequence, Tuple

import numpy as np

from pipeline import configs

Box = List[int]
Face = Tuple[Box, float, bytes]
FaceDetector = Callable[[bytes], List[Face]]

AGE_BUCKET_OUTPUT, GENDER_OUTPUT, AGE_OUTPUT = configs.AGE_BUCKET_KEY, configs.GENDER_KEY, configs.AGE_KEY
BOTH = "both"
MODEL_CHOICES = configs.MODELS + (BOTH,)


def whole_image(image_bytes: bytes) -> List[Face]:
  """The stand-in detector: one face, the whole image. Raises ValueError on bytes that are no image."""
  from PIL import Image, UnidentifiedImageError  # pylint: disable=g-import-not-at-top
  try:
    with Image.open(io.BytesIO(image_bytes)) as image:
      width, height = image.size
      image.verify()
  except UnidentifiedImageError:
    raise ValueError("not a readable image: unknown image format") from None
  except (OSError, SyntaxError) as e:
    raise ValueError(f"not a readable image: {e}") from None
  return [([0, 0, width, height], 1.0, image_bytes)]


def _classifier_fields(outputs, i: int) -> dict:
  buckets = outputs[AGE_BUCKET_OUTPUT][i]
  p_female = float(outputs[GENDER_OUTPUT][i][0])
  female = p_female >= 0.5
  return {"age_bucket": configs.AGE_BUCKETS[int(np.argmax(buckets))],
          "age_bucket_prob": round(float(np.max(buckets)), 4),
          "gender": configs.GENDERS[int(female)],
          "gender_prob": round(p_female if female else 1.0 - p_female, 4)}


def _regressor_fields(outputs, i: int) -> dict:
  return {"age": round(float(outputs[AGE_OUTPUT][i][0]), 1)}


_FIELDS = {configs.CLASSIFIER: _classifier_fields, configs.REGRESSOR: _regressor_fields}


def predict_crops(client, crops: Sequence[bytes], models: Sequence[str]) -> List[dict]:
  """Face crops -> the served models (one request per model) -> the predicted fields per face."""
  fields = [{} for _ in crops]
  for model in models:
    outputs = client.predict(model, list(crops))
    for i, face_fields in enumerate(fields):
      face_fields.update(_FIELDS[model](outputs, i))
  return fields


def models_for(choice: str) -> Tuple[str, ...]:
  return configs.MODELS if choice == BOTH else (choice,)


def predict_image(client, path: str, models: Sequence[str], detect_faces: FaceDetector = whole_image) -> dict:
  """One image's record; every failure lands in its "error" field, never in an exception."""
  from serving.client import ServingClientError  # pylint: disable=g-import-not-at-top
  try:
    with open(path, "rb") as f:
      faces = detect_faces(f.read())
    records = [{"box": [int(v) for v in box], "score": round(float(score), 4)} for box, score, _ in faces]
    if faces:
      for record, fields in zip(records, predict_crops(client, [crop for _, _, crop in faces], models)):
        record.update(fields)
  except (OSError, ValueError, ServingClientError) as e:
    return {"image": path, "error": str(e)}
  return {"image": path, "faces": records}


def predict_images(client, paths: Sequence[str], models: Sequence[str],
                   detect_faces: FaceDetector = whole_image) -> Iterator[dict]:
  for path in paths:
    yield predict_image(client, path, models, detect_faces)


def human_lines(record: dict) -> List[str]:
  """One line per face: age bucket, gender with confidence, estimated age."""
  if "error" in record:
    return [f"{record['image']}: error: {record['error']}"]
  if not record["faces"]:
    return [f"{record['image']}: no face found"]
  lines = []
  for n, face in enumerate(record["faces"], 1):
    parts = []
    if "age_bucket" in face:
      parts.append(f"age {face['age_bucket']} ({face['age_bucket_prob']:.0%})")
      parts.append(f"{face['gender']} ({face['gender_prob']:.0%})")
    if "age" in face:
      parts.append(f"~{face['age']:.1f} years")
    x, y, w, h = face["box"]
    lines.append(f"{record['image']}: face {n} at [{x}, {y}, {w}, {h}]: {', '.join(parts)}")
  return lines
