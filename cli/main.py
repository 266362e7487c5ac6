"""`fdp`: the project's one command. Subcommands import TensorFlow/TFX only when they run, so
`fdp --help` answers at once."""
import argparse
import dataclasses
import json
import os
import sys
import time

from cli import batch_predict_command
from cli import beam_local_command
from cli import beam_options
from cli import data_options
from cli import kubeflow_commands
from cli import predict_command
from cli import serving_commands
from cli import warmup_command
from cli import web_command
from components import wiki
from pipeline import configs
from trainer import hyperparameters
from vocabulary import layout
from vocabulary import settings
import vocabulary

SMOKE_IMAGES = 240


def _detect_dataset(data_root: str) -> str:
  if os.path.exists(os.path.join(data_root, layout.REPORT_FILE)):
    return vocabulary.TFRECORDS
  if os.path.exists(os.path.join(data_root, wiki.METADATA_FILE)) or wiki.has_wiki_crop_layout(data_root):
    return vocabulary.WIKI
  return vocabulary.UTKFACE


def _training_config(args, base: hyperparameters.TrainingConfig) -> hyperparameters.TrainingConfig:
  overrides = {field: getattr(args, field)
               for field in ("epochs", "regressor_epochs", "image_size", "batch_size", "learning_rate", "warm_start")
               if getattr(args, field, None) is not None}
  if getattr(args, "source_weight", None):
    overrides["source_weights"] = data_options.source_weights(args.source_weight)
  return dataclasses.replace(base, **overrides)


def _data_sources(args):
  """(the first --data folder, its kind, the other folders as sources) of `fdp run local`; exits with one line
  on folders that are missing, of kinds that cannot share a run, or a wiki.mat that cannot be read."""
  for folder in args.data:
    if not os.path.isdir(folder):
      sys.exit(f"fdp: --data {folder}: no such folder")
  data_root, dataset = args.data[0], args.dataset or _detect_dataset(args.data[0])
  wiki_mat = args.wiki_mat and os.path.abspath(args.wiki_mat)
  more_sources = [data_options.source(_detect_dataset(folder), os.path.abspath(folder), wiki_mat)
                  for folder in args.data[1:]]
  datasets = [dataset] + [source["dataset"] for source in more_sources]
  data_options.check_datasets(datasets)
  if vocabulary.WIKI in datasets:
    wiki_root = args.data[datasets.index(vocabulary.WIKI)]
    try:
      wiki.check_metadata_file(args.wiki_mat or os.path.join(wiki_root, wiki.METADATA_FILE))
    except wiki.MetadataError as e:
      sys.exit(f"fdp run local: {e}")
  return data_root, dataset, more_sources


def cmd_run_local(args) -> int:
  from pipeline import local_runner  # pylint: disable=g-import-not-at-top
  beam_args = beam_options.pipeline_args(args)
  home = os.path.abspath(args.home)
  if args.data is None:
    from components import synthetic_faces  # pylint: disable=g-import-not-at-top
    data_root = os.path.join(home, "smoke_data")
    if not os.path.isdir(data_root):
      synthetic_faces.write_dataset(data_root, count=SMOKE_IMAGES)
    print(f"No --data given: smoke run on {SMOKE_IMAGES} synthetic drawings in {data_root}.\n"
          "It proves the pipeline runs end to end; its models are not meant for real faces.\n"
          "For real training: fdp run local --data /path/to/UTKFace")
    dataset, training, thresholds = vocabulary.UTKFACE, configs.SMOKE_TRAINING, configs.SMOKE_THRESHOLDS
    pipeline_name, more_sources = f"{configs.PIPELINE_NAME}-smoke", []
  else:
    data_root, dataset, more_sources = _data_sources(args)
    training, thresholds, pipeline_name = hyperparameters.TrainingConfig(), configs.EvaluationThresholds(), None
  summary = local_runner.run_local(
      data_root=data_root, dataset=dataset, home=home, training=_training_config(args, training),
      thresholds=thresholds, beam_pipeline_args=beam_args, pipeline_name=pipeline_name,
      wiki_mat=args.wiki_mat if dataset == vocabulary.WIKI else None, enable_cache=not args.no_cache,
      verbose=args.verbose, more_sources=more_sources)
  print()
  print(summary["text"])
  pushed = [m for m in summary["models"] if m["pushed_path"]]
  print(f"\nServing root: {summary['serving_root']}")
  for m in pushed:
    print(f"  {m['model']}: {m['pushed_path']}")
  return 0


def cmd_ingest(args) -> int:
  from components import ingest_job  # pylint: disable=g-import-not-at-top
  beam_args = beam_options.pipeline_args(args)
  if not os.path.isdir(args.dir):
    sys.exit(f"fdp ingest: {args.dir}: no such folder")
  try:
    report = ingest_job.run_ingest(args.dataset, args.dir, args.out, beam_args=beam_args,
                                   wiki_mat=args.wiki_mat, show_progress=not (args.quiet or args.beam_args))
  except wiki.MetadataError as e:
    sys.exit(f"fdp ingest: {e}")
  print(json.dumps(report["counts"], indent=2))
  print(f"TFRecords and ingest_report.json in {os.path.abspath(args.out)}; "
        f"run the pipeline on them with: fdp run local --data {args.out}")
  return 0


