"""The test suite's settings, as a pytest plugin (`-p tools.pytest_plugin` in pyproject.toml).

A plugin rather than tests/conftest.py, so that they hold however pytest is started from the checkout —
the whole suite, or one notebook (`python -m pytest --nbval-lax notebooks/06_vae.ipynb`). Notebook
kernels inherit them. It lives in tools/ because it only works inside a checkout.

Every test carries exactly one tier marker (registered in pyproject.toml): `unit`, `integration` or
`pipeline`. Notebooks (nbval's cells) are `pipeline` here; a test file says its tier with
`pytestmark = pytest.mark.unit` (or a decorator per test where a file mixes tiers). Collection stops with
the list of tests that have none, or more than one, whatever `-m` selects.
"""

from __future__ import annotations

import os

import pytest

TIERS = ("unit", "integration", "pipeline")


def pytest_configure(config) -> None:
    # The suite always runs notebooks in fast mode, never overwriting committed full-run figures.
    os.environ.setdefault("COURSE_FAST", "1")
    # MNIST comes from where the loader always looks: COURSE_DATA_DIR when it is set (CI sets it to its
    # local copy), else the cache below, filled by one download. A cache of the checkout's own, reused from
    # one run to the next: tests never depend on (or fill) the user's cache, and leave nothing in /tmp.
    if "COURSE_CACHE_DIR" not in os.environ and getattr(config, "cache", None) is not None:
        os.environ["COURSE_CACHE_DIR"] = str(config.cache.mkdir("course-cache"))
    os.environ.setdefault("MPLBACKEND", "Agg")


def tier_problems(items) -> list[str]:
    """One line per collected test that has no tier marker or more than one."""
    problems = []
    for item in items:
        tiers = sorted({mark.name for mark in item.iter_markers() if mark.name in TIERS})
        if len(tiers) != 1:
            problems.append(f"{item.nodeid}: {'no tier marker' if not tiers else 'tiers ' + ', '.join(tiers)}")
    return problems


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects anything: every test is checked on every run
def pytest_collection_modifyitems(session, config, items) -> None:
    for item in items:
        if item.path.suffix == ".ipynb":  # a notebook's cell, collected by nbval
            item.add_marker(pytest.mark.pipeline)
    problems = tier_problems(items)
    if problems:
        raise pytest.UsageError(
            f"{len(problems)} tests need exactly one tier marker, one of {', '.join(TIERS)} (see pyproject.toml): "
            "add `pytestmark = pytest.mark.unit` (or the tier that fits) after a test file's imports, or a "
            "decorator per test where a file mixes tiers\n  " + "\n  ".join(problems))
