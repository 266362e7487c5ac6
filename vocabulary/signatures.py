"""The exported models' signature and input names (trainer/export.py writes them; serving/, the pipeline
and the benchmarks call them). String constants only, so the light serving client can import them."""

SERVING_DEFAULT = "serving_default"  # images -> the model's outputs (one pass)
SERVING_MIRROR_AVERAGE = "serving_mirror_average"  # images -> the outputs averaged with the mirror image's
SERVING_EXAMPLES = "serving_examples"  # examples -> the same outputs (TFMA calls this)
TRANSFORM_FEATURES = "transform_features"  # examples -> transformed features (labels for TFMA)
IMAGES_INPUT = "images"  # string [N] of encoded JPEG/PNG bytes
EXAMPLES_INPUT = "examples"  # string [N] of serialized tf.Examples

# TF Serving's warm-up file inside a SavedModel: a TFRecord of PredictionLog protos that the server
# replays before it marks a version AVAILABLE (trainer/warmup.py writes it, serving/server/warmup.py reads it).
WARMUP_REQUESTS_FILE = "assets.extra/tf_serving_warmup_requests"
