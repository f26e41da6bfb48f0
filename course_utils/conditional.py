"""Conditional estimates: hidden pixels given observed ones, the CVAE's log p(x | y) and its Bayes classifier.

Derived in notebooks/10_conditional_vae.ipynb. Given z the pixels are independent, so for observed pixels o
and hidden pixels h, p(x_o) = ∫ p(x_o | z) p(z) dz and log p(x_h | x_o) = log p(x) − log p(x_o), both
importance-sampled with the same z: lesson 08's estimator (evaluation.iw_log_marginal) with two
log-joints per sample. A CVAE takes its label in encode(x, y) and decode(z, y); every function accepts
`y` for it. Masks (checks.check_mask) are boolean or 0/1, True = observed (given), shaped (28, 28) or
(784,). Work happens, and results stay, on the model's device.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .checks import check_count, check_labels, check_mask, check_pixels, draw_device
from .evaluation import (
    decode_samples,
    iw_log_likelihood,
    iw_log_marginal,
    pixel_log_likelihoods,
    standard_normal_log_prob,
)
from .models import encode_batch, eval_mode
from .objectives import bernoulli_log_probs


class ConditionalEstimate(NamedTuple):
    """Importance-sampled log p(x) and log p(x_observed), nats per image (N,), from the same z samples."""

    log_px: torch.Tensor
    log_p_observed: torch.Tensor
    ess: torch.Tensor  # effective sample size (Σw)² / Σw² of the weights of p(x_observed), 1..k

    @property
    def log_p_hidden(self) -> torch.Tensor:
        """log p(x_hidden | x_observed) = log p(x) − log p(x_observed): a difference of estimates, not a bound."""
        return self.log_px - self.log_p_observed


class Completion(NamedTuple):
    """Filled-in images (N, D): E[x | x_observed], and posterior draws (N, num_draws, D), observed pixels kept."""

    expected: torch.Tensor
    draws: torch.Tensor
    ess: torch.Tensor  # effective sample size of the self-normalized weights of the last round, (N,)


def quadrant_masks(side: int = 28) -> dict[int, torch.Tensor]:
    """The given pixels of Pyro's CVAE tutorial, by number of quadrants given: (side, side) boolean masks.

    1: the bottom-left quadrant; 2: the left half; 3: everything except the bottom-right quadrant.
    """
    if not isinstance(side, int) or side < 2 or side % 2:
        raise ValueError(f"side must be an even int >= 2, got {side!r}")
    half = side // 2
    given = {q: torch.zeros(side, side, dtype=torch.bool) for q in (1, 2, 3)}
    given[1][half:, :half] = True
    given[2][:, :half] = True
    given[3][:] = True
    given[3][half:, half:] = False
    return given


def _prepare(model, x: torch.Tensor, y: torch.Tensor | None, num_samples: int):
    """x as (N, D) on the model's device, labels checked against what the model needs."""
    check_pixels(x, "x")
    check_count(num_samples, "num_samples (k)")
    if getattr(model, "needs_labels", False) != (y is not None):
        raise ValueError(f"{type(model).__name__} is conditioned on labels: pass y, one label per image"
                         if y is None else f"{type(model).__name__} takes no labels: leave y out")
    device = next(model.parameters()).device
    return x.reshape(len(x), -1).to(device), None if y is None else check_labels(y, len(x)).to(device)


