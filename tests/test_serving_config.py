"""TF Serving's config files and the Kubernetes manifests: parsed, and the fields that matter checked
(no Docker engine or cluster runs here)."""
import importlib.metadata
import pathlib
import subprocess
import sys

import pytest
import yaml
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from serving import defaults
from serving.server import batching
from serving.server import model_config
from serving.server import deployment_files
from serving.server import protos
import vocabulary

K8S = pathlib.Path(deployment_files.__file__).parent.parent / "k8s"  # serving/k8s/
README = K8S.parent.parent / "README.md"


def _manifest(name: str) -> dict:
  return yaml.safe_load((K8S / name).read_text())


def _container() -> dict:
  (container,) = _manifest("deployment.yaml")["spec"]["template"]["spec"]["containers"]
  return container


def _args() -> dict:
  return dict(arg.lstrip("-").split("=", 1) for arg in _container()["args"])


def test_models_config_serves_the_latest_version_of_both_models():
  parsed = text_format.Parse(deployment_files.config_texts("/models")[deployment_files.MODELS_CONFIG],
                             model_server_config_pb2.ModelServerConfig())
  entries = {c.name: c for c in parsed.model_config_list.config}
  assert set(entries) == set(vocabulary.MODELS)
  for name, entry in entries.items():
    assert entry.base_path == f"/models/{name}"
    assert entry.model_platform == "tensorflow"
    assert entry.model_version_policy.WhichOneof("policy_choice") == "latest"
    assert entry.model_version_policy.latest.num_versions == 1
    assert not entry.version_labels


def test_labels_pin_specific_versions():
  labels = {vocabulary.CLASSIFIER: {deployment_files.STABLE: 3, deployment_files.CANARY: 4}}
  parsed = model_config.model_server_config("/srv", labels=labels)
  classifier, regressor = parsed.model_config_list.config
  assert list(classifier.model_version_policy.specific.versions) == [3, 4]
  assert dict(classifier.version_labels) == {"stable": 3, "canary": 4}
  assert regressor.model_version_policy.latest.num_versions == 1


def test_batching_and_monitoring_files_parse_as_tf_serving_messages():
  texts = deployment_files.config_texts()
  params = text_format.Parse(texts[deployment_files.BATCHING_CONFIG], protos.BatchingParameters())
  assert params.max_batch_size.value == 32 and params.batch_timeout_micros.value == 2000
  options = batching.BatchingOptions.from_proto(params)
  assert (options.max_batch_size, options.batch_timeout_s, options.num_batch_threads) == (32, 0.002, 2)
  assert "max_batch_size {\n  value: 32\n}" in texts[deployment_files.BATCHING_CONFIG]  # TF Serving's documented form
  monitoring = text_format.Parse(texts[deployment_files.MONITORING_CONFIG], protos.MonitoringConfig())
  assert monitoring.prometheus_config.enable
  assert monitoring.prometheus_config.path == "/monitoring/prometheus/metrics"


def test_written_config_files_read_back(tmp_path):
  out = subprocess.run([sys.executable, "-m", "cli", "serving-config", "--out", str(tmp_path), "--base-path", "/srv",
                        "--label", "classifier:canary=7"], check=True, capture_output=True, text=True).stdout
  assert len(out.split()) == 3
  parsed = model_config.read_model_config(str(tmp_path / deployment_files.MODELS_CONFIG))
  assert dict(parsed.model_config_list.config[0].version_labels) == {"canary": 7}
  assert model_config.read_batching_parameters(str(tmp_path / deployment_files.BATCHING_CONFIG)).num_batch_threads.value == 2
  with pytest.raises(text_format.ParseError):
    text_format.Parse("max_batch_size: {", protos.BatchingParameters())


def test_base_dir_config_has_one_model_per_folder(tmp_path):
  for name in ("classifier", "regressor", ".hidden"):
    (tmp_path / name).mkdir()
  (tmp_path / "notes.txt").write_text("x")
  parsed = model_config.model_config_for_base_dir(str(tmp_path))
  assert [(c.name, c.base_path) for c in parsed.model_config_list.config] == [
      ("classifier", str(tmp_path / "classifier")), ("regressor", str(tmp_path / "regressor"))]
  with pytest.raises(ValueError, match="no model folders"):
    model_config.model_config_for_base_dir(str(tmp_path / "classifier"))


