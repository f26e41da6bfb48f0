"""Information theory: entropy, cross-entropy and KL divergences, in nats unless asked otherwise.

Discrete distributions are probability vectors along the last dimension (batches broadcast); Gaussians
are given by a mean and a covariance (full) or a log-variance (diagonal).

Derived in notebooks/02_entropy_kl.ipynb.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch.distributions import Distribution

from .checks import check_distribution, check_gaussian

UNITS = {"nats": 1.0, "bits": 1.0 / math.log(2.0)}  # multiply nats by this factor
LOG_2PI = math.log(2.0 * math.pi)
Probs = torch.Tensor | Sequence[float]  # a probability vector (..., K), or a list of K numbers


def in_unit(nats: torch.Tensor, unit: str = "nats") -> torch.Tensor:
    """Convert an amount of information from nats to `unit` ('nats' or 'bits': bits = nats / ln 2)."""
    if unit not in UNITS:
        raise ValueError(f"unit must be 'nats' or 'bits', got {unit!r}")
    return nats * UNITS[unit]


def _check_pair(p, q) -> tuple[torch.Tensor, torch.Tensor]:
    p, q = check_distribution(p, "p"), check_distribution(q, "q")
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(f"p has {p.shape[-1]} outcomes but q has {q.shape[-1]}; they must be over the same set")
    try:
        torch.broadcast_shapes(p.shape, q.shape)
    except RuntimeError as err:
        raise ValueError(f"p has shape {tuple(p.shape)} and q has {tuple(q.shape)}; batch dims must broadcast") from err
    dtype = torch.promote_types(p.dtype, q.dtype)
    return p.to(dtype), q.to(dtype)


def entropy(p: Probs, unit: str = "nats") -> torch.Tensor:
    """H(p) = −Σ p log p of a discrete distribution, with 0 log 0 = 0; shape (...) for p of shape (..., K)."""
    p = check_distribution(p)
    # xlogy(0, 0) is exactly 0, the limit of p log p as p -> 0; p * p.log() would give 0 * (-inf) = NaN.
    return in_unit(0.0 - torch.xlogy(p, p).sum(dim=-1), unit)  # 0.0 - x, not -x: a point mass gives 0, not -0


def cross_entropy(p: Probs, q: Probs, unit: str = "nats") -> torch.Tensor:
    """H(p, q) = −Σ p log q: the average NLL under q of outcomes drawn from p; inf if q misses p's support."""
    p, q = _check_pair(p, q)
    return in_unit(0.0 - torch.xlogy(p, q).sum(dim=-1), unit)


def kl_divergence(p: Probs, q: Probs, unit: str = "nats") -> torch.Tensor:
    """KL(p || q) = Σ p log(p / q) = H(p, q) − H(p) of two discrete distributions; inf if q misses p's support."""
    p, q = _check_pair(p, q)
    return in_unit((torch.xlogy(p, p) - torch.xlogy(p, q)).sum(dim=-1), unit)


def _check_normal(mu: torch.Tensor, cov: torch.Tensor, what: str) -> torch.Tensor:
    """Cholesky factor of `cov` after checking shapes; ValueError if cov is not symmetric positive definite."""
    if mu.ndim == 0 or cov.ndim < 2 or cov.shape[-1] != cov.shape[-2] or cov.shape[-1] != mu.shape[-1]:
        raise ValueError(
            f"{what}: mean has shape {tuple(mu.shape)} and covariance {tuple(cov.shape)}; "
            "expected (..., d) and (..., d, d)"
        )
    if not torch.allclose(cov, cov.transpose(-1, -2), rtol=1e-5, atol=1e-6):
        raise ValueError(f"{what}: covariance is not symmetric")
    chol, info = torch.linalg.cholesky_ex(cov)
    if (info != 0).any():
        raise ValueError(f"{what}: covariance is not positive definite (a variance <= 0 or dependent directions)")
    return chol


