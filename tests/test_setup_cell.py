"""The Colab branch of the setup cell, run for real: a stand-in `google.colab` and a local install source.

A fresh virtual environment sees this environment's packages (torch included) but not course_utils;
the setup cell must install course_utils from the local checkout, leave torch exactly as it was, and
bring the exercises' public tests along (so `grader.check` works in Colab without uploads).
"""

import os
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import pytest
import torch

from course_utils.build import ROOT, SETUP_CELL


@pytest.fixture
def colab_like(tmp_path):
    """A new venv that sees this environment's site-packages (not course_utils), and a fake google.colab."""
    tmp = tmp_path
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # Only the plain site-packages folder: .pth files there (course_utils' editable install) are not read.
    Path(purelib, "host_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    fake = tmp / "fake_colab" / "google" / "colab"
    fake.mkdir(parents=True)
    (fake.parent / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("IN_COLAB = True\n")
    return tmp, python


def test_colab_branch_installs_course_utils_without_touching_torch(colab_like):
    tmp, python = colab_like
    script = tmp / "run_cell.py"
    script.write_text(textwrap.dedent("""
        import importlib.util, sys
        import google.colab  # noqa: F401  (the stand-in: makes the cell take its Colab branch)
        assert importlib.util.find_spec("course_utils") is None, "course_utils must not be importable yet"
        exec(compile(sys.stdin.read(), "setup_cell", "exec"))
        from course_utils.grading import tests_dir
        print("COURSE_UTILS", course_utils.__file__)
        print("TORCH", torch.__version__, torch.__file__)
        print("TESTS", sorted(p.name for p in tests_dir("02_gaussian_kl").glob("*.py")))
    """))
    env = {**os.environ, "PYTHONPATH": str(tmp / "fake_colab"), "COURSE_INSTALL_SOURCE": str(ROOT),
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONHOME", None)
    proc = subprocess.run([python, str(script)], input=SETUP_CELL, capture_output=True, text=True,
                          env=env, cwd=tmp, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line.split(" ", 1)[0].isupper())
    assert lines["COURSE_UTILS"].startswith(str(tmp / "venv")), "course_utils must come from the new install"
    version, location = lines["TORCH"].split(" ", 1)
    assert version == torch.__version__ and location == torch.__file__, "torch was reinstalled or replaced"
    assert "kl_normal_1d.py" in lines["TESTS"]
    assert "device" in proc.stdout.lower()


def test_outside_colab_the_cell_installs_nothing(colab_like):
    tmp, python = colab_like
    # Without google.colab the cell must not call pip; course_utils is then simply missing here.
    env = {**os.environ, "COURSE_INSTALL_SOURCE": "/nonexistent"}
    proc = subprocess.run([python, "-c", SETUP_CELL], capture_output=True, text=True, env=env, cwd=tmp,
                          timeout=120)
    assert "ModuleNotFoundError: No module named 'course_utils'" in proc.stderr
    assert "pip" not in proc.stderr.lower()


def test_setup_cell_runs_here():
    proc = subprocess.run([sys.executable, "-c", SETUP_CELL], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "DEVICE=device(type=" in proc.stdout and "FAST=" in proc.stdout
