"""Throw-away virtual environments for the tests that install something (setup cell, ipywidgets 7, Colab)."""

from __future__ import annotations

import os
import subprocess
import sysconfig
import venv
from pathlib import Path


def venv_python(env_dir: Path) -> Path:
    """The Python of the virtual environment in `env_dir`: Scripts\\python.exe on Windows, bin/python elsewhere."""
    return env_dir / "Scripts" / "python.exe" if os.name == "nt" else env_dir / "bin" / "python"


def venv_seeing_this_one(env_dir: Path) -> Path:
    """A new venv, with pip, that also sees this environment's packages; returns its Python.

    Only the plain site-packages folder is added (one .pth line): the .pth files there, such as
    course_utils' editable install, are not read, so course_utils is not importable in it.
    """
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = venv_python(env_dir)
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, encoding="utf-8", check=True).stdout.strip()
    Path(purelib, "host_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return python
