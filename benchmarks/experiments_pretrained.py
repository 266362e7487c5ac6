"""Training experiments of the pretrained family: ablations of the pretrained-face-network recipe (the
TrainingConfig defaults: FaceRes-deep fine-tuned at 160 px from block 6, DLDL age, augmentation), each
trained at the same REDUCED budget (RECIPE_BUDGET: a fixed random subset of the train split, a few classifier
epochs, no early stopping) and scored (pipeline/metrics.py) on a fixed subset of the VALIDATION split (the
split that chooses recipes: eval and test are read for the report only) and on the ~304-photo stratified
All-Age-Faces subset of benchmarks/outside.py (never trained on; reported beside, not chosen on), cropped
once through the product's detection and alignment (application/face_detection.py, largest face per photo,
no face = wrong; cached in /tmp). Results go to benchmarks/results/recipe_ablations.json (+ .png). The recorded run:

  nice -n 10 .venv/bin/python -m benchmarks.experiments_pretrained --all --records RECORDS
  .venv/bin/python -m benchmarks.experiments_pretrained --table [--plot]

(RECORDS: an `fdp ingest` output of UTKFace; one name instead of --all runs one.)
"""
import argparse
import dataclasses
import glob
import json
import os
import time

from benchmarks import experiments
from benchmarks import results_file
from pipeline import metrics
from trainer import hyperparameters
from vocabulary import layout
from vocabulary import settings
import vocabulary

RECIPE_RESULTS = os.path.join(results_file.RESULTS, "recipe_ablations.json")
ABOUT = ("Pretrained-recipe ablations at a reduced budget (benchmarks/experiments_pretrained.py): UTKFace "
         "validation-split subset ('utk_validation'; entries with 'utk_eval' were scored on an eval-split subset "
         "before recipes were chosen on the validation split) and the All-Age-Faces CI subset through the "
         "product's detection + alignment; 'tta' = mirror-averaged as the exported graph does (headline), "
         "'single' = one pass. Classifier heads; age = its age head's expectation.")

# The pretrained-recipe ablations: name -> (TrainingConfig fields changed from the defaults,
# benchmark-only centre crop of every image (fraction of the side kept; None: the whole aligned face),
# what the change is). Listed in the order they are run; the last ones are dropped first when time is short.
SCORE_SPLIT = layout.VALIDATION  # where recipes are scored and chosen
# (entries recorded before the switch to the validation split have "eval_images" and "utk_eval")
RECIPE_BUDGET = {"train_images": 5000, "epochs": 3, "validation_images": 1000, "seed": 0}
RECIPE_EXPERIMENTS = {
    "faceres-no-training": ({"epochs": 0}, None, "the pretrained network untrained (its own gender and age heads; "
                            "bucket head untrained): the floor"),
    "faceres-baseline": ({}, None, "shipped recipe: TrainingConfig defaults"),
    "faceres-no-dldl": ({"age_sigma": 0.0}, None, "age target one-hot (cross-entropy), no label distribution"),
    "faceres-no-augment": ({"augment": False}, None, "no augmentation"),
    "faceres-224px": ({"image_size": 224}, None, "224 px input (the network's native size)"),
    "faceres-unfreeze-all": ({"trainable_from_block": 0}, None, "every layer trained"),
    "faceres-crop-0.8": ({}, 0.8, "tighter crop: centre 0.8 of the aligned face (train, eval and AAF alike)"),
    "faceres-variant-fp16": ({"pretrained_variant": "faceres"}, None, "variant faceres (fp16 weights), not -deep"),
    "faceres-unfreeze-from-12": ({"trainable_from_block": 12}, None, "only blocks 12-13 + heads trained"),
    "faceres-baseline-seed43": ({"seed": 43}, None, "the baseline again with another seed (heads' initialisation, "
                                "shuffling, augmentation, dropout): the run-to-run noise"),
    "faceres-baseline-seed44": ({"seed": 44}, None, "the baseline with a third seed"),
    "faceres-baseline-8ep": ({"epochs": 8}, None, "the baseline trained for the shipped recipe's 8 epochs"),
    "faceres-no-augment-8ep": ({"epochs": 8, "augment": False}, None, "no augmentation, 8 epochs"),
    "faceres-age-balance-0.5": ({"age_balance": 0.5}, None, "loss weight per image: its age decade's number of "
                                "images to the power -0.5 (rarer ages weigh more)"),
    "faceres-age-balance-0.5-8ep": ({"epochs": 8, "age_balance": 0.5}, None, "age-balanced loss (0.5), 8 epochs"),
}
AAF_CACHE = os.path.join("/tmp", "fdp-aaf-subset-crops.npz")


