"""Runs create_pipeline() with LocalDagRunner: SQLite ML Metadata under the home folder, Beam's
DirectRunner (multi-processing with several workers), a progress line per component and a
summary read back from ML Metadata. Cached components are reused, so a run that was stopped
midway completes when started again."""
import contextlib
import dataclasses
import json
import logging
import os
import sys
import time
from typing import Dict, List, Optional, Sequence

from pipeline import configs
from pipeline.configs import EvaluationThresholds
from trainer.hyperparameters import FACERES, TrainingConfig

PROGRESS_LOGGER = "fdp"


@dataclasses.dataclass(frozen=True)
class LocalPaths:
  """Where a local run keeps its outputs, under one home folder."""
  home: str
  pipeline_name: str

  @property
  def pipeline_root(self) -> str:
    return os.path.join(self.home, "pipelines", self.pipeline_name)

  @property
  def metadata_path(self) -> str:
    return os.path.join(self.home, "metadata", self.pipeline_name, "metadata.db")

  @property
  def serving_root(self) -> str:
    return os.path.join(self.home, "serving_model")

  @property
  def runs_dir(self) -> str:
    return os.path.join(self.home, "runs", self.pipeline_name)


def beam_args(workers: int) -> List[str]:
  if workers > 1:
    return ["--direct_running_mode=multi_processing", f"--direct_num_workers={workers}"]
  return ["--direct_running_mode=in_memory", "--direct_num_workers=1"]


class _ProgressHandler(logging.Handler):
  """Turns the LocalDagRunner's per-component log records, and the project's own progress
  records, into short lines on stdout."""

  def __init__(self, stream):
    super().__init__(logging.INFO)
    self._stream = stream
    self._started = {}

  def emit(self, record):
    now = time.time()
    stamp = time.strftime("%H:%M:%S", time.localtime(now))
    if record.msg == "Component %s is running.":
      self._started[record.args[0]] = now
      self._stream.write(f"[{stamp}] {record.args[0]}: running\n")
    elif record.msg == "Component %s is finished.":
      seconds = now - self._started.get(record.args[0], now)
      self._stream.write(f"[{stamp}] {record.args[0]}: done in {seconds:.1f} s\n")
    elif record.name == PROGRESS_LOGGER or record.name.startswith(PROGRESS_LOGGER + "."):
      self._stream.write(f"[{stamp}]   {record.getMessage()}\n")
    else:
      return
    self._stream.flush()


def _hide_empty_resolver_errors(record) -> bool:
  """A resolver that finds nothing (the first run has no previous statistics) is logged by TFX as an
  error with a traceback; the run summary shows it as EMPTY instead."""
  return "Input resolution error" not in str(record.msg)


@contextlib.contextmanager
def showing_progress(verbose: bool):
  """While the run lasts: one progress line per component on stdout, and (unless `verbose`) only errors
  from TFX, TF and Beam, which warn a lot about things a user cannot change. Every logger level, handler
  level and filter it changes is put back afterwards."""
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  loggers = [logging.getLogger(name) for name in ("absl", PROGRESS_LOGGER, "tensorflow")]
  saved_levels = [logger.level for logger in loggers] + [absl_logging.get_verbosity()]
  root_handlers = [] if verbose else list(logging.root.handlers)
  saved_handler_levels = [handler.level for handler in root_handlers]
  handler = _ProgressHandler(sys.stdout)
  absl_logging.set_verbosity(absl_logging.INFO)
  loggers[0].setLevel(logging.INFO)
  loggers[1].setLevel(logging.INFO)
  for root_handler in root_handlers:
    root_handler.setLevel(logging.ERROR)
    root_handler.addFilter(_hide_empty_resolver_errors)
  if not verbose:
    loggers[2].setLevel(logging.ERROR)
  loggers[0].addHandler(handler)
  loggers[1].addHandler(handler)
  try:
    yield
  finally:
    loggers[0].removeHandler(handler)
    loggers[1].removeHandler(handler)
    for root_handler, level in zip(root_handlers, saved_handler_levels):
      root_handler.setLevel(level)
      root_handler.removeFilter(_hide_empty_resolver_errors)
    for logger, level in zip(loggers, saved_levels):
      logger.setLevel(level)
    absl_logging.set_verbosity(saved_levels[-1])


def run_local(data_root: str, dataset: str, home: str, training: TrainingConfig = TrainingConfig(),
              thresholds: EvaluationThresholds = EvaluationThresholds(), beam_workers: int = 1,
              beam_pipeline_args: Optional[List[str]] = None,
              pipeline_name: Optional[str] = None, wiki_mat: Optional[str] = None,
              enable_cache: bool = True, verbose: bool = False,
              more_sources: Sequence[Dict[str, str]] = ()) -> dict:
  """Runs the whole pipeline; returns the run summary (also written to <home>/runs/...). Beam steps run
  with `beam_pipeline_args`, else on the DirectRunner with `beam_workers` workers. `more_sources`: more
  UTKFace/WIKI folders read into the same run ({"dataset", "root", "wiki_mat"?} each)."""
  # pylint: disable=g-import-not-at-top
  from tfx import v1 as tfx
  from components import example_gen
  from pipeline import pipeline, run_summary

  pretrained_model_uri = None
  if training.backbone == FACERES:
    from trainer import face_network  # pylint: disable=g-import-not-at-top
    pretrained_model_uri = face_network.fetch_and_convert(training.pretrained_variant)
  datasets = "-".join([dataset] + [source["dataset"] for source in more_sources])
  paths = LocalPaths(os.path.abspath(home), pipeline_name or f"{configs.PIPELINE_NAME}-{datasets}")
  os.makedirs(os.path.dirname(paths.metadata_path), exist_ok=True)
  connection_config = tfx.orchestration.metadata.sqlite_metadata_connection_config(paths.metadata_path)
  started = time.time()
  with showing_progress(verbose):
    tfx.orchestration.LocalDagRunner().run(pipeline.create_pipeline(
        pipeline_name=paths.pipeline_name,
        pipeline_root=paths.pipeline_root,
        data_root=os.path.abspath(data_root),
        dataset=dataset,
        serving_root=paths.serving_root,
        training=training,
        thresholds=thresholds,
        beam_pipeline_args=beam_args(beam_workers) if beam_pipeline_args is None else beam_pipeline_args,
        metadata_connection_config=connection_config,
        enable_cache=enable_cache,
        wiki_mat=wiki_mat,
        spans=example_gen.has_spans(data_root),
        pretrained_model_uri=pretrained_model_uri,
        more_sources=more_sources,
    ))
  store = run_summary.open_store(connection_config)
  run_id = run_summary.latest_run_id(store, paths.pipeline_name)
  runs = run_summary.component_runs(store, paths.pipeline_name, run_id)
  models = run_summary.model_results(runs)
  summary = {
      "pipeline_name": paths.pipeline_name, "run_id": run_id, "dataset": dataset,
      "data_root": os.path.abspath(data_root), "more_sources": list(more_sources), "wall_seconds": time.time() - started,
      "training": dataclasses.asdict(training), "metadata_path": paths.metadata_path,
      "serving_root": paths.serving_root,
      "components": [{"id": r.node_id, "state": r.state, "seconds": r.seconds} for r in runs],
      "splits": run_summary.split_sizes(runs),
      "models": [dataclasses.asdict(m) for m in models],
      "text": run_summary.format_summary(runs, models),
  }
  os.makedirs(paths.runs_dir, exist_ok=True)
  with open(os.path.join(paths.runs_dir, f"{run_id.replace(':', '-')}.json"), "w") as f:
    json.dump(summary, f, indent=2)
  return summary
