"""Training-recipe sweep for the classifier on a borrowed GPU (issue 6): many recipes in the time one
CPU run takes, to choose what the 90-minute CPU pipeline run should use and to see how far the
network goes with far more compute than the CPU budget allows.

The GPU machine has PyTorch but no TensorFlow (nor room to carry its wheels), so this script
re-states trainer/models.py + trainer/train.py in PyTorch: the same residual network (Glorot init,
BN momentum 0.9), heads, losses and loss weights, AdamW with one warm-up epoch and cosine decay,
per-image mirror/rotation/zoom/shift/colour augmentation, test-time mirror averaging, and the best
epoch on the eval split by eval loss. Figures are comparable with each other, not with the pipeline's
to the third decimal (the images are re-encoded as JPEG to fit what the device tool carries, 64 MiB).

  export (here, TensorFlow):  benchmarks/gpu_recipe_sweep.py export --records DIR   -> .sweep/{train,eval}.npz
  run (GPU machine, torch):   python3 benchmarks/gpu_recipe_sweep.py run --out DIR [--deadline S]
  record (here):              benchmarks/gpu_recipe_sweep.py record RUN.json... [--update-readme]
                              -> results/gpu_recipe_sweep.json + gpu_recipe_sweep.png (+ README table)
  table:                      benchmarks/gpu_recipe_sweep.py table
The recorded sweep was two runs: recipes 0-10 on the default export (64 px, q90, 41 MB), `--deadline 450`;
recipes 11-17 on `export --image-size 96 --quality 85` (54 MB), `--only 11 12 13 14 15 16 17 --deadline 370`.
The test split never leaves this machine: only train and eval are exported, to .sweep/ (git-ignored:
it is UTKFace itself, never to be committed; `run` on the device tool carries it).

`record` also works out what the age-bucket target asks of an age estimate: the bucket accuracy an
estimator with a given MAE gets on the eval split's ages (errors Laplace-distributed, the same at
every age), since faces near 25, 50 and 75 change bucket with a few years of error.
"""
import argparse
import dataclasses
import io
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SWEEP_DIR = os.path.join(os.path.dirname(HERE), ".sweep")
RESULTS = os.path.join(HERE, "results", "gpu_recipe_sweep.json")
AGE_BINS, BUCKET_WIDTH, NUM_BUCKETS = 125, 25, 5
LOSS_WEIGHTS = {"age_bucket": 1.0, "gender": 1.0, "age_distribution": 0.5, "age": 0.02}  # the classifier's


@dataclasses.dataclass
class Recipe:
  name: str
  image_size: int = 64  # the network's input
  crop: float = 1.0  # centre crop (fraction of each side) of the exported image before resizing
  epochs: int = 40
  width: int = 24
  blocks: tuple = (1, 1, 1, 1)
  learning_rate: float = 2e-3
  weight_decay: float = 1e-4
  batch_size: int = 64
  dropout: float = 0.2
  label_smoothing: float = 0.05
  age_sigma: float = 2.0
  augment: bool = True
  mixup: float = 0.0  # Beta(a, a) mixing of image pairs and their labels; 0 = off
  erase: float = 0.0  # probability of blanking one random rectangle (random erasing)
  seed: int = 42
  cpu_feasible: bool = True  # fits the pipeline's 90-minute CPU budget and the 5 MB model size


RECIPES = [
    Recipe("baseline (shipped recipe)"),
    Recipe("baseline, seed 7", seed=7),
    Recipe("60 epochs", epochs=60),
    Recipe("mixup 0.2", mixup=0.2),
    Recipe("random erasing 0.5", erase=0.5),
    Recipe("width 28", width=28),
    Recipe("blocks 1-2-2-1", blocks=(1, 2, 2, 1)),
    Recipe("no label smoothing", label_smoothing=0.0),
    Recipe("no augmentation", augment=False),
    Recipe("batch 128, learning rate 4e-3", batch_size=128, learning_rate=4e-3),
    Recipe("ceiling: width 48, blocks 2-2-2-2, 60 epochs", width=48, blocks=(2, 2, 2, 2), epochs=60,
           cpu_feasible=False),
    # Second run, on a 96 px export: input size and a tighter crop (the faces fill ~60 % of UTKFace's images).
    Recipe("64 px (96 px export)"),
    Recipe("64 px, centre crop 0.8", crop=0.8),
    Recipe("80 px", image_size=80),
    Recipe("80 px, centre crop 0.8", image_size=80, crop=0.8),
    Recipe("96 px", image_size=96, cpu_feasible=False),
    Recipe("96 px, centre crop 0.8", image_size=96, crop=0.8, cpu_feasible=False),
    Recipe("ceiling: 96 px, width 48, blocks 2-2-2-2", image_size=96, width=48, blocks=(2, 2, 2, 2),
           cpu_feasible=False),
]


