"""What the setup cell's pip install changes in a fresh Colab runtime, resolved by pip itself.

The model of Colab: a Python 3.13 virtual environment (Colab's Python) holding a stand-in for every package
of a committed snapshot of Colab's preinstalled set (tests/colab/, Google's published `pip freeze` of the
CPU and GPU runtimes): its name, version, and the Requires-Dist and extras of the real release
(tests/colab/requires-dist.json), so that `pip check` there reports what it would in Colab. In it
`pip install --dry-run --report` resolves the setup cell's requirement (this checkout in place of the git
tag) with the cell's torch/torchvision pins, against PyPI.
pip keeps an installed package that satisfies a requirement, as it does in Colab, so the report's
`install` list is exactly what the cell would add, upgrade or downgrade there. Needs PyPI (as CI has) and a
Python 3.13 (on PATH or under pyenv); without one the tests skip, saying so. (Resolving with the host's
Python and pip's --python-version instead evaluates markers for the wrong Python and backtracked for minutes.)
"""

import glob
import json
import os
import re
import shutil
import subprocess
import urllib.parse
import zipfile
from pathlib import Path

import pytest

from course_utils import runtime
from tests.venvs import venv_python
from tools.build import ROOT, SETUP_CELL, STUDENT, exercise_sources

pytestmark = pytest.mark.pipeline

SNAPSHOTS = sorted((ROOT / "tests" / "colab").glob("pip-freeze*.txt"))


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_snapshot(path: Path) -> dict[str, str]:
    """{normalized name: version} of a `pip freeze`; a URL line's version comes from its file name."""
    packages = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "==" in line:
            name, version = line.split("==", 1)
        else:  # "name @ https://.../name-1.2.3+cpu-cp313-....whl" or a git/file reference
            name, url = (part.strip() for part in line.split(" @ ", 1))
            filename = urllib.parse.unquote(url.split("#")[0].rstrip("/").rsplit("/", 1)[-1])
            match = re.match(r"[^-]+-(\d[^-]*?)(?:-|\.tar\.gz$|\.zip$)", filename)
            version = match.group(1) if match else "0"
        packages[_norm(name)] = version
    return packages


def _python313() -> str | None:
    """A Python 3.13 interpreter (Colab's version) on this machine, or None."""
    pyenv = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    for candidate in [shutil.which("python3.13"), *sorted(glob.glob(f"{pyenv}/versions/3.13*/bin/python3.13"))]:
        if candidate and subprocess.run([candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 13)"],
                                        capture_output=True).returncode == 0:
            return candidate
    return None


# The real Requires-Dist (and Provides-Extra) of the snapshots' packages, as pip read them from PyPI (see
# tests/colab/README.md); a package PyPI has no wheel of, or that Colab installs from elsewhere, is left out.
REQUIRES_DIST = ROOT / "tests" / "colab" / "requires-dist.json"


def _metadata_lines(meta: dict | None) -> str:
    """METADATA lines for a package's requirements and extras (pip's report format); none if unknown."""
    if not meta:
        return ""
    return "".join([*(f"Requires-Dist: {r}\n" for r in meta.get("requires_dist", [])),
                    *(f"Provides-Extra: {e}\n" for e in meta.get("provides_extra", []))])


