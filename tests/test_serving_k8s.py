"""serving/k8s/ against the Kubernetes API schemas (kubernetes-validate, strict), its shutdown timing against
`fdp serve`'s drain, and its command line run unchanged by `fdp serve` (no cluster runs here)."""
import os
import pathlib
import shutil

import kubernetes_validate
import pytest
import requests
import werkzeug.test
import yaml

from cli import main as cli
from serving import defaults
from serving.server import model_config
from serving.server import deployment_files
from serving.server import core as core_lib
from serving.server import rest
from serving.server.registry import ModelRegistry
from tests.serve_process import serve_process
import vocabulary

K8S = pathlib.Path(deployment_files.__file__).parent.parent / "k8s"
KUBERNETES_VERSION = "1.37.0"
OVERLAY = K8S / "fdp-serve"


def _load(path: pathlib.Path) -> dict:
  return yaml.safe_load(path.read_text())


def _resources():
  return {name: _load(K8S / name) for name in _load(K8S / "kustomization.yaml")["resources"]}


def _with_overlay(deployment: dict) -> dict:
  """The fdp-serve overlay's JSON patch applied (replace and add, the two operations it uses)."""
  (patch,) = _load(OVERLAY / "kustomization.yaml")["patches"]
  assert patch["target"] == {"kind": "Deployment", "name": deployment["metadata"]["name"]}
  patched = yaml.safe_load(yaml.safe_dump(deployment))
  for op in yaml.safe_load(patch["patch"]):
    *parents, last = [int(p) if p.isdigit() else p for p in op["path"].strip("/").split("/")]
    target = patched
    for key in parents:
      target = target[key]
    assert op["op"] in ("replace", "add") and (op["op"] == "add" or last in target)
    target[last] = op["value"]
  return patched


@pytest.mark.parametrize("name", sorted(_resources()))
def test_every_manifest_is_valid_for_the_kubernetes_api(name):
  kubernetes_validate.validate(_resources()[name], KUBERNETES_VERSION, strict=True)


def test_the_fdp_serve_overlay_is_valid_and_changes_only_image_and_command():
  deployment = _resources()["deployment.yaml"]
  patched = _with_overlay(deployment)
  kubernetes_validate.validate(patched, KUBERNETES_VERSION, strict=True)
  (before,), (after,) = (d["spec"]["template"]["spec"]["containers"] for d in (deployment, patched))
  assert after["command"][:2] == ["fdp", "serve"] and after["image"] != before["image"]
  assert {k: v for k, v in after.items() if k not in ("image", "command")} == \
      {k: v for k, v in before.items() if k != "image"}


def _drain_seconds(container) -> float:
  args = cli.build_parser().parse_args(container.get("command", ["fdp", "serve"])[1:] + container["args"])
  return args.drain_seconds


def test_shutdown_timing_fits_the_grace_period():
  patched = _with_overlay(_resources()["deployment.yaml"])
  pod = patched["spec"]["template"]["spec"]
  (container,) = pod["containers"]
  pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
  assert pre_stop[0] == "sleep"
  drain = _drain_seconds(container)
  assert drain == defaults.DRAIN_SECONDS
  assert float(pre_stop[1]) + drain < pod["terminationGracePeriodSeconds"]
  readiness = container["readinessProbe"]
  assert readiness["httpGet"]["path"] == f"/v1/models/{vocabulary.CLASSIFIER}"


def test_the_readiness_path_answers_503_while_draining(tmp_path):
  registry = ModelRegistry(model_config.model_server_config(str(tmp_path), models=[vocabulary.CLASSIFIER]), object)
  draining = [False]
  app = rest.RestApp(core_lib.ServingCore(registry), 1 << 20, is_draining=lambda: draining[0])
  client = werkzeug.test.Client(app)
  assert client.get(f"/v1/models/{vocabulary.CLASSIFIER}").status_code == 404  # no version yet, but up
  draining[0] = True
  response = client.get(f"/v1/models/{vocabulary.CLASSIFIER}")
  assert response.status_code == 503 and "shutting down" in response.get_json()["error"]


def test_the_deployments_command_line_runs_fdp_serve_unchanged(tmp_path, shipped_models):
  """The container's args, with the two mounted folders pointed at local copies, start `fdp serve`."""
  models = tmp_path / "models"
  for model, path in shipped_models.items():
    os.makedirs(models / model)
    os.symlink(path, models / model / os.path.basename(path))
  config_dir = tmp_path / "etc-tfserving"
  config_dir.mkdir()
  for name, text in _resources()["configmap.yaml"]["data"].items():
    (config_dir / name).write_text(text.replace(deployment_files.CONTAINER_MODELS_DIR, str(models)))
  (container,) = _resources()["deployment.yaml"]["spec"]["template"]["spec"]["containers"]
  mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
  args = [arg.replace(mounts["config"], str(config_dir)) for arg in container["args"]]
  assert any(arg.startswith("--model_config_file_poll_wait_seconds") for arg in args)
  with serve_process(*args) as served:  # its --rest-port 0 --grpc-port 0 come after the manifest's ports
    status = requests.get(f"http://127.0.0.1:{served.rest_port}/v1/models/{vocabulary.REGRESSOR}", timeout=30)
    assert status.json()["model_version_status"][0]["state"] == "AVAILABLE"
    metrics_path = model_config.read_monitoring_config(str(config_dir / deployment_files.MONITORING_CONFIG)).prometheus_config.path
    assert requests.get(f"http://127.0.0.1:{served.rest_port}{metrics_path}", timeout=30).status_code == 200
  shutil.rmtree(config_dir)
