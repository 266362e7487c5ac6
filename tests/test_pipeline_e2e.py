"""End to end: LocalDagRunner on ~1,000 real UTKFace images (see the e2e_pipeline fixture)."""
import hashlib
import json
import os

import tensorflow as tf
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata as tfx_metadata

from pipeline import configs
from pipeline import local_runner
from tests.conftest import E2E_TRAINING
from trainer import hyperparameters
from vocabulary import layout
import vocabulary

EXPECTED = {
    "FileBasedExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "DataValidationGate",
    "previous_statistics_resolver", "DriftValidator",
    "Transform", "classifier_trainer", "regressor_trainer", "latest_blessed_classifier_resolver",
    "latest_blessed_regressor_resolver", "classifier_evaluator", "regressor_evaluator",
    "classifier_pusher", "regressor_pusher", "pretrained_face_network",
}


def test_every_component_ran_and_a_killed_run_resumed_from_cache(e2e_pipeline):
  _, summary = e2e_pipeline
  states = {c["id"]: c["state"] for c in summary["components"]}
  assert set(states) == EXPECTED
  # The killed run had finished everything before the classifier Trainer: reused, not redone.
  for node in ("FileBasedExampleGen", "StatisticsGen", "ExampleValidator", "Transform"):
    assert states[node] == "CACHED", states
  for node in ("classifier_trainer", "regressor_trainer", "classifier_evaluator", "classifier_pusher"):
    assert states[node] == "COMPLETE", states


def test_both_models_blessed_and_pushed_in_tf_serving_layout(e2e_pipeline):
  home, summary = e2e_pipeline
  for model in summary["models"]:
    assert model["blessed"] is True
    path = model["pushed_path"]
    assert path and os.path.dirname(path) == os.path.join(str(home), "serving_model", model["model"])
    assert os.path.basename(path).isdigit()
    assert os.path.exists(os.path.join(path, "saved_model.pb"))
  metrics = {m["model"]: m["metrics"] for m in summary["models"]}
  assert 0 <= metrics["classifier"]["age_bucket/sparse_categorical_accuracy"] <= 1
  assert 0 <= metrics["classifier"]["gender/auc"] <= 1
  assert metrics["regressor"]["mean_absolute_error"] > 0


def _producer(store, artifact_id):
  events = [e for e in store.get_events_by_artifact_ids([artifact_id]) if e.type == metadata_store_pb2.Event.OUTPUT]
  assert events, f"artifact {artifact_id} has no producer"
  return events[0].execution_id


def _inputs(store, execution_id):
  events = [e for e in store.get_events_by_execution_ids([execution_id]) if e.type == metadata_store_pb2.Event.INPUT]
  return {e.path.steps[0].key: e.artifact_id for e in events}


def _output_uri(store, execution_id, key):
  events = [e for e in store.get_events_by_execution_ids([execution_id])
            if e.type == metadata_store_pb2.Event.OUTPUT and e.path.steps[0].key == key]
  return store.get_artifacts_by_id([events[0].artifact_id])[0].uri


def _node(store, execution_id):
  contexts = store.get_contexts_by_execution(execution_id)
  return next(c.name.split(".", 1)[1] for c in contexts if c.type == "node")


def test_mlmd_holds_the_lineage_from_pushed_model_to_examples(e2e_pipeline):
  home, summary = e2e_pipeline
  store = metadata_store.MetadataStore(tfx_metadata.sqlite_metadata_connection_config(summary["metadata_path"]))
  for model in vocabulary.MODELS:
    pushed = [a for a in store.get_artifacts_by_type("PushedModel")
              if a.custom_properties["pushed_destination"].string_value == next(
                  m["pushed_path"] for m in summary["models"] if m["model"] == model)]
    assert len(pushed) == 1
    pusher = _producer(store, pushed[0].id)
    assert _node(store, pusher) == f"{model}_pusher"
    pusher_inputs = _inputs(store, pusher)
    assert {"model", "model_blessing"} <= set(pusher_inputs)
    trainer = _producer(store, pusher_inputs["model"])
    assert _node(store, trainer) == f"{model}_trainer"
    evaluator = _producer(store, pusher_inputs["model_blessing"])
    assert _node(store, evaluator) == f"{model}_evaluator"
    transform = _producer(store, _inputs(store, trainer)["examples"])
    assert _node(store, transform) == "Transform"
    examples_id = _inputs(store, transform)["examples"]
    assert _node(store, _producer(store, examples_id)) == "FileBasedExampleGen"
    base = _producer(store, _inputs(store, trainer)["base_model"])
    assert _node(store, base) == ("pretrained_face_network" if model == vocabulary.CLASSIFIER else "classifier_trainer")
    examples = store.get_artifacts_by_id([examples_id])[0]
    assert examples.custom_properties["ingest_read"].int_value == 1000
    assert examples.custom_properties["ingest_examples"].int_value > 900


def _exec_property(store, execution_id, name):
  execution = store.get_executions_by_id([execution_id])[0]
  value = execution.custom_properties[name] if name in execution.custom_properties else execution.properties[name]
  return json.loads(value.string_value)


