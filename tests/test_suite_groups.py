"""The suite's own scheduling (tests/conftest.py): under `make test`'s pytest-xdist options each module runs on
one worker, the modules sharing a slow session fixture form one group, and the slow groups are handed out first."""
import re
import subprocess
import sys
import types

from tests import conftest
from tests.conftest import REPO


def _item(module, fixtures=(), markers=()):
  return types.SimpleNamespace(module=types.SimpleNamespace(__name__=module), nodeid=f"{module}::t",
                               fixturenames=list(fixtures), get_closest_marker=lambda name: name in markers or None)


def test_modules_sharing_a_session_fixture_form_one_group_and_slow_groups_go_first():
  items = [_item("tests.test_a"), _item("tests.test_b", markers=("datasets",)),
           _item("tests.test_export"), _item("tests.test_export", fixtures=("e2e_pipeline",)),
           _item("tests.test_pipeline_e2e", fixtures=("e2e_pipeline",)), _item("tests.test_c", markers=("training",))]
  groups = conftest._xdist_groups(items)  # pylint: disable=protected-access
  assert groups == {"tests.test_a": "tests.test_a", "tests.test_b": "tests.test_b", "tests.test_export": "e2e_pipeline",
                    "tests.test_pipeline_e2e": "e2e_pipeline", "tests.test_c": "tests.test_c"}
  ordered = conftest._slowest_groups_first(items, groups)  # pylint: disable=protected-access
  assert [item.module.__name__ for item in ordered] == [
      "tests.test_export", "tests.test_export", "tests.test_pipeline_e2e", "tests.test_c", "tests.test_b", "tests.test_a"]


def test_under_xdist_each_module_runs_on_one_worker():
  """pytest-xdist's loadgroup reads the xdist_group marks conftest.py sets (pytest 9.2 broke that:
  pytest-dev/pytest-xdist#1386, hence the pin in requirements.in)."""
  done = subprocess.run([sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "--no-loadscope-reorder",
                         "-v", "-p", "no:cacheprovider", "tests/test_labels.py", "tests/test_layering.py"],
                        cwd=REPO, capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stdout[-3000:]
  ran = re.findall(r"\[(gw\d)\] .*PASSED (tests/\w+\.py)::\S+@(\S+)", done.stdout)
  assert len(ran) >= 5, done.stdout[-3000:]
  workers = {}
  for worker, path, group in ran:
    assert group == path[:-3].replace("/", ".")
    workers.setdefault(path, set()).add(worker)
  assert set(workers) == {"tests/test_labels.py", "tests/test_layering.py"}
  assert all(len(on) == 1 for on in workers.values()), workers
