"""Grade a whole class: a folder of notebooks against one autograder, in parallel, into one CSV.

    course-grade SUBMISSIONS/ --autograder ZIP --out grades.csv [--timeout 300]
        [--jobs N] [--regrade]
    (the same as `python -m course_utils.grading ...`)

One row per submission (file name, total, possible, each question's score, the reason for every
lost point, and the submission's error if any). Rows are appended as soon as each grading ends, so
an interrupted run keeps what it finished, and a second run over the same folder grades only the
submissions that are not in the CSV yet (`--regrade` grades everything again).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from .autograder import autograder_info
from .submission import GradeReport, grade
from .supervise import HookError, check_hooks


def default_jobs() -> int:
    """Parallel gradings: one per core this process may use (each grading runs one kernel)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def columns(questions: list[str]) -> list[str]:
    """The CSV header for an assignment's questions."""
    return ["submission", "total", "possible", *questions, *(f"{q} reason" for q in questions), "error"]


def row(name: str, report: GradeReport, questions: list[str]) -> dict[str, str]:
    """One CSV row: scores with their possible points, and a one-line reason for each loss."""
    out = {"submission": name, "total": f"{report.total:g}", "possible": f"{report.total_possible:g}",
           "error": report.error or ""}
    for q in questions:
        out[q] = f"{report.scores.get(q, 0.0):g}"
        out[f"{q} reason"] = report.reasons.get(q, "")
    return out


def _safe_grade(path: Path, autograder: Path, timeout: float, questions: dict[str, float]) -> GradeReport:
    try:
        return grade(path, autograder, timeout=timeout)
    except Exception as err:  # noqa: BLE001 -- one broken submission never stops the class
        reason = f"grading failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        return GradeReport(scores=dict.fromkeys(questions, 0.0), possible=dict(questions),
                           reasons=dict.fromkeys(questions, reason), error=reason)


def grade_folder(submissions: Path, autograder: Path, out: Path, *, timeout: float = 300, jobs: int | None = None,
                 regrade: bool = False, progress: bool = True) -> dict[str, dict[str, str]]:
    """Grade every .ipynb under `submissions` into the CSV `out`; returns the CSV's rows by submission."""
    if not submissions.is_dir():
        raise ValueError(f"{submissions} is not a folder of submissions")
    _, questions = autograder_info(autograder)  # raises ValueError for a zip that is not an autograder
    check_hooks()  # once, loudly, before any row: an otter or torch that moved would fail every grading
    header = columns(list(questions))
    done: dict[str, dict[str, str]] = {}
    if out.is_file() and out.stat().st_size:
        with out.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames != header:
                raise ValueError(f"{out} has other columns than this autograder's; choose another --out file")
            done = {r["submission"]: r for r in reader}
    files = sorted(p for p in submissions.rglob("*") if p.is_file() and p.suffix.lower() == ".ipynb"
                   and ".ipynb_checkpoints" not in p.parts)
    names = {p: p.relative_to(submissions).as_posix() for p in files}
    todo = [p for p in files if regrade or names[p] not in done]
    if regrade:
        done = {n: r for n, r in done.items() if n not in set(names.values())}
    # rewrite: keeps earlier rows, drops rows being regraded
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header)
        writer.writeheader()
        writer.writerows(done.values())
    bar = tqdm(total=len(todo), desc="grading", unit="notebook", disable=not progress)
    with (ThreadPoolExecutor(max_workers=jobs or default_jobs()) as pool,
          out.open("a", newline="", encoding="utf-8") as f):
        writer = csv.DictWriter(f, fieldnames=header)
        futures = {pool.submit(_safe_grade, p, autograder, timeout, questions): p for p in todo}
        for future in as_completed(futures):
            path = futures[future]
            done[names[path]] = row(names[path], future.result(), list(questions))
            writer.writerow(done[names[path]])
            f.flush()  # a row on disk as soon as its grading ends
            bar.update()
    bar.close()
    return done


def summary(rows: dict[str, dict[str, str]], questions: list[str]) -> str:
    """A few lines for the instructor: how many graded, mean total, errors, per-question means."""
    if not rows:
        return "no submissions"
    totals = [float(r["total"]) for r in rows.values()]
    possible = rows[next(iter(rows))]["possible"]
    errors = sum(1 for r in rows.values() if r["error"])
    lines = [f"{len(rows)} submissions: mean {sum(totals) / len(totals):.2f} / {possible}, "
             f"{sum(t == 0 for t in totals)} with 0, {errors} with an error (see the CSV's error column)"]
    for q in questions:
        lines.append(f"  {q}: mean {sum(float(r[q]) for r in rows.values()) / len(rows):.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course-grade", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("submissions", type=Path, help="folder of submitted notebooks (searched recursively)")
    parser.add_argument("--autograder", type=Path, required=True, help="the exercise's autograder zip")
    parser.add_argument("--out", type=Path, required=True, help="CSV of grades (appended to; resumable)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per submission (default 300)")
    parser.add_argument("--jobs", type=int, default=None, help="parallel gradings (default: the cores available)")
    parser.add_argument("--regrade", action="store_true", help="grade again what the CSV already has")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        rows = grade_folder(args.submissions, args.autograder, args.out, timeout=args.timeout, jobs=args.jobs,
                            regrade=args.regrade)
    except (ValueError, HookError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    _, questions = autograder_info(args.autograder)
    print(summary(rows, list(questions)))
    seconds, jobs = time.monotonic() - started, args.jobs or default_jobs()
    print(f"wrote {args.out} in {seconds:.0f} s with {jobs} parallel gradings")
    return 0


def build(argv: list[str] | None = None) -> int:
    """`course-build`: run the checkout's tools/build.py (student notebooks, autograders, setup cells)."""
    import runpy

    from ..runtime import repo_root

    root = repo_root()
    script = root / "tools" / "build.py" if root is not None else None
    if script is None or not script.is_file():
        print("error: course-build rebuilds a checkout of the course; run it inside one (the folder that holds "
              "course_utils/, notebooks/ and tools/)", file=sys.stderr)
        return 2
    sys.argv = [str(script), *(sys.argv[1:] if argv is None else argv)]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as done:
        return int(done.code or 0)
    return 0
