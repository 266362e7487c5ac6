"""The label rules (vocabulary/labels.py) that evaluation, serving and the benchmarks share."""
import numpy as np

from application import faces
from pipeline import metrics
from vocabulary import labels
import vocabulary


def test_gender_cutoff_is_strictly_above_one_half():
  assert labels.is_female(np.array([0.0, 0.49, 0.5, 0.51, 1.0])).tolist() == [False, False, False, True, True]
  assert labels.is_female(0.7) and not labels.is_female(0.5)


def test_evaluation_and_serving_read_gender_the_same_way():
  p_female = np.array([[0.2], [0.5], [0.8]])
  buckets = np.eye(5)[[0, 1, 2]]
  served = [faces.prediction_fields(vocabulary.CLASSIFIER, {faces.AGE_BUCKET_OUTPUT: buckets[i],
                                                            faces.GENDER_OUTPUT: p_female[i]})["gender"]
            for i in range(3)]
  assert served == ["male", "male", "female"]
  predictions = {vocabulary.GENDER_KEY: p_female, vocabulary.AGE_BUCKET_KEY: buckets}
  truth = {vocabulary.GENDER_KEY: np.array([0, 0, 1]), vocabulary.AGE_KEY: np.array([10, 30, 60])}
  assert metrics.metrics(vocabulary.CLASSIFIER, predictions, truth)["gender_accuracy"] == 1.0
