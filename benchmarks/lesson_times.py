"""Benchmark: how long each lesson's full mode takes, for planning a class; the README's lesson map shows it.

Runs every lesson notebook (or those named) from top to bottom in full mode, one at a time, in a fresh
kernel with CI and COURSE_FAST unset, and records the wall time of each in benchmarks/lesson_times.json,
under the device the lessons ran on ("cpu", or "gpu" with COURSE_DEVICE=cuda), with the machine it was.
`python tools/build.py` then writes the times into the README's lesson map. With --out, the executed
notebooks are saved there too (their outputs are a full run's: what the committed lessons should show).

    COURSE_DATA_DIR=/path/to/mnist python benchmarks/lesson_times.py                 # every lesson, CPU
    COURSE_DATA_DIR=/path/to/mnist python benchmarks/lesson_times.py 03 07 --out /tmp/full
    COURSE_DEVICE=cuda python benchmarks/lesson_times.py                            # on a GPU machine

Run it on an otherwise idle machine: the times are wall-clock.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
RESULTS = ROOT / "benchmarks" / "lesson_times.json"
CELL_TIMEOUT = 3600  # seconds: a cell that runs longer than an hour has hung


def machine(device: str) -> str:
    """The machine in words: processor, cores, and the GPU when the lessons ran on one."""
    import torch

    where = f"{_processor()}, {os.cpu_count()} CPU cores, torch {torch.__version__}"
    if device == "gpu" and torch.cuda.is_available():
        where = f"{torch.cuda.get_device_name(0)}, " + where
    return where


def _processor() -> str:
    """The processor's name (Linux: /proc/cpuinfo), else its architecture."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def run_lesson(path: Path, out: Path | None) -> float:
    """Execute one lesson in full mode in a fresh kernel; return its wall time in seconds."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, out / path.name)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers to run (default: every lesson)")
    parser.add_argument("--out", type=Path, default=None, help="also save the executed notebooks in this folder")
    args = parser.parse_args()
    for variable in ("CI", "COURSE_FAST"):  # full mode: the kernels inherit this environment
        os.environ.pop(variable, None)
    device = "gpu" if os.environ.get("COURSE_DEVICE", "").startswith("cuda") else "cpu"
    lessons = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    unknown = set(args.lessons) - {p.name[:2] for p in lessons}
    if unknown:
        sys.exit(f"no lesson numbered {', '.join(sorted(unknown))}; the lessons are "
                 f"{', '.join(p.name[:2] for p in lessons)}")
    chosen = [p for p in lessons if not args.lessons or p.name[:2] in args.lessons]
    results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    entry = results.setdefault(device, {"lessons": {}})
    stems = {p.stem for p in lessons}  # a lesson renamed or removed since its time was recorded is dropped
    entry["lessons"] = {stem: seconds for stem, seconds in entry["lessons"].items() if stem in stems}
    for path in chosen:
        print(f"{path.name}: running in full mode on {device} ...", flush=True)
        seconds = run_lesson(path, args.out)
        print(f"{path.name}: {seconds / 60:.1f} min", flush=True)
        entry["lessons"][path.stem] = round(seconds)
        entry.update(machine=machine(device), date=datetime.date.today().isoformat())
        RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n", encoding="utf-8")  # after each
    print(f"wrote {RESULTS}; `python tools/build.py` puts the times into the README")


if __name__ == "__main__":
    main()
