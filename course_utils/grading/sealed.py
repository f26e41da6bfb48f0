"""Sealed checks for hidden tests: private copies of what a check needs, and the reference switched off.

A hidden test starts with the line

    from course_utils.grading.sealed import Sealed; H = Sealed()

Run as an ordinary notebook, that imports this file. In a built autograder, `tools/build.py`
replaces the line with this file's source, embedded in the test and executed afresh into a private
namespace, so student code that rebinds `course_utils.grading.sealed` (or anything else in
`sys.modules`) cannot reach it. `Sealed()` then

* refuses to grade if the submission replaced a Python function of torch, torch.distributions,
  math or course_utils (compared with where each one is defined);
* compares values in plain Python, reading tensors through torch's C type (its methods cannot be
  rebound) with `__torch_function__` overrides switched off;
* hands out private copies of course references (`H.reference("course_utils.info")`), compiled
  afresh from their files;
* switches every course_utils function off for the student's code until the test ends: entering
  the package from outside it raises, with a message that says so (doctest restores the previous
  trace function when a test case ends).

This file imports nothing from course_utils: it must work as an embedded copy.
"""

from __future__ import annotations

import builtins
import math
import os
import sys
import sysconfig
import types
from importlib.machinery import PathFinder

MARK = "<sealed course check>"  # filename of code compiled by these checks (never switched off)
_BUILTIN = type(len)
_FUNCTION = types.FunctionType


SELF = ("course_utils.grading.sealed", "course_utils.sealed")  # this module, by its name and its old one
MOVED = {"latent": "linear_gaussian", "beyond": "conditional"}  # old names of reference modules (course_utils.MOVED)


class ReferenceUnavailable(RuntimeError):
    """Raised when the student's code calls into course_utils while a hidden test runs."""


def _package_dir() -> str:
    # Asked of the import system's finders (files on disk), never of sys.modules.
    spec = None
    for finder in [*sys.meta_path, PathFinder]:
        find = getattr(finder, "find_spec", None)
        spec = find("course_utils", None) if find is not None else None
        if spec is not None:
            break
    if spec is None or not spec.submodule_search_locations:
        raise AssertionError("the grader cannot find the course_utils package on sys.path")
    return os.path.realpath(list(spec.submodule_search_locations)[0]) + os.sep


def _defined_in(func, folders: tuple[str, ...]) -> bool:
    code = getattr(func, "__code__", None)
    if code is None:
        return True
    name = code.co_filename
    # Code Python generates from strings: dataclasses' __init__, __eq__, ... and NamedTuple's __new__ (whose
    # code object is named "<lambda>", the function "__new__").
    if name == "<string>" and (code.co_name.startswith("__") or getattr(func, "__name__", "").startswith("__")):
        return True
    return name.startswith(MARK) or os.path.realpath(name).startswith(folders)


def _replaced(namespace, label: str, folders: tuple[str, ...], depth: int = 0) -> list[str]:
    """Names in `namespace` (a module or class) whose function is defined outside `folders`."""
    found = []
    for name, value in list(vars(namespace).items()):
        func = value
        if isinstance(value, (staticmethod, classmethod)):
            func = value.__func__
        elif isinstance(value, property):
            func = value.fget
        if isinstance(func, _FUNCTION) and not _defined_in(func, folders):
            found.append(f"{label}.{name}")
        elif (isinstance(value, type) and depth == 0 and value.__module__ == getattr(namespace, "__name__", "")):
            found += _replaced(value, f"{label}.{name}", folders, depth + 1)
    return found


def _tampering(package: str) -> list[str]:
    """Every function of torch, builtins or course_utils defined outside the installed libraries."""
    torch = sys.modules.get("torch")
    libraries = tuple(os.path.realpath(sysconfig.get_path(key)) + os.sep for key in ("stdlib", "purelib", "platlib"))
    found = []
    for name in ("abs", "all", "any", "float", "isinstance", "len", "max", "min", "range", "sum", "zip"):
        if type(getattr(builtins, name)) not in (_BUILTIN, type):
            found.append(f"builtins.{name}")
    if torch is not None:
        torch_dir = (os.path.realpath(os.path.dirname(torch.__file__)) + os.sep,) + libraries
        if torch._C.TensorBase not in getattr(torch.Tensor, "__mro__", ()):
            found.append("torch.Tensor")
        for modname, module in list(sys.modules.items()):
            watched = modname == "torch" or modname.startswith(("torch.distributions", "torch.nn.functional"))
            if module is not None and watched:
                found += _replaced(module, modname, torch_dir)
        found += _replaced(torch.Tensor, "torch.Tensor", torch_dir, depth=1)
        found += _replaced(torch.nn.Module, "torch.nn.Module", torch_dir, depth=1)
    for modname, module in list(sys.modules.items()):
        if module is not None and modname.startswith("course_utils") and modname not in SELF:
            found += _replaced(module, modname, (package,) + libraries)
    return found


