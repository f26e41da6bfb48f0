"""The class-grading helpers that need no kernel: reading an autograder zip, the summary, refusals."""

import json
import zipfile

import pytest

from course_utils import classroom
from course_utils.grading.autograder import autograder_info

pytestmark = pytest.mark.unit


def _test_file(name: str, points, case_points=(None,)) -> str:
    cases = [{"code": ">>> 1 + 1\n2\n", "hidden": False, "locked": False, "points": p} for p in case_points]
    spec = {"name": name, "suites": [{"cases": cases, "scored": True, "setup": "", "teardown": "", "type": "doctest"}]}
    if points is not None:
        spec["points"] = points
    return f"OK_FORMAT = True\n\ntest = {spec!r}\n"


def _zip(tmp_path, files: dict[str, str]):
    path = tmp_path / "autograder.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


def test_autograder_info_reads_the_assignment_name_and_each_questions_points(tmp_path):
    path = _zip(tmp_path, {
        "otter_config.json": json.dumps({"assignment_name": "01_bernoulli_pixels"}),
        "tests/q1.py": _test_file("q1", 3),  # points for the whole question
        "tests/q2.py": _test_file("q2", [1, 2]),  # points per case
        "tests/q3.py": _test_file("q3", None, case_points=(0.5, 1.5)),  # points on the cases themselves
        "tests/deeper/ignored.py": _test_file("ignored", 9),
    })
    assert autograder_info(path) == ("01_bernoulli_pixels", {"q1": 3.0, "q2": 3.0, "q3": 2.0})


def test_autograder_info_refuses_a_file_that_is_not_an_autograder(tmp_path):
    not_a_zip = tmp_path / "grades.csv"
    not_a_zip.write_text("submission,total\n", encoding="utf-8")
    with pytest.raises(ValueError, match="is not an autograder zip made by `python tools/build.py`"):
        autograder_info(not_a_zip)


def test_summary_counts_submissions_means_zeros_and_errors():
    rows = {"a.ipynb": {"total": "3", "possible": "4", "q1": "1", "q2": "2", "error": ""},
            "b.ipynb": {"total": "0", "possible": "4", "q1": "0", "q2": "0", "error": "kernel died"}}
    assert classroom.summary(rows, ["q1", "q2"]).splitlines() == [
        "2 submissions: mean 1.50 / 4, 1 with 0, 1 with an error (see the CSV's error column)",
        "  q1: mean 0.50", "  q2: mean 1.00"]
    assert classroom.summary({}, ["q1"]) == "no submissions"


def test_grade_folder_refuses_a_missing_folder_and_a_csv_of_another_assignment(tmp_path):
    path = _zip(tmp_path, {"otter_config.json": "{}", "tests/q1.py": _test_file("q1", 1)})
    with pytest.raises(ValueError, match="is not a folder of submissions"):
        classroom.grade_folder(tmp_path / "nowhere", path, tmp_path / "grades.csv")
    out = tmp_path / "grades.csv"
    out.write_text("submission,total,possible,other,other reason,error\n", encoding="utf-8")
    with pytest.raises(ValueError, match="other columns than this autograder's"):
        classroom.grade_folder(tmp_path, path, out, progress=False)
    out.unlink()
    assert classroom.grade_folder(tmp_path, path, out, progress=False) == {}  # no notebooks: nothing graded
    assert out.read_text(encoding="utf-8").splitlines() == [",".join(classroom.columns(["q1"]))]


@pytest.mark.unit
def test_grading_a_class_stops_before_any_row_when_a_hook_no_longer_takes(tmp_path, monkeypatch, capsys):
    from course_utils.grading import supervise

    def moved():
        raise supervise.HookError("course_utils.grading hooks into otter's grade_notebook, but it is gone")

    monkeypatch.setattr(classroom, "check_hooks", moved)
    path = _zip(tmp_path, {"otter_config.json": "{}", "tests/q1.py": _test_file("q1", 1)})
    (tmp_path / "a.ipynb").write_text("{}", encoding="utf-8")
    out = tmp_path / "grades.csv"
    assert classroom.main([str(tmp_path), "--autograder", str(path), "--out", str(out)]) == 2
    assert "error: course_utils.grading hooks into otter's grade_notebook, but it is gone" in capsys.readouterr().err
    assert not out.exists()
