"""Training objectives in nats per image: Bernoulli log-likelihood, reconstruction loss, negative ELBO.

Derived in notebooks/03_autoencoder.ipynb (reconstruction), notebooks/06_vae.ipynb (negative ELBO) and
notebooks/09_beta_collapse_iwae.ipynb (the KL weight β and its warm-up, free bits, the IWAE bound as a loss).

Loss values come one way, as `LossTerms(loss, recon, kl)`: a model's `loss_terms`, `negative_elbo` and
`train.evaluate` all return it. The training objective is loss = reconstruction + β·KL, and
−ELBO = reconstruction + KL whatever β is.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .checks import check_gaussian, match_targets
from .info import kl_normal_standard


class LossTerms(NamedTuple):
    """Loss values on a batch, each the batch mean in nats per image: (recon + β·kl, recon, kl).

    `recon` is −log p(x | z) (an autoencoder's whole loss); `kl` is KL(q(z|x) ‖ p(z)), zero for a model
    without a latent distribution; `loss` is recon + β·kl. Build one with LossTerms.of(recon, kl, beta).
    fit minimises recon + β·kl and reports recon + kl (the −ELBO).
    """

    loss: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor

    @classmethod
    def of(cls, recon: torch.Tensor, kl: torch.Tensor, beta: float = 1.0) -> LossTerms:
        """The terms with their objective recon + β·kl (β = 1: the −ELBO)."""
        return cls(_objective(recon, kl, beta), recon, kl)


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x | logits) = Σ_pixels [x log σ(l) + (1 − x) log(1 − σ(l))] in nats, one value per image (B,)."""
    x = match_targets(logits, x)
    return -bernoulli_nll(logits, x)


def bernoulli_log_probs(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x_d | logit_d) of every pixel, shaped like `logits` (..., D), targets x broadcast to it; no checks.

    The course's one Bernoulli log-likelihood from logits: the losses, the importance-sampling estimators
    and the conditional ones (which sum it over some pixels only) all call it.
    """
    # From logits, not from sigmoid probabilities: BCE-with-logits uses log σ(l) = −softplus(−l), which
    # stays finite when σ(l) rounds to 0 or 1 (log(0) = −inf would otherwise wreck training).
    return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none")


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """−log p(x | logits) summed over the pixels, (B, D) logits and targets -> (B,), without input checks.

    The fast path of the models' `loss_terms` (fit checks the whole data set once instead); use
    bernoulli_log_likelihood on data you have not checked. −log p(x | l) = Σ_d softplus(l_d) − x_d l_d, the
    binary cross-entropy with logits, computed with softplus_sum; its gradient is BCE-with-logits' own,
    (σ(l) − x) with respect to the logits, bit for bit.
    """
    return _BernoulliNLL.apply(logits, x)


class _BernoulliNLL(torch.autograd.Function):
    """Σ_d softplus(l_d) − x_d l_d over the last dimension, with the gradient σ(l) − x (and −l for the targets)."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(logits, x)
        return softplus_sum(logits.clone()) - (logits * x).sum(-1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        logits, x = ctx.saved_tensors
        grad = grad.unsqueeze(-1)
        grad_logits = ((torch.sigmoid(logits) - x) * grad).sum_to_size(logits.shape) \
            if ctx.needs_input_grad[0] else None
        grad_x = (-logits * grad).sum_to_size(x.shape) if ctx.needs_input_grad[1] else None
        return grad_logits, grad_x


def softplus_sum(logits: torch.Tensor) -> torch.Tensor:
    """Σ_d softplus(l_d) = Σ_d log(1 + e^{l_d}) over the last dimension, (R, D) -> (R,); overwrites `logits`.

    softplus(l) = relu(l) − log σ(|l|), and σ(|l|) lies in [½, 1), so a product of 16 of them is at least
    2⁻¹⁶: the logarithm is taken of products of 16 factors (halving the row four times while its length is
    even), a sixteenth of the logarithms, exact to float32 rounding.
    """
    relu_sum = logits.clamp(min=0).sum(-1)
    factors = logits.abs_().sigmoid_()
    for _ in range(4):
        if factors.shape[-1] % 2:
            break
        half = factors.shape[-1] // 2
        factors = factors[..., :half] * factors[..., half:]
    return relu_sum - factors.log_().sum(-1)


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The autoencoder's loss: −log p(x | logits) in nats, averaged over the batch (a scalar)."""
    return -bernoulli_log_likelihood(logits, x).mean()


def negative_elbo(
    logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, beta: float = 1.0
) -> LossTerms:
    """LossTerms(recon + β·KL, reconstruction, KL), each the batch mean in nats per image; β = 1 gives the −ELBO."""
    x = match_targets(logits, x)
    check_gaussian(mu, logvar, rows=len(logits))
    terms = gaussian_vae_terms(logits, x, mu, logvar)
    return LossTerms.of(terms.recon, terms.kl, beta)


def gaussian_vae_terms(logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> LossTerms:
    """A VAE's LossTerms (−ELBO, reconstruction, KL) as batch means, without input checks (for loss_terms)."""
    recon = bernoulli_nll(logits, x).mean()  # E_q[−log p(x|z)], one z sample per image
    kl = kl_normal_standard(mu, logvar).mean()  # closed form, lesson 02
    return LossTerms.of(recon, kl)


def weighted_loss(terms: LossTerms, beta: float = 1.0) -> torch.Tensor:
    """The training objective recon + β·KL of the terms, at weight β (fit's warm-up changes it every step)."""
    return _objective(terms.recon, terms.kl, beta)


def _objective(recon: torch.Tensor, kl: torch.Tensor, beta: float) -> torch.Tensor:
    """recon + β·KL; β = 1 adds the two terms exactly as the −ELBO does."""
    return recon + kl if beta == 1.0 else recon + beta * kl


def kl_weight(step: int, beta: float = 1.0, warmup_steps: int = 0) -> float:
    """The KL weight at optimiser step `step` (0, 1, ...): β, reached linearly from 0 over `warmup_steps`.

    β·min(1, step / warmup_steps): the first step is pure reconstruction, step `warmup_steps` and
    every later one use β. warmup_steps = 0 means no warm-up (β from the start).
    """
    if not isinstance(step, int) or step < 0:
        raise ValueError(f"step must be an int >= 0, got {step!r}")
    if not isinstance(warmup_steps, int) or warmup_steps < 0:
        raise ValueError(f"warmup_steps must be an int >= 0, got {warmup_steps!r}")
    if not beta >= 0 or beta == float("inf"):
        raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
    if warmup_steps == 0:
        return float(beta)
    return float(beta) * min(1.0, step / warmup_steps)


def free_bits_kl(mu: torch.Tensor, logvar: torch.Tensor, free_bits: float) -> torch.Tensor:
    """Σ_d max(λ, KL_d), KL_d the batch mean of KL(q(z_d|x) ‖ N(0, 1)): the KL term trained with free bits λ.

    Kingma et al. (2016), appendix C, with one group per latent dimension: a dimension whose average KL is
    below λ nats costs λ whatever it carries, so the gradient no longer pushes it to the prior. The −ELBO
    reported beside it keeps the true KL.
    """
    kl_dims = kl_normal_standard(mu[..., None], logvar[..., None]).mean(0)  # each dimension alone, (latent_dim,)
    return kl_dims.clamp(min=free_bits).sum()


def free_bits_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None, free_bits: float,
                   weight: float = 1.0, generator: torch.Generator | None = None) -> tuple[torch.Tensor, LossTerms]:
    """(recon + w·Σ_d max(λ, KL_d), the −ELBO's LossTerms) of a VAE on one batch, one z per image."""
    logits, mu, logvar = model(x, y, generator=generator)
    terms = gaussian_vae_terms(logits, x, mu, logvar)
    return terms.recon + weight * free_bits_kl(mu, logvar, free_bits), terms


def iwae_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None, k: int,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, LossTerms]:
    """(−L_k, the −ELBO's LossTerms of the first draw): Burda et al.'s importance-weighted bound as a loss.

    L_k(x) = log (1/k) Σ_j p(x|z_j) p(z_j) / q(z_j|x) with z_j = μ + σ·ε_j, ε_j ~ N(0, I), averaged over the
    batch; k = 1 is the ELBO with a sampled KL. The terms reported are the first draw's reconstruction and the
    closed-form KL, so that the −ELBO of an IWAE-trained model is logged like any other VAE's.
    """
    mu, logvar = model.encode(x, y)  # (B, d) each
    eps = torch.randn((k, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
    z = mu + (0.5 * logvar).exp() * eps  # (k, B, d)
    labels = None if y is None else y.repeat(k)
    logits = model.decode(z.flatten(0, 1), labels).unflatten(0, (k, len(x)))  # (k, B, D)
    log_px = -bernoulli_nll(logits, x)  # (k, B)
    # log p(z) − log q(z|x) = Σ_d −½z² + ½ε² + ½ log σ²: the 2π terms cancel.
    log_w = log_px + 0.5 * (eps.pow(2) - z.pow(2) + logvar).sum(-1)
    bound = torch.logsumexp(log_w, dim=0) - math.log(k)  # (B,)
    terms = LossTerms.of(-log_px[0].mean(), kl_normal_standard(mu, logvar).mean())
    return -bound.mean(), terms
