"""course_utils.checks: the shared input checks accept what the course passes and say what to do otherwise."""

import pytest
import torch

from course_utils import checks, data, models

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("shape", [(5, 784), (5, 28, 28), (5, 1, 28, 28)])
def test_flatten_images_gives_the_same_rows_for_every_layout(shape):
    x = torch.rand(5, 784, generator=torch.Generator().manual_seed(0))
    rows = checks.flatten_images(x.reshape(shape), 784)
    assert torch.equal(rows, x)  # row n holds image n's pixels in reading order
    assert torch.equal(checks.flatten_images(x.reshape(shape)), x)  # without num_pixels: any D


@pytest.mark.parametrize("x, num_pixels, message", [
    (torch.zeros(784), 784, "single image needs x.unsqueeze"),
    (torch.zeros(5, 3, 28, 28), 784, "one channel"),
    (torch.zeros(5, 100), 784, "784 pixels"),
    (torch.zeros(5, 784, dtype=torch.uint8), 784, "divide by 255"),
    ([[0.0, 1.0]], None, "divide by 255"),
])
def test_flatten_images_says_what_to_do(x, num_pixels, message):
    with pytest.raises(ValueError, match=message):
        checks.flatten_images(x, num_pixels)


def test_flatten_images_does_not_check_the_range_but_flatten_pixels_does():
    x = torch.full((2, 4), 3.0)
    assert torch.equal(checks.flatten_images(x), x)
    with pytest.raises(ValueError, match=r"targets must hold pixels in \[0, 1\] but ranges over \[3, 3\]"):
        checks.flatten_pixels(x, what="targets")
    assert torch.equal(checks.flatten_pixels(x / 3, 4), x / 3)


@pytest.mark.parametrize("bad, message", [
    (torch.tensor([0.5, 1.5]), r"ranges over \[0.5, 1.5\]"),
    (torch.tensor([0.5, float("nan")]), r"\[0, 1\]"),
    (torch.tensor([0, 255]), "divide by 255"),
    ([0.5], "got list"),
])
def test_check_pixels_refuses_what_is_not_a_pixel(bad, message):
    with pytest.raises(ValueError, match=message):
        checks.check_pixels(bad, "x")
    checks.check_pixels(torch.tensor([0.0, 0.25, 1.0]))  # the two ends are pixels
    checks.check_pixels(torch.empty(0, 784))  # an empty batch has nothing wrong with it


def test_the_modules_keep_the_names_their_callers_import():
    assert data.check_pixels is checks.check_pixels  # train.py and notebooks import it from data
    assert models.flatten_images is checks.flatten_images  # train.py imports it from models


def test_match_targets_reshapes_targets_like_the_logits():
    x = torch.rand(3, 1, 2, 2, generator=torch.Generator().manual_seed(1))
    assert torch.equal(checks.match_targets(torch.zeros(3, 4), x), x.reshape(3, 4))
    with pytest.raises(ValueError, match="do not match"):
        checks.match_targets(torch.zeros(3, 4), x[:2])
    with pytest.raises(ValueError, match="do not match"):
        checks.match_targets(torch.zeros(3, 5), x)
    with pytest.raises(ValueError, match="decode"):
        checks.match_targets(torch.zeros(3, 2, 2), x)
    with pytest.raises(ValueError, match=r"targets x must hold pixels in \[0, 1\]"):
        checks.match_targets(torch.zeros(3, 4), 2 * x + 1)


def test_check_pixel_probs():
    checks.check_pixel_probs(torch.tensor([[0.0, 0.5, 1.0]]), 3)
    with pytest.raises(ValueError, match=r"model.probs has shape \(2, 4\) but the images have 3 pixels"):
        checks.check_pixel_probs(torch.full((2, 4), 0.5), 3, "model.probs")
    with pytest.raises(ValueError, match="torch.sigmoid"):
        checks.check_pixel_probs(torch.tensor([-2.0, 3.0]), 2)
    with pytest.raises(ValueError, match="float tensor"):
        checks.check_pixel_probs(torch.tensor([0, 1]), 2)


def test_check_distribution_returns_floats_and_says_what_is_wrong():
    p = checks.check_distribution([1, 0])
    assert p.dtype == torch.get_default_dtype() and p.tolist() == [1.0, 0.0]
    for bad, message in [([0.5, 0.6], "does not sum to one"), ([1.5, -0.5], "negative"),
                         ([float("nan"), 1.0], "NaN"), ([], "at least one outcome")]:
        with pytest.raises(ValueError, match=message):
            checks.check_distribution(bad, "q")
    with pytest.raises(ValueError, match="^q does not sum"):
        checks.check_distribution([0.5, 0.6], "q")  # the message names the argument


def test_check_gaussian_checks_shapes_rows_and_latent_dim():
    mu = torch.zeros(4, 3)
    checks.check_gaussian(mu, torch.zeros(4, 3), rows=4, latent_dim=3)
    with pytest.raises(ValueError, match="must match"):
        checks.check_gaussian(mu, torch.zeros(4, 2))
    with pytest.raises(ValueError, match="B = 5 images"):
        checks.check_gaussian(mu, mu, rows=5)
    with pytest.raises(ValueError, match="latent_dim = 2"):
        checks.check_gaussian(mu, mu, latent_dim=2)


@pytest.mark.parametrize("value", [0, -1, 2.0, True, "3"])
def test_check_count_wants_a_positive_int(value):
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        checks.check_count(value, "num_samples")
    checks.check_count(1, "num_samples")


def test_check_labels_gives_int64_labels_and_names_what_is_wrong():
    labels = checks.check_labels(torch.tensor([3, 0, 9], dtype=torch.uint8), 3, "train_y", num_classes=10)
    assert labels.dtype == torch.int64 and labels.tolist() == [3, 0, 9]
    for bad, message in [(torch.tensor([1.0, 2.0, 3.0]), "dtype torch.float32"), ([1, 2, 3], "got list"),
                         (torch.tensor([1, 2]), r"shape \(2,\)"), (torch.tensor([1, 2, 10]), r"\[0, 10\)"),
                         (torch.tensor([True, False, True]), "dtype torch.bool")]:
        with pytest.raises(ValueError, match=f"^train_y.*{message}"):
            checks.check_labels(bad, 3, "train_y", num_classes=10)


@pytest.mark.unit
def test_check_labels_refuses_negative_labels_even_without_num_classes():
    with pytest.raises(ValueError, match=r"must lie in \[0\), got values from -1"):
        checks.check_labels(torch.tensor([0, -1, 2]), 3)


@pytest.mark.unit
def test_random_numbers_are_drawn_where_the_generator_lives():
    assert checks.draw_device(None, "cpu") == torch.device("cpu")
    assert checks.draw_device(torch.Generator(), "meta") == torch.device("cpu")  # a CPU generator draws on the CPU
