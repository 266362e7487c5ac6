"""What a user can trust in a face's predictions: each face record gets a "warnings" list (empty when
nothing is doubtful). The codes, a stable part of `fdp predict --json` and the web API:

  face_too_small        the face's box is narrower than `min_face_size` pixels of the photo, below which
                        the models' quality falls off measurably. On UTKFace's validation split downscaled
                        (901 faces found at every size; gender accuracy 0.951 and age MAE 3.69 years at full
                        size): 0.951 and 3.92 at 64 px; then 0.946 and 4.20 at 48 px, 0.945 and 4.38 at
                        40 px, 0.938 and 4.73 at 32 px, 0.928 and 5.55 at 24 px, 0.875 and 8.57 at 16 px.
                        The predictions are there, less reliable the smaller the face
                        (`python -m benchmarks.small_faces`: benchmarks/results/small_faces.json)
  age_bucket_uncertain  the classifier's most likely age bucket has less than `min_age_bucket_prob`
                        (chosen on the validation split: the unwarned answers 0.90 right)
  gender_uncertain      the classifier's gender probability is below `min_gender_prob` (chosen on the
                        validation split: the unwarned answers 0.975 right)
  models_disagree       the regressor's age lies more than `age_tolerance` years outside the classifier's
                        age bucket (the two models are trained separately and can disagree)
"""
import dataclasses
from typing import List

FACE_TOO_SMALL = "face_too_small"
AGE_BUCKET_UNCERTAIN = "age_bucket_uncertain"
GENDER_UNCERTAIN = "gender_uncertain"
MODELS_DISAGREE = "models_disagree"


@dataclasses.dataclass(frozen=True)
class Trust:
  # Pixels, the shorter side of the detector's box: the smallest face size from which on gender accuracy
  # stays within 0.01 and age MAE within 0.5 years of full size's (benchmarks/results/small_faces.json).
  min_face_size: int = 64
  # Both chosen on the validation split by `python -m benchmarks.warning_rules --records RECORDS`
  # (benchmarks/results/warning_rules.json): the smallest thresholds that leave the unwarned answers at
  # the target accuracy.
  min_age_bucket_prob: float = 0.6
  min_gender_prob: float = 0.65
  age_tolerance: float = 5.0  # years


def bucket_range(bucket: str):
  low, high = bucket.split("-")
  return float(low), float(high) + 1


def warnings(face: dict, trust: Trust = Trust()) -> List[str]:
  """The warning codes for one face record (box, and whichever model fields it has)."""
  found = []
  if min(face["box"][2:]) < trust.min_face_size:
    found.append(FACE_TOO_SMALL)
  if "age_bucket_prob" in face and face["age_bucket_prob"] < trust.min_age_bucket_prob:
    found.append(AGE_BUCKET_UNCERTAIN)
  if "gender_prob" in face and face["gender_prob"] < trust.min_gender_prob:
    found.append(GENDER_UNCERTAIN)
  if "age" in face and "age_bucket" in face:
    low, high = bucket_range(face["age_bucket"])
    if not low - trust.age_tolerance <= face["age"] < high + trust.age_tolerance:
      found.append(MODELS_DISAGREE)
  return found