# ---------------------------------------------------------------------------------------------------
# export (runs here, with the pipeline's own decoding)

def export(records_dir: str, image_size: int, quality: int) -> None:
  """Decodes and resizes the train and eval splits as the trainer does, and re-encodes them small."""
  import tensorflow as tf
  from PIL import Image

  from pipeline import evaluate
  from trainer import images

  os.makedirs(SWEEP_DIR, exist_ok=True)
  for split in ("train", "eval"):
    examples = evaluate.read_split(records_dir, split)
    blobs = []
    for encoded in examples["image"]:
      pixels = tf.cast(tf.round(images.decode_image(tf.constant(encoded), image_size) * 255), tf.uint8).numpy()
      buffer = io.BytesIO()
      Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
      blobs.append(np.frombuffer(buffer.getvalue(), np.uint8))
    np.savez(os.path.join(SWEEP_DIR, f"{split}.npz"), jpeg=np.concatenate(blobs),
             offsets=np.cumsum([0] + [len(b) for b in blobs]),
             **{k: examples[k] for k in ("age", "gender", "race")})
    print(f"{split}: {len(blobs)} images, {sum(map(len, blobs)) / 1e6:.1f} MB", flush=True)


# ---------------------------------------------------------------------------------------------------
# training (runs on the GPU machine, PyTorch)

def load_split(name: str, recipe: Recipe, device):
  import torch
  import torch.nn.functional as F
  from PIL import Image

  data = np.load(os.path.join(SWEEP_DIR, f"{name}.npz"))
  jpeg, offsets = data["jpeg"], data["offsets"]
  pixels = np.stack([np.asarray(Image.open(io.BytesIO(jpeg[offsets[i]:offsets[i + 1]].tobytes())).convert("RGB"))
                     for i in range(len(offsets) - 1)])
  images = torch.from_numpy(pixels).to(device).permute(0, 3, 1, 2).contiguous()  # uint8 [N, 3, S, S]
  size = images.shape[-1]
  margin = int(round(size * (1 - recipe.crop) / 2))
  if margin or size != recipe.image_size:
    images = torch.cat([F.interpolate(images[i:i + 1024, :, margin:size - margin, margin:size - margin].float(),
                                      size=recipe.image_size, mode="bilinear", antialias=True).round().clamp(0, 255)
                        .to(torch.uint8) for i in range(0, len(images), 1024)])
  labels = {k: torch.from_numpy(data[k].astype(np.int64)).to(device) for k in ("age", "gender", "race")}
  return images, labels, size


def build_network(recipe: Recipe):
  import torch
  from torch import nn

  def conv_bn(cin, cout, stride, kernel=3, relu=True):
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout, momentum=0.1)]
    return nn.Sequential(*layers, nn.ReLU()) if relu else nn.Sequential(*layers)

  class Block(nn.Module):
    def __init__(self, cin, cout, stride):
      super().__init__()
      self.shortcut = conv_bn(cin, cout, stride, 1, relu=False) if stride != 1 or cin != cout else nn.Identity()
      self.body = nn.Sequential(conv_bn(cin, cout, stride), conv_bn(cout, cout, 1, relu=False))

    def forward(self, x):
      return torch.relu(self.shortcut(x) + self.body(x))

  class Network(nn.Module):
    def __init__(self):
      super().__init__()
      layers, cin = [conv_bn(3, recipe.width, 2)], recipe.width
      for stage, multiplier in enumerate((1, 2, 4, 8)):
        for block in range(recipe.blocks[stage]):
          layers.append(Block(cin, recipe.width * multiplier, 2 if stage > 0 and block == 0 else 1))
          cin = recipe.width * multiplier
      self.backbone = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(recipe.dropout))
      self.age_bucket, self.gender, self.age_distribution = (nn.Linear(cin, n) for n in (NUM_BUCKETS, 1, AGE_BINS))
      for module in self.modules():  # Keras' default initialisation
        if isinstance(module, (nn.Conv2d, nn.Linear)):
          nn.init.xavier_uniform_(module.weight)
          if module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, x):
      features = self.backbone(x)
      return self.age_bucket(features), self.gender(features)[:, 0], self.age_distribution(features)

  return Network()


