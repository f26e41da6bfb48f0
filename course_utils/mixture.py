"""The mixture of Bernoullis, fitted with EM: the course's first latent-variable model.

Derived in notebooks/01_generative_models.ipynb. A hidden component k ~ Categorical(π) picks one of K
Bernoulli pixel models, so p(x) = Σ_k π_k Π_d p_kd^x_d (1 − p_kd)^(1 − x_d): the discrete version of
p(x) = ∫ p(x | z) p(z) dz. It is the generative classifier of `course_utils.bernoulli` with the label
hidden, which EM fills in with the responsibilities p(k | x).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .bernoulli import component_log_probs
from .checks import check_count, check_mask, check_pixel_probs, draw_device, flatten_pixels


@dataclass(frozen=True)
class BernoulliMixture:
    """p(x) = Σ_k π_k Π_d Bernoulli(x_d; p_kd): mixing weights as log π (K,) and pixel probabilities (K, D)."""

    log_weights: torch.Tensor  # (K,): log π_k = log p(k)
    probs: torch.Tensor  # (K, D): p(x_d = 1 | k)


def as_mixture(probs: torch.Tensor) -> BernoulliMixture:
    """The independent pixel model (D,) as a mixture with a single component."""
    return BernoulliMixture(log_weights=probs.new_zeros(1), probs=probs.reshape(1, -1))


def mixture_log_joint(model: BernoulliMixture, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """log p(x_obs, k) = log π_k + log p(x_obs | k) for every image and component, (N, K)."""
    x = flatten_pixels(x)
    check_pixel_probs(model.probs, x.shape[1], "model.probs")
    if model.log_weights.shape != model.probs.shape[:1]:
        raise ValueError(f"model has {model.log_weights.shape} weights for {model.probs.shape[0]} components")
    return model.log_weights + component_log_probs(model.probs, x, mask)


def mixture_log_prob(model: BernoulliMixture, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """log p(x_obs) in nats per image, (N,): the components summed out with logsumexp."""
    # logsumexp subtracts the largest term before exponentiating: each p(x, k) is around e^-150,
    # which is 0 in floating point, so summing probabilities directly would give log 0 = -inf.
    return mixture_log_joint(model, x, mask).logsumexp(-1)


def responsibilities(model: BernoulliMixture, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The posterior p(k | x_obs) of the hidden component for every image, (N, K); rows sum to one."""
    return mixture_log_joint(model, x, mask).softmax(-1)


def fit_mixture(
    x: torch.Tensor,
    num_components: int,
    num_iters: int = 50,
    smoothing: float = 1e-2,
    generator: torch.Generator | None = None,
) -> tuple[BernoulliMixture, list[float]]:
    """Fit a mixture of Bernoullis with EM; returns the model and the objective before and after each step.

    The objective (num_iters + 1 values) is the mean log-likelihood per image in nats, plus the log-density
    of the Beta prior that `smoothing` pseudo-counts stand for, divided by N (zero when smoothing = 0).
    EM never decreases it. Components start at K random training images blurred towards ½.
    """
    x = flatten_pixels(x)
    n = len(x)
    if not 1 <= num_components <= n:
        raise ValueError(f"num_components must be between 1 and the number of images ({n}), got {num_components}")
    if smoothing < 0 or num_iters < 0:
        raise ValueError(f"smoothing and num_iters must be >= 0, got {smoothing} and {num_iters}")
    start = torch.randperm(n, generator=generator, device=draw_device(generator, "cpu"))[:num_components].to(x.device)
    model = BernoulliMixture(
        log_weights=torch.full((num_components,), -math.log(num_components), dtype=x.dtype, device=x.device),
        probs=0.25 + 0.5 * x[start],  # (K, D)
    )
    objective = []
    for step in range(num_iters + 1):
        # E-step: responsibilities r_nk = p(k | x_n), computed in log space.
        log_joint = model.log_weights + component_log_probs(model.probs, x)  # (N, K)
        log_px = log_joint.logsumexp(-1, keepdim=True)  # (N, 1)
        prior = smoothing * (model.probs.log() + (1 - model.probs).log()).sum() if smoothing > 0 else 0.0
        objective.append(float((log_px.sum() + prior) / n))
        if step == num_iters:
            break
        r = (log_joint - log_px).exp()  # (N, K)
        # M-step: weighted pixel means and component sizes, the MLE with r as soft labels.
        size = r.sum(0)  # (K,): N_k
        probs = (r.T @ x + smoothing) / (size[:, None] + 2 * smoothing).clamp_min(torch.finfo(x.dtype).tiny)
        probs = probs.clamp(0.0, 1.0)  # a weighted mean of pixels in [0, 1]; rounding can leave it at 1 + 2e-16
        model = BernoulliMixture(log_weights=(size / n).log(), probs=probs)
    return model, objective


def sample_mixture(
    model: BernoulliMixture, num_samples: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Ancestral sampling: k ~ π, then x ~ Bernoulli(p_k); returns the draws (x, k), images (num_samples, D).

    As every `sample` of the course: draws from the model, and the latent variable that made each one
    (here the component k, (num_samples,)).
    """
    check_count(num_samples, "num_samples")
    device, where = model.probs.device, draw_device(generator, model.probs.device)
    k = torch.multinomial(model.log_weights.exp().to(where), num_samples, replacement=True, generator=generator)
    return torch.bernoulli(model.probs.to(where)[k], generator=generator).to(device), k.to(device)


def complete_pixels(model: BernoulliMixture, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Fill in hidden pixels with E[x_d | x_obs] = Σ_k p(k | x_obs) p_kd; observed pixels are kept, (N, D)."""
    x = flatten_pixels(x)
    observed = check_mask(mask, x.shape[1], len(x)).to(x.device)
    expected = responsibilities(model, x, observed) @ model.probs  # (N, D)
    return torch.where(observed, x, expected)
