"""`fdp predict`: faces of images -> the two models -> one record per image, in input order.

Face detection is pluggable: `detect_faces(image_bytes) -> [(box, score, crop_bytes)]` with box =
[x, y, w, h] in the image's pixels. `whole_image` (`--no-detect`) treats the whole image as one face
(box = the full image, score 1.0), which is right for pre-cropped faces such as UTKFace's.

Many images run as a pipeline: `workers` threads read and detect the next images while the faces of
the previous ones are at the model server, and faces of consecutive images share requests (up to
`batch_faces` crops per request, one request per model).

The --json record is a stable format that scripts depend on:
  {"image": PATH, "faces": [{"box": [x, y, w, h], "score": S, "age_bucket": "25-49", "age_bucket_prob": P,
                             "gender": "female", "gender_prob": P, "age": 31.2, "warnings": [...]}]}
Fields of a model not asked for are left out; "warnings" lists what not to trust (application/trust.py). An
image that cannot be read or predicted gets "error" instead of "faces", and the other images still run.
"""
import collections
import concurrent.futures
import io
import os
from typing import BinaryIO, Callable, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from application import pixels
from application import trust as trust_lib
from vocabulary import image_formats
from vocabulary import labels
import vocabulary

Box = List[int]
Face = Tuple[Box, float, bytes]
FaceDetector = Callable[[bytes], List[Face]]

AGE_BUCKET_OUTPUT, GENDER_OUTPUT, AGE_OUTPUT = vocabulary.AGE_BUCKET_KEY, vocabulary.GENDER_KEY, vocabulary.AGE_KEY
BOTH = "both"
MODEL_CHOICES = vocabulary.MODELS + (BOTH,)
DEFAULT_MODEL = BOTH
BATCH_FACES = 32  # crops per model request, at most
DEFAULT_WORKERS = min(2, os.cpu_count() or 1)


# What the models' graphs decode as they are (TensorFlow's decode_image): other formats and pixel
# layouts are re-encoded once, losslessly, as PNG.
_AS_THEY_ARE = {"JPEG": ("RGB", "L"), "PNG": ("RGB", "RGBA", "L", "LA", "P"), "GIF": ("P", "L", "RGB"),
                "BMP": ("RGB", "L", "P")}


def model_readable(image_bytes: bytes) -> bytes:
  """The image as the models can read it: JPEG, PNG, GIF or BMP bytes of 8-bit pixels are kept; anything
  else Pillow reads (WebP, TIFF, CMYK JPEG, 16-bit PNG, ...) becomes a PNG of its first frame. Raises
  ValueError on bytes that are no readable image."""
  from PIL import Image, UnidentifiedImageError  # pylint: disable=g-import-not-at-top
  try:
    with Image.open(io.BytesIO(image_bytes)) as image:
      if image.width * image.height > image_formats.MAX_PIXELS:
        raise ValueError(f"not a readable image: {image.width}x{image.height} pixels is more than "
                         f"{image_formats.MAX_PIXELS:,}")
      if image.mode in _AS_THEY_ARE.get(image.format, ()):
        image.verify()
        return image_bytes
      image.load()
      converted = image.convert("RGBA") if "A" in image.getbands() else pixels.as_rgb(image)
      buffer = io.BytesIO()
      converted.save(buffer, format="PNG")
      return buffer.getvalue()
  except UnidentifiedImageError:
    raise ValueError("not a readable image: unknown image format") from None
  except (OSError, SyntaxError, Image.DecompressionBombError) as e:
    raise ValueError(f"not a readable image: {e}") from None


