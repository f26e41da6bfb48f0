"""What goes into an autograder zip: sealed hidden tests, the environment's requirements, and a check.

`tools/build.py` calls `prepare_source` before `otter assign`: every hidden test's first line,

    from course_utils.grading.sealed import Sealed; H = Sealed()

is replaced by `course_utils/grading/sealed.py` embedded in the test and compiled afresh (see that
module) by a line that names nothing the notebook's globals can hide,
and the assignment config gets the requirements that Gradescope's and Docker's setup installs
(`requirements` of otter's ASSIGNMENT CONFIG, written into the zip's environment.yml).
`environment_of` and `imports_of` read a built zip back, so a test can check that its environment
would import everything its tests import.
"""

from __future__ import annotations

import ast
import json
import re
import sys
import zipfile
from pathlib import Path

import yaml

from ..runtime import install_requirement

ROOT = Path(__file__).resolve().parents[2]  # the checkout (the build reads its pyproject.toml)
SEALED_LINE = "from course_utils.grading.sealed import Sealed; H = Sealed()"
SEALED_END = "H.done()"
TEST_CONFIG = re.compile(r'""" # BEGIN TEST CONFIG\n(.*?)""" # END TEST CONFIG\n', re.S)


def requirements() -> list[str]:
    """pip requirements of an autograder: torch and torchvision with pyproject.toml's bounds, and course_utils.

    The bounds are copied as they are (ranges, not one pinned version); course_utils is pinned to this version.
    """
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    wanted = re.findall(r'^\s*"((?:torch|torchvision)(?:[<>=!~;\[ ][^"]*)?)",?\s*$', pyproject, flags=re.M)
    if len(wanted) != 2:
        raise ValueError(f"pyproject.toml should list torch and torchvision among its dependencies, found {wanted}")
    return [*wanted, install_requirement()]


def _text(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _embedded_sealed() -> str:
    """The line that starts a hidden test in a zip: sealed.py compiled afresh, with a copy of the builtins.

    It names nothing that the notebook's globals can hide (`exec` or `dict` defined by the submission):
    `import` looks `__import__` up in the builtins only, and the rest are attributes and literals.
    """
    source = (Path(__file__).parent / "sealed.py").read_text(encoding="utf-8")
    return ('import builtins as _b; '
            '_sealed = {"__name__": "course_sealed_checks", "__builtins__": _b.__dict__.copy()}; '
            f'_b.exec(_b.compile({source!r}, "<sealed course check>", "exec"), _sealed); H = _sealed["Sealed"]()')


def hidden_tests(nb: dict) -> list[tuple[str, dict]]:
    """(question name, cell) of every hidden test cell of an exercise source."""
    found, question = [], None
    for cell in nb["cells"]:
        text = _text(cell)
        if cell["cell_type"] == "raw" and text.startswith("# BEGIN QUESTION"):
            question = yaml.safe_load(text.split("\n", 1)[1])["name"]
        config = TEST_CONFIG.match(text) if cell["cell_type"] == "code" else None
        if config and (yaml.safe_load(config.group(1)) or {}).get("hidden"):
            found.append((question, cell))
    return found


def point_split(nb: dict) -> dict[str, tuple[float, float]]:
    """Per question, (points of the visible checks, points of the hidden tests)."""
    split, question, total = {}, None, 0.0
    for cell in nb["cells"]:
        text = _text(cell)
        if cell["cell_type"] == "raw" and text.startswith("# BEGIN QUESTION"):
            config = yaml.safe_load(text.split("\n", 1)[1])
            question, total = config["name"], float(config["points"])
            split[question] = (total, 0.0)
        config = TEST_CONFIG.match(text) if cell["cell_type"] == "code" else None
        if config and (yaml.safe_load(config.group(1)) or {}).get("hidden"):
            hidden = float(yaml.safe_load(config.group(1)).get("points", 0.0))
            split[question] = (split[question][0] - hidden, split[question][1] + hidden)
    return split


def prepare_source(source: Path, out: Path) -> Path:
    """A copy of an exercise source ready for `otter assign`: sealed hidden tests, requirements added."""
    nb = json.loads(source.read_text(encoding="utf-8"))
    for question, cell in hidden_tests(nb):
        lines = _text(cell).split("\n")
        config_end = next(i for i, line in enumerate(lines) if line.endswith("# END TEST CONFIG"))
        body = [line for line in lines[config_end + 1:] if line.strip()]
        if not body or body[0] != SEALED_LINE or body[-1] != SEALED_END:
            raise ValueError(f"{source.name}: a hidden test of question {question!r} must start with "
                             f"`{SEALED_LINE}` and end with `{SEALED_END}` (see README, 'Writing a new exercise')")
        if "check_close" in _text(cell):
            raise ValueError(f"{source.name}: a hidden test of question {question!r} uses check_close, which "
                             "student code can replace; use H.close")
        cell["source"] = "\n".join(lines[: config_end + 1] + [_embedded_sealed()] + body[1:])
    for question, (visible, hidden) in point_split(nb).items():
        if hidden <= visible:
            raise ValueError(f"{source.name}: question {question!r} gives hidden tests {hidden:g} of "
                             f"{visible + hidden:g} points; hidden tests must carry most of them")
    config_cell = nb["cells"][0]
    config = yaml.safe_load(_text(config_cell).split("\n", 1)[1])
    if config.get("name") != source.stem:
        raise ValueError(f"{source.name}: its ASSIGNMENT CONFIG needs `name: {source.stem}` (it rejects "
                         "submissions of other exercises)")
    config["requirements"] = requirements()
    config_cell["source"] = "# ASSIGNMENT CONFIG\n" + yaml.safe_dump(config, sort_keys=False)
    out.mkdir(parents=True, exist_ok=True)
    prepared = out / source.name
    prepared.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return prepared


def environment_of(zip_path: Path) -> list[str]:
    """The pip requirements that the zip's environment.yml installs (Gradescope and Docker grading)."""
    with zipfile.ZipFile(zip_path) as zf:
        env = yaml.safe_load(zf.read("environment.yml"))
    pips = [dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict) and "pip" in dep]
    return [req for group in pips for req in group]


