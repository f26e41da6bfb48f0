"""The course as a whole: dependencies agree, every notebook follows the course pattern, lint passes."""

import ast
import importlib.metadata
import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from course_utils.runtime import REPOSITORY
from tools import build
from tools import notebook_cells as gen

pytestmark = pytest.mark.unit

ROOT = build.ROOT
LESSONS = build.lesson_notebooks()
ALL_NOTEBOOKS = LESSONS + build.exercise_sources() + sorted(build.STUDENT.glob("*.ipynb"))


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
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
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


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
    # students' exercise notebooks need nothing beyond the lessons' packages: grader.check runs without otter
    students = [src for nb in sorted(build.STUDENT.glob("*.ipynb")) for src in _code(nb)]
    assert _third_party_imports(students) <= lessons
    # the student extra is JupyterLab and its kernel, no test tools
    assert {_name(r) for r in PROJECT["optional-dependencies"]["student"]} == {"jupyterlab", "ipykernel"}


def test_python_floor_is_one_and_true():
    # 3.11+: tests read pyproject.toml with tomllib (3.11); Colab runs 3.13. conda installs the same floor.
    floor = re.fullmatch(r">=(3\.\d+)", PROJECT["requires-python"])
    assert floor, f"requires-python must be a single floor, got {PROJECT['requires-python']!r}"
    assert sys.version_info >= tuple(int(n) for n in floor.group(1).split("."))
    conda = re.findall(r"^\s*- python=(\S+)$", (ROOT / "environment.yml").read_text(encoding="utf-8"), flags=re.M)
    assert conda == [floor.group(1)], f"environment.yml installs python {conda}, pyproject.toml needs {floor.group(0)}"


def test_environment_yml_and_pyproject_name_the_same_packages():
    project = PROJECT
    extras = project["optional-dependencies"]
    declared = {req.replace(" ", "") for req in project["dependencies"] + [r for e in extras.values() for r in e]
                if _name(req) != "course-utils"}
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
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
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code and "".join(code[0]["source"]) == build.SETUP_CELL, "run `python tools/build.py`"


