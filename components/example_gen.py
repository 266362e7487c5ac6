"""ExampleGens for the face datasets: FileBasedExampleGen with a Beam executor built on IngestFaces.

The executor overrides GenerateExamplesByBeam (TFX's hook for custom splitting) so that one Beam
pass reads, dedupes and splits by content hash into train / validation / eval / test (docs/splits.md);
the ingest report is written beside the splits (`ingest_report.json`) and its counts are recorded on the
Examples artifact in ML Metadata.
"""
import hashlib
import json
import os
from typing import Any, Dict, List, Optional, Sequence

import apache_beam as beam
from google.protobuf import any_pb2, json_format, struct_pb2
from tfx import v1 as tfx
from tfx.components import FileBasedExampleGen
from tfx.components.example_gen import base_example_gen_executor
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from components import ingest, wiki
from vocabulary import layout
import vocabulary

def _custom_options(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
  raw = exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY)
  if not raw:
    return {}
  config = example_gen_pb2.CustomConfig()
  proto_utils.json_to_proto(raw, config)
  options = struct_pb2.Struct()
  config.custom_config.Unpack(options)
  return json_format.MessageToDict(options)


def _check_output_splits(exec_properties: Dict[str, Any]) -> None:
  """The output config must name the splits the ingest writes (its split rule is the content hash's)."""
  config = example_gen_pb2.Output()
  proto_utils.json_to_proto(exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], config)
  names = tuple(s.name for s in config.split_config.splits)
  if names != layout.SPLITS:
    raise ValueError(f"output splits {names} differ from the content-hash splits {layout.SPLITS}")


def _data_folder(exec_properties: Dict[str, Any]) -> str:
  """The input base, or the span folder the driver resolved (`span-{SPAN}/*` -> `span-3/*`)."""
  input_config = example_gen_pb2.Input()
  proto_utils.json_to_proto(exec_properties[standard_component_specs.INPUT_CONFIG_KEY], input_config)
  folder = os.path.dirname(input_config.splits[0].pattern)
  return os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], folder)


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
  """Reads a UTKFace or WIKI folder into deduplicated tf.Examples split by content hash."""

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    raise NotImplementedError("splits are made in GenerateExamplesByBeam")

  def GenerateExamplesByBeam(self, pipeline: beam.Pipeline,
                             exec_properties: Dict[str, Any]) -> Dict[str, beam.pvalue.PCollection]:
    _check_output_splits(exec_properties)
    options = _custom_options(exec_properties)
    dataset = options["dataset"]
    min_face_score = options.get("wiki_min_face_score", wiki.MIN_FACE_SCORE)
    # The input base (or its latest span) first, then any more folders read into the same run.
    sources = [{"dataset": dataset, "root": _data_folder(exec_properties), "wiki_mat": options.get("wiki_mat")}]
    sources += options.get("more_sources", [])
    parsed = [pipeline | f"ReadLabels[{source['dataset']}]" >> ingest.ReadLabels(
        source["dataset"], source["root"], wiki_mat=source.get("wiki_mat"), wiki_min_face_score=min_face_score)
              for source in sources]
    if len(parsed) > 1:
      parsed = [{key: [p[key] for p in parsed] | f"Flatten[{key}]" >> beam.Flatten() for key in parsed[0]}]
    name = "+".join(source["dataset"] for source in sources)
    ingested = parsed[0] | "IngestFaces" >> ingest.IngestFaces(name)
    _ = ingested["report"] | "WriteReport" >> ingest.WriteReport(self._report_path)
    return ingested["splits"]

  def Do(self, input_dict, output_dict, exec_properties) -> None:
    examples = output_dict[standard_component_specs.EXAMPLES_KEY][0]
    self._report_path = os.path.join(examples.uri, layout.REPORT_FILE)
    super().Do(input_dict, output_dict, exec_properties)
    with open_report(examples.uri) as f:
      report = json.load(f)
    for category, count in report["counts"].items():
      examples.set_int_custom_property(f"ingest_{category}", count)


def open_report(examples_uri: str):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile.GFile(os.path.join(examples_uri, layout.REPORT_FILE))


