"""course_utils.data: offline MNIST with verified bytes, the cache, binarization, and the errors."""

import gzip
import os
from pathlib import Path

import pytest
import torch

from course_utils import data
from course_utils.data import (
    MNISTChecksumError,
    MNISTNotFoundError,
    binarize_dynamic,
    binarize_fixed,
    load_mnist,
)
from tests.stats import assert_bounded_mean

pytestmark = pytest.mark.integration

# Facts of the dataset (from its distribution's README), not numbers from a run.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
SOURCE = Path(os.environ.get("COURSE_DATA_DIR", ""))
needs_data = pytest.mark.skipif(not (SOURCE / "t10k-images-idx3-ubyte.gz").is_file()
                                and not (SOURCE / "t10k-images-idx3-ubyte").is_file(),
                                reason="set COURSE_DATA_DIR to a folder with the MNIST IDX files")


@needs_data
@pytest.mark.parametrize("split, n, counts, first", [
    ("train", 60_000, TRAIN_COUNTS, [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]),
    ("test", 10_000, TEST_COUNTS, [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]),
])
def test_offline_load_matches_dataset_facts(split, n, counts, first):
    images, labels = load_mnist(split)
    assert images.shape == (n, 1, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (n,) and labels.dtype == torch.int64
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert torch.bincount(labels, minlength=10).tolist() == counts
    assert labels[:10].tolist() == first


@needs_data
def test_training_pixel_statistics():
    images, _ = load_mnist("train")
    assert images.mean().item() == pytest.approx(0.1307, abs=5e-5)
    assert images.std().item() == pytest.approx(0.3081, abs=5e-5)


def _original(name: str) -> bytes:
    """The uncompressed bytes of one IDX file, whether the data folder holds it gzipped or not."""
    gz = SOURCE / f"{name}.gz"
    return gzip.decompress(gz.read_bytes()) if gz.is_file() else (SOURCE / name).read_bytes()


def _copy(tmp_path: Path, gzipped: bool) -> Path:
    """The test split's two files in a fresh folder, gzipped or uncompressed."""
    folder = tmp_path / ("gz" if gzipped else "raw")
    folder.mkdir()
    for name in data.SPLITS["test"]:
        if gzipped:
            (folder / f"{name}.gz").write_bytes(gzip.compress(_original(name)))
        else:
            (folder / name).write_bytes(_original(name))
    return folder


@needs_data
@pytest.mark.parametrize("gzipped", [True, False])
def test_explicit_root_gzipped_or_not(tmp_path, monkeypatch, gzipped):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("COURSE_DATA_DIR")
    images, labels = load_mnist("test", root=_copy(tmp_path, gzipped), download=False)
    assert images.shape == (10_000, 1, 28, 28)
    assert torch.bincount(labels).tolist() == TEST_COUNTS


@needs_data
def test_second_load_uses_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    first = load_mnist("test")

    def must_not_run(path):
        raise AssertionError(f"{path} was decompressed and checked again instead of read from the cache")

    monkeypatch.setattr(data, "_read_verified", must_not_run)
    second = load_mnist("test")
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert list((tmp_path / "cache" / "decoded").glob("t10k-*.pt"))


@needs_data
@pytest.mark.parametrize("damage", ["flip_byte", "truncate"])
def test_corrupted_copy_names_the_file_and_checksum(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    folder = _copy(tmp_path, gzipped=False)
    victim = folder / "t10k-images-idx3-ubyte"
    raw = bytearray(victim.read_bytes())
    if damage == "flip_byte":
        raw[5000] ^= 0xFF
    else:
        raw = raw[: len(raw) // 2]
    victim.write_bytes(bytes(raw))
    with pytest.raises(MNISTChecksumError, match=r"t10k-images-idx3-ubyte.*checksum mismatch"):
        load_mnist("test", root=folder, download=False)
    assert not list((tmp_path / "cache").rglob("*.pt")), "a corrupted file must never be cached"


@needs_data
def test_truncated_gzip_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    folder = _copy(tmp_path, gzipped=True)
    victim = folder / "t10k-labels-idx1-ubyte.gz"
    victim.write_bytes(victim.read_bytes()[:1000])
    with pytest.raises(MNISTChecksumError, match="t10k-labels-idx1-ubyte.gz is truncated or corrupted"):
        load_mnist("test", root=folder, download=False)


def test_missing_folder_lists_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "no-such-folder"))

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr("torchvision.datasets.MNIST", offline)
    with pytest.raises(MNISTNotFoundError) as err:
        load_mnist("train", root=tmp_path / "also-missing")
    message = str(err.value)
    for place in ("also-missing", "no-such-folder", "empty-cache", "download with torchvision", "no network"):
        assert place in message
    assert "COURSE_DATA_DIR" in message and "To fix" in message


def test_bad_split_is_a_value_error():
    with pytest.raises(ValueError, match="'train' or 'test'"):
        load_mnist("validation")


def test_dynamic_binarization_is_fresh_each_call_and_reproducible():
    x = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    a, b = binarize_dynamic(x, g), binarize_dynamic(x, g)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert not torch.equal(a, b), "each call must draw a fresh sample"
    again = binarize_dynamic(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, again), "the same generator state must give the same sample"
    # The mean of many draws approaches the grey levels (Bernoulli(p) has mean p and variance p (1 - p));
    # many grey levels are near 0 (a handful of successes in 400 draws), so Bernstein's bound, not the normal law.
    mean = torch.stack([binarize_dynamic(x, g) for _ in range(400)]).mean(0)
    assert_bounded_mean(mean, x, x.double() * (1 - x.double()), 400, "the mean of 400 binarizations")


def test_fixed_binarization_thresholds():
    x = torch.tensor([0.0, 0.49, 0.5, 0.51, 1.0])
    assert binarize_fixed(x).tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert binarize_fixed(x, threshold=0.2).tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("bad, message", [
    (torch.tensor([0.0, 255.0]), r"\[0, 1\]"),
    (torch.tensor([0, 1], dtype=torch.uint8), "divide by 255"),
])
def test_binarization_rejects_pixels_outside_unit_interval(bad, message):
    with pytest.raises(ValueError, match=message):
        binarize_dynamic(bad)
    with pytest.raises(ValueError, match=message):
        binarize_fixed(bad)


@needs_data
def test_load_onto_a_device():
    images, labels = load_mnist("test", device="cpu")
    assert images.device.type == "cpu" and labels.device.type == "cpu"
    if torch.cuda.is_available():
        images, labels = load_mnist("test", device="cuda")
        assert images.is_cuda and labels.is_cuda


@needs_data
def test_load_mnist_looks_in_root_then_the_environment_then_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "env"))
    assert data.candidate_folders(tmp_path / "root") == [tmp_path / "root", tmp_path / "env",
                                                         tmp_path / "cache" / "mnist"]
    monkeypatch.delenv("COURSE_DATA_DIR")
    assert data.candidate_folders() == [tmp_path / "cache" / "mnist"]
    folder = _copy(tmp_path, gzipped=True)
    images, labels = (folder / f"{name}.gz" for name in data.SPLITS["test"])
    assert data.find_split_files(folder, "test") == (images, labels)
    assert data.find_split_files(folder, "train") is None
    raw = tmp_path / "tv" / "MNIST" / "raw"  # torchvision's layout, uncompressed
    raw.mkdir(parents=True)
    for name in data.SPLITS["test"]:
        (raw / name).write_bytes(b"")
    assert data.find_split_files(tmp_path / "tv", "test") == tuple(raw / name for name in data.SPLITS["test"])