def kl_normal(mu_p: torch.Tensor, cov_p: torch.Tensor, mu_q: torch.Tensor, cov_q: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_p, cov_p) || N(mu_q, cov_q)) in nats for full covariances: mean (..., d), covariance (..., d, d).

    ½[tr(Σq⁻¹Σp) + (μq − μp)ᵀΣq⁻¹(μq − μp) − d + log det Σq − log det Σp].
    """
    chol_p, chol_q = _check_normal(mu_p, cov_p, "p"), _check_normal(mu_q, cov_q, "q")
    d = mu_p.shape[-1]
    if mu_q.shape[-1] != d:
        raise ValueError(f"p is {d}-dimensional but q is {mu_q.shape[-1]}-dimensional")
    try:
        batch = torch.broadcast_shapes(mu_p.shape[:-1], chol_p.shape[:-2], mu_q.shape[:-1], chol_q.shape[:-2])
    except RuntimeError as err:
        raise ValueError("the batch dims of the means and covariances of p and q must broadcast") from err
    chol_p, chol_q = chol_p.expand(*batch, d, d), chol_q.expand(*batch, d, d)
    diff = (mu_q - mu_p).expand(*batch, d).unsqueeze(-1)  # (..., d, 1)
    # With Σq = L Lᵀ: tr(Σq⁻¹Σp) = ||L⁻¹ Lp||²_F and the Mahalanobis term is ||L⁻¹(μq − μp)||²; no inverse formed.
    trace = torch.linalg.solve_triangular(chol_q, chol_p, upper=False).pow(2).sum(dim=(-2, -1))
    mahalanobis = torch.linalg.solve_triangular(chol_q, diff, upper=False).pow(2).sum(dim=(-2, -1))
    # log det Σ = 2 Σ log diag(L)
    logdet_p = 2.0 * chol_p.diagonal(dim1=-2, dim2=-1).log().sum(dim=-1)
    logdet_q = 2.0 * chol_q.diagonal(dim1=-2, dim2=-1).log().sum(dim=-1)
    return 0.5 * (trace + mahalanobis - d + logdet_q - logdet_p)


def kl_normal_diag(
    mu_p: torch.Tensor, logvar_p: torch.Tensor, mu_q: torch.Tensor, logvar_q: torch.Tensor
) -> torch.Tensor:
    """KL(N(mu_p, diag exp(logvar_p)) || N(mu_q, diag exp(logvar_q))) in nats, summed over the last dim."""
    shapes = [tuple(t.shape) for t in (mu_p, logvar_p, mu_q, logvar_q)]
    if len(set(shapes)) != 1:
        raise ValueError(f"mu_p, logvar_p, mu_q, logvar_q have shapes {shapes}; they must all match")
    # ½Σ(log σq² − log σp² + (σp² + (μp − μq)²) / σq² − 1), per independent dimension
    ratio = (logvar_p.exp() + (mu_p - mu_q).pow(2)) / logvar_q.exp()
    return 0.5 * (logvar_q - logvar_p + ratio - 1.0).sum(dim=-1)


def kl_normal_standard(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) in nats, summed over the last dim: ½Σ(μ² + σ² − log σ² − 1)."""
    check_gaussian(mu, logvar)
    # (..., latent_dim) -> (...): the lecture slide's ½Σ(log σ² + 1/σ² + μ² − 1) is this formula with the
    # variance σ² replaced by the precision 1/σ²; lesson 02 shows it numerically and derives the correct form.
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(dim=-1)


def normal_entropy(sigma: torch.Tensor | float, unit: str = "nats") -> torch.Tensor:
    """Differential entropy ½ log(2πeσ²) of a 1-D Gaussian; unlike a discrete entropy it can be negative."""
    sigma = sigma if torch.is_tensor(sigma) else torch.tensor(sigma, dtype=torch.get_default_dtype())
    if (sigma <= 0).any():
        raise ValueError("sigma must be > 0 (it is a standard deviation)")
    return in_unit(0.5 * (LOG_2PI + 1.0) + sigma.log(), unit)


def kl_monte_carlo(p: Distribution, q: Distribution, num_samples: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Monte Carlo KL(p || q) ≈ mean of log p(x) − log q(x) over x ~ p; returns (estimate, standard error)."""
    if num_samples < 2:
        raise ValueError(f"num_samples must be at least 2 to estimate a standard error, got {num_samples}")
    x = p.sample((num_samples,))  # (num_samples, *batch, *event)
    log_ratio = p.log_prob(x) - q.log_prob(x)  # (num_samples, *batch)
    return log_ratio.mean(dim=0), log_ratio.std(dim=0) / math.sqrt(num_samples)
