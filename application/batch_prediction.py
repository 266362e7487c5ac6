"""`fdp batch-predict`: `fdp predict` as a Beam job, with no model server; it scales with Beam's workers.

  inputs (files, folders, globs on any Beam filesystem)
    -> ListPhotos (a folder stands for its photos, as in `fdp predict`) -> Reshuffle
    -> DetectFaces: read, decode, detect, align, crop (application/faces.py's detect(), the same code
       `fdp predict` runs) -> one (photo, faces | error) per photo, one crop per face
    -> per model: RunInference with SavedModelHandler (below) on the SavedModel's serving signature
       (crops batched up to `batch_faces`)
    -> joined back per photo (CoGroupByKey) -> the `fdp predict --json` record (application/faces.py)
    -> JSON lines, written as Beam shards PREFIX-00000-of-0000N.

A photo that cannot be read, or whose face the models cannot read, gets its `error` record (counted) and
the job goes on: a batch the model fails on is run again crop by crop. Counters in the namespace
`batch_predict`: photos, faces, errors.
"""
import json
import os
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference import base as inference

from application import faces
from application import trust as trust_lib
from vocabulary import layout
from vocabulary import signatures

COUNTERS = "batch_predict"
PHOTOS, FACES, ERRORS = "photos", "faces", "errors"
MODEL_ERROR = "error"  # a crop's result when the model could not read it
CROPS = "crops"
GLOB_CHARACTERS = "*?["


class InputError(ValueError):
  """An input or the serving root names nothing usable; raised before the job starts."""


def _local(path: str) -> bool:
  return FileSystems.get_scheme(path) is None


def _match(pattern: str, limit: Optional[int] = None) -> List[str]:
  from apache_beam.io.filesystem import BeamIOError  # pylint: disable=g-import-not-at-top
  try:
    result = FileSystems.match([pattern], limits=[limit] if limit else None)[0]
  except BeamIOError:
    return []
  return [metadata.path for metadata in result.metadata_list]


def input_patterns(inputs: Iterable[str]) -> List[Tuple[str, bool]]:
  """Each input as (a pattern to match, whether it names a folder). A glob is taken as it is, a folder
  stands for everything under it, anything else is a file; local paths are made absolute (the workers
  run elsewhere). Raises InputError, naming the input, when one matches nothing."""
  patterns = []
  for given in inputs:
    path = os.path.abspath(given) if _local(given) else given
    if any(c in path for c in GLOB_CHARACTERS):
      pattern, folder = path, False
    elif os.path.isdir(path) or path.endswith("/") or not FileSystems.exists(path):
      pattern, folder = FileSystems.join(path.rstrip("/"), "**"), True
    else:
      pattern, folder = path, False
    if not _match(pattern, limit=1):
      raise InputError(f"{given}: {'matches no file' if pattern == path else 'no such file or folder'}")
    patterns.append((pattern, folder))
  return patterns


def list_photos(pattern_and_folder: Tuple[str, bool]) -> Iterable[str]:
  """The files a pattern matches; of a folder, only its photos (faces.is_image_name)."""
  pattern, folder = pattern_and_folder
  for path in _match(pattern):
    if not folder or faces.is_image_name(path.rsplit("/", 1)[-1]):
      yield path


def latest_versions(serving_root: str, models: Sequence[str]) -> Dict[str, str]:
  """{model: its newest SavedModel folder under serving_root (<model>/<version>/saved_model.pb)}."""
  found = {}
  for model in models:
    newest = layout.newest_version(path.rsplit("/", 2)[-2] for path in _match(
        FileSystems.join(serving_root, model, "*", layout.SAVED_MODEL_FILE)))
    if newest is None:
      raise InputError(f"--serving-root {serving_root}: no {model} SavedModel in {FileSystems.join(serving_root, model)} "
                       "(expected numbered version folders, as the Pusher writes them)")
    found[model] = FileSystems.join(serving_root, model, newest)
  return found


def _open_photo(path: str):
  from apache_beam.io.filesystem import CompressionTypes  # pylint: disable=g-import-not-at-top
  return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


