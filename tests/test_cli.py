"""The `fdp` command: help without heavy imports, dataset detection, flags into the config."""
import subprocess
import sys

from cli import main as cli
from trainer import hyperparameters
import vocabulary


def test_help_does_not_import_tensorflow_or_tfx():
  code = ("import sys, contextlib, io\n"
          "from cli import main as cli\n"
          "with contextlib.redirect_stdout(io.StringIO()):\n"
          "  try: cli.main(['--help'])\n"
          "  except SystemExit: pass\n"
          "heavy = [m for m in ('tensorflow', 'tfx', 'apache_beam') if m in sys.modules]\n"
          "assert not heavy, heavy\n")
  subprocess.run([sys.executable, "-c", code], check=True)


def test_dataset_is_detected_from_the_folder(tmp_path):
  assert cli._detect_dataset(str(tmp_path)) == vocabulary.UTKFACE
  (tmp_path / "crop" / "00").mkdir(parents=True)
  (tmp_path / "crop" / "17").mkdir()
  assert cli._detect_dataset(str(tmp_path / "crop")) == vocabulary.WIKI  # wiki_crop's layout, wiki.mat elsewhere
  (tmp_path / "wiki.mat").write_bytes(b"")
  assert cli._detect_dataset(str(tmp_path)) == vocabulary.WIKI
  (tmp_path / "ingest_report.json").write_text("{}")
  assert cli._detect_dataset(str(tmp_path)) == vocabulary.TFRECORDS


def test_flags_override_the_training_config():
  args = cli.build_parser().parse_args(["run", "local", "--epochs", "3", "--image-size", "64"])
  cfg = cli._training_config(args, hyperparameters.TrainingConfig())
  assert (cfg.epochs, cfg.image_size, cfg.batch_size) == (3, 64, hyperparameters.TrainingConfig().batch_size)


def test_source_weights_and_several_data_folders():
  args = cli.build_parser().parse_args(["run", "local", "--data", "a", "--data", "b", "--source-weight", "wiki=0.5"])
  assert args.data == ["a", "b"]
  assert cli._training_config(args, hyperparameters.TrainingConfig()).source_weights == {"wiki": 0.5}
  bad = cli.build_parser().parse_args(["run", "local", "--source-weight", "wiki"])
  try:
    cli._training_config(bad, hyperparameters.TrainingConfig())
    raise AssertionError("a weight without a value was accepted")
  except SystemExit as e:
    assert "expected SOURCE=WEIGHT" in str(e)


def test_several_data_folders_must_be_one_utkface_and_one_wiki(tmp_path):
  (tmp_path / "a").mkdir()
  (tmp_path / "b").mkdir()
  args = cli.build_parser().parse_args(["run", "local", "--data", str(tmp_path / "a"), "--data", str(tmp_path / "b")])
  try:
    cli._data_sources(args)
    raise AssertionError("two UTKFace folders were accepted")
  except SystemExit as e:
    assert "one UTKFace and one WIKI folder (found: utkface, utkface)" in str(e)
  (tmp_path / "b" / "00").mkdir()
  (tmp_path / "b" / "wiki.mat").write_text("not MATLAB")
  try:
    cli._data_sources(args)
    raise AssertionError("an unreadable wiki.mat was accepted")
  except SystemExit as e:
    assert "wiki.mat: not a MATLAB file" in str(e)
