"""MNIST that loads offline with verified bytes, plus fixed and dynamic binarization.

Introduced in notebooks/00_welcome.ipynb; the Bernoulli view of pixels is in 01_generative_models.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from .checks import check_pixels, draw_device
from .runtime import cache_dir

# MD5 and size of the *uncompressed* original IDX files (LeCun, Cortes, Burges).
MNIST_FILES = {
    "train-images-idx3-ubyte": ("6bbc9ace898e44ae57da46a324031adb", 47040016),
    "train-labels-idx1-ubyte": ("a25bea736e30d166cdddb491f175f624", 60008),
    "t10k-images-idx3-ubyte": ("2646ac647ad5339dbf082846283269ea", 7840016),
    "t10k-labels-idx1-ubyte": ("27ae3e4e09519cfbb04c329615203637", 10008),
}
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_CACHE_VERSION = 1


class MNISTNotFoundError(FileNotFoundError):
    """No copy of MNIST was found and none could be downloaded."""


class MNISTChecksumError(ValueError):
    """A MNIST file is truncated or corrupted (its bytes do not match the original's MD5)."""


def load_mnist(
    split: str = "train",
    root: str | os.PathLike | None = None,
    device: torch.device | str | None = None,
    download: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST images as floats in [0, 1] shaped (N, 1, 28, 28) and int64 labels shaped (N,).

    Looks in `root`, then `$COURSE_DATA_DIR`, then the per-user cache, then downloads with
    torchvision. Bytes are checked against the originals' MD5 once; the decoded tensors are then
    cached, so later loads skip decompression and checking.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    looked: list[str] = []
    for folder in candidate_folders(root):
        paths = find_split_files(folder, split)
        if paths is None:
            looked.append(f"{folder} (no {' / '.join(SPLITS[split])} [.gz])")
            continue
        images, labels = _load_cached_or_verify(paths)
        break
    else:
        folder = _download(split, looked) if download else None
        if folder is None:
            raise MNISTNotFoundError(_not_found_message(split, looked, download))
        images, labels = _load_cached_or_verify(find_split_files(folder, split))
    # Move as uint8 (4x less to copy), then scale on the device.
    images = images.to(device).unsqueeze(1).float().div_(255.0)  # (N, 1, 28, 28)
    return images, labels.to(device=device, dtype=torch.int64)


def binarize_dynamic(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A fresh Bernoulli sample of every pixel: P(pixel = 1) = grey level. New draw on each call."""
    check_pixels(x)
    return torch.bernoulli(x.to(draw_device(generator, x.device)), generator=generator).to(x.device)


def binarize_fixed(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Deterministic binarization: 1 where the grey level exceeds `threshold`, else 0."""
    check_pixels(x)
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    return (x > threshold).to(x.dtype)


def candidate_folders(root: str | Path | None = None) -> list[Path]:
    """Where load_mnist looks for the MNIST files, in order: `root`, $COURSE_DATA_DIR, the course cache."""
    folders = []
    if root is not None:
        folders.append(Path(root).expanduser())
    if os.environ.get("COURSE_DATA_DIR"):
        folders.append(Path(os.environ["COURSE_DATA_DIR"]).expanduser())
    folders.append(cache_dir() / "mnist")
    return folders


def find_split_files(folder: Path, split: str) -> tuple[Path, Path] | None:
    """The split's (images, labels) files in `folder` or its `MNIST/raw` (torchvision's layout), or None.

    Each file may be gzipped or not.
    """
    for base in (folder, folder / "MNIST" / "raw"):
        found = []
        for name in SPLITS[split]:
            path = next((p for p in (base / name, base / f"{name}.gz") if p.is_file()), None)
            found.append(path)
        if all(found):
            return found[0], found[1]
    return None


def _load_cached_or_verify(paths: tuple[Path, Path]) -> tuple[torch.Tensor, torch.Tensor]:
    """Decoded uint8 tensors from the cache if these exact files were verified before."""
    key = hashlib.sha1(repr(_CACHE_VERSION).encode())
    for path in paths:
        stat = path.stat()
        key.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    cached = cache_dir() / "decoded" / f"{paths[0].name.split('-')[0]}-{key.hexdigest()[:16]}.pt"
    if cached.is_file():
        try:
            blob = torch.load(cached, weights_only=True)
            return blob["images"], blob["labels"]
        except Exception:  # an unreadable cache entry is rebuilt, never trusted
            cached.unlink(missing_ok=True)
    images, labels = (_decode_idx(_read_verified(p)) for p in paths)
    if len(images) != len(labels):
        raise MNISTChecksumError(f"{paths[0]} has {len(images)} images but {paths[1]} has {len(labels)} labels")
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".tmp{os.getpid()}")
    torch.save({"images": images, "labels": labels}, tmp)
    os.replace(tmp, cached)  # atomic: a crash never leaves half a cache file
    return images, labels


def _read_verified(path: Path) -> bytes:
    """The uncompressed bytes of one IDX file, checked against the original's size and MD5."""
    name = path.name.removesuffix(".gz")
    expected_md5, expected_size = MNIST_FILES[name]
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise MNISTChecksumError(
            f"{path} is truncated or corrupted: it does not decompress ({err}). "
            "Delete it and download MNIST again, or point COURSE_DATA_DIR at a good copy."
        ) from err
    md5 = hashlib.md5(data).hexdigest()
    if md5 != expected_md5 or len(data) != expected_size:
        raise MNISTChecksumError(
            f"{path} is truncated or corrupted: checksum mismatch, uncompressed MD5 {md5} "
            f"({len(data)} bytes) but the original {name} has MD5 {expected_md5} "
            f"({expected_size} bytes). Delete it and download MNIST again, "
            "or point COURSE_DATA_DIR at a good copy."
        )
    return data


def _decode_idx(data: bytes) -> torch.Tensor:
    """An IDX file's payload as a uint8 tensor: magic 0x0801 = labels (N,), 0x0803 = images (N, 28, 28)."""
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)
    return torch.from_numpy(array.copy())


def _download(split: str, looked: list[str]) -> Path | None:
    """torchvision's download into the per-user cache; None when there is no network."""
    from torchvision.datasets import MNIST

    target = cache_dir() / "mnist"
    try:
        MNIST(root=str(target), train=split == "train", download=True)
    except Exception as err:  # no network, a proxy, a mirror down: report where we looked instead
        looked.append(f"download with torchvision into {target} failed: {type(err).__name__}: {err}")
        return None
    return target


def _not_found_message(split: str, looked: list[str], download: bool) -> str:
    places = "\n".join(f"  - {place}" for place in looked)
    if not download:
        places += "\n  - (download=False: torchvision's download was not tried)"
    return (
        f"MNIST ({split}) not found. Looked in:\n{places}\n"
        "To fix: connect to the internet and run again (torchvision downloads it into the cache), "
        "or download the four IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) into a folder and set "
        "COURSE_DATA_DIR to it, or pass root=... to load_mnist."
    )