def _pip_env(tmp: Path) -> dict[str, str]:
    """This environment minus pip's own configuration (machine-local indexes and caps): PyPI alone."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k not in ("PYTHONPATH",)}
    keep = {k: os.environ[k] for k in ("PIP_CERT", "PIP_INDEX_URL", "PIP_DEFAULT_TIMEOUT") if k in os.environ}
    return {**env, **keep, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_CACHE_DIR": str(tmp / "pip-cache"), "PYTHONNOUSERSITE": "1"}


class FakeColab:
    """A venv whose installed packages are a Colab snapshot's names and versions."""

    def __init__(self, tmp: Path, snapshot_file: Path):
        self.name = "GPU runtime" if "gpu" in snapshot_file.name else "CPU runtime"
        self.tmp, self.snapshot, self.env = tmp, read_snapshot(snapshot_file), _pip_env(tmp)
        python313 = _python313()
        if python313 is None:
            pytest.skip("needs a Python 3.13 (Colab's) to resolve as Colab does: e.g. `pyenv install 3.13`")
        self.python = str(venv_python(tmp / "colab"))
        subprocess.run([python313, "-m", "venv", str(tmp / "colab")], check=True, timeout=300)
        self.site = Path(self._run("-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
        requires = json.loads(REQUIRES_DIST.read_text(encoding="utf-8"))["packages"]
        for name, version in self.snapshot.items():
            if name != "pip":  # the venv's own pip stands in for Colab's
                self._write_metadata(name, version, _metadata_lines(requires.get(f"{name}=={version}")))

    def _run(self, *args: str) -> str:
        """stdout and stderr of this venv's Python run with `args`; fails the test if it fails."""
        proc = subprocess.run([self.python, *args], capture_output=True, text=True, env=self.env, timeout=300)
        assert proc.returncode == 0, f"{args}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        return proc.stdout + proc.stderr

    def _pip(self, *args: str) -> str:
        return self._run("-m", "pip", *args)

    def _write_metadata(self, name: str, version: str, extras: str) -> None:
        folder = self.site / f"{name.replace('-', '_')}-{version}.dist-info"
        folder.mkdir(exist_ok=True)
        metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{extras}"
        (folder / "METADATA").write_text(metadata, encoding="utf-8")
        (folder / "INSTALLER").write_text("pip\n", encoding="utf-8")

    def add_real_extras(self, name: str) -> None:
        """Give an installed stand-in the extras its real release declares (from PyPI's wheel)."""
        out = self.tmp / "extras" / name
        self._pip("download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(out),
                  f"{name}=={self.snapshot[name]}")
        with zipfile.ZipFile(next(out.glob("*.whl"))) as wheel:
            metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
            lines = wheel.read(metadata).decode().splitlines()
        extras = [line for line in lines if line.startswith("Provides-Extra:")
                  or (line.startswith("Requires-Dist:") and "extra ==" in line.replace('"', "'"))]
        self._write_metadata(name, self.snapshot[name], "\n".join(extras) + "\n")

    def resolve(self, extras: tuple[str, ...]) -> dict[str, str]:
        """{name: version} that the setup cell's `pip install` (with `extras`) would install here."""
        requirement = _local_requirement(extras, self.tmp)
        pins = self.tmp / "course_pins.txt"  # the setup cell pins Colab's torch and torchvision
        pins.write_text("".join(f"{p}=={self.snapshot[p]}\n" for p in ("torch", "torchvision")), encoding="utf-8")
        report = self.tmp / "report.json"
        for _ in range(5):  # an installed package's extras asked for: make its stand-in real, resolve again
            out = self._pip("install", "--dry-run", "--report", str(report), "-c", str(pins), requirement)
            missing = re.findall(r"WARNING: (\S+) \S+ does not provide the extra", out)
            missing = sorted({_norm(m) for m in missing} & set(self.snapshot))
            if not missing:
                break
            for name in missing:
                self.add_real_extras(name)
        self.report = json.loads(report.read_text(encoding="utf-8"))["install"]
        return {_norm(item["metadata"]["name"]): item["metadata"]["version"] for item in self.report}

    def conflicts(self) -> set[str]:
        """What `pip check` reports in this venv: installed packages whose Requires-Dist are not met."""
        proc = subprocess.run([self.python, "-m", "pip", "check"], capture_output=True, text=True, env=self.env,
                              timeout=300)
        return {line for line in proc.stdout.splitlines() if line.strip() and "No broken requirements" not in line}

    def add_probe(self, name: str, lines: str) -> None:
        """A made-up installed package with these METADATA lines (to show that `pip check` reads them)."""
        self._write_metadata(name, "1.0", lines)

    def install_report(self) -> None:
        """Put what the last resolution would install in place (stand-ins with their real Requires-Dist)."""
        for item in self.report:
            meta = item["metadata"]
            for old in self.site.glob(f"{_norm(meta['name']).replace('-', '_')}-*.dist-info"):
                shutil.rmtree(old)
            self._write_metadata(_norm(meta["name"]), meta["version"], _metadata_lines(meta))


def _local_requirement(extras: tuple[str, ...], tmp: Path) -> str:
    """The setup cell's requirement with this checkout (copied, so nothing is built in it) for the git tag."""
    requirement = runtime.install_requirement(extras)
    source = tmp / "course"
    shutil.rmtree(source, ignore_errors=True)
    shutil.copytree(ROOT / "course_utils", source / "course_utils", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    tag = f"git+{runtime.repository_url()}@v{runtime.VERSION}"
    assert tag in requirement
    return requirement.replace(tag, source.as_uri())


def changes(installed: dict[str, str], snapshot: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """({name: 'old -> new'} for preinstalled packages pip would replace, [new packages])."""
    changed = {n: f"{snapshot[n]} -> {v}" for n, v in installed.items() if n in snapshot}
    return changed, sorted(f"{n} {v}" for n, v in installed.items() if n not in snapshot)


@pytest.fixture(scope="module", params=SNAPSHOTS, ids=lambda p: p.stem)
def colab(request, tmp_path_factory):
    """A fake fresh Colab runtime (CPU, then GPU), shared by the lesson's and the exercise's resolution."""
    return FakeColab(tmp_path_factory.mktemp(request.param.stem), request.param)


def test_a_lessons_colab_install_changes_nothing_preinstalled(colab):
    assert runtime.install_requirement() in SETUP_CELL
    # pip's own verdict, first on Colab's image as it is: the stand-ins carry their real Requires-Dist, so `pip
    # check` sees what it sees in Colab (whose IPython 7.34 requires jedi, which Colab does not install).
    before = colab.conflicts()
    missing = {_norm(m) for line in before for m in re.findall(r"requires (\S+), which is not installed", line)}
    changed, new = changes(colab.resolve(()), colab.snapshot)
    print(f"\nColab {colab.name}, a lesson's install: changes {changed or 'nothing'}; adds {new}; "
          f"Colab's own unmet requirements: {sorted(missing)}")
    assert not changed, f"a lesson's install would replace preinstalled packages: {changed}"
    # pip also installs what a package the course requires (IPython) requires and Colab lacks; nothing else
    extra = [item for item in new if item.split()[0] not in missing | {"course-utils"}]
    assert f"course-utils {runtime.VERSION}" in new and not extra, f"a lesson's install would add {extra}"
    colab.install_report()
    added = colab.conflicts() - before
    assert not added, f"after the course's install pip would report conflicts: {sorted(added)}"
    colab.add_probe("course-check-probe", "Requires-Dist: course-utils>9999\n")  # pip check must see a conflict
    assert any("course-check-probe" in line for line in colab.conflicts() - before), "pip check saw nothing"


def test_an_exercise_installs_exactly_what_a_lesson_installs():
    # grader.check runs the packaged public tests itself (course_utils.grading.student), so an exercise's setup
    # cell is the lesson's: its Colab install changes nothing either (the test above), and otter stays out.
    for source in exercise_sources():
        cells = json.loads((STUDENT / source.name).read_text(encoding="utf-8"))["cells"]
        first = next(c for c in cells if c["cell_type"] == "code")
        assert "".join(first["source"]) == SETUP_CELL, f"{source.name}: run `python tools/build.py`"
    assert "[grading]" not in SETUP_CELL
