"""Rebuild everything generated from one source: setup cells, generated cells, README lesson map, exercises.

    python tools/build.py          # rewrite what is stale (`course-build` runs this from a checkout)
    python tools/build.py --check  # list what is stale and exit 1 (used by the tests)
    python tools/build.py --release OUT  # the public course, for students: no solution, no hidden test

Generated markdown cells (a notebook's Colab badge at its top, its links to the next lesson and its exercises,
lesson 00's course map) are found by their tag and rewritten from `site_pages()`. Setup cells are
tools/setup_cell.py (a template that ruff lints) filled in with the version and install requirement of
`course_utils.runtime`; they and the Colab badges are made from `runtime.REPOSITORY`/`BRANCH`, so a fork edits
that one place and reruns this. Exercise sources (notebooks/exercises/NN_slug.ipynb, with solutions and
hidden tests) go through `otter assign`, after `course_utils.grading.autograder.prepare_source` has sealed
their hidden tests and added the autograder's requirements: the student notebook is written to
notebooks/exercises/student/, its public tests to course_utils/exercise_tests/NN_slug/, and the
autograder zip (with hidden tests) to notebooks/exercises/dist/ (not committed).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import re
import shutil
import string
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

from course_utils.runtime import BRANCH, REPOSITORY, VERSION, install_requirement, repository_url

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
EXERCISES = NOTEBOOKS / "exercises"
STUDENT = EXERCISES / "student"
DIST = EXERCISES / "dist"
TESTS_PKG = ROOT / "course_utils" / "exercise_tests"
SETUP_MARKER = "# Course setup"  # a line of every setup cell (and the start of cells from before the form title)
SETUP_TITLE = "# @title Course setup"  # the cell's first line: Colab shows a cell starting so as one collapsed line

SETUP_TEMPLATE = Path(__file__).with_name("setup_cell.py")  # the cell's code, a Python file that ruff checks


def setup_cell(extras: tuple[str, ...] = ()) -> str:
    """The course setup cell (every lesson and exercise: the course package alone, no otter-grader)."""
    lines = SETUP_TEMPLATE.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith((SETUP_TITLE, SETUP_MARKER))), None)
    if start is None:
        raise ValueError(f"{SETUP_TEMPLATE} has no line starting with {SETUP_MARKER!r}: the cell starts there")
    template = string.Template("".join(lines[start:]).rstrip("\n"))
    values = {"VERSION": VERSION, "REQUIREMENT": install_requirement(extras),
              "FALLBACK": install_requirement(extras, ref=BRANCH), "REPOSITORY_URL": repository_url()}
    if set(template.get_identifiers()) != set(values):
        raise ValueError(f"{SETUP_TEMPLATE} uses the placeholders {sorted(template.get_identifiers())}; "
                         f"tools/build.py fills in {sorted(values)}: use those (or extend setup_cell)")
    return template.substitute(values)


SETUP_CELL = setup_cell()  # lessons and exercises alike: grader.check needs no otter-grader (grading.student)


def is_setup_cell(text: str) -> bool:
    """True for a course setup cell, old (starting '# Course setup') or new (the Colab form title first)."""
    return text.startswith((SETUP_TITLE, SETUP_MARKER))


def colab_url(notebook: Path) -> str:
    """The Open-in-Colab address of a notebook of this repository."""
    rel = notebook.resolve().relative_to(ROOT).as_posix()
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/{rel}"


def lesson_notebooks() -> list[Path]:
    """Every lesson (notebooks/NN_slug.ipynb), in order."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def exercise_sources() -> list[Path]:
    """Every exercise source (notebooks/exercises/NN_slug.ipynb), in order."""
    return sorted(EXERCISES.glob("[0-9][0-9]_*.ipynb"))


def _cell_text(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def notebook_title(notebook: Path) -> str:
    """The text of the notebook's first '# Title' line (what the README's lesson map shows)."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] == "markdown":
            for line in _cell_text(cell).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise ValueError(f"{notebook} has no '# Title' line in a markdown cell")


def sync_setup_cell(notebook: Path, check: bool) -> bool:
    """Make the first code cell the course setup cell; True if it was (or would be) changed."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    code = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"]
    expected = SETUP_CELL
    if code and _cell_text(nb["cells"][code[0]]) == expected:
        return False
    if check:
        return True
    cell = {"cell_type": "code", "execution_count": None, "id": "course-setup", "metadata": {},
            "outputs": [], "source": expected.splitlines(keepends=True)}
    if code and is_setup_cell(_cell_text(nb["cells"][code[0]])):
        old = nb["cells"][code[0]]
        # Outside Colab only the import lines run, so a run's outputs stay true when the install code changes.
        cell.update({k: old[k] for k in ("id", "execution_count", "metadata", "outputs") if k in old})
        nb["cells"][code[0]] = cell
    else:
        nb["cells"].insert(code[0] if code else len(nb["cells"]), cell)
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8", newline="\n")
    return True


