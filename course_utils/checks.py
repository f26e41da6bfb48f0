"""The input checks every module shares: images and pixels, probabilities, Gaussian parameters, counts.

Each check raises `ValueError` saying what was wrong and what to do; `what` names the argument in that
message ("x", "targets x", "model.probs", ...). Lessons and exercises see these messages when a tensor
has the wrong shape or range, so they speak the course's words: pixels in [0, 1], (N, 784) batches,
mu and logvar as `model.encode(x)` returns them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

SUM_TOLERANCE = 1e-4  # float32 sums of a few thousand probabilities stay well inside this


def check_pixels(x: torch.Tensor, what: str = "x") -> None:
    """ValueError unless `x` holds float pixels in [0, 1] (no NaN): the course's images and targets."""
    if not torch.is_tensor(x) or not torch.is_floating_point(x):
        kind = f"dtype {x.dtype}" if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"{what} should hold float pixels in [0, 1], got {kind}; divide by 255 first")
    if x.numel() == 0:
        return
    lo, hi = x.min().item(), x.max().item()
    if not (0.0 <= lo and hi <= 1.0):  # a NaN fails both comparisons
        raise ValueError(f"{what} must hold pixels in [0, 1] but ranges over [{lo:.3g}, {hi:.3g}]")


def flatten_images(x: torch.Tensor, num_pixels: int | None = None, what: str = "x") -> torch.Tensor:
    """A float batch (N, D), (N, H, W) or (N, 1, H, W) as rows (N, D); D must be `num_pixels` if given.

    Checks the dtype and the shape only, not the pixel range (a model's encode calls it on every batch).
    """
    if not torch.is_tensor(x) or not torch.is_floating_point(x):
        kind = f"dtype {x.dtype}" if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"{what} should hold float pixels in [0, 1], got {kind}; divide by 255 first")
    expected = ("(N, D), (N, H, W) or (N, 1, H, W)" if num_pixels is None
                else f"(N, {num_pixels}) or (N, 1, H, W) with H·W = {num_pixels}")
    if x.dim() not in (2, 3, 4) or (x.dim() == 4 and x.shape[1] != 1):
        raise ValueError(f"{what} has shape {tuple(x.shape)}: expected a batch of images with one channel, {expected}; "
                         "a single image needs x.unsqueeze(0)")
    rows = x.flatten(1)  # (N, D)
    if num_pixels is not None and rows.shape[1] != num_pixels:
        raise ValueError(f"{what} has shape {tuple(x.shape)}: expected a batch of images with {num_pixels} pixels "
                         f"each, {expected}; a single image needs x.unsqueeze(0)")
    return rows


def flatten_pixels(x: torch.Tensor, num_pixels: int | None = None, what: str = "x") -> torch.Tensor:
    """`flatten_images` and `check_pixels` together: images as rows (N, D) of pixels in [0, 1]."""
    rows = flatten_images(x, num_pixels, what)
    check_pixels(rows, what)
    return rows


