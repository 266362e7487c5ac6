"""TFMA EvalConfigs for the two models: metrics, slices and blessing thresholds.

The exported models are generic SavedModels (Keras 3): TFMA calls the `serving_examples` signature
for predictions and takes labels from the `transform_features` signature.
"""
import tensorflow_model_analysis as tfma

from pipeline.configs import EvaluationThresholds
from trainer import export
import vocabulary

# Slices: overall, by source (UTKFace, WIKI), by gender, by race, by age bucket (race is absent from WIKI
# examples).
SLICES = [
    tfma.SlicingSpec(),
    tfma.SlicingSpec(feature_keys=[vocabulary.SOURCE_KEY]),
    tfma.SlicingSpec(feature_keys=[vocabulary.GENDER_KEY]),
    tfma.SlicingSpec(feature_keys=[vocabulary.RACE_KEY]),
    tfma.SlicingSpec(feature_keys=[vocabulary.AGE_BUCKET_KEY]),
]
GATED_SLICES = SLICES[:2]  # overall and by source


def _threshold(lower=None, upper=None, max_regression=0.0, higher_is_better=True):
  """A value floor/ceiling plus a change threshold: no worse than the baseline by more than
  `max_regression` (absolute). Applied to the overall slice and to each source's (a run on UTKFace and
  WIKI is blessed only if neither got worse); the other slices' values are reported (small slices such as
  ages 100+ are noisy), not gated."""
  value = tfma.GenericValueThreshold(
      lower_bound={"value": lower} if lower is not None else None,
      upper_bound={"value": upper} if upper is not None else None)
  direction = tfma.MetricDirection.HIGHER_IS_BETTER if higher_is_better else tfma.MetricDirection.LOWER_IS_BETTER
  slack = -max_regression - 1e-10 if higher_is_better else max_regression + 1e-10
  threshold = tfma.MetricThreshold(
      value_threshold=value,
      change_threshold=tfma.GenericChangeThreshold(direction=direction, absolute={"value": slack}))
  return [tfma.PerSliceMetricThreshold(slicing_specs=GATED_SLICES, threshold=threshold)]


def _model_spec(**labels_and_predictions):
  return tfma.ModelSpec(signature_name=export.SERVING_EXAMPLES,
                        preprocessing_function_names=[export.TRANSFORM_FEATURES], **labels_and_predictions)


def classifier_eval_config(t: EvaluationThresholds) -> tfma.EvalConfig:
  age_bucket, gender = vocabulary.AGE_BUCKET_KEY, vocabulary.GENDER_KEY
  return tfma.EvalConfig(
      model_specs=[_model_spec(label_keys={age_bucket: age_bucket, gender: gender})],
      slicing_specs=SLICES,
      metrics_specs=[
          tfma.MetricsSpec(output_names=[age_bucket], metrics=[
              tfma.MetricConfig(class_name="ExampleCount"),
              tfma.MetricConfig(class_name="SparseCategoricalAccuracy",
                                per_slice_thresholds=_threshold(lower=t.min_age_bucket_accuracy,
                                                     max_regression=t.max_regression)),
          ]),
          tfma.MetricsSpec(output_names=[gender], metrics=[
              tfma.MetricConfig(class_name="BinaryAccuracy",
                                per_slice_thresholds=_threshold(lower=t.min_gender_accuracy,
                                                     max_regression=t.max_regression)),
              tfma.MetricConfig(class_name="AUC"),
          ]),
      ])


def regressor_eval_config(t: EvaluationThresholds) -> tfma.EvalConfig:
  age = vocabulary.AGE_KEY
  return tfma.EvalConfig(
      # A single output: labels and predictions are plain arrays, not dicts keyed by output name.
      model_specs=[_model_spec(label_key=age, prediction_key=age)],
      slicing_specs=SLICES,
      metrics_specs=[tfma.MetricsSpec(metrics=[
          tfma.MetricConfig(class_name="ExampleCount"),
          tfma.MetricConfig(class_name="MeanAbsoluteError",
                            per_slice_thresholds=_threshold(upper=t.max_age_mae, max_regression=t.max_regression,
                                                 higher_is_better=False)),
      ])])


EVAL_CONFIGS = {vocabulary.CLASSIFIER: classifier_eval_config, vocabulary.REGRESSOR: regressor_eval_config}
