"""The exercise pipeline: sources -> otter assign -> student notebooks and autograders -> grading.

Every exercise source under notebooks/exercises/ is found by glob. For each one: the committed
student notebook and packaged public tests are what `otter assign` makes now; the solutions score
full marks; an untouched student notebook scores 0 with a reason for every question. Hostile
submissions (rebinding the checks, calling the reference, switching the switch off, rewriting the
tests, killing the kernel or the grader, leaving daemons behind, looping forever) are graded
alongside, all in parallel; see `hostile_jobs` for each one and what it must score.

The autograders are built once per source: `built` caches `otter assign`'s output under
notebooks/exercises/dist/.cache/<hash of everything that goes into it>/.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import otter
import psutil
import pytest

from course_utils.grading import GradeReport, autograder, check_close, grade
from course_utils.grading.classroom import default_jobs
from course_utils.grading.supervise import TOKEN_VARIABLE
from tools import build, notebook_cells

pytestmark = pytest.mark.pipeline

SOURCES = build.exercise_sources()
STEMS = [s.stem for s in SOURCES]
TIMEOUT = 300  # an ordinary grading takes ~15-25 s on 2 busy cores
CACHE = build.DIST / ".cache"


def _cache_key() -> str:
    """A hash of everything `otter assign` turns into an autograder, and of otter's version."""
    digest = hashlib.sha256(f"otter {otter.__version__} python {sys.version_info[:2]}".encode())
    package = build.ROOT / "course_utils"
    makers = [build.ROOT / "tools" / "build.py", package / "runtime.py",
              *(package / "grading" / f"{name}.py" for name in ("autograder", "sealed"))]
    for path in sorted([*SOURCES, build.ROOT / "pyproject.toml", *makers]):
        digest.update(path.relative_to(build.ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def built() -> dict[str, Path]:
    """`otter assign` output per exercise, built once per source and reused while nothing changes."""
    folder = CACHE / _cache_key()
    if not all((folder / stem / "autograder").is_dir() for stem in STEMS):
        staging = Path(tempfile.mkdtemp(prefix="building-", dir=build.DIST.parent))
        try:
            for source in SOURCES:
                build.assign(source, staging / source.stem)
            shutil.rmtree(CACHE, ignore_errors=True)  # one cached build at a time
            CACHE.mkdir(parents=True)
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return {stem: folder / stem for stem in STEMS}


def zip_of(built, stem: str) -> Path:
    return next((built[stem] / "autograder").glob("*.zip"))


def solution(built, stem: str) -> dict:
    return json.loads((built[stem] / "autograder" / f"{stem}.ipynb").read_text(encoding="utf-8"))


def student(stem: str) -> dict:
    return json.loads((build.STUDENT / f"{stem}.ipynb").read_text(encoding="utf-8"))


def _cell_defining(nb: dict, name: str) -> int:
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code" and f"def {name}(" in "".join(cell["source"]):
            return i
    raise AssertionError(f"no cell defines {name}")


def with_body(nb: dict, name: str, body: str) -> dict:
    """`nb` with the unfinished body (`...`) of function `name` replaced by `body` (4-space indented)."""
    cell = nb["cells"][_cell_defining(nb, name)]
    lines = "".join(cell["source"]).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"def {name}("))
    at = next(i for i in range(start, len(lines)) if lines[i].strip() == "...")
    lines[at] = "\n".join("    " + line for line in body.splitlines())
    cell["source"] = "\n".join(lines)
    return nb


def with_cell(nb: dict, code: str, after: str | None = None, index: int | None = None) -> dict:
    """`nb` with a code cell inserted after the cell defining `after` (or at `index`)."""
    at = _cell_defining(nb, after) + 1 if after else index
    nb["cells"].insert(at, {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                            "source": code})
    return nb


def points(stem: str) -> dict[str, tuple[float, float]]:
    return autograder.point_split(json.loads((build.EXERCISES / f"{stem}.ipynb").read_text(encoding="utf-8")))


DAEMON = """
import os, subprocess, sys, time
# A grandchild that leaves the kernel's session and process group{env_note}, then sleeps for 10 minutes.
code = "import os, sys, time\\nif os.fork(): os._exit(0)\\nos.setsid()\\n"
code += "open(sys.argv[1], 'w').write(str(os.getpid()))\\n"
code += {exec_line!r}
subprocess.Popen([sys.executable, "-c", code, {pid_file!r}], start_new_session=True)
for _ in range(100):
    if os.path.exists({pid_file!r}): break
    time.sleep(0.1)
"""


def daemon_cell(pid_file: Path, clear_env: bool) -> str:
    exec_line = ("os.execve('/bin/sleep', ['sleep', '600'], {})\n" if clear_env else "time.sleep(600)\n")
    return DAEMON.format(pid_file=str(pid_file), exec_line=exec_line,
                         env_note=" and clears its environment" if clear_env else "")


OVERWRITE_TESTS = """
import glob
for path in glob.glob("tests/*.py"):
    name = path.split("/")[-1][:-3]
    with open(path, "w") as f:
        f.write("OK_FORMAT = True\\ntest = {'name': %r, 'points': 3, 'suites': [{'cases': [{'code': '>>> 1', "
                "'hidden': False, 'locked': False}], 'scored': True, 'setup': '', 'teardown': '', "
                "'type': 'doctest'}]}\\n" % name)
"""


# The loops-forever submission's time limit: long enough for the re-run, with the looping cell skipped, to grade the
# whole notebook on busy cores (25 s was enough only while a time-out ended the grading).
SKIPPING_TIMEOUT = 90

# Answers to exercise 02_gaussian_kl that are wrong in two ways; each hostile submission below adds one trick to
# one of them, and the honest one (the same answers, no trick) is graded alongside for comparison.
NAN = {"kl_normal_1d": 'return torch.full_like(mu, float("nan"))',
       "kl_diag_standard": 'return torch.full(mu.shape[:-1], float("nan"))'}
ZEROS = {"kl_normal_1d": "return torch.zeros_like(mu)", "kl_diag_standard": "return torch.zeros(mu.shape[:-1])"}
TRICKS = {  # name -> (answers, the cell that plays the trick)
    "NaN, rebinds math.isnan": (NAN, "import math\nmath.isnan = lambda v: False"),
    "zeros, rebinds builtins": (ZEROS, "import builtins\nbuiltins.abs = lambda v: 0.0  # every difference is 0\n\n\n"
                                       "def exec(*args, **kwargs):  # a global that hides the builtin\n    pass"),
    "zeros, rebinds torch.Tensor dunders": (ZEROS, "torch.Tensor.__sub__ = lambda a, b: torch.zeros_like(a)\n"
                                                   "torch.Tensor.__pow__ = lambda a, b: torch.zeros_like(a)\n"
                                                   "torch.Tensor.tolist = lambda self: [0.0] * self.numel()"),
    "NaN, a thread rebinds math.isnan": (NAN, """import math, threading, time


def rebind():  # waits until a hidden test has started (it sets H), then keeps math.isnan rebound
    while "H" not in globals():
        time.sleep(0.001)
    while True:
        math.isnan = lambda v: False
        time.sleep(0.001)


threading.Thread(target=rebind, daemon=True).start()"""),
}


def answered(stem: str, bodies: dict[str, str]) -> dict:
    nb = student(stem)
    for name, body in bodies.items():
        nb = with_body(nb, name, body)
    return nb


def hostile_jobs(built, tmp: Path) -> dict[str, tuple[str, dict]]:
    """name -> (exercise, notebook): the hostile submissions that need a kernel."""
    jobs = {}
    nb = student("02_gaussian_kl")  # wrong answers, made to pass by rebinding the checks
    nb = with_body(nb, "kl_normal_1d", "return torch.zeros_like(mu)")
    nb = with_body(nb, "kl_diag_standard", 'raise RuntimeError("student bug")')
    nb = with_cell(nb, "import course_utils.grading, torch\ncourse_utils.grading.check_close = lambda *a, **k: None\n"
                       "torch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a, **k: True\n"
                       "import sys, types\n"
                       "sys.modules['course_utils.grading.sealed'] = types.SimpleNamespace(Sealed=lambda: None)",
                   index=4)
    jobs["rebinds the checks"] = ("02_gaussian_kl", nb)
    nb = student("06_vae")  # delegates to the reference: through an alias taken early, and by importing it
    nb = with_cell(nb, "from course_utils.gradients import reparameterize as _mine", index=4)
    nb = with_body(nb, "reparameterize", "return _mine(mu, logvar, generator)")
    nb = with_body(nb, "negative_elbo", "import sys\nsys.settrace(None)  # switch the switch off first\n"
                   "from course_utils import objectives\nreturn objectives.negative_elbo(logits, x, mu, logvar)")
    nb = with_body(nb, "kl_gradients", "return mu.clone(), 0.5 * (logvar.exp() - 1.0)")  # right, done by hand
    jobs["calls the reference"] = ("06_vae", nb)
    nb = student("03_autoencoder")
    jobs["rewrites the tests"] = ("03_autoencoder", with_cell(nb, OVERWRITE_TESTS, index=len(nb["cells"])))
    nb = solution(built, "01_bernoulli_pixels")  # a correct solution that leaves a daemon behind
    nb = with_cell(nb, daemon_cell(tmp / "daemon.pid", clear_env=True), index=4)
    nb["metadata"]["kernelspec"] = {"name": "no-such-kernel", "display_name": "?", "language": "python"}
    jobs["leaves a daemon"] = ("01_bernoulli_pixels", nb)
    nb = student("02_entropy_kl")  # starts a daemon, then kills the grading process itself
    nb = with_cell(nb, daemon_cell(tmp / "orphan.pid", clear_env=False) + "os.kill(os.getppid(), 9)\ntime.sleep(30)",
                   index=4)
    jobs["kills the grader"] = ("02_entropy_kl", nb)
    nb = solution(built, "04_elbo")  # kills its kernel after question 1
    jobs["kernel dies"] = ("04_elbo", with_cell(nb, "import os\nos._exit(1)", after="toy_elbo"))
    nb = solution(built, "01_bernoulli_pixels")  # the cell that answers question 1 then loops forever
    # an endless loop that sleeps: it holds its grading until the time-out without taking a core from the others
    nb["cells"][_cell_defining(nb, "bernoulli_mle")]["source"] += "\n\nimport time\n\nwhile True:\n    time.sleep(1)\n"
    jobs["loops forever"] = ("01_bernoulli_pixels", nb)
    jobs["NaN, honest"] = ("02_gaussian_kl", answered("02_gaussian_kl", NAN))
    jobs["zeros, honest"] = ("02_gaussian_kl", answered("02_gaussian_kl", ZEROS))
    for name, (answers, trick) in TRICKS.items():
        jobs[name] = ("02_gaussian_kl", with_cell(answered("02_gaussian_kl", answers), trick, index=4))
    return jobs


@pytest.fixture(scope="session")
def graded(built):
    """Grade solutions, untouched notebooks and hostile submissions concurrently, one per core."""
    tmp = Path(tempfile.mkdtemp(prefix="course-grading-"))
    control = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(900)"],
                               env={**os.environ, TOKEN_VARIABLE: "not-a-grading-run"})  # grading must not touch it
    hostile = hostile_jobs(built, tmp)
    # the loop first: it waits out its time-out while the other gradings run beside it
    jobs = {"loops forever": (*hostile.pop("loops forever"), SKIPPING_TIMEOUT)}
    for name, (stem, nb) in hostile.items():
        jobs[name] = (stem, nb, TIMEOUT)
    for stem in STEMS:
        jobs[f"{stem} solution"] = (stem, solution(built, stem), TIMEOUT)
        jobs[f"{stem} untouched"] = (stem, student(stem), TIMEOUT)
    paths = {}
    for name, (_, nb, _) in jobs.items():
        paths[name] = tmp / f"{name.replace(' ', '_')}.ipynb"
        paths[name].write_text(json.dumps(nb), encoding="utf-8")
    threads = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"  # several kernels share the cores
    started = time.monotonic()
    try:
        # a grading waits on process start-ups and files, so one more than the cores keeps them busy (measured:
        # 152 s against 175 s for these gradings on 2 cores); and one for the loop, which sleeps to its time-out
        with ThreadPoolExecutor(max_workers=default_jobs() + 2) as pool:
            futures = {name: pool.submit(grade, paths[name], zip_of(built, stem), timeout)
                       for name, (stem, _, timeout) in jobs.items()}
            reports = {name: future.result() for name, future in futures.items()}
    finally:
        os.environ.pop("OMP_NUM_THREADS") if threads is None else os.environ.update(OMP_NUM_THREADS=threads)
    print(f"\ngraded {len(jobs)} notebooks in {time.monotonic() - started:.0f} s with {default_jobs()} workers")
    for name, report in reports.items():  # the hostile-submission table (pytest -s shows it)
        print(f"  {name}: {report.total:g} / {report.total_possible:g} {report.scores}")
    yield {"reports": reports, "tmp": tmp, "control": control, "built": built}
    control.kill()
    control.wait()
    shutil.rmtree(tmp, ignore_errors=True)


