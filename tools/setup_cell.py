"""The course setup cell: a template of the first code cell of every lesson and exercise.

`python tools/build.py` copies this file from its first line that starts with the setup marker (the comment
"Course setup" below) to the end into every notebook, filling in four placeholders (`string.Template`; `$$`
is a dollar sign):

    $VERSION         course_utils.runtime.VERSION, the version the notebook was made with
    $REQUIREMENT     the pip requirement of that version's tag (with [grading] in exercises)
    $FALLBACK        the same requirement at runtime.BRANCH, for a repository without the tag (yet)
    $REPOSITORY_URL  the course repository's web address

It is a Python file so that ruff checks the cell like any other code. Nothing imports or runs it; edit it,
then run `python tools/build.py` (`--check` lists the notebooks whose setup cell is stale).
"""

# Course setup: the same first cell in every notebook (Colab install, imports, seed, device).
import importlib.util
import os
import subprocess
import sys
import tempfile

if "google.colab" in sys.modules and importlib.util.find_spec("course_utils") is None:
    from importlib.metadata import version

    class CourseSetupError(Exception):
        def _render_traceback_(self):  # IPython prints this message instead of a traceback
            return [f"CourseSetupError: {self}"]

    # Only the course package, at the version this notebook was made with ($VERSION); Colab's own torch
    # and torchvision are pinned so that pip never reinstalls or downgrades them.
    pins = os.path.join(tempfile.gettempdir(), "course_pins.txt")
    with open(pins, "w", encoding="utf-8") as f:
        f.write("".join(f"{p}=={version(p)}\n" for p in ("torch", "torchvision")))
    # The tag of this version first; if the repository has no such tag (yet), its main branch, which the
    # version check below accepts only if it still holds this version.
    sources = [os.environ["COURSE_INSTALL_SOURCE"]] if os.environ.get("COURSE_INSTALL_SOURCE") else [
        "$REQUIREMENT", "$FALLBACK"]
    for source in sources:
        print(f"Installing {source} with pip (under a minute):", flush=True)
        pip = subprocess.Popen([sys.executable, "-m", "pip", "install", "--progress-bar", "off", "-c", pins, source],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in pip.stdout:  # pip's progress as it comes, less the packages Colab already has
            if not line.startswith("Requirement already satisfied"):
                print("   ", line.rstrip(), flush=True)
        if pip.wait() == 0:
            break
    else:
        raise CourseSetupError(
            f"pip could not install {source} (its last lines above say why). Check the internet connection "
            "and rerun this cell. A fork sets REPOSITORY in course_utils/runtime.py and runs "
            "`python tools/build.py`; to install from elsewhere, run "
            "os.environ['COURSE_INSTALL_SOURCE'] = '<a git URL or a folder with the course>' and rerun this cell.")
    importlib.invalidate_caches()
    if version("course-utils") != "$VERSION":
        found = version("course-utils")
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", "course-utils"], check=False)
        raise CourseSetupError(
            f"{source} holds course_utils {found}, but this notebook was made for $VERSION, so it was "
            "uninstalled again. Open the notebook's current version from $REPOSITORY_URL, or install "
            "the version it was made for: os.environ['COURSE_INSTALL_SOURCE'] = '$REQUIREMENT' "
            "(the default), then rerun this cell.")

import torch

import course_utils
from course_utils import fast_mode, get_device, seed_everything

FAST = fast_mode()  # True under CI or COURSE_FAST=1: fewer epochs, less data
DEVICE = get_device()  # CUDA, then Apple MPS, then CPU; COURSE_DEVICE overrides
seed_everything(0)
print(f"torch {torch.__version__} | course_utils {course_utils.__version__} | {DEVICE=} | {FAST=}")
