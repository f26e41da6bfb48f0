"""Bernoulli pixel models: every pixel an independent coin, and one such model per class.

Derived in notebooks/01_generative_models.ipynb. An image x in [0, 1]^D (D = 784 for MNIST) has
log p(x) = Σ_d x_d log p_d + (1 − x_d) log(1 − p_d) nats. For a grey-level x_d this is the expected
log-likelihood of a binary image drawn by dynamic binarization (it is linear in x). The mixture of
Bernoullis, the first latent-variable model of the course, is in `course_utils.mixture`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .checks import check_count, check_labels, check_mask, check_pixel_probs, draw_device, flatten_pixels


def fit_bernoulli(x: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Maximum-likelihood pixel probabilities (D,): the pixel means, pulled towards ½ by `smoothing` counts."""
    x = flatten_pixels(x)
    if smoothing < 0:
        raise ValueError(f"smoothing is a pseudo-count and must be >= 0, got {smoothing}")
    if len(x) == 0:
        raise ValueError("cannot fit a model to zero images")
    # p_d = (Σ_n x_nd + α) / (N + 2α): α extra 'on' and α extra 'off' images keep p_d away from 0 and 1.
    return (x.sum(0) + smoothing) / (len(x) + 2 * smoothing)


def bernoulli_log_prob(probs: torch.Tensor, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """log p(x) in nats, one per image (N,), for pixel probabilities (D,); with `mask`, of the observed pixels only."""
    x = flatten_pixels(x)
    check_pixel_probs(probs, x.shape[1])
    # xlogy(0, 0) = 0: a pixel that is never on costs nothing when it is off (and -inf when it is on).
    terms = torch.xlogy(x, probs) + torch.xlogy(1 - x, 1 - probs)  # (N, D)
    if mask is not None:
        observed = check_mask(mask, x.shape[1], len(x)).to(x.device)
        terms = torch.where(observed, terms, 0.0)  # hidden pixels are summed out: Σ_x p(x) = 1
    return terms.sum(-1)


def sample_bernoulli(probs: torch.Tensor, num_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """`num_samples` binary images (num_samples, D) drawn from the model, each pixel on with P = probs (D,).

    Like every `sample` of the course it returns draws from the model; this model has no latent variable,
    so there is nothing else to return (sample_mixture also returns the component k of each draw).
    """
    if not torch.is_tensor(probs) or probs.dim() != 1:
        raise ValueError(f"probs must be one probability per pixel, shaped (D,); got {getattr(probs, 'shape', probs)}")
    check_pixel_probs(probs, probs.shape[-1])
    check_count(num_samples, "num_samples")
    where = draw_device(generator, probs.device)
    return torch.bernoulli(probs.to(where).expand(num_samples, -1), generator=generator).to(probs.device)


def component_log_probs(probs: torch.Tensor, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """log p(x_obs | k) for every image (N, D) and every row k of `probs` (K, D): an (N, K) matrix, by matmul.

    Checks shapes only: the callers (class_log_joint, mixture_log_joint, fit_mixture) check the values once.
    """
    if probs.dim() != 2 or x.dim() != 2 or probs.shape[1] != x.shape[1]:
        raise ValueError(
            f"component_log_probs got probs of shape {tuple(probs.shape)} and x of shape {tuple(x.shape)}: it "
            "takes probs (K, D), one row per component, and x (N, D), one row per image"
        )
    # Clamping at the smallest float keeps log 0 finite (about -87 nats in float32) so that 0 · log 0 = 0
    # inside the matrix products below, instead of NaN.
    tiny = torch.finfo(probs.dtype).tiny
    log_on, log_off = probs.clamp_min(tiny).log(), (1 - probs).clamp_min(tiny).log()  # (K, D)
    # Σ_d x_d log p_d + (1 - x_d) log(1 - p_d) = Σ_d x_d (log p_d - log(1 - p_d)) + Σ_d log(1 - p_d)
    if mask is None:
        return x @ (log_on - log_off).T + log_off.sum(-1)  # (N, K)
    mask = check_mask(mask, x.shape[1], len(x)).to(x.device, x.dtype)
    return (x * mask) @ (log_on - log_off).T + mask @ log_off.T  # (N, K); mask may be (D,) or (N, D)


@dataclass(frozen=True)
class BernoulliClassifier:
    """A generative classifier: the joint p(x, y) = p(y) Π_d p(x_d | y), one Bernoulli pixel model per class."""

    probs: torch.Tensor  # (C, D): p(x_d = 1 | y = c)
    log_prior: torch.Tensor  # (C,): log p(y = c)


def fit_classifier(
    x: torch.Tensor, y: torch.Tensor, num_classes: int | None = None, smoothing: float = 1.0
) -> BernoulliClassifier:
    """Maximum-likelihood class prior (class frequencies) and per-class pixel probabilities, from labels y (N,)."""
    x = flatten_pixels(x)
    y = check_labels(y, len(x), "labels y")
    num_classes = int(y.max()) + 1 if num_classes is None and len(y) else num_classes
    y = check_labels(y, len(x), "labels y", num_classes).to(x.device)
    if smoothing < 0:
        raise ValueError(f"smoothing is a pseudo-count and must be >= 0, got {smoothing}")
    one_hot = torch.nn.functional.one_hot(y, num_classes).to(x.dtype)  # (N, C)
    counts = one_hot.sum(0)  # (C,)
    if (counts == 0).any():
        missing = torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f"classes {missing} have no training images; pass num_classes or add images of them")
    probs = (one_hot.T @ x + smoothing) / (counts[:, None] + 2 * smoothing)  # (C, D): per-class pixel means
    return BernoulliClassifier(probs=probs, log_prior=(counts / len(x)).log())


def class_log_joint(model: BernoulliClassifier, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """log p(x_obs, y = c) for every image and class, (N, C); hidden pixels are summed out."""
    x = flatten_pixels(x)
    check_pixel_probs(model.probs, x.shape[1], "model.probs")
    return model.log_prior + component_log_probs(model.probs, x, mask)


def class_posterior(model: BernoulliClassifier, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Bayes' rule: p(y | x_obs) = p(x_obs, y) / Σ_c p(x_obs, c), shaped (N, C)."""
    log_joint = class_log_joint(model, x, mask)
    # Normalize in log space: the joints are around e^-200, which underflows to 0 if exponentiated first.
    return (log_joint - log_joint.logsumexp(-1, keepdim=True)).exp()


def classify(model: BernoulliClassifier, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The most probable class of each image given its observed pixels, (N,)."""
    return class_log_joint(model, x, mask).argmax(-1)  # the evidence p(x_obs) is the same for every class
