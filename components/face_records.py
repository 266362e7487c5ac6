"""One labelled face: its tf.Example encoding, content hash and deterministic split."""
import dataclasses
import hashlib
from typing import Optional, Sequence, Tuple

from vocabulary import layout
import vocabulary


@dataclasses.dataclass(frozen=True)
class FaceLabels:
  """Labels parsed from a dataset's metadata (the file name for UTKFace, wiki.mat for WIKI)."""
  path: str  # where the image is read from
  age: int
  gender: int  # 0 = male, 1 = female
  race: Optional[int]  # None where the dataset has no race label (WIKI)
  source: str
  face_box: Optional[Tuple[float, float, float, float]] = None  # x1, y1, x2, y2 of the face (WIKI)
  crop_margin: float = 0.0  # grow face_box by this fraction of its size on each side when cropping

  def label_tuple(self):
    """What must agree between byte-identical copies of an image."""
    return (self.age, self.gender, self.race)


@dataclasses.dataclass(frozen=True)
class Face:
  """A face ready to become a tf.Example: encoded image bytes plus labels."""
  labels: FaceLabels
  image: bytes
  sha256: str
  size: Tuple[int, int]  # width, height in pixels


def content_hash(data: bytes) -> str:
  return hashlib.sha256(data).hexdigest()


def split_for_hash(sha256_hex: str, splits: Sequence[Tuple[str, int]] = layout.SPLITS) -> str:
  """Deterministic split by content hash, so identical images always land in the same split."""
  total = sum(buckets for _, buckets in splits)
  bucket = int(sha256_hex, 16) % total
  for name, buckets in splits:
    if bucket < buckets:
      return name
    bucket -= buckets
  raise AssertionError("unreachable")


def to_example(face: Face):
  """The tf.Example written for a face (feature names from pipeline.configs)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  def _bytes(value: bytes):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

  def _int(value: int):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

  features = {
      vocabulary.IMAGE_KEY: _bytes(face.image),
      vocabulary.AGE_KEY: _int(face.labels.age),
      vocabulary.GENDER_KEY: _int(face.labels.gender),
      vocabulary.SOURCE_KEY: _bytes(face.labels.source.encode()),
      vocabulary.SHA256_KEY: _bytes(face.sha256.encode()),
      vocabulary.IMAGE_WIDTH_KEY: _int(face.size[0]),
      vocabulary.IMAGE_HEIGHT_KEY: _int(face.size[1]),
  }
  if face.labels.race is not None:
    features[vocabulary.RACE_KEY] = _int(face.labels.race)
  return tf.train.Example(features=tf.train.Features(feature=features))
