"""The Beam ingest transform shared by the ExampleGens and `fdp ingest`.

labels (parsed per source) -> read and check the image -> collapse byte-identical duplicates
(dropping groups whose labels conflict) -> split by content hash (face_records.split_for_hash) ->
serialized tf.Examples, plus a report that counts every category of input.
"""
import contextlib
import dataclasses
import io
import json
from typing import Callable, Dict, Iterable, Iterator, Optional, Sequence, Tuple
import uuid

import apache_beam as beam

from components import face_records, wiki
from components.face_records import Face, FaceLabels
from vocabulary import layout
import vocabulary

REJECTED = "rejected"
MAX_LISTED_REJECTIONS = 1000
# Categories of rejected input that name individual files in the report (the rest are only counted).
LISTED_CATEGORIES = ("malformed_name", "unreadable", "corrupt")

# Progress callbacks of the runs in this process, by token, each registered only while its run lasts
# (`reporting_progress`). A DoFn carries the token, not the callback (it is pickled); on a worker in another
# process the token names nothing and no progress is shown.
_PROGRESS: Dict[str, Callable[[], None]] = {}


@contextlib.contextmanager
def reporting_progress(callback: Callable[[], None]) -> Iterator[str]:
  """A token for IngestFaces(progress=...): `callback()` is called once per image read, until the block
  ends."""
  token = uuid.uuid4().hex
  _PROGRESS[token] = callback
  try:
    yield token
  finally:
    del _PROGRESS[token]


@dataclasses.dataclass(frozen=True)
class Rejection:
  path: str
  category: str
  detail: str


def _reject(path: str, category: str, detail: str):
  return beam.pvalue.TaggedOutput(REJECTED, Rejection(path, category, detail))


class ParseLabels(beam.DoFn):
  """Turns a source-specific record into FaceLabels, or a Rejection with its category."""

  def __init__(self, parse_fn: Callable[[object], FaceLabels], error_category: Callable[[Exception], str]):
    self._parse_fn = parse_fn
    self._error_category = error_category

  def process(self, record):
    try:
      yield self._parse_fn(record)
    except ValueError as e:
      yield _reject(str(getattr(record, "path", record)), self._error_category(e), str(e))


def centre_box(fraction: float, width: int, height: int) -> Tuple[int, int, int, int]:
  """The centre `fraction` of an image's width and height, as a (left, top, right, bottom) crop box."""
  dx, dy = width * (1.0 - fraction) / 2.0, height * (1.0 - fraction) / 2.0
  return round(dx), round(dy), width - round(dx), height - round(dy)


