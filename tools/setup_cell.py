"""The course setup cell: a template of the first code cell of every lesson and exercise.

`python tools/build.py` copies this file from its first line that starts with the setup marker (the Colab
form title "# @title Course setup" below, which Colab shows as one collapsed line) to the end into every
notebook, filling in four placeholders (`string.Template`; `$$` is a dollar sign):

    $VERSION         course_utils.runtime.VERSION, the version the notebook was made with
    $REQUIREMENT     the pip requirement of that version's tag
    $FALLBACK        the same requirement at runtime.BRANCH, for a repository without the tag (yet)
    $REPOSITORY_URL  the course repository's web address

It is a Python file so that ruff checks the cell like any other code. Nothing imports or runs it; edit it,
then run `python tools/build.py` (`--check` lists the notebooks whose setup cell is stale).
"""

# @title Course setup { display-mode: "form" }
# Course setup: the same first cell in every notebook (install where needed, imports, seed, device).
import importlib.util
import os
import subprocess
import sys
import tempfile

if importlib.util.find_spec("course_utils") is None:
    from importlib.metadata import PackageNotFoundError, version

    class CourseSetupError(Exception):
        def _render_traceback_(self):  # IPython prints this message instead of a traceback
            return [f"CourseSetupError: {self}"]

    # Hosted notebooks (Colab, Kaggle, Binder) install the course into their own runtime; elsewhere (a local
    # Jupyter, VS Code, a notebook downloaded alone) the cell installs only when asked to, and says how.
    hosted = "google.colab" in sys.modules or any(
        os.environ.get(k) for k in ("KAGGLE_KERNEL_RUN_TYPE", "BINDER_LAUNCH_HOST", "BINDER_REQUEST"))
    if not hosted and not os.environ.get("COURSE_INSTALL_SOURCE"):
        raise CourseSetupError(
            f"course_utils is not installed in this kernel's Python ({sys.executable}). Either install it "
            'into this kernel: run %pip install "$REQUIREMENT" in a cell, then rerun this cell; or set up '
            "the whole course as its README says (Quick start): $REPOSITORY_URL")
    # Only the course package, at the version this notebook was made with ($VERSION); the torch and
    # torchvision already there are pinned so that pip never reinstalls or downgrades them.
    pins = os.path.join(tempfile.gettempdir(), "course_pins.txt")
    with open(pins, "w", encoding="utf-8") as f:
        for p in ("torch", "torchvision"):
            try:
                f.write(f"{p}=={version(p)}\n")
            except PackageNotFoundError:
                pass
    # The tag of this version first; if the repository has no such tag (yet), its main branch, which the
    # version check below accepts only if it still holds this version.
    sources = [os.environ["COURSE_INSTALL_SOURCE"]] if os.environ.get("COURSE_INSTALL_SOURCE") else [
        "$REQUIREMENT", "$FALLBACK"]
    log = []
    for source in sources:
        print(f"Installing {source} with pip (under a minute):", flush=True)
        pip = subprocess.Popen([sys.executable, "-m", "pip", "install", "--progress-bar", "off", "-c", pins, source],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})  # a missing repository: no prompt
        for line in pip.stdout:  # pip's progress as it comes, less the packages already there
            log.append(line)
            if not line.startswith("Requirement already satisfied"):
                print("   ", line.rstrip(), flush=True)
        if pip.wait() == 0:
            break
    else:
        said = "".join(log)
        offline = ("Could not resolve host", "Temporary failure in name resolution", "Name or service not known",
                   "Failed to establish a new connection", "Network is unreachable", "Connection timed out",
                   "Connection refused", "Could not connect to server")
        if any(sign in said for sign in offline):
            why = ("this runtime has no network (pip could not reach the server). Connect it to the internet "
                   "(on Kaggle: Settings → Internet on) and rerun this cell.")
        else:
            why = ("the repository or its tag was not found, or pip failed otherwise (its last lines above say "
                   "which). A fork sets REPOSITORY in course_utils/runtime.py, runs `python tools/build.py` and "
                   "pushes the tag v$VERSION.")
        raise CourseSetupError(
            f"pip could not install {source}: {why} To install from elsewhere, run "
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
