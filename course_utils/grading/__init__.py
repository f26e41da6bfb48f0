"""Grading the exercises: a light face for students, the instructor's side behind it.

Students' notebooks import `notebook_grader` and `check_close` from here; that imports nothing heavy.
Instructors use `grade` (one submission, `grading.grade`), the class command `course-grade`
(`python -m course_utils.grading`, in `grading.classroom`), autograder zips (`grading.autograder`),
the sealed hidden-test checks (`grading.sealed`) and the process supervisor (`grading.supervise`);
those load only when first used.
"""

from __future__ import annotations

import sys
import types

from .student import check_close, notebook_grader, tests_dir

_INSTRUCTOR = {"GradeReport": "grade", "grade_folder": "classroom"}  # `grade`: the property below


def __getattr__(name: str):
    """`GradeReport` and `grade_folder` on first use (they import otter's machinery and psutil)."""
    if name in _INSTRUCTOR:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_INSTRUCTOR[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Grading(types.ModuleType):
    """This package: `grading.grade` stays the function after its module, grading/grade.py, is imported."""

    @property
    def grade(self):
        from .grade import grade

        return grade

    @grade.setter
    def grade(self, module) -> None:  # the import system records the submodule here; sys.modules keeps it
        pass


sys.modules[__name__].__class__ = _Grading

__all__ = ["GradeReport", "check_close", "grade", "grade_folder", "notebook_grader", "tests_dir"]
