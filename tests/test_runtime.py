"""course_utils.runtime: device choice, seeding, fast mode, folders."""

import random

import numpy as np
import pytest
import torch

from course_utils import runtime
from course_utils.runtime import fast_mode, get_device, seed_everything

pytestmark = pytest.mark.unit


def test_device_defaults_to_best_available(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert get_device().type == expected


def test_device_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert get_device().type == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert get_device().type == "cuda"


def test_environment_variable_overrides(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    with pytest.raises(ValueError, match="not available"):
        get_device()
    monkeypatch.setenv("COURSE_DEVICE", "gpu-please")
    with pytest.raises(ValueError, match="not a device name"):
        get_device()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_device_is_usable():
    x = torch.ones(3, device=get_device("cuda"))
    assert x.sum().item() == 3


def test_seed_everything_makes_all_generators_repeat():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3)

    g1 = seed_everything(123)
    a = draw(), torch.rand(2, generator=g1)
    g2 = seed_everything(123)
    b = draw(), torch.rand(2, generator=g2)
    assert a[0][0] == b[0][0] and a[0][1] == b[0][1]
    assert torch.equal(a[0][2], b[0][2]) and torch.equal(a[1], b[1])
    seed_everything(124)
    assert not torch.equal(torch.rand(3), b[0][2])
    with pytest.raises(ValueError, match="non-negative int"):
        seed_everything(-1)


@pytest.mark.parametrize("ci, fast, expected", [
    (None, None, False), ("true", None, True), (None, "1", True), ("false", "0", False), ("0", "yes", True),
])
def test_fast_mode_flag(monkeypatch, ci, fast, expected):
    for var, value in (("CI", ci), ("COURSE_FAST", fast)):
        if value is None:
            monkeypatch.delenv(var, raising=False)
        else:
            monkeypatch.setenv(var, value)
    assert fast_mode() is expected


def test_figures_go_to_the_checkout_and_fast_runs_aside(monkeypatch, tmp_path):
    monkeypatch.delenv("COURSE_FIGURES_DIR", raising=False)
    (tmp_path / "course_utils").mkdir()
    (tmp_path / "notebooks" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "notebooks" / "deep")
    monkeypatch.setenv("COURSE_FAST", "1")
    assert runtime.figures_dir() == tmp_path / "figures" / "fast"
    monkeypatch.setenv("COURSE_FAST", "0")
    monkeypatch.delenv("CI", raising=False)
    assert runtime.figures_dir() == tmp_path / "figures"
    monkeypatch.setenv("COURSE_FIGURES_DIR", str(tmp_path / "mine"))
    assert runtime.figures_dir() == tmp_path / "mine"


def test_install_requirement_names_the_repository_and_extras(monkeypatch):
    from course_utils import runtime

    monkeypatch.setattr(runtime, "REPOSITORY", "someone/fork")
    monkeypatch.setattr(runtime, "VERSION", "1.2.3")
    assert runtime.install_requirement() == "course-utils @ git+https://github.com/someone/fork@v1.2.3"
    assert runtime.install_requirement(("grading",)) == "course-utils[grading] @ git+https://github.com/someone/fork@v1.2.3"
    assert runtime.install_requirement(ref="main").endswith("/someone/fork@main")
    for bad in ("grading", ("grading", "no such!")):
        with pytest.raises(ValueError, match="tuple of extra names"):
            runtime.install_requirement(bad)


def test_the_version_lives_in_one_place():
    import importlib.metadata
    import tomllib

    import course_utils
    from course_utils import runtime
    from tools.build import ROOT

    assert course_utils.__version__ == runtime.VERSION
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "course_utils.runtime.VERSION"}
    # the installed metadata (built from pyproject.toml) carries the same version
    assert importlib.metadata.version("course-utils") == runtime.VERSION


def test_repo_root_finds_the_checkout_from_any_folder_inside_it(tmp_path):
    (tmp_path / "course_utils").mkdir()
    (tmp_path / "notebooks" / "exercises").mkdir(parents=True)
    assert runtime.repo_root(tmp_path / "notebooks" / "exercises") == tmp_path
    assert runtime.repo_root(tmp_path) == tmp_path
    outside = tmp_path / "notebooks" / "exercises"  # a folder with no course_utils/ beside notebooks/ above it
    (tmp_path / "course_utils").rmdir()
    assert runtime.repo_root(outside) is None


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "mine"))
    assert runtime.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("COURSE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert runtime.cache_dir() == tmp_path / "xdg" / "course_utils"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert runtime.cache_dir() == tmp_path / "home" / ".cache" / "course_utils"