def augment(batch, recipe: Recipe):
  """float [N, 3, S, S] in [0, 1]: per-image mirror, rotation/zoom/shift (reflected edges), colour."""
  import torch
  import torch.nn.functional as F

  n, device = batch.shape[0], batch.device

  def uniform(low, high, shape=(n,)):
    return torch.empty(shape, device=device).uniform_(low, high)

  batch = torch.where(uniform(0, 1)[:, None, None, None] < 0.5, batch.flip(3), batch)
  angle = uniform(-10, 10) * math.pi / 180
  scale = 1 + uniform(-0.1, 0.1)
  theta = torch.stack([torch.stack([angle.cos() / scale, -angle.sin() / scale, uniform(-0.1, 0.1)], 1),
                       torch.stack([angle.sin() / scale, angle.cos() / scale, uniform(-0.1, 0.1)], 1)], 1)
  grid = F.affine_grid(theta, batch.shape, align_corners=False)
  batch = F.grid_sample(batch, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
  batch = batch + uniform(-0.1, 0.1)[:, None, None, None]
  mean = batch.mean(dim=(1, 2, 3), keepdim=True)
  batch = (batch - mean) * uniform(0.8, 1.2)[:, None, None, None] + mean
  gray = batch.mean(dim=1, keepdim=True)
  batch = (batch - gray) * uniform(0.8, 1.2)[:, None, None, None] + gray
  if recipe.erase:
    size = batch.shape[-1]
    h, w = (uniform(0.1, 0.4) * size).long(), (uniform(0.1, 0.4) * size).long()
    y, x = (uniform(0, 1) * (size - h)).long(), (uniform(0, 1) * (size - w)).long()
    rows = torch.arange(size, device=device)
    mask = (((rows[None] >= y[:, None]) & (rows[None] < (y + h)[:, None]))[:, :, None]
            & ((rows[None] >= x[:, None]) & (rows[None] < (x + w)[:, None]))[:, None, :])
    mask = mask & (uniform(0, 1) < recipe.erase)[:, None, None]
    batch = torch.where(mask[:, None], torch.rand_like(batch), batch)
  return batch.clamp(0, 1)


def true_buckets(ages):
  return (ages // BUCKET_WIDTH).clamp(max=NUM_BUCKETS - 1)


def targets(labels, recipe: Recipe):
  """Soft targets of every head: bucket one-hot, P(female), the age distribution, the age."""
  import torch

  age = labels["age"].float()
  ages = torch.arange(AGE_BINS, device=age.device, dtype=torch.float32)
  distribution = torch.exp(-0.5 * ((ages[None] - age[:, None]) / recipe.age_sigma) ** 2)
  bucket = torch.nn.functional.one_hot(true_buckets(labels["age"]), NUM_BUCKETS)
  return {"age_bucket": bucket.float(), "gender": labels["gender"].float(),
          "age_distribution": distribution / distribution.sum(1, keepdim=True), "age": age}


def losses(outputs, target, recipe: Recipe):
  import torch
  import torch.nn.functional as F

  bucket_logits, gender_logit, age_logits = outputs
  smooth = recipe.label_smoothing
  bucket_target = target["age_bucket"] * (1 - smooth) + smooth / NUM_BUCKETS
  log_distribution = F.log_softmax(age_logits, 1)
  expected_age = (log_distribution.exp() * torch.arange(AGE_BINS, device=age_logits.device)).sum(1)
  return {
      "age_bucket": -(bucket_target * F.log_softmax(bucket_logits, 1)).sum(1).mean(),
      "gender": F.binary_cross_entropy_with_logits(gender_logit, target["gender"] * (1 - smooth) + smooth / 2),
      "age_distribution": (target["age_distribution"] * (torch.log(target["age_distribution"] + 1e-7)
                                                          - log_distribution)).sum(1).mean(),
      "age": (expected_age - target["age"]).abs().mean(),
  }


def evaluate(network, images, labels, recipe: Recipe) -> dict:
  import torch

  network.eval()
  sums, n = {}, len(images)
  probabilities = {"bucket": [], "gender": [], "distribution": []}
  with torch.no_grad():
    for start in range(0, n, 512):
      batch = images[start:start + 512].float() / 255
      batch_labels = {k: v[start:start + 512] for k, v in labels.items()}
      outputs = [network(batch), network(batch.flip(3))]  # test-time mirror averaging
      for name, value in losses(outputs[0], targets(batch_labels, recipe), recipe).items():
        sums[name] = sums.get(name, 0.0) + float(value) * len(batch)
      probabilities["bucket"].append(sum(o[0].softmax(1) for o in outputs) / 2)
      probabilities["gender"].append(sum(o[1].sigmoid() for o in outputs) / 2)
      probabilities["distribution"].append(sum(o[2].softmax(1) for o in outputs) / 2)
  network.train()
  p = {k: torch.cat(v) for k, v in probabilities.items()}
  true_bucket = true_buckets(labels["age"])
  bucket_from_distribution = p["distribution"].reshape(n, NUM_BUCKETS, BUCKET_WIDTH).sum(2)
  expected = (p["distribution"] * torch.arange(AGE_BINS, device=images.device)).sum(1)
  loss = sum(LOSS_WEIGHTS[k] * v / n for k, v in sums.items())
  return {"loss": loss,
          "gender_accuracy": float(((p["gender"] > 0.5).long() == labels["gender"]).float().mean()),
          "age_bucket_accuracy": float((p["bucket"].argmax(1) == true_bucket).float().mean()),
          "age_bucket_accuracy_from_distribution": float((bucket_from_distribution.argmax(1) == true_bucket).float().mean()),
          "age_bucket_accuracy_mean_of_both": float(
              ((p["bucket"] + bucket_from_distribution).argmax(1) == true_bucket).float().mean()),
          "age_mae": float((expected - labels["age"].float()).abs().mean())}


def train(recipe: Recipe, out_file: str) -> None:
  import torch

  torch.manual_seed(recipe.seed)
  torch.backends.cudnn.benchmark = True
  device = "cuda" if torch.cuda.is_available() else "cpu"
  train_images, train_labels, exported_size = load_split("train", recipe, device)
  eval_images, eval_labels, _ = load_split("eval", recipe, device)
  network = build_network(recipe).to(device).to(memory_format=torch.channels_last)
  steps_per_epoch = math.ceil(len(train_images) / recipe.batch_size)
  total, warmup = recipe.epochs * steps_per_epoch, steps_per_epoch
  optimizer = torch.optim.AdamW(network.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay)

  def learning_rate(step):  # Keras CosineDecay with warm-up: 0.1 lr -> lr, then cosine to 1 %
    if step < warmup:
      return 0.1 + 0.9 * step / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))

  scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, learning_rate)
  result = {"recipe": dataclasses.asdict(recipe), "device": device, "epochs": [],
            "exported_image_size": exported_size,
            "parameters": sum(p.numel() for p in network.parameters())}
  for epoch in range(recipe.epochs):
    start = time.perf_counter()
    order = torch.randperm(len(train_images), device=device)
    for step in range(steps_per_epoch):
      index = order[step * recipe.batch_size:(step + 1) * recipe.batch_size]
      batch = train_images[index].float() / 255
      target = targets({k: v[index] for k, v in train_labels.items()}, recipe)
      if recipe.augment:
        batch = augment(batch, recipe)
      if recipe.mixup:
        lam = float(np.random.beta(recipe.mixup, recipe.mixup))
        partner = torch.randperm(len(batch), device=device)
        batch = lam * batch + (1 - lam) * batch[partner]
        target = {k: lam * v + (1 - lam) * v[partner] for k, v in target.items()}
      parts = losses(network(batch.contiguous(memory_format=torch.channels_last)), target, recipe)
      loss = sum(LOSS_WEIGHTS[k] * v for k, v in parts.items())
      optimizer.zero_grad(set_to_none=True)
      loss.backward()
      optimizer.step()
      scheduler.step()
    metrics = evaluate(network, eval_images, eval_labels, recipe)
    result["epochs"].append(dict(epoch=epoch + 1, seconds=time.perf_counter() - start, **metrics))
    result["best"] = min(result["epochs"], key=lambda e: e["loss"])  # what early stopping keeps
    with open(out_file + ".tmp", "w") as f:
      json.dump(result, f)
    os.replace(out_file + ".tmp", out_file)
    print(f"{recipe.name} epoch {epoch + 1}: {metrics}", flush=True)


