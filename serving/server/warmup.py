"""Replays a SavedModel's `assets.extra/tf_serving_warmup_requests` before the version is AVAILABLE.

As TF Serving does: the file is a TFRecord of PredictionLog protos; Predict, Classify and Regress logs are
run on the loaded model (at most MAX_RECORDS records, each NUM_REQUEST_ITERATIONS times), so the graph's
first, slow run happens before any user request. A malformed file fails the load with the reason, as in
TF Serving; a SavedModel without the file loads as before.
"""
import os

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from vocabulary import signatures

MAX_RECORDS = 1000  # TF Serving's kMaxNumRecords
NUM_REQUEST_ITERATIONS = 1  # TF Serving's default num_request_iterations


class WarmupError(ValueError):
  """The warm-up file cannot be read or replayed."""


def _examples(model_input) -> list:
  which = model_input.WhichOneof("kind")
  if which == "example_list":
    return [e.SerializeToString() for e in model_input.example_list.examples]
  raise WarmupError(f"warm-up Classify/Regress requests must use example_list, not {which}")


def _inputs(model, log: prediction_log_pb2.PredictionLog):
  """(signature name, {input name: array}) of one logged request."""
  kind = log.WhichOneof("log_type")
  if kind == "predict_log":
    request = log.predict_log.request
    return (request.model_spec.signature_name or signatures.SERVING_DEFAULT,
            {name: tf.make_ndarray(t) for name, t in request.inputs.items()})
  if kind in ("classify_log", "regress_log"):
    request = getattr(log, kind).request
    signature_name = request.model_spec.signature_name or signatures.SERVING_DEFAULT
    examples_input = next(iter(model.input_specs(signature_name)))  # Classify/Regress: one input
    return signature_name, {examples_input: np.array(_examples(request.input), dtype=object)}
  raise WarmupError(f"warm-up record of type {kind} is not supported (Predict, Classify and Regress are)")


def replay(model, saved_model_dir: str) -> int:
  """Runs the logged requests on `model` (a LoadedModel); returns how many ran (0 without a file)."""
  path = os.path.join(saved_model_dir, signatures.WARMUP_REQUESTS_FILE)
  if not tf.io.gfile.exists(path):
    return 0
  count = 0
  try:
    for record in tf.data.TFRecordDataset(path).take(MAX_RECORDS):
      log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
      signature_name, inputs = _inputs(model, log)
      for _ in range(NUM_REQUEST_ITERATIONS):
        model.run_unbatched(signature_name, inputs)
      count += 1
  except WarmupError:
    raise
  except Exception as e:  # pylint: disable=broad-except  # a corrupt record, an unknown signature or input
    raise WarmupError(f"warm-up request {count + 1} in {path} failed: {type(e).__name__}: "
                      f"{str(e).strip().splitlines()[0] if str(e).strip() else ''}") from e
  return count
