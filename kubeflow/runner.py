"""Compiles create_pipeline() for Kubeflow Pipelines (KFP v2 PipelineJob JSON) with KubeflowV2DagRunner.

The pipeline is the one the local runner runs; only the runner config differs: data root, pipeline
root, serving root, container image, Beam pipeline args and the Trainers' resources (GPUs).
User code is referenced by dotted module paths and baked into the image (kubeflow/Dockerfile), so
compiling uploads nothing.
"""
import dataclasses
import os
from typing import Dict, List, Optional, Sequence

from pipeline import configs
from pipeline.configs import EvaluationThresholds
from trainer.hyperparameters import TrainingConfig
import vocabulary

GPU_RESOURCE = "nvidia.com/gpu"


@dataclasses.dataclass(frozen=True)
class TrainerResources:
  """What each Trainer pod asks for. GPUs are used through MirroredStrategy (trainer/train.py)."""
  gpus: int = 1
  cpu: float = 4.0
  memory_gb: float = 16.0


def trainer_resource_spec(resources: TrainerResources):
  from kfp.pipeline_spec import pipeline_spec_pb2  # pylint: disable=g-import-not-at-top
  spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec(
      cpu_limit=resources.cpu, memory_limit=resources.memory_gb)
  if resources.gpus:
    spec.accelerator.type = GPU_RESOURCE
    spec.accelerator.count = resources.gpus
  return spec


def build_pipeline(data_root: str, pipeline_root: str, serving_root: Optional[str] = None,
                   dataset: str = vocabulary.UTKFACE, beam_pipeline_args: Optional[List[str]] = None,
                   training: TrainingConfig = TrainingConfig(),
                   thresholds: EvaluationThresholds = EvaluationThresholds(),
                   resources: TrainerResources = TrainerResources(), pipeline_name: str = configs.PIPELINE_NAME,
                   spans: bool = False, wiki_mat: Optional[str] = None,
                   more_sources: Sequence[Dict[str, str]] = ()):
  """create_pipeline() with the Kubeflow config; the Trainers get the resource request. `more_sources`
  ({"dataset", "root", "wiki_mat"?} each, paths as the pods see them) are read into the same run."""
  from pipeline import pipeline  # pylint: disable=g-import-not-at-top
  from trainer import face_network  # pylint: disable=g-import-not-at-top
  tfx_pipeline = pipeline.create_pipeline(
      pipeline_name=pipeline_name, pipeline_root=pipeline_root, data_root=data_root, dataset=dataset,
      serving_root=serving_root or os.path.join(pipeline_root, "serving_model"), training=training,
      thresholds=thresholds, beam_pipeline_args=beam_pipeline_args, spans=spans, wiki_mat=wiki_mat,
      more_sources=more_sources,
      # converted into the image at build time (kubeflow/Dockerfile)
      pretrained_model_uri=face_network.converted_dir(training.pretrained_variant,
                                                      configs.KUBEFLOW_PRETRAINED_CACHE))
  trainer_ids = {pipeline.trainer_id(m) for m in vocabulary.MODELS}
  for component in tfx_pipeline.components:
    if component.id in trainer_ids:
      component.with_platform_config(trainer_resource_spec(resources))
  return tfx_pipeline


def compile_pipeline(output: str, image: str = configs.KUBEFLOW_IMAGE, **pipeline_args) -> dict:
  """Writes the PipelineJob JSON to `output`; returns it as a dict."""
  from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
  runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
      config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=image),
      output_dir=os.path.dirname(os.path.abspath(output)), output_filename=os.path.basename(output))
  return runner.run(build_pipeline(**pipeline_args), write_out=True)
