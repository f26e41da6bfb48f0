"""The test suite's settings, as a pytest plugin (`-p tools.pytest_plugin` in pyproject.toml).

A plugin rather than tests/conftest.py, so that they hold however pytest is started from the checkout —
the whole suite, or one notebook (`python -m pytest --nbval-lax notebooks/06_vae.ipynb`). Notebook
kernels inherit them. It lives in tools/ because it only works inside a checkout.
"""

import os


def pytest_configure(config) -> None:
    # The suite always runs notebooks in fast mode, never overwriting committed full-run figures.
    os.environ.setdefault("COURSE_FAST", "1")
    # MNIST comes from where the loader always looks: COURSE_DATA_DIR when it is set (CI sets it to its
    # local copy), else the cache below, filled by one download. A cache of the checkout's own, reused from
    # one run to the next: tests never depend on (or fill) the user's cache, and leave nothing in /tmp.
    if "COURSE_CACHE_DIR" not in os.environ and getattr(config, "cache", None) is not None:
        os.environ["COURSE_CACHE_DIR"] = str(config.cache.mkdir("course-cache"))
    os.environ.setdefault("MPLBACKEND", "Agg")
