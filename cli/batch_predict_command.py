"""`fdp batch-predict INPUT... --output PREFIX`: `fdp predict` as a Beam job, no model server
(application/batch_prediction.py), registered into cli/main.py. Beam and TensorFlow load when it runs."""
import json
import os
import sys

from application import faces
from cli import beam_options
from cli import exit_codes
from cli import predict_command
from serving import defaults


def cmd_batch_predict(args) -> int:
  from application import batch_prediction  # pylint: disable=g-import-not-at-top
  from application import trust  # pylint: disable=g-import-not-at-top
  beam_args = beam_options.pipeline_args(args)
  if not args.beam_args and args.beam_workers > 1:
    # The DirectRunner's worker processes share this machine's cores: one TensorFlow thread pool per core
    # each (300 AAF photos, 2 workers on 2 cores: 80 s against 123 s with TensorFlow's default pools).
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(max(1, (os.cpu_count() or 1) // args.beam_workers)))
  detection = predict_command.detection_options(args)
  try:
    result = batch_prediction.run(
        args.inputs, args.output, args.serving_root, faces.models_for(args.model), detection,
        trust=trust.Trust(min_face_size=args.min_judged_face_size), beam_args=beam_args,
        batch_faces=args.batch_faces)
  except batch_prediction.InputError as e:
    print(f"fdp batch-predict: {e}", file=sys.stderr)
    return exit_codes.BAD_ARGUMENTS
  print(json.dumps(result, indent=2))
  return exit_codes.SOME_FAILED if result["counters"][batch_prediction.ERRORS] else exit_codes.ALL_ANSWERED


def register(subparsers) -> None:
  batch = subparsers.add_parser(
      "batch-predict", help="`fdp predict --json` over many photos as a Beam job, without a model server",
      epilog=exit_codes.EPILOG)
  batch.add_argument("inputs", nargs="+", metavar="INPUT",
                     help="photo files, folders (their photos, any depth) or glob patterns, on any Beam "
                     "filesystem (local; gs:// with the GCP extra)")
  batch.add_argument("--output", required=True, metavar="PREFIX",
                     help="JSON lines, one `fdp predict --json` record per photo, in shards PREFIX-*")
  batch.add_argument("--serving-root", default=defaults.SHIPPED_MODELS_DIR,
                     help="<model>/<version>/ SavedModels, the newest version is taken (default: the shipped "
                     "models/)")
  predict_command.add_model_option(batch)
  batch.add_argument("--no-detect", action="store_true", help="take each image as one pre-cropped face")
  predict_command.add_detection_options(batch)
  batch.add_argument("--batch-faces", type=int, default=faces.BATCH_FACES,
                     help="most face crops per model call (default %(default)s)")
  beam_options.add_options(batch)
  batch.set_defaults(func=cmd_batch_predict)