def report_of(graded, name: str) -> GradeReport:
    return graded["reports"][name]


def test_there_are_exercises():
    assert SOURCES, "no exercise sources found under notebooks/exercises/"


@pytest.mark.parametrize("source", SOURCES, ids=STEMS)
def test_committed_student_notebook_is_up_to_date(built, source):
    stale = build.sync_assigned(source, built[source.stem], write=False)
    assert not stale, f"stale: {stale}; run `python tools/build.py` and commit the result"


@pytest.mark.parametrize("stem", STEMS)
def test_solution_scores_full_marks(graded, stem):
    report = report_of(graded, f"{stem} solution")
    assert report.error is None, report.error
    assert set(report.possible) == set(points(stem))
    assert report.scores == report.possible, report.reasons


@pytest.mark.parametrize("stem", STEMS)
def test_untouched_notebook_scores_zero_of_full_points_with_reasons(graded, stem):
    report = report_of(graded, f"{stem} untouched")
    assert report.error is None, f"the grader failed on an untouched notebook: {report.error}"
    assert report.possible == {q: v + h for q, (v, h) in points(stem).items()}
    assert report.total == 0, report.scores
    for question, reason in report.reasons.items():
        assert reason.startswith("not attempted"), (question, reason)
        assert "\n" not in reason


