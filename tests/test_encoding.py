"""Windows reads and writes text in cp1252 unless told otherwise: the course always says UTF-8.

The build, the MNIST loader and the grading run in a child Python with `-X warn_default_encoding`, which
warns (EncodingWarning) wherever a text file is opened without an encoding, so on every platform. The
warnings the course's own code would raise are made errors there: `course_utils`, `tools` and the
scripts run as `__main__`. Third-party packages are left out (torch imports dill, which opens os.devnull
without one); plain `-W error::EncodingWarning` would stop at them before reaching the course.
"""

import csv
import os
import subprocess
import sys
import textwrap

import pytest

from tools.build import ROOT, exercise_sources

pytestmark = pytest.mark.pipeline

DRIVER = textwrap.dedent(r"""
    import sys, tempfile, warnings
    from pathlib import Path
    warnings.filterwarnings("error", category=EncodingWarning, module=r"(course_utils|tools|__main__)(\.|$)")
    assert sys.flags.warn_default_encoding, "run with -X warn_default_encoding"
    open(Path(tempfile.gettempdir()) / "probe.txt", "w").close() if sys.argv[1] == "probe" else None

    from tools import build
    stale = [nb.name for nb in build.lesson_notebooks() + build.exercise_sources()
             if build.sync_setup_cell(nb, check=True)] + ["README"] * build.sync_readme(check=True)
    # the build of one exercise (otter assign once; tests/test_grading.py builds them all)
    source, out = Path(sys.argv[2]), Path(sys.argv[3])
    zip_path = build.assign(source, out / "assigned" / source.stem)
    stale += build.sync_assigned(source, out / "assigned" / source.stem, write=False)
    print("STALE", stale)

    import course_utils
    images, labels = course_utils.load_mnist("test")  # COURSE_DATA_DIR, decoded into a new cache
    print("MNIST", tuple(images.shape), tuple(labels.shape))

    # the grading entry point (`python -m course_utils.grading`) on the untouched student notebook
    from course_utils.grading import classroom
    folder = out / "submissions"
    folder.mkdir()
    (folder / source.name).write_bytes((build.STUDENT / source.name).read_bytes())
    code = classroom.main([str(folder), "--autograder", str(zip_path), "--out", str(out / "grades.csv"),
                           "--jobs", "1", "--timeout", "240"])
    print("GRADED", code)
""")


def _run(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COURSE_CACHE_DIR": str(tmp_path / "cache")}
    return subprocess.run([sys.executable, "-X", "warn_default_encoding", "-c", DRIVER, *args],
                          capture_output=True, text=True, encoding="utf-8", errors="replace", env=env, cwd=ROOT,
                          timeout=600)


def test_the_probe_catches_a_file_opened_without_an_encoding(tmp_path):
    proc = _run(tmp_path, "probe")
    assert proc.returncode != 0 and "EncodingWarning: 'encoding' argument not specified" in proc.stderr, proc.stderr


@pytest.mark.skipif(not os.environ.get("COURSE_DATA_DIR"), reason="set COURSE_DATA_DIR to the MNIST files")
def test_build_loader_and_grading_open_text_as_utf8(tmp_path):
    source = min(exercise_sources(), key=lambda p: p.stat().st_size)  # the quickest to build and grade
    proc = _run(tmp_path, "run", str(source), str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert "STALE []" in proc.stdout and "MNIST (10000, 1, 28, 28) (10000,)" in proc.stdout, proc.stdout
    with open(tmp_path / "grades.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and rows[0]["submission"] == source.name
    assert rows[0]["error"] == "" and float(rows[0]["total"]) == 0, rows  # graded, and an untouched one earns 0
