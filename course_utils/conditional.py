"""Beyond the plain VAE: hidden pixels given observed ones, the CVAE's log p(x | y) and its Bayes classifier.

Derived in notebooks/09_beyond_the_vae.ipynb. Given z the pixels are independent, so for observed pixels o
and hidden pixels h, p(x_o) = ∫ p(x_o | z) p(z) dz and log p(x_h | x_o) = log p(x) − log p(x_o), both
importance-sampled with the same z (lesson 08's estimator with two weights per sample). A CVAE takes its
label in encode(x, y) and decode(z, y); every function accepts `y` for it. Masks are boolean, True =
observed (given), shaped (28, 28) or (784,). Work happens, and results stay, on the model's device.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .checks import check_count, check_labels, check_pixels
from .evaluation import ROWS_PER_CHUNK, iw_log_likelihood, standard_normal_log_prob


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


def check_mask(mask: torch.Tensor, input_dim: int = 784) -> torch.Tensor:
    """A boolean mask (True = observed) as a flat (input_dim,) tensor; ValueError for another dtype or size."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ValueError(f"mask must be a boolean tensor (True = observed pixel), got {mask!r:.80}")
    if mask.numel() != input_dim:
        raise ValueError(f"mask has shape {tuple(mask.shape)} ({mask.numel()} entries) but the model's images "
                         f"have {input_dim} pixels: pass one mask shaped (28, 28) or ({input_dim},)")
    return mask.reshape(input_dim)


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


