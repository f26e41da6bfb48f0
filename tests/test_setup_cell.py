"""The Colab branch of the setup cell, run for real: a stand-in `google.colab` and a local install source.

A fresh virtual environment sees this environment's packages (torch included) but not course_utils;
the setup cell must install course_utils from the local checkout with pip's progress shown, leave torch
exactly as it was, and bring the exercises' public tests along (so `grader.check` works in Colab without
uploads). When pip fails, or installs another version than the notebook was made for, the cell must say
what to do in a few lines, as IPython shows it, instead of a traceback.
"""

import os
import re
import subprocess
import sys
import textwrap

import pytest
import torch

from course_utils import runtime
from tests.venvs import venv_seeing_this_one
from tools import build
from tools.build import ROOT, SETUP_CELL


@pytest.fixture
def colab_like(tmp_path):
    """A new venv that sees this environment's site-packages (not course_utils), and a fake google.colab."""
    tmp = tmp_path
    python = venv_seeing_this_one(tmp / "venv")
    fake = tmp / "fake_colab" / "google" / "colab"
    fake.mkdir(parents=True)
    (fake.parent / "__init__.py").write_text("", encoding="utf-8")
    (fake / "__init__.py").write_text("IN_COLAB = True\n", encoding="utf-8")
    return tmp, python


@pytest.mark.pipeline
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
    """), encoding="utf-8")
    # The cell's own sources: its version's tag, then the branch. Here the tag's source is missing (a
    # repository without that tag) and the branch is this checkout, so the cell must fall back to it.
    missing = tmp / "no-tag-here"
    cell = SETUP_CELL.replace(runtime.install_requirement(), str(missing))
    cell = cell.replace(runtime.install_requirement(ref=runtime.BRANCH), str(ROOT))
    assert str(missing) in cell and str(ROOT) in cell
    env = {**os.environ, "PYTHONPATH": str(tmp / "fake_colab"), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONHOME", None)
    env.pop("COURSE_INSTALL_SOURCE", None)
    env.pop("VIRTUAL_ENV", None)  # as in Colab (see _run_in_ipython)
    proc = subprocess.run([python, str(script)], input=cell, capture_output=True, text=True,
                          env=env, cwd=tmp, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line.split(" ", 1)[0].isupper())
    assert lines["COURSE_UTILS"].startswith(str(tmp / "venv")), "course_utils must come from the new install"
    version, location = lines["TORCH"].split(" ", 1)
    assert version == torch.__version__ and location == torch.__file__, "torch was reinstalled or replaced"
    assert "kl_normal_1d.py" in lines["TESTS"]
    assert "device" in proc.stdout.lower()
    # progress: the cell says what it installs, then shows pip's lines as they come
    assert f"Installing {missing} with pip" in proc.stdout, "the tag comes first"
    assert f"Installing {ROOT} with pip" in proc.stdout, "then the branch"
    assert f"Successfully installed course-utils-{runtime.VERSION}" in proc.stdout


def _run_in_ipython(python, tmp, cell, source):
    """Run `cell` as a notebook would (IPython, a stand-in google.colab) with COURSE_INSTALL_SOURCE=source."""
    script = tmp / "run_ipython.py"
    script.write_text(textwrap.dedent("""
        import sys
        import google.colab  # noqa: F401
        from IPython.core.interactiveshell import InteractiveShell
        result = InteractiveShell.instance().run_cell(sys.stdin.read())
        print("RAISED", type(result.error_in_exec).__name__)
    """), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp / "fake_colab"), "COURSE_INSTALL_SOURCE": str(source),
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONHOME", None)
    # Colab has no VIRTUAL_ENV; an activated venv here would make IPython add its site-packages (and this
    # checkout's course_utils) to sys.path, so the cell would find course_utils and install nothing.
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run([python, str(script)], input=cell, capture_output=True, text=True, env=env, cwd=tmp,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


@pytest.mark.pipeline
def test_a_failed_or_wrong_install_says_what_to_do_without_a_traceback(colab_like):
    tmp, python = colab_like
    out = _run_in_ipython(python, tmp, SETUP_CELL, tmp / "no-such-folder")
    assert "RAISED CourseSetupError" in out
    said = f"CourseSetupError: pip could not install {tmp / 'no-such-folder'}: the repository or its tag was not found"
    assert said in out
    assert "COURSE_INSTALL_SOURCE" in out and "REPOSITORY in course_utils/runtime.py" in out
    assert "no network" not in out
    assert "Traceback" not in out and "CalledProcessError" not in out, out

    # A host that cannot be reached reads as no network, never as a missing repository (".invalid" never resolves).
    out = _run_in_ipython(python, tmp, SETUP_CELL, "git+https://course-host.invalid/someone/course@v1")
    assert "RAISED CourseSetupError" in out and "this runtime has no network" in out, out
    assert "not found" not in out.split("CourseSetupError:", 1)[-1]

    # Then (same fresh venv, to save building another) what an old notebook would get from a branch that
    # moved on: another version is refused, with the same short message, and uninstalled again.
    other = tmp / "newer_course"
    (other / "course_utils").mkdir(parents=True)
    (other / "course_utils" / "__init__.py").write_text("", encoding="utf-8")
    (other / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "course-utils"
        version = "99.0"
        [tool.setuptools]
        packages = ["course_utils"]
    """), encoding="utf-8")
    out = _run_in_ipython(python, tmp, SETUP_CELL, other)
    assert "RAISED CourseSetupError" in out
    assert f"holds course_utils 99.0, but this notebook was made for {runtime.VERSION}" in out
    assert runtime.install_requirement() in out, "the message names the requirement that fits"
    assert "Traceback" not in out, out
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    check = subprocess.run([python, "-c", "import importlib.util as u; print(u.find_spec('course_utils'))"],
                           capture_output=True, text=True, cwd=tmp, env=env)
    assert check.stdout.strip() == "None", "the wrong version must be uninstalled, so a rerun installs again"


