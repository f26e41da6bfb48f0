"""The grading's private hooks into otter, nbconvert and torch, the sealed checks' defences, and its imports.

Each hook checks when it is installed that it still takes effect; these tests fail when an upgrade of
otter-grader, nbconvert or torch moves what a hook relies on, and show that each hook refuses loudly
(HookError, or the sealed checks' AssertionError) when what it hooks is gone. The sealed checks are
tried here in this process; tests/test_grading.py grades the same tricks in real submissions.
"""

import math
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from course_utils.grading import sealed, supervise
from course_utils.grading.sealed import Sealed

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.unit
def test_every_hook_takes_effect_with_the_installed_otter_nbconvert_and_torch():
    supervise.check_hooks()  # raises HookError, naming the hook, when an upgrade moved it


@pytest.mark.unit
def test_the_otter_hook_refuses_when_otter_no_longer_calls_grade_notebook(monkeypatch):
    from otter.run.run_autograder.runners import python_runner

    def run(self):  # an otter that grades through another name: a wrapper would never be called
        return python_runner.execute_notebook(self)

    monkeypatch.setattr(python_runner.PythonRunner, "run", run)
    with pytest.raises(supervise.HookError, match="would not take effect"):
        supervise.hook_grade_notebook()
    monkeypatch.delattr(python_runner, "grade_notebook")
    with pytest.raises(supervise.HookError, match="python_runner.grade_notebook, but it is gone"):
        supervise.check_hooks()


@pytest.mark.unit
def test_the_nbconvert_hook_refuses_when_cells_run_another_way(monkeypatch):
    from nbconvert.preprocessors import ExecutePreprocessor

    monkeypatch.setattr(ExecutePreprocessor, "preprocess", lambda self, nb, resources=None, km=None: (nb, resources))
    with pytest.raises(supervise.HookError, match="preprocess no longer calls it"):
        supervise.hook_preprocess_cell()


@pytest.mark.unit
def test_installed_hooks_wrap_what_otter_and_nbconvert_call(monkeypatch):
    from nbconvert.preprocessors import ExecutePreprocessor
    from otter.run.run_autograder.runners import python_runner

    monkeypatch.setattr(python_runner, "grade_notebook", python_runner.grade_notebook)  # restored afterwards
    monkeypatch.setattr(ExecutePreprocessor, "preprocess_cell", ExecutePreprocessor.preprocess_cell)
    status: dict = {}
    supervise._record_cells(status)
    cell = {"metadata": {supervise.CELL_KEY: 7}}
    monkeypatch.setattr(ExecutePreprocessor, "execute_cell", lambda self, cell, index, store_history=True: cell,
                        raising=False)
    ExecutePreprocessor.preprocess_cell(ExecutePreprocessor(), cell, {}, 0)
    assert status["cell"] == 7
    ExecutePreprocessor.preprocess_cell(ExecutePreprocessor(), {"metadata": {}}, {}, 1)  # a cell otter added
    assert status["cell"] is None


@pytest.mark.unit
def test_the_torch_hook_refuses_loudly_when_torch_moves_its_c_type(monkeypatch):
    assert sealed.tensor_reader(torch) == (torch._C.TensorBase, torch._C.DisableTorchFunctionSubclass)
    monkeypatch.delattr(torch._C, "TensorBase")
    with pytest.raises(AssertionError, match="no longer provides"):
        sealed.tensor_reader(torch)
    with pytest.raises(supervise.HookError, match="torch._C.TensorBase"):
        supervise.check_hooks()


class Liar(torch.Tensor):
    """A tensor whose Python methods and __torch_function__ all say 'zeros'."""

    def tolist(self):
        return [0.0] * self.numel()

    def detach(self):
        return torch.zeros(self.shape)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return torch.zeros(3)


@pytest.mark.unit
def test_the_sealed_checks_read_tensors_through_torchs_c_type():
    checks = Sealed()
    try:
        liar = torch.tensor([1.0, 2.0, 3.0]).as_subclass(Liar)
        assert checks.values(liar, "x") == [1.0, 2.0, 3.0]
        with pytest.raises(AssertionError, match="not close"):
            checks.close(liar, [0.0, 0.0, 0.0], "x")
    finally:
        checks.done()