def subset_records(records: str, budget: dict = RECIPE_BUDGET) -> dict:
  """A fixed random subset of the train and validation splits (budget's sizes and seed), written once as
  gzipped TFRecords under /tmp: split -> file."""
  import numpy as np
  import tensorflow as tf
  sizes = {layout.TRAIN: budget["train_images"], SCORE_SPLIT: budget[f"{SCORE_SPLIT}_images"]}
  out_dir = os.path.join("/tmp", "fdp-recipe-subset-" + "-".join(f"{split}{size}" for split, size in sizes.items())
                         + f"-{budget['seed']}")
  files = {split: os.path.join(out_dir, f"{split}.tfrecord.gz") for split in sizes}
  if all(os.path.exists(f) for f in files.values()):
    return files
  os.makedirs(out_dir, exist_ok=True)
  for split, size in sizes.items():
    sources = sorted(glob.glob(os.path.join(records, layout.split_dir(split), "*")))
    serialized = list(tf.data.TFRecordDataset(sources, compression_type="GZIP").as_numpy_iterator())
    chosen = np.sort(np.random.default_rng(budget["seed"]).choice(len(serialized), size, replace=False))
    staging = files[split] + ".partial"
    with tf.io.TFRecordWriter(staging, options="GZIP") as writer:
      for i in chosen:
        writer.write(serialized[i])
    os.rename(staging, files[split])
  return files


class centre_crop:  # pylint: disable=invalid-name
  """Within the block, trainer/images.decode_image keeps only the centre `fraction` of every image's side
  before resizing (training and eval input pipelines and the AAF crops alike). Benchmark-only."""

  def __init__(self, fraction):
    self.fraction = fraction

  def __enter__(self):
    import tensorflow as tf
    from trainer import images
    self._original = images.decode_image
    if self.fraction:
      def decode(encoded, image_size):
        image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
        image = tf.image.central_crop(image, self.fraction)
        image = tf.image.resize(image, [image_size, image_size], method="bilinear", antialias=True)
        image.set_shape([image_size, image_size, 3])
        return tf.clip_by_value(image / 255.0, 0.0, 1.0)
      images.decode_image = decode
    return self

  def __exit__(self, *exc):
    from trainer import images
    images.decode_image = self._original


def aaf_crops(aaf_dir: str, cache: str = AAF_CACHE) -> dict:
  """The stratified All-Age-Faces subset of benchmarks/outside.py, each photo's largest face as the product
  detects and aligns it for `fdp predict` (default detector and thresholds): file, age, gender, found and
  the crop's JPEG bytes (flat + offsets). Cached in `cache` (never in the repository)."""
  import numpy as np
  if not os.path.exists(cache):
    from benchmarks import outside  # pylint: disable=g-import-not-at-top
    from application import face_detection  # pylint: disable=g-import-not-at-top
    rows = outside.stratified_subset(outside.read_labels(aaf_dir))
    crops, started = [], time.perf_counter()
    for row in rows:
      with open(os.path.join(aaf_dir, "faces", row["file"]), "rb") as f:
        faces = face_detection.detect_faces(f.read())
      largest = max(faces, key=lambda face: face.box[2] * face.box[3]) if faces else None
      crops.append(largest.crop_jpeg if largest else b"")
    lengths = np.array([len(c) for c in crops])
    np.savez(cache + ".partial.npz", files=np.array([r["file"] for r in rows]), age=np.array([r["age"] for r in rows]),
             gender=np.array([r["gender"] for r in rows]), found=lengths > 0,
             jpeg=np.frombuffer(b"".join(crops), np.uint8), offsets=np.concatenate([[0], np.cumsum(lengths)]),
             detect_seconds=time.perf_counter() - started)
    os.rename(cache + ".partial.npz", cache)
  with np.load(cache) as archive:
    data = {k: archive[k] for k in archive.files}
  data["crops"] = [data["jpeg"][a:b].tobytes() for a, b in zip(data["offsets"][:-1], data["offsets"][1:])]
  return data


def _predict_both(model, batch):
  """(single pass, mirror-averaged) predictions of the bucket, gender and age heads, as NumPy."""
  import tensorflow as tf
  outputs = (vocabulary.AGE_BUCKET_KEY, vocabulary.GENDER_KEY, vocabulary.AGE_KEY)
  one = model(batch, training=False)
  mirrored = model(tf.image.flip_left_right(batch), training=False)
  return ({k: one[k].numpy() for k in outputs}, {k: ((one[k] + mirrored[k]) / 2.0).numpy() for k in outputs})


def score_utk(model, scored_ds) -> dict:
  return experiments.score_dataset(lambda batch: _predict_both(model, batch), scored_ds)


