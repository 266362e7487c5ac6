"""create_pipeline(): the facial-demographics TFX pipeline, shared by every runner.

ExampleGen (UTKFace/WIKI folder, or `fdp ingest` TFRecords)
  -> StatisticsGen -> ImportSchemaGen (curated, committed schema) -> ExampleValidator -> DataValidationGate
                  -> DriftValidator (vs. the previous run's statistics)
  -> Transform (labels; JPEG bytes pass through)
  -> Trainer[classifier] (from the pretrained face network: an Importer node), Trainer[regressor]
     (from this run's classifier): fit on train, epoch chosen on validation
  -> Evaluator (TFMA on eval, vs. the latest blessed model of the same kind) -> Pusher (TF Serving layout)

Which split does what: pipeline/configs.py (TRAINING_SPLITS, ...) and docs/splits.md.
"""
import dataclasses
import json
import os
from typing import Dict, List, Optional, Sequence

from tfx import v1 as tfx

from components import drift, example_gen, validation_gate
from pipeline import code_version, configs, eval_configs
from pipeline.configs import EvaluationThresholds
from trainer.hyperparameters import FACERES, TrainingConfig
import vocabulary

# User code is referenced by dotted module path (no wheel upload; baked into the Kubeflow image).
PREPROCESSING_FN = "trainer.preprocessing.preprocessing_fn"
RUN_FN = "trainer.train.run_fn"
PRETRAINED_IMPORTER_ID = "pretrained_face_network"


def trainer_id(model_name: str) -> str:
  return f"{model_name}_trainer"


def evaluator_id(model_name: str) -> str:
  return f"{model_name}_evaluator"


def pusher_id(model_name: str) -> str:
  return f"{model_name}_pusher"


def base_model(model_name: str, trainers: dict, latest_blessed, pretrained, training: TrainingConfig):
  """The model a Trainer starts from: the regressor fine-tunes this run's classifier; the classifier
  starts from the latest blessed classifier only when asked (as an input, a new blessing would
  otherwise re-run the Trainer), else from the pretrained face network (if the backbone has one)."""
  if model_name == vocabulary.REGRESSOR:
    return trainers[vocabulary.CLASSIFIER].outputs["model"]
  if training.warm_start:
    return latest_blessed.outputs["model"]
  return pretrained.outputs["result"] if pretrained else None


def pretrained_importer(training: TrainingConfig, pretrained_model_uri: Optional[str]):
  """An Importer node for the pretrained face network's converted weights (trainer/face_network.py),
  so ML Metadata records which base each trained model came from; None for the from-scratch backbone."""
  if training.backbone != FACERES:
    return None
  if not pretrained_model_uri:
    raise ValueError("the faceres backbone needs pretrained_model_uri (trainer.face_network.fetch_and_convert())")
  return tfx.dsl.Importer(source_uri=pretrained_model_uri, artifact_type=tfx.types.standard_artifacts.Model,
                          reimport=False).with_id(PRETRAINED_IMPORTER_ID)


def latest_blessed_resolver(model_name: str):
  """The latest model of this kind that its Evaluator blessed (the baseline, and a warm start)."""
  return tfx.dsl.Resolver(
      strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
      model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model,
                            producer_component_id=trainer_id(model_name), output_key="model"),
      model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing,
                                     producer_component_id=evaluator_id(model_name), output_key="blessing"),
  ).with_id(f"latest_blessed_{model_name}_resolver")


def model_trainer(model_name: str, transform, schema, base, training: TrainingConfig):
  """A Trainer fit on the training splits, choosing its epoch on the selection splits."""
  return tfx.components.Trainer(
      run_fn=RUN_FN,
      examples=transform.outputs["transformed_examples"],
      transform_graph=transform.outputs["transform_graph"],
      schema=schema.outputs["schema"],
      base_model=base,
      train_args=tfx.proto.TrainArgs(splits=list(configs.TRAINING_SPLITS)),
      eval_args=tfx.proto.EvalArgs(splits=list(configs.SELECTION_SPLITS)),
      custom_config={"model": model_name, "training": dataclasses.asdict(training),
                     "code_version": code_version.of_callable(RUN_FN)},
  ).with_id(trainer_id(model_name))


def model_evaluator(model_name: str, examples_gen, trainer, latest_blessed, thresholds: EvaluationThresholds):
  """TFMA on the blessing splits (raw examples: labels come from the model's transform signature)."""
  return tfx.components.Evaluator(
      examples=examples_gen.outputs["examples"],
      model=trainer.outputs["model"],
      baseline_model=latest_blessed.outputs["model"],
      example_splits=list(configs.BLESSING_SPLITS),
      eval_config=eval_configs.EVAL_CONFIGS[model_name](thresholds),
  ).with_id(evaluator_id(model_name))