def test_configmap_is_the_generated_one():
  assert (K8S / "configmap.yaml").read_text() == deployment_files.configmap_manifest()
  data = _manifest("configmap.yaml")["data"]
  assert set(data) == {deployment_files.MODELS_CONFIG, deployment_files.BATCHING_CONFIG, deployment_files.MONITORING_CONFIG}
  parsed = text_format.Parse(data[deployment_files.MODELS_CONFIG], model_server_config_pb2.ModelServerConfig())
  assert [c.base_path for c in parsed.model_config_list.config] == ["/models/classifier", "/models/regressor"]


def test_deployment_runs_the_pinned_image_with_our_config_files():
  container = _container()
  image, tag = container["image"].split(":")
  assert image == "tensorflow/serving" and tag == "2.16.1"
  trained_with = importlib.metadata.version("tensorflow")
  assert tag.rsplit(".", 1)[0] == trained_with.rsplit(".", 1)[0]  # the TF minor release we train with
  args = _args()
  assert (args["port"], args["rest_api_port"]) == ("8500", "8501")
  mounts = {m["name"]: m for m in container["volumeMounts"]}
  config_dir = mounts["config"]["mountPath"]
  data = _manifest("configmap.yaml")["data"]
  for flag, name in (("model_config_file", deployment_files.MODELS_CONFIG), ("batching_parameters_file", deployment_files.BATCHING_CONFIG),
                     ("monitoring_config_file", deployment_files.MONITORING_CONFIG)):
    assert args[flag] == f"{config_dir}/{name}" and name in data
  assert args["enable_batching"] == "true"
  assert mounts["models"]["mountPath"] == deployment_files.CONTAINER_MODELS_DIR and mounts["models"]["readOnly"]
  volumes = {v["name"]: v for v in _manifest("deployment.yaml")["spec"]["template"]["spec"]["volumes"]}
  assert volumes["config"]["configMap"]["name"] == _manifest("configmap.yaml")["metadata"]["name"]
  assert volumes["models"]["persistentVolumeClaim"]["claimName"] == _manifest("pvc.yaml")["metadata"]["name"]


def test_deployment_ports_probes_and_resources():
  container = _container()
  ports = {p["name"]: p["containerPort"] for p in container["ports"]}
  assert ports == {"grpc": defaults.GRPC_PORT, "rest": defaults.REST_PORT}
  for probe in ("readinessProbe", "livenessProbe"):
    get = container[probe]["httpGet"]
    assert get["path"] == "/v1/models/classifier" and ports[get["port"]] == 8501
  assert container["resources"]["requests"]["cpu"] and container["resources"]["requests"]["memory"]
  deployment = _manifest("deployment.yaml")
  assert deployment["spec"]["selector"]["matchLabels"] == deployment["spec"]["template"]["metadata"]["labels"]
  annotations = deployment["spec"]["template"]["metadata"]["annotations"]
  assert annotations["prometheus.io/path"] == deployment_files.PROMETHEUS_PATH


def test_service_exposes_both_ports_and_kustomization_lists_everything():
  service = _manifest("service.yaml")
  assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {"grpc": 8500, "rest": 8501}
  assert service["spec"]["selector"] == _manifest("deployment.yaml")["spec"]["selector"]["matchLabels"]
  listed = set(_manifest("kustomization.yaml")["resources"])
  assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def test_readme_section_shows_docker_run_and_kubectl_apply():
  text = README.read_text()
  docker = next(line for line in text.splitlines() if line.startswith("docker run"))
  assert "-p 8500:8500" in docker and "-p 8501:8501" in docker and deployment_files.IMAGE in docker
  assert "--model_config_file=" in docker
  assert "kubectl apply -k serving/k8s" in text
