"""Data that breaks the curated schema stops the run before Transform, naming the anomaly."""
import pytest
import tensorflow as tf
from ml_metadata import metadata_store
from tfx.orchestration import metadata as tfx_metadata

from components import ingest_job, validation_gate
from pipeline import configs
from pipeline import local_runner
from vocabulary import layout
import vocabulary


def _append_example(folder, age):
  example = tf.train.Example(features=tf.train.Features(feature={
      "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"\xff\xd8 jpeg"])),
      "age": tf.train.Feature(int64_list=tf.train.Int64List(value=[age])),
      "gender": tf.train.Feature(int64_list=tf.train.Int64List(value=[0])),
      "race": tf.train.Feature(int64_list=tf.train.Int64List(value=[0])),
      "source": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"utkface"])),
      "sha256": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"0" * 64])),
      "image_width": tf.train.Feature(int64_list=tf.train.Int64List(value=[200])),
      "image_height": tf.train.Feature(int64_list=tf.train.Int64List(value=[200])),
  }))
  with tf.io.TFRecordWriter(str(folder / "extra.gz"), options="GZIP") as writer:
    writer.write(example.SerializeToString())


@pytest.mark.training
def test_out_of_range_age_stops_the_run_before_training(synthetic_dir, tmp_path):
  records = tmp_path / "records"
  ingest_job.run_ingest("utkface", str(synthetic_dir), str(records), show_progress=False)
  _append_example(records / layout.split_dir("train"), age=150)

  with pytest.raises(validation_gate.DataAnomaliesError) as error:
    local_runner.run_local(data_root=str(records), dataset=vocabulary.TFRECORDS, home=str(tmp_path / "home"),
                           training=configs.SMOKE_TRAINING, thresholds=configs.SMOKE_THRESHOLDS)
  assert str(error.value).splitlines() == [  # the one bad example's anomaly, in the one split it is in
      "data anomalies, stopping before training:",
      "  train: age: Out-of-range values (Unexpectedly large value: 150.)"]

  paths = local_runner.LocalPaths(str(tmp_path / "home"), f"{configs.PIPELINE_NAME}-{vocabulary.TFRECORDS}")
  store = metadata_store.MetadataStore(tfx_metadata.sqlite_metadata_connection_config(paths.metadata_path))
  ran = {c.name.split(".", 1)[1] for c in store.get_contexts_by_type("node")
         if store.get_executions_by_context(c.id)}
  assert {"ImportExampleGen", "StatisticsGen", "ExampleValidator", "DataValidationGate"} <= ran
  assert not ran & {"Transform", "classifier_trainer", "regressor_trainer"}
