"""The public release (`python tools/build.py --release OUT`): nothing of the instructor's, and it runs alone.

The release is built once into a temporary folder. It must hold no solution, hidden test, exercise source or
autograder zip; its lessons must be the committed ones byte for byte (so the full nbval run of notebooks/
covers them) and one of them must run under nbval from the release folder alone; every exercise's public
checks, run with the release's package, must pass on the solution and fail on the blank student notebook.
"""

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from course_utils.grading.autograder import SEALED_LINE
from tools import build, release

pytestmark = pytest.mark.pipeline

FORBIDDEN = ["BEGIN SOLUTION", "BEGIN HIDDEN", "hidden: true", "'hidden': True", "H.done()", SEALED_LINE]
CHEAPEST_LESSON = "02_entropy_kl.ipynb"  # no MNIST training: the one lesson run here (all run from notebooks/)


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("release")
    assert build.main(["--release", str(folder)]) == 0
    return folder


def _env(out: Path) -> dict[str, str]:
    """This environment with the release, not the checkout, first on the import path."""
    return {**os.environ, "PYTHONPATH": str(out), "COURSE_FAST": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def test_the_release_holds_nothing_of_the_instructors(out):
    files = [p for p in out.rglob("*") if p.is_file()]
    for path in files:
        text = path.read_bytes().decode("utf-8", "replace")
        found = [s for s in FORBIDDEN if s in text]
        assert not found, f"{path.relative_to(out)} contains {found}"
    assert not [p for p in files if p.suffix == ".zip"], "an autograder zip is in the release"
    assert not list((out / "notebooks" / "exercises").glob("[0-9][0-9]_*.ipynb")), "an exercise source is in it"
    grading = sorted(p.name for p in (out / "course_utils" / "grading").iterdir())
    assert grading == ["__init__.py", "student.py"], grading
    project = tomllib.loads((out / "pyproject.toml").read_text(encoding="utf-8"))
    assert set(project["project"]["optional-dependencies"]) == {"student", "site"}
    assert "scripts" not in project["project"] and "pytest" not in project.get("tool", {})
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "master-only" not in readme and "course-grade" not in readme and build.lesson_map() in readme
    for name in ("LICENSE", "LICENSE-content.md", "CHANGELOG.md", ".github/workflows/pages.yml", ".binder/postBuild",
                 "environment.yml", "site/conf.py", "figures/00_mnist_grid.png"):
        assert (out / name).is_file(), f"the release lacks {name}"


def test_the_releases_notebooks_are_the_committed_ones(out):
    lessons = sorted((out / "notebooks").glob("*.ipynb"))
    assert [p.name for p in lessons] == [p.name for p in build.lesson_notebooks()]
    for lesson in lessons:
        assert lesson.read_bytes() == (build.NOTEBOOKS / lesson.name).read_bytes(), lesson.name
    students = sorted((out / "notebooks" / "exercises" / "student").glob("*.ipynb"))
    assert [p.name for p in students] == [p.name for p in build.exercise_sources()]


def test_the_releases_package_and_website_contents_come_from_the_release(out):
    code = """
        import course_utils, json
        from tools.build import site_pages
        print(json.dumps([course_utils.__file__, [p.notebook.name for p in site_pages()]]))
    """
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=out, env=_env(out),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    package, pages = json.loads(proc.stdout.splitlines()[-1])
    assert Path(package).is_relative_to(out), package
    assert pages == [p.notebook.name for p in build.site_pages()], "the release's website would lack pages"


def test_a_lesson_runs_under_nbval_from_the_release_alone(out):
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                           "--nbval-current-env", f"notebooks/{CHEAPEST_LESSON}"],
                          cwd=out, env=_env(out), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout


# Runs in the release with its package, in one process (one torch import for all twenty runs): for each
# (notebook, exercise, kind), the source's code without its test cells (the solution), or the student
# notebook's code, each cell in a fresh namespace; then every question's public checks. Prints
# {"exercise kind": {question: passed}}, or the error that stopped a solution.
CHECK = """
import json, sys, traceback
from course_utils.grading import notebook_grader
import course_utils
assert course_utils.__file__.startswith(sys.argv[1]), course_utils.__file__

def run(path, name, solution):
    env, in_tests = {"__name__": "__main__"}, False
    for cell in json.load(open(path, encoding="utf-8"))["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "raw":
            in_tests = text.startswith("# BEGIN TESTS") or (in_tests and not text.startswith("# END TESTS"))
        elif cell["cell_type"] == "code" and not in_tests and "grader.check" not in text:
            try:
                exec(compile(text, path, "exec"), env)
            except Exception as err:  # a blank student cell may fail: its question's checks must then fail too
                if solution:
                    raise
                print("cell failed:", type(err).__name__, file=sys.stderr)
    return {r.question: r.passed for r in notebook_grader(name).check_all(env)}

outcome = {}
for path, name, kind in json.loads(sys.argv[2]):
    try:
        outcome[f"{name} {kind}"] = run(path, name, kind == "solution")
    except Exception:
        outcome[f"{name} {kind}"] = traceback.format_exc()[-3000:]
print(json.dumps(outcome))
"""


@pytest.fixture(scope="module")
def checked(out) -> dict:
    """Every exercise's public checks on its solution and on its blank student notebook, run in the release."""
    runs = [(str(source), source.stem, "solution") for source in build.exercise_sources()]
    runs += [(str(out / "notebooks" / "exercises" / "student" / source.name), source.stem, "blank")
             for source in build.exercise_sources()]
    proc = subprocess.run([sys.executable, "-c", CHECK, str(out), json.dumps(runs)], cwd=out, env=_env(out),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.parametrize("source", build.exercise_sources(), ids=lambda p: p.stem)
def test_each_exercises_public_checks_pass_on_the_solution_and_fail_on_the_blank(checked, source):
    solution, blank = checked[f"{source.stem} solution"], checked[f"{source.stem} blank"]
    assert isinstance(solution, dict), f"the solution stopped:\n{solution}"
    assert isinstance(blank, dict), f"the blank notebook stopped the checks:\n{blank}"
    assert solution and all(solution.values()), solution
    assert set(blank) == set(solution) and not any(blank.values()), blank


def test_a_release_never_overwrites_and_stays_outside_the_checkout(tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("a student's work", encoding="utf-8")
    assert build.main(["--release", str(tmp_path)]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert (tmp_path / "mine.txt").read_text(encoding="utf-8") == "a student's work"
    with pytest.raises(ValueError, match="inside the checkout"):
        release.write_release(build.ROOT / "public")
    assert not (build.ROOT / "public").exists()


def test_the_release_pyproject_refuses_a_shape_it_does_not_know():
    with pytest.raises(ValueError, match="update release_pyproject"):
        release.release_pyproject('[project]\noptional-dependencies = {grading = ["otter-grader"]}\n')