def match_targets(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Targets x as rows shaped like the decoder's `logits` (B, D), after checking their pixels."""
    if logits.dim() != 2:
        raise ValueError(f"logits must be (B, input_dim) as returned by decode(z), got {tuple(logits.shape)}")
    if not torch.is_tensor(x) or x.dim() < 2 or len(x) != len(logits) or x.shape[1:].numel() != logits.shape[1]:
        raise ValueError(f"targets x of shape {tuple(getattr(x, 'shape', ()))} do not match logits "
                         f"{tuple(logits.shape)}: pass the same images the model encoded, (B, 1, 28, 28) or (B, 784)")
    return flatten_pixels(x, logits.shape[1], "targets x")


def check_pixel_probs(probs: torch.Tensor, num_pixels: int, what: str = "probs") -> None:
    """ValueError unless `probs` is a float tensor (..., num_pixels) of Bernoulli pixel probabilities in [0, 1]."""
    if not torch.is_tensor(probs) or not torch.is_floating_point(probs):
        raise ValueError(f"{what} should be a float tensor of pixel probabilities")
    if probs.dim() == 0 or probs.shape[-1] != num_pixels:
        raise ValueError(f"{what} has shape {tuple(probs.shape)} but the images have {num_pixels} pixels: "
                         f"expected (..., {num_pixels}), one probability per pixel")
    if torch.isnan(probs).any() or probs.min() < 0 or probs.max() > 1:
        raise ValueError(f"{what} must lie in [0, 1]; are these logits? use torch.sigmoid(logits)")


def check_distribution(p: torch.Tensor | Sequence[float], what: str = "p") -> torch.Tensor:
    """`p` as a float tensor after checking it is a probability vector (sums to one) along its last dim."""
    p = torch.as_tensor(p)
    if not p.is_floating_point():
        p = p.to(torch.get_default_dtype())
    if p.ndim == 0 or p.shape[-1] == 0:
        raise ValueError(f"{what} must have at least one outcome along its last dim, got shape {tuple(p.shape)}")
    if not torch.isfinite(p).all():
        raise ValueError(f"{what} contains NaN or infinite entries")
    if (p < 0).any():
        raise ValueError(f"{what} has negative entries (smallest {p.min().item():.3g}); probabilities are >= 0")
    worst = (p.sum(dim=-1) - 1.0).abs().max().item()
    if worst > SUM_TOLERANCE:
        raise ValueError(f"{what} does not sum to one along its last dim (off by up to {worst:.3g}); "
                         "divide by its sum, or use softmax on logits")
    return p


def check_gaussian(mu: torch.Tensor, logvar: torch.Tensor, *, rows: int | None = None,
                   latent_dim: int | None = None) -> None:
    """ValueError unless mu and logvar of a diagonal Gaussian have the same shape (and the given sizes).

    `rows`: the number of images they belong to (their first dim); `latent_dim`: their last dim.
    """
    if mu.shape != logvar.shape:
        raise ValueError(f"mu has shape {tuple(mu.shape)} but logvar has {tuple(logvar.shape)}; they must match "
                         "(the same shape: one mean and one log-variance per latent dimension, as model.encode(x) "
                         "returns them)")
    if rows is not None and (mu.dim() != 2 or len(mu) != rows):
        raise ValueError(f"mu and logvar have shape {tuple(mu.shape)}: expected (B, latent_dim) with B = {rows} "
                         "images, as returned by model.encode(x)")
    if latent_dim is not None and mu.shape[-1:] != (latent_dim,):
        raise ValueError(f"mu and logvar have shape {tuple(mu.shape)}: they must end in latent_dim = {latent_dim}")


def check_count(value: int, what: str) -> None:
    """ValueError unless `value` is a positive int (a number of samples, repeats, steps)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a positive int, got {value!r}")


def check_labels(y: torch.Tensor, rows: int, what: str = "y", num_classes: int | None = None) -> torch.Tensor:
    """Class labels as an int64 tensor (rows,); ValueError for another type, shape or (given num_classes) range."""
    if not torch.is_tensor(y) or torch.is_floating_point(y) or y.is_complex() or y.dtype == torch.bool:
        kind = f"dtype {y.dtype}" if torch.is_tensor(y) else type(y).__name__
        raise ValueError(f"{what} must be an integer tensor of shape ({rows},), one label per image (class "
                         f"indices, e.g. load_mnist('train')[1]); got {kind}")
    if y.shape != (rows,):
        raise ValueError(f"{what} must be an integer tensor of shape ({rows},), one label per image; got shape "
                         f"{tuple(y.shape)}")
    if rows and (y.min() < 0 or (num_classes is not None and y.max() >= num_classes)):
        upper = "" if num_classes is None else f", {num_classes}"
        raise ValueError(f"{what}: labels must lie in [0{upper}), got values from {y.min().item()} "
                         f"to {y.max().item()}")
    return y.long()


def check_mask(mask: torch.Tensor, num_pixels: int, num_images: int | None = None) -> torch.Tensor:
    """A mask of observed pixels (True or 1 = observed) as a bool tensor (num_pixels,), or (num_images, num_pixels).

    One mask for every image may have any shape with num_pixels entries, e.g. (28, 28); one mask per image
    is accepted only where the caller gives `num_images`, shaped (num_images, ...).
    """
    if not torch.is_tensor(mask):
        raise ValueError(f"mask must be a tensor (True = observed pixel), e.g. torch.zeros(28, 28, dtype=torch.bool); "
                         f"got {type(mask).__name__}")
    if mask.dtype != torch.bool and not ((mask == 0) | (mask == 1)).all():
        raise ValueError("mask must be boolean (True = pixel observed) or hold only 0s and 1s")
    if mask.numel() == num_pixels:
        return mask.reshape(num_pixels).bool()  # one mask, the same pixels observed in every image
    if num_images is not None and mask.dim() >= 1 and len(mask) == num_images \
            and mask.numel() == num_images * num_pixels:
        return mask.reshape(num_images, num_pixels).bool()  # one mask per image
    per_image = "" if num_images is None else f" or one per image ({num_images}, {num_pixels})"
    raise ValueError(f"mask has shape {tuple(mask.shape)} ({mask.numel()} entries) but the images have {num_pixels} "
                     f"pixels: pass one mask of {num_pixels} pixels (e.g. shaped (28, 28)){per_image}")


def draw_device(generator: torch.Generator | None, device: torch.device) -> torch.device:
    """Where random numbers are drawn: on the generator's device, if one is given, else on `device`.

    The course's one policy for a generator on another device than the data: draw where the generator
    lives, then move the draws to the data (`.to(device)`). A CPU generator then gives the same numbers
    whatever device the model is on; on one device nothing moves.
    """
    return generator.device if generator is not None else torch.device(device)