def cmd_evaluate(args) -> int:
  from pipeline import evaluate  # pylint: disable=g-import-not-at-top
  if not os.path.isdir(args.data):
    sys.exit(f"fdp evaluate: --data {args.data}: no such folder")
  try:
    report = evaluate.evaluate(args.model, args.data, split=args.split,
                               dataset=args.dataset or _detect_dataset(args.data), wiki_mat=args.wiki_mat)
  except (ValueError, OSError) as e:
    sys.exit(f"fdp evaluate: {e}")
  print(json.dumps(report, indent=2) if args.json else evaluate.format_report(report))
  return 0


def cmd_schedule(args) -> int:
  from pipeline import schedule  # pylint: disable=g-import-not-at-top
  home = os.path.abspath(args.home)
  run_args = [a for a in args.run_args if a != "--"] + ["--home", home]
  repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  lock_path = os.path.join(home, "schedule.lock")
  if args.print == "crontab":
    print(schedule.crontab_line(args.cron, run_args, repo, lock_path, os.path.join(home, "schedule.log")))
  elif args.print == "systemd":
    print(schedule.systemd_units(args.cron, run_args, repo))
  else:
    log = lambda msg: print(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] schedule: {msg}", flush=True)  # noqa: E731
    schedule.run_forever(args.cron, run_args, lock_path, log)
  return 0


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog="fdp", description="Facial demographics pipeline (TFX, TF Serving, Kubeflow).")
  sub = parser.add_subparsers(dest="command", required=True)

  run = sub.add_parser("run", help="run the TFX pipeline").add_subparsers(dest="runner", required=True)
  kubeflow_commands.register(sub, run)
  local = run.add_parser("local", help="run locally with LocalDagRunner (SQLite ML Metadata, Beam DirectRunner)")
  local.add_argument("--data", action="append", help="a UTKFace folder, a WIKI wiki_crop folder (with wiki.mat) "
                     "or an `fdp ingest` output; given twice (a UTKFace and a WIKI folder), both are read into "
                     "one run; default: a smoke run on generated drawings")
  local.add_argument("--dataset", choices=vocabulary.DATASETS, help="the first --data folder's kind; default: "
                     "detected from the folder")
  data_options.add_source_weight(local)
  local.add_argument("--epochs", type=int, help="the classifier's training epochs")
  local.add_argument("--regressor-epochs", type=int, help="the regressor's fine-tuning epochs (it starts from "
                     "the classifier trained in the same run)")
  local.add_argument("--image-size", type=int)
  local.add_argument("--batch-size", type=int)
  local.add_argument("--learning-rate", type=float)
  local.add_argument("--warm-start", action="store_true", default=None,
                     help="start training from the latest blessed model's weights")
  local.add_argument("--home", default=settings.home(), help="outputs, ML Metadata and serving root "
                     "(default: $FDP_HOME or ./fdp_home)")
  beam_options.add_options(local)
  local.add_argument("--wiki-mat", help="wiki.mat, if not inside the --data folder")
  local.add_argument("--no-cache", action="store_true", help="re-run every component")
  local.add_argument("--verbose", action="store_true", help="show TFX's own logs")
  local.set_defaults(func=cmd_run_local)

  scheduled = sub.add_parser("schedule", help="re-run the local pipeline on a cron schedule (foreground, "
                             "never overlapping), or print a crontab line / systemd units")
  scheduled.add_argument("--cron", required=True, help='e.g. "0 3 * * 0" (Sundays at 03:00)')
  scheduled.add_argument("--print", choices=("crontab", "systemd"), help="print instead of running")
  scheduled.add_argument("--home", default=settings.home())
  scheduled.add_argument("run_args", nargs=argparse.REMAINDER, help="-- then `fdp run local` options")
  scheduled.set_defaults(func=cmd_schedule)

  ingest = sub.add_parser("ingest", help="write a dataset folder as TFRecords of tf.Examples + a report")
  ingest.add_argument("dataset", choices=(vocabulary.UTKFACE, vocabulary.WIKI))
  ingest.add_argument("dir", help="the UTKFace folder, or the WIKI wiki_crop folder")
  ingest.add_argument("--out", required=True)
  ingest.add_argument("--wiki-mat", help="wiki.mat, if not inside the WIKI folder")
  beam_options.add_options(ingest)
  ingest.add_argument("--quiet", action="store_true", help="no progress bar")
  ingest.set_defaults(func=cmd_ingest)
  evaluate = sub.add_parser("evaluate", help="an exported model's metrics on one split of a data folder, "
                            "overall and per gender, race and age bucket")
  evaluate.add_argument("--model", required=True, help="a SavedModel folder, or a model folder of numbered versions")
  evaluate.add_argument("--data", required=True, help="a UTKFace/WIKI folder (split as the pipeline splits it) "
                        "or an `fdp ingest` output")
  evaluate.add_argument("--split", default="test", choices=layout.SPLITS)
  evaluate.add_argument("--dataset", choices=(vocabulary.UTKFACE, vocabulary.WIKI), help="default: detected "
                        "from the folder")
  evaluate.add_argument("--wiki-mat", help="wiki.mat, if not inside the WIKI folder")
  evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
  evaluate.set_defaults(func=cmd_evaluate)
  serving_commands.register(sub)
  predict_command.register(sub)
  batch_predict_command.register(sub)
  beam_local_command.register(sub)
  web_command.register(sub)
  warmup_command.register(sub)
  return parser


def main(argv=None) -> int:
  args = build_parser().parse_args(beam_options.attach_values(sys.argv[1:] if argv is None else argv))
  return args.func(args)


if __name__ == "__main__":
  sys.exit(main())
