"""New data arriving as span folders: each run of the ExampleGen reads the latest span."""
import re

import pytest
from ml_metadata import metadata_store
from tfx import v1 as tfx

from components import drift, example_gen, synthetic_faces
from tests.conftest import SHORT_TRAINING


def _run_example_gen(data_root, home):
  gen = example_gen.face_example_gen("utkface", str(data_root), spans=example_gen.has_spans(str(data_root)))
  config = tfx.orchestration.metadata.sqlite_metadata_connection_config(str(home / "mlmd.db"))
  tfx.orchestration.LocalDagRunner().run(tfx.dsl.Pipeline(
      pipeline_name="spans", pipeline_root=str(home / "root"), components=[gen], enable_cache=True,
      metadata_connection_config=config, beam_pipeline_args=["--direct_running_mode=in_memory"]))
  store = metadata_store.MetadataStore(config)
  latest = max(store.get_artifacts_by_type("Examples"), key=lambda a: a.id)
  return latest.custom_properties["span"].int_value, latest.custom_properties["ingest_read"].int_value


@pytest.mark.training
def test_the_next_run_picks_up_a_new_span(tmp_path):
  data = tmp_path / "data"
  synthetic_faces.write_dataset(str(data / "span-1"), count=20, size=48, seed=1)
  assert example_gen.has_spans(str(data)) and not example_gen.has_spans(str(data / "span-1"))
  assert _run_example_gen(data, tmp_path) == (1, 20)
  synthetic_faces.write_dataset(str(data / "span-2"), count=30, size=48, seed=2)
  assert _run_example_gen(data, tmp_path) == (2, 30)


@pytest.mark.training
def test_a_new_span_with_another_age_distribution_is_reported_as_drift(tmp_path):
  from pipeline import configs
  from pipeline import local_runner
  from trainer import hyperparameters
  training = hyperparameters.TrainingConfig(**SHORT_TRAINING)
  data = tmp_path / "data"
  synthetic_faces.write_dataset(str(data / "span-1"), count=120, size=48, seed=1)
  first = local_runner.run_local(str(data), "utkface", str(tmp_path / "home"), training=training,
                                 thresholds=configs.SMOKE_THRESHOLDS)
  assert "drift: first run" in first["text"]
  synthetic_faces.write_dataset(str(data / "span-2"), count=120, size=48, seed=2, ages=(1, 12))
  with pytest.raises(drift.DataDriftError) as error:
    local_runner.run_local(str(data), "utkface", str(tmp_path / "home"), training=training,
                           thresholds=configs.SMOKE_THRESHOLDS)
  header, *drifted = str(error.value).splitlines()
  assert header == "data drift against the previous statistics, stopping before training:"
  assert [line.split(":")[0].strip() for line in drifted] == ["age"], drifted  # only the ages moved
  match = re.fullmatch(r"  age: JENSEN_SHANNON_DIVERGENCE (\d+\.\d{3}) > 0\.1", drifted[0])
  assert match and float(match.group(1)) > configs.DRIFT_THRESHOLDS["age"][1], drifted