class Sealed:
    """One hidden test's private checks; creating it switches course_utils off for student code."""

    def __init__(self) -> None:
        import torch  # the C type and the switch below are read once, after the tamper scan

        self._package = _package_dir()
        tampered = _tampering(self._package)
        if tampered:
            shown = ", ".join(tampered[:5]) + (f" and {len(tampered) - 5} more" if len(tampered) > 5 else "")
            raise AssertionError(f"the submission replaced {shown}; hidden tests do not run on a modified library")
        self._TensorBase = torch._C.TensorBase
        self._no_overrides = torch._C.DisableTorchFunctionSubclass
        self._torch = torch
        self._copies: dict[str, types.ModuleType] = {}
        self._self_file = Sealed.__init__.__code__.co_filename  # this file, when imported as a module
        self._previous = sys.gettrace()
        self._tripped = ""
        sys.settrace(self._tracer)

    def done(self) -> None:
        """Switch course_utils back on (the last line of every hidden test)."""
        try:
            self._still_sealed()
        finally:
            sys.settrace(self._previous)

    # ---- the switch -------------------------------------------------------------------------
    def _tracer(self, frame, event, arg):
        if event == "call":
            filename = frame.f_code.co_filename
            if (filename.startswith(self._package) and filename != self._self_file
                    and frame.f_code.co_name != "<module>"):  # importing a module is not delegating
                caller = frame.f_back
                outside = caller is None or not (caller.f_code.co_filename.startswith(self._package)
                                                 or caller.f_code.co_filename.startswith(MARK))
                if outside:
                    module = filename[len(self._package):].replace(os.sep, ".").removesuffix(".py")
                    self._tripped = (
                        f"your code called course_utils.{module}.{frame.f_code.co_name}, which is switched off "
                        "while hidden tests run: write the computation yourself")
                    raise ReferenceUnavailable(self._tripped)  # this also switches the tracer off
        return None

    def _still_sealed(self) -> None:
        if self._tripped:  # once tripped, every later check of this test fails (tracing went off)
            sys.settrace(self._tracer)
            raise AssertionError(self._tripped)
        if sys.gettrace() != self._tracer:
            raise AssertionError("the submission switched off the grader's checks (sys.settrace)")

    # ---- private references -----------------------------------------------------------------
    def reference(self, module: str) -> types.ModuleType:
        """A private copy of a course module (e.g. 'course_utils.info'), compiled afresh from its file."""
        if module not in self._copies:
            parts = module.split(".")
            if parts[0] != "course_utils" or len(parts) < 2:
                raise ValueError(f"reference wants a course_utils module, got {module!r}")
            if len(parts) == 2 and parts[1] in MOVED:
                parts = ["course_utils", *MOVED[parts[1]].split(".")]
            path = os.path.join(self._package, *parts[1:]) + ".py"
            with open(path, encoding="utf-8") as f:
                source = f.read()
            copy = types.ModuleType(f"{module}__sealed")
            copy.__package__, copy.__file__ = ".".join(parts[:-1]), path
            sys.modules[copy.__name__] = copy  # dataclasses look their module up while building a class
            try:
                exec(compile(source, f"{MARK} {module}", "exec"), vars(copy))
            finally:
                del sys.modules[copy.__name__]
            self._copies[module] = copy
        return self._copies[module]

    # ---- comparisons in plain Python --------------------------------------------------------
    def values(self, x, what: str):
        """`x` as nested Python floats, read from torch's C type (not from student-replaceable methods)."""
        if x is None or x is Ellipsis:
            raise AssertionError(f"not attempted: {what} is {x!r} (replace the `...` with your code)")
        if isinstance(x, self._TensorBase):
            with self._no_overrides():
                t = self._TensorBase.detach(x)
                if t.is_complex():
                    raise AssertionError(f"{what} is complex; expected real numbers")
                return self._TensorBase.tolist(self._TensorBase.double(self._TensorBase.cpu(t)))
        if isinstance(x, bool) or not isinstance(x, (int, float, list, tuple)):
            raise AssertionError(f"{what} should be a number or tensor, got {type(x).__name__}")
        if isinstance(x, (list, tuple)):
            return [self.values(item, what) for item in x]
        return float(x)

    @staticmethod
    def _flat(v, shape=()):
        if isinstance(v, list):
            out, inner = [], None
            for item in v:
                flat, item_shape = Sealed._flat(item)
                if inner is not None and item_shape != inner:
                    raise AssertionError("a ragged nested list is not a tensor")
                inner = item_shape
                out += flat
            return out, (len(v),) + (inner or ())
        return [v], ()

    def close(self, got, expected, what: str = "your answer", rtol: float = 1e-5, atol: float = 1e-6) -> None:
        """Assert |got - expected| <= atol + rtol |expected| elementwise, saying what is wrong if not."""
        self._still_sealed()
        got_flat, got_shape = self._flat(self.values(got, what))
        exp_flat, exp_shape = self._flat(self.values(expected, "the expected value"))
        if got_shape != exp_shape:
            raise AssertionError(f"{what} has shape {got_shape}, expected {exp_shape}")
        worst, worst_i = -1.0, -1
        for i, (g, e) in enumerate(zip(got_flat, exp_flat, strict=True)):
            if math.isnan(g):
                raise AssertionError(f"{what} contains NaN (flat index {i})")
            if g == e:  # equal infinities included
                continue
            diff = abs(g - e)
            if not diff <= atol + rtol * abs(e) and diff > worst:
                worst, worst_i = diff, i
        if worst_i >= 0:
            raise AssertionError(f"{what} is not close: max abs difference {worst:.3g} at flat index {worst_i} "
                                 f"(got {got_flat[worst_i]:.6g}, expected {exp_flat[worst_i]:.6g})")

    def answer(self, x, what: str):
        """`x` itself, unless it is None or `...` (the question was not attempted)."""
        if x is None or x is Ellipsis:
            raise AssertionError(f"not attempted: {what} is {x!r} (replace the `...` with your code)")
        return x

    def true(self, condition, message: str) -> None:
        """Assert a condition computed by the test (a plain bool), with a message if it fails."""
        self._still_sealed()
        if isinstance(condition, self._TensorBase):
            flat, _ = self._flat(self.values(condition, "a condition"))
            condition = len(flat) > 0 and all(v != 0.0 for v in flat)
        if condition is not True:
            raise AssertionError(message)
