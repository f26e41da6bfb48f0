"""The package's layout by audience holds: who may import whom, what stays light, what old notebooks still import.

Three rooms (STYLE.md): the teaching core `course_utils/*.py` that students read, the widgets
`course_utils/widgets/` over it, and the grading `course_utils/grading/` (a light face for students, the
instructor's machinery behind it); `tools/` only works inside a checkout and is never imported by the package.
Function-level imports are there to load something heavy late (matplotlib, otter, ipywidgets), never to hide an
import cycle: the import graph has no cycle with or without them.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "course_utils"
# otter's, nbconvert's, psutil's and torch's imports take seconds or pull in the instructor's tools
HEAVY = {"torch", "otter", "psutil", "matplotlib", "numpy", "nbformat", "nbconvert", "nbclient", "yaml"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SOURCES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "exercise_tests" not in p.parts}


def _imports(module: str) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for every import statement in `module`, relative ones resolved.

    `from .pkg import name` counts as importing `pkg.name` when that is a module of the package, else `pkg`.
    """
    path = SOURCES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((alias.name, top) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = package.rsplit(".", child.level - 1)[0] if child.level else ""
                target = ".".join(filter(None, [base, child.module]))
                for alias in child.names:
                    found.append((f"{target}.{alias.name}" if f"{target}.{alias.name}" in SOURCES else target, top))
            visit(child, top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(path.read_text(encoding="utf-8")), True)
    return found


def _graph(with_function_level: bool) -> dict[str, set[str]]:
    return {module: {target for target, top in _imports(module)
                     if target in SOURCES and target != module and (top or with_function_level)}
            for module in SOURCES}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` (a list of modules, the first repeated at the end), or None."""
    done, path = set(), []

    def walk(module: str) -> list[str] | None:
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return None
        path.append(module)
        for target in sorted(graph[module]):
            if cycle := walk(target):
                return cycle
        path.pop()
        done.add(module)
        return None

    return next((cycle for module in sorted(graph) if (cycle := walk(module))), None)


def _room(module: str) -> str:
    return {"course_utils.grading": "grading", "course_utils.widgets": "widgets"}.get(
        ".".join(module.split(".")[:2]), "core")


def test_the_package_is_found_and_parsed():
    # the checks below would pass vacuously on an empty walk
    assert {"course_utils", "course_utils.models", "course_utils.grading.student",
            "course_utils.widgets.latent_views"} <= set(SOURCES)
    assert ("course_utils.checks", True) in _imports("course_utils.models")
    assert ("course_utils.info", True) in _imports("course_utils.widgets.kl_playground")  # `from .. import info`
    assert ("course_utils.runtime", False) in _imports("course_utils.grading.classroom")  # inside build()
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("with_function_level", [False, True], ids=["module level", "with function-level"])
def test_no_import_cycle_among_the_package_modules(with_function_level):
    cycle = _cycle(_graph(with_function_level))
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


@pytest.mark.parametrize("module", sorted(SOURCES), ids=str)
def test_each_room_imports_only_what_it_may(module):
    room = _room(module)
    for target, top in _imports(module):
        where = f"{module} imports {target}" + ("" if top else " (in a function)")
        assert target.split(".")[0] != "tools", f"{where}: tools/ is a checkout's, never installed"
        if room == "core":
            assert _room(target) == "core", \
                f"{where}: what students read must not import the widgets or the grading"
        if room == "widgets":
            assert _room(target) != "grading", f"{where}: widgets must not import the grading"


@pytest.mark.parametrize("module", ["course_utils.grading", "course_utils.grading.student"])
def test_the_students_grading_face_imports_only_the_standard_library(module):
    # Exercise notebooks import these; torch loads only when a check runs, otter and psutil never (grading.student).
    for target, top in _imports(module):
        if top and not target.startswith("course_utils.grading"):
            name = target.split(".")[0]
            assert name in sys.stdlib_module_names, f"{module} imports {target} at module level" + (
                " (heavy: import it in the function that needs it)" if name in HEAVY else "")


def _run(code: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter that imports this checkout's course_utils."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def _loaded_after(statement: str) -> set[str]:
    """Top-level names in sys.modules after `statement` ran in a fresh interpreter."""
    proc = _run(f"import json, sys\n{statement}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))")
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.splitlines()[-1]))


def test_importing_the_package_does_not_import_matplotlib_or_the_grading_tools():
    loaded = _loaded_after("import course_utils")
    assert not loaded & {"matplotlib", "ipywidgets", "otter", "psutil"}, loaded & HEAVY


def test_the_students_grading_face_does_not_import_otter_or_psutil():
    loaded = _loaded_after("from course_utils.grading import notebook_grader, check_close")
    assert not loaded & {"otter", "psutil", "matplotlib", "nbconvert", "nbclient"}, loaded & HEAVY


def test_the_students_grading_face_does_not_import_torch():
    assert "torch" not in _loaded_after("from course_utils.grading import notebook_grader, check_close")


def test_every_old_import_path_is_the_moved_module_itself():
    proc = _run("""
        import importlib, json
        from course_utils import MOVED
        same = {}
        for old, new in MOVED.items():
            before = importlib.import_module(f"course_utils.{old}")
            after = importlib.import_module(f"course_utils.{new}")
            same[old] = [before is after, after.__name__, after.__spec__.name]
        print(json.dumps(same))
    """)
    assert proc.returncode == 0, proc.stderr
    same = json.loads(proc.stdout.splitlines()[-1])
    assert {"latent", "beyond", "sealed", "widget_canvas", "latent_widgets"} <= set(same)
    for old, (identical, name, spec_name) in same.items():
        assert identical, f"course_utils.{old} is a copy of {name}, not the module itself"
        assert name == spec_name, f"importing course_utils.{old} changed {name}'s spec to {spec_name}"


def test_a_notebook_cell_written_before_the_move_still_runs():
    # As a notebook runs it: IPython's shell, one cell with the old imports, then the new names
    proc = _run("""
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        result = shell.run_cell(
            "from course_utils import latent\\n"
            "from course_utils.sealed import Sealed\\n"
            "from course_utils.widgets import bernoulli_table, playground\\n")
        result.raise_error()
        import course_utils.grading.sealed, course_utils.linear_gaussian, course_utils.widgets.kl_playground as kl
        ns = shell.user_ns
        assert ns["latent"] is course_utils.linear_gaussian
        assert ns["Sealed"] is course_utils.grading.sealed.Sealed
        assert ns["bernoulli_table"] is kl.bernoulli_table and ns["playground"] is kl.playground
        print("OLD CELL OK")
    """)
    assert proc.returncode == 0 and "OLD CELL OK" in proc.stdout, proc.stdout + proc.stderr
