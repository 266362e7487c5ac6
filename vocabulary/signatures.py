"""The exported models' signature and input names (trainer/export.py writes them; serving/, the pipeline
and the benchmarks call them). String constants only, so the light serving client can import them."""

SERVING_DEFAULT = "serving_default"  # images -> the model's outputs
SERVING_EXAMPLES = "serving_examples"  # examples -> the same outputs (TFMA calls this)
TRANSFORM_FEATURES = "transform_features"  # examples -> transformed features (labels for TFMA)
IMAGES_INPUT = "images"  # string [N] of encoded JPEG/PNG bytes
EXAMPLES_INPUT = "examples"  # string [N] of serialized tf.Examples
