"""Gradients through samples: the reparameterization trick and the score-function estimator.

Derived in notebooks/05_reparameterization.ipynb.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from .checks import check_count, check_gaussian, draw_device


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A sample z = mu + sigma * eps, eps ~ N(0, I), that autograd can differentiate w.r.t. mu and logvar."""
    check_gaussian(mu, logvar)
    sigma = torch.exp(0.5 * logvar)  # sigma = sqrt(exp(logvar)), always positive
    where = draw_device(generator, mu.device)  # drawn where the generator lives, then moved to mu's device
    eps = torch.randn(mu.shape, generator=generator, device=where, dtype=mu.dtype).to(mu.device)  # the only randomness
    return mu + sigma * eps


# ----------------------------------------------------------------------------------------------------
# Two unbiased estimators of the gradient of E_q[f(z)], q = N(mu, diag exp(logvar)), w.r.t. mu and logvar.
# `f` maps samples (num_samples, *mu.shape) to values (num_samples,). Both return per-sample estimates,
# each (num_samples, *mu.shape); their mean over dim 0 is the estimate from num_samples samples.


def _check_args(mu: torch.Tensor, logvar: torch.Tensor, num_samples: int) -> None:
    check_gaussian(mu, logvar)
    check_count(num_samples, "num_samples")


def _standard_normal(mu: torch.Tensor, logvar: torch.Tensor, num_samples: int,
                     generator: torch.Generator | None) -> torch.Tensor:
    _check_args(mu, logvar, num_samples)
    where = draw_device(generator, mu.device)
    return torch.randn((num_samples, *mu.shape), generator=generator, device=where, dtype=mu.dtype).to(mu.device)


def _values(f: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    values = f(z)
    if values.shape != z.shape[:1]:
        raise ValueError(f"f must map samples {tuple(z.shape)} to one value per sample {tuple(z.shape[:1])}, "
                         f"got {tuple(values.shape)}; sum over the latent dimensions inside f")
    return values


def score_function_gradients(f: Callable[[torch.Tensor], torch.Tensor], mu: torch.Tensor, logvar: torch.Tensor,
                             num_samples: int, generator: torch.Generator | None = None,
                             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample REINFORCE estimates f(z) * grad log q(z) of the gradients w.r.t. (mu, logvar)."""
    eps = _standard_normal(mu, logvar, num_samples, generator)  # (S, *mu.shape)
    mu, logvar = mu.detach(), logvar.detach()
    sigma = torch.exp(0.5 * logvar)
    with torch.no_grad():  # f is only evaluated, never differentiated: it may be a black box
        values = _values(f, mu + sigma * eps).reshape(num_samples, *[1] * mu.dim())  # (S, 1, ..., 1)
    # grad_mu log q = (z - mu) / sigma^2 = eps / sigma;  grad_logvar log q = ((z - mu)^2 / sigma^2 - 1) / 2
    return values * eps / sigma, values * 0.5 * (eps.pow(2) - 1.0)


def pathwise_gradients(f: Callable[[torch.Tensor], torch.Tensor], mu: torch.Tensor, logvar: torch.Tensor,
                       num_samples: int, generator: torch.Generator | None = None,
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample reparameterized estimates grad f(mu + sigma * eps) w.r.t. (mu, logvar), by autograd."""
    _check_args(mu, logvar, num_samples)
    # One copy of (mu, logvar) per sample: the gradient of sum_s f(z_s) w.r.t. copy s is sample s's gradient.
    mu_s = mu.detach().expand(num_samples, *mu.shape).clone().requires_grad_(True)
    logvar_s = logvar.detach().expand(num_samples, *logvar.shape).clone().requires_grad_(True)
    with torch.enable_grad():
        z = reparameterize(mu_s, logvar_s, generator)
        grad_mu, grad_logvar = torch.autograd.grad(_values(f, z).sum(), (mu_s, logvar_s))
    return grad_mu, grad_logvar


# ----------------------------------------------------------------------------------------------------
# Objectives whose expectation under q, and so whose true gradient, is known in closed form.


@dataclass(frozen=True)
class GaussianObjective:
    """A test function f(z) with E_q[f(z)] in closed form, for q = N(mu, diag exp(logvar))."""

    name: str
    f: Callable[[torch.Tensor], torch.Tensor]  # (num_samples, latent_dim) -> (num_samples,)
    expectation: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (mu, logvar) -> scalar

    def true_gradients(self, mu: torch.Tensor, logvar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact gradients of E_q[f(z)] w.r.t. (mu, logvar): autograd through the closed form."""
        mu = mu.detach().clone().requires_grad_(True)
        logvar = logvar.detach().clone().requires_grad_(True)
        with torch.enable_grad():  # materialize_grads: zeros where the expectation does not depend on one
            return torch.autograd.grad(self.expectation(mu, logvar), (mu, logvar), materialize_grads=True)


def _quadratic(z: torch.Tensor) -> torch.Tensor:
    return (z - 1.0).pow(2).sum(-1)


def _expected_quadratic(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return ((mu - 1.0).pow(2) + logvar.exp()).sum(-1)  # E(z - 1)^2 = (mu - 1)^2 + sigma^2


def _cosine(z: torch.Tensor) -> torch.Tensor:
    return torch.cos(z).sum(-1)


def _expected_cosine(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return (torch.cos(mu) * torch.exp(-0.5 * logvar.exp())).sum(-1)  # E cos z = Re E e^{iz} = cos(mu) e^{-sigma^2/2}


QUADRATIC = GaussianObjective("quadratic (z - 1)^2", _quadratic, _expected_quadratic)
COSINE = GaussianObjective("cosine cos(z)", _cosine, _expected_cosine)