@pytest.mark.unit
@pytest.mark.parametrize("got, expected", [([1.0, float("nan")], [1.0, 2.0]), ([1.0, 2.0], [1.0, float("nan")])])
def test_nan_never_passes_a_sealed_comparison(got, expected):
    checks = Sealed()
    try:
        with pytest.raises(AssertionError, match="contains NaN|not close"):
            checks.close(got, expected, "x")
    finally:
        checks.done()


def _refused(match: str) -> None:
    with pytest.raises(AssertionError, match=match):
        checks = Sealed()
        checks.done()


@pytest.mark.unit
def test_the_sealed_checks_refuse_a_rebound_math_builtin_or_tensor_method(monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(math, "isnan", lambda v: False)
        _refused(r"replaced math\.isnan;")
    with monkeypatch.context() as patch:
        patch.setattr(math, "log", math.log10)  # a C function for another
        _refused(r"replaced math\.log;")
    with monkeypatch.context() as patch:
        patch.setattr(math, "pi", 3.0)
        _refused(r"replaced math\.pi;")
    import builtins

    with monkeypatch.context() as patch:
        patch.setattr(builtins, "abs", lambda v: 0.0)
        _refused(r"replaced builtins\.abs;")
    with monkeypatch.context() as patch:
        patch.setattr(builtins, "abs", math.fabs)
        _refused(r"replaced builtins\.abs;")
    with monkeypatch.context() as patch:
        patch.setattr(torch.Tensor, "__sub__", lambda a, b: torch.zeros_like(a))
        _refused(r"replaced torch\.Tensor\.__sub__")


@pytest.mark.unit
def test_the_sealed_checks_refuse_a_global_that_hides_a_builtin():
    def zip(*args):  # noqa: A001 -- the point: a notebook global named like a builtin
        return []

    with pytest.raises(AssertionError, match=r"replaced builtins\.zip \(by a global of the notebook\)"):
        eval("Sealed()", {"Sealed": Sealed, "zip": zip})  # the hidden test's globals are the notebook's
    Sealed().done()  # a global that is not a function or class of the submission is no tampering
    eval("Sealed().done()", {"Sealed": Sealed, "sum": 0.5, "max": torch.max})


@pytest.mark.unit
def test_the_sealed_checks_see_what_changes_after_they_started(monkeypatch):
    checks = Sealed()
    try:
        monkeypatch.setattr(math, "isnan", lambda v: False)  # as a thread of the submission would
        with pytest.raises(AssertionError, match=r"replaced math\.isnan"):
            checks.close([1.0], [1.0], "x")
    finally:
        monkeypatch.undo()
        checks.done()


@pytest.mark.unit
def test_the_sealed_checks_refuse_to_run_beside_a_thread_of_the_submission():
    stop = threading.Event()
    source = "def waits(stop):\n    while not stop.is_set():\n        stop.wait(0.01)\n"
    namespace: dict = {}
    exec(compile(source, "/tmp/ipykernel_1/submission.py", "exec"), namespace)  # code from outside the libraries
    thread = threading.Thread(target=namespace["waits"], args=(stop,), daemon=True)
    thread.start()
    try:
        time.sleep(0.05)
        _refused(r"left a thread running waits \(submission\.py\)")
    finally:
        stop.set()
        thread.join()
    Sealed().done()


@pytest.mark.unit
def test_python_m_course_utils_grading_imports_each_module_once():
    # `python -m course_utils.grading` once ran a module twice (grading.py ran classroom.main: a circular import)
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "course_utils.grading", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and "usage: course-grade" in done.stdout, done.stderr[-2000:]
    imported = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", done.stderr, flags=re.M)
    ours = [name for name in imported if name.startswith("course_utils")]
    assert "course_utils.grading.classroom" in ours
    assert len(ours) == len(set(ours)), sorted(n for n in ours if ours.count(n) > 1)
    assert "course_utils.grading.__main__" not in ours  # run once, as __main__, never imported again
    lone = subprocess.run([sys.executable, "-X", "importtime", "-c", "import course_utils.grading.submission"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    assert "course_utils.grading.classroom" not in lone.stderr  # submission.py does not import classroom.py


@pytest.mark.unit
def test_an_import_during_a_hidden_test_is_no_call_into_course_utils():
    # The import system asks every finder, course_utils.MOVED's too; that is not the submission calling the package.
    import importlib

    checks = Sealed()
    try:
        with pytest.raises(ImportError):  # an optional dependency that is missing: every finder is asked
            importlib.import_module("course_grading_no_such_module")
        checks.close([1.0], [1.0], "x")
    finally:
        checks.done()
