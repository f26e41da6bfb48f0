"""Every test has exactly one tier: the plugin marks notebooks `pipeline` and refuses a test with none or two."""

import os
import subprocess
import sys
import textwrap

import pytest

from tools.build import ROOT
from tools.pytest_plugin import TIERS

pytestmark = pytest.mark.pipeline  # runs pytest itself in a child process: seconds each


def _collect(folder, *args: str) -> subprocess.CompletedProcess:
    """`pytest --collect-only` of `folder` with this checkout's plugin and no other configuration."""
    (folder / "pytest.ini").write_text("[pytest]\nmarkers =\n" + "".join(f"    {t}: a tier\n" for t in TIERS),
                                       encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "tools.pytest_plugin",
                           "-p", "no:cacheprovider", "-c", str(folder / "pytest.ini"), "--rootdir", str(folder),
                           *args, str(folder)], capture_output=True, text=True, env=env, cwd=folder, timeout=120)


def test_a_test_without_a_tier_or_with_two_stops_the_run_and_is_named(tmp_path):
    (tmp_path / "test_mixed.py").write_text(textwrap.dedent("""
        import pytest

        @pytest.mark.unit
        def test_fine(): pass

        def test_forgotten(): pass

        @pytest.mark.unit
        @pytest.mark.pipeline
        def test_torn(): pass
    """), encoding="utf-8")
    for selection in ([], ["-m", "unit"]):  # checked before `-m` deselects anything
        proc = _collect(tmp_path, *selection)
        assert proc.returncode != 0, proc.stdout
        out = proc.stdout + proc.stderr
        assert "2 tests need exactly one tier marker" in out, out
        assert "test_mixed.py::test_forgotten: no tier marker" in out
        assert "test_mixed.py::test_torn: tiers pipeline, unit" in out
        assert "test_fine" not in out.split("tier marker", 1)[1]


def test_a_module_marker_tiers_every_test_and_notebooks_are_pipeline(tmp_path):
    (tmp_path / "test_unit.py").write_text("import pytest\n\npytestmark = pytest.mark.unit\n\n"
                                           "def test_a(): pass\n\ndef test_b(): pass\n", encoding="utf-8")
    (tmp_path / "lesson.ipynb").write_text(
        '{"cells": [{"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": "1"}],'
        ' "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', encoding="utf-8")
    assert _collect(tmp_path, "--nbval-lax", "-m", "unit").stdout.count("::") == 2
    pipeline = _collect(tmp_path, "--nbval-lax", "-m", "pipeline")
    assert pipeline.returncode == 0 and [line for line in pipeline.stdout.splitlines() if "::" in line] == [
        "lesson.ipynb::Cell 0"], pipeline.stdout + pipeline.stderr