def model_pusher(model_name: str, trainer, evaluator, serving_root: str):
  """Copies a blessed model to <serving_root>/<model>/<version>/ (TF Serving's layout)."""
  return tfx.components.Pusher(
      model=trainer.outputs["model"],
      model_blessing=evaluator.outputs["blessing"],
      push_destination=tfx.proto.PushDestination(
          filesystem=tfx.proto.PushDestination.Filesystem(base_directory=os.path.join(serving_root, model_name))),
  ).with_id(pusher_id(model_name))


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    data_root: str,
    dataset: str,
    serving_root: str,
    training: TrainingConfig = TrainingConfig(),
    thresholds: EvaluationThresholds = EvaluationThresholds(),
    beam_pipeline_args: Optional[List[str]] = None,
    metadata_connection_config=None,
    enable_cache: bool = True,
    wiki_mat: Optional[str] = None,
    spans: bool = False,
    pretrained_model_uri: Optional[str] = None,
    more_sources: Sequence[Dict[str, str]] = (),
) -> tfx.dsl.Pipeline:
  """The whole pipeline; nothing in it depends on the orchestrator. `more_sources` ({"dataset", "root",
  "wiki_mat"?} each): more UTKFace or WIKI folders read into the same examples as `data_root`."""
  # User code is invisible to TFX's cache: each component that runs it gets its code's version (see
  # pipeline/code_version.py), so an edit re-runs exactly the components whose code it changes.
  examples_gen = example_gen.face_example_gen(dataset, data_root, wiki_mat=wiki_mat, spans=spans,
                                                code_version=code_version.fingerprint([example_gen.__name__]),
                                                more_sources=more_sources)
  statistics_gen = tfx.components.StatisticsGen(examples=examples_gen.outputs["examples"])
  schema_importer = tfx.components.ImportSchemaGen(
      schema_file=configs.schema_path(dataset, [source["dataset"] for source in more_sources]))
  example_validator = tfx.components.ExampleValidator(
      statistics=statistics_gen.outputs["statistics"], schema=schema_importer.outputs["schema"])
  data_gate = validation_gate.DataValidationGate(
      anomalies=example_validator.outputs["anomalies"],
      code_version=code_version.fingerprint([validation_gate.__name__]))
  previous_statistics = drift.previous_statistics_resolver(statistics_gen.id)
  statistics_gen.add_upstream_node(previous_statistics)  # resolve before this run's statistics exist
  drift_validator = drift.DriftValidator(
      statistics=statistics_gen.outputs["statistics"], schema=schema_importer.outputs["schema"],
      previous_statistics=previous_statistics.outputs["statistics"],
      thresholds=json.dumps(configs.DRIFT_THRESHOLDS, sort_keys=True),
      code_version=code_version.fingerprint([drift.__name__]))

  transform = tfx.components.Transform(
      examples=examples_gen.outputs["examples"],
      schema=schema_importer.outputs["schema"],
      preprocessing_fn=PREPROCESSING_FN,
      # Only the splits the Trainers read; the Evaluators read ExampleGen's examples.
      splits_config=tfx.proto.SplitsConfig(analyze=list(configs.TRAINING_SPLITS),
                                           transform=list(configs.TRAINING_SPLITS + configs.SELECTION_SPLITS)),
      custom_config={"code_version": code_version.of_callable(PREPROCESSING_FN)})
  transform.add_upstream_node(data_gate)
  transform.add_upstream_node(drift_validator)

  pretrained = pretrained_importer(training, pretrained_model_uri)
  latest_blessed = {model: latest_blessed_resolver(model) for model in vocabulary.MODELS}
  trainers = {}
  for model in vocabulary.MODELS:  # the classifier first: the regressor starts from it
    base = base_model(model, trainers, latest_blessed[model], pretrained, training)
    trainers[model] = model_trainer(model, transform, schema_importer, base, training)
  evaluators = {model: model_evaluator(model, examples_gen, trainers[model], latest_blessed[model], thresholds)
                for model in vocabulary.MODELS}
  pushers = {model: model_pusher(model, trainers[model], evaluators[model], serving_root)
             for model in vocabulary.MODELS}

  return tfx.dsl.Pipeline(
      pipeline_name=pipeline_name,
      pipeline_root=pipeline_root,
      components=[examples_gen, previous_statistics, statistics_gen, schema_importer, example_validator,
                  data_gate, drift_validator, transform] + ([pretrained] if pretrained else [])
      + [*latest_blessed.values(), *trainers.values(), *evaluators.values(), *pushers.values()],
      enable_cache=enable_cache,
      metadata_connection_config=metadata_connection_config,
      beam_pipeline_args=beam_pipeline_args or [],
  )
