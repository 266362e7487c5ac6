"""The pushed SavedModels: serving_default on a real JPEG's bytes agrees with the tf.Example signature."""
import os

import numpy as np
import tensorflow as tf

from tests.conftest import E2E_TRAINING, UTKFACE_DIR
from trainer import hyperparameters
from trainer import models
import vocabulary

JPEG = UTKFACE_DIR / "26_1_3_20170104235421282.jpg.chip.jpg"  # a 26-year-old woman


def _example(jpeg: bytes) -> bytes:
  return tf.train.Example(features=tf.train.Features(feature={
      "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[jpeg]))})).SerializeToString()


def test_signatures_agree_on_a_real_jpeg(e2e_pipeline):
  _, summary = e2e_pipeline
  jpeg = JPEG.read_bytes()
  for model in summary["models"]:
    loaded = tf.saved_model.load(model["pushed_path"])
    assert {"serving_default", "serving_examples", "transform_features"} <= set(loaded.signatures)
    by_images = loaded.signatures["serving_default"](images=tf.constant([jpeg, jpeg]))
    by_examples = loaded.signatures["serving_examples"](examples=tf.constant([_example(jpeg)] * 2))
    assert set(by_images) == set(by_examples)
    for name in by_images:
      np.testing.assert_allclose(by_images[name].numpy(), by_examples[name].numpy(), rtol=1e-5, atol=1e-5)
    if model["model"] == vocabulary.CLASSIFIER:
      assert by_images["age_bucket"].shape == (2, 5) and by_images["gender"].shape == (2, 1)
      assert np.allclose(by_images["age_bucket"].numpy().sum(axis=1), 1, atol=1e-4)
    else:
      assert by_images["age"].shape == (2, 1)


def test_transform_features_gives_the_labels(e2e_pipeline):
  _, summary = e2e_pipeline
  loaded = tf.saved_model.load(summary["models"][0]["pushed_path"])
  example = tf.train.Example(features=tf.train.Features(feature={
      "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[JPEG.read_bytes()])),
      "age": tf.train.Feature(int64_list=tf.train.Int64List(value=[26])),
      "gender": tf.train.Feature(int64_list=tf.train.Int64List(value=[1])),
      "race": tf.train.Feature(int64_list=tf.train.Int64List(value=[3])),
      "source": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"utkface"])),
      "sha256": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"x"])),
      "image_width": tf.train.Feature(int64_list=tf.train.Int64List(value=[200])),
      "image_height": tf.train.Feature(int64_list=tf.train.Int64List(value=[200])),
  })).SerializeToString()
  out = loaded.signatures["transform_features"](examples=tf.constant([example]))
  assert int(out["age_bucket"][0]) == 1 and int(out["gender"][0]) == 1 and float(out["age"][0]) == 26.0
  assert "image" not in out


def test_model_trained_with_the_configured_image_size(e2e_pipeline):
  _, summary = e2e_pipeline
  assert summary["training"]["image_size"] == E2E_TRAINING["image_size"]
  for model in summary["models"]:
    assert os.path.getsize(os.path.join(model["pushed_path"], "saved_model.pb")) < 5 * 1024 * 1024


def test_warm_start_loads_the_pushed_weights_only_into_the_same_architecture(e2e_pipeline):
  """The weights are read back from the SavedModel's own variables: the rebuilt Keras model then
  predicts what the pushed model serves. A model of another architecture is left untouched."""
  from trainer import export, images, train
  _, summary = e2e_pipeline
  pushed = next(m["pushed_path"] for m in summary["models"] if m["model"] == vocabulary.CLASSIFIER)
  cfg = hyperparameters.TrainingConfig(**E2E_TRAINING)
  same = models.build_model(vocabulary.CLASSIFIER, cfg)
  assert train.load_base_weights(same, pushed)
  jpeg = JPEG.read_bytes()
  loaded = tf.saved_model.load(pushed)
  temperatures = {name: float(value.numpy()) for name, value in loaded.temperatures.items()}
  assert set(temperatures) == {vocabulary.AGE_BUCKET_KEY, vocabulary.GENDER_KEY}
  rebuilt = export.predict(same, images.decode_images(tf.constant([jpeg]), cfg.image_size),
                           models.EXPORTED_OUTPUTS[vocabulary.CLASSIFIER], temperatures=temperatures)
  served = loaded.signatures["serving_default"](images=tf.constant([jpeg]))
  for name, value in served.items():
    np.testing.assert_allclose(rebuilt[name].numpy(), value.numpy(), rtol=1e-4, atol=1e-5)
  other = models.build_model(vocabulary.CLASSIFIER, hyperparameters.TrainingConfig(**dict(E2E_TRAINING, backbone=hyperparameters.RESNET,
                                                                               width=16)))
  before = [w.copy() for w in other.get_weights()]
  assert not train.load_base_weights(other, pushed)
  assert all(np.array_equal(a, b) for a, b in zip(before, other.get_weights()))


def test_base_models_the_regressor_fine_tunes_the_classifier_and_warm_start_is_opt_in():
  from pipeline import pipeline

  def base_model_producers(warm):
    p = pipeline.create_pipeline(pipeline_name="p", pipeline_root="/r", data_root="/d", dataset="utkface",
                                 serving_root="/s", training=hyperparameters.TrainingConfig(warm_start=warm),
                                 pretrained_model_uri="/pretrained")
    return {c.id: c.inputs["base_model"].producer_component_id if "base_model" in c.inputs else None
            for c in p.components if c.id.endswith("_trainer")}
  assert base_model_producers(False) == {"classifier_trainer": "pretrained_face_network",
                                         "regressor_trainer": "classifier_trainer"}
  assert base_model_producers(True) == {"classifier_trainer": "latest_blessed_classifier_resolver",
                                        "regressor_trainer": "classifier_trainer"}


def test_the_mirror_average_signature_answers_a_face_and_its_mirror_image_alike(e2e_pipeline):
  """serving_mirror_average averages each image with its mirror image (test-time augmentation), so a
  mirrored face must be predicted exactly as the face is; serving_default is one pass, the mean of the two
  passes is what serving_mirror_average answers."""
  _, summary = e2e_pipeline
  image = tf.io.decode_jpeg(JPEG.read_bytes())
  png, mirrored = (tf.io.encode_png(x).numpy() for x in (image, tf.image.flip_left_right(image)))
  for model in summary["models"]:
    loaded = tf.saved_model.load(model["pushed_path"])
    outputs = loaded.signatures["serving_mirror_average"](images=tf.constant([png, mirrored]))
    single = loaded.signatures["serving_default"](images=tf.constant([png, mirrored]))
    assert set(outputs) == set(single) == set(models.EXPORTED_OUTPUTS[model["model"]])
    for name, value in outputs.items():
      np.testing.assert_allclose(value.numpy()[0], value.numpy()[1], rtol=1e-4, atol=1e-4)
    if model["model"] == vocabulary.REGRESSOR:  # no temperature: the average of the two single passes
      np.testing.assert_allclose(outputs[vocabulary.AGE_KEY].numpy()[0],
                                 single[vocabulary.AGE_KEY].numpy().mean(axis=0), rtol=1e-4, atol=1e-4)