class DetectFaces(beam.DoFn):
  """A photo's path -> (path, [(box, score)] or its error message); each face's crop on the CROPS output,
  keyed by (path, face index). `detection` holds detect_faces' options; None takes the whole image as one
  face (`--no-detect`)."""

  def __init__(self, detection: Optional[dict]):
    super().__init__()
    self._detection = detection
    self._detect = None
    self._counters = {name: beam.metrics.Metrics.counter(COUNTERS, name) for name in (PHOTOS, FACES, ERRORS)}

  def setup(self):
    import functools  # pylint: disable=g-import-not-at-top
    from application import face_detection  # pylint: disable=g-import-not-at-top  (TensorFlow)
    if self._detection is None:
      self._detect = faces.whole_image
    else:
      face_detection.load_detector(self._detection["detector"])
      self._detect = functools.partial(face_detection.detect_faces, **self._detection)

  def process(self, path: str):
    path, found = faces.detect(path, self._detect, _open_photo)
    self._counters[PHOTOS].inc()
    if isinstance(found, str):
      self._counters[ERRORS].inc()
      yield path, found
      return
    self._counters[FACES].inc(len(found))
    yield path, [(box, score) for box, score, _ in found]
    for i, (_, _, crop) in enumerate(found):
      yield beam.pvalue.TaggedOutput(CROPS, ((path, i), crop))


