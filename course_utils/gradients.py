"""Gradients through samples: the reparameterization trick and the score-function estimator.

Derived in notebooks/05_reparameterization.ipynb.
"""

from __future__ import annotations

import torch


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A sample z = mu + sigma * eps, eps ~ N(0, I), that autograd can differentiate w.r.t. mu and logvar."""
    if mu.shape != logvar.shape:
        raise ValueError(f"mu has shape {tuple(mu.shape)} but logvar has {tuple(logvar.shape)}; they must match")
    sigma = torch.exp(0.5 * logvar)  # sigma = sqrt(exp(logvar)), always positive
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)  # the only randomness
    return mu + sigma * eps
