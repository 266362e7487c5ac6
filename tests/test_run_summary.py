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


def test_every_reason_an_input_was_dropped_is_in_the_summary():
  ingested = metadata_store_pb2.Artifact()
  counts = {"read": 62328, "examples": 23499, "split_train": 16900, "duplicate": 9, "duplicate_groups": 9,
            "no_face": 18016, "low_face_score": 6314, "second_face": 3759, "unknown_gender": 650,
            "age_out_of_range": 39, "missing_image": 10042, "corrupt": 1}
  for key, count in counts.items():
    ingested.custom_properties[f"ingest_{key}"].int_value = count
  runs = [_run("FileBasedExampleGen", ingested)]
  dropped = run_summary.dropped_inputs(runs)
  assert dropped == {"age_out_of_range": 39, "corrupt": 1, "duplicate": 9, "low_face_score": 6314,
                     "missing_image": 10042, "no_face": 18016, "second_face": 3759, "unknown_gender": 650}
  assert "inputs dropped: age_out_of_range 39, corrupt 1, duplicate 9, low_face_score 6,314, missing_image 10,042" \
      in run_summary.format_summary(runs, [])
  assert run_summary.dropped_inputs([_run("ImportExampleGen", metadata_store_pb2.Artifact())]) == {}