def run(out_dir: str, deadline_s: float, only=None) -> None:
  """All recipes at once, one process each (the GPU has room for all); what finished, or the epochs
  reached by the deadline, land in out_dir/sweep.json."""
  work = os.path.join("/tmp", "recipe-sweep")
  os.makedirs(work, exist_ok=True)
  indices = list(only) if only else list(range(len(RECIPES)))
  processes = []
  for i in indices:
    log = open(os.path.join(work, f"{i}.log"), "w")
    processes.append(subprocess.Popen([sys.executable, __file__, "train", str(i),
                                       os.path.join(work, f"{i}.json")], stdout=log, stderr=subprocess.STDOUT))
  start = time.time()
  while time.time() - start < deadline_s and any(p.poll() is None for p in processes):
    time.sleep(5)
  for p in processes:
    if p.poll() is None:
      p.kill()
  results = []
  for i in indices:
    recipe, path = RECIPES[i], os.path.join(work, f"{i}.json")
    if os.path.exists(path):
      with open(path) as f:
        result = json.load(f)
      result["finished"] = len(result["epochs"]) == recipe.epochs
      results.append(result)
    else:
      with open(os.path.join(work, f"{i}.log")) as f:
        results.append({"recipe": dataclasses.asdict(recipe), "error": f.read()[-2000:]})
  os.makedirs(out_dir, exist_ok=True)
  with open(os.path.join(out_dir, "sweep.json"), "w") as f:
    json.dump({"wall_seconds": time.time() - start, "results": results}, f, indent=1)
  for r in results:
    best = r.get("best", {})
    print(r["recipe"]["name"], "epochs", len(r.get("epochs", [])), {k: round(v, 4) for k, v in best.items()})


