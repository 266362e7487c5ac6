"""`fdp schedule`: cron timing, no overlapping runs, crontab/systemd output."""
import datetime
import sys
import threading

import pytest

from cli import main as cli
from pipeline import schedule
from tests.waiting import wait_until


def test_next_times_follow_the_cron_expression():
  start = datetime.datetime(2026, 11, 30, 12, 0)  # a Monday
  times = schedule.next_times("0 3 * * 0", start, 3)
  assert times == [datetime.datetime(2026, 12, d, 3, 0) for d in (6, 13, 20)]
  with pytest.raises(ValueError):
    schedule.next_times("every sunday", start, 1)


def test_runs_never_overlap(tmp_path, monkeypatch):
  """A run that lasts until the test releases it: a second run started meanwhile is skipped."""
  release = tmp_path / "release"
  waits = f"import os, threading\nwhile not os.path.exists({str(release)!r}): threading.Event().wait(0.02)"
  monkeypatch.setattr(schedule, "run_command", lambda args: [sys.executable, "-c", waits])
  logs, results = [], []
  lock = str(tmp_path / "schedule.lock")
  threads = [threading.Thread(target=lambda: results.append(schedule.run_once([], lock, logs.append)))
             for _ in range(2)]
  for t in threads:
    t.start()
  wait_until(lambda: None in results, what="the second run skipped")
  release.write_text("")
  for t in threads:
    t.join()
  assert sorted(results, key=lambda r: r is None) == [0, None]
  assert sum("skipped" in line for line in logs) == 1
  assert sum("run finished: exit 0" in line for line in logs) == 1
  # The lock is released afterwards: the next run goes ahead.
  assert schedule.run_once([], lock, logs.append) == 0


def test_run_forever_sleeps_until_each_run_and_logs_it(tmp_path, monkeypatch):
  monkeypatch.setattr(schedule, "run_command", lambda args: [sys.executable, "-c", "raise SystemExit(3)"])
  sleeps, logs = [], []
  schedule.run_forever("*/5 * * * *", ["--epochs", "1"], str(tmp_path / "l"), logs.append, max_runs=2,
                       sleep=sleeps.append)
  assert len(sleeps) == 2 and all(0 <= s <= 300 for s in sleeps)
  assert [l for l in logs if l.startswith("run finished")] == ["run finished: exit 3 after 0 s"] * 2
  assert sum(l.startswith("next run at") for l in logs) == 2


def test_print_crontab_and_systemd(capsys, tmp_path):
  cli.main(["schedule", "--cron", "0 3 * * 0", "--print", "crontab", "--home", str(tmp_path), "--", "--data", "/d"])
  line = capsys.readouterr().out.strip()
  assert line.startswith("0 3 * * 0 cd ") and f"flock -n {tmp_path}/schedule.lock" in line
  assert "fdp run local --data /d --home" in line
  cli.main(["schedule", "--cron", "30 2 * * 1-5", "--print", "systemd", "--", "--data", "/d"])
  units = capsys.readouterr().out
  assert "OnCalendar=Mon..Fri *-*-* 02:30:00" in units and "Type=oneshot" in units
