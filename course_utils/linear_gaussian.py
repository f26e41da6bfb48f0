"""A latent-variable model where everything is exact: the linear-Gaussian model (probabilistic PCA).

    p(z) = N(0, I),   p(x | z) = N(W z + b, noise_var * I)

Its marginal p(x), its posterior p(z | x) and the ELBO of a diagonal Gaussian q(z) all have closed
forms, so the identity log p(x) = ELBO + KL(q || p(z | x)) can be checked to numerical precision.

Derived in notebooks/04_latent_variables_elbo.ipynb.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.distributions import MultivariateNormal

from .checks import check_count, check_gaussian
from .info import LOG_2PI, kl_normal, kl_normal_standard


@dataclass(frozen=True)
class LinearGaussian:
    """p(z) = N(0, I_latent_dim), p(x | z) = N(weight @ z + bias, noise_var * I_data_dim)."""

    weight: torch.Tensor  # (data_dim, latent_dim)
    bias: torch.Tensor  # (data_dim,)
    noise_var: float | torch.Tensor  # a tensor when it is learned (lesson 04 fits it by gradient ascent)

    def __post_init__(self) -> None:
        if self.weight.dim() != 2:
            raise ValueError(f"weight must be (data_dim, latent_dim), got shape {tuple(self.weight.shape)}")
        if self.bias.shape != self.weight.shape[:1]:
            raise ValueError(f"bias must have shape ({self.weight.shape[0]},) to match weight, "
                             f"got {tuple(self.bias.shape)}")
        if not self.noise_var > 0:
            raise ValueError(f"noise_var must be positive, got {self.noise_var}")

    @property
    def data_dim(self) -> int:
        return self.weight.shape[0]

    @property
    def latent_dim(self) -> int:
        return self.weight.shape[1]

    def log_noise_var(self) -> torch.Tensor:
        """log sigma_x^2 as a tensor, differentiable when noise_var is a learned tensor."""
        return torch.log(torch.as_tensor(self.noise_var, dtype=self.weight.dtype))


def random_linear_gaussian(data_dim: int, latent_dim: int, noise_var: float = 0.1,
                           generator: torch.Generator | None = None,
                           dtype: torch.dtype = torch.float64) -> LinearGaussian:
    """A LinearGaussian with standard-normal weight and bias (float64 by default, for exact checks)."""
    weight = torch.randn(data_dim, latent_dim, generator=generator, dtype=dtype)
    bias = torch.randn(data_dim, generator=generator, dtype=dtype)
    return LinearGaussian(weight, bias, noise_var)


def _check_x(model: LinearGaussian, x: torch.Tensor) -> None:
    if x.shape[-1:] != (model.data_dim,):
        raise ValueError(f"x must end in data_dim={model.data_dim}, got shape {tuple(x.shape)}")


def sample(model: LinearGaussian, num_samples: int,
           generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Two-step (ancestral) generation: z ~ p(z), then x ~ p(x | z); returns the draws x and their latents z.

    As every `sample` of the course: draws from the model, (num_samples, data_dim), and the latent
    variable that made each one, (num_samples, latent_dim).
    """
    check_count(num_samples, "num_samples")
    dtype = model.weight.dtype
    z = torch.randn(num_samples, model.latent_dim, generator=generator, dtype=dtype)  # (N, latent_dim)
    noise = torch.randn(num_samples, model.data_dim, generator=generator, dtype=dtype)
    x = z @ model.weight.T + model.bias + (0.5 * model.log_noise_var()).exp() * noise  # (N, data_dim)
    return x, z


