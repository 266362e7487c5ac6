"""`fdp schedule`: re-run the local pipeline on a cron schedule, in the foreground, never two at once;
or print the equivalent crontab line or systemd service + timer units."""
import datetime
import fcntl
import os
import shlex
import subprocess
import sys
import time
from typing import Callable, List, Optional

_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def next_times(cron: str, start: datetime.datetime, count: int) -> List[datetime.datetime]:
  import croniter  # pylint: disable=g-import-not-at-top
  if not croniter.croniter.is_valid(cron):
    raise ValueError(f"not a valid cron expression: {cron!r}")
  it = croniter.croniter(cron, start)
  return [it.get_next(datetime.datetime) for _ in range(count)]


class RunLock:
  """An exclusive, non-blocking lock file: a second scheduler (or a slow previous run) cannot overlap."""

  def __init__(self, path: str):
    self._path = path
    self._file = None

  def acquire(self) -> bool:
    os.makedirs(os.path.dirname(self._path) or ".", exist_ok=True)
    self._file = open(self._path, "a")  # pylint: disable=consider-using-with
    try:
      fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
      return True
    except BlockingIOError:
      self._file.close()
      self._file = None
      return False

  def release(self) -> None:
    if self._file:
      fcntl.flock(self._file, fcntl.LOCK_UN)
      self._file.close()
      self._file = None


def run_command(run_args: List[str]) -> List[str]:
  return [sys.executable, "-m", "cli", "run", "local", *run_args]


def run_once(run_args: List[str], lock_path: str, log: Callable[[str], None]) -> Optional[int]:
  """One scheduled run under the lock; None when skipped because a run holds the lock."""
  lock = RunLock(lock_path)
  if not lock.acquire():
    log(f"skipped: a run is still in progress (lock {lock_path})")
    return None
  try:
    started = time.time()
    log(f"run started: fdp run local {shlex.join(run_args)}")
    code = subprocess.call(run_command(run_args))
    log(f"run finished: exit {code} after {time.time() - started:.0f} s")
    return code
  finally:
    lock.release()


def run_forever(cron: str, run_args: List[str], lock_path: str, log: Callable[[str], None],
                max_runs: Optional[int] = None, sleep: Callable[[float], None] = time.sleep) -> None:
  runs = 0
  while max_runs is None or runs < max_runs:
    when = next_times(cron, datetime.datetime.now(), 1)[0]
    log(f"next run at {when:%Y-%m-%d %H:%M}")
    sleep(max(0.0, (when - datetime.datetime.now()).total_seconds()))
    run_once(run_args, lock_path, log)
    runs += 1


def crontab_line(cron: str, run_args: List[str], repo: str, lock_path: str, log_path: str) -> str:
  next_times(cron, datetime.datetime.now(), 1)  # validates
  fdp = os.path.join(repo, ".venv", "bin", "fdp")
  return (f"{cron} cd {shlex.quote(repo)} && flock -n {shlex.quote(lock_path)} {fdp} run local "
          f"{shlex.join(run_args)} >> {shlex.quote(log_path)} 2>&1")


def _systemd_field(field: str, names=None) -> str:
  def one(value):
    return names[int(value)] if names else f"{int(value):02d}"
  if field == "*":
    return "*"
  if field.startswith("*/"):
    return f"0/{int(field[2:])}"
  parts = []
  for item in field.split(","):
    if "-" in item:
      low, high = item.split("-")
      parts.append(f"{one(low)}..{one(high)}")
    else:
      parts.append(one(item))
  return ",".join(parts)


def systemd_units(cron: str, run_args: List[str], repo: str) -> str:
  """A oneshot service and a timer with the cron schedule as OnCalendar (systemd never overlaps a
  oneshot service with itself)."""
  minute, hour, dom, month, dow = cron.split()
  next_times(cron, datetime.datetime.now(), 1)
  days = "" if dow == "*" else _systemd_field(dow, _DAYS) + " "
  calendar = (f"{days}*-{_systemd_field(month)}-{_systemd_field(dom)} "
              f"{_systemd_field(hour)}:{_systemd_field(minute)}:00")
  fdp = os.path.join(repo, ".venv", "bin", "fdp")
  return (f"# /etc/systemd/system/fdp-pipeline.service\n[Unit]\nDescription=Face demographics TFX pipeline\n\n"
          f"[Service]\nType=oneshot\nWorkingDirectory={repo}\nExecStart={fdp} run local {shlex.join(run_args)}\n\n"
          f"# /etc/systemd/system/fdp-pipeline.timer\n[Unit]\nDescription=Re-train on a schedule\n\n"
          f"[Timer]\nOnCalendar={calendar}\nPersistent=false\n\n[Install]\nWantedBy=timers.target\n")