def score_aaf(model, aaf: dict, image_size: int, batch_size: int = 32) -> dict:
  """The AAF crops through the exported graph's decoding (trainer/images.decode_image at the model's size)."""
  import numpy as np
  import tensorflow as tf
  from trainer import images
  n = len(aaf["crops"])
  blank = tf.zeros([image_size, image_size, 3])
  parts = ([], [])
  for start in range(0, n, batch_size):
    batch = tf.stack([images.decode_image(tf.constant(c), image_size) if c else blank
                      for c in aaf["crops"][start:start + batch_size]])
    for part, p in zip(parts, _predict_both(model, batch)):
      part.append(p)
  return {name: metrics.face_metrics({k: np.concatenate([p[k] for p in part]) for k in part[0]},
                                     aaf["age"], aaf["gender"], aaf["found"])
          for name, part in zip(("single", "tta"), parts)}


def run_recipe(name: str, records: str, aaf_dir: str, budget: dict = RECIPE_BUDGET) -> dict:
  import keras
  from trainer import face_network, models, train
  changes, crop, what = RECIPE_EXPERIMENTS[name]
  cfg = dataclasses.replace(hyperparameters.TrainingConfig(), **{"epochs": budget["epochs"], **changes})
  files = subset_records(records, budget)
  aaf = aaf_crops(aaf_dir)
  started = time.perf_counter()
  keras.backend.clear_session()
  keras.utils.set_random_seed(cfg.seed)
  parse = experiments.raw_parser()
  with centre_crop(crop):
    train_ds = train.dataset_from_records([files[layout.TRAIN]], parse, cfg, training=True)
    scored_ds = train.dataset_from_records([files[SCORE_SPLIT]], parse, cfg, training=False)
    model = models.build_model(vocabulary.CLASSIFIER, cfg, steps_per_epoch=-(-budget["train_images"] // cfg.batch_size))
    models.load_pretrained(model, face_network.load_converted(face_network.fetch_and_convert(cfg.pretrained_variant)))
    throughput = train.ThroughputLogger(budget["train_images"])
    train_started = time.perf_counter()
    if cfg.epochs:
      model.fit(train_ds, epochs=cfg.epochs, callbacks=[throughput], verbose=2)
    train_seconds = time.perf_counter() - train_started
    utk = score_utk(model, scored_ds)
    aaf_scores = score_aaf(model, aaf, cfg.image_size)
  return {"name": name, "what": what, "changes": changes, "crop": crop, "budget": budget,
          "trainable_params": int(sum(int(np_size(w)) for w in model.trainable_weights)),
          "train_seconds": round(train_seconds, 1), "wall_seconds": round(time.perf_counter() - started, 1),
          "images_per_second": experiments.median_images_per_second(throughput.epochs),
          f"utk_{SCORE_SPLIT}": utk, "aaf": aaf_scores, "history": throughput.epochs}


def np_size(variable) -> int:
  size = 1
  for dim in variable.shape:
    size *= int(dim)
  return size


def utk_scores(result: dict):
  """(split, scores) of a recorded experiment's UTKFace figures: the validation split's, or for an entry
  recorded before the switch, the eval split's."""
  split = SCORE_SPLIT if f"utk_{SCORE_SPLIT}" in result else layout.EVAL
  return split, result[f"utk_{split}"]


def headline(result: dict, where: str) -> dict:
  """The mirror-averaged figures of a recorded experiment: where = "aaf" or "utk" (utk_scores())."""
  return (result["aaf"] if where == "aaf" else utk_scores(result)[1])["tta"]


def utk_label(results) -> str:
  """'UTK validation', or 'UTK eval/validation' over entries recorded on both sides of the switch."""
  return "UTK " + "/".join(sorted({utk_scores(r)[0] for r in results}))


def recipe_table() -> str:
  rows = ["| variant | change | budget | train min | AAF gender | AAF gender 18+ | AAF bucket | AAF MAE | "
          "UTK split | UTK gender | UTK gender 18+ | UTK bucket | UTK MAE |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
  for r in json.load(open(RECIPE_RESULTS))["experiments"]:
    (split, utk), b = utk_scores(r), r["budget"]
    a, u = r["aaf"]["tta"], utk["tta"]
    epochs = r["changes"].get("epochs", b["epochs"])
    rows.append(f"| {r['name']} | {r['what']} | {b['train_images']} img x {epochs} ep | {r['train_seconds'] / 60:.1f} | "
                f"{a['gender_accuracy']:.3f} | {a['gender_accuracy_18+']:.3f} | {a['age_bucket_accuracy']:.3f} | "
                f"{a['age_mae']:.2f} | {split} | {u['gender_accuracy']:.3f} | {u['gender_accuracy_18+']:.3f} | "
                f"{u['age_bucket_accuracy']:.3f} | {u['age_mae']:.2f} |")
  baselines = [r for r in json.load(open(RECIPE_RESULTS))["experiments"] if r["name"].startswith("faceres-baseline")]
  if len(baselines) > 1:
    def spread(where, metric, digits):
      values = [headline(r, where)[metric] for r in baselines]
      return f"{min(values):.{digits}f}-{max(values):.{digits}f}"
    rows.append(f"\nRun-to-run spread of the baseline ({len(baselines)} seeds): AAF gender "
                f"{spread('aaf', 'gender_accuracy', 3)}, 18+ {spread('aaf', 'gender_accuracy_18+', 3)}, bucket "
                f"{spread('aaf', 'age_bucket_accuracy', 3)}, MAE {spread('aaf', 'age_mae', 2)}; "
                f"{utk_label(baselines)} gender "
                f"{spread('utk', 'gender_accuracy', 3)}, 18+ {spread('utk', 'gender_accuracy_18+', 3)}, "
                f"bucket {spread('utk', 'age_bucket_accuracy', 3)}, MAE {spread('utk', 'age_mae', 2)}. "
                "Metrics are the classifier's, mirror-averaged as exported; 'no-training' has an untrained "
                "bucket head (its age head's bucket: see age_bucket_accuracy_from_age in the JSON).")
  return "\n".join(rows)


def recipe_plot(path: str = RECIPE_RESULTS.replace(".json", ".png")) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  import numpy as np
  results = json.load(open(RECIPE_RESULTS))["experiments"]
  names = [r["name"].replace("faceres-", "") for r in results]
  x = np.arange(len(names))
  utk = utk_label(results)
  bars = [("AAF gender", "aaf", "gender_accuracy"), ("AAF bucket", "aaf", "age_bucket_accuracy"),
          (f"{utk} gender", "utk", "gender_accuracy"), (f"{utk} bucket", "utk", "age_bucket_accuracy")]
  fig, (acc, mae) = plt.subplots(2, 1, figsize=(12, 8), sharex=True)
  width = 0.2
  for i, (label, where, metric) in enumerate(bars):
    acc.bar(x + (i - 1.5) * width, [headline(r, where)[metric] for r in results], width, label=label)
  acc.set_ylim(0.4, 1.04)
  acc.set_ylabel("accuracy (no-training: bucket head untrained)")
  acc.legend(ncol=4, loc="upper center")
  acc.grid(axis="y", alpha=0.3)
  for i, (label, where) in enumerate((("AAF", "aaf"), (utk, "utk"))):
    mae.bar(x + (i - 0.5) * 0.35, [headline(r, where)["age_mae"] for r in results], 0.35, label=f"{label} age MAE")
  mae.set_ylim(4.0, 7.2)
  mae.set_ylabel("age MAE (years)")
  mae.legend(ncol=2, loc="upper center")
  mae.grid(axis="y", alpha=0.3)
  mae.set_xticks(x, names, rotation=20, ha="right")
  b, (split, scored) = results[0]["budget"], utk_scores(results[0])
  fig.suptitle(f"FaceRes recipe ablations, each {b['train_images']} UTKFace train images x {b['epochs']} epochs "
               f"(classifier); {utk} subset {scored['tta']['n']}, AAF subset {results[0]['aaf']['tta']['n']}")
  fig.tight_layout()
  fig.savefig(path, dpi=100)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("names", nargs="*")
  parser.add_argument("--records", default=experiments.DEFAULT_RECORDS)
  parser.add_argument("--list", action="store_true")
  parser.add_argument("--all", action="store_true", help="every ablation, in order")
  parser.add_argument("--aaf", default=str(settings.aaf_dir()))
  parser.add_argument("--plot", action="store_true", help="write recipe_ablations.png")
  parser.add_argument("--table", action="store_true", help="print the recorded results as a Markdown table")
  args = parser.parse_args(argv)
  if args.table or args.plot:
    if args.plot:
      recipe_plot()
    print(recipe_table())
    return
  names = list(RECIPE_EXPERIMENTS) if args.all else args.names
  if args.list or not names:
    for name, (changes, crop, what) in RECIPE_EXPERIMENTS.items():
      print(f"{name:28s} {what} {changes}{f' crop {crop}' if crop else ''}")
    return
  records = experiments.ensure_records(args.records)
  for name in names:
    result = run_recipe(name, records, args.aaf)
    experiments.save_result(RECIPE_RESULTS, ABOUT, result, RECIPE_EXPERIMENTS)
    print(json.dumps({k: result[k] for k in ("name", "train_seconds", "wall_seconds", "images_per_second")}),
          json.dumps({"aaf": headline(result, "aaf"), f"utk_{SCORE_SPLIT}": headline(result, "utk")}), sep="\n",
          flush=True)
  recipe_plot()


if __name__ == "__main__":
  main()