def log_likelihood(model: LinearGaussian, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """log p(x | z) = log N(x; W z + b, noise_var I), broadcast over leading dims of x and z."""
    _check_x(model, x)
    mean = z @ model.weight.T + model.bias  # (..., data_dim)
    squared = (x - mean).pow(2).sum(-1)
    return -0.5 * (model.data_dim * (LOG_2PI + model.log_noise_var()) + squared / model.noise_var)


def marginal(model: LinearGaussian) -> MultivariateNormal:
    """The exact marginal p(x) = N(b, W W^T + noise_var I): z integrated out."""
    eye = torch.eye(model.data_dim, dtype=model.weight.dtype)
    return MultivariateNormal(model.bias, covariance_matrix=model.weight @ model.weight.T + model.noise_var * eye)


def log_marginal(model: LinearGaussian, x: torch.Tensor) -> torch.Tensor:
    """Exact log p(x) for x of shape (..., data_dim)."""
    _check_x(model, x)
    return marginal(model).log_prob(x)


def posterior(model: LinearGaussian, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact p(z | x) = N(mean, cov): cov = (I + W^T W / noise_var)^-1, mean = cov W^T (x - b) / noise_var."""
    _check_x(model, x)
    eye = torch.eye(model.latent_dim, dtype=model.weight.dtype)
    precision = eye + model.weight.T @ model.weight / model.noise_var  # (latent_dim, latent_dim)
    cov = torch.linalg.inv(precision)
    mean = (x - model.bias) @ model.weight @ cov / model.noise_var  # (..., latent_dim); cov is symmetric
    return mean, cov


def expected_log_likelihood(model: LinearGaussian, x: torch.Tensor, mu: torch.Tensor,
                            logvar: torch.Tensor) -> torch.Tensor:
    """Reconstruction term E_q[log p(x | z)] for q = N(mu, diag exp(logvar)), in closed form."""
    _check_x(model, x)
    check_gaussian(mu, logvar, latent_dim=model.latent_dim)
    # E||x - W z - b||^2 = ||x - W mu - b||^2 + sum_j sigma_j^2 ||W[:, j]||^2
    squared = (x - mu @ model.weight.T - model.bias).pow(2).sum(-1)
    spread = (logvar.exp() * model.weight.pow(2).sum(0)).sum(-1)
    return -0.5 * (model.data_dim * (LOG_2PI + model.log_noise_var()) + (squared + spread) / model.noise_var)


def elbo(model: LinearGaussian, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """ELBO = E_q[log p(x | z)] - KL(q || p(z)) for q = N(mu, diag exp(logvar)), in closed form."""
    return expected_log_likelihood(model, x, mu, logvar) - kl_normal_standard(mu, logvar)


def kl_to_posterior(model: LinearGaussian, x: torch.Tensor, mu: torch.Tensor,
                    logvar: torch.Tensor) -> torch.Tensor:
    """KL(q || p(z | x)) for q = N(mu, diag exp(logvar)) and the exact (full-covariance) posterior."""
    check_gaussian(mu, logvar, latent_dim=model.latent_dim)
    post_mean, post_cov = posterior(model, x)
    return kl_normal(mu, torch.diag_embed(logvar.exp()), post_mean, post_cov)


def naive_log_marginal(model: LinearGaussian, x: torch.Tensor, num_samples: int,
                       generator: torch.Generator | None = None) -> torch.Tensor:
    """Monte Carlo log p(x) ~= log (1/S) sum_s p(x | z_s), z_s ~ p(z): unbiased for p(x), not for log p(x)."""
    _check_x(model, x)
    check_count(num_samples, "num_samples")
    z = torch.randn(num_samples, *x.shape[:-1], model.latent_dim, generator=generator, dtype=model.weight.dtype)
    log_px_given_z = log_likelihood(model, x, z)  # (S, ...)
    # p(x | z) underflows to 0 for most prior samples, so average in log space with logsumexp.
    return torch.logsumexp(log_px_given_z, dim=0) - math.log(num_samples)


def naive_relative_variance(model: LinearGaussian, x: torch.Tensor) -> torch.Tensor:
    """Var[p(x | z)] / p(x)^2 for z ~ p(z): the one-sample relative variance of the naive estimator."""
    _check_x(model, x)
    # p(x | z)^2 = (4 pi noise_var)^(-d/2) N(x; W z + b, noise_var/2 I), so E_p(z)[p(x | z)^2] is Gaussian too.
    eye = torch.eye(model.data_dim, dtype=model.weight.dtype)
    half = MultivariateNormal(model.bias, covariance_matrix=model.weight @ model.weight.T
                              + 0.5 * model.noise_var * eye)
    log_second_moment = -0.5 * model.data_dim * (math.log(4 * math.pi) + model.log_noise_var()) + half.log_prob(x)
    return torch.expm1(log_second_moment - 2 * log_marginal(model, x))
