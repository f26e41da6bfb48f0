"""Grading the exercises: a light face for students, the instructor's side behind it.

Students' notebooks import `notebook_grader` and `check_close` from here; that imports nothing heavy.
Instructors use `grade` (one submission, `grading.submission`), the class command `course-grade`
(`python -m course_utils.grading`, in `grading.classroom`), autograder zips (`grading.autograder`),
the sealed hidden-test checks (`grading.sealed`) and the process supervisor (`grading.supervise`);
those load only when first used.
"""

from __future__ import annotations

from .student import check_close, notebook_grader, tests_dir

_INSTRUCTOR = {"grade": "submission", "GradeReport": "submission", "grade_folder": "classroom"}


def __getattr__(name: str):
    """`grade`, `GradeReport` and `grade_folder` on first use (they import otter's machinery and psutil)."""
    if name in _INSTRUCTOR:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_INSTRUCTOR[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["GradeReport", "check_close", "grade", "grade_folder", "notebook_grader", "tests_dir"]
