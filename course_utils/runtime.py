"""Where the course runs: repository address, device, seeding, fast mode and output folders.

Used by the setup cell at the top of every notebook (see notebooks/00_welcome.ipynb).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

# The course's home. A fork changes these two lines, then runs `python tools/build.py`
# to rewrite every notebook's setup cell and the README's Colab badges.
REPOSITORY = "generative-models-course/vae-course"
BRANCH = "main"
# The package version, in this one place (pyproject.toml and course_utils.__version__ read it). Setup cells
# install the git tag v<VERSION>, so a notebook copied to Colab long ago still gets the package it was built
# with. A release: bump VERSION, run `python tools/build.py`, commit, then tag and push v<VERSION>.
VERSION = "0.1.0"

_FALSE = {"", "0", "false", "no", "off"}


def repository_url() -> str:
    """The course repository's web address (what Colab badges and the Colab install point at)."""
    return f"https://github.com/{REPOSITORY}"


def install_requirement(extras: tuple[str, ...] = (), *, ref: str | None = None) -> str:
    """The pip requirement that installs the course package (with `extras`) at tag v<VERSION> (or `ref`)."""
    if isinstance(extras, str) or not all(isinstance(e, str) and e.isidentifier() for e in extras):
        raise ValueError(f"extras must be a tuple of extra names such as ('grading',), got {extras!r}")
    extra = f"[{','.join(extras)}]" if extras else ""
    return f"course-utils{extra} @ git+{repository_url()}@{ref or 'v' + VERSION}"


def fast_mode() -> bool:
    """True when `CI` or `COURSE_FAST` is set: notebooks shrink epochs and data so they run in CI."""
    return any(os.environ.get(var, "").strip().lower() not in _FALSE for var in ("CI", "COURSE_FAST"))


def get_device(preferred: str | None = None) -> torch.device:
    """CUDA if present, then Apple MPS, then CPU; `preferred` or `COURSE_DEVICE` overrides."""
    choice = preferred or os.environ.get("COURSE_DEVICE")
    if choice:
        try:
            device = torch.device(choice)
        except RuntimeError as err:
            raise ValueError(
                f"COURSE_DEVICE={choice!r} is not a device name; use 'cpu', 'cuda', 'cuda:0' or 'mps'."
            ) from err
        available = {
            "cpu": True,
            "cuda": torch.cuda.is_available(),
            "mps": torch.backends.mps.is_available(),
        }.get(device.type, False)
        if not available:
            raise ValueError(
                f"Device {choice!r} was requested but is not available on this machine; "
                "unset COURSE_DEVICE (or pick 'cpu') to let the course choose."
            )
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (CPU and CUDA); returns a CPU generator seeded the same way."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def repo_root(start: Path | None = None) -> Path | None:
    """The course checkout containing `start` (default: the working directory), or None (Colab)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "course_utils").is_dir() and (folder / "notebooks").is_dir():
            return folder
    return None


def figures_dir() -> Path:
    """Folder for saved figures: `COURSE_FIGURES_DIR`, else the checkout's `figures/` (else ./figures).

    In fast mode figures go to `figures/fast/` (ignored by git), so a CI or test run never
    overwrites the figures committed from a full run.
    """
    if os.environ.get("COURSE_FIGURES_DIR"):
        folder = Path(os.environ["COURSE_FIGURES_DIR"])
    else:
        root = repo_root()
        folder = (root if root is not None else Path.cwd()) / "figures"
        if fast_mode():
            folder = folder / "fast"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def cache_dir() -> Path:
    """Per-user cache: `COURSE_CACHE_DIR`, else `$XDG_CACHE_HOME/course_utils` or ~/.cache/course_utils."""
    if os.environ.get("COURSE_CACHE_DIR"):
        return Path(os.environ["COURSE_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "course_utils"
