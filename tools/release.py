"""The public, student-facing course, written by `python tools/build.py --release OUT` (`course-build --release OUT`).

This repository is the instructor's private master: exercise sources with their solutions, sealed hidden tests,
the grading tools, the test suite. A release is what gets published (and what `runtime.REPOSITORY` points at):
the lessons exactly as committed, the student exercises, the package with the exercises' public checks only,
the website's configuration, figures, README, licences and changelog. It never holds a solution, a hidden
test, an exercise source or an autograder zip; tests/test_release.py checks that, and runs the release.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tools import build

ROOT = build.ROOT
# course_utils/grading/: what students call stays (student.py, behind __init__.py); the instructor's side goes
INSTRUCTOR_MODULES = ("submission.py", "classroom.py", "autograder.py", "sealed.py", "supervise.py", "__main__.py")
# copied as they are (folders and top-level files), less caches and local build products
COPIED = ("figures", "site", ".binder", ".github", "LICENSE", "LICENSE-content.md", "CHANGELOG.md",
          "tools/build.py", "tools/setup_cell.py")  # tools/build.py: site/conf.py makes the site's contents with it
SKIP = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "_build", "fast", "*.partial.pt", "*.pyc")
# README blocks between these markers are the master's alone (the test suite, the grading, contributing)
MASTER_ONLY = re.compile(r"\n?<!-- master-only:start -->.*?<!-- master-only:end -->\n?", flags=re.S)

GRADING_INIT = '''"""The exercises' checks: `notebook_grader` (`grader.check`) and `check_close`.

This is the public release of the course: the instructors' grading (otter-grader, hidden tests, autograder
zips) lives in the course's private master repository, from which this release was made.
"""

from .student import check_close, notebook_grader, tests_dir

__all__ = ["check_close", "notebook_grader", "tests_dir"]
'''

GITIGNORE = "__pycache__/\n*.egg-info/\n.venv/\n.ipynb_checkpoints/\nfigures/fast/\nsite/_build/\nruns/\n"


def release_pyproject(text: str) -> str:
    """pyproject.toml for the release: no grading or dev extra, no console scripts, no test-suite settings."""
    for section in (r"\[project\.scripts\]", r"\[tool\.pytest\.ini_options\]"):
        text = re.sub(rf"\n{section}\n.*?(?=\n\[|\Z)", "", text, flags=re.S)
    for extra in ("grading", "dev"):  # with the comment lines just above them
        text = re.sub(rf"\n(?:#[^\n]*\n)*{extra} = \[\n.*?\n\]", "", text, flags=re.S)
    if re.search(r"grading|pytest|\bdev\b", text.split("[tool.setuptools]")[0]):
        raise ValueError("pyproject.toml changed shape: tools/release.py could not remove its grading and dev "
                         "parts; update release_pyproject")
    return text


def release_environment(pyproject: str) -> str:
    """environment.yml for the release: the package's dependencies and its student and site extras."""
    import tomllib

    project = tomllib.loads(pyproject)["project"]
    packages = [*project["dependencies"], *project["optional-dependencies"]["student"],
                *project["optional-dependencies"]["site"]]
    lines = "".join(f"      - {p}\n" for p in packages)
    python = project["requires-python"].removeprefix(">=")
    return ("# conda env create -f environment.yml && conda activate vae-course\n"
            "# The course's packages (pyproject.toml: the package, its [student] and [site] extras), editable.\n"
            f"name: vae-course\nchannels:\n  - conda-forge\ndependencies:\n  - python={python}\n  - pip\n  - pip:\n"
            f"{lines}      - -e .\n")


def release_readme(text: str) -> str:
    """The README without its master-only blocks (the test suite, the grading, contributing) nor the rows of
    the package's table for the instructor modules the release leaves out."""
    text = MASTER_ONLY.sub("\n", text)
    gone = "|".join(re.escape(name.removesuffix(".py")) for name in INSTRUCTOR_MODULES)
    return re.sub(rf"^\| `grading\.(?:{gone})` \|.*\n", "", text, flags=re.M)


def _check_out(out: Path) -> Path:
    out = out.resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} is not empty: give a new or empty folder, so that nothing in it is overwritten")
    if out == ROOT or ROOT in out.parents:
        raise ValueError(f"{out} is inside the checkout {ROOT}: write the release outside it (it becomes a "
                         "repository of its own)")
    return out


def write_release(out: Path) -> int:
    """Write the public course into `out` (new or empty); returns 0, or raises ValueError on a bad `out`."""
    out = _check_out(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "notebooks").mkdir()
    for lesson in build.lesson_notebooks():
        shutil.copyfile(lesson, out / "notebooks" / lesson.name)  # byte for byte: nbval runs the master's copies
    shutil.copytree(build.STUDENT, out / "notebooks" / "exercises" / "student", ignore=SKIP)
    shutil.copytree(ROOT / "course_utils", out / "course_utils",
                    ignore=lambda folder, names: set(SKIP(folder, names)) | (
                        set(INSTRUCTOR_MODULES) & set(names) if Path(folder).name == "grading" else set()))
    (out / "course_utils" / "grading" / "__init__.py").write_text(GRADING_INIT, encoding="utf-8", newline="\n")
    for name in COPIED:
        source, target = ROOT / name, out / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=SKIP)
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        else:
            raise ValueError(f"{source} is missing: the release needs it (see COPIED in tools/release.py)")
    if build.SITE_HTML.is_dir():  # the built website, when there is one (else: the README's site command)
        shutil.copytree(build.SITE_HTML, out / "site" / "_build" / "html")
    pyproject = release_pyproject((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    files = {"pyproject.toml": pyproject, "environment.yml": release_environment(pyproject), ".gitignore": GITIGNORE,
             "README.md": release_readme((ROOT / "README.md").read_text(encoding="utf-8"))}
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8", newline="\n")
    print(f"release written to {out}: {len(build.lesson_notebooks())} lessons, "
          f"{len(list(build.STUDENT.glob('*.ipynb')))} exercises; no solution, hidden test or autograder zip")
    print(f"next: commit it to the public repository ({build.REPOSITORY}) and tag it v{build.VERSION}")
    return 0
