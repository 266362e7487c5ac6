"""UTKFace and WIKI folders read into one run: one ExampleGen, each example keeping its source, every
input counted, and the examples valid under the combined schema."""
import os
import pathlib

import numpy as np
import pytest
import tensorflow as tf
from ml_metadata import metadata_store
from PIL import Image
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx

from components import example_gen, synthetic_faces, wiki
from pipeline import configs
import vocabulary

WIKI_IMAGES = 12


def _wiki_folder(root: pathlib.Path, wiki_mat) -> int:
  """A wiki_crop-style folder with images for the first WIKI_IMAGES rows that pass the filters; returns
  how many rows pass the filters."""
  kept = []
  for row in wiki.read_metadata(str(wiki_mat), image_root=str(root)):
    try:
      kept.append(wiki.to_labels(row))
    except wiki.FilteredOut:
      pass
  rng = np.random.default_rng(0)
  for labels in kept[:WIKI_IMAGES]:
    path = pathlib.Path(labels.path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path, format="JPEG")
  (root / wiki.METADATA_FILE).symlink_to(wiki_mat)
  return len(kept)


@pytest.mark.training
def test_utkface_and_wiki_in_one_run(tmp_path, wiki_mat):
  utk, wiki_root = tmp_path / "utk", tmp_path / "wiki"
  synthetic_faces.write_dataset(str(utk), count=30)
  passing = _wiki_folder(wiki_root, wiki_mat)
  more = [{"dataset": vocabulary.WIKI, "root": str(wiki_root)}]
  gen = example_gen.face_example_gen(vocabulary.UTKFACE, str(utk), more_sources=more)
  statistics = tfx.components.StatisticsGen(examples=gen.outputs["examples"])
  schema = tfx.components.ImportSchemaGen(schema_file=configs.schema_path(vocabulary.UTKFACE, [vocabulary.WIKI]))
  validator = tfx.components.ExampleValidator(statistics=statistics.outputs["statistics"],
                                              schema=schema.outputs["schema"])
  config = tfx.orchestration.metadata.sqlite_metadata_connection_config(str(tmp_path / "mlmd.db"))
  tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
      pipeline_name="sources", pipeline_root=str(tmp_path / "root"), components=[gen, statistics, schema, validator],
      metadata_connection_config=config, beam_pipeline_args=["--direct_running_mode=in_memory"]))
  store = metadata_store.MetadataStore(config)
  examples = store.get_artifacts_by_type("Examples")[0]
  counts = {k[len("ingest_"):]: v.int_value for k, v in examples.custom_properties.items() if k.startswith("ingest_")}
  assert counts["examples_utkface"] == 30 and counts["examples_wiki"] == WIKI_IMAGES
  assert counts["examples"] == 30 + WIKI_IMAGES
  assert counts["missing_image"] == passing - WIKI_IMAGES
  assert counts["read"] == 30 + 62328
  sources = set()
  for split_dir in tf.io.gfile.glob(os.path.join(examples.uri, "Split-*")):
    for record in tf.data.TFRecordDataset(tf.io.gfile.glob(os.path.join(split_dir, "*")), compression_type="GZIP"):
      example = tf.train.Example.FromString(record.numpy())
      source = example.features.feature[vocabulary.SOURCE_KEY].bytes_list.value[0].decode()
      sources.add(source)
      assert (vocabulary.RACE_KEY in example.features.feature) == (source == vocabulary.UTKFACE)
  assert sources == {vocabulary.UTKFACE, vocabulary.WIKI}
  anomalies = store.get_artifacts_by_type("ExampleAnomalies")[0]
  for split_dir in tf.io.gfile.glob(os.path.join(anomalies.uri, "Split-*")):
    found = anomalies_pb2.Anomalies.FromString(tf.io.gfile.GFile(os.path.join(split_dir, "SchemaDiff.pb"), "rb").read())
    assert not found.anomaly_info, dict(found.anomaly_info)


def test_several_folders_must_be_utkface_or_wiki(tmp_path):
  with pytest.raises(ValueError, match="each be a UTKFace or WIKI folder"):
    example_gen.face_example_gen(vocabulary.TFRECORDS, str(tmp_path),
                                 more_sources=[{"dataset": vocabulary.WIKI, "root": str(tmp_path)}])
