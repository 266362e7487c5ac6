"""Kubeflow: the compiled KFP v2 PipelineJob, submit/schedule requests, and the Dockerfile."""
import json
import re
import unittest.mock as mock

import kfp_server_api
import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from components import example_gen
from kubeflow import kfp_client, runner
from pipeline import configs
from tests.conftest import REPO
from trainer import hyperparameters
import vocabulary

BEAM_ARGS = ["--runner=DataflowRunner", "--project=my-project", "--region=europe-west4"]
IMAGE = "registry.example/face-demographics-pipeline:1.2.3"
BEAM_COMPONENTS = ("FileBasedExampleGen", "StatisticsGen", "Transform", "classifier_evaluator", "regressor_evaluator")


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
  path = tmp_path_factory.mktemp("kfp") / "pipeline.json"
  runner.compile_pipeline(str(path), image=IMAGE, pipeline_root="gs://bucket/tfx", data_root="gs://bucket/UTKFace",
                          beam_pipeline_args=BEAM_ARGS, resources=runner.TrainerResources(gpus=2))
  return path, json.loads(path.read_text())


def _executor(job, task):
  spec = job["pipelineSpec"]
  component = spec["root"]["dag"]["tasks"][task]["componentRef"]["name"]
  executor = spec["components"][component]["executorLabel"]
  return spec["deploymentSpec"]["executors"][executor]["container"]


def test_compiles_to_a_pipeline_job_that_kfp_protos_parse(compiled):
  _, job = compiled
  parsed = json_format.ParseDict(job, pipeline_spec_pb2.PipelineJob(), ignore_unknown_fields=False)
  name = parsed.pipeline_spec["pipelineInfo"]["name"]
  assert name == configs.PIPELINE_NAME and re.fullmatch(r"[a-z0-9][a-z0-9-]{0,127}", name)
  assert parsed.runtime_config.gcs_output_directory == "gs://bucket/tfx"


def test_every_component_in_data_flow_order(compiled):
  _, job = compiled
  tasks = job["pipelineSpec"]["root"]["dag"]["tasks"]
  depends = {name: set(task.get("dependentTasks", [])) for name, task in tasks.items()}
  assert {"FileBasedExampleGen", "StatisticsGen", "ImportSchemaGen", "ExampleValidator", "DataValidationGate",
          "Transform", "classifier_trainer", "regressor_trainer", "classifier_evaluator", "regressor_evaluator",
          "classifier_pusher", "regressor_pusher"} <= set(tasks)
  assert "FileBasedExampleGen" in depends["StatisticsGen"]
  assert "StatisticsGen" in depends["ExampleValidator"]
  assert "DataValidationGate" in depends["Transform"]  # anomalies stop the run before Transform
  for model in vocabulary.MODELS:
    assert "Transform" in depends[f"{model}_trainer"]
    assert f"{model}_trainer" in depends[f"{model}_evaluator"]
    assert f"{model}_evaluator" in depends[f"{model}_pusher"]


def test_trainers_request_gpus_and_everything_runs_the_image(compiled):
  _, job = compiled
  for model in vocabulary.MODELS:
    resources = _executor(job, f"{model}_trainer")["resources"]
    assert resources["accelerator"] == {"type": "nvidia.com/gpu", "count": "2"}
    assert resources["cpuLimit"] == 4.0 and resources["memoryLimit"] == 16.0
  for task in BEAM_COMPONENTS + ("DataValidationGate", "classifier_pusher"):
    container = _executor(job, task)
    assert container["image"] == IMAGE
    assert "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor" in " ".join(container["command"])
  for task in BEAM_COMPONENTS:
    args = _executor(job, task)["args"]
    assert all(a in args for a in BEAM_ARGS), (task, args)
  assert "resources" not in _executor(job, "Transform")


def test_the_classifier_starts_from_the_pretrained_network_baked_into_the_image(compiled):
  from trainer import face_network
  _, job = compiled
  tasks = job["pipelineSpec"]["root"]["dag"]["tasks"]
  assert "pretrained_face_network" in tasks["classifier_trainer"].get("dependentTasks", [])
  assert "classifier_trainer" in tasks["regressor_trainer"].get("dependentTasks", [])
  importer = job["pipelineSpec"]["deploymentSpec"]["executors"][
      job["pipelineSpec"]["components"][tasks["pretrained_face_network"]["componentRef"]["name"]]["executorLabel"]]
  expected = face_network.converted_dir(hyperparameters.TrainingConfig().pretrained_variant, configs.KUBEFLOW_PRETRAINED_CACHE)
  assert json.dumps(importer["importer"]).count(expected) == 1, importer
  dockerfile = (REPO / "kubeflow" / "Dockerfile").read_text()
  assert f"ENV FDP_PRETRAINED_CACHE={configs.KUBEFLOW_PRETRAINED_CACHE}" in dockerfile
  assert "RUN python -m trainer.face_network" in dockerfile