def run_signature(model, batch: Sequence[bytes], inference_args: dict, model_id: Optional[str] = None):
  """Encoded face crops -> the SavedModel's serving signature, in one call -> one PredictionResult per
  crop, its inference being {output name: that crop's row}."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  del inference_args
  outputs = model.signatures[signatures.SERVING_DEFAULT](
      **{signatures.IMAGES_INPUT: tf.constant(list(batch), dtype=tf.string)})
  outputs = {name: value.numpy() for name, value in outputs.items()}
  return [inference.PredictionResult(None, {name: rows[i] for name, rows in outputs.items()}, model_id)
          for i in range(len(batch))]


class SavedModelHandler(inference.ModelHandler):
  """A RunInference model handler for an exported SavedModel, loaded with tf.saved_model.load as the model
  server loads it, called through its serving signature with encoded crops, in batches of up to
  `batch_size`. (Beam's own TFModelHandlerTensor loads models with Keras, which in Keras 3 cannot load a
  SavedModel, and its module imports tensorflow_hub, which needs setuptools' pkg_resources at run time.)"""

  def __init__(self, model_dir: str, batch_size: int):
    super().__init__()
    self._model_dir = model_dir
    self._batch_size = batch_size

  def load_model(self):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    return tf.saved_model.load(self._model_dir)

  def run_inference(self, batch, model, inference_args=None):
    """A batch the model fails on is run again crop by crop (as the model server's batcher does): a crop
    it cannot read gets a result holding its error, and its neighbours their answers."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    batches = [list(batch)]
    results = []
    while batches:
      crops = batches.pop(0)
      try:
        results.extend(run_signature(model, crops, inference_args or {}, self._model_dir))
      except (tf.errors.OpError, ValueError) as e:
        if len(crops) > 1:
          batches = [[crop] for crop in crops] + batches
          continue
        message = (getattr(e, "message", None) or str(e)).strip().split("\n")[0]
        results.append(inference.PredictionResult(None, {MODEL_ERROR: message}, self._model_dir))
    return results

  def get_num_bytes(self, batch) -> int:
    return sum(len(crop) for crop in batch)

  def get_metrics_namespace(self) -> str:
    return "BatchPredict_SavedModel"

  def batch_elements_kwargs(self):
    return {"min_batch_size": 1, "max_batch_size": self._batch_size}


def _fields(keyed_result, model: str):
  (path, index), result = keyed_result
  if MODEL_ERROR in result.inference:
    return path, (index, model, {MODEL_ERROR: f"the {model} could not read face {index + 1}: "
                                              f"{result.inference[MODEL_ERROR]}"})
  return path, (index, model, faces.prediction_fields(model, result.inference))


def record_line(joined, models: Sequence[str], trust: trust_lib.Trust) -> str:
  """(path, {"found": [faces or error], "fields": [(face index, model, fields)]}) -> its JSON line."""
  path, grouped = joined
  [found] = grouped["found"]
  if isinstance(found, str):
    return json.dumps(faces.photo_record(path, found, [], trust))
  predictions = [{} for _ in found]
  for index, _, fields in sorted(grouped["fields"], key=lambda f: (f[0], models.index(f[1]))):
    if MODEL_ERROR in fields:  # the photo gets an error record, counted
      beam.metrics.Metrics.counter(COUNTERS, ERRORS).inc()
      return json.dumps(faces.photo_record(path, fields[MODEL_ERROR], [], trust))
    predictions[index].update(fields)
  return json.dumps(faces.photo_record(path, [(box, score, None) for box, score in found], predictions, trust))


class PredictPhotos(beam.PTransform):
  """(pattern, folder?) pairs -> the `fdp predict --json` line of every photo they name."""

  def __init__(self, model_dirs: Dict[str, str], detection: Optional[dict], trust: trust_lib.Trust,
               batch_faces: int = faces.BATCH_FACES):
    super().__init__()
    self._model_dirs = dict(model_dirs)
    self._detection = detection
    self._trust = trust
    self._batch_faces = batch_faces

  def expand(self, patterns):
    models = [model for model in faces.MODEL_CHOICES if model in self._model_dirs]
    detected = (
        patterns
        | "ListPhotos" >> beam.FlatMap(list_photos)
        | "Distribute" >> beam.Reshuffle()
        | "DetectFaces" >> beam.ParDo(DetectFaces(self._detection)).with_outputs(CROPS, main="found"))
    predictions = [
        detected[CROPS]
        | f"Predict[{model}]" >> inference.RunInference(
            inference.KeyedModelHandler(SavedModelHandler(self._model_dirs[model], self._batch_faces)))
        | f"Fields[{model}]" >> beam.Map(_fields, model)
        for model in models]
    fields = predictions | "AllFields" >> beam.Flatten()
    trust = self._trust
    return ({"found": detected.found, "fields": fields}
            | "ByPhoto" >> beam.CoGroupByKey()
            | "Record" >> beam.Map(record_line, models, trust))


def run(inputs: Sequence[str], output_prefix: str, serving_root: str, models: Sequence[str],
        detection: Optional[dict], trust: trust_lib.Trust = trust_lib.Trust(), beam_args: Sequence[str] = (),
        batch_faces: int = faces.BATCH_FACES) -> dict:
  """Runs the job to the end; returns {"counters": {photos, faces, errors}, "models": {model: SavedModel
  folder}, "output": the shards' pattern}. Inputs and models are checked first (InputError)."""
  from apache_beam.metrics.metric import MetricsFilter  # pylint: disable=g-import-not-at-top
  from apache_beam.options.pipeline_options import PipelineOptions  # pylint: disable=g-import-not-at-top
  patterns = input_patterns(inputs)
  model_dirs = latest_versions(serving_root, models)
  if _local(output_prefix):
    output_prefix = os.path.abspath(output_prefix)
    os.makedirs(os.path.dirname(output_prefix), exist_ok=True)
  pipeline = beam.Pipeline(options=PipelineOptions(list(beam_args)))
  _ = (pipeline
       | "Inputs" >> beam.Create(patterns)
       | "PredictPhotos" >> PredictPhotos(model_dirs, detection, trust, batch_faces)
       | "Write" >> beam.io.WriteToText(output_prefix))
  result = pipeline.run()
  result.wait_until_finish()
  counters = {name: 0 for name in (PHOTOS, FACES, ERRORS)}
  for counter in result.metrics().query(MetricsFilter().with_namespace(COUNTERS))["counters"]:
    counters[counter.key.metric.name] = counter.committed
  return {"counters": counters, "models": model_dirs, "output": f"{output_prefix}-*"}
