"""The exercise pipeline: sources -> otter assign -> committed student notebooks, and grading.

Every exercise source under notebooks/exercises/ is found by glob. For each one: the committed
student notebook and packaged public tests are what `otter assign` makes now; the solutions score
full marks; an untouched student notebook scores 0 without crashing the grader. On one exercise,
a submission that raises and one that loops forever are reported as failing within a time limit.
"""

import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from course_utils import build
from course_utils.grading import check_close, grade

SOURCES = build.exercise_sources()
LOOP_TIMEOUT = 90  # seconds; an ordinary grading takes ~25 s on 2 cores


def _sabotage(student: Path, out: Path, body: str) -> Path:
    """A copy of the student notebook whose first unfinished function body is replaced by `body`."""
    nb = json.loads(student.read_text())
    for cell in nb["cells"]:
        lines = "".join(cell["source"]).splitlines()
        if cell["cell_type"] == "code" and "    ..." in lines:
            lines[lines.index("    ...")] = body
            cell["source"] = "\n".join(lines)
            break
    else:
        raise AssertionError(f"{student} has no unfinished function body ('    ...') to sabotage")
    out.write_text(json.dumps(nb))
    return out


@pytest.fixture(scope="session")
def graded():
    """Assign every exercise once, then grade all submissions concurrently (otter run is slow to start)."""
    tmp = Path(tempfile.mkdtemp(prefix="course-grading-"))
    assigned, jobs = {}, {}
    for source in SOURCES:
        out = tmp / source.stem
        zip_path = build.assign(source, out)
        assigned[source.stem] = out
        jobs[(source.stem, "solution")] = (out / "autograder" / source.name, zip_path, 300)
        jobs[(source.stem, "untouched")] = (build.STUDENT / source.name, zip_path, 300)
    first = SOURCES[0]
    zip_first = jobs[(first.stem, "solution")][1]
    jobs[(first.stem, "raises")] = (
        _sabotage(build.STUDENT / first.name, tmp / "raises.ipynb", '    raise RuntimeError("student bug")'),
        zip_first, 300)
    jobs[(first.stem, "loops")] = (
        _sabotage(build.STUDENT / first.name, tmp / "loops.ipynb", "    while True:\n        pass"),
        zip_first, LOOP_TIMEOUT)
    # Several gradings share 2 cores: one torch thread each avoids oversubscription (and spin-waiting).
    threads = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = {key: pool.submit(grade, nb, zp, timeout) for key, (nb, zp, timeout) in jobs.items()}
            reports = {key: future.result() for key, future in futures.items()}
    finally:
        if threads is None:
            del os.environ["OMP_NUM_THREADS"]
        else:
            os.environ["OMP_NUM_THREADS"] = threads
    return assigned, reports


def test_there_are_exercises():
    assert SOURCES, "no exercise sources found under notebooks/exercises/"


@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_committed_student_notebook_is_up_to_date(graded, source):
    assigned, _ = graded
    stale = build.sync_assigned(source, assigned[source.stem], write=False)
    assert not stale, f"stale: {stale}; run `python -m course_utils.build` and commit the result"


@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_solution_scores_full_marks(graded, source):
    report = graded[1][(source.stem, "solution")]
    assert report.error is None, report.error
    assert report.total_possible > 0
    assert report.scores == report.possible, report.messages


@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_untouched_student_notebook_scores_zero(graded, source):
    report = graded[1][(source.stem, "untouched")]
    assert report.error is None, f"the grader crashed on an untouched notebook: {report.error}"
    assert set(report.scores) == set(graded[1][(source.stem, "solution")].scores)
    assert report.total == 0, report.scores


def test_submission_that_raises_fails_that_question(graded):
    report = graded[1][(SOURCES[0].stem, "raises")]
    assert report.error is None, report.error
    assert report.total == 0
    assert any("student bug" in message for message in report.messages.values())


def test_submission_that_loops_forever_is_stopped(graded):
    report = graded[1][(SOURCES[0].stem, "loops")]
    assert report.total == 0
    assert report.error is not None and "timed out" in report.error


def test_student_notebooks_read_their_tests_from_the_package():
    for source in SOURCES:
        text = (build.STUDENT / source.name).read_text()
        assert f'notebook_grader(\\"{source.stem}\\")' in text
        assert "# BEGIN SOLUTION" not in text and "hidden: true" not in text


@pytest.mark.parametrize("got, expected, message", [
    (None, 1.0, "not done yet"),
    ([1.0, 2.0], [1.0, 2.0, 3.0], "has shape"),
    (float("nan"), 1.0, "contains NaN"),
    ([1.0, 2.5], [1.0, 2.0], "max abs difference 0.5 at flat index 1"),
    ("text", 1.0, "should be a number"),
])
def test_check_close_says_what_is_wrong(got, expected, message):
    with pytest.raises(AssertionError, match=message):
        check_close(got, expected, "x")
    check_close([1.0, 2.0], [1.0, 2.0 + 1e-9])
