"""`fdp batch-predict`'s parts: inputs checked before the job, folders standing for their photos, the
per-photo join, the Beam args' parsing; and a whole job on the DirectRunner (the portable runner's run is in
tests/test_beam_portable.py)."""
import json
import os

import pytest

from application import batch_prediction
from application import faces
from cli import beam_options
from tests.conftest import SHIPPED_MODELS


def test_a_missing_input_or_an_empty_glob_is_an_error_before_the_job(tmp_path):
  (tmp_path / "a.jpg").write_bytes(b"x")
  with pytest.raises(batch_prediction.InputError, match="nope: no such file or folder"):
    batch_prediction.input_patterns([str(tmp_path / "nope")])
  with pytest.raises(batch_prediction.InputError, match=r"\*\.png: matches no file"):
    batch_prediction.input_patterns([str(tmp_path / "*.png")])
  with pytest.raises(batch_prediction.InputError, match="no classifier SavedModel"):
    batch_prediction.latest_versions(str(tmp_path), ["classifier"])
  assert batch_prediction.input_patterns([str(tmp_path / "a.jpg")]) == [(str(tmp_path / "a.jpg"), False)]


def test_a_folder_stands_for_its_photos_and_a_glob_for_what_it_matches(tmp_path):
  for name in ("a.jpg", "sub/b.PNG", "sub/.hidden.jpg", "notes.txt"):
    (tmp_path / name).parent.mkdir(exist_ok=True)
    (tmp_path / name).write_bytes(b"x")
  [folder] = batch_prediction.input_patterns([str(tmp_path)])
  assert sorted(batch_prediction.list_photos(folder)) == [str(tmp_path / "a.jpg"), str(tmp_path / "sub" / "b.PNG")]
  assert sorted(faces.image_paths([str(tmp_path)])) == sorted(batch_prediction.list_photos(folder))
  [glob] = batch_prediction.input_patterns([str(tmp_path / "*.txt")])
  assert list(batch_prediction.list_photos(glob)) == [str(tmp_path / "notes.txt")]


def test_the_newest_version_of_each_model_is_taken(tmp_path):
  for version in ("3", "12", "tmp"):
    (tmp_path / "regressor" / version).mkdir(parents=True)
    (tmp_path / "regressor" / version / "saved_model.pb").write_bytes(b"")
  assert batch_prediction.latest_versions(str(tmp_path), ["regressor"]) == {
      "regressor": str(tmp_path / "regressor" / "12")}


def test_a_photos_record_joins_its_faces_predictions_in_face_and_model_order():
  found = [([0, 0, 10, 10], 0.91234), ([20, 0, 10, 10], 0.8)]
  fields = [(1, "regressor", {"age": 40.0}), (0, "regressor", {"age": 30.0}),
            (1, "classifier", {"age_bucket": "25-49", "age_bucket_prob": 0.9, "gender": "male", "gender_prob": 0.99}),
            (0, "classifier", {"age_bucket": "25-49", "age_bucket_prob": 0.8, "gender": "female", "gender_prob": 0.9})]
  line = batch_prediction.record_line(("p.jpg", {"found": [found], "fields": fields}),
                                       ["classifier", "regressor"], faces.trust_lib.Trust())
  expected = faces.photo_record("p.jpg", [(box, score, None) for box, score in found],
                                [{**fields[3][2], **fields[1][2]}, {**fields[2][2], **fields[0][2]}])
  assert line == json.dumps(expected)
  assert list(json.loads(line)["faces"][0]) == ["box", "score", "age_bucket", "age_bucket_prob", "gender",
                                                "gender_prob", "age", "warnings"]
  error = batch_prediction.record_line(("bad.jpg", {"found": ["not a readable image"], "fields": []}),
                                        ["classifier"], faces.trust_lib.Trust())
  assert json.loads(error) == {"image": "bad.jpg", "error": "not a readable image"}


def test_beam_args_are_split_like_a_shell_command_line():
  assert beam_options.split(['--runner=DataflowRunner --labels="a b"', "--region=r"]) == [
      "--runner=DataflowRunner", "--labels=a b", "--region=r"]
  assert beam_options.attach_values(["ingest", "--beam-args", "--runner=X", "--out", "o"]) == [
      "ingest", "--beam-args=--runner=X", "--out", "o"]
  with pytest.raises(beam_options.BeamArgsError, match="No closing quotation"):
    beam_options.split(["--labels='a"])


def test_a_job_on_the_direct_runner_writes_a_record_per_photo(utkface_dir, tmp_path):
  photos = tmp_path / "photos"
  photos.mkdir()
  names = sorted(os.listdir(utkface_dir))[:3]
  for name in names:
    os.symlink(utkface_dir / name, photos / name)
  (photos / "truncated.jpg").write_bytes((utkface_dir / names[0]).read_bytes()[:200])
  result = batch_prediction.run([str(photos)], str(tmp_path / "out" / "records"), str(SHIPPED_MODELS),
                                ["regressor"], detection=None, beam_args=["--direct_running_mode=in_memory"])
  assert result["counters"] == {"photos": 4, "faces": 3, "errors": 1}
  assert result["models"] == {"regressor": str(sorted((SHIPPED_MODELS / "regressor").iterdir())[0])}
  lines = [line for path in (tmp_path / "out").iterdir() for line in path.read_text().splitlines()]
  records = {r["image"]: r for r in map(json.loads, lines)}
  assert records[str(photos / "truncated.jpg")]["error"].startswith("not a readable image")
  for name in names:
    [face] = records[str(photos / name)]["faces"]
    assert face["box"][:2] == [0, 0] and face["score"] == 1.0 and set(face) == {"box", "score", "age", "warnings"}
    assert 1 <= face["age"] <= 100
