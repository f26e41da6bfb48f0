"""`grader.check` without otter: the packaged public tests, run as doctests in the notebook's globals."""

import pytest
import torch

from course_utils.grading import notebook_grader, student
from course_utils.grading.student import StudentGrader, load_public_tests

pytestmark = pytest.mark.unit

RIGHT = "def kl_normal_1d(mu, sigma):\n    return 0.5 * (mu**2 + sigma**2 - torch.log(sigma**2) - 1.0)\n"


def _notebook(code: str) -> dict:
    """The globals of a notebook that ran the setup cell's import and `code`."""
    env = {"torch": torch, "__name__": "__main__"}
    exec(code, env)
    return env


def test_a_right_answer_passes_as_otter_says_it():
    result = notebook_grader("02_gaussian_kl").check("kl_normal_1d", _notebook(RIGHT))
    assert result.passed and repr(result) == "kl_normal_1d passed!"
    assert "passed!" in result._repr_html_()


def test_a_wrong_answer_fails_showing_the_failing_case_and_what_is_wrong():
    wrong = RIGHT.replace("- 1.0", "- 2.0")
    result = notebook_grader("02_gaussian_kl").check("kl_normal_1d", _notebook(wrong))
    text = repr(result)
    assert not result.passed and text.startswith("kl_normal_1d results:")
    assert "❌ Test case failed" in text and "check_close(kl_normal_1d(mu, sigma)" in text
    assert "kl_normal_1d(mu, sigma) is not close: max abs difference" in text


def test_an_unfinished_answer_says_so():
    result = notebook_grader("02_gaussian_kl").check("kl_normal_1d", _notebook("kl_normal_1d = ...\n"))
    assert not result.passed and "'ellipsis' object is not callable" in repr(result)


def test_check_reads_the_callers_globals_like_a_notebook_cell():
    env = _notebook(RIGHT + "grader = notebook_grader('02_gaussian_kl')\nresult = grader.check('kl_normal_1d')\n"
                    .replace("grader =", "from course_utils.grading import notebook_grader\ngrader ="))
    assert env["result"].passed
    assert not StudentGrader("02_gaussian_kl").check("kl_normal_1d").passed  # this module has no kl_normal_1d


def test_check_all_checks_every_question_of_the_exercise():
    grader = notebook_grader("02_gaussian_kl")
    results = grader.check_all(_notebook(RIGHT))
    assert [r.question for r in results] == grader.questions() == ["kl_diag_standard", "kl_normal_1d"]
    assert [r.passed for r in results] == [False, True]


def test_only_public_cases_run_and_bad_names_are_refused_with_the_known_ones():
    name, cases = load_public_tests(student.tests_dir("02_gaussian_kl") / "kl_normal_1d.py")
    assert name == "kl_normal_1d" and cases and all("Sealed" not in case for case in cases)
    with pytest.raises(ValueError, match="has no question 'q9'; its questions: kl_diag_standard, kl_normal_1d"):
        notebook_grader("02_gaussian_kl").check("q9", {})
    with pytest.raises(ValueError, match="no exercise named 'nope'; known exercises: 01_bernoulli_pixels"):
        notebook_grader("nope")


def test_a_file_that_is_not_an_ok_test_is_refused(tmp_path):
    bad = tmp_path / "q.py"
    bad.write_text("OK_FORMAT = True\n", encoding="utf-8")
    with pytest.raises(ValueError, match="is not an OK-format test file"):
        load_public_tests(bad)
