"""Submitting and scheduling the compiled pipeline with the kfp client (KFP v2 API).

KubeflowV2DagRunner writes a PipelineJob (pipelineSpec + runtimeConfig); the kfp client takes a
pipeline package (the PipelineSpec as YAML), so the spec is unwrapped into one first.
"""
import json
import os
import tempfile
from typing import Optional


def load_pipeline_job(path: str) -> dict:
  with open(path) as f:
    job = json.load(f)
  if "pipelineSpec" not in job:
    raise ValueError(f"{path} is not a PipelineJob JSON (compile it with `fdp run kubeflow`)")
  return job


def write_package(job: dict, directory: str) -> str:
  """The PipelineSpec of a PipelineJob as a kfp package file (pipeline.yaml), with the job's pipeline
  root as the spec's default (recurring runs take no pipeline root of their own)."""
  import yaml  # pylint: disable=g-import-not-at-top
  spec = dict(job["pipelineSpec"])
  if _pipeline_root(job):
    spec["defaultPipelineRoot"] = _pipeline_root(job)
  path = os.path.join(directory, "pipeline.yaml")
  with open(path, "w") as f:
    yaml.safe_dump(spec, f, sort_keys=False)
  return path


def kfp_cron(expression: str) -> str:
  """KFP's cron has a seconds field first: "0 3 * * 0" (crontab) -> "0 0 3 * * 0"."""
  fields = expression.split()
  if len(fields) == 5:
    return "0 " + expression.strip()
  if len(fields) == 6:
    return expression.strip()
  raise ValueError(f"cron expression must have 5 (crontab) or 6 (with seconds) fields: {expression!r}")


def make_client(host: str, namespace: Optional[str] = None):
  import kfp  # pylint: disable=g-import-not-at-top
  return kfp.Client(host=host, namespace=namespace)


def _pipeline_root(job: dict) -> Optional[str]:
  return job.get("runtimeConfig", {}).get("gcsOutputDirectory")


def submit(client, pipeline_json: str, experiment: str, namespace: Optional[str] = None,
           run_name: Optional[str] = None):
  """Starts one run of the compiled pipeline; returns the kfp RunPipelineResult."""
  job = load_pipeline_job(pipeline_json)
  with tempfile.TemporaryDirectory() as tmp:
    return client.create_run_from_pipeline_package(
        write_package(job, tmp), arguments={}, run_name=run_name or job.get("displayName"),
        experiment_name=experiment, namespace=namespace, pipeline_root=_pipeline_root(job),
        enable_caching=True)


def schedule(client, pipeline_json: str, cron: str, experiment: str, namespace: Optional[str] = None,
             job_name: Optional[str] = None):
  """A recurring run: at most one run at a time, no catch-up of missed schedules."""
  job = load_pipeline_job(pipeline_json)
  experiment_id = client.create_experiment(experiment, namespace=namespace).experiment_id
  with tempfile.TemporaryDirectory() as tmp:
    return client.create_recurring_run(
        experiment_id=experiment_id, job_name=job_name or f"{job.get('displayName', 'pipeline')}-scheduled",
        cron_expression=kfp_cron(cron), max_concurrency=1, no_catchup=True, enabled=True,
        pipeline_package_path=write_package(job, tmp), enable_caching=True)
