"""Options `fdp run local` and `fdp run kubeflow` share about the data: sources and their loss weights."""
import sys

import vocabulary


def source_weights(pairs) -> dict:
  """["wiki=0.5", ...] -> {"wiki": 0.5}; exits with one line on a pair that is not SOURCE=WEIGHT."""
  weights = {}
  for pair in pairs:
    source, _, weight = pair.partition("=")
    try:
      weights[source] = float(weight)
    except ValueError:
      sys.exit(f"fdp: --source-weight {pair}: expected SOURCE=WEIGHT, e.g. wiki=0.5")
  return weights


def add_source_weight(parser) -> None:
  parser.add_argument("--source-weight", action="append", metavar="SOURCE=WEIGHT",
                      help="loss weight of a source's images, e.g. wiki=0.5 (default: the recipe's)")


def source(dataset: str, root: str, wiki_mat=None) -> dict:
  """One of create_pipeline()'s more_sources: {"dataset", "root", "wiki_mat" (a WIKI folder's, if given)}."""
  return dict({"dataset": dataset, "root": root},
              **({"wiki_mat": wiki_mat} if dataset == vocabulary.WIKI and wiki_mat else {}))


def more_data(pairs, first_dataset: str, wiki_mat=None) -> list:
  """["wiki=gs://b/wiki_crop_64", ...] (folders as the pipeline's pods see them) -> more_sources; exits with one
  line on a pair that is not DATASET=FOLDER, or on sources that cannot share a run with `first_dataset`."""
  sources = []
  for pair in pairs or ():
    dataset, _, root = pair.partition("=")
    if dataset not in (vocabulary.UTKFACE, vocabulary.WIKI) or not root:
      sys.exit(f"fdp: --more-data {pair}: expected utkface=FOLDER or wiki=FOLDER")
    sources.append(source(dataset, root, wiki_mat))
  check_datasets([first_dataset] + [source["dataset"] for source in sources])
  return sources


def check_datasets(datasets) -> None:
  """Exits with one line unless `datasets` (one per data folder of a run) is one kind, or UTKFace and WIKI."""
  if len(datasets) > 1 and (not set(datasets) <= {vocabulary.UTKFACE, vocabulary.WIKI}
                            or len(set(datasets)) < len(datasets)):
    sys.exit(f"fdp: several data folders must be one UTKFace and one WIKI folder (found: {', '.join(datasets)})")