@torch.no_grad()
def iw_conditional(
    model, x: torch.Tensor, observed: torch.Tensor, num_samples: int, *, y: torch.Tensor | None = None,
    proposal: tuple[torch.Tensor, torch.Tensor] | None = None, batch_size: int = 100,
    chunk_size: int | None = None, generator: torch.Generator | None = None,
) -> ConditionalEstimate:
    """log p(x), log p(x_observed) (and so log p(x_hidden | x_observed)) by importance sampling, (N,) each.

    The proposal is the encoder's q(z | x) of the whole image, or `proposal` = (mu, logvar) shaped (N, d)
    or (N, M, d), an equal-weight mixture of M Gaussians per image. Every proposal goes to the estimator
    as a mixture (the encoder's q is a mixture of one). log_px equals evaluation.iw_log_likelihood's on
    the same samples up to float rounding. Any proposal that covers the posterior gives unbiased
    estimates of p(x) and p(x_observed); how fast their logs converge differs.
    """
    x, y = _prepare(model, x, y, num_samples)
    observed = check_mask(observed, x.shape[1]).to(x.device)
    weights = torch.stack([torch.ones_like(x[0]), observed.to(x.dtype)])  # every pixel; the observed ones
    if proposal is not None and (proposal[0].shape != proposal[1].shape or len(proposal[0]) != len(x)):
        raise ValueError(f"proposal must be (mu, logvar) of the same shape, (N, d) or (N, M, d) with N = {len(x)}")
    parts = []
    with eval_mode(model):
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size], None if y is None else y[i:i + batch_size]
            if proposal is None:
                mu, logvar = encode_batch(model, xb, yb)
            else:
                mu, logvar = (p[i:i + batch_size].to(x.device) for p in proposal)
            if mu.dim() == 2:
                mu, logvar = mu[:, None], logvar[:, None]  # a mixture of one, (B, 1, d)

            def log_joints(z: torch.Tensor, xb: torch.Tensor = xb, yb: torch.Tensor | None = yb):
                """(log p(x, z), log p(x_o, z)), (S, B) each: the pixels' log-probabilities summed over all or o."""
                log_all, log_observed = pixel_log_likelihoods(model, z, xb, yb, weights) + standard_normal_log_prob(z)
                return log_all, log_observed

            (log_px, log_obs), (_, ess) = iw_log_marginal(log_joints, mu, logvar, num_samples, chunk_size=chunk_size,
                                                          generator=generator, with_ess=True)
            parts.append(torch.stack([log_px, log_obs, ess]))
    return ConditionalEstimate(*torch.cat(parts, dim=1))