# ---------------------------------------------------------------------------------------------------
# record (runs here): what the README and the model card show

def bucket_accuracy_at_mae(ages: np.ndarray, mae: float) -> float:
  """Age-bucket accuracy of an age estimate whose errors are Laplace(0, mae), rounded to whole years and
  clipped to 0..124."""
  low = np.minimum(ages // BUCKET_WIDTH, NUM_BUCKETS - 1) * BUCKET_WIDTH
  above = np.where(ages // BUCKET_WIDTH >= NUM_BUCKETS - 1, np.inf, low + BUCKET_WIDTH - 0.5 - ages)
  below = np.where(low == 0, -np.inf, low - 0.5 - ages)  # an estimate below 0 still reads as 0-24

  def cdf(x):
    return np.where(x < 0, 0.5 * np.exp(np.minimum(x, 0) / mae), 1 - 0.5 * np.exp(-np.maximum(x, 0) / mae))
  return float(np.mean(cdf(above) - cdf(below)))


def summarize(result: dict) -> dict:
  """One row: the epoch early stopping keeps (lowest eval loss), and the best accuracy of any epoch."""
  epochs = result["epochs"]
  best = result["best"]
  return {"recipe": result["recipe"]["name"], "image_size": result["recipe"].get("image_size", 64),  # the first run predates the field
          "exported_image_size": result.get("exported_image_size", 64), "parameters": result["parameters"],
          "epochs_run": len(epochs), "best_epoch": best["epoch"], "cpu_feasible": result["recipe"]["cpu_feasible"],
          **{k: round(best[k], 4) for k in ("gender_accuracy", "age_bucket_accuracy",
                                            "age_bucket_accuracy_from_distribution", "age_mae")},
          "max_gender_accuracy": round(max(e["gender_accuracy"] for e in epochs), 4),
          "max_age_bucket_accuracy": round(max(e["age_bucket_accuracy"] for e in epochs), 4),
          "curve": [{k: round(e[k], 4) for k in ("epoch", "gender_accuracy", "age_bucket_accuracy", "age_mae")}
                    for e in epochs]}


def record(run_files, update_readme: bool) -> dict:
  runs = []
  for path in run_files:
    with open(path) as f:
      run_output = json.load(f)
    runs.append({"wall_seconds": round(run_output["wall_seconds"], 1),
                 "results": [summarize(r) for r in run_output["results"] if "epochs" in r]})
  ages = np.load(os.path.join(SWEEP_DIR, "eval.npz"))["age"]
  report = {"device": "one NVIDIA H200 (PyTorch re-statement of the trainer); eval split, test-time mirror average",
            "runs": runs,
            "bucket_accuracy_at_mae": {str(m): round(bucket_accuracy_at_mae(ages, m), 3)
                                       for m in (2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0)}}
  with open(RESULTS, "w") as f:
    json.dump(report, f, indent=1)
  plot(report, RESULTS.replace(".json", ".png"))
  if update_readme:
    sys.path.insert(0, HERE)
    import quality
    quality.update_block(os.path.join(quality.REPO, "README.md"), "gpu-sweep", markdown_table(report))
  return report


def markdown_table(report: dict) -> str:
  rows = ["| recipe | input px | parameters | fits the CPU budget | best epoch (of run) | gender acc | "
          "age-bucket acc | bucket from age distribution | age MAE (aux) | best gender acc of any epoch |",
          "|---|---|---|---|---|---|---|---|---|---|"]
  for run_index, run_report in enumerate(report["runs"]):
    for r in run_report["results"]:
      source = "" if r["exported_image_size"] == r["image_size"] else f" (from {r['exported_image_size']})"
      rows.append(f"| {r['recipe']} | {r['image_size']}{source} | {r['parameters'] / 1e6:.2f} M | "
                  f"{'yes' if r['cpu_feasible'] else 'no'} | {r['best_epoch']} ({r['epochs_run']}) | "
                  f"{r['gender_accuracy']:.3f} | {r['age_bucket_accuracy']:.3f} | "
                  f"{r['age_bucket_accuracy_from_distribution']:.3f} | {r['age_mae']:.2f} | {r['max_gender_accuracy']:.3f} |")
  return "\n".join(rows)


def plot(report: dict, path: str) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  results = [r for run_report in report["runs"] for r in run_report["results"]]
  highlighted = ("baseline (shipped recipe)", "no augmentation", "96 px", "ceiling: width 48, blocks 2-2-2-2, 60 epochs",
                 "ceiling: 96 px, width 48, blocks 2-2-2-2")
  figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
  for r in sorted(results, key=lambda r: r["recipe"] in highlighted):
    shown = r["recipe"] in highlighted
    style = dict(lw=1.5 if shown else 0.8, ls="-" if r["cpu_feasible"] else "--",
                 color=None if shown else "0.75", label=r["recipe"] if shown else None)
    epochs = [c["epoch"] for c in r["curve"]]
    axes[0].plot(epochs, [c["gender_accuracy"] for c in r["curve"]], **style)
    axes[1].plot(epochs, [c["age_bucket_accuracy"] for c in r["curve"]], **dict(style, label=None))
  axes[0].plot([], [], color="0.75", label="the other recipes (table)")
  for axis, metric, target in ((axes[0], "gender accuracy", 0.96), (axes[1], "age-bucket accuracy", 0.86)):
    axis.axhline(target, color="black", lw=1.5, label="target (test split)" if axis is axes[0] else None)
    axis.set(xlabel="epoch", ylabel=f"eval {metric}", ylim=(0.7 if "bucket" in metric else 0.85, 0.97))
    axis.grid(alpha=0.3)
  figure.legend(loc="center right", fontsize=7)
  figure.suptitle(f"{len(results)} training recipes on a GPU (dashed: beyond the CPU budget)")
  figure.tight_layout(rect=(0, 0, 0.75, 1))
  figure.savefig(path, dpi=110)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  commands = parser.add_subparsers(dest="command", required=True)
  export_parser = commands.add_parser("export")
  export_parser.add_argument("--records", required=True, help="an `fdp ingest` output folder")
  export_parser.add_argument("--image-size", type=int, default=64)
  export_parser.add_argument("--quality", type=int, default=90, help="JPEG quality")
  run_parser = commands.add_parser("run")
  run_parser.add_argument("--out", required=True)
  run_parser.add_argument("--deadline", type=float, default=420.0, help="seconds before stopping what still runs")
  run_parser.add_argument("--only", type=int, nargs="*", help="recipe indices (default: all)")
  record_parser = commands.add_parser("record")
  record_parser.add_argument("runs", nargs="+", help="sweep.json files written by `run`")
  record_parser.add_argument("--update-readme", action="store_true")
  commands.add_parser("table")
  train_parser = commands.add_parser("train")
  train_parser.add_argument("index", type=int)
  train_parser.add_argument("out_file")
  train_parser.add_argument("--epochs", type=int, help="override (local check)")
  args = parser.parse_args(argv)
  if args.command == "export":
    export(args.records, args.image_size, args.quality)
  elif args.command == "record":
    record(args.runs, args.update_readme)
  elif args.command == "table":
    with open(RESULTS) as f:
      print(markdown_table(json.load(f)))
  elif args.command == "run":
    run(args.out, args.deadline, args.only)
  else:
    recipe = RECIPES[args.index]
    if args.epochs:
      recipe = dataclasses.replace(recipe, epochs=args.epochs)
    train(recipe, args.out_file)


if __name__ == "__main__":
  main()
