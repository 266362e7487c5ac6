"""TF Serving's model warm-up: `assets.extra/tf_serving_warmup_requests` in the exported SavedModel.

A TFRecord file of PredictionLog protos (tensorflow_serving.apis.prediction_log_pb2), one Predict request on
`serving_default` per batch size in WARMUP_BATCH_SIZES, built from real encoded images (the Trainer takes
them from its eval examples). TF Serving, and `fdp serve`, replay them before the version is AVAILABLE, so
the first user request does not pay for the graph's first run.
"""
import os
from typing import Iterable, List

import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.apis import predict_pb2

import vocabulary
from vocabulary import signatures

WARMUP_BATCH_SIZES = (1, 8, 32)  # one face, a photo's faces, a full server-side batch
WARMUP_IMAGES = 8  # distinct images, repeated to fill the larger batches


def warmup_records(images: List[bytes], batch_sizes: Iterable[int] = WARMUP_BATCH_SIZES) -> List[bytes]:
  """Serialized PredictionLogs: one Predict request per batch size, the images cycled to fill it."""
  if not images:
    raise ValueError("warm-up requests need at least one image")
  records = []
  for size in batch_sizes:
    batch = [images[i % len(images)] for i in range(size)]
    request = predict_pb2.PredictRequest()
    request.model_spec.signature_name = signatures.SERVING_DEFAULT
    request.inputs[signatures.IMAGES_INPUT].CopyFrom(tf.make_tensor_proto(batch, dtype=tf.string))
    records.append(prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)).SerializeToString())
  return records


def write_warmup_requests(saved_model_dir: str, images: List[bytes]) -> str:
  """Writes the warm-up file into an exported SavedModel; returns its path."""
  path = os.path.join(saved_model_dir, signatures.WARMUP_REQUESTS_FILE)
  tf.io.gfile.makedirs(os.path.dirname(path))
  with tf.io.TFRecordWriter(path) as writer:
    for record in warmup_records(images):
      writer.write(record)
  return path


def images_from_examples(file_pattern, count: int = WARMUP_IMAGES) -> List[bytes]:
  """The first `count` encoded images of gzipped TFRecords of tf.Examples (the Transform's output)."""
  files = sorted(tf.io.gfile.glob(file_pattern) if isinstance(file_pattern, str) else
                 [f for pattern in file_pattern for f in tf.io.gfile.glob(pattern)])
  spec = {vocabulary.IMAGE_KEY: tf.io.FixedLenFeature([], tf.string)}
  dataset = tf.data.TFRecordDataset(files, compression_type="GZIP").take(count)
  return [tf.io.parse_single_example(record, spec)[vocabulary.IMAGE_KEY].numpy() for record in dataset]

