"""The Beam options of the commands that run Beam jobs (`fdp run local`, `fdp ingest`, `fdp batch-predict`;
`fdp run kubeflow` takes --beam-args too): `--beam-args "ARGS"`, split like a shell command line, or its
shorthand for the DirectRunner, `--beam-workers N`. Before a job starts the args are checked: a runner Beam
does not know, or a job service (or local worker pool) that does not answer, is a one-line error naming the
argument. Nothing heavy is imported until a command runs."""
import argparse
import shlex
import socket
import sys
from typing import List, Optional

# Hosts whose worker pool the launcher can reach too: only then is --environment_config checked (on a
# cluster, e.g. Flink's task managers, "localhost:50000" means the task manager's own worker pool).
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
CONNECT_TIMEOUT_S = 5.0


class BeamArgsError(ValueError):
  """--beam-args that cannot work; the message names the argument."""


def add_options(parser: argparse.ArgumentParser) -> None:
  """--beam-args, or --beam-workers (the DirectRunner's shorthand); one of the two."""
  group = parser.add_mutually_exclusive_group()
  group.add_argument("--beam-workers", type=int, default=1,
                     help="Beam's DirectRunner with N worker processes (>1: multi-processing mode)")
  group.add_argument("--beam-args", action="append", metavar="ARGS",
                     help='Beam pipeline options, one string split like a shell command line, e.g. '
                     '"--runner=PortableRunner --job_endpoint=localhost:8099 --environment_type=EXTERNAL '
                     '--environment_config=localhost:50000" (see docs/beam.md)')


def attach_values(argv: List[str]) -> List[str]:
  """`--beam-args "--runner=X"` as `--beam-args=--runner=X`: argparse takes a lone value that starts with
  "--" for an option of its own."""
  attached, args = [], iter(argv)
  for arg in args:
    value = next(args, None) if arg == "--beam-args" else None
    attached.append(arg if value is None else f"{arg}={value}")
  return attached


def split(beam_args: Optional[List[str]]) -> List[str]:
  """The --beam-args strings (the option may be given more than once) as one argument list."""
  try:
    return [arg for text in beam_args or () for arg in shlex.split(text)]
  except ValueError as e:
    raise BeamArgsError(f"--beam-args: cannot split {' '.join(beam_args)!r}: {e}") from None


def direct_runner_args(workers: int) -> List[str]:
  if workers < 1:
    raise BeamArgsError(f"--beam-workers {workers}: needs at least 1")
  from pipeline import local_runner  # pylint: disable=g-import-not-at-top
  return local_runner.beam_args(workers)


def _answers(endpoint: str) -> bool:
  host, _, port = endpoint.rpartition(":")
  try:
    with socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=CONNECT_TIMEOUT_S):
      return True
  except (OSError, ValueError):
    return False


def check(args: List[str]) -> None:
  """Raises BeamArgsError for an argument that is no option, a runner Beam does not know, or a portable
  job endpoint (and, when both are on this machine, an external worker pool) that does not answer."""
  # pylint: disable=g-import-not-at-top
  from apache_beam.options.pipeline_options import PipelineOptions, PortableOptions, StandardOptions
  from apache_beam.runners import runner as runner_lib
  for arg in args:
    if not arg.startswith("-"):
      raise BeamArgsError(f"--beam-args: {arg!r} is not an option (options look like --name=value)")
  options = PipelineOptions(args)
  runner = options.view_as(StandardOptions).runner
  if runner:
    try:
      runner_lib.create_runner(runner)
    except (ValueError, ImportError, AttributeError) as e:
      raise BeamArgsError(f"--beam-args: --runner={runner}: {str(e).splitlines()[0]}") from None
  portable = options.view_as(PortableOptions)
  endpoint = portable.job_endpoint
  if endpoint and endpoint != "embed" and not _answers(endpoint):
    raise BeamArgsError(f"--beam-args: --job_endpoint={endpoint}: no job service answers there "
                        "(`fdp beam-local up` starts one on this machine; see docs/beam.md)")
  local_job = endpoint and endpoint.rpartition(":")[0] in LOCAL_HOSTS
  config = portable.environment_config
  if (local_job and (portable.environment_type or "").upper() == "EXTERNAL" and config
      and config.rpartition(":")[0] in LOCAL_HOSTS and not _answers(config)):
    raise BeamArgsError(f"--beam-args: --environment_config={config}: no worker pool answers there "
                        "(`fdp beam-local up` starts one; see docs/beam.md)")


def pipeline_args(args) -> List[str]:
  """The Beam args a command's options ask for: --beam-args checked, else the DirectRunner with
  --beam-workers workers. Exits with the error's one line when they cannot work."""
  try:
    if args.beam_args:
      beam_args = split(args.beam_args)
      check(beam_args)
      return beam_args
    return direct_runner_args(args.beam_workers)
  except BeamArgsError as e:
    sys.exit(f"fdp: {e}")
