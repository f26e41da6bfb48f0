"""The test suite's plugin (tools/pytest_plugin.py): where MNIST and the course's cache come from under pytest.

It must not decide where MNIST is (COURSE_DATA_DIR is the caller's, as in .ci/run), and must keep the
course's cache in pytest's own cache folder, one reused from run to run, not a new temporary folder per run.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.pipeline  # runs pytest itself in a child process: seconds each

ROOT = Path(__file__).resolve().parent.parent
SEEN = """
import json, os

import pytest


@pytest.mark.unit  # the plugin refuses a test without a tier
def test_record_the_environment():
    names = ("COURSE_DATA_DIR", "COURSE_CACHE_DIR", "COURSE_FAST", "MPLBACKEND")
    with open(os.environ["RECORD"], "w", encoding="utf-8") as f:
        json.dump({name: os.environ.get(name) for name in names}, f)
"""


def _run_pytest_with_the_plugin(project: Path, temp: Path, **env: str) -> dict:
    """Run pytest with the plugin on a one-test project; the environment that test saw."""
    record = project / "record.json"
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("COURSE_DATA_DIR", "COURSE_CACHE_DIR", "COURSE_FAST", "PYTEST_ADDOPTS")}
    environment.update(PYTHONPATH=str(ROOT), TMPDIR=str(temp), RECORD=str(record), **env)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tools.pytest_plugin", "--rootdir", str(project),
                           str(project / "test_env.py")], cwd=project, env=environment, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(record.read_text(encoding="utf-8"))


def test_the_plugin_caches_in_pytests_cache_and_leaves_mnist_to_the_caller(tmp_path):
    project, temp = tmp_path / "project", tmp_path / "temp"
    project.mkdir()
    temp.mkdir()
    (project / "test_env.py").write_text(SEEN, encoding="utf-8")
    first = _run_pytest_with_the_plugin(project, temp)
    second = _run_pytest_with_the_plugin(project, temp)
    assert first["COURSE_DATA_DIR"] is None, "the plugin must not say where MNIST is (COURSE_DATA_DIR)"
    assert first["COURSE_CACHE_DIR"] == str(project / ".pytest_cache" / "d" / "course-cache")
    assert second["COURSE_CACHE_DIR"] == first["COURSE_CACHE_DIR"], "one cache, reused from run to run"
    assert first["COURSE_FAST"] == "1" and first["MPLBACKEND"] == "Agg"
    leftovers = [str(p) for p in temp.rglob("*course-cache*")]
    assert not leftovers, f"the plugin left cache folders in the temporary directory: {leftovers}"

    # what the caller sets is kept: CI's MNIST folder, a cache of one's own
    given = _run_pytest_with_the_plugin(project, temp, COURSE_DATA_DIR=str(tmp_path / "mnist"),
                                        COURSE_CACHE_DIR=str(tmp_path / "cache"), COURSE_FAST="0")
    assert given["COURSE_DATA_DIR"] == str(tmp_path / "mnist") and given["COURSE_CACHE_DIR"] == str(tmp_path / "cache")
    assert given["COURSE_FAST"] == "0"
