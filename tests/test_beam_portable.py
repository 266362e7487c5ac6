"""The project's Beam steps on Beam's portable runner with external SDK workers (the protocol Dataflow,
Flink and Spark speak to Python): `fdp ingest` against the DirectRunner, `fdp batch-predict` against
`fdp predict --json` on real AAF photos, and the smoke pipeline to the end. The job service and the
worker pool are started on free ports by the fixture and stopped after the tests, even on failure."""
import json
import os
import subprocess
import sys

import pytest

from cli import beam_local_command
from cli import beam_options
from tests.serve_process import fdp_serve
from tests.conftest import REPO, SHORT_TRAINING, training_flags
from tests.test_ingest import read_ingested


@pytest.fixture(scope="module")
def portable_runner(tmp_path_factory):
  runner = beam_local_command.LocalPortableRunner.start(str(tmp_path_factory.mktemp("beam-local")))
  try:
    yield runner
  finally:
    runner.stop()
  assert all(beam_local_command._exited(pid) for pid in runner.pids)  # pylint: disable=protected-access


def fdp(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "cli", *args], cwd=REPO, capture_output=True, text=True,
                        timeout=timeout)


def beam_args(runner) -> str:
  return " ".join(runner.beam_args())


def test_ingest_on_the_portable_runner_writes_the_direct_runners_examples(portable_runner, utkface_subset, tmp_path):
  from components import ingest_job
  data = utkface_subset(300, tmp_path / "utkface")
  ingest_job.run_ingest("utkface", str(data), str(tmp_path / "direct"), show_progress=False)
  done = fdp("ingest", "utkface", str(data), "--out", str(tmp_path / "portable"),
             "--beam-args", beam_args(portable_runner))
  assert done.returncode == 0, done.stderr[-3000:]
  direct, direct_report = read_ingested(tmp_path / "direct")
  portable, portable_report = read_ingested(tmp_path / "portable")
  assert portable_report["counts"] == direct_report["counts"]
  assert portable_report["counts"]["read"] == 300
  split_of = {}
  for split, examples in portable.items():
    for example in examples:
      sha = example.features.feature["sha256"].bytes_list.value[0]
      assert sha not in split_of, "an image in two splits"
      split_of[sha] = split
  assert len(split_of) == portable_report["counts"]["examples"] > 250
  def by_hash(examples):  # proto equality (map fields serialize in no fixed order)
    return {e.features.feature["sha256"].bytes_list.value[0]: e for e in examples}
  for split in direct:
    assert by_hash(portable[split]) == by_hash(direct[split]), split


@pytest.fixture(scope="module")
def aaf_photos(tmp_path_factory, aaf_dir):
  """24 real AAF photos (links) and a text file named like a photo."""
  folder = tmp_path_factory.mktemp("aaf-photos")
  for name in sorted(os.listdir(aaf_dir / "faces"))[::123][:24]:
    os.symlink(aaf_dir / "faces" / name, folder / name)
  (folder / "not-a-photo.jpg").write_text("this is no image")
  return folder


def records_by_image(lines):
  return {record["image"]: record for record in map(json.loads, lines)}


def assert_records_agree(batch, served):
  assert set(batch) == set(served)
  for image, record in served.items():
    if "error" in record:
      assert batch[image] == record
      continue
    assert len(batch[image]["faces"]) == len(record["faces"]) >= 1, image
    for ours, theirs in zip(batch[image]["faces"], record["faces"]):
      assert set(ours) == set(theirs)
      assert (ours["box"], ours["score"], ours["gender"], ours["age_bucket"], ours["warnings"]) == (
          theirs["box"], theirs["score"], theirs["gender"], theirs["age_bucket"], theirs["warnings"]), image
      assert abs(ours["age"] - theirs["age"]) <= 0.2 and abs(ours["gender_prob"] - theirs["gender_prob"]) <= 2e-3


