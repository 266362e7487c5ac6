"""The content-hash splits (docs/splits.md): deterministic, in the expected shares, eval and test as
every release cut them, and the validation slice carved from train only."""
import hashlib

import pytest

from components import face_records
from vocabulary import layout

HASHES = [face_records.content_hash(str(i).encode()) for i in range(20000)]


def _shares(names):
  return {name: names.count(name) / len(names) for name in set(names)}


def test_every_image_gets_one_split_in_the_expected_shares_and_always_the_same():
  splits = [face_records.split_for_hash(h) for h in HASHES]
  assert splits == [face_records.split_for_hash(h) for h in HASHES]
  shares = _shares(splits)
  assert set(shares) == set(layout.SPLITS)
  for name, expected in layout.split_shares().items():
    assert shares[name] == pytest.approx(expected, abs=0.01), (name, shares)
  assert sum(layout.split_shares().values()) == pytest.approx(1.0)


def test_eval_and_test_are_cut_as_before_and_validation_only_from_train():
  """The hash modulo 10 still decides train (0-7), eval (8) and test (9): the shipped models' test figures
  stay comparable and no image they trained on moves into eval or test."""
  for h in HASHES:
    before = {8: layout.EVAL, 9: layout.TEST}.get(int(h, 16) % 10, layout.TRAIN)
    now = face_records.split_for_hash(h)
    assert now == before or (before == layout.TRAIN and now == layout.VALIDATION), (h, before, now)
  train = [h for h in HASHES if int(h, 16) % 10 < 8]
  carved = [h for h in train if face_records.split_for_hash(h) == layout.VALIDATION]
  assert len(carved) / len(train) == pytest.approx(layout.VALIDATION_SLICE[2], abs=0.01)


def test_a_hash_slice_is_deterministic_about_its_fraction_and_nested():
  for fraction in (0.05, 0.1, 0.3):
    inside = [face_records.in_hash_slice(h, fraction) for h in HASHES]
    assert inside == [face_records.in_hash_slice(h, fraction) for h in HASHES]
    assert sum(inside) / len(HASHES) == pytest.approx(fraction, abs=0.01)
  # A larger slice holds the smaller one: raising the fraction moves images in, never out.
  assert all(face_records.in_hash_slice(h, 0.1) for h in HASHES if face_records.in_hash_slice(h, 0.05))
  assert not any(face_records.in_hash_slice(h, 0.0) for h in HASHES)
  assert all(face_records.in_hash_slice(h, 1.0) for h in HASHES)


def test_copies_of_an_image_land_in_the_same_split_and_a_changed_byte_makes_another_image():
  """The split is a function of the bytes only, so byte-identical files (however named, wherever found)
  share it; one changed byte makes another image, split on its own (tests/test_ingest.py checks that
  the real UTKFace duplicates end up as one example in one split)."""
  images = {f"{i}_0_0_2017.jpg.chip.jpg": hashlib.sha256(str(i).encode()).digest() * 64 for i in range(2000)}
  copies = {f"copy of {name}": bytes(data) for name, data in images.items()}
  split = {name: face_records.split_for_hash(face_records.content_hash(data))
           for name, data in {**images, **copies}.items()}
  assert all(split[name] == split[f"copy of {name}"] for name in images)
  changed = {name: face_records.split_for_hash(face_records.content_hash(b"\x00" + data[1:]))
             for name, data in images.items()}
  assert sum(changed[name] != split[name] for name in images) > len(images) / 10
