"""Sealed checks for hidden tests: private copies of what a check needs, and the reference switched off.

A hidden test starts with the line

    from course_utils.grading.sealed import Sealed; H = Sealed()

Run as an ordinary notebook, that imports this file. In a built autograder, `tools/build.py`
replaces the line with this file's source, embedded in the test and executed afresh into a private
namespace, so student code that rebinds `course_utils.grading.sealed` (or anything else in
`sys.modules`) cannot reach it. `Sealed()` then

* refuses to grade if the submission replaced a function of torch, torch.distributions, math,
  builtins or course_utils (a Python function is compared with where it is defined, a C function
  with its own name and module), hid a builtin behind a global of the notebook, or left a thread
  running (a thread could re-patch any of them while the test runs); it looks again at every check;
* compares values in plain Python, with operators only (NaN is `v != v`), and its own functions and
  the references look names up in a copy of the builtins taken and checked when the test started;
  tensors are read through torch's C type (`tensor_reader`: its methods cannot be rebound) with
  `__torch_function__` overrides switched off;
* hands out private copies of course references (`H.reference("course_utils.info")`), compiled
  afresh from their files;
* switches every course_utils function off for the student's code until the test ends: entering
  the package from outside it raises, with a message that says so (doctest restores the previous
  trace function when a test case ends).

This file imports nothing from course_utils: it must work as an embedded copy.
"""

from __future__ import annotations

import builtins
import math  # watched, never used: a comparison reads no function the submission can rebind
import os
import sys
import sysconfig
import types
from importlib.machinery import PathFinder

MARK = "<sealed course check>"  # filename of code compiled by these checks (never switched off)
_BUILTIN = type(len)
_FUNCTION = types.FunctionType
# The builtins this module's functions look names up in: the copy that the embedded line made, or the module's.
_OWN = __builtins__ if isinstance(__builtins__, dict) else vars(__builtins__)
_MATH = {"pi": 3.141592653589793, "e": 2.718281828459045, "tau": 6.283185307179586, "inf": 1e999}
_SITE = ("_sitebuiltins", "IPython.core.autocall")  # help, exit, quit, copyright...: objects of these modules


SELF = ("course_utils.grading.sealed", "course_utils.sealed")  # this module, by its name and its old one
MOVED = {"latent": "linear_gaussian", "beyond": "conditional"}  # old names of reference modules (course_utils.MOVED)


class ReferenceUnavailable(RuntimeError):
    """Raised when the student's code calls into course_utils while a hidden test runs."""


def tensor_reader(torch) -> tuple:
    """torch's C tensor type and the switch that turns `__torch_function__` off: the private parts read here."""
    base = getattr(torch._C, "TensorBase", None)
    switch = getattr(torch._C, "DisableTorchFunctionSubclass", None)
    methods = ("detach", "tolist", "double", "cpu", "is_complex")
    if not (isinstance(base, type) and base in torch.Tensor.__mro__ and switch is not None
            and all(callable(getattr(base, m, None)) for m in methods)):
        raise AssertionError(
            f"the grader reads tensors through torch._C.TensorBase and torch._C.DisableTorchFunctionSubclass, which "
            f"torch {torch.__version__} no longer provides as course_utils/grading/sealed.py expects: hidden tests "
            "cannot be graded with this torch (update tensor_reader, or install the torch that pyproject.toml names)")
    return base, switch


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


def _libraries() -> tuple[str, ...]:
    paths = [sysconfig.get_path(key) for key in ("stdlib", "purelib", "platlib")]
    return tuple({p + os.sep for p in paths} | {os.path.realpath(p) + os.sep for p in paths})


def _defined_in(func, folders: tuple[str, ...]) -> bool:
    code = getattr(func, "__code__", None)
    if code is None:
        return True
    name = code.co_filename
    # Code Python generates from strings: dataclasses' __init__, __eq__, ... and NamedTuple's __new__ (whose
    # code object is named "<lambda>", the function "__new__").
    if name == "<string>" and (code.co_name.startswith("__") or getattr(func, "__name__", "").startswith("__")):
        return True
    return name.startswith(MARK) or name.startswith(folders) or os.path.realpath(name).startswith(folders)


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


def _not_builtin(name: str, value, libraries: tuple[str, ...]) -> bool:
    """Whether `value`, found as builtins' `name`, is something else than Python's own."""
    if value.__class__ is _BUILTIN:  # a C function: its own name, of builtins (open: of io)
        return value.__name__ != name or getattr(value.__self__, "__name__", None) not in ("builtins", "io")
    if isinstance(value, type):  # a class: one of builtins' own C types (ExceptionGroup is the one heap type)
        heap = value.__flags__ & (1 << 9)
        return value.__module__ != "builtins" or (heap and name != "ExceptionGroup")
    if isinstance(value, types.MethodType):
        value = value.__func__
    if isinstance(value, _FUNCTION):  # IPython adds display and get_ipython
        return not _defined_in(value, libraries)
    return callable(value) and value.__class__.__module__ not in _SITE


def _hides_builtin(value, libraries: tuple[str, ...]) -> bool:
    """Whether a notebook global named like a builtin is the submission's own function, class or callable."""
    if isinstance(value, types.MethodType):
        value = value.__func__
    if isinstance(value, _FUNCTION):
        return not _defined_in(value, libraries)
    return (value if isinstance(value, type) else value.__class__).__module__ == "__main__"


