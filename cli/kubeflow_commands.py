"""`fdp run kubeflow` (compile) and `fdp kubeflow submit|schedule`. Nothing heavy is imported here."""
import os
import sys

from cli import beam_options
from cli import data_options
from pipeline import configs
import vocabulary


def cmd_compile(args) -> int:
  from kubeflow import runner  # pylint: disable=g-import-not-at-top
  from trainer import hyperparameters  # pylint: disable=g-import-not-at-top
  try:
    beam_args = beam_options.split(args.beam_args) or None
  except beam_options.BeamArgsError as e:
    sys.exit(f"fdp: {e}")
  more_sources = data_options.more_data(args.more_data, args.dataset, args.wiki_mat)
  if more_sources and args.spans:
    sys.exit("fdp run kubeflow: --spans reads one data root; it cannot be combined with --more-data")
  training = hyperparameters.TrainingConfig(source_weights=data_options.source_weights(args.source_weight or ()) or None)
  runner.compile_pipeline(
      args.output, image=args.image, data_root=args.data_root, pipeline_root=args.pipeline_root,
      serving_root=args.serving_root, dataset=args.dataset, beam_pipeline_args=beam_args, spans=args.spans,
      wiki_mat=args.wiki_mat if args.dataset == vocabulary.WIKI else None, more_sources=more_sources,
      training=training,
      resources=runner.TrainerResources(gpus=args.gpus, cpu=args.trainer_cpu, memory_gb=args.trainer_memory_gb))
  print(f"Wrote the KFP v2 PipelineJob to {os.path.abspath(args.output)} (image {args.image})")
  return 0


def cmd_submit(args) -> int:
  from kubeflow import kfp_client  # pylint: disable=g-import-not-at-top
  result = kfp_client.submit(kfp_client.make_client(args.host, args.namespace), args.pipeline_json,
                             experiment=args.experiment, namespace=args.namespace)
  print(f"Submitted run {result.run_id}")
  return 0


def cmd_schedule(args) -> int:
  from kubeflow import kfp_client  # pylint: disable=g-import-not-at-top
  job = kfp_client.schedule(kfp_client.make_client(args.host, args.namespace), args.pipeline_json, args.cron,
                            experiment=args.experiment, namespace=args.namespace)
  print(f"Scheduled recurring run {job.recurring_run_id} ({args.cron}, no overlapping runs)")
  return 0


def register(sub, run_sub) -> None:
  """Adds `run kubeflow` to the `run` group and the `kubeflow` command group."""
  compile_parser = run_sub.add_parser("kubeflow", help="compile the pipeline for Kubeflow Pipelines (KFP v2 JSON)")
  compile_parser.add_argument("--output", default="pipeline.json")
  compile_parser.add_argument("--image", default=configs.KUBEFLOW_IMAGE,
                              help="the image built from kubeflow/Dockerfile")
  compile_parser.add_argument("--pipeline-root", required=True, help="e.g. gs://bucket/tfx or s3://...")
  compile_parser.add_argument("--data-root", required=True, help="the dataset folder as the pods see it")
  compile_parser.add_argument("--serving-root", help="where Pushers write (default: <pipeline-root>/serving_model)")
  compile_parser.add_argument("--dataset", choices=vocabulary.DATASETS, default=vocabulary.UTKFACE,
                              help="the --data-root folder's kind")
  compile_parser.add_argument("--more-data", action="append", metavar="DATASET=FOLDER",
                              help="another folder read into the same run, as the pods see it, e.g. "
                                   "wiki=gs://bucket/wiki_crop_64 with --data-root a UTKFace folder")
  compile_parser.add_argument("--wiki-mat", help="wiki.mat, if not inside the WIKI folder (as the pods see it)")
  data_options.add_source_weight(compile_parser)
  compile_parser.add_argument("--spans", action="store_true",
                              help="new data arrives as <data-root>/span-N/ folders: each run reads the latest")
  compile_parser.add_argument("--gpus", type=int, default=1, help="nvidia.com/gpu per Trainer (0: CPU only)")
  compile_parser.add_argument("--trainer-cpu", type=float, default=4.0)
  compile_parser.add_argument("--trainer-memory-gb", type=float, default=16.0)
  compile_parser.add_argument("--beam-args", action="append", metavar="ARGS",
                              help='Beam pipeline args for ExampleGen/StatisticsGen/Transform/Evaluator, e.g. '
                                   '"--runner=DataflowRunner --project=P --region=R --temp_location=gs://b/tmp"')
  compile_parser.set_defaults(func=cmd_compile)

  kubeflow = sub.add_parser("kubeflow", help="submit or schedule a compiled pipeline on Kubeflow Pipelines")
  commands = kubeflow.add_subparsers(dest="kubeflow_command", required=True)
  for name, func, helptext in (("submit", cmd_submit, "start one run"),
                               ("schedule", cmd_schedule, "create a recurring run")):
    parser = commands.add_parser(name, help=helptext)
    parser.add_argument("pipeline_json")
    parser.add_argument("--host", required=True, help="the KFP API endpoint, e.g. http://localhost:8080")
    parser.add_argument("--namespace")
    parser.add_argument("--experiment", default=configs.PIPELINE_NAME)
    if name == "schedule":
      parser.add_argument("--cron", required=True, help='crontab expression, e.g. "0 3 * * 0" (Sundays 03:00)')
    parser.set_defaults(func=func)
