"""The run summary's split sizes, read from the counts the ExampleGen records on its artifact (the e2e test
checks them against the images the Trainer and Evaluator read)."""
from ml_metadata.proto import metadata_store_pb2

from pipeline import run_summary
from vocabulary import layout


def _run(node_id, examples):
  return run_summary.ComponentRun(node_id, "COMPLETE", 1.0, {"examples": [examples]})


def test_ingested_examples_give_the_split_sizes_and_imported_records_none():
  ingested = metadata_store_pb2.Artifact()
  ingested.custom_properties["ingest_examples"].int_value = 1250
  for split, count in zip(layout.SPLITS, (900, 100, 125, 125)):
    ingested.custom_properties[f"ingest_split_{split}"].int_value = count
  runs = [_run("FileBasedExampleGen", ingested)]
  assert run_summary.split_sizes(runs) == {"train": 900, "validation": 100, "eval": 125, "test": 125}
  assert "examples: train 900, validation 100, eval 125, test 125" in run_summary.format_summary(runs, [])
  runs = [_run("ImportExampleGen", metadata_store_pb2.Artifact())]
  assert run_summary.split_sizes(runs) == {}
  assert "examples:" not in run_summary.format_summary(runs, [])
