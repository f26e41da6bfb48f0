"""Training objectives in nats per image: Bernoulli log-likelihood, reconstruction loss, negative ELBO.

Derived in notebooks/03_autoencoder.ipynb (reconstruction) and notebooks/06_vae.ipynb (negative ELBO).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .data import check_pixels
from .info import kl_normal_standard


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x | logits) = Σ_pixels [x log σ(l) + (1 − x) log(1 − σ(l))] in nats, one value per image (B,)."""
    x = _check_targets(logits, x)
    # From logits, not from sigmoid probabilities: BCE-with-logits uses log σ(l) = −softplus(−l), which
    # stays finite when σ(l) rounds to 0 or 1 (log(0) = −inf would otherwise wreck training).
    return -_bce_per_image(logits, x)


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The autoencoder's loss: −log p(x | logits) in nats, averaged over the batch (a scalar)."""
    return -bernoulli_log_likelihood(logits, x).mean()


def negative_elbo(
    logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(−ELBO, reconstruction, KL), each the mean over the batch in nats per image; −ELBO = recon + KL."""
    x = _check_targets(logits, x)
    if mu.shape != logvar.shape or mu.shape[0] != logits.shape[0]:
        raise ValueError(
            f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} must both be (B, latent_dim) "
            f"with B = {logits.shape[0]} images, as returned by model.encode(x)"
        )
    return _negative_elbo_terms(logits, x, mu, logvar)


def _negative_elbo_terms(
    logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """negative_elbo without input checks (train.fit checks the whole data set once instead)."""
    recon = _bce_per_image(logits, x).mean()  # E_q[−log p(x|z)], one z sample per image
    kl = kl_normal_standard(mu, logvar).mean()  # closed form, lesson 02
    return recon + kl, recon, kl


def _bce_per_image(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy summed over the pixels: (B, D) logits and targets -> (B,)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=-1)


def _check_targets(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Targets x reshaped like `logits` (B, D); ValueError for a wrong shape or pixels outside [0, 1]."""
    if logits.dim() != 2:
        raise ValueError(f"logits must be (B, input_dim) as returned by decode(z), got {tuple(logits.shape)}")
    if x.shape[0] != logits.shape[0] or x[0].numel() != logits.shape[1]:
        raise ValueError(
            f"targets x of shape {tuple(x.shape)} do not match logits {tuple(logits.shape)}: "
            "pass the same images the model encoded, (B, 1, 28, 28) or (B, 784)"
        )
    check_pixels(x, "targets x")
    return x.reshape(logits.shape)