def _image_hashes(store, artifact_id, splits):
  """The SHA-256 of every image in those splits of an Examples artifact, as the reader finds them."""
  uri = store.get_artifacts_by_id([artifact_id])[0].uri
  files = [f for split in splits for f in tf.io.gfile.glob(os.path.join(uri, layout.split_dir(split), "*"))]
  assert files, (uri, splits)
  spec = {vocabulary.IMAGE_KEY: tf.io.FixedLenFeature([], tf.string)}
  return [hashlib.sha256(tf.io.parse_single_example(r, spec)[vocabulary.IMAGE_KEY].numpy()).hexdigest()
          for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def test_the_blessing_split_was_never_seen_by_training_or_model_selection(e2e_pipeline):
  """From ML Metadata: the splits each blessed model's Trainer fit on (train_args) and chose its epoch
  on (eval_args) are not the split its Evaluator blessed it on (example_splits), and no image the Trainer
  read, by content hash, is among those the Evaluator read, from the same ExampleGen output."""
  _, summary = e2e_pipeline
  store = metadata_store.MetadataStore(tfx_metadata.sqlite_metadata_connection_config(summary["metadata_path"]))
  for model in summary["models"]:
    pushed = [a for a in store.get_artifacts_by_type("PushedModel")
              if a.custom_properties["pushed_destination"].string_value == model["pushed_path"]]
    pusher_inputs = _inputs(store, _producer(store, pushed[0].id))
    trainer, evaluator = (_producer(store, pusher_inputs[key]) for key in ("model", "model_blessing"))
    fit_splits = _exec_property(store, trainer, "train_args")["splits"]
    selection_splits = _exec_property(store, trainer, "eval_args")["splits"]
    blessing_splits = _exec_property(store, evaluator, "example_splits")
    assert (fit_splits, selection_splits, blessing_splits) == ([layout.TRAIN], [layout.VALIDATION], [layout.EVAL])
    assert not set(fit_splits + selection_splits) & set(blessing_splits + [layout.TEST])

    transformed = _inputs(store, trainer)["examples"]
    raw = _inputs(store, evaluator)["examples"]
    assert _inputs(store, _producer(store, transformed))["examples"] == raw  # the same ExampleGen output
    fit, selection = (_image_hashes(store, transformed, s) for s in (fit_splits, selection_splits))
    blessing = _image_hashes(store, raw, blessing_splits)
    assert len(fit) > 600 and len(selection) > 40 and len(blessing) > 60, (len(fit), len(selection), len(blessing))
    # The run summary's split sizes are those the readers found.
    sizes = summary["splits"]
    assert (sizes[layout.TRAIN], sizes[layout.VALIDATION], sizes[layout.EVAL]) == (len(fit), len(selection), len(blessing))
    assert f"examples: train {len(fit):,}, validation {len(selection):,}, eval {len(blessing):,}, test " in summary["text"]
    assert not set(fit) & set(selection) and not set(fit) & set(blessing) and not set(selection) & set(blessing)
    # The Trainer's own record: it fit on, and chose its epoch on, exactly that many images.
    with open(os.path.join(_output_uri(store, trainer, "model_run"), "training_history.json")) as f:
      history = json.load(f)
    assert (history["num_train_images"], history["num_selection_images"]) == (len(fit), len(selection))
    # TFMA counted exactly those examples.
    assert next(v for k, v in model["metrics"].items() if k.split("/")[-1] == "example_count") == len(blessing)


def test_a_second_run_with_nothing_changed_reuses_the_cache(e2e_pipeline):
  home, first = e2e_pipeline
  second = local_runner.run_local(
      data_root=first["data_root"], dataset="utkface", home=str(home),
      training=hyperparameters.TrainingConfig(**E2E_TRAINING), thresholds=configs.SMOKE_THRESHOLDS)
  states = {c["id"]: c["state"] for c in second["components"]}
  for node in ("FileBasedExampleGen", "StatisticsGen", "ExampleValidator", "DataValidationGate", "Transform",
               "classifier_trainer", "regressor_trainer"):
    assert states[node] == "CACHED", states


def test_a_worse_model_is_not_blessed_and_serving_keeps_the_previous_version(e2e_pipeline):
  """An untrained model (0 epochs) against the blessed models: the change thresholds refuse it, and
  the Pushers leave the serving folders as they were."""
  home, first = e2e_pipeline
  serving = {m: sorted(os.listdir(os.path.join(first["serving_root"], m))) for m in vocabulary.MODELS}
  worse = local_runner.run_local(
      data_root=first["data_root"], dataset="utkface", home=str(home),
      training=hyperparameters.TrainingConfig(**dict(E2E_TRAINING, epochs=0, regressor_epochs=0)), thresholds=configs.SMOKE_THRESHOLDS)
  states = {c["id"]: c["state"] for c in worse["components"]}
  assert states["classifier_trainer"] == "COMPLETE" and states["Transform"] == "CACHED"
  for model in worse["models"]:
    assert model["blessed"] is False, model
    assert model["pushed_path"] is None
  assert {m: sorted(os.listdir(os.path.join(first["serving_root"], m))) for m in vocabulary.MODELS} == serving


def test_pushed_models_carry_warm_up_requests_that_the_server_replays(e2e_pipeline):
  """TF Serving's assets.extra/tf_serving_warmup_requests, written by the Trainer from real images of the
  selection split, travel with the push; fdp serve's loader replays each (batches of 1, 8 and 32)."""
  from serving.server import servables  # pylint: disable=g-import-not-at-top
  from trainer import warmup  # pylint: disable=g-import-not-at-top
  from vocabulary import signatures  # pylint: disable=g-import-not-at-top
  _, summary = e2e_pipeline
  for model in summary["models"]:
    records = list(tf.data.TFRecordDataset(os.path.join(model["pushed_path"], signatures.WARMUP_REQUESTS_FILE)))
    assert len(records) == len(warmup.WARMUP_BATCH_SIZES)
    assert servables.load(model["pushed_path"]).warmup_requests == len(warmup.WARMUP_BATCH_SIZES)
