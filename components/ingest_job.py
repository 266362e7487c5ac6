"""`fdp ingest`: a dataset folder -> TFRecord files of tf.Examples, one folder per split
(`Split-train/`, ... as ExampleGen writes them, so ImportExampleGen reads them back as they are),
plus `ingest_report.json`."""
import json
import os
from typing import List, Optional

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from components import ingest
from vocabulary import layout


def run_ingest(dataset: str, data_root: str, out_dir: str, beam_args: Optional[List[str]] = None,
               wiki_mat: Optional[str] = None, show_progress: bool = True) -> dict:
  import tqdm  # pylint: disable=g-import-not-at-top
  read_labels = ingest.ReadLabels(dataset, data_root, wiki_mat=wiki_mat)
  progress = tqdm.tqdm(desc=f"ingest {dataset}", unit=" images", disable=not show_progress)
  report_path = os.path.join(out_dir, layout.REPORT_FILE)
  try:
    with ingest.reporting_progress(progress.update) as token, \
         beam.Pipeline(options=PipelineOptions(beam_args or [])) as pipeline:
      ingested = (pipeline | "ReadLabels" >> read_labels
                  | "IngestFaces" >> ingest.IngestFaces(dataset, progress=token))
      for split, examples in ingested["splits"].items():
        _ = examples | f"Write[{split}]" >> beam.io.WriteToTFRecord(
            os.path.join(out_dir, layout.split_dir(split), "data_tfrecord"),
            file_name_suffix=".gz")
      _ = ingested["report"] | "WriteReport" >> ingest.WriteReport(report_path)
  finally:
    progress.close()
  with open(report_path) as f:
    return json.load(f)