def whole_image(image_bytes: bytes) -> List[Face]:
  """The stand-in detector: one face, the whole image (as the models can read it). Raises ValueError on
  bytes that are no image."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  readable = model_readable(image_bytes)
  with Image.open(io.BytesIO(readable)) as image:
    width, height = image.size
  return [([0, 0, width, height], 1.0, readable)]


def is_image_name(name: str) -> bool:
  """Whether a file found in a folder counts as a photo (by extension; hidden files do not)."""
  return name.lower().endswith(image_formats.IMAGE_EXTENSIONS) and not name.startswith(".")


def image_paths(paths: Iterable[str]) -> List[str]:
  """Files as given; a folder stands for its image files (by extension, any depth), in sorted order."""
  found = []
  for path in paths:
    if not os.path.isdir(path):
      found.append(path)
      continue
    for folder, subfolders, names in os.walk(path):
      subfolders.sort()
      found.extend(os.path.join(folder, name) for name in sorted(names) if is_image_name(name))
  return found


def _age_fields(outputs) -> dict:
  return {"age": round(float(outputs[AGE_OUTPUT][0]), 1)}


def _classifier_fields(outputs) -> dict:
  """Bucket and gender; also the age where the classifier exports its own (one pass, the whole answer)."""
  buckets = outputs[AGE_BUCKET_OUTPUT]
  p_female = float(outputs[GENDER_OUTPUT][0])
  female = labels.is_female(p_female)
  return {"age_bucket": vocabulary.AGE_BUCKETS[int(np.argmax(buckets))],
          "age_bucket_prob": round(float(np.max(buckets)), 4),
          "gender": vocabulary.GENDERS[int(female)],
          "gender_prob": round(p_female if female else 1.0 - p_female, 4),
          **(_age_fields(outputs) if AGE_OUTPUT in outputs else {})}


_FIELDS = {vocabulary.CLASSIFIER: _classifier_fields, vocabulary.REGRESSOR: _age_fields}


def prediction_fields(model: str, face_outputs) -> dict:
  """One face's outputs of a model ({output name: that face's row}) -> its record fields."""
  return _FIELDS[model](face_outputs)


def predict_crops(client, crops: Sequence[bytes], models: Sequence[str],
                  pool: Optional[concurrent.futures.Executor] = None) -> List[dict]:
  """Face crops -> the served models (one request per model) -> the predicted fields per face. With
  `pool` (the caller's: whoever serves the photos owns it and bounds it), the requests go out together,
  the first on this thread, the others on the pool; without, one after another. A failed request's
  error is raised (after the others have answered)."""
  crops = list(crops)
  requests = [pool.submit(client.predict, model, crops) for model in models[1:]] if pool else []
  answers, error = [], None
  for model in models[:1] if pool else models:
    try:
      answers.append(client.predict(model, crops))
    except Exception as e:  # pylint: disable=broad-except  # raised once the others have answered
      error = error or e
  concurrent.futures.wait(requests)
  for request in requests:
    try:
      answers.append(request.result())
    except Exception as e:  # pylint: disable=broad-except
      error = error or e
  if error is not None:
    raise error
  fields = [{} for _ in crops]
  for model, outputs in zip(models, answers):
    for i, face_fields in enumerate(fields):
      face_fields.update(prediction_fields(model, {name: rows[i] for name, rows in outputs.items()}))
  return fields


def face_records(faces: Sequence[Face], predictions: Sequence[dict],
                 trust: trust_lib.Trust = trust_lib.Trust()) -> List[dict]:
  """One record per face: box, score, the predicted fields and the warnings about them."""
  records = []
  for (box, score, _), fields in zip(faces, predictions):
    record = {"box": [int(v) for v in box], "score": round(float(score), 4), **fields}
    record["warnings"] = trust_lib.warnings(record, trust)
    records.append(record)
  return records


def models_for(choice: str) -> Tuple[str, ...]:
  return vocabulary.MODELS if choice == BOTH else (choice,)


def _open_local(path: str):
  return open(path, "rb")


def detect(path: str, detect_faces: FaceDetector, open_file: Callable[[str], BinaryIO] = _open_local):
  """(path, faces) or (path, error message). `open_file(path)` opens the photo for reading (a local file
  by default; batch prediction passes Beam's FileSystems.open)."""
  try:
    with open_file(path) as f:
      return path, detect_faces(f.read())
  except (OSError, ValueError) as e:
    return path, str(e) or type(e).__name__


def photo_record(path: str, faces, predictions: Sequence[dict], trust: trust_lib.Trust = trust_lib.Trust()) -> dict:
  """The --json record of one photo: `faces` as detect() gives them (or its error message) and the
  predicted fields of each face, in order."""
  if isinstance(faces, str):
    return {"image": path, "error": faces}
  return {"image": path, "faces": face_records(faces, predictions, trust)}


def _in_order(paths: Sequence[str], detect_faces: FaceDetector, workers: int) -> Iterator[Tuple[list, bool]]:
  """Yields each image's detection in input order, with whether the next one is ready too; the
  workers keep a few images ahead."""
  with concurrent.futures.ThreadPoolExecutor(max(1, workers), thread_name_prefix="detect") as pool:
    pending = collections.deque()
    upcoming = iter(paths)
    ahead = 4 * max(1, workers)
    for path in upcoming:
      pending.append(pool.submit(detect, path, detect_faces))
      if len(pending) >= ahead:
        break
    while pending:
      result = pending.popleft().result()
      for path in upcoming:
        pending.append(pool.submit(detect, path, detect_faces))
        break
      yield result, bool(pending) and pending[0].done()


def _predict_batch(client, batch, models, trust, pool=None) -> List[dict]:
  """The records of a batch of detected photos, their faces sent together; when that fails, each photo is
  sent alone (as the model server's batcher retries), so one photo the models cannot read never costs
  the others their answers."""
  from serving.client.model_client import ServingClientError  # pylint: disable=g-import-not-at-top
  crops = [crop for _, faces in batch if not isinstance(faces, str) for _, _, crop in faces]
  try:
    predictions = predict_crops(client, crops, models, pool) if crops else []
  except (OSError, ValueError, ServingClientError) as e:
    if len([faces for _, faces in batch if not isinstance(faces, str) and faces]) > 1:
      return [record for photo in batch for record in _predict_batch(client, [photo], models, trust, pool)]
    return [{"image": path, "error": faces if isinstance(faces, str) else str(e)} for path, faces in batch]
  records, start = [], 0
  for path, faces in batch:
    count = 0 if isinstance(faces, str) else len(faces)
    records.append(photo_record(path, faces, predictions[start:start + count], trust))
    start += count
  return records


def predict_images(client, paths: Sequence[str], models: Sequence[str], detect_faces: FaceDetector = whole_image,
                   workers: int = DEFAULT_WORKERS, batch_faces: int = BATCH_FACES,
                   trust: trust_lib.Trust = trust_lib.Trust(), progress: Optional[Callable[[int], None]] = None
                   ) -> Iterator[dict]:
  """One record per image, in input order. Detection runs ahead in `workers` threads; the faces of the
  images detected so far go to the server together, up to `batch_faces` per request. `progress(n)` is
  called after every n images."""
  batch, faces_in_batch = [], 0
  # This run's own pool: each batch's requests to the other models go out beside the first one's.
  with concurrent.futures.ThreadPoolExecutor(max(1, len(models) - 1), thread_name_prefix="model-request") as pool:
    for (path, faces), next_ready in _in_order(paths, detect_faces, workers):
      count = 0 if isinstance(faces, str) else len(faces)
      if batch and faces_in_batch + count > batch_faces:  # an image's faces stay in one request
        yield from _flush(client, batch, models, trust, progress, pool)
        batch, faces_in_batch = [], 0
      batch.append((path, faces))
      faces_in_batch += count
      if faces_in_batch >= batch_faces or not next_ready:
        yield from _flush(client, batch, models, trust, progress, pool)
        batch, faces_in_batch = [], 0


def _flush(client, batch, models, trust, progress, pool) -> List[dict]:
  records = _predict_batch(client, batch, models, trust, pool)
  if progress:
    progress(len(batch))
  return records


def human_lines(record: dict) -> List[str]:
  """One line per face: age bucket, gender with confidence, estimated age, what not to trust."""
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
    if face.get("warnings"):
      parts.append(f"[{', '.join(face['warnings'])}]")
    x, y, w, h = face["box"]
    lines.append(f"{record['image']}: face {n} at [{x}, {y}, {w}, {h}]: {', '.join(parts)}")
  return lines