class Page(NamedTuple):
    """One page of the course website: a lesson, or a student exercise listed after its lesson."""

    number: str  # the lesson's two digits
    exercise: bool
    title: str
    notebook: Path  # what the page shows (for an exercise: the student version, never the source)

    @property
    def docname(self) -> str:
        """The page's name in the site build (its path without .ipynb; the page is docname + '.html')."""
        return self.notebook.relative_to(ROOT).with_suffix("").as_posix()


def site_pages() -> list[Page]:
    """Every page of the website in lesson-map order: each lesson, then its exercises."""
    pages = [Page(nb.stem[:2], False, notebook_title(nb), nb) for nb in lesson_notebooks()]
    # the sources where they exist (the instructor's master); a public release has only the student versions
    exercises = exercise_sources() or sorted(STUDENT.glob("[0-9][0-9]_*.ipynb"))
    pages += [Page(src.stem[:2], True, notebook_title(src), STUDENT / src.name) for src in exercises]
    return sorted(pages, key=lambda page: (page.number, page.exercise, page.notebook.name))


def site_url() -> str:
    """The website's address on GitHub Pages, made from `runtime.REPOSITORY` (https://OWNER.github.io/NAME/)."""
    owner, name = REPOSITORY.split("/")
    return f"https://{owner.lower()}.github.io/{name}/"


# The website: Sphinx with myst-nb renders the committed notebooks (site/conf.py); the README, .ci/run and the
# Pages workflow run this command from the repository root (tests/test_site_config.py checks that they agree).
SITE = ROOT / "site"
SITE_HTML = SITE / "_build" / "html"
SITE_COMMAND = "python -m sphinx -W --keep-going -b html -c site . site/_build/html"


def site_sources() -> list[Path]:
    """Every file the website is made from: its pages, its configuration, and what the configuration reads."""
    own = [p for p in SITE.rglob("*")
           if p.is_file() and not {"_build", "__pycache__"} & set(p.relative_to(SITE).parts)]
    return [page.notebook for page in site_pages()] + own + [Path(__file__).resolve(),
                                                             ROOT / "course_utils" / "runtime.py"]


LESSON_TIMES = ROOT / "benchmarks" / "lesson_times.json"  # written by benchmarks/lesson_times.py


def lesson_times() -> dict[str, dict]:
    """The measured full-mode times: {"cpu" or "gpu": {"lessons": {notebook stem: seconds}, "machine", "date"}}."""
    return json.loads(LESSON_TIMES.read_text(encoding="utf-8")) if LESSON_TIMES.exists() else {}


def _duration(seconds: float) -> str:
    return "under 1 min" if seconds < 60 else f"{round(seconds / 60)} min"


def lesson_map() -> str:
    """The README's lesson map: one line per lesson and exercise, with its website page, its Colab badge and
    how long the lesson's full mode takes (benchmarks/lesson_times.py), then where those times were measured."""
    badge = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
    times = lesson_times()
    lines = []
    for page in site_pages():
        rel = page.notebook.relative_to(ROOT).as_posix()
        text = f"Exercise: [{page.title}]({rel})" if page.exercise else f"[{page.title}]({rel})"
        url = f"{site_url()}{page.docname}.html"
        measured = [f"{_duration(entry['lessons'][page.notebook.stem])} {device.upper()}"
                    for device, entry in sorted(times.items()) if page.notebook.stem in entry["lessons"]]
        full = "" if page.exercise else ", ".join(measured) or "not measured"
        lines.append(f"| {page.number} | {text} | [page]({url}) | {badge}({colab_url(page.notebook)}) | {full} |")
    where = "".join(f"\n\n{device.upper()}: {entry['machine']}, measured {entry['date']}."
                    for device, entry in sorted(times.items()))
    return ("| # | Notebook | Page | Colab | Full run |\n|---|---|---|---|---|\n" + "\n".join(lines)
            + "\n\n*Full run*: the wall time of the lesson from top to bottom in full mode, measured by "
            "`benchmarks/lesson_times.py`; fast mode (`COURSE_FAST=1`) takes seconds to a minute." + where)


def clone_command() -> str:
    """The README's clone command, made from `runtime.REPOSITORY`."""
    return f"git clone {repository_url()}.git && cd {REPOSITORY.split('/')[1]}"


