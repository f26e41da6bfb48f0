"""Glue between the course and otter-grader: packaged public tests, helpful checks, timed grading.

Exercise sources live in notebooks/exercises/ (solutions and hidden tests); `python -m
course_utils.build` turns them into student notebooks and autograders.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import psutil
import torch


def tests_dir(assignment: str) -> Path:
    """Folder of an exercise's public tests, shipped inside course_utils (so Colab needs no upload)."""
    folder = Path(str(files("course_utils") / "exercise_tests" / assignment))
    if not folder.is_dir():
        known = sorted(p.name for p in Path(str(files("course_utils") / "exercise_tests")).iterdir()
                       if p.is_dir())
        raise ValueError(f"no exercise named {assignment!r}; known exercises: {', '.join(known)}")
    return folder


def notebook_grader(assignment: str):
    """An `otter.Notebook` whose `grader.check("question")` runs the packaged public tests."""
    import otter

    nb_path = f"{assignment}.ipynb"
    return otter.Notebook(nb_path if Path(nb_path).is_file() else None, tests_dir=str(tests_dir(assignment)))


def check_close(got, expected, what: str = "your answer", rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Raise an AssertionError that says *what* is wrong: type, shape, NaN, or largest difference."""
    if got is None or got is Ellipsis:
        raise AssertionError(f"{what} is {got!r}: the exercise is not done yet (replace the `...`).")
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


@dataclass
class GradeReport:
    """What the autograder gave a submission: points per question, and why it failed if it did."""

    scores: dict[str, float] = field(default_factory=dict)
    possible: dict[str, float] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def total(self) -> float:
        return sum(self.scores.values())

    @property
    def total_possible(self) -> float:
        return sum(self.possible.values())


def grade(submission: str | Path, autograder: str | Path, timeout: float = 300) -> GradeReport:
    """Grade one notebook with `otter run` (no Docker); a crash or a time-out scores 0, never hangs."""
    submission, autograder = Path(submission), Path(autograder)
    for path, what in ((submission, "submission"), (autograder, "autograder zip")):
        if not path.is_file():
            raise ValueError(f"{what} {path} does not exist")
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "otter", "run", "-a", str(autograder.resolve()), "-o", out,
               "--no-logo", str(submission.resolve())]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=out)
        try:
            log, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(proc)
            return GradeReport(error=f"grading timed out after {timeout:g} s (an infinite loop?)")
        results = Path(out) / "results.json"
        if not results.is_file():
            return GradeReport(error=f"otter run exited {proc.returncode} without results:\n{log[-2000:]}")
        data = json.loads(results.read_text())
    report = GradeReport()
    for test in data.get("tests", []):
        name = test["name"].split(" - ")[0]
        if name == "Public Tests":  # otter's summary of the public tests, not a question
            continue
        score = float(test.get("score") or 0.0)
        report.scores[name] = report.scores.get(name, 0.0) + (0.0 if math.isnan(score) else score)
        report.possible[name] = report.possible.get(name, 0.0) + float(test.get("max_score") or 0.0)
        if report.scores[name] < report.possible[name]:
            report.messages[name] = test.get("output", "")
    return report


def _kill_tree(proc: subprocess.Popen) -> None:
    """Kill otter and everything it started: the notebook kernel runs in a session of its own."""
    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    proc.kill()
    for child in family:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    proc.communicate()