@pytest.mark.unit
def test_the_install_is_pinned_to_the_notebooks_version():
    # install_requirement is the one place: tag v<VERSION>, the version pyproject.toml and __version__ read
    assert runtime.install_requirement().endswith(f"@v{runtime.VERSION}")
    assert f'"{runtime.install_requirement()}"' in SETUP_CELL
    assert f'"{runtime.install_requirement(ref=runtime.BRANCH)}"' in SETUP_CELL  # the fallback
    assert f'version("course-utils") != "{runtime.VERSION}"' in SETUP_CELL
    assert "[grading]" not in SETUP_CELL, "exercises' checks need no otter-grader: one cell, the course alone"


@pytest.mark.unit
def test_colab_shows_the_cell_as_one_line_and_the_build_still_finds_it():
    first, second = SETUP_CELL.splitlines()[:2]
    # Colab's form syntax: a first line "# @title TITLE { display-mode: "form" }" collapses the cell to its title
    assert re.fullmatch(r'# @title Course setup \{ display-mode: "form" \}', first), first
    assert second.startswith(build.SETUP_MARKER) and build.is_setup_cell(SETUP_CELL)
    assert build.is_setup_cell("# Course setup: a cell from before the form title")


@pytest.mark.pipeline
def test_a_local_kernel_without_the_course_is_told_what_to_run(colab_like):
    tmp, python = colab_like
    # Not hosted (no Colab, Kaggle or Binder) and no COURSE_INSTALL_SOURCE: the cell must not call pip on
    # someone's own Python; it names the command that installs the course into this kernel.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COURSE_INSTALL_SOURCE")
           and not k.startswith(("KAGGLE_", "BINDER_"))}
    proc = subprocess.run([python, "-c", SETUP_CELL], capture_output=True, text=True, env=env, cwd=tmp,
                          timeout=120)
    assert proc.returncode != 0 and "course_utils is not installed in this kernel's Python" in proc.stderr
    assert f'%pip install "{runtime.install_requirement()}"' in proc.stderr
    assert "Installing" not in proc.stdout, "pip must not run outside a hosted notebook unless asked to"


@pytest.mark.unit
def test_setup_cell_runs_here():
    proc = subprocess.run([sys.executable, "-c", SETUP_CELL], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "DEVICE=device(type=" in proc.stdout and "FAST=" in proc.stdout


@pytest.mark.unit
def test_a_tagged_version_is_never_changed():
    # Colab installs tag v<VERSION>: once it exists, a changed package needs a new VERSION (and tag), or the
    # notebooks would run on a package older than the one they were tested with.
    tag = f"v{runtime.VERSION}"
    found = subprocess.run(["git", "rev-parse", "-q", "--verify", f"refs/tags/{tag}"], cwd=ROOT, capture_output=True)
    if found.returncode != 0:
        pytest.skip(f"no tag {tag} in this clone yet; tag the release so that Colab's setup cells find it")
    diff = subprocess.run(["git", "diff", "--stat", tag, "--", "course_utils"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout
    assert not diff.strip(), f"course_utils changed since {tag}: bump VERSION in course_utils/runtime.py\n{diff}"


@pytest.mark.unit
def test_the_cell_is_its_template_filled_in_and_ruff_checks_the_template():
    template = build.SETUP_TEMPLATE.read_text(encoding="utf-8")
    body = template[template.index(f"\n{build.SETUP_TITLE}") + 1:].rstrip("\n").splitlines()
    compile(SETUP_CELL, "setup_cell", "exec")
    lines = SETUP_CELL.splitlines()
    assert build.is_setup_cell(SETUP_CELL) and not SETUP_CELL.endswith("\n") and "$" not in SETUP_CELL
    # the template line for line; only the lines with a placeholder differ
    assert len(lines) == len(body)
    assert [a for a, b in zip(lines, body, strict=True) if "$" not in b] == [b for b in body if "$" not in b]
    # ruff lints the template (pyproject.toml excludes notebooks, not tools/), so the cell's code is checked
    listed = subprocess.run([sys.executable, "-m", "ruff", "check", "--show-files", "."], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    assert str(build.SETUP_TEMPLATE) in listed.splitlines()


@pytest.mark.unit
@pytest.mark.parametrize(("code", "error"), [
    ("import os\n", "no line starting with '# Course setup'"),
    ("# Course setup: a cell\nprint('$VERSION $PYTHON')\n", "uses the placeholders ['PYTHON', 'VERSION']"),
], ids=["no marker line", "an unknown placeholder"])
def test_a_broken_template_is_refused_with_what_to_fix(tmp_path, monkeypatch, code, error):
    template = tmp_path / "setup_cell.py"
    template.write_text(code, encoding="utf-8")
    monkeypatch.setattr(build, "SETUP_TEMPLATE", template)
    with pytest.raises(ValueError, match=re.escape(error)):
        build.setup_cell()