def test_rebinding_the_checks_earns_only_the_visible_points(graded):
    report = report_of(graded, "rebinds the checks")  # wrong answers; question 2 raises
    visible = points("02_gaussian_kl")["kl_normal_1d"][0]
    assert report.scores == {"kl_normal_1d": visible, "kl_diag_standard": 0.0}, report.reasons
    assert report.reasons["kl_normal_1d"] == ("AssertionError: the submission replaced torch.allclose, torch.equal, "
                                              "course_utils.grading.check_close; hidden tests do not run on a "
                                              "modified library")
    assert report.reasons["kl_diag_standard"] == "RuntimeError: student bug"


def _hidden_points_of_test_calling(stem: str, function: str) -> float:
    """The points of the hidden test (in exercise `stem`'s source) that calls `function`."""
    cells = json.loads((build.EXERCISES / f"{stem}.ipynb").read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    (test,) = [s for s in sources if "hidden: true" in s and f"{function}(" in s]
    return float(test.split("points:", 1)[1].split()[0])


def test_calling_the_reference_fails_and_says_so(graded):
    report = report_of(graded, "calls the reference")  # question 2 switches the switch off first
    expected = {q: v for q, (v, _) in points("06_vae").items()}  # the visible checks pass ...
    # ... and so does the hidden test of kl_gradients, which this submission answers by hand.
    expected["vae_negative_elbo"] += _hidden_points_of_test_calling("06_vae", "kl_gradients")
    assert report.scores == expected, report.reasons
    assert report.reasons["vae_reparameterize"] == (
        "ReferenceUnavailable: your code called course_utils.gradients.reparameterize, which is switched off "
        "while hidden tests run: write the computation yourself")
    assert report.reasons["vae_negative_elbo"] == \
        "AssertionError: the submission switched off the grader's checks (sys.settrace)"


def test_rewriting_the_tests_scores_zero(graded):
    report = report_of(graded, "rewrites the tests")
    assert report.total == 0 and report.total_possible == 6
    assert "modified the autograder's tests" in report.error


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_no_process_outlives_grading(graded):
    daemon = graded["tmp"] / "daemon.pid"
    assert daemon.is_file(), "the hostile notebook did not start its daemon"
    assert not _alive(int(daemon.read_text(encoding="utf-8"))), \
        "a process that left its session and environment survived grading"
    report = report_of(graded, "leaves a daemon")  # and it is still graded, whatever kernel it names
    assert report.scores == report.possible, report.reasons
    leftovers = []  # after every grading above (time-outs and kernel deaths included), nothing carries a token
    for proc in psutil.process_iter():
        try:
            token = proc.environ().get(TOKEN_VARIABLE)
        except (psutil.Error, OSError):
            continue
        if token not in (None, "not-a-grading-run"):
            leftovers.append(f"{proc.pid} {proc.name()}")
    assert not leftovers, f"processes of finished gradings are still running: {leftovers}"


def test_killing_the_grader_leaves_nothing_and_reports_it(graded):
    orphan = graded["tmp"] / "orphan.pid"
    assert orphan.is_file()
    assert not _alive(int(orphan.read_text(encoding="utf-8")))
    report = report_of(graded, "kills the grader")
    assert report.total == 0 and report.total_possible == 7
    assert "did the submission kill it?" in report.error
    assert set(report.reasons) == set(report.possible)


def test_grading_touches_no_other_process(graded):
    assert graded["control"].poll() is None, "grading killed a process it did not start"


@pytest.mark.pipeline
def test_kernel_death_skips_the_fatal_cell(graded):
    report = report_of(graded, "kernel dies")  # a cell of its own kills the kernel after question 1
    split = points("04_elbo")
    assert report.possible == {q: v + h for q, (v, h) in split.items()}
    assert report.scores == report.possible, report.reasons  # both questions graded, the fatal cell skipped
    fatal = _cell_defining(solution(graded["built"], "04_elbo"), "toy_elbo") + 2  # 1-based, the inserted cell
    assert report.error == f"the kernel died in cell {fatal} (import os); graded with that cell skipped"


@pytest.mark.pipeline
def test_a_cell_that_loops_forever_costs_only_its_question(graded):
    report = report_of(graded, "loops forever")  # the cell answering question 1 loops after defining it
    assert report.total_possible == 8
    fatal = _cell_defining(solution(graded["built"], "01_bernoulli_pixels"), "bernoulli_mle") + 1  # 1-based
    where = f"timed out after {SKIPPING_TIMEOUT} s in cell {fatal} (def bernoulli_mle("
    assert report.error.startswith(where) and report.error.endswith("; graded with that cell skipped")
    assert report.scores["bernoulli_mle"] == 0
    assert report.reasons["bernoulli_mle"].startswith(where)
    assert ", so that cell was skipped — not attempted: name 'bernoulli_mle' is not defined" in \
        report.reasons["bernoulli_mle"]
    for question in ("bernoulli_log_likelihood", "bayes_classifier"):  # later questions keep their credit
        assert report.scores[question] == report.possible[question], report.reasons


REFUSALS = {  # what the hidden tests of each trick say
    "NaN, rebinds math.isnan": ["the submission replaced math.isnan;"],
    "zeros, rebinds builtins": ["the submission replaced builtins.abs, builtins.exec (by a global of the notebook);"],
    "zeros, rebinds torch.Tensor dunders": ["torch.Tensor.__sub__", "torch.Tensor.__pow__", "torch.Tensor.tolist"],
    "NaN, a thread rebinds math.isnan": ["the submission left a thread running rebind"],
}


@pytest.mark.pipeline
@pytest.mark.parametrize("trick", list(TRICKS))
def test_a_trick_earns_no_hidden_points(graded, trick):
    report = report_of(graded, trick)
    answers = "NaN" if trick.startswith("NaN") else "zeros"
    honest = report_of(graded, f"{answers}, honest")
    assert honest.total == 0, honest.reasons  # the same answers without the trick
    split = points("02_gaussian_kl")
    assert set(report.scores) == set(split)
    for question, (visible, _) in split.items():
        assert report.scores[question] <= visible, (question, report.reasons)  # hidden points: none
        hidden_output = report.messages[question]
        assert all(text in hidden_output for text in REFUSALS[trick]), (question, report.reasons[question])


@pytest.mark.parametrize("content, reason", [
    (b"", "not a notebook: submission.ipynb is empty"),
    (b'{"cells": [', "not a notebook: submission.ipynb is not valid notebook JSON"),
    (b"%PDF-1.7\n\xff\xfe binary", "not a notebook: submission.ipynb is not valid notebook JSON"),
    (b'{"hello": "world"}', "not a notebook: submission.ipynb is JSON but not a Jupyter notebook"),
])
def test_not_a_notebook(built, tmp_path, content, reason):
    path = tmp_path / "submission.ipynb"
    path.write_bytes(content)
    report = grade(path, zip_of(built, "02_gaussian_kl"), timeout=30)
    assert report.total == 0 and report.total_possible == 5
    assert report.error.startswith(reason), report.error
    assert set(report.reasons) == {"kl_normal_1d", "kl_diag_standard"}


def test_wrong_assignment(built, tmp_path):
    path = tmp_path / "other.ipynb"
    path.write_text(json.dumps(student("02_gaussian_kl")), encoding="utf-8")
    report = grade(path, zip_of(built, "05_reparameterization"), timeout=30)
    assert report.total == 0 and report.total_possible == 5
    assert report.error == ("wrong assignment: this notebook is '02_gaussian_kl', "
                            "the autograder grades '05_reparameterization'")
    nb = student("05_reparameterization")
    del nb["metadata"]["otter"]  # a notebook started from scratch
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert grade(path, zip_of(built, "05_reparameterization"), timeout=30).error.startswith(
        "wrong assignment: the notebook carries no assignment name")


def test_bad_arguments_say_what_to_do(built, tmp_path):
    with pytest.raises(ValueError, match="does not exist; build it"):
        grade(tmp_path / "x.ipynb", tmp_path / "missing.zip")
    with pytest.raises(ValueError, match="submission .* does not exist"):
        grade(tmp_path / "x.ipynb", zip_of(built, "04_elbo"))


@pytest.mark.parametrize("stem", STEMS)
def test_autograder_environment_imports_what_its_tests_import(built, stem):
    zip_path = zip_of(built, stem)
    requirements = autograder.environment_of(zip_path)
    assert set(autograder.requirements()) <= set(requirements), requirements
    assert any(r.startswith("otter-grader") for r in requirements)
    from course_utils.runtime import install_requirement

    assert install_requirement() in requirements  # course_utils from the course's repository, at its pin
    imported = autograder.imports_of(zip_path) | _notebook_imports(build.STUDENT / f"{stem}.ipynb")
    provided = _closure(requirements)
    from importlib.metadata import packages_distributions

    dists = packages_distributions()
    missing = {m for m in imported if not {_norm(d) for d in dists.get(m, [m])} & provided}
    assert not missing, f"{zip_path.name}: the tests import {sorted(missing)}, which its environment does not install"
    assert {"torch", "course_utils"} <= imported


def _norm(name: str) -> str:
    return name.lower().replace("_", "-")


def _closure(requirements: list[str]) -> set[str]:
    """Distributions installed by `requirements` and, transitively, by what they require (this env's metadata)."""
    import re
    from importlib.metadata import PackageNotFoundError, requires

    todo = [re.match(r"[A-Za-z0-9_.-]+", r).group(0) for r in requirements]
    seen: set[str] = set()
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            deps = requires(name) or []
        except PackageNotFoundError:
            continue
        todo += [re.match(r"[A-Za-z0-9_.-]+", d).group(0) for d in deps if "extra ==" not in d]
    return seen


def _notebook_imports(path: Path) -> set[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))
    return autograder.imports_in(code)


