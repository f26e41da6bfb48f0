"""The test suite's settings, as a pytest plugin (`-p course_utils.testing` in pyproject.toml).

A plugin rather than tests/conftest.py, so that they hold however pytest is started — the whole
suite, or one notebook (`pytest --nbval-lax notebooks/06_vae.ipynb`). Notebook kernels inherit them.
"""

import os
import tempfile
from pathlib import Path

SHARED_MNIST = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist"


def pytest_configure(config) -> None:
    # The suite always runs notebooks in fast mode, never overwriting committed full-run figures.
    os.environ.setdefault("COURSE_FAST", "1")
    # CI and this project's machines read MNIST from the shared folder beside the checkout (no network).
    if "COURSE_DATA_DIR" not in os.environ and SHARED_MNIST.is_dir():
        os.environ["COURSE_DATA_DIR"] = str(SHARED_MNIST)
    # A private cache for the session: tests never depend on (or fill) the user's own cache.
    if "COURSE_CACHE_DIR" not in os.environ:
        os.environ["COURSE_CACHE_DIR"] = tempfile.mkdtemp(prefix="course-cache-")
    os.environ.setdefault("MPLBACKEND", "Agg")
