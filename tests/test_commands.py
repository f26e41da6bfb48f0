"""The console scripts `course-grade` and `course-build`: installed by pip, each the same as its module form.

Pipeline tier: each starts fresh interpreters (the commands themselves), seconds apiece.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.pipeline

ROOT = Path(__file__).resolve().parent.parent


def _script(name: str) -> str:
    """A console script of this environment (declared in pyproject.toml's [project.scripts])."""
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    assert found, f"no {name} next to {sys.executable}: install the course with `pip install -e .`"
    return found


def _console(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's course_utils, whichever one was installed
    return subprocess.run([_script(name), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_course_grade_is_the_module_form():
    proc = _console("course-grade", "--help", cwd=ROOT)
    assert proc.returncode == 0 and "--autograder" in proc.stdout, proc.stdout + proc.stderr
    module = subprocess.run([sys.executable, "-m", "course_utils.grading", "--help"], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert module.returncode == 0 and module.stdout == proc.stdout, module.stderr


def test_course_build_runs_the_checkouts_build_and_refuses_outside_one(tmp_path):
    # from a folder inside the checkout, as from its root: the checkout's tools/build.py, which finds nothing stale
    inside = _console("course-build", "--check", cwd=ROOT / "notebooks")
    assert inside.returncode == 0 and "everything is up to date" in inside.stdout, inside.stdout + inside.stderr
    outside = _console("course-build", "--check", cwd=tmp_path)
    assert outside.returncode == 2, outside.stdout + outside.stderr
    assert "run it inside one" in outside.stderr and "Traceback" not in outside.stderr
