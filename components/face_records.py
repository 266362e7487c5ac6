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
  centre_crop: Optional[float] = None  # keep this centre fraction of the image's sides as the face (WIKI)

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


def hash_fraction(sha256_hex: str) -> float:
  """The content hash's first 32 bits as a number in [0, 1): uniform over images, and independent of the
  hash modulo 10 that makes the first-level splits."""
  return int(sha256_hex[:8], 16) / 2 ** 32


def in_hash_slice(sha256_hex: str, fraction: float) -> bool:
  """Whether an image falls in a slice of `fraction` of the images (the same image always does)."""
  return hash_fraction(sha256_hex) < fraction


def split_for_hash(sha256_hex: str, splits: Sequence[Tuple[str, int]] = layout.HASH_SPLITS,
                   carved: Optional[Tuple[str, str, float]] = layout.VALIDATION_SLICE) -> str:
  """Deterministic split by content hash, so identical images always land in the same split: the hash
  modulo the buckets' total picks one of `splits`; `carved` = (from, name, fraction) then moves a hash
  slice of split `from` into split `name`."""
  total = sum(buckets for _, buckets in splits)
  bucket = int(sha256_hex, 16) % total
  for name, buckets in splits:
    if bucket < buckets:
      break
    bucket -= buckets
  if carved and name == carved[0] and in_hash_slice(sha256_hex, carved[2]):
    return carved[1]
  return name


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
