"""One grading run in a process of its own, which ends every process the run started.

    python -m course_utils.grading.supervise AUTOGRADER.zip SUBMISSION.ipynb OUT_DIR TIMEOUT

`course_utils.grading.submission.grade` starts this with a token in the environment. The supervisor makes
itself a *child subreaper* (Linux), so a process that the submission starts and that leaves its
process group or session (a double fork, `setsid`) is re-parented here instead of to init; it runs
`otter run` in-process, records the cell that the kernel is executing, and at the end — finished,
timed out or failed — kills every descendant. `grade` then kills anything left carrying the token
(if the submission killed the supervisor itself). Nothing else is touched: only descendants of this
process, or processes whose environment carries this run's token.

After the notebook ran, the test files otter read are compared with the zip's (a submission that
rewrote them is caught). It writes OUT_DIR/status.json:
{"outcome": "graded" | "kernel_died" | "timed_out" | "tampered" | "error",
"cell": the 1-based cell of the submission running when the kernel died or time ran out (None: a cell
that otter added, e.g. the one that runs the tests), "message"}.

It reaches into two private parts of otter and nbconvert (`hook_grade_notebook`, `hook_preprocess_cell`);
each hook checks when it is installed that it still takes effect and raises HookError if not.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import threading
import time
from pathlib import Path

import psutil

TOKEN_VARIABLE = "COURSE_GRADING_RUN"
CELL_KEY = "course_cell"  # grade() numbers the submission's cells in their metadata
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux prctl); False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def kill_descendants(root: psutil.Process, rounds: int = 5) -> int:
    """Kill every descendant of `root` (again, while new ones appear); returns how many were killed."""
    killed = 0
    for _ in range(rounds):
        try:
            family = root.children(recursive=True)
        except psutil.NoSuchProcess:
            return killed
        if not family:
            break
        for proc in family:
            try:
                proc.kill()
                killed += 1
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(family, timeout=2)
    return killed


def kill_tokened(token: str) -> int:
    """Kill every process whose environment carries this grading run's token (never anything else)."""
    killed, me = 0, os.getpid()
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == me:
            continue
        try:
            if proc.environ().get(TOKEN_VARIABLE) == token:
                proc.kill()
                killed += 1
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return killed


class HookError(RuntimeError):
    """A private part of otter, nbconvert or torch that grading hooks into has changed: grading would be wrong."""


def _names(code) -> set[str]:
    """Global and attribute names that a code object (and the functions nested in it) uses."""
    found = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            found |= _names(const)
    return found


def _broken(hook: str, problem: str) -> HookError:
    from importlib.metadata import version

    return HookError(f"course_utils.grading hooks into {hook}, but {problem} (otter-grader {version('otter-grader')}, "
                     f"nbconvert {version('nbconvert')}): install the otter-grader that pyproject.toml names, or "
                     "update course_utils/grading/supervise.py")


def hook_grade_notebook(wrap=None) -> None:
    """otter's python_runner.grade_notebook (runs notebook and tests): check that it takes; wrap it if asked."""
    import inspect

    from otter.run.run_autograder.runners import python_runner

    hook = "otter.run.run_autograder.runners.python_runner.grade_notebook"
    original = getattr(python_runner, "grade_notebook", None)
    if not callable(original) or "tests_glob" not in inspect.signature(original).parameters:
        raise _broken(hook, "it is gone or no longer takes tests_glob")
    run = getattr(getattr(python_runner, "PythonRunner", None), "run", None)
    if run is None or "grade_notebook" not in _names(run.__code__):
        raise _broken(hook, "PythonRunner.run no longer calls it by that name, so a wrapper would not take effect")
    if wrap is not None:
        python_runner.grade_notebook = wrap(original)


