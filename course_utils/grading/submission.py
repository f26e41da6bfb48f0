"""Grading one submission with otter-grader, honestly: every question reported, every loss explained.

The instructor side of `course_utils.grading`. Exercise sources live in notebooks/exercises/
(solutions and hidden tests); `tools/build.py` turns them into student notebooks and autograders.
`grade` grades one notebook under a supervisor process (`grading.supervise`); the class command,
`course-grade SUBMISSIONS/ --autograder ZIP --out grades.csv`, lives in `grading.classroom`.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from .autograder import autograder_info
from .supervise import CELL_KEY, TOKEN_VARIABLE, check_hooks, kill_descendants, kill_tokened

# A cell that kills the kernel or runs out of time is replaced by `pass` and the notebook graded again, so that
# later questions keep their credit; at most this many times (a grading takes at most 1 + MAX_SKIPPED timeouts).
MAX_SKIPPED = 2


@dataclass
class GradeReport:
    """What the autograder gave a submission: points per question, and a one-line reason for each loss."""

    scores: dict[str, float] = field(default_factory=dict)
    possible: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)  # question -> why it lost points (one line)
    messages: dict[str, str] = field(default_factory=dict)  # question -> otter's full test output
    error: str | None = None  # one line: why the submission as a whole could not be (fully) graded

    @property
    def total(self) -> float:
        return sum(self.scores.values())

    @property
    def total_possible(self) -> float:
        return sum(self.possible.values())


def _read_notebook(path: Path) -> tuple[dict | None, str | None]:
    """The submission as JSON, or a one-line reason why it is not a notebook."""
    import nbformat

    try:
        nb = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        if not path.stat().st_size:
            return None, f"not a notebook: {path.name} is empty"
        return None, f"not a notebook: {path.name} is not valid notebook JSON ({type(err).__name__})"
    try:
        nbformat.validate(nbformat.from_dict(nb))
        if nb.get("nbformat") != 4:
            raise nbformat.ValidationError(f"nbformat {nb.get('nbformat')}, expected 4")
    except (nbformat.ValidationError, AttributeError, TypeError) as err:
        return None, f"not a notebook: {path.name} is JSON but not a Jupyter notebook ({str(err).splitlines()[0][:80]})"
    return nb, None


def _first_line(source) -> str:
    text = "".join(source) if isinstance(source, list) else str(source)
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= 50 else line[:47] + "..."


def _reason(output: str) -> str:
    """One line from otter's test output: the first exception message, in the course's words."""
    found = [(kind.rsplit(".", 1)[-1], message.strip()) for kind, message in re.findall(
        r"^\s*([\w.]+(?:Error|Exception|Unavailable|Exit|Interrupt))(?:: (.*))?$", output, flags=re.M)]
    explicit = [message for _, message in found if message.startswith("not attempted")]
    if explicit:  # the sealed checks saw None or `...` where an answer should be
        return explicit[0]
    if found:
        kind, message = found[0]
        if (kind == "NameError" and "is not defined" in message) or re.search(r"returned None|not done yet", message):
            return f"not attempted: {message}"
        if "NoneType" in message:
            return f"not attempted: {message} (the function returned None)"
        return f"{kind}: {message}" if message else kind
    return "a check failed" if "Test case failed" in output else "no result"


def _run(submission: dict, autograder: Path, timeout: float, work: Path) -> tuple[dict, dict | None]:
    """One supervised `otter run` of a notebook; (status, results.json or None)."""
    for i, cell in enumerate(submission["cells"], start=1):
        cell.setdefault("metadata", {})[CELL_KEY] = i
    # the course's Python kernel, whatever kernel the notebook names
    submission.setdefault("metadata", {})["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                                          "language": "python"}
    nb_path = work / "submission.ipynb"
    nb_path.write_text(json.dumps(submission), encoding="utf-8")
    out = work / "out"
    out.mkdir()
    token = uuid.uuid4().hex
    env = {**os.environ, TOKEN_VARIABLE: token, "TMPDIR": str(work), "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "course_utils.grading.supervise", str(autograder.resolve()), str(nb_path), str(out),
           str(timeout)]
    with open(work / "log.txt", "wb") as log_file:  # a file, not a pipe: escaped processes may hold it open
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, cwd=work, env=env,
                                start_new_session=True)
        try:
            proc.wait(timeout=timeout + 60)  # the supervisor enforces `timeout` itself
        except subprocess.TimeoutExpired:
            kill_descendants(psutil.Process(proc.pid))
            proc.kill()
            proc.wait()
    kill_tokened(token)  # anything that escaped the supervisor (or outlived it)
    status_file, results_file = out / "status.json", out / "results.json"
    if status_file.is_file():
        status = json.loads(status_file.read_text(encoding="utf-8"))
    else:
        status = {"outcome": "error", "cell": None,
                  "message": f"the grading process ended with code {proc.returncode} (did the submission kill it?)"}
    status["log"] = (work / "log.txt").read_text(encoding="utf-8", errors="replace")[-4000:]
    graded = results_file.is_file() and status["outcome"] == "graded"
    results = json.loads(results_file.read_text(encoding="utf-8")) if graded else None
    return status, results


def _scores(results: dict, possible: dict[str, float]) -> tuple[dict, dict]:
    scores, messages = {q: 0.0 for q in possible}, {q: "" for q in possible}
    for test in results.get("tests", []):
        name = test.get("name", "").split(" - ")[0]
        if name not in possible:  # otter's "Public Tests" summary, or an autograder error entry
            continue
        score = float(test.get("score") or 0.0)
        scores[name] += 0.0 if math.isnan(score) else score
        messages[name] += test.get("output", "") or ""
    return scores, messages


def _skipping(nb: dict, k: int) -> dict:
    """A copy of `nb` whose cell `k` (1-based) does nothing: later questions still run."""
    nb = json.loads(json.dumps(nb))
    nb["cells"][k - 1].update(source="pass  # skipped by the grader", outputs=[], execution_count=None)
    return nb


def _question_of(nb: dict, k: int, possible: dict[str, float]) -> str | None:
    """The question that cell `k` works towards: the first `grader.check("q")` at or after it."""
    for cell in nb["cells"][k - 1:]:
        found = re.search(r"""grader\.check\(\s*["'](\w+)["']""", "".join(cell.get("source", "")))
        if found and found.group(1) in possible:
            return found.group(1)
    return None


@functools.cache
def _hooks_checked() -> bool:
    check_hooks()  # raises HookError, once for the whole class, if otter, nbconvert or torch moved
    return True


def grade(submission: str | Path, autograder: str | Path, timeout: float = 300) -> GradeReport:
    """Grade one notebook with `otter run` (no Docker): every question reported, every loss explained.

    A cell that kills the kernel or runs past `timeout` is replaced by `pass` and the notebook graded again
    (at most MAX_SKIPPED times): the question it belongs to says why it lost points, the others keep theirs.
    """
    submission, autograder = Path(submission), Path(autograder)
    if not autograder.is_file():
        raise ValueError(f"autograder zip {autograder} does not exist; build it in the course checkout with "
                         "`course-build` (or `python tools/build.py`)")
    if not submission.is_file():
        raise ValueError(f"submission {submission} does not exist (or is a folder)")
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    _hooks_checked()
    assignment, possible = autograder_info(autograder)
    report = GradeReport(scores={q: 0.0 for q in possible}, possible=dict(possible))

    def fail(reason: str) -> GradeReport:
        report.error = reason
        report.reasons = {q: reason for q in possible}
        return report

    nb, problem = _read_notebook(submission)
    if problem:
        return fail(problem)
    got = nb.get("metadata", {}).get("otter", {}).get("assignment_name")
    if assignment and got != assignment:
        if got:
            return fail(f"wrong assignment: this notebook is {got!r}, the autograder grades {assignment!r}")
        return fail("wrong assignment: the notebook carries no assignment name; start from the student notebook "
                    f"of {assignment}")
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        skipped: list[tuple[int, str]] = []  # (cell, what happened in it), at most MAX_SKIPPED
        while True:
            work = Path(tmp) / f"run{len(skipped)}"
            work.mkdir()
            status, results = _run(nb, autograder, timeout, work)
            k, outcome = status.get("cell"), status["outcome"]
            if outcome not in ("kernel_died", "timed_out") or not k or len(skipped) == MAX_SKIPPED:
                break
            what = "the kernel died" if outcome == "kernel_died" else f"timed out after {timeout:g} s"
            skipped.append((k, f"{what} in cell {k} ({_first_line(nb['cells'][k - 1].get('source', ''))})"))
            nb = _skipping(nb, k)
            shutil.rmtree(work, ignore_errors=True)
    note = "; ".join(what for _, what in skipped)
    if skipped:
        note = f"{note}; graded with {'that cell' if len(skipped) == 1 else 'those cells'} skipped"
    if outcome == "timed_out":
        where = f"in cell {k} ({_first_line(nb['cells'][k - 1].get('source', ''))})" if k else "while the tests ran"
        return fail("; ".join(filter(None, [note, f"timed out after {timeout:g} s {where}: an infinite loop, or "
                                               "far too slow"])))
    if outcome == "kernel_died":
        where = f"in cell {k}" if k else "outside the submission's cells (while the tests ran)"
        return fail("; ".join(filter(None, [note, f"the kernel died {where}"])))
    if outcome == "tampered":
        return fail(status["message"])
    if results is None:
        return fail("; ".join(filter(None, [note, f"grading failed: {status['message'] or 'no results'}"])))
    report.scores, report.messages = _scores(results, possible)
    report.error = note or None
    owners = {cell: _question_of(nb, cell, possible) for cell, _ in skipped}
    for q in possible:
        if report.scores[q] < possible[q]:
            reason = _reason(report.messages[q])
            fatal = [what for cell, what in skipped if owners[cell] == q]
            if fatal:  # the question whose cell was skipped says why it lost points
                reason = f"{'; '.join(fatal)}, so that cell was skipped — {reason}"
            report.reasons[q] = reason
    return report

