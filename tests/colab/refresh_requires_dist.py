"""Refresh tests/colab/requires-dist.json from the snapshots beside it: each package's real Requires-Dist.

    python tests/colab/refresh_requires_dist.py PYTHON3.13

One `pip install --dry-run --ignore-installed --no-deps --only-binary=:all: --report` per snapshot, in a
throw-away venv of the given Python 3.13, reads every pinned package's metadata from PyPI as pip does (no
package is installed or built). A package with no wheel on PyPI at that version is left out (pip names it,
it is dropped and the run repeated), as are the few Colab installs from URLs (its own google-colab, CUDA
builds from NVIDIA's index, PyTorch's CPU wheels): their stand-ins carry no requirements.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_metadata(python: str, pins: list[str], tmp: Path) -> tuple[dict[str, dict], list[str]]:
    """{name==version: {requires_dist, provides_extra}} of `pins`, and the pins PyPI has no wheel for."""
    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_FIND_LINKS": "", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    dropped, report = [], tmp / "report.json"
    while True:
        (tmp / "pins.txt").write_text("\n".join(pins) + "\n", encoding="utf-8")
        proc = subprocess.run([python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps",
                               "--only-binary=:all:", "--report", str(report), "-r", str(tmp / "pins.txt")],
                              capture_output=True, text=True, env=env)
        if proc.returncode == 0:
            break
        missing = re.search(r"No matching distribution found for (\S+)", proc.stdout + proc.stderr)
        if missing is None:
            raise RuntimeError((proc.stdout + proc.stderr)[-3000:])
        dropped.append(missing.group(1))
        pins.remove(missing.group(1))
    found = {}
    for item in json.loads(report.read_text(encoding="utf-8"))["install"]:
        meta = item["metadata"]
        found[f"{_norm(meta['name'])}=={meta['version']}"] = {
            "requires_dist": meta.get("requires_dist", []), "provides_extra": meta.get("provides_extra", [])}
    return found, dropped


def main(python: str) -> None:
    packages, missing = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([python, "-m", "venv", f"{tmp}/venv"], check=True)
        venv_python = str(Path(tmp, "venv", "bin", "python"))
        for snapshot in sorted(HERE.glob("pip-freeze*.txt")):
            lines = snapshot.read_text(encoding="utf-8").splitlines()
            pins = [line.strip() for line in lines if "==" in line and not line.startswith("#")]
            missing += [line.split(" @ ")[0].strip() for line in lines if " @ " in line]
            found, dropped = read_metadata(venv_python, pins, Path(tmp))
            packages.update(found)
            missing += dropped
    out = {"about": "Requires-Dist and Provides-Extra of Colab's packages (pip-freeze*.txt), read by pip from PyPI; "
                    "made by refresh_requires_dist.py",
           "left_out": sorted(set(missing)), "packages": dict(sorted(packages.items()))}
    (HERE / "requires-dist.json").write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"{len(packages)} packages, {len(set(missing))} left out: {sorted(set(missing))}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/colab/refresh_requires_dist.py PYTHON3.13")
    main(sys.argv[1])
