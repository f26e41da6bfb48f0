"""The course as a whole: dependencies agree, every notebook follows the course pattern, lint passes."""

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib

import pytest

from tools import build

ROOT = build.ROOT
LESSONS = build.lesson_notebooks()
ALL_NOTEBOOKS = LESSONS + build.exercise_sources() + sorted(build.STUDENT.glob("*.ipynb"))


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# What lessons import: the teaching core and the widgets. The grading wing, course_utils/grading/, is what
# only exercises (and instructors) import, through the grading extra; tools/ is never installed.
PACKAGE = ROOT / "course_utils"
GRADING_MODULES = sorted((PACKAGE / "grading").glob("*.py"))


def _third_party_imports(sources: list[str]) -> set[str]:
    """Distribution names (normalized) of the non-standard-library modules that `sources` import."""
    modules = set()
    for source in sources:
        source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    modules -= set(sys.stdlib_module_names) | {"course_utils"}
    owners = importlib.metadata.packages_distributions()
    return {_name(dist) for module in modules for dist in owners.get(module, [module])}


def _code(notebook):
    return ["".join(c["source"]) for c in json.loads(notebook.read_text())["cells"] if c["cell_type"] == "code"]


def test_dependencies_by_use():
    # the package's own dependencies are exactly what lessons import (Colab's lesson install stays minimal)
    modules = [p.read_text(encoding="utf-8") for p in [*PACKAGE.glob("*.py"), *PACKAGE.glob("widgets/*.py")]]
    lessons = _third_party_imports(modules + [src for nb in LESSONS for src in _code(nb)])
    assert lessons == {_name(r) for r in PROJECT["dependencies"]}
    # exercises add exactly the grading extra; the dev tools pull grading in, so the test suite can grade
    grading = {_name(r) for r in PROJECT["optional-dependencies"]["grading"]}
    exercises = [src for nb in build.exercise_sources() for src in _code(nb)]
    grading_side = [p.read_text(encoding="utf-8") for p in GRADING_MODULES]
    assert _third_party_imports(grading_side + exercises) - lessons == grading
    assert "course-utils[grading]" in PROJECT["optional-dependencies"]["dev"]


def test_python_floor_is_one_and_true():
    # 3.11+: tests read pyproject.toml with tomllib (3.11); Colab runs 3.13
    assert PROJECT["requires-python"] == ">=3.11" and sys.version_info >= (3, 11)
    readme = (ROOT / "README.md").read_text()
    assert "Python 3.11 or newer" in readme and "3.10" not in readme
    assert "python=3.11" in (ROOT / "environment.yml").read_text()


def test_environment_yml_and_pyproject_name_the_same_packages():
    project = PROJECT
    extras = project["optional-dependencies"]
    declared = {req.replace(" ", "") for req in project["dependencies"] + extras["grading"] + extras["dev"]
                if _name(req) != "course-utils"}
    text = (ROOT / "environment.yml").read_text()
    conda_pip = {line.strip()[2:].replace(" ", "") for line in text.split("- pip:", 1)[1].splitlines()
                 if line.strip().startswith("- ") and not line.strip().startswith("- -e")}
    assert {_name(r) for r in conda_pip} == {_name(r) for r in declared}
    assert conda_pip == declared, "the version bounds differ too: keep them identical"
    assert "python=3.11" in text and "- -e ." in text


def test_torch_has_lower_bounds_only():
    deps = PROJECT["dependencies"]
    for req in deps:
        if _name(req) in {"torch", "torchvision"}:
            assert re.fullmatch(r"[a-z]+>=[\d.]+", req), f"{req}: give torch/torchvision a lower bound only"


def test_lessons_exist_and_are_numbered_uniquely():
    numbers = [nb.name[:2] for nb in LESSONS]
    assert numbers and numbers[0] == "00"
    assert len(numbers) == len(set(numbers)), f"two lessons share a number: {numbers}"
    stray = [p.name for p in (ROOT / "notebooks").glob("*.ipynb") if p not in LESSONS]
    assert not stray, f"lessons must be named NN_slug.ipynb: {stray}"


@pytest.mark.parametrize("notebook", ALL_NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_starts_with_the_course_setup_cell(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code and "".join(code[0]["source"]) == build.setup_cell_for(notebook), "run `python tools/build.py`"


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda p: p.name)
def test_lesson_tells_a_story_and_is_committed_executed(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    markdown = sum(c["cell_type"] == "markdown" for c in cells)
    assert markdown / len(cells) >= 0.4, f"only {markdown}/{len(cells)} cells are markdown"
    code = [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    unexecuted = [i for i, c in enumerate(code) if not c.get("execution_count")]
    assert not unexecuted, "commit lessons executed (a full run), with outputs"
    errors = [o.get("ename") for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"committed outputs contain errors: {errors}"
    assert build.notebook_title(notebook)


def test_setup_cells_and_readme_map_are_in_sync():
    stale = [nb.name for nb in LESSONS + build.exercise_sources() if build.sync_setup_cell(nb, check=True)]
    assert not stale and not build.sync_readme(check=True), "run `python tools/build.py`"
    readme = (ROOT / "README.md").read_text()
    for nb in LESSONS:
        assert build.colab_url(nb) in readme


def test_pytest_collects_every_notebook_by_glob():
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "--nbval-lax",
                           "-p", "no:cacheprovider", "notebooks"], cwd=ROOT, capture_output=True, text=True)
    collected = {line.split("::")[0] for line in proc.stdout.splitlines() if ".ipynb::" in line}
    expected = {str(p.relative_to(ROOT)) for p in LESSONS + build.exercise_sources()}
    assert collected == expected, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"^```(?:bash|sh)\n(.*?)^```", readme, flags=re.S | re.M)
    commands = [line.strip() for block in blocks for line in block.splitlines() if "pytest" in line]
    assert commands, "the README needs its test command in a code block"
    assert commands[0] in (ROOT / ".ci" / "run").read_text()


def test_ruff_check_passes():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_lesson_map_has_one_row_per_lesson_and_exercise_in_order():
    rows = build.lesson_map().splitlines()
    assert rows[:2] == ["| # | Notebook | Colab |", "|---|---|---|"]
    body = rows[2:]
    assert len(body) == len(LESSONS) + len(build.exercise_sources())
    assert [row.split("|")[1].strip() for row in body] == sorted(row.split("|")[1].strip() for row in body)
    for nb in LESSONS:
        assert f"[{build.notebook_title(nb)}](notebooks/{nb.name})" in build.lesson_map()
    for src in build.exercise_sources():
        assert f"Exercise: [{build.notebook_title(src)}](notebooks/exercises/student/{src.name})" in build.lesson_map()
        assert build.colab_url(build.STUDENT / src.name) in build.lesson_map()


def test_main_reports_stale_files_and_fails_only_when_checking(monkeypatch, capsys):
    monkeypatch.setattr(build, "sync_setup_cell", lambda nb, check: False)
    monkeypatch.setattr(build, "sync_readme", lambda check: False)
    monkeypatch.setattr(build, "build_exercise", lambda source, check: [])
    assert build.main(["--check"]) == 0 and "everything is up to date" in capsys.readouterr().out
    monkeypatch.setattr(build, "build_exercise", lambda source, check: [f"{source.stem}/tests"])
    assert build.main(["--check"]) == 1
    first = build.exercise_sources()[0].stem
    assert f"stale: {first}/tests" in capsys.readouterr().out


def test_build_exercise_finds_the_committed_student_version_up_to_date():
    source = build.exercise_sources()[0]
    assert build.build_exercise(source, check=True) == []  # what `otter assign` makes now is what is committed