def hook_preprocess_cell(wrap=None) -> None:
    """nbconvert's ExecutePreprocessor.preprocess_cell (runs one cell for otter): check that it takes; wrap it."""
    from nbconvert.preprocessors import ExecutePreprocessor
    from otter import execute

    hook = "nbconvert.preprocessors.ExecutePreprocessor.preprocess_cell"
    original = getattr(ExecutePreprocessor, "preprocess_cell", None)
    if not callable(original):
        raise _broken(hook, "it is gone")
    if "preprocess_cell" not in _names(ExecutePreprocessor.preprocess.__code__):
        raise _broken(hook, "ExecutePreprocessor.preprocess no longer calls it, so a wrapper would not take effect")
    runner = getattr(getattr(execute, "grade_notebook", None), "__code__", None)
    if runner is None or "ExecutePreprocessor" not in _names(runner):
        raise _broken(hook, "otter.execute.grade_notebook no longer runs notebooks with ExecutePreprocessor")
    if wrap is not None:
        ExecutePreprocessor.preprocess_cell = wrap(original)


def check_hooks() -> None:
    """Check, before grading, that every private hook of the grading still takes (raises HookError if not)."""
    import torch

    from .sealed import tensor_reader

    hook_grade_notebook()
    hook_preprocess_cell()
    try:
        tensor_reader(torch)
    except AssertionError as err:
        raise HookError(str(err)) from None


def _record_cells(status: dict) -> None:
    """Note, outside the kernel, which submission cell is executing (None: a cell otter added)."""

    def wrap(original):
        def preprocess_cell(self, cell, resources, index, *args, **kwargs):
            status["cell"] = cell.get("metadata", {}).get(CELL_KEY)
            return original(self, cell, resources, index, *args, **kwargs)

        return preprocess_cell

    hook_preprocess_cell(wrap)


class TamperedTests(RuntimeError):
    """The submission changed the autograder's test files while it ran."""


def _guard_tests(autograder: str) -> None:
    """After otter has run the notebook, check (outside the kernel) that its test files are the zip's."""
    import zipfile

    with zipfile.ZipFile(autograder) as zf:
        originals = {Path(n).name: zf.read(n) for n in zf.namelist() if n.startswith("tests/") and n.endswith(".py")}

    def wrap(original):
        def grade_notebook(submission_path, *, tests_glob=None, **kwargs):
            results = original(submission_path, tests_glob=tests_glob, **kwargs)
            on_disk = {Path(p).name: Path(p).read_bytes() for p in tests_glob or [] if Path(p).is_file()}
            if on_disk != originals:
                changed = sorted(set(originals) ^ set(on_disk)
                                 | {n for n in originals if on_disk.get(n) != originals[n]})
                raise TamperedTests(f"the submission modified the autograder's tests ({', '.join(changed)})")
            return results

        return grade_notebook

    hook_grade_notebook(wrap)


def main(argv: list[str]) -> int:
    autograder, submission, out, timeout = argv[0], argv[1], Path(argv[2]), float(argv[3])
    status: dict = {"outcome": "error", "cell": None, "message": ""}
    me = psutil.Process()
    become_subreaper()

    def finish(outcome: str, message: str = "") -> None:
        status.update(outcome=outcome, message=message)
        kill_descendants(me)
        (out / "status.json").write_text(json.dumps(status), encoding="utf-8")

    def time_out() -> None:
        finish("timed_out", f"timed out after {timeout:g} s")
        os._exit(3)

    timer = threading.Timer(timeout, time_out)
    timer.daemon = True
    timer.start()
    started = time.monotonic()
    try:
        from nbclient.exceptions import DeadKernelError
        from otter.run import main as otter_run

        _record_cells(status)
        _guard_tests(autograder)
        otter_run(submission, autograder=autograder, output_dir=str(out), no_logo=True)
        outcome, message = "graded", ""
    except TamperedTests as err:
        outcome, message = "tampered", str(err)
    except DeadKernelError as err:
        outcome, message = "kernel_died", str(err).splitlines()[0] if str(err) else "the kernel died"
    except BaseException as err:  # noqa: BLE001 -- every failure becomes a reason in the report
        last = str(err).strip().splitlines()[-1] if str(err).strip() else ""
        outcome, message = "error", f"{type(err).__name__}: {last}"
    timer.cancel()
    status["seconds"] = round(time.monotonic() - started, 1)
    finish(outcome, message)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