def _parameter(job, task, name):
  value = job["pipelineSpec"]["root"]["dag"]["tasks"][task]["inputs"]["parameters"][name]
  return json.loads(value["runtimeValue"]["constantValue"]["stringValue"])


def test_the_compiled_job_blesses_on_a_split_no_trainer_reads(compiled):
  """ExampleGen writes four splits; the Trainers fit on train and choose their epoch on validation; the
  Evaluators bless on eval; Transform materialises only what the Trainers read; test is left alone."""
  _, job = compiled
  written = [s["name"] for s in _parameter(job, "FileBasedExampleGen", "output_config")["split_config"]["splits"]]
  assert written == ["train", "validation", "eval", "test"]
  assert _parameter(job, "Transform", "splits_config") == {"analyze": ["train"], "transform": ["train", "validation"]}
  for model in vocabulary.MODELS:
    assert _parameter(job, f"{model}_trainer", "train_args") == {"splits": ["train"]}
    assert _parameter(job, f"{model}_trainer", "eval_args") == {"splits": ["validation"]}
    assert _parameter(job, f"{model}_evaluator", "example_splits") == ["eval"]


def test_user_code_is_referenced_by_module_path(compiled):
  path, _ = compiled
  text = path.read_text()
  assert "trainer.preprocessing.preprocessing_fn" in text and "trainer.train.run_fn" in text



def test_cpu_only_compile_has_no_accelerator(tmp_path):
  runner.compile_pipeline(str(tmp_path / "p.json"), pipeline_root="/tfx", data_root="/data",
                          resources=runner.TrainerResources(gpus=0))
  job = json.loads((tmp_path / "p.json").read_text())
  assert "accelerator" not in _executor(job, "classifier_trainer").get("resources", {})


def test_local_and_kubeflow_pipelines_have_the_same_components():
  from pipeline import pipeline
  local = pipeline.create_pipeline(pipeline_name="p", pipeline_root="/r", data_root="/d", dataset="utkface",
                                   serving_root="/s", pretrained_model_uri="/pretrained")
  kubeflow = runner.build_pipeline(data_root="/d", pipeline_root="/r", serving_root="/s", pipeline_name="p")
  describe = lambda p: [(c.id, type(c).__name__, sorted(c.exec_properties)) for c in p.components]  # noqa: E731
  assert describe(local) == describe(kubeflow)


class _FakeKfpApi:
  """Stands in for the KFP API server's HTTP transport (no KFP backend can run here)."""

  def __init__(self):
    self.calls = []

  def request(self, _client, method, url, query_params=None, headers=None, body=None, post_params=None,
              _preload_content=True, _request_timeout=None):
    self.calls.append((method, url.split("/apis/v2beta1")[1], body))
    if method == "POST" and url.endswith("/experiments"):
      data = {"experiment_id": "exp-1", "display_name": body["display_name"]}
    elif url.endswith("/experiments"):
      data = {"experiments": [{"experiment_id": "exp-1", "display_name": "face-demographics"}], "total_size": 1}
    elif url.endswith("/recurringruns"):
      data = {"recurring_run_id": "rr-1"}
    elif url.endswith("/runs"):
      data = {"run_id": "run-1"}
    else:
      data = {}
    response = mock.Mock(status=200, reason="OK", data=json.dumps(data).encode())
    response.getheaders.return_value = {}
    response.getheader.return_value = None
    return response


@pytest.fixture
def fake_api():
  api = _FakeKfpApi()
  with mock.patch.object(kfp_server_api.rest.RESTClientObject, "request",
                         lambda self, *a, **k: api.request(self, *a, **k)):
    yield api


def test_submit_sends_a_v2beta1_run(compiled, fake_api):
  path, job = compiled
  client = kfp_client.make_client("http://kfp.example:8080", namespace="ml")
  result = kfp_client.submit(client, str(path), experiment="face-demographics", namespace="ml")
  assert result.run_id == "run-1"
  (_, _, body), = [c for c in fake_api.calls if c[0] == "POST" and c[1] == "/runs"]
  run = kfp_server_api.V2beta1Run(**body)
  assert run.experiment_id == "exp-1"
  assert run.pipeline_spec["pipelineInfo"]["name"] == configs.PIPELINE_NAME
  assert run.pipeline_spec["defaultPipelineRoot"] == "gs://bucket/tfx"
  assert set(run.pipeline_spec["root"]["dag"]["tasks"]) == set(job["pipelineSpec"]["root"]["dag"]["tasks"])


