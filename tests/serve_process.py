"""`fdp serve` in a child process on free ports of 127.0.0.1, for the tests and the benchmarks that talk
to the server the way a user's client does (a harness, not part of the product)."""
import contextlib
import dataclasses
import os
import re
import signal
import subprocess
import sys
import tempfile
from typing import Dict, Iterator, List, Optional, Tuple

# The folder holding the project's packages, where `python -m cli` runs.
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ServerStartError(RuntimeError):
  """`fdp serve` exited or printed no "REST on" line."""


@dataclasses.dataclass
class ServeProcess:
  process: subprocess.Popen  # its stdout stays open for reading after the start-up lines
  lines: List[str]  # what it printed up to its "REST on" line
  rest_port: str
  grpc_port: str


@contextlib.contextmanager
def serve_process(*args: str, env: Optional[Dict[str, str]] = None, stop: bool = True,
                  checkout: str = PROJECT_ROOT) -> Iterator[ServeProcess]:
  """`fdp serve ARGS` of `checkout` (this one by default; another revision's worktree for a comparison),
  with `env` added to the environment, once it is serving. With `stop`, it is then stopped with SIGTERM
  and must exit 0; else the caller stops it (it is killed if still running)."""
  stderr = tempfile.TemporaryFile(mode="w+")  # kept, so a start that fails says why
  process = subprocess.Popen(
      [sys.executable, "-m", "cli", "serve", *args, "--rest-port", "0", "--grpc-port", "0",
       "--host", "127.0.0.1"], cwd=checkout, stdout=subprocess.PIPE, stderr=stderr, text=True,
      env={**os.environ, **(env or {})})
  code = None
  try:
    lines = []
    for line in process.stdout:
      lines.append(line)
      if line.startswith("REST on"):
        break
    match = re.search(r"REST on 127.0.0.1:(\d+) .* gRPC on 127.0.0.1:(\d+)", lines[-1] if lines else "")
    if not match:
      process.wait(timeout=60)
      stderr.seek(0)
      raise ServerStartError(f"fdp serve did not start (exit {process.returncode}): {''.join(lines)[-1000:]}"
                             f"{stderr.read()[-2000:]}")
    yield ServeProcess(process, lines, match.group(1), match.group(2))
  finally:
    if stop:
      process.send_signal(signal.SIGTERM)
      code = process.wait(timeout=60)
    elif process.poll() is None:
      process.kill()
      process.wait(timeout=60)
    stderr.close()
  if stop and code != 0:
    raise ServerStartError(f"fdp serve exited with {code} after SIGTERM")


@contextlib.contextmanager
def fdp_serve(*args: str, env: Optional[Dict[str, str]] = None) -> Iterator[Tuple[List[str], str, str]]:
  """`fdp serve ARGS`: yields (the lines it printed up to its "REST on" line, REST port, gRPC port); then
  stops it with SIGTERM, after which it must exit 0."""
  with serve_process(*args, env=env) as served:
    yield served.lines, served.rest_port, served.grpc_port


def threads_of(pid: int) -> int:
  """How many threads a process runs now (Linux: /proc/PID/status)."""
  with open(f"/proc/{pid}/status") as f:
    return int(re.search(r"^Threads:\s+(\d+)", f.read(), re.M).group(1))
