"""`fdp predict IMAGE...`: the faces in photos through the model server, registered into cli/main.py.

Nothing heavy at import time: TensorFlow and gRPC load inside the command, so `fdp --help` stays fast.
"""
import json
import sys
from typing import Optional

from application import faces
from cli import exit_codes
from serving import defaults

PROGRESS_MIN_IMAGES = 20  # a progress bar on stderr from this many images on


def detection_options(args) -> Optional[dict]:
  """detect_faces' options from --detector, --min-face-size and --min-confidence, for `fdp predict`,
  `fdp batch-predict` and `fdp web` alike (None with --no-detect). A threshold not given stays None: the
  detector's default then, the minimum face as each photo's size makes it (application/detectors.py)."""
  if getattr(args, "no_detect", False):
    return None
  return {"detector": args.detector, "min_face_size": args.min_face_size, "min_confidence": args.min_confidence}


def face_detector(args):
  """The detect_faces function the options ask for (bytes -> faces)."""
  import functools  # pylint: disable=g-import-not-at-top
  from application import face_detection  # pylint: disable=g-import-not-at-top  (TensorFlow loads on first use)
  options = detection_options(args)
  return faces.whole_image if options is None else functools.partial(face_detection.detect_faces, **options)


def cmd_predict(args) -> int:
  from serving.client import model_client as client_lib  # pylint: disable=g-import-not-at-top
  from application import trust  # pylint: disable=g-import-not-at-top
  port = defaults.REST_PORT if args.protocol == client_lib.REST else defaults.GRPC_PORT
  server = args.server or f"localhost:{port}"
  paths = faces.image_paths(args.images)
  if not paths:
    print("fdp predict: no image found", file=sys.stderr)
    return exit_codes.BAD_ARGUMENTS
  failures = 0
  progress = None
  if len(paths) >= PROGRESS_MIN_IMAGES and not args.no_progress:
    import tqdm  # pylint: disable=g-import-not-at-top
    progress = tqdm.tqdm(total=len(paths), unit="photo", file=sys.stderr, mininterval=0.5)
  with client_lib.connect(server, args.protocol, timeout=args.timeout) as client:
    for record in faces.predict_images(client, paths, faces.models_for(args.model), face_detector(args),
                                       workers=args.workers, batch_faces=args.batch_faces,
                                       trust=trust.Trust(min_face_size=args.min_judged_face_size),
                                       progress=progress.update if progress else None):
      failures += "error" in record
      if args.json:
        print(json.dumps(record), flush=progress is None)
      else:
        print("\n".join(faces.human_lines(record)), flush=progress is None)
  if progress:
    progress.close()
  return exit_codes.SOME_FAILED if failures else exit_codes.ALL_ANSWERED


def add_model_option(parser) -> None:
  """--model: which served models answer (fdp predict, batch-predict and web alike)."""
  parser.add_argument("--model", choices=faces.MODEL_CHOICES, default=faces.DEFAULT_MODEL,
                      help="classifier: bucket and gender, and age where the classifier exports its own (one "
                           "network pass a face); regressor: age; both: the classifier's bucket and gender with the "
                           "regressor's age (two passes). Default: %(default)s")


def add_detection_options(parser) -> None:
  """--detector, --min-face-size, --min-confidence and --min-judged-face-size (fdp predict and fdp web)."""
  from application import detectors  # pylint: disable=g-import-not-at-top  (numpy + Pillow only)
  from application import trust  # pylint: disable=g-import-not-at-top  (numpy + Pillow only)
  defaults = {name: (spec.min_face_size, spec.min_confidence) for name, spec in detectors.DETECTORS.items()}
  parser.add_argument("--detector", choices=tuple(detectors.DETECTORS), default=detectors.DEFAULT,
                      help="blazeface (fast, default) or mtcnn (about 10x slower)")
  parser.add_argument("--min-face-size", type=float,
                      help="smallest face looked for: the side of the detector's box in photo pixels "
                      f"(default: {', '.join(f'{n} {v[0]}' for n, v in defaults.items())}; lowered in small photos to "
                      f"{detectors.SMALL_PHOTO_FACE_FRACTION:g} of the photo's shorter side, at least "
                      f"{detectors.SMALLEST_MIN_FACE})")
  parser.add_argument("--min-confidence", type=float,
                      help=f"detector score a face needs (default: {', '.join(f'{n} {v[1]}' for n, v in defaults.items())})")
  parser.add_argument("--min-judged-face-size", type=int, default=trust.Trust.min_face_size,
                      help="faces with a narrower box are marked face_too_small (default %(default)s px)")


def register(subparsers) -> None:
  predict = subparsers.add_parser("predict", help="age bucket, gender and age of the faces in images",
                                  epilog=exit_codes.EPILOG)
  predict.add_argument("images", nargs="+", metavar="IMAGE", help="image files, or folders of them")
  predict.add_argument("--server", help=f"HOST:PORT (default: localhost:{defaults.REST_PORT} for REST, "
                       f"localhost:{defaults.GRPC_PORT} for gRPC)")
  predict.add_argument("--protocol", choices=defaults.PROTOCOLS, default=defaults.REST)
  add_model_option(predict)
  predict.add_argument("--json", action="store_true", help="one JSON object per image per line")
  predict.add_argument("--no-detect", action="store_true",
                       help="treat each image as one pre-cropped face (e.g. UTKFace's); default: find every "
                       "face and send its aligned crop")
  add_detection_options(predict)
  predict.add_argument("--workers", type=int, default=faces.DEFAULT_WORKERS,
                       help="threads reading and detecting the next images (default %(default)s)")
  predict.add_argument("--batch-faces", type=int, default=faces.BATCH_FACES,
                       help="most face crops per model request (default %(default)s)")
  predict.add_argument("--no-progress", action="store_true",
                       help=f"no progress bar (shown on stderr from {PROGRESS_MIN_IMAGES} images on)")
  predict.add_argument("--timeout", type=float, default=30.0)
  predict.set_defaults(func=cmd_predict)