def check_image(data: bytes, centre_crop: Optional[float] = None) -> Tuple[bytes, Tuple[int, int]]:
  """Decodes the image fully (raising ValueError if corrupt); returns JPEG bytes (the centre `centre_crop`
  of the image when given, else the original bytes of a JPEG) and their (width, height)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  try:
    image = Image.open(io.BytesIO(data))
    image.load()
  except Exception as e:  # PIL raises many types for bad data  # pylint: disable=broad-except
    raise ValueError(f"cannot decode image: {e}") from e
  if centre_crop is None and image.format == "JPEG":
    return data, image.size  # the original bytes: no re-encoding loss, and the hash names the file
  image = image.convert("RGB")
  if centre_crop is not None:
    image = image.crop(centre_box(centre_crop, *image.size))
  out = io.BytesIO()
  image.save(out, format="JPEG", quality=95)
  return out.getvalue(), image.size


def split_of(labels: FaceLabels) -> str:
  """The split ingestion puts a labelled image in (its example's content hash decides)."""
  with open(labels.path, "rb") as f:
    example_image, _ = check_image(f.read(), labels.centre_crop)
  return face_records.split_for_hash(face_records.content_hash(example_image))


class ReadFaces(beam.DoFn):
  """Reads and checks each image; unreadable and corrupt files are rejected with the reason."""

  def __init__(self, progress: Optional[str] = None):
    super().__init__()
    self._progress = progress  # a reporting_progress token

  def process(self, labels: FaceLabels):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    report = _PROGRESS.get(self._progress) if self._progress else None
    if report is not None:
      report()
    try:
      with tf.io.gfile.GFile(labels.path, "rb") as f:
        data = f.read()
    except (tf.errors.NotFoundError, FileNotFoundError):
      yield _reject(labels.path, "missing_image", "no such file")
      return
    except (tf.errors.OpError, OSError) as e:
      yield _reject(labels.path, "unreadable", str(e).splitlines()[0])
      return
    try:
      image, size = check_image(data, labels.centre_crop)
    except ValueError as e:
      yield _reject(labels.path, "corrupt", str(e))
      return
    yield Face(labels=labels, image=image, sha256=face_records.content_hash(image), size=size)


class ResolveDuplicates(beam.DoFn):
  """One face per content hash: identical copies collapse, copies with conflicting labels are dropped."""
  COUNTS = "counts"

  def process(self, element: Tuple[str, Iterable[Face]]):
    _, faces = element
    faces = sorted(faces, key=lambda f: f.labels.path)
    if len(faces) > 1:
      if len({f.labels.label_tuple() for f in faces}) > 1:
        yield beam.pvalue.TaggedOutput(self.COUNTS, ("conflicting_groups", 1))
        yield beam.pvalue.TaggedOutput(self.COUNTS, ("conflicting", len(faces)))
        return
      yield beam.pvalue.TaggedOutput(self.COUNTS, ("duplicate_groups", 1))
      yield beam.pvalue.TaggedOutput(self.COUNTS, ("duplicate", len(faces) - 1))
    yield faces[0]


def _build_report(counts: Dict[str, int], rejected: Sequence[Rejection], source: str):
  counts = dict(counts)
  report = {"source": source, "counts": {k: counts.get(k, 0) for k in sorted(counts)}}
  report["rejected"] = [dataclasses.asdict(r) for r in sorted(rejected, key=lambda r: r.path)]
  return report


class IngestFaces(beam.PTransform):
  """ReadLabels' output -> {'splits': {split: serialized tf.Examples}, 'report': one dict}. `progress`: a
  reporting_progress token."""

  def __init__(self, source: str, progress: Optional[str] = None):
    super().__init__()
    self._source = source
    self._progress = progress

  def expand(self, parsed):
    labels, parse_rejections = parsed["labels"], parsed[REJECTED]
    read = labels | "ReadFaces" >> beam.ParDo(ReadFaces(self._progress)).with_outputs(REJECTED, main="faces")
    resolved = (
        read.faces
        | "KeyByHash" >> beam.Map(lambda f: (f.sha256, f))
        | "GroupByHash" >> beam.GroupByKey()
        | "ResolveDuplicates" >> beam.ParDo(ResolveDuplicates()).with_outputs(
            ResolveDuplicates.COUNTS, main="faces"))
    split_names = list(layout.SPLITS)
    keyed = resolved.faces | "AssignSplit" >> beam.Map(lambda f: (face_records.split_for_hash(f.sha256), f))
    by_split = keyed | "PartitionBySplit" >> beam.Partition(
        lambda kv, n: split_names.index(kv[0]), len(split_names))
    examples = {}
    for name, part in zip(split_names, by_split):
      examples[name] = part | f"Serialize[{name}]" >> beam.Map(
          lambda kv: face_records.to_example(kv[1]).SerializeToString())

    rejections = (parse_rejections, read[REJECTED]) | "AllRejections" >> beam.Flatten()
    counts = (
        (
            rejections | "CountRejections" >> beam.Map(lambda r: (r.category, 1)),
            labels | "CountRead" >> beam.Map(lambda _: ("read", 1)),
            parse_rejections | "CountReadRejected" >> beam.Map(lambda _: ("read", 1)),
            resolved[ResolveDuplicates.COUNTS],
            keyed | "CountSplits" >> beam.Map(lambda kv: (f"split_{kv[0]}", 1)),
            keyed | "CountExamples" >> beam.Map(lambda _: ("examples", 1)),
            keyed | "CountExamplesBySource" >> beam.Map(lambda kv: (f"examples_{kv[1].labels.source}", 1)),
        )
        | "FlattenCounts" >> beam.Flatten()
        | "SumCounts" >> beam.CombinePerKey(sum)
        | "CountsToDict" >> beam.combiners.ToDict())
    listed = (
        rejections
        | "Listed" >> beam.Filter(lambda r: r.category in LISTED_CATEGORIES)
        | "FirstListed" >> beam.combiners.Top.Of(MAX_LISTED_REJECTIONS, key=lambda r: r.path,
                                                 reverse=True))
    source = self._source
    report = counts | "BuildReport" >> beam.Map(
        lambda c, rejected: _build_report(c, rejected, source),
        rejected=beam.pvalue.AsSingleton(listed))
    return {"splits": examples, "report": report}


class WriteReport(beam.PTransform):
  """Writes the single report dict as pretty JSON to `path`."""

  def __init__(self, path: str):
    super().__init__()
    self._path = path

  def expand(self, report):
    path = self._path

    def _write(r):
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      with tf.io.gfile.GFile(path, "w") as f:
        f.write(json.dumps(r, indent=2, sort_keys=True))
      return path

    return report | "WriteReportJson" >> beam.Map(_write)


class ReadLabels(beam.PTransform):
  """A dataset folder -> {'labels': FaceLabels, REJECTED: Rejections}.

  UTKFace: labels from every file name in the folder. WIKI: rows of `wiki.mat` (in the folder, or
  `wiki_mat` if given) through the metadata filters; images under the folder as `NN/name.jpg`.
  """

  def __init__(self, dataset: str, data_root: str, wiki_mat: Optional[str] = None,
               wiki_min_face_score: float = wiki.MIN_FACE_SCORE):
    super().__init__()
    self._dataset = dataset
    self._data_root = data_root
    self._wiki_mat = wiki_mat
    self._wiki_min_face_score = wiki_min_face_score

  def expand(self, pipeline):
    # pylint: disable=g-import-not-at-top
    if self._dataset == vocabulary.UTKFACE:
      from components import utkface
      records = utkface.list_images(self._data_root)
      parse, category = utkface.parse_file_name, lambda e: "malformed_name"
    elif self._dataset == vocabulary.WIKI:
      import functools
      import os
      mat = self._wiki_mat or os.path.join(self._data_root, wiki.METADATA_FILE)
      records = wiki.read_metadata(mat, image_root=self._data_root)
      parse = functools.partial(wiki.to_labels, min_face_score=self._wiki_min_face_score)
      category = lambda e: e.category  # pylint: disable=unnecessary-lambda-assignment
    else:
      raise ValueError(f"unknown dataset {self._dataset!r}; expected {vocabulary.UTKFACE} or {vocabulary.WIKI}")
    if not records:
      raise ValueError(f"no {self._dataset} records found in {self._data_root!r}")
    # Many runners keep the input order, and a sorted folder is sorted by label (UTKFace names start
    # with the age): list the records in a fixed pseudo-random order so that the written examples
    # are mixed, as a trainer's bounded shuffle buffer expects.
    records = sorted(records, key=lambda r: face_records.content_hash(str(getattr(r, "path", r)).encode()))
    parsed = (pipeline
              | "ListRecords" >> beam.Create(records, reshuffle=True)
              | "ParseLabels" >> beam.ParDo(ParseLabels(parse, category)).with_outputs(
                  REJECTED, main="labels"))
    return {"labels": parsed.labels, REJECTED: parsed[REJECTED]}
