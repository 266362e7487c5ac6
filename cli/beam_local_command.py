"""`fdp beam-local up|down`: Beam's portable runner on this machine, the protocol Dataflow, Flink and Spark
speak to Python: a job service (apache_beam.runners.portability.local_job_service_main) and a pool of
external SDK workers (apache_beam.runners.worker.worker_pool_main), each its own process group.

`up` starts both, waits until they answer and prints the --beam-args that use them; `down` stops them.
The tests start and stop their own with LocalPortableRunner.
"""
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import List

from vocabulary import settings

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE_FILE = "beam-local.json"
JOB_PORT, WORKER_PORT = 8099, 50000  # Beam's usual ports
START_TIMEOUT_S = 120.0
JOB_TIMEOUT_S = 24 * 3600


class StartError(RuntimeError):
  """A process of the portable runner did not come up."""


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _answers(port: int) -> bool:
  try:
    with socket.create_connection(("localhost", port), timeout=1.0):
      return True
  except OSError:
    return False


def _environment() -> dict:
  """The worker pool starts each SDK worker as `python` from PATH: this interpreter's folder comes first.
  The project's code goes on PYTHONPATH: the workers unpickle its functions."""
  env = dict(os.environ)
  env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
  env["PYTHONPATH"] = os.pathsep.join(p for p in [PROJECT_ROOT, env.get("PYTHONPATH", "")] if p)
  return env


@dataclasses.dataclass
class LocalPortableRunner:
  """A job service and a worker pool, by port and process id."""
  job_port: int
  worker_port: int
  pids: List[int]
  log_dir: str

  def beam_args(self) -> List[str]:
    """The args for these two. --job_server_timeout: Beam's PortableRunner opens the job's state stream
    with that deadline (default 60 s), so a longer job failed with DEADLINE_EXCEEDED."""
    return ["--runner=PortableRunner", f"--job_endpoint=localhost:{self.job_port}",
            "--environment_type=EXTERNAL", f"--environment_config=localhost:{self.worker_port}",
            f"--job_server_timeout={JOB_TIMEOUT_S}"]

  @classmethod
  def start(cls, log_dir: str, job_port: int = 0, worker_port: int = 0,
            timeout_s: float = START_TIMEOUT_S) -> "LocalPortableRunner":
    """Starts both (port 0: a free one) and waits until they answer; stops them again if one does not."""
    os.makedirs(log_dir, exist_ok=True)
    job_port, worker_port = job_port or free_port(), worker_port or free_port()
    for port in (job_port, worker_port):
      if _answers(port):
        raise StartError(f"port {port} is already in use")
    commands = {
        "job-service": ["apache_beam.runners.portability.local_job_service_main", "--port", str(job_port)],
        "worker-pool": ["apache_beam.runners.worker.worker_pool_main", "--service_port", str(worker_port)]}
    runner = cls(job_port, worker_port, [], os.path.abspath(log_dir))
    try:
      for name, command in commands.items():
        with open(os.path.join(log_dir, f"beam-{name}.log"), "ab") as log:
          process = subprocess.Popen([sys.executable, "-m", *command], stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=_environment(), cwd=PROJECT_ROOT,
                                     start_new_session=True)
        runner.pids.append(process.pid)
      runner._wait(timeout_s)
    except BaseException:
      runner.stop()
      raise
    return runner

  def _wait(self, timeout_s: float) -> None:
    deadline = time.time() + timeout_s
    while not (_answers(self.job_port) and _answers(self.worker_port)):
      for pid in self.pids:
        if _exited(pid):
          raise StartError(f"a Beam process exited at start; see the logs in {self.log_dir}")
      if time.time() > deadline:
        raise StartError(f"no answer on ports {self.job_port}/{self.worker_port} after {timeout_s:.0f} s; "
                         f"see the logs in {self.log_dir}")
      time.sleep(0.2)

  def stop(self, timeout_s: float = 10.0) -> None:
    """SIGTERM to each process group (the workers the pool started included), SIGKILL after timeout_s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
      for pid in self.pids:
        try:
          os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
          pass
      deadline = time.time() + timeout_s
      while time.time() < deadline and not all(_exited(pid) for pid in self.pids):
        time.sleep(0.1)
      if all(_exited(pid) for pid in self.pids):
        return


def _exited(pid: int) -> bool:
  """Whether the process is gone (reaped here when it is this process's child)."""
  try:
    if os.waitpid(pid, os.WNOHANG)[0] == pid:
      return True
  except ChildProcessError:
    pass
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return True
  try:  # a zombie that nobody has reaped yet (`fdp beam-local up` has exited; its children went to init)
    with open(f"/proc/{pid}/stat") as f:
      return f.read().rsplit(")", 1)[-1].split()[0] == "Z"
  except OSError:
    return False


def _state_path(home: str) -> str:
  return os.path.join(os.path.abspath(home), STATE_FILE)


def cmd_up(args) -> int:
  path = _state_path(args.home)
  if os.path.exists(path):
    sys.exit(f"fdp beam-local: already up ({path}); `fdp beam-local down --home {args.home}` first")
  try:
    runner = LocalPortableRunner.start(args.home, args.job_port, args.worker_port)
  except StartError as e:
    sys.exit(f"fdp beam-local: {e}")
  with open(path, "w") as f:
    json.dump(dataclasses.asdict(runner), f)
  print(f"Job service on localhost:{runner.job_port}, worker pool on localhost:{runner.worker_port} "
        f"(logs in {runner.log_dir}). Use them with:")
  print(f'  --beam-args "{" ".join(runner.beam_args())}"')
  return 0


def cmd_down(args) -> int:
  path = _state_path(args.home)
  if not os.path.exists(path):
    print(f"fdp beam-local: nothing is up ({path} is missing)")
    return 0
  with open(path) as f:
    runner = LocalPortableRunner(**json.load(f))
  runner.stop()
  os.remove(path)
  print(f"Stopped the job service (localhost:{runner.job_port}) and the worker pool (localhost:{runner.worker_port}).")
  return 0


def register(subparsers) -> None:
  beam_local = subparsers.add_parser("beam-local", help="Beam's portable runner on this machine (a job service and "
                                     "a worker pool of external SDK workers), to try --beam-args as on a cluster")
  commands = beam_local.add_subparsers(dest="beam_local_command", required=True)
  up = commands.add_parser("up", help="start the job service and the worker pool; print the --beam-args")
  up.add_argument("--job-port", type=int, default=JOB_PORT, help="0: any free port (default %(default)s)")
  up.add_argument("--worker-port", type=int, default=WORKER_PORT, help="0: any free port (default %(default)s)")
  down = commands.add_parser("down", help="stop them")
  for parser, func in ((up, cmd_up), (down, cmd_down)):
    parser.add_argument("--home", default=settings.home(), help="where the state file and the logs go "
                        "(default: $FDP_HOME or ./fdp_home)")
    parser.set_defaults(func=func)