def completion_proposal(
    model, x: torch.Tensor, observed: torch.Tensor, num_completions: int, *, y: torch.Tensor | None = None,
    num_samples: int = 100, rounds: int = 2, generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A defensive mixture proposal, (mu, logvar) each (N, 2 * num_completions, d): ½ q(z | x) + ½ completions.

    p(z | x_o) = E_{p(x_h | x_o)}[p(z | x)] mixes the posteriors of every plausible completion, so half of
    the components are q(z | x_o, x_h') for `num_completions` posterior draws x_h' of `complete` (binary when x
    is binary, pixel probabilities otherwise), and half are the encoder's q(z | x) itself, which bounds every
    weight of p(x) by twice its weight under q(z | x) (defensive importance sampling, Hesterberg 1995).
    """
    x, y = _prepare(model, x, y, num_samples)
    obs = check_mask(observed, x.shape[1]).to(x.device)
    check_count(num_completions, "num_completions")
    draws = complete(model, x, observed, num_samples, y=y, num_draws=num_completions, rounds=rounds,
                     generator=generator).draws  # (N, num_completions, D)
    if ((x == 0) | (x == 1)).all():
        draws = torch.bernoulli(draws.to(draw_device(generator, draws.device)), generator=generator).to(x.device)
    with torch.no_grad(), eval_mode(model):
        parts = [encode_batch(model, torch.where(obs, x, draws[:, j]), y) for j in range(num_completions)]
        parts += [encode_batch(model, x, y)] * num_completions
    return torch.stack([mu for mu, _ in parts], 1), torch.stack([logvar for _, logvar in parts], 1)


def iw_conditional_defensive(
    model, x: torch.Tensor, observed: torch.Tensor, num_samples: int, *, num_completions: int = 9,
    block: int = 1000, generator: torch.Generator | None = None,
) -> ConditionalEstimate:
    """iw_conditional with completion_proposal's defensive mixture, `block` images at a time, on the model's device.

    Each block draws its completions and then its estimate from the one `generator`, so the completions of
    10,000 images never have to be held at once.
    """
    check_count(block, "block")
    device = next(model.parameters()).device
    parts = []
    for i in range(0, len(x), block):
        xb = x[i:i + block].to(device)
        proposal = completion_proposal(model, xb, observed, num_completions, generator=generator)
        parts.append(iw_conditional(model, xb, observed, num_samples, proposal=proposal, generator=generator))
    return ConditionalEstimate(*(torch.cat(t) for t in zip(*parts, strict=True)))


@torch.no_grad()
def complete(
    model, x: torch.Tensor, observed: torch.Tensor, num_samples: int, *, y: torch.Tensor | None = None,
    num_draws: int = 0, rounds: int = 3, batch_size: int = 100, generator: torch.Generator | None = None,
) -> Completion:
    """Fill in the hidden pixels: E[x_h | x_o] and draws z ~ p(z | x_o) decoded, by self-normalized IS.

    The proposal sees only the observed pixels: round 1 encodes the image with hidden pixels set to 0,
    each later round the image filled with the previous round's E[x_h | x_o].
    Weights p(x_o | z) p(z) / q(z); the draws resample the last round's z by weight (pixel probabilities).
    Returns tensors on the model's device; memory grows with num_samples x batch_size x D.
    """
    if len(x) > batch_size:  # one batch of images at a time, the generator carried on
        parts = [complete(model, x[i:i + batch_size], observed, num_samples, num_draws=num_draws, rounds=rounds,
                          y=None if y is None else y[i:i + batch_size], batch_size=batch_size, generator=generator)
                 for i in range(0, len(x), batch_size)]
        return Completion(*(torch.cat(t) for t in zip(*parts, strict=True)))
    x, y = _prepare(model, x, y, num_samples)
    obs = check_mask(observed, x.shape[1]).to(x.device)
    if not isinstance(rounds, int) or rounds < 1 or not isinstance(num_draws, int) or num_draws < 0:
        raise ValueError(f"rounds must be an int >= 1 and num_draws an int >= 0, got {rounds!r}, {num_draws!r}")
    where = draw_device(generator, x.device)
    with eval_mode(model):
        fill = torch.where(obs, x, torch.zeros_like(x))  # (N, D): nothing of the hidden pixels
        for _ in range(rounds):
            mu, logvar = encode_batch(model, fill, y)
            sigma = (0.5 * logvar).exp()
            eps = torch.randn(num_samples, *mu.shape, generator=generator, device=where, dtype=mu.dtype).to(x.device)
            z = mu + sigma * eps  # (k, N, d)
            logits = decode_samples(model, z, y)  # (k, N, D)
            log_w = (bernoulli_log_probs(logits, x) * obs).sum(-1) + standard_normal_log_prob(z) \
                - (standard_normal_log_prob(eps) - sigma.log().sum(-1))  # (k, N)
            weights = torch.softmax(log_w, dim=0)  # self-normalized: Σ_j w̄_j = 1 for each image
            expected = torch.einsum("kn,knd->nd", weights, torch.sigmoid(logits))
            fill = torch.where(obs, x, expected)
        draws = torch.empty(len(x), num_draws, x.shape[1], device=x.device, dtype=x.dtype)
        if num_draws:
            picks = torch.multinomial(weights.T.to(where), num_draws, replacement=True, generator=generator)
            chosen = z.gather(0, picks.to(x.device).T[..., None].expand(-1, -1, z.shape[-1]))  # (draws, N, d)
            draws = torch.where(obs, x, torch.sigmoid(decode_samples(model, chosen, y))).transpose(0, 1)
    return Completion(fill, draws, 1.0 / weights.pow(2).sum(0))


def cvae_log_likelihood(
    model, x: torch.Tensor, y: torch.Tensor, num_samples: int, *, batch_size: int = 100,
    chunk_size: int | None = None, generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Importance-weighted log p(x | y) in nats, (N,), with the CVAE's q(z | x, y) as proposal (k = 1: an ELBO).

    Lesson 08's estimator (evaluation.iw_log_likelihood) with the labels passed to encode and decode.
    """
    if not getattr(model, "needs_labels", False):
        raise ValueError(f"cvae_log_likelihood needs a conditional model (a CVAE), got {type(model).__name__}")
    x, y = _prepare(model, x, y, num_samples)
    return iw_log_likelihood(model, x, num_samples, y=y, batch_size=batch_size, chunk_size=chunk_size,
                             generator=generator)


def class_log_likelihoods(model, x: torch.Tensor, num_samples: int, **kwargs) -> torch.Tensor:
    """log p(x | y = c) for every image and every label c, (N, num_classes); kwargs go to cvae_log_likelihood."""
    num_classes = model.config.num_classes
    labels = torch.ones(len(x), dtype=torch.long)
    return torch.stack([cvae_log_likelihood(model, x, c * labels, num_samples, **kwargs)
                        for c in range(num_classes)], dim=1)


def bayes_classify(log_likelihoods: torch.Tensor, log_prior: torch.Tensor) -> torch.Tensor:
    """Bayes' rule: argmax_y log p(x | y) + log p(y) for each row of log_likelihoods (N, C); returns (N,)."""
    if log_likelihoods.dim() != 2 or log_prior.shape != log_likelihoods.shape[1:]:
        raise ValueError(f"need log-likelihoods (N, C) and a log prior (C,), got {tuple(log_likelihoods.shape)} "
                         f"and {tuple(log_prior.shape)}")
    return (log_likelihoods + log_prior.to(log_likelihoods.device)).argmax(dim=1)  # p(x) is the same for every y
