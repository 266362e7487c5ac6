"""A gate between ExampleValidator and Transform: any anomaly stops the run before training.

ExampleValidator records anomalies but does not stop a pipeline; this component fails, naming each
anomaly, and Transform (hence both Trainers) runs only after it succeeds.
"""
import os
from typing import List

from tfx import v1 as tfx
from tfx.types import artifact_utils

from vocabulary.layout import split_dir


class DataAnomaliesError(RuntimeError):
  """The examples do not match the curated schema."""


def describe_anomalies(anomalies_uri: str, split_names: List[str]) -> List[str]:
  """One line per anomaly: `split: feature: short description`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow_metadata.proto.v0 import anomalies_pb2  # pylint: disable=g-import-not-at-top
  problems = []
  for split in split_names:
    path = os.path.join(anomalies_uri, split_dir(split), "SchemaDiff.pb")
    anomalies = anomalies_pb2.Anomalies()
    with tf.io.gfile.GFile(path, "rb") as f:
      anomalies.ParseFromString(f.read())
    for feature, info in sorted(anomalies.anomaly_info.items()):
      problems.append(f"{split}: {feature}: {info.short_description} ({info.description})")
    if anomalies.HasField("dataset_anomaly_info"):
      problems.append(f"{split}: dataset: {anomalies.dataset_anomaly_info.description}")
  return problems


@tfx.dsl.components.component
def DataValidationGate(  # pylint: disable=invalid-name
    anomalies: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
    code_version: tfx.dsl.components.Parameter[str] = "") -> None:
  """Fails the run when ExampleValidator found any anomaly in any split. `code_version` (unused here)
  is this code's fingerprint, so that TFX's cache sees a change to it (pipeline/code_version.py)."""
  del code_version
  problems = describe_anomalies(anomalies.uri, artifact_utils.decode_split_names(anomalies.split_names))
  if problems:
    raise DataAnomaliesError("data anomalies, stopping before training:\n  " + "\n  ".join(problems))