def test_student_notebooks_read_their_tests_from_the_package():
    for source in SOURCES:
        text = (build.STUDENT / source.name).read_text(encoding="utf-8")
        assert f'notebook_grader(\\"{source.stem}\\")' in text
        assert "# BEGIN SOLUTION" not in text and "hidden: true" not in text and "H.done()" not in text


@pytest.mark.parametrize("source", SOURCES, ids=STEMS)
def test_notebook_says_how_points_split_and_how_to_submit(source):
    nb = json.loads(source.read_text(encoding="utf-8"))
    generated = {notebook_cells.TOP, notebook_cells.NEXT, notebook_cells.COURSE_MAP}  # the build's navigation
    written = [c for c in nb["cells"] if not generated & set(c.get("metadata", {}).get("tags", []))]
    markdown = ["".join(c["source"]) for c in written if c["cell_type"] == "markdown"]
    for question, (visible, hidden) in autograder.point_split(nb).items():
        assert hidden > visible, f"{question}: hidden tests must carry most of the points"
        heading = f"— {visible + hidden:g} points ({visible:g} visible checks, {hidden:g} hidden tests)"
        assert any(heading in text for text in markdown), f"{source.name}: no heading says {heading!r} for {question}"
    last = markdown[-1]  # the last cell the author wrote
    assert "".join(written[-1]["source"]) == last and last.startswith("## How to submit")
    assert f"`{source.name}`" in last and "JupyterLab" in last and "Colab" in last


