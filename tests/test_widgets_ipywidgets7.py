"""The widget modules' tests again, under ipywidgets 7.7.1: the version Colab ships.

A throw-away venv sees this environment's packages (torch, matplotlib, pytest, ipykernel) through a
.pth line, and gets its own ipywidgets 7.7.1 installed over them; course_utils comes from this checkout.
"""

import os
import re
import subprocess

import pytest

from tests.venvs import venv_seeing_this_one
from tools.build import ROOT

pytestmark = pytest.mark.pipeline

COLAB_IPYWIDGETS = "7.7.1"
# the tests of the widget modules: every test file that imports course_utils.widgets
WIDGET_TESTS = sorted(str(p.relative_to(ROOT).as_posix()) for p in (ROOT / "tests").glob("test_*.py")
                      if re.search(r"^from course_utils\.widgets import", p.read_text(encoding="utf-8"), re.M))
WIDGET_MODULES = sorted(p.stem for p in (ROOT / "course_utils" / "widgets").glob("[!_]*.py"))


@pytest.fixture(scope="module")
def python7(tmp_path_factory):
    """A venv whose ipywidgets is 7.7.1 and whose other packages are this environment's."""
    python = venv_seeing_this_one(tmp_path_factory.mktemp("ipywidgets7") / "venv")
    # --no-deps: everything else ipywidgets 7 needs is already here; ipython_genutils is what 7.x adds
    proc = subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--disable-pip-version-check",
                           f"ipywidgets=={COLAB_IPYWIDGETS}", "ipython_genutils"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"could not install ipywidgets {COLAB_IPYWIDGETS} from PyPI:\n{proc.stderr}"
    return python


def test_widget_tests_pass_under_colabs_ipywidgets(python7):
    tested = "".join((ROOT / name).read_text(encoding="utf-8") for name in WIDGET_TESTS)
    untested = [module for module in WIDGET_MODULES if module not in tested]
    assert WIDGET_TESTS and not untested, f"no test of {untested} among {WIDGET_TESTS}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONHOME", None)
    version = subprocess.run([python7, "-c", "import ipywidgets; print(ipywidgets.__version__)"],
                             capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert version == COLAB_IPYWIDGETS
    proc = subprocess.run([python7, "-m", "pytest", "-q", "-p", "no:cacheprovider", *WIDGET_TESTS],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and " failed" not in proc.stdout