def sync_readme(check: bool) -> bool:
    """Rewrite the README's generated blocks (lesson map, clone command); True if they were (or would be) stale."""
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = re.sub(r"(<!-- lesson-map:start -->\n).*?(<!-- lesson-map:end -->)",
                 lambda m: m.group(1) + lesson_map() + "\n" + m.group(2), text, flags=re.S)
    new = re.sub(r"(<!-- clone:start -->\n).*?(<!-- clone:end -->)",
                 lambda m: f"{m.group(1)}```bash\n{clone_command()}\n```\n{m.group(2)}", new, flags=re.S)
    if new == text:
        return False
    if not check:
        readme.write_text(new, encoding="utf-8", newline="\n")
    return True


def _normalize_student(path: Path) -> str:
    """Student notebook text with deterministic ids and no outputs, so rebuilds compare equal."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb["cells"]):
        cell["id"] = f"cell-{i:02d}"
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k in ("tags",)}
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    otter = nb["metadata"].get("otter", {})  # the assignment name: a submission of another exercise is refused
    nb["metadata"] = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                      "language_info": {"name": "python"}}
    if otter:
        nb["metadata"]["otter"] = otter
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def assign(source: Path, out: Path) -> Path:
    """Run `otter assign` on one exercise source into `out`; returns the autograder zip's path."""
    from otter.assign import main as otter_assign  # imported here: otter takes seconds to import

    from course_utils.grading.autograder import prepare_source

    prepared = prepare_source(source, out.parent / f"{out.name}-source")
    try:
        otter_assign(str(prepared), str(out), no_pdfs=True, no_run_tests=True)
    except Exception as err:
        raise RuntimeError(f"otter assign failed for {source}: {err}") from err
    zips = sorted((out / "autograder").glob("*.zip"))
    if len(zips) != 1:
        raise RuntimeError(f"otter assign made {len(zips)} autograder zips for {source}")
    return zips[0]


def sync_assigned(source: Path, out: Path, write: bool) -> list[str]:
    """Compare (or copy) an `otter assign` output with the committed student notebook and tests."""
    stale = []
    student_text = _normalize_student(out / "student" / source.name)
    target = STUDENT / source.name
    if not target.is_file() or target.read_text(encoding="utf-8") != student_text:
        stale.append(str(target.relative_to(ROOT)))
        if write:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(student_text, encoding="utf-8", newline="\n")
    new_tests, pkg_tests = out / "student" / "tests", TESTS_PKG / source.stem
    names = {p.name for p in new_tests.glob("*.py")}
    old = {p.name for p in pkg_tests.glob("*.py")} if pkg_tests.is_dir() else set()
    differing = names ^ old or {n for n in names & old
                                if not filecmp.cmp(new_tests / n, pkg_tests / n, shallow=False)}
    if differing:
        stale.append(str(pkg_tests.relative_to(ROOT)))
        if write:
            shutil.rmtree(pkg_tests, ignore_errors=True)
            shutil.copytree(new_tests, pkg_tests)
    return stale


def build_exercise(source: Path, check: bool) -> list[str]:
    """Rebuild one exercise; returns the committed files that are (or were) stale."""
    with tempfile.TemporaryDirectory() as tmp:
        zip_path = assign(source, Path(tmp) / source.stem)
        stale = sync_assigned(source, Path(tmp) / source.stem, write=not check)
        if not check:
            DIST.mkdir(parents=True, exist_ok=True)
            shutil.copy(zip_path, DIST / f"{source.stem}-autograder.zip")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="report stale files and exit 1; change nothing")
    parser.add_argument("--release", metavar="OUT", type=Path,
                        help="write the public, student-facing course into the new (or empty) folder OUT: no "
                             "solutions, hidden tests or autograder zips (see tools/release.py)")
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:  # run as a script: tools/ is importable from the checkout's root
        sys.path.insert(0, str(ROOT))
    from tools import notebook_cells

    if args.release is not None:
        from tools.release import write_release

        try:
            return write_release(args.release)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    notebooks = lesson_notebooks() + exercise_sources()
    stale = [str(nb.relative_to(ROOT)) + " (setup cell)" for nb in notebooks if sync_setup_cell(nb, args.check)]
    stale += [str(nb.relative_to(ROOT)) + " (generated cells)" for nb in notebooks
              if notebook_cells.sync_generated_cells(nb, args.check)]
    for source in exercise_sources():
        stale += build_exercise(source, args.check)
    # the package must know every exercise's tests before the README lists it
    if sync_readme(args.check):
        stale.append("README.md (lesson map, clone command)")
    verb = "stale" if args.check else "rebuilt"
    for item in stale:
        print(f"{verb}: {item}")
    if not stale:
        print("everything is up to date")
    if not args.check:
        print(f"autograder zips (with hidden tests, not committed): {DIST.relative_to(ROOT)}/")
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