def test_hidden_tests_must_use_sealed_checks(tmp_path):
    nb = json.loads(SOURCES[0].read_text(encoding="utf-8"))
    _, cell = autograder.hidden_tests(nb)[0]
    cell["source"] = "".join(cell["source"]).replace(autograder.SEALED_LINE,
                                                     "from course_utils.grading import check_close")
    bad = tmp_path / SOURCES[0].name
    bad.write_text(json.dumps(nb), encoding="utf-8")
    with pytest.raises(ValueError, match="must start with"):
        autograder.prepare_source(bad, tmp_path / "out")


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


def test_grading_a_class_folder_is_parallel_resumable_and_loses_no_row(built, tmp_path, monkeypatch, capsys):
    from course_utils import classroom

    folder, out = tmp_path / "submissions", tmp_path / "grades.csv"
    (folder / "late").mkdir(parents=True)
    (folder / "untouched.ipynb").write_text(json.dumps(student("02_gaussian_kl")), encoding="utf-8")
    (folder / "empty.ipynb").write_text("", encoding="utf-8")
    (folder / "late" / "other_exercise.ipynb").write_text(json.dumps(student("04_elbo")), encoding="utf-8")
    (folder / "crashes_the_grader.ipynb").write_text(json.dumps(student("02_gaussian_kl")), encoding="utf-8")
    (folder / "notes.txt").write_text("not a submission", encoding="utf-8")
    real_grade = classroom.grade

    def flaky_grade(path, *args, **kwargs):
        if path.name == "crashes_the_grader.ipynb":
            raise OSError("disk full")
        return real_grade(path, *args, **kwargs)

    monkeypatch.setattr(classroom, "grade", flaky_grade)
    zip_path = str(zip_of(built, "02_gaussian_kl"))
    args = [str(folder), "--autograder", zip_path, "--out", str(out), "--timeout", str(TIMEOUT), "--jobs", "2"]
    assert classroom.main(args) == 0
    captured = capsys.readouterr()
    assert "grading" in captured.err and "4 submissions: mean 0.00 / 5" in captured.out
    import csv

    rows = {r["submission"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert set(rows) == {"untouched.ipynb", "empty.ipynb", "late/other_exercise.ipynb", "crashes_the_grader.ipynb"}
    assert all(r["possible"] == "5" and r["total"] == "0" for r in rows.values())
    assert rows["untouched.ipynb"]["kl_normal_1d reason"].startswith("not attempted")
    assert rows["empty.ipynb"]["error"] == "not a notebook: empty.ipynb is empty"
    assert rows["late/other_exercise.ipynb"]["kl_diag_standard reason"].startswith("wrong assignment")
    assert rows["crashes_the_grader.ipynb"]["error"] == "grading failed: OSError: disk full"

    # Resume: a new submission is graded; rows already in the CSV are not (an edited total stays).
    text = out.read_text(encoding="utf-8").replace("untouched.ipynb,0,", "untouched.ipynb,99,")
    out.write_text(text, encoding="utf-8")
    (folder / "late" / "empty_too.ipynb").write_text("", encoding="utf-8")
    assert classroom.main(args) == 0
    rows = {r["submission"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert len(rows) == 5 and rows["untouched.ipynb"]["total"] == "99"
    assert rows["late/empty_too.ipynb"]["error"].startswith("not a notebook")
    monkeypatch.setattr(classroom, "grade", lambda path, *a, **k: real_grade(tmp_path / "missing", *a, **k)
                        if path.name.startswith("untouched") else real_grade(path, *a, **k))
    assert classroom.main([*args, "--regrade"]) == 0  # --regrade grades everything again
    rows = {r["submission"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert len(rows) == 5 and rows["untouched.ipynb"]["total"] == "0"
    assert rows["untouched.ipynb"]["error"].startswith("grading failed: ValueError: submission")


def test_grading_a_class_says_what_is_wrong(built, tmp_path, capsys):
    from course_utils import classroom

    code = classroom.main([str(tmp_path / "nowhere"), "--autograder", str(zip_of(built, "04_elbo")),
                           "--out", str(tmp_path / "g.csv")])
    assert code == 2 and "is not a folder of submissions" in capsys.readouterr().err


def test_the_installed_package_is_not_taken_for_tampering():
    # Generated code (dataclasses' __init__, NamedTuple's __new__ in objectives.LossTerms) must not look
    # like a replaced function: a hidden test then refused every submission that imported the package.
    import course_utils.objectives  # noqa: F401
    import course_utils.train  # noqa: F401
    from course_utils.grading.sealed import Sealed

    checks = Sealed()
    checks.done()
