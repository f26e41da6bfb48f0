"""Information theory: entropy, cross-entropy and KL divergences, in nats unless asked otherwise.

Derived in notebooks/02_entropy_kl.ipynb.
"""

from __future__ import annotations

import torch


def kl_normal_standard(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) in nats, summed over the last dim: ½Σ(μ² + σ² − log σ² − 1)."""
    if mu.shape != logvar.shape:
        raise ValueError(f"mu has shape {tuple(mu.shape)} but logvar has {tuple(logvar.shape)}; they must match")
    # (..., latent_dim) -> (...): the lecture slide's ½Σ(log σ² + 1/σ² + μ² − 1) is KL(N(0, I) || q) with
    # the mean term misplaced; see lesson 02 for the derivation of the correct form.
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(dim=-1)
