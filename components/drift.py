"""Drift between this run's statistics and the previous run's (e.g. a new span against the last one).

TFDV's drift comparators (the `thresholds` parameter: pipeline/configs.py's DRIFT_THRESHOLDS) are set on
the curated schema and the train-split statistics are validated against the previous statistics. Every
measurement is recorded on the output artifact (and shown in the run summary); a threshold that is
crossed stops the run before training, like any other anomaly.
"""
import json
import os
from typing import Dict, List, Optional, Tuple

from tfx import v1 as tfx

REPORT_FILE = "drift_report.json"
SPLIT = "train"


class DataDriftError(RuntimeError):
  """The new data's distribution moved further than the thresholds allow."""


def schema_with_drift_comparators(schema, thresholds: Dict[str, Tuple[str, float]]):
  """The schema with a drift comparator per feature: {feature: (comparator, threshold)}."""
  import tensorflow_data_validation as tfdv  # pylint: disable=g-import-not-at-top
  for feature_name, (comparator, threshold) in thresholds.items():
    try:
      feature = tfdv.get_feature(schema, feature_name)
    except ValueError:
      continue  # e.g. race in WIKI data
    getattr(feature.drift_comparator, comparator).threshold = threshold
  return schema


def measure_drift(statistics_uri: str, previous_statistics_uri: str, schema_uri: str,
                  thresholds: Dict[str, Tuple[str, float]]) -> List[Dict]:
  """[{feature, type, value, threshold, drifted}] for the train split."""
  # pylint: disable=g-import-not-at-top
  import tensorflow_data_validation as tfdv
  from tfx.components.statistics_gen import stats_artifact_utils
  from tfx.utils import io_utils

  def train_stats(uri):
    artifact = tfx.types.standard_artifacts.ExampleStatistics()
    artifact.uri = uri
    artifact.split_names = json.dumps([SPLIT])
    return stats_artifact_utils.load_statistics(artifact, SPLIT).proto()

  schema = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(schema_uri))
  anomalies = tfdv.validate_statistics(train_stats(statistics_uri),
                                       schema_with_drift_comparators(schema, thresholds),
                                       previous_statistics=train_stats(previous_statistics_uri))
  drifted = {path for path, info in anomalies.anomaly_info.items()}
  results = []
  for info in anomalies.drift_skew_info:
    name = ".".join(info.path.step)
    for measurement in info.drift_measurements:
      results.append({"feature": name, "type": type(measurement).Type.Name(measurement.type),
                      "value": measurement.value, "threshold": measurement.threshold,
                      "drifted": name in drifted and measurement.value > measurement.threshold})
  return sorted(results, key=lambda r: r["feature"])


@tfx.dsl.components.component
def DriftValidator(  # pylint: disable=invalid-name
    statistics: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleStatistics],
    schema: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Schema],
    drift_report: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
    previous_statistics: tfx.dsl.components.InputArtifact[
        tfx.types.standard_artifacts.ExampleStatistics] = None,
    thresholds: tfx.dsl.components.Parameter[str] = "{}",
    code_version: tfx.dsl.components.Parameter[str] = "") -> None:
  """Compares the statistics with the previous run's; fails when a drift threshold is crossed.

  `thresholds` is JSON {feature: [comparator, threshold]} (a parameter, so ML Metadata records it and a
  changed threshold is a new execution); `code_version` (unused here) is this code's fingerprint, so
  that TFX's cache sees a change to it (pipeline/code_version.py)."""
  del code_version
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  report: Dict = {"previous_statistics": None, "measurements": []}
  if previous_statistics is not None:
    report["previous_statistics"] = previous_statistics.uri
    report["measurements"] = measure_drift(statistics.uri, previous_statistics.uri, schema.uri,
                                           json.loads(thresholds))
  with tf.io.gfile.GFile(os.path.join(drift_report.uri, REPORT_FILE), "w") as f:
    json.dump(report, f, indent=2)
  for m in report["measurements"]:
    drift_report.set_float_custom_property(f"drift_{m['feature']}", m["value"])
  drifted = [m for m in report["measurements"] if m["drifted"]]
  if drifted:
    raise DataDriftError("data drift against the previous statistics, stopping before training:\n  " + "\n  ".join(
        f"{m['feature']}: {m['type']} {m['value']:.3f} > {m['threshold']}" for m in drifted))


def previous_statistics_resolver(statistics_gen_id: str):
  """The latest statistics StatisticsGen wrote before this run (it must run before StatisticsGen)."""
  return tfx.dsl.Resolver(
      strategy_class=tfx.dsl.experimental.LatestArtifactStrategy,
      statistics=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ExampleStatistics,
                                 producer_component_id=statistics_gen_id, output_key="statistics"),
  ).with_id("previous_statistics_resolver")


def describe(report_uri: Optional[str]) -> Optional[str]:
  """One line for the run summary."""
  if not report_uri:
    return None
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  with tf.io.gfile.GFile(os.path.join(report_uri, REPORT_FILE)) as f:
    report = json.load(f)
  if report["previous_statistics"] is None:
    return "drift: first run, nothing to compare with"
  return "drift vs previous statistics: " + ", ".join(
      f"{m['feature']} {m['value']:.3f}{' (DRIFT)' if m['drifted'] else ''}" for m in report["measurements"])
