"""The project's shared vocabulary: the words every package reads and none defines for itself.

Dataset, model and feature names, the label values and the age buckets live here; the label rules
(labels.py), the exported models' signature names (signatures.py), the data layout on disk (layout.py)
and the image formats the models read (image_formats.py) beside them. This package imports nothing of
the project, so any package may import it (tests/test_layering.py keeps it so).
"""

# Datasets the pipeline knows how to ingest.
UTKFACE = "utkface"
WIKI = "wiki"
TFRECORDS = "tfrecords"  # a folder written by `fdp ingest` (read through ImportExampleGen)
DATASETS = (UTKFACE, WIKI, TFRECORDS)

# The two models trained from the same validated data.
CLASSIFIER = "classifier"  # heads: age bucket (5 classes) + gender
REGRESSOR = "regressor"  # head: age in years
MODELS = (CLASSIFIER, REGRESSOR)

# Feature names of the tf.Examples written by ingestion.
IMAGE_KEY = "image"  # encoded JPEG bytes
AGE_KEY = "age"
GENDER_KEY = "gender"  # 0 = male, 1 = female (UTKFace convention)
RACE_KEY = "race"  # 0..4 = white, black, asian, indian, others (UTKFace only)
SOURCE_KEY = "source"
SHA256_KEY = "sha256"  # content hash of the image bytes
IMAGE_WIDTH_KEY = "image_width"  # pixels, for statistics and drift checks
IMAGE_HEIGHT_KEY = "image_height"
# Label derived in Transform.
AGE_BUCKET_KEY = "age_bucket"

AGE_BUCKET_WIDTH = 25
AGE_BUCKETS = ("0-24", "25-49", "50-74", "75-99", "100-124")
GENDERS = ("male", "female")
RACES = ("white", "black", "asian", "indian", "others")
MAX_AGE = 124
