"""TF Serving's model warm-up: the file the Trainer (or `fdp warmup`) writes into a SavedModel is replayed by
`fdp serve` before the version is AVAILABLE; a broken file fails the load with its reason, as in TF Serving."""
import shutil

import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from cli import main as cli
from cli import warmup_command
from serving.server import model_config
from serving.server import servables
from serving.server import warmup as server_warmup
from serving.server.registry import ModelRegistry, ModelSpec
from trainer import warmup
from vocabulary import signatures
import vocabulary


@pytest.fixture
def classifier_copy(tmp_path, shipped_models):
  path = tmp_path / vocabulary.CLASSIFIER / "1"
  shutil.copytree(shipped_models[vocabulary.CLASSIFIER], path)
  return path


def test_the_records_are_predict_logs_of_each_batch_size():
  images = warmup_command.synthetic_images(3)
  logs = [prediction_log_pb2.PredictionLog.FromString(r) for r in warmup.warmup_records(images)]
  sizes = [tf.make_ndarray(log.predict_log.request.inputs[signatures.IMAGES_INPUT]).shape[0] for log in logs]
  assert sizes == list(warmup.WARMUP_BATCH_SIZES)
  assert all(log.predict_log.request.model_spec.signature_name == signatures.SERVING_DEFAULT for log in logs)


def test_fdp_warmup_writes_a_file_the_loader_replays(classifier_copy):
  shutil.rmtree(classifier_copy / "assets.extra", ignore_errors=True)
  assert servables.load(str(classifier_copy)).warmup_requests == 0
  assert cli.main(["warmup", str(classifier_copy)]) == 0
  assert servables.load(str(classifier_copy)).warmup_requests == len(warmup.WARMUP_BATCH_SIZES)


def test_a_broken_warm_up_file_fails_the_load_saying_why(classifier_copy, tmp_path):
  (classifier_copy / signatures.WARMUP_REQUESTS_FILE).write_bytes(b"not a TFRecord file")
  registry = ModelRegistry(model_config.model_server_config(str(tmp_path), models=[vocabulary.CLASSIFIER]),
                           servables.loader())
  registry.poll_once()
  (status,) = registry.status(ModelSpec(vocabulary.CLASSIFIER))
  assert status.state == "END" and "WarmupError" in status.error_message and "warm-up request 1" in status.error_message
  registry.stop()


def test_a_warm_up_request_for_a_missing_signature_is_refused(classifier_copy):
  request = prediction_log_pb2.PredictionLog()
  request.predict_log.request.model_spec.signature_name = "no_such_signature"
  request.predict_log.request.inputs[signatures.IMAGES_INPUT].CopyFrom(tf.make_tensor_proto([b"x"]))
  with tf.io.TFRecordWriter(str(classifier_copy / signatures.WARMUP_REQUESTS_FILE)) as writer:
    writer.write(request.SerializeToString())
  with pytest.raises(server_warmup.WarmupError, match="no_such_signature"):
    servables.load(str(classifier_copy))