def _decode(model, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """Logits (S, B, D) for samples z (S, B, d): one matrix product per layer, labels repeated for a CVAE."""
    n, b, d = z.shape
    flat = model.decode(z.reshape(n * b, d)) if y is None else model.decode(z.reshape(n * b, d), y.repeat(n))
    return flat.reshape(n, b, -1)


def _encode(model, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    return model.encode(x) if y is None else model.encode(x, y)


def _pixel_log_probs(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x_d | z) of every pixel, (S, B, D), from logits (S, B, D) and targets x (B, D)."""
    return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none")


@torch.no_grad()
def iw_conditional(
    model, x: torch.Tensor, observed: torch.Tensor, num_samples: int, *, y: torch.Tensor | None = None,
    proposal: tuple[torch.Tensor, torch.Tensor] | None = None, batch_size: int = 100,
    chunk_size: int | None = None, generator: torch.Generator | None = None,
) -> ConditionalEstimate:
    """log p(x), log p(x_observed) (and so log p(x_hidden | x_observed)) by importance sampling, (N,) each.

    The proposal is the encoder's q(z | x) of the whole image, or `proposal` = (mu, logvar) shaped (N, d)
    or (N, M, d), an equal-weight mixture of M Gaussians per image. With the encoder's q and the same
    generator and chunk_size, log_px is exactly evaluation.iw_log_likelihood's. Any proposal that covers
    the posterior gives unbiased estimates of p(x) and p(x_observed); how fast their logs converge differs.
    """
    x, y = _prepare(model, x, y, num_samples)
    hidden = ~check_mask(observed, x.shape[1]).to(x.device)
    if proposal is not None and (proposal[0].shape != proposal[1].shape or len(proposal[0]) != len(x)):
        raise ValueError(f"proposal must be (mu, logvar) of the same shape, (N, d) or (N, M, d) with N = {len(x)}")
    was_training = model.training
    model.eval()
    parts = []
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size], None if y is None else y[i:i + batch_size]
        if proposal is None:
            mu, logvar = _encode(model, xb, yb)
        else:
            mu, logvar = (p[i:i + batch_size].to(x.device) for p in proposal)
        mu, sigma = (mu, (0.5 * logvar).exp()) if mu.dim() == 3 else (mu[:, None], (0.5 * logvar).exp()[:, None])
        batch, num_components, latent_dim = mu.shape  # (B, M, d)
        size = chunk_size or max(1, min(num_samples, ROWS_PER_CHUNK // batch))
        sums = torch.full((3, batch), -math.inf, device=x.device, dtype=mu.dtype)  # log Σw, log Σw_o, log Σw_o²
        for start in range(0, num_samples, size):
            n = min(size, num_samples - start)
            eps = torch.randn(n, batch, latent_dim, generator=generator, device=x.device, dtype=mu.dtype)
            pick = torch.zeros(n, batch, 1, 1, dtype=torch.long, device=x.device)  # which component, (n, B, 1, 1)
            if num_components > 1:
                pick = torch.randint(num_components, (n, batch, 1, 1), generator=generator, device=x.device)
            take = pick.expand(-1, -1, 1, latent_dim)
            z = (mu.expand(n, -1, -1, -1).gather(2, take) + sigma.expand(n, -1, -1, -1).gather(2, take)
                 * eps[:, :, None]).squeeze(2)  # (n, B, d)
            # log q(z) = log (1/M) Σ_m N(z; mu_m, σ_m²): the change of variables z = mu_m + σ_m ε, per component
            log_q = (standard_normal_log_prob((z[:, :, None] - mu) / sigma) - sigma.log().sum(-1)).logsumexp(-1) \
                - math.log(num_components)  # (n, B)
            log_pixels = _pixel_log_probs(_decode(model, z, yb), xb)  # (n, B, D)
            log_hidden = (log_pixels * hidden).sum(-1)  # log p(x_h | z), (n, B)
            # log w_o = log p(x_o | z) + log p(z) − log q(z): the weight of p(x_o); p(x)'s adds log p(x_h | z)
            log_w_obs = (log_pixels * ~hidden).sum(-1) + standard_normal_log_prob(z) - log_q
            chunk = torch.stack([torch.logsumexp(log_w_obs + log_hidden, 0), torch.logsumexp(log_w_obs, 0),
                                 torch.logsumexp(2 * log_w_obs, 0)])
            sums = torch.logaddexp(sums, chunk)  # running sums in log space: e^-100 never underflows
        parts.append(sums)
    model.train(was_training)
    sums = torch.cat(parts, dim=1)
    log_k = math.log(num_samples)
    return ConditionalEstimate(sums[0] - log_k, sums[1] - log_k, (2 * sums[1] - sums[2]).exp())


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
        where = generator.device if generator is not None else draws.device
        draws = torch.bernoulli(draws.to(where), generator=generator).to(x.device)
    with torch.no_grad():
        parts = [_encode(model, torch.where(obs, x, draws[:, j]), y) for j in range(num_completions)]
        parts += [_encode(model, x, y)] * num_completions
    return torch.stack([mu for mu, _ in parts], 1), torch.stack([logvar for _, logvar in parts], 1)


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
    was_training = model.training
    model.eval()
    fill = torch.where(obs, x, torch.zeros_like(x))  # (N, D): nothing of the hidden pixels
    for _ in range(rounds):
        mu, logvar = _encode(model, fill, y)
        sigma = (0.5 * logvar).exp()
        eps = torch.randn(num_samples, *mu.shape, generator=generator, device=x.device, dtype=mu.dtype)
        z = mu + sigma * eps  # (k, N, d)
        logits = _decode(model, z, y)  # (k, N, D)
        log_w = (_pixel_log_probs(logits, x) * obs).sum(-1) + standard_normal_log_prob(z) \
            - (standard_normal_log_prob(eps) - sigma.log().sum(-1))  # (k, N)
        weights = torch.softmax(log_w, dim=0)  # self-normalized: Σ_j w̄_j = 1 for each image
        expected = torch.einsum("kn,knd->nd", weights, torch.sigmoid(logits))
        fill = torch.where(obs, x, expected)
    draws = torch.empty(len(x), num_draws, x.shape[1], device=x.device, dtype=x.dtype)
    if num_draws:
        where = generator.device if generator is not None else weights.device  # draw where the generator is
        picks = torch.multinomial(weights.T.to(where), num_draws, replacement=True, generator=generator)  # (N, draws)
        chosen = z.gather(0, picks.to(x.device).T[..., None].expand(-1, -1, z.shape[-1]))  # (draws, N, d)
        draws = torch.where(obs, x, torch.sigmoid(_decode(model, chosen, y))).transpose(0, 1)
    model.train(was_training)
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
    return iw_log_likelihood(model, x, num_samples, batch_size=batch_size, chunk_size=chunk_size,
                             generator=generator, y=y)


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
