"""What a pipeline run did, read back from ML Metadata: per-component state and wall time, the examples in
each split, each model's evaluation metrics, whether it was blessed, and where it was pushed."""
import dataclasses
from typing import Dict, List, Optional

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from vocabulary import layout
import vocabulary

_STATES = {v: k for k, v in metadata_store_pb2.Execution.State.items()}


@dataclasses.dataclass
class ComponentRun:
  node_id: str
  state: str  # COMPLETE, CACHED, FAILED, RUNNING...
  seconds: float
  outputs: Dict[str, List[metadata_store_pb2.Artifact]]


@dataclasses.dataclass
class ModelResult:
  model: str
  metrics: Dict[str, float]
  blessed: Optional[bool]
  pushed_path: Optional[str]


def open_store(connection_config) -> metadata_store.MetadataStore:
  return metadata_store.MetadataStore(connection_config)


def latest_run_id(store, pipeline_name: str) -> Optional[str]:
  pipeline = store.get_context_by_type_and_name("pipeline", pipeline_name)
  if pipeline is None:
    return None
  runs = [c for c in store.get_children_contexts_by_context(pipeline.id) if c.type == "pipeline_run"] or \
      [c for c in store.get_contexts_by_type("pipeline_run")]
  return max(runs, key=lambda c: c.create_time_since_epoch).name if runs else None


def component_runs(store, pipeline_name: str, run_id: str) -> List[ComponentRun]:
  """The executions of one pipeline run, in the order they started."""
  run = store.get_context_by_type_and_name("pipeline_run", run_id)
  executions = sorted(store.get_executions_by_context(run.id), key=lambda e: e.create_time_since_epoch)
  prefix = f"{pipeline_name}."
  result = []
  for execution in executions:
    node_contexts = [c for c in store.get_contexts_by_execution(execution.id) if c.type == "node"]
    node_id = node_contexts[0].name[len(prefix):] if node_contexts else str(execution.type)
    outputs: Dict[str, List[metadata_store_pb2.Artifact]] = {}
    events = [e for e in store.get_events_by_execution_ids([execution.id])
              if e.type in (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    for event in events:
      key = event.path.steps[0].key if event.path.steps else ""
      outputs.setdefault(key, []).append(artifacts[event.artifact_id])
    seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000.0
    state = _STATES.get(execution.last_known_state, "UNKNOWN")
    if state == "FAILED" and node_id.endswith("_resolver"):
      state = "EMPTY"  # TFX records a resolver that found nothing to resolve as failed
    result.append(ComponentRun(node_id, state, seconds, outputs))
  return result


def overall_metrics(evaluation_uri: str) -> Dict[str, float]:
  """Overall-slice metrics of a TFMA evaluation, as {"output/metric": value}."""
  import tensorflow_model_analysis as tfma  # pylint: disable=g-import-not-at-top
  result = tfma.load_eval_result(evaluation_uri)
  metrics = {}
  for slice_key, by_output in result.slicing_metrics:
    if slice_key:
      continue
    for output, by_sub_key in by_output.items():
      for values in by_sub_key.values():
        for name, value in values.items():
          if "doubleValue" in value:
            metrics[f"{output}/{name}" if output else name] = value["doubleValue"]
  return metrics


def _custom(artifact, key):
  if key not in artifact.custom_properties:
    return None
  value = artifact.custom_properties[key]
  return value.int_value if value.HasField("int_value") else value.string_value


def model_results(runs: List[ComponentRun]) -> List[ModelResult]:
  from pipeline import pipeline as pipeline_module  # pylint: disable=g-import-not-at-top
  by_id = {r.node_id: r for r in runs}
  results = []
  for model in vocabulary.MODELS:
    evaluator = by_id.get(pipeline_module.evaluator_id(model))
    pusher = by_id.get(pipeline_module.pusher_id(model))
    metrics, blessed, pushed = {}, None, None
    if evaluator and evaluator.outputs.get("evaluation"):
      metrics = overall_metrics(evaluator.outputs["evaluation"][0].uri)
      blessing = evaluator.outputs.get("blessing")
      blessed = bool(_custom(blessing[0], "blessed")) if blessing else None
    if pusher and pusher.outputs.get("pushed_model"):
      pushed_model = pusher.outputs["pushed_model"][0]
      if _custom(pushed_model, "pushed"):
        pushed = _custom(pushed_model, "pushed_destination")
    results.append(ModelResult(model, metrics, blessed, pushed))
  return results


def split_sizes(runs: List[ComponentRun]) -> Dict[str, int]:
  """{split: examples} of the run's ingested examples, from the counts the ExampleGen recorded on its
  artifact ({} for TFRecords imported as they are)."""
  for run in runs:
    examples = run.outputs.get("examples")
    if examples and _custom(examples[0], "ingest_examples") is not None:
      return {split: _custom(examples[0], f"ingest_split_{split}") or 0 for split in layout.SPLITS}
  return {}


# Ingest counts that are not a reason an input was dropped.
_NOT_DROPPED = ("read", "examples", "duplicate_groups", "conflicting_groups")


def dropped_inputs(runs: List[ComponentRun]) -> Dict[str, int]:
  """{reason: inputs} that did not become examples (a filter, a missing or corrupt image, a duplicate),
  from the counts the ExampleGen recorded ({} for TFRecords imported as they are)."""
  for run in runs:
    examples = run.outputs.get("examples")
    if examples and _custom(examples[0], "ingest_examples") is not None:
      counts = {key[len("ingest_"):]: value.int_value
                for key, value in examples[0].custom_properties.items() if key.startswith("ingest_")}
      return {reason: count for reason, count in sorted(counts.items())
              if reason not in _NOT_DROPPED and not reason.startswith(("split_", "examples_"))}
  return {}


def drift_line(runs: List[ComponentRun]) -> Optional[str]:
  from components import drift  # pylint: disable=g-import-not-at-top
  for run in runs:
    if run.outputs.get("drift_report"):
      return drift.describe(run.outputs["drift_report"][0].uri)
  return None


def format_summary(runs: List[ComponentRun], models: List[ModelResult]) -> str:
  width = max([len(r.node_id) for r in runs] + [9])
  lines = [f"{'component':<{width}}  {'state':<9} {'seconds':>8}", "-" * (width + 20)]
  lines += [f"{r.node_id:<{width}}  {r.state:<9} {r.seconds:>8.1f}" for r in runs]
  lines.append("")
  sizes = split_sizes(runs)
  if sizes:
    lines.append("examples: " + ", ".join(f"{split} {count:,}" for split, count in sizes.items()))
  dropped = dropped_inputs(runs)
  if dropped:
    lines.append("inputs dropped: " + ", ".join(f"{reason} {count:,}" for reason, count in dropped.items()))
  drift = drift_line(runs)
  if drift:
    lines.append(drift)
  for m in models:
    shown = {k: v for k, v in m.metrics.items() if not k.endswith(("example_count", "_diff"))}
    metrics = ", ".join(f"{k}={v:.4f}" for k, v in sorted(shown.items())) or "not evaluated"
    blessed = {True: "blessed", False: "NOT blessed", None: "no blessing"}[m.blessed]
    lines.append(f"{m.model}: {metrics}; {blessed}; pushed: {m.pushed_path or 'no'}")
  return "\n".join(lines)
