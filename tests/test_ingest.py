"""The Beam ingest transform: labels, corrupt files, duplicates, conflicts, split by content hash."""
import json
import os
import shutil

import pytest
import tensorflow as tf

from components import face_records, ingest_job
from vocabulary import layout


def run_ingest(dataset, root, out, **kwargs):
  """`fdp ingest` into `out`; returns ({split: [tf.Example]}, report)."""
  ingest_job.run_ingest(dataset, str(root), str(out), show_progress=False, **kwargs)
  return read_ingested(out)


def read_ingested(out):
  with open(out / layout.REPORT_FILE) as f:
    report = json.load(f)
  examples = {}
  for split in layout.SPLITS:
    files = tf.io.gfile.glob(str(out / layout.split_dir(split) / "*.gz"))
    examples[split] = [tf.train.Example.FromString(r.numpy())
                       for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
  return examples, report


def _feature(example, key):
  feature = example.features.feature[key]
  return (feature.int64_list.value or feature.bytes_list.value)[0]


def test_every_category_is_counted_and_nothing_is_lost(synthetic_dir):
  files = sorted(os.listdir(synthetic_dir))
  # A byte-identical copy with the same labels (collapses to one example) ...
  age, gender, race = files[0].split("_")[:3]
  shutil.copyfile(synthetic_dir / files[0], synthetic_dir / f"{age}_{gender}_{race}_20990101000000001.jpg.chip.jpg")
  # ... a copy with other labels (both dropped) ...
  other_age = (int(files[1].split("_")[0]) + 30) % 100 + 1
  shutil.copyfile(synthetic_dir / files[1],
                  synthetic_dir / f"{other_age}_{files[1].split('_')[1]}_{files[1].split('_')[2]}_20990101000000002.jpg.chip.jpg")
  # ... a corrupt JPEG, a text file with an image name, and a malformed name.
  (synthetic_dir / "40_0_1_20990101000000003.jpg.chip.jpg").write_bytes(
      (synthetic_dir / files[2]).read_bytes()[:300])
  (synthetic_dir / "41_1_2_20990101000000004.jpg.chip.jpg").write_text("not an image")
  shutil.copyfile(synthetic_dir / files[3], synthetic_dir / "42_1_20990101000000005.jpg.chip.jpg")

  examples, report = run_ingest("utkface", synthetic_dir, synthetic_dir.parent / "out")
  counts = report["counts"]
  assert counts["read"] == 65
  assert counts["malformed_name"] == 1
  assert counts["corrupt"] == 2
  assert (counts["duplicate_groups"], counts["duplicate"]) == (1, 1)
  assert (counts["conflicting_groups"], counts["conflicting"]) == (1, 2)
  assert counts["examples"] == 60 - 1 == sum(len(v) for v in examples.values())
  # Every input is accounted for exactly once.
  assert counts["read"] == (counts["examples"] + counts["malformed_name"] + counts["corrupt"]
                            + counts["duplicate"] + counts["conflicting"])
  assert sum(counts[f"split_{s}"] for s in layout.SPLITS) == counts["examples"]
  assert {r["category"] for r in report["rejected"]} == {"malformed_name", "corrupt"}

  seen = {}
  for split, split_examples in examples.items():
    for example in split_examples:
      sha = _feature(example, "sha256").decode()
      assert sha not in seen, "an image appears twice"
      seen[sha] = split
      image = _feature(example, "image")
      assert face_records.content_hash(image) == sha
      assert face_records.split_for_hash(sha) == split
      assert tf.io.decode_jpeg(image).shape[-1] == 3
      assert 0 <= _feature(example, "age") <= 124 and _feature(example, "source") == b"utkface"


def test_real_utkface_counts(utkface_records):
  """The whole real folder: 23,708 files, 23,313 distinct images (375 duplicate groups, of which
  259 disagree on age, gender or race and are dropped), 5 malformed names. Eval and test are the
  2,292 and 2,298 images they always were; validation is carved from the 18,464 train images."""
  examples, report = read_ingested(utkface_records)
  assert report["counts"] == {
      "read": 23708, "malformed_name": 5,
      "duplicate_groups": 116, "duplicate": 118, "conflicting_groups": 259, "conflicting": 531,
      "examples": 23054, "examples_utkface": 23054,
      "split_train": 16629, "split_validation": 1835, "split_eval": 2292, "split_test": 2298,
  }
  assert len(report["rejected"]) == 5
  assert {s: len(v) for s, v in examples.items()} == {"train": 16629, "validation": 1835, "eval": 2292, "test": 2298}
  # The duplicates collapsed to one example each: no image straddles two splits.
  hashes = [_feature(e, "sha256") for split_examples in examples.values() for e in split_examples]
  assert len(set(hashes)) == len(hashes) == 23054


def test_fdp_ingest_cli_shows_the_counts(synthetic_dir, tmp_path, capsys):
  from cli import main as cli
  assert cli.main(["ingest", "utkface", str(synthetic_dir), "--out", str(tmp_path / "r"), "--quiet"]) == 0
  printed = capsys.readouterr().out
  assert '"examples": 60' in printed and "fdp run local --data" in printed
  assert (tmp_path / "r" / layout.REPORT_FILE).exists()


def test_an_empty_folder_is_a_clear_error(tmp_path):
  with pytest.raises(ValueError, match="no utkface records found"):
    run_ingest("utkface", tmp_path, tmp_path / "out")
