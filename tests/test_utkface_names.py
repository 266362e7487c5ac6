"""UTKFace labels come from file names; malformed names are rejected with the reason."""
import os

import pytest

from components import utkface


def test_parses_labels_from_name():
  labels = utkface.parse_file_name("/d/26_1_3_20170119165506532.jpg.chip.jpg")
  assert (labels.age, labels.gender, labels.race, labels.source) == (26, 1, 3, "utkface")
  assert labels.path == "/d/26_1_3_20170119165506532.jpg.chip.jpg"


@pytest.mark.parametrize("name", [
    "61_1_20170109150557335.jpg.chip.jpg",  # race missing
    "55_0_0_20170116232725357jpg.chip.jpg",  # broken extension
    "24_0_1_20170116220224657 .jpg.chip.jpg",  # space before the extension
    "30_2_0_20170116232725357.jpg.chip.jpg",  # gender out of range
    "30_0_5_20170116232725357.jpg.chip.jpg",  # race out of range
    "130_0_0_20170116232725357.jpg.chip.jpg",  # age over 124
    "notes.txt",
])
def test_malformed_names_raise(name):
  with pytest.raises(utkface.MalformedName):
    utkface.parse_file_name(name)


def test_format_round_trips():
  name = utkface.format_file_name(7, 0, 4, 20170101000000123)
  assert utkface.parse_file_name(name).label_tuple() == (7, 0, 4)


def test_real_folder_has_exactly_the_five_known_malformed_names(utkface_dir):
  bad = []
  for name in os.listdir(utkface_dir):
    try:
      utkface.parse_file_name(name)
    except utkface.MalformedName:
      bad.append(name)
  assert sorted(bad) == [
      "24_0_1_20170116220224657 .jpg.chip.jpg",
      "39_1_20170116174525125.jpg.chip.jpg",
      "55_0_0_20170116232725357jpg.chip.jpg",
      "61_1_20170109142408075.jpg.chip.jpg",
      "61_1_20170109150557335.jpg.chip.jpg",
  ]