def test_schedule_sends_a_non_overlapping_recurring_run(compiled, fake_api):
  path, _ = compiled
  client = kfp_client.make_client("http://kfp.example:8080")
  recurring = kfp_client.schedule(client, str(path), "0 3 * * 0", experiment="face-demographics")
  assert recurring.recurring_run_id == "rr-1"
  (_, _, body), = [c for c in fake_api.calls if c[0] == "POST" and c[1] == "/recurringruns"]
  recurring_run = kfp_server_api.V2beta1RecurringRun(**body)
  assert recurring_run.trigger["cron_schedule"]["cron"] == "0 0 3 * * 0"
  assert int(recurring_run.max_concurrency) == 1 and recurring_run.no_catchup is True
  assert recurring_run.mode == "ENABLE" and recurring_run.experiment_id == "exp-1"


@pytest.mark.parametrize("cron,expected", [("0 3 * * 0", "0 0 3 * * 0"), ("30 0 3 * * 0", "30 0 3 * * 0")])
def test_kfp_cron(cron, expected):
  assert kfp_client.kfp_cron(cron) == expected


def test_bad_cron_and_bad_file_are_clear_errors(tmp_path):
  with pytest.raises(ValueError, match="5 .* or 6"):
    kfp_client.kfp_cron("daily")
  (tmp_path / "x.json").write_text("{}")
  with pytest.raises(ValueError, match="not a PipelineJob"):
    kfp_client.load_pipeline_job(str(tmp_path / "x.json"))


def test_dockerfile_pins_its_base_and_installs_from_the_lock_file():
  lines = [l.strip() for l in (REPO / "kubeflow" / "Dockerfile").read_text().splitlines()
           if l.strip() and not l.startswith("#")]
  base = next(l for l in lines if l.startswith("FROM "))
  assert re.fullmatch(r"FROM tensorflow/tfx:1\.16\.0(@sha256:[0-9a-f]{64})?", base)
  text = "\n".join(lines)
  assert "COPY requirements.lock" in text and "-r requirements.lock" in text
  assert "--no-deps ." in text


def _example_gen_options(job) -> dict:
  return _parameter(job, "FileBasedExampleGen", "custom_config")["custom_config"]["value"]


def test_a_second_folder_and_its_weight_reach_the_compiled_job(tmp_path):
  """`fdp run kubeflow --more-data wiki=FOLDER --source-weight wiki=0.5`: the ExampleGen reads the WIKI folder
  beside the UTKFace data root (fingerprinted where this machine can read it), the schema is the combined
  one and the Trainers weigh WIKI's images by 0.5."""
  from cli import main as cli
  wiki_root = tmp_path / "wiki_crop_64"
  wiki_root.mkdir()
  (wiki_root / "wiki.mat").write_bytes(b"MATLAB 5.0")
  out = tmp_path / "both.json"
  assert cli.main(["run", "kubeflow", "--output", str(out), "--pipeline-root", "gs://bucket/tfx",
                   "--data-root", "gs://bucket/UTKFace", "--more-data", f"wiki={wiki_root}",
                   "--source-weight", "wiki=0.5", "--gpus", "0"]) == 0
  job = json.loads(out.read_text())
  config = _example_gen_options(job)
  assert config["more_sources"] == [{"dataset": "wiki", "root": str(wiki_root)}]
  assert config["more_sources_fingerprint"][0].startswith(f"{wiki_root / 'wiki.mat'}:10:")
  assert _parameter(job, "classifier_trainer", "custom_config")["training"]["source_weights"] == {"wiki": 0.5}
  assert "utkface_wiki.pbtxt" in json.dumps(job["pipelineSpec"]["root"]["dag"]["tasks"]["ImportSchemaGen"])
  unreadable = tmp_path / "pods-only.json"  # a folder only the cluster's pods can read: named, not fingerprinted
  assert cli.main(["run", "kubeflow", "--output", str(unreadable), "--pipeline-root", "/tfx", "--data-root",
                   "/data/UTKFace", "--more-data", "wiki=/pods/wiki_crop_64", "--gpus", "0"]) == 0
  config = _example_gen_options(json.loads(unreadable.read_text()))
  assert config["more_sources_fingerprint"] == [f"/pods/wiki_crop_64:{example_gen.UNREAD}"]


@pytest.mark.parametrize("flags, message", [
    (["--more-data", "wiki"], "expected utkface=FOLDER or wiki=FOLDER"),
    (["--more-data", "utkface=/more"], "one UTKFace and one WIKI folder (found: utkface, utkface)"),
    (["--more-data", "wiki=/w", "--spans"], "cannot be combined with --more-data"),
    (["--more-data", "wiki=/w", "--source-weight", "wiki=half"], "expected SOURCE=WEIGHT")])
def test_bad_data_options_stop_the_compile_with_one_line(tmp_path, capsys, flags, message):
  from cli import main as cli
  with pytest.raises(SystemExit) as e:
    cli.main(["run", "kubeflow", "--output", str(tmp_path / "p.json"), "--pipeline-root", "/tfx",
              "--data-root", "/data", *flags])
  assert message in str(e.value) and not (tmp_path / "p.json").exists()
