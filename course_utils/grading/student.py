"""What an exercise notebook calls: `notebook_grader` for `grader.check`, and `check_close`.

The light, student-facing face of the grading package: it imports otter only when a notebook asks for
its grader, and torch only when a check runs, so importing it costs nothing.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


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
