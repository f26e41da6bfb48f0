"""What an exercise notebook calls: `notebook_grader` for `grader.check`, and `check_close`.

The light, student-facing face of the grading package. `grader.check("q")` runs the exercise's public
tests, shipped inside course_utils (otter's OK-format files), as doctests in the notebook's globals and
shows the result as otter does; it needs neither otter-grader nor an upload, so an exercise's install
changes nothing in Colab. Only when otter itself runs the notebook (an instructor's grading, where otter
put itself in grading mode first) does `notebook_grader` hand back otter's own `Notebook`, so that the
hidden tests run where they always did. Importing this module costs nothing; torch loads when a check runs.
"""

from __future__ import annotations

import ast
import doctest
import io
import sys
from contextlib import redirect_stderr, redirect_stdout
from html import escape
from importlib.resources import files
from pathlib import Path
from textwrap import dedent, indent


def tests_dir(assignment: str) -> Path:
    """Folder of an exercise's public tests, shipped inside course_utils (so Colab needs no upload)."""
    folder = Path(str(files("course_utils") / "exercise_tests" / assignment))
    if not folder.is_dir():
        known = sorted(p.name for p in Path(str(files("course_utils") / "exercise_tests")).iterdir()
                       if p.is_dir())
        raise ValueError(f"no exercise named {assignment!r}; known exercises: {', '.join(known)}")
    return folder


class CheckResult:
    """One question's public tests: `passed`, and each failing case's doctest report (shown like otter's)."""

    def __init__(self, question: str, failures: list[str]) -> None:
        self.question, self.failures = question, failures

    @property
    def passed(self) -> bool:
        """True when every public test case of the question passed."""
        return not self.failures

    def __repr__(self) -> str:
        if self.passed:
            return f"{self.question} passed!"
        cases = [f"{self.question} - {i + 1} result:\n" + indent("❌ Test case failed\n" + report.strip(), "    ")
                 for i, report in enumerate(self.failures)]
        return f"{self.question} results:\n" + indent("\n\n".join(cases), "    ")

    def _repr_html_(self) -> str:
        if self.passed:
            return f"<p><strong><pre style='display: inline;'>{escape(self.question)}</pre></strong> passed!</p>"
        return f"<pre style='color: #b00;'>{escape(repr(self))}</pre>"


def _run_case(name: str, code: str, env: dict) -> str | None:
    """Run one doctest case in `env`; None if it passed, else doctest's report of the failing example."""
    examples = [e for e in doctest.DocTestParser().parse(dedent(code), name) if isinstance(e, doctest.Example)]
    test = doctest.DocTest(examples, env, name, None, None, code)
    out = io.StringIO()
    runner = doctest.DocTestRunner(verbose=False, optionflags=doctest.REPORT_ONLY_FIRST_FAILURE)
    with redirect_stdout(out), redirect_stderr(out):
        results = runner.run(test, clear_globs=False, out=out.write)
    return out.getvalue() if results.failed else None


def load_public_tests(path: Path) -> tuple[str, list[str]]:
    """A test file's question name and its public (not hidden) doctest cases, read without importing it."""
    spec = None
    for node in ast.parse(path.read_text(encoding="utf-8"), str(path)).body:  # `test = {...}`, a literal
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["test"]:
            spec = ast.literal_eval(node.value)
    if not isinstance(spec, dict) or "suites" not in spec:
        raise ValueError(f"{path} is not an OK-format test file (it must define `test = {{'name': ..., "
                         "'suites': [...]}}`); rebuild the exercises with `python tools/build.py`")
    cases = [case["code"] for suite in spec["suites"] for case in suite["cases"] if not case.get("hidden", False)]
    return spec["name"], cases


class StudentGrader:
    """`grader.check("q")` and `grader.check_all()`: the exercise's public tests, in the notebook's globals."""

    def __init__(self, assignment: str) -> None:
        self.assignment, self.folder = assignment, tests_dir(assignment)

    def questions(self) -> list[str]:
        """The exercise's questions, in file-name order."""
        return sorted(p.stem for p in self.folder.glob("*.py") if not p.name.startswith("__"))

    def check(self, question: str, global_env: dict | None = None) -> CheckResult:
        """Run question's public tests in `global_env` (default: the caller's globals, the notebook's)."""
        path = self.folder / f"{question}.py"
        if not path.is_file():
            raise ValueError(f"{self.assignment} has no question {question!r}; its questions: "
                             f"{', '.join(self.questions())}")
        env = sys._getframe(1).f_globals if global_env is None else global_env
        name, cases = load_public_tests(path)
        failures = [report for i, code in enumerate(cases) if (report := _run_case(f"{name} {i}", code, env))]
        return CheckResult(name, failures)

    def check_all(self, global_env: dict | None = None) -> list[CheckResult]:
        """Check every question (in the caller's globals unless given); one result per question."""
        env = sys._getframe(1).f_globals if global_env is None else global_env
        return [self.check(question, env) for question in self.questions()]


def notebook_grader(assignment: str):
    """The exercise's grader: `grader.check("question")` runs the packaged public tests (no otter needed)."""
    otter = sys.modules.get("otter")  # otter's grading run imports it and switches grading mode on first
    if otter is not None and getattr(getattr(otter, "Notebook", None), "_grading_mode", False):
        nb_path = f"{assignment}.ipynb"
        return otter.Notebook(nb_path if Path(nb_path).is_file() else None, tests_dir=str(tests_dir(assignment)))
    return StudentGrader(assignment)


def check_close(got, expected, what: str = "your answer", rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Raise an AssertionError that says *what* is wrong: type, shape, NaN, or largest difference."""
    if got is None or got is Ellipsis:
        raise AssertionError(f"{what} is {got!r}: the exercise is not done yet (replace the `...`).")
    import torch  # already imported by any notebook that calls this

    expected_t = torch.as_tensor(expected, dtype=torch.float64)
    try:
        got_t = torch.as_tensor(got.detach() if torch.is_tensor(got) else got, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as err:
        raise AssertionError(f"{what} should be a number or tensor, got {type(got).__name__}") from err
    if got_t.shape != expected_t.shape:
        raise AssertionError(f"{what} has shape {tuple(got_t.shape)}, expected {tuple(expected_t.shape)}")
    if torch.isnan(got_t).any():
        raise AssertionError(f"{what} contains NaN")
    if not torch.allclose(got_t, expected_t, rtol=rtol, atol=atol):
        diff = (got_t - expected_t).abs()
        worst = int(diff.argmax())
        raise AssertionError(
            f"{what} is not close: max abs difference {diff.max().item():.3g} at flat index {worst} "
            f"(got {got_t.flatten()[worst].item():.6g}, expected {expected_t.flatten()[worst].item():.6g})"
        )