def _interpreter(libraries: tuple[str, ...], names: dict | None = None) -> list[str]:
    """Replaced builtins (in the module, in this module's copy, or hidden by a global) and math functions."""
    found = []
    for table in (vars(builtins), _OWN):
        for name, value in list(table.items()):
            if (not name.startswith("__") or name in ("__import__", "__build_class__")) and \
                    _not_builtin(name, value, libraries):
                found.append(f"builtins.{name}")
    for name, value in list((names or {}).items()):
        if name in _OWN and value is not _OWN[name] and _hides_builtin(value, libraries):
            found.append(f"builtins.{name} (by a global of the notebook)")
    for name, value in list(vars(math).items()):
        if name.startswith("_"):
            continue
        if name == "nan" or name in _MATH:
            wrong = value == value if name == "nan" else value != _MATH[name]  # noqa: PLR0124 -- NaN test
        else:
            wrong = value.__class__ is not _BUILTIN or value.__name__ != name or value.__self__ is not math
        if wrong:
            found.append(f"math.{name}")
    return sorted(set(found), key=found.index)


def _threads(libraries: tuple[str, ...]) -> list[str]:
    """Threads other than this one that run code from outside the installed libraries (the submission's)."""
    me, found = sys._getframe(), []
    for frame in sys._current_frames().values():
        stack, f = [], frame
        while f is not None:
            stack.append(f)
            f = f.f_back
        if me in stack:
            continue
        for f in stack:
            name = f.f_code.co_filename
            if not (name.startswith((MARK, "<frozen")) or name.startswith(libraries)
                    or os.path.realpath(name).startswith(libraries)):
                found.append(f"a thread running {f.f_code.co_name} ({os.path.basename(name)})")
                break
    return found


def _tampering(package: str, names: dict | None = None) -> list[str]:
    """Every function of torch, builtins, math or course_utils defined outside the installed libraries."""
    torch = sys.modules.get("torch")
    libraries = _libraries()
    found = _interpreter(libraries, names)
    if torch is not None:
        torch_dir = (os.path.realpath(os.path.dirname(torch.__file__)) + os.sep,) + libraries
        if tensor_reader(torch)[0] not in getattr(torch.Tensor, "__mro__", ()) or torch.Tensor.__module__ != "torch":
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
    found += _threads(libraries)
    return sorted(set(found), key=found.index)


class Sealed:
    """One hidden test's private checks; creating it switches course_utils off for student code."""

    def __init__(self) -> None:
        import torch  # the C type and the switch below are read once, after the tamper scan

        self._package = _package_dir()
        self._libraries = _libraries()  # read now: sysconfig may import on first use, and imports go through
        self._names = sys._getframe(1).f_globals  # the hidden test's globals: the notebook's
        self._refuse(_tampering(self._package, self._names))
        self._TensorBase, self._no_overrides = tensor_reader(torch)
        self._copies: dict[str, types.ModuleType] = {}
        self._self_file = Sealed.__init__.__code__.co_filename  # this file, when imported as a module
        self._previous = sys.gettrace()
        self._tripped = ""
        sys.settrace(self._tracer)

    @staticmethod
    def _refuse(tampered: list[str]) -> None:
        threads = [t for t in tampered if t.startswith("a thread ")]
        replaced = [t for t in tampered if t not in threads]
        if replaced:
            shown = ", ".join(replaced[:5]) + (f" and {len(replaced) - 5} more" if len(replaced) > 5 else "")
            raise AssertionError(f"the submission replaced {shown}; hidden tests do not run on a modified library")
        if threads:
            raise AssertionError(f"the submission left {threads[0]} (it could rebind anything while a test runs); "
                                 "hidden tests do not run beside the submission's threads")

    def done(self) -> None:
        """Switch course_utils back on (the last line of every hidden test), after one more full scan."""
        try:
            self._still_sealed()
            self._refuse(_tampering(self._package, self._names))
        finally:
            sys.settrace(self._previous)

    # ---- the switch -------------------------------------------------------------------------
    def _tracer(self, frame, event, arg):
        if event == "call":
            filename = frame.f_code.co_filename
            if (filename.startswith(self._package) and filename != self._self_file
                    and frame.f_code.co_name != "<module>"):  # importing a module is not delegating
                caller = frame.f_back
                # the import system calling course_utils' finder (course_utils.MOVED) is no delegation
                outside = caller is None or not caller.f_code.co_filename.startswith(
                    (self._package, MARK, "<frozen importlib"))
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
        self._refuse(_interpreter(self._libraries, self._names) + _threads(self._libraries))  # what a check uses

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
            copy.__builtins__ = _OWN  # the builtins checked when this test started, not the live module
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
        if x is None or x is ...:
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
            if g != g:  # NaN, by an operator: nothing the submission can rebind (math.isnan can be)
                raise AssertionError(f"{what} contains NaN (flat index {i})")
            if g == e:  # equal infinities included
                continue
            diff = abs(g - e)  # NaN when e is NaN: never within the tolerance
            if not diff <= atol + rtol * abs(e) and (worst_i < 0 or diff > worst):
                worst, worst_i = diff, i
        if worst_i >= 0:
            raise AssertionError(f"{what} is not close: max abs difference {worst:.3g} at flat index {worst_i} "
                                 f"(got {got_flat[worst_i]:.6g}, expected {exp_flat[worst_i]:.6g})")

    def answer(self, x, what: str):
        """`x` itself, unless it is None or `...` (the question was not attempted)."""
        if x is None or x is ...:
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