def test_batch_predict_on_the_portable_runner_agrees_with_fdp_predict(portable_runner, aaf_photos, tmp_path):
  done = fdp("batch-predict", str(aaf_photos), "--output", str(tmp_path / "out" / "records"),
             "--beam-args", beam_args(portable_runner))
  assert done.returncode == 1, done.stderr[-3000:]  # the unreadable photo, as fdp predict below
  result = json.loads(done.stdout[done.stdout.index("{"):])
  assert result["counters"] == {"photos": 25, "faces": result["counters"]["faces"], "errors": 1}
  assert result["counters"]["faces"] >= 24
  shards = sorted((tmp_path / "out").iterdir())
  assert shards and all(path.name.startswith("records-") for path in shards)
  batch = records_by_image(line for path in shards for line in path.read_text().splitlines())
  assert batch[str(aaf_photos / "not-a-photo.jpg")] == {"image": str(aaf_photos / "not-a-photo.jpg"),
                                                         "error": "not a readable image: unknown image format"}
  with fdp_serve() as (_, rest_port, _):
    served = fdp("predict", str(aaf_photos), "--json", "--server", f"127.0.0.1:{rest_port}", "--no-progress")
  assert served.returncode == 1  # the unreadable photo
  assert_records_agree(batch, records_by_image(served.stdout.splitlines()))


def jobs_run(runner) -> int:
  with open(os.path.join(runner.log_dir, "beam-job-service.log")) as f:
    return f.read().count("Running job")


@pytest.mark.training
def test_the_smoke_pipeline_runs_to_the_end_on_the_portable_runner(portable_runner, tmp_path):
  jobs_before = jobs_run(portable_runner)
  done = fdp("run", "local", "--home", str(tmp_path / "home"), "--beam-args", beam_args(portable_runner),
             *training_flags(SHORT_TRAINING), timeout=1200)
  assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
  [summary_file] = (tmp_path / "home" / "runs").glob("*/*.json")
  summary = json.loads(summary_file.read_text())
  states = {c["id"]: c["state"] for c in summary["components"]}
  for component in ("FileBasedExampleGen", "StatisticsGen", "Transform", "classifier_evaluator",
                    "regressor_evaluator", "classifier_pusher", "regressor_pusher"):
    assert states[component] == "COMPLETE", states
  # ExampleGen, StatisticsGen, Transform and the two Evaluators ran as jobs of the job service.
  assert jobs_run(portable_runner) - jobs_before == 5
  for model in ("classifier", "regressor"):
    pushed = [m for m in summary["models"] if m["model"] == model][0]["pushed_path"]
    assert pushed and os.path.exists(os.path.join(pushed, "saved_model.pb"))


def test_wrong_beam_args_are_one_line_errors_naming_the_argument(portable_runner, tmp_path):
  dead = beam_local_command.free_port()
  cases = {
      "--runner=NoSuchRunner": "--runner=NoSuchRunner: Unexpected pipeline runner",
      f"--runner=PortableRunner --job_endpoint=localhost:{dead}": f"--job_endpoint=localhost:{dead}: no job service",
      (f"--runner=PortableRunner --job_endpoint=localhost:{portable_runner.job_port} "
       f"--environment_type=EXTERNAL --environment_config=localhost:{dead}"):
          f"--environment_config=localhost:{dead}: no worker pool",
      "runner=DirectRunner": "'runner=DirectRunner' is not an option",
  }
  for args, message in cases.items():
    with pytest.raises(beam_options.BeamArgsError, match=message):
      beam_options.check(beam_options.split([args]))
  done = fdp("batch-predict", str(tmp_path), "--output", str(tmp_path / "out"), "--beam-args", "--runner=NoSuchRunner")
  assert done.returncode == 1 and "Traceback" not in done.stderr
  assert "--beam-args: --runner=NoSuchRunner: Unexpected pipeline runner" in done.stderr


def test_fdp_beam_local_up_prints_the_args_and_down_stops_both_processes(tmp_path):
  up = fdp("beam-local", "up", "--home", str(tmp_path), "--job-port", "0", "--worker-port", "0", timeout=180)
  assert up.returncode == 0, up.stderr[-3000:]
  state = json.loads((tmp_path / beam_local_command.STATE_FILE).read_text())
  runner = beam_local_command.LocalPortableRunner(**state)
  try:
    assert f'--beam-args "{beam_args(runner)}"' in up.stdout
    beam_options.check(runner.beam_args())  # both answer
    again = fdp("beam-local", "up", "--home", str(tmp_path))
    assert again.returncode == 1 and "already up" in again.stderr
  finally:
    down = fdp("beam-local", "down", "--home", str(tmp_path))
  assert down.returncode == 0 and not (tmp_path / beam_local_command.STATE_FILE).exists()
  assert all(beam_local_command._exited(pid) for pid in runner.pids)  # pylint: disable=protected-access
  with pytest.raises(beam_options.BeamArgsError, match="no job service"):
    beam_options.check(runner.beam_args())