def imports_of(zip_path: Path) -> set[str]:
    """Top-level modules that the zip's tests import, or use through the sealed checks' references."""
    modules: set[str] = set()
    with zipfile.ZipFile(zip_path) as zf:
        for name in zf.namelist():
            if not (name.startswith("tests/") and name.endswith(".py")):
                continue
            spec: dict = {}
            exec(compile(zf.read(name).decode(), name, "exec"), spec)  # our own generated test file
            for suite in spec["test"]["suites"]:
                for case in suite["cases"]:
                    code = "\n".join(line[4:] for line in case["code"].splitlines()
                                     if line.startswith((">>> ", "... ")))
                    modules |= imports_in(code)
                    modules |= {m.split(".")[0] for m in re.findall(r'H\.reference\("([\w.]+)"\)', code)}
    return modules


def imports_in(code: str) -> set[str]:
    """Third-party top-level modules that `code` imports, also inside the sealed checks it compiles."""
    found = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Call) and node.args
              and "compile" in (getattr(node.func, "id", None), getattr(node.func, "attr", None))):
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):  # the embedded sealed checks
                found |= imports_in(first.value)
    return found - set(sys.stdlib_module_names)


def autograder_info(autograder: Path) -> tuple[str | None, dict[str, float]]:
    """The assignment name an autograder zip expects, and each question's possible points."""
    possible = {}
    try:
        with zipfile.ZipFile(autograder) as zf:
            config = json.loads(zf.read("otter_config.json")) if "otter_config.json" in zf.namelist() else {}
            for name in sorted(n for n in zf.namelist() if re.fullmatch(r"tests/[^/]+\.py", n)):
                spec: dict = {}
                exec(compile(zf.read(name).decode(), name, "exec"), spec)  # the course's own test file
                cases = [case for suite in spec["test"]["suites"] for case in suite["cases"]]
                points = spec["test"].get("points")
                total = sum(points) if isinstance(points, list) else points
                if total is None:
                    total = sum(case.get("points") or 0 for case in cases)
                possible[spec["test"]["name"]] = float(total)
    except (zipfile.BadZipFile, KeyError) as err:
        raise ValueError(f"{autograder} is not an autograder zip made by `python tools/build.py`: "
                         f"{err}") from err
    return config.get("assignment_name"), possible