@pytest.mark.parametrize("notebook", LESSONS, ids=lambda p: p.name)
def test_lesson_tells_a_story_and_is_committed_executed(notebook):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    markdown = sum(c["cell_type"] == "markdown" for c in cells)
    assert markdown / len(cells) >= 0.4, f"only {markdown}/{len(cells)} cells are markdown"
    code = [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    unexecuted = [i for i, c in enumerate(code) if not c.get("execution_count")]
    assert not unexecuted, "commit lessons executed (a full run), with outputs"
    errors = [o.get("ename") for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"committed outputs contain errors: {errors}"
    assert build.notebook_title(notebook)


def test_setup_cells_generated_cells_and_readme_map_are_in_sync():
    stale = [nb.name for nb in LESSONS + build.exercise_sources()
             if build.sync_setup_cell(nb, check=True) or gen.sync_generated_cells(nb, check=True)]
    assert not stale and not build.sync_readme(check=True), "run `python tools/build.py`"


def _tagged(notebook: Path, tag: str) -> list[dict]:
    return [c for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"] if tag in gen._tags(c)]


@pytest.mark.parametrize("notebook", LESSONS + sorted(build.STUDENT.glob("*.ipynb")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_notebook_opens_in_colab_from_its_top_and_links_what_comes_next(notebook):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    top, last = "".join(cells[0]["source"]), "".join(cells[-1]["source"])
    assert gen.TOP in gen._tags(cells[0]) and "remove-cell" in gen._tags(cells[0])  # Colab's, not the site's
    assert f"[![Open In Colab]({gen.BADGE})]({build.colab_url(notebook)})" == top.split("\n")[0]
    exercise = notebook.parent == build.STUDENT
    assert ("File → Save a copy in Drive" in top) == (exercise or notebook.name.startswith("00"))
    assert gen.NEXT in gen._tags(cells[-1])
    lessons = [p for p in build.site_pages() if not p.exercise]
    later = [p for p in lessons if p.number > notebook.name[:2]]
    assert (build.colab_url(later[0].notebook) in last) if later else ("last lesson" in last)
    for page in build.site_pages():  # a lesson links its exercises, an exercise its lesson, in Colab and locally
        if page.number == notebook.name[:2] and page.notebook != notebook and page.exercise != exercise:
            assert build.colab_url(page.notebook) in last
            assert (notebook.parent / re.search(rf"\]\(([^)]*{page.notebook.name})\)", last)[1]).resolve() \
                == page.notebook.resolve()


def test_lesson_00s_course_map_lists_every_lesson_and_exercise():
    (cell,) = _tagged(LESSONS[0], gen.COURSE_MAP)
    text = "".join(cell["source"])
    assert text.startswith("## The course map") and len(re.findall(r"^\| \d\d \|", text, flags=re.M)) == len(LESSONS)
    for page in build.site_pages():
        assert page.title in text and (page.notebook == LESSONS[0] or build.colab_url(page.notebook) in text)


def test_generated_cells_are_rewritten_in_place_and_idempotent(tmp_path, monkeypatch):
    copy = tmp_path / LESSONS[1].name
    nb = json.loads(LESSONS[1].read_text(encoding="utf-8"))
    next(c for c in nb["cells"] if gen.TOP in gen._tags(c))["source"] = ["stale"]
    nb["cells"] = [c for c in nb["cells"] if gen.NEXT not in gen._tags(c)]
    copy.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    monkeypatch.setattr(build, "colab_url", lambda notebook: f"colab:{notebook.name}")
    monkeypatch.setattr(gen, "_student_view", lambda notebook: LESSONS[1] if notebook == copy else notebook)
    assert gen.sync_generated_cells(copy, check=True) and "stale" in copy.read_text(encoding="utf-8")
    assert gen.sync_generated_cells(copy, check=False)
    once = copy.read_text(encoding="utf-8")
    assert not gen.sync_generated_cells(copy, check=False) and copy.read_text(encoding="utf-8") == once
    cells = json.loads(once)["cells"]
    outputs = [c.get("outputs") for c in cells if c["cell_type"] == "code"]
    assert outputs == [c.get("outputs") for c in json.loads(LESSONS[1].read_text(encoding="utf-8"))["cells"]
                       if c["cell_type"] == "code"], "code cells and their outputs are never touched"
    assert [gen._tags(c)[:1] for c in (cells[0], cells[-1])] == [[gen.TOP], [gen.NEXT]]


def test_pytest_collects_every_notebook_by_glob():
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "--nbval-lax",
                           "-p", "no:cacheprovider", "notebooks"], cwd=ROOT, capture_output=True, text=True)
    collected = {line.split("::")[0] for line in proc.stdout.splitlines() if ".ipynb::" in line}
    expected = {str(p.relative_to(ROOT)) for p in LESSONS + build.exercise_sources()}
    assert collected == expected, proc.stdout[-2000:] + proc.stderr[-2000:]


def _readme_code() -> tuple[list[str], list[str]]:
    """The README's code: (lines of its shell code blocks, its inline `code` spans)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```(?:bash|sh|powershell)\n(.*?)^```", readme, flags=re.S | re.M)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", readme, flags=re.S | re.M))
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()], spans


def test_ci_runs_the_readme_test_command_and_the_unit_command_selects_a_tier():
    lines, _ = _readme_code()
    tests = [line for line in lines if " -m pytest" in line]
    full = [line for line in tests if " -m unit" not in line]
    assert full, "the README needs the full test command in a code block"
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
          if " -m pytest" in line]
    assert ci == [full[0]], f"CI runs {ci}, the README's test command is {full[0]!r}"
    # the same command on every platform: Windows keeps the venv's programs in Scripts\
    assert {line.replace(".venv\\Scripts\\", ".venv/bin/") for line in full} == {full[0]}
    unit = [line for line in tests if line.endswith(" -m unit")]
    assert unit == [full[0].split(" -m pytest")[0] + " -m pytest -m unit"], tests
    markers = [line.split(":")[0] for line in PYPROJECT["tool"]["pytest"]["ini_options"]["markers"]]
    assert markers == ["unit", "integration", "pipeline"]


def test_every_file_and_module_the_readme_names_exists():
    lines, spans = _readme_code()
    paths, modules = set(), set()
    for text in lines + spans:
        paths |= set(re.findall(r"(?<![\w/.<-])((?:[\w.-]+/)+[\w.-]+\.(?:py|ipynb|toml|yml|md|txt))\b", text))
        modules |= set(re.findall(r"python -m ([\w.]+)", text))
    paths = {p for p in paths if "NN_" not in p}  # the naming pattern, not a file
    assert {"tools/build.py", "notebooks/00_welcome.ipynb"} <= paths and "pytest" in modules
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert not missing, f"the README names files that do not exist: {missing}"
    unknown = sorted(m for m in modules if importlib.util.find_spec(m) is None)
    assert not unknown, f"the README runs modules that do not exist: {unknown}"


def test_ruff_check_passes():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_lesson_map_has_one_row_per_lesson_and_exercise_in_order():
    rows = build.lesson_map().splitlines()
    assert rows[:2] == ["| # | Notebook | Page | Colab | Full run |", "|---|---|---|---|---|"]
    body = [row for row in rows[2:] if row.startswith("| ")]
    assert len(body) == len(LESSONS) + len(build.exercise_sources())
    assert [row.split("|")[1].strip() for row in body] == sorted(row.split("|")[1].strip() for row in body)
    for nb in LESSONS:
        assert f"[{build.notebook_title(nb)}](notebooks/{nb.name})" in build.lesson_map()
    for src in build.exercise_sources():
        assert f"Exercise: [{build.notebook_title(src)}](notebooks/exercises/student/{src.name})" in build.lesson_map()
        assert build.colab_url(build.STUDENT / src.name) in build.lesson_map()
    for page in build.site_pages():  # each row links its page on the website, at the address runtime.REPOSITORY gives
        assert f"[page]({build.site_url()}{page.docname}.html)" in build.lesson_map()
    times = build.lesson_times()  # each lesson's measured full run (benchmarks/lesson_times.py); none for exercises
    for page, row in zip(build.site_pages(), body, strict=True):
        full = row.split("|")[-2].strip()
        measured = [device for device, entry in times.items()
                    if page.notebook.stem in entry["lessons"] and not page.exercise]
        assert full == "" if page.exercise else (full == "not measured") == (not measured), row
        assert all(f"min {device.upper()}" in full for device in measured), row
    owner, name = REPOSITORY.split("/")  # GitHub Pages: https://OWNER.github.io/NAME/, host names in lower case
    assert build.site_url() == f"https://{owner.lower()}.github.io/{name}/"


def test_main_reports_stale_files_and_fails_only_when_checking(monkeypatch, capsys):
    monkeypatch.setattr(build, "sync_setup_cell", lambda nb, check: False)
    monkeypatch.setattr(gen, "sync_generated_cells", lambda nb, check: False)
    monkeypatch.setattr(build, "sync_readme", lambda check: False)
    monkeypatch.setattr(build, "build_exercise", lambda source, check: [])
    assert build.main(["--check"]) == 0 and "everything is up to date" in capsys.readouterr().out
    monkeypatch.setattr(build, "build_exercise", lambda source, check: [f"{source.stem}/tests"])
    assert build.main(["--check"]) == 1
    first = build.exercise_sources()[0].stem
    assert f"stale: {first}/tests" in capsys.readouterr().out