def has_spans(data_root: str) -> bool:
  """Whether a folder holds span sub-folders (span-1/, span-2/, ...)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return bool(tf.io.gfile.glob(os.path.join(data_root, layout.SPAN_FOLDER.replace("{SPAN}", "*"))))


def output_config() -> example_gen_pb2.Output:
  """The content-hash splits; each split's hash_buckets is its share in percent (ExampleGen wants a
  positive number; the rule itself is face_records.split_for_hash, see docs/splits.md)."""
  return example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
      example_gen_pb2.SplitConfig.Split(name=name, hash_buckets=round(share * 100))
      for name, share in layout.split_shares().items()]))


UNREAD = "not readable where the pipeline was built"


def source_fingerprint(source: Dict[str, Any]) -> str:
  """What changes when a folder read beside the input base changes (its metadata file, else its listing):
  part of the ExampleGen's configuration, so the cache notices it (the driver fingerprints only the input
  base). A folder this machine cannot read (a bucket only a cluster's pods reach, when compiling for
  Kubeflow) is named without a fingerprint: a change in it is then not seen by the cache."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    if source["dataset"] == vocabulary.WIKI:
      mat = source.get("wiki_mat") or os.path.join(source["root"], wiki.METADATA_FILE)
      stat = tf.io.gfile.stat(mat)
      return f"{mat}:{stat.length}:{stat.mtime_nsec}"
    names = sorted(tf.io.gfile.listdir(source["root"]))
  except tf.errors.OpError:
    return f"{source['root']}:{UNREAD}"
  return f"{source['root']}:{len(names)}:{hashlib.sha256(chr(0).join(names).encode()).hexdigest()[:16]}"


def face_example_gen(dataset: str, data_root: str, wiki_mat: Optional[str] = None,
                     wiki_min_face_score: float = wiki.MIN_FACE_SCORE, code_version: str = "",
                     spans: bool = False, more_sources: Sequence[Dict[str, str]] = ()):
  """The ExampleGen for a dataset folder: UTKFace/WIKI through Executor, `fdp ingest` output through
  ImportExampleGen (its split folders kept as they are).

  With `spans`, new data arrives as span folders (`<data_root>/span-1/`, `span-2/`, ...): the driver
  resolves the latest span, and the run reads that folder only. `more_sources` ({"dataset", "root",
  "wiki_mat"?} each) are read into the same examples, deduplicated and split by content hash together,
  each example keeping its source."""
  span_folder = layout.SPAN_FOLDER if spans else ""
  if more_sources and {dataset, *(s["dataset"] for s in more_sources)} - {vocabulary.UTKFACE, vocabulary.WIKI}:
    raise ValueError("several folders in one run must each be a UTKFace or WIKI folder")
  if dataset == vocabulary.TFRECORDS:
    return tfx.components.ImportExampleGen(
        input_base=data_root,
        input_config=tfx.proto.Input(splits=[
            tfx.proto.Input.Split(name=name, pattern=os.path.join(span_folder, f"{layout.split_dir(name)}/*"))
            for name in layout.SPLITS]))
  options: Dict[str, Any] = {"dataset": dataset, "code_version": code_version}
  if dataset == vocabulary.WIKI or any(s["dataset"] == vocabulary.WIKI for s in more_sources):
    options["wiki_min_face_score"] = wiki_min_face_score
  if dataset == vocabulary.WIKI and wiki_mat:
    options["wiki_mat"] = wiki_mat
  if more_sources:
    options["more_sources"] = [dict(s) for s in more_sources]
    options["more_sources_fingerprint"] = [source_fingerprint(s) for s in more_sources]
  packed = any_pb2.Any()
  packed.Pack(json_format.ParseDict(options, struct_pb2.Struct()))
  # The driver fingerprints the files matching the pattern, so changed data invalidates the cache.
  pattern = os.path.join(span_folder, "*" if dataset == vocabulary.UTKFACE else wiki.METADATA_FILE)
  return FileBasedExampleGen(
      input_base=data_root,
      input_config=tfx.proto.Input(splits=[tfx.proto.Input.Split(name="all", pattern=pattern)]),
      output_config=output_config(),
      custom_config=example_gen_pb2.CustomConfig(custom_config=packed),
      custom_executor_spec=executor_spec.BeamExecutorSpec(Executor),
  )
