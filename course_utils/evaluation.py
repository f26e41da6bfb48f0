"""How probable does a model find the test digits? log p(x) by importance sampling (the IWAE bound).

    log p(x) ≈ log (1/k) Σ_j p(x | z_j) p(z_j) / q(z_j | x),   z_j ~ q(z | x)      (Burda et al. 2016)

With k = 1 this is a one-sample ELBO; its expectation rises with k towards log p(x) and never exceeds it
(Jensen), and it equals log p(x) exactly, for every k, when q is the true posterior. Everything is in log
space (logsumexp) and in chunks of samples, so k = 5000 fits in memory; each chunk decodes all its
(sample, image) pairs in one matrix product on the model's device.

Derived in notebooks/08_evaluation.ipynb.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .checks import check_count, check_gaussian, flatten_pixels
from .info import LOG_2PI

ROWS_PER_CHUNK = 2**15  # (sample, image) pairs decoded at once: 2^15 x 784 floats is about 100 MB


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) summed over the last (latent) dimension: (..., d) -> (...)."""
    return -0.5 * (z.pow(2).sum(-1) + z.shape[-1] * LOG_2PI)


def iw_log_marginal(
    log_joint: Callable[[torch.Tensor], torch.Tensor],
    mu: torch.Tensor,
    num_samples: int,
    *,
    logvar: torch.Tensor | None = None,
    scale_tril: torch.Tensor | None = None,
    chunk_size: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Importance-weighted log p(x) for a batch (B,) with the Gaussian proposal q = N(mu, Σ), mu (B, d).

    `log_joint(z)` maps samples (S, B, d) to log p(x_b, z_sb), shaped (S, B). Σ is diag(exp(logvar))
    (an encoder's q) or scale_tril @ scale_tril.T (a full covariance, e.g. an exact posterior).
    """
    if (logvar is None) == (scale_tril is None):
        raise ValueError("give the proposal's spread as exactly one of logvar (diagonal) or scale_tril (full)")
    if mu.dim() != 2:
        raise ValueError(f"mu must be (B, latent_dim), one row per image; got shape {tuple(mu.shape)}")
    check_count(num_samples, "num_samples (k)")
    batch, latent_dim = mu.shape
    if logvar is not None:
        check_gaussian(mu, logvar)
        sigma, log_det = (0.5 * logvar).exp(), 0.5 * logvar.sum(-1)  # log det Σ^{1/2}, (B,)
    else:
        if scale_tril.shape[-2:] != (latent_dim, latent_dim):
            raise ValueError(f"scale_tril must be (B, d, d) or (d, d) with d = {latent_dim}, "
                             f"got {tuple(scale_tril.shape)}")
        log_det = scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1).expand(batch)
    chunk_size = chunk_size or max(1, min(num_samples, ROWS_PER_CHUNK // max(batch, 1)))
    total = torch.full((batch,), -math.inf, device=mu.device, dtype=mu.dtype)
    for start in range(0, num_samples, chunk_size):
        n = min(chunk_size, num_samples - start)
        eps = torch.randn(n, batch, latent_dim, generator=generator, device=mu.device, dtype=mu.dtype)
        if logvar is not None:
            z = mu + sigma * eps  # (n, B, d)
        else:
            z = mu + (scale_tril @ eps.unsqueeze(-1)).squeeze(-1)
        log_q = standard_normal_log_prob(eps) - log_det  # change of variables z = mu + L eps, (n, B)
        log_w = log_joint(z) - log_q  # log importance weights, (n, B)
        # Running log Σ_j w_j: logsumexp subtracts the largest term, so weights of e^-100 never underflow.
        total = torch.logaddexp(total, torch.logsumexp(log_w, dim=0))
    return total - math.log(num_samples)


@torch.no_grad()
def iw_log_likelihood(
    model: torch.nn.Module,
    x: torch.Tensor,
    num_samples: int = 5000,
    *,
    batch_size: int = 100,
    chunk_size: int | None = None,
    generator: torch.Generator | None = None,
    y: torch.Tensor | None = None,
) -> torch.Tensor:
    """Importance-weighted log p(x) in nats, one per image (N,), for a VAE-like model; log p(x | y) given labels.

    The model needs `encode(x) -> (mu, logvar)` of q(z|x) and `decode(z) -> logits` of Bernoulli pixels,
    with the prior p(z) = N(0, I); with labels y (N,), a CVAE's encode(x, y) and decode(z, y). Images must
    be binary for a log-probability (grey targets give a number, but not the log-probability of
    anything). k = num_samples; k = 1 is a one-sample ELBO.
    """
    x = flatten_pixels(x)  # (N, D)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    estimates = []
    for i in range(0, len(x), batch_size):
        xb = x[i : i + batch_size].to(device)  # (B, D)
        yb = None if y is None else y[i : i + batch_size].to(device)
        mu, logvar = model.encode(xb) if yb is None else model.encode(xb, yb)

        def log_joint(z: torch.Tensor, xb: torch.Tensor = xb, yb: torch.Tensor | None = yb) -> torch.Tensor:
            n, b, d = z.shape
            flat = z.reshape(n * b, d)
            logits = (model.decode(flat) if yb is None else model.decode(flat, yb.repeat(n))).reshape(n, b, -1)
            log_px_z = -F.binary_cross_entropy_with_logits(logits, xb.expand(n, -1, -1), reduction="none").sum(-1)
            return log_px_z + standard_normal_log_prob(z)  # (n, B)

        estimates.append(iw_log_marginal(log_joint, mu, num_samples, logvar=logvar, chunk_size=chunk_size,
                                         generator=generator))
    model.train(was_training)
    return torch.cat(estimates)


def iw_log_likelihood_with_error(
    model: torch.nn.Module, x: torch.Tensor, num_samples: int, repeats: int, **kwargs
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image mean of `repeats` independent estimates (N,) and its standard error (N,)."""
    if not isinstance(repeats, int) or repeats < 2:
        raise ValueError(f"repeats must be an int >= 2 to give a standard error, got {repeats!r}")
    runs = torch.stack([iw_log_likelihood(model, x, num_samples, **kwargs) for _ in range(repeats)])  # (R, N)
    return runs.mean(0), runs.std(0) / math.sqrt(repeats)


def mean_and_standard_error(values: torch.Tensor) -> tuple[float, float]:
    """Mean over the first dimension and its standard error, std / sqrt(n), as floats."""
    values = values.double().flatten()
    if len(values) < 2:
        raise ValueError("a standard error needs at least two values")
    return values.mean().item(), (values.std() / math.sqrt(len(values))).item()


def bits_per_dim(nats_per_image: float, num_pixels: int = 784) -> float:
    """Nats per image as bits per pixel (dimension): divide by num_pixels and by ln 2 (lesson 01)."""
    return nats_per_image / (num_pixels * math.log(2.0))
