"""TF Serving's JSON form of Classify/Regress input: {"examples": [{feature: value}], "context": {...}}
-> serialized tf.Examples (the context's features merged into each example).

A feature's value is a number, a string, bytes (from {"b64": ...}) or a list of one kind of them: an
integer JSON number goes to an int64_list, one with a fraction or exponent to a float_list (TF Serving's
rule), strings and bytes to a bytes_list.
"""
import numbers

import tensorflow as tf

from serving import errors


def _feature(name: str, value) -> tf.train.Feature:
  values = value if isinstance(value, list) else [value]
  if all(isinstance(v, bool) for v in values) and values:
    raise errors.invalid(f"Feature '{name}': true/false is not a tf.Example value")
  if all(isinstance(v, (str, bytes)) for v in values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(
        value=[v.encode("utf-8") if isinstance(v, str) else v for v in values]))
  if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
  if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))
  raise errors.invalid(f"Feature '{name}' mixes kinds of values or holds something other than numbers and "
                       "strings: every value of a feature must be of one kind")


def _example(features, where: str) -> tf.train.Example:
  if not isinstance(features, dict):
    raise errors.invalid(f"{where} must be a JSON object of feature name -> value")
  example = tf.train.Example()
  for name, value in features.items():
    example.features.feature[name].CopyFrom(_feature(name, value))
  return example


def serialized_examples(body: dict) -> list:
  examples = body.get("examples")
  if not isinstance(examples, list) or not examples:
    raise errors.invalid("The request must have a non-empty list 'examples'")
  context = _example(body["context"], "'context'") if "context" in body else None
  serialized = []
  for i, features in enumerate(examples):
    example = tf.train.Example()
    if context is not None:
      example.CopyFrom(context)
    example.MergeFrom(_example(features, f"examples[{i}]"))
    serialized.append(example.SerializeToString())
  return serialized
