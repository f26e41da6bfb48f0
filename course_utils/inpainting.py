"""Inpainting models trained for one fixed mask, and one score for every model: −log p(missing | given).

Derived in notebooks/10_conditional_vae.ipynb (Pyro's quadrant protocol). Pyro's CVAE tutorial
(github.com/pyro-ppl/pyro, examples/cvae) trains two models per mask, and this module builds both:
- `BaselineNet`: Pyro's plain network. The given pixels go in (missing ones set to −1), Bernoulli logits of
  every pixel come out, and only the missing ones are scored: log p(x_m | x_g) is exact (independent pixels).
- `InpaintingCVAE`: Sohn et al.'s (2015) conditional VAE, Pyro's `CVAE`: a recognition net q(z | x) of the
  whole image, a learned conditional prior p(z | x_g) (`prior_net`) and a generation net p(x_m | z) that,
  as in Pyro, sees z only. As in Pyro the prior net may be built on a trained BaselineNet: it then sees the
  given pixels with the baseline's guess in the missing ones (a function of x_g alone).
Both have `needs_labels = False` and `loss_terms(x)`, so `train.fit` trains them; their mask is a fixed
attribute. They have no ModelConfig, so `save_checkpoint` cannot save them: lessons train them live.
`inpainting_nll` scores them and any VAE of the course on the same images (see its docstring).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from .checks import check_count, check_mask, check_pixels, flatten_images
from .conditional import iw_conditional
from .evaluation import iw_log_marginal, standard_normal_log_prob
from .gradients import reparameterize
from .info import kl_normal_diag
from .models import Autoencoder, _mlp, eval_mode
from .objectives import LossTerms, bernoulli_log_probs

ROWS_PER_BLOCK = 4096  # (sample, image) pairs decoded at once when scoring a CVAE: 12 MB of logits


def masked_input(x: torch.Tensor, given: torch.Tensor, fill: torch.Tensor | float = -1.0) -> torch.Tensor:
    """Images (B, D) with the given pixels kept and the missing ones replaced by `fill` (Pyro: −1)."""
    return torch.where(given, x, torch.as_tensor(fill, dtype=x.dtype, device=x.device))


def diagonal_normal_log_prob(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag exp(logvar)) summed over the last (latent) dimension: (..., d) -> (...)."""
    return standard_normal_log_prob((z - mu) * (-0.5 * logvar).exp()) - 0.5 * logvar.sum(-1)


class _Gaussian(nn.Module):
    """An MLP from (B, D) to the (mu, logvar) of a diagonal Gaussian over z, (B, latent_dim) each (Pyro's Encoder)."""

    def __init__(self, input_dim: int, hidden_dims: tuple[int, ...], latent_dim: int) -> None:
        super().__init__()
        self.body = nn.Sequential(*_mlp([input_dim, *hidden_dims]), nn.ReLU())
        self.mu = nn.Linear(hidden_dims[-1], latent_dim)
        self.logvar = nn.Linear(hidden_dims[-1], latent_dim)  # Pyro's fc32 gives log σ; here log σ² = 2 log σ

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar), each (B, latent_dim), for inputs x (B, D)."""
        h = self.body(x)
        return self.mu(h), self.logvar(h)


def _given_mask(given: torch.Tensor) -> torch.Tensor:
    """The mask (True = given) as a bool vector (D,), with at least one given and one missing pixel."""
    if not torch.is_tensor(given) or given.numel() < 2:
        raise ValueError("given must be a mask tensor of the image's pixels (True = given), e.g. quadrant_masks()[1]")
    mask = check_mask(given, given.numel())
    if mask.all() or not mask.any():
        raise ValueError("the mask must leave some pixels given and some missing (True = given)")
    return mask


def _hidden(hidden_dims: tuple[int, ...]) -> tuple[int, ...]:
    """hidden_dims checked: a non-empty tuple of positive ints."""
    hidden_dims = tuple(hidden_dims)
    if not hidden_dims or not all(isinstance(h, int) and h > 0 for h in hidden_dims):
        raise ValueError(f"hidden_dims must be a non-empty tuple of positive ints, got {hidden_dims!r}")
    return hidden_dims


class BaselineNet(nn.Module):
    """Pyro's plain network: given pixels (missing ones −1) in, Bernoulli logits out; −log p over the missing ones."""

    needs_labels = False

    def __init__(self, given: torch.Tensor, hidden_dims: tuple[int, ...] = (500, 500)) -> None:
        super().__init__()
        self.register_buffer("given", _given_mask(given))  # (D,), True = given
        dim = len(self.given)
        self.net = _mlp([dim, *_hidden(hidden_dims), dim])  # masked x (B, D) -> logits (B, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, D) of every pixel from the given pixels of images x; only the missing ones are used."""
        x = flatten_images(x, len(self.given))
        return self.net(masked_input(x, self.given))

    def log_prob_missing(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x_missing | x_given) in nats, (B,): exact, a sum of independent Bernoulli log-probabilities."""
        x = flatten_images(x, len(self.given))
        return (bernoulli_log_probs(self(x), x) * ~self.given).sum(-1)

    def loss_terms(self, x: torch.Tensor, y: torch.Tensor | None = None,
                   generator: torch.Generator | None = None) -> LossTerms:
        """(−log p(x_missing | x_given), 0) as batch means: a network without a latent has no KL term."""
        recon = -self.log_prob_missing(x).mean()
        return LossTerms.of(recon, torch.zeros((), device=recon.device, dtype=recon.dtype))


class InpaintingCVAE(nn.Module):
    """Sohn et al.'s CVAE for one mask: q(z | x), a learned prior p(z | x_given) and p(x_missing | z).

    Pyro's sizes are the defaults (latent_dim 200, two hidden layers of 500 in each of the three nets).
    `baseline`: a trained BaselineNet for the same mask; as in Pyro the prior net then sees its guess
    (pixel probabilities, no gradient) in the missing pixels; without one it sees −1 there.
    """

    needs_labels = False

    def __init__(self, given: torch.Tensor, latent_dim: int = 200, hidden_dims: tuple[int, ...] = (500, 500),
                 baseline: BaselineNet | None = None) -> None:
        super().__init__()
        self.register_buffer("given", _given_mask(given))
        check_count(latent_dim, "latent_dim")
        if baseline is not None and (not isinstance(baseline, BaselineNet) or not torch.equal(
                baseline.given.cpu(), self.given.cpu())):
            raise ValueError("baseline must be a BaselineNet trained for the same mask (given) as this CVAE")
        dim, hidden = len(self.given), _hidden(hidden_dims)
        self.baseline = baseline  # trained beforehand; fit leaves it alone (its gradients stay None)
        self.recognition_net = _Gaussian(dim, hidden, latent_dim)  # whole image x -> q(z | x)
        self.prior_net = _Gaussian(dim, hidden, latent_dim)  # given pixels -> p(z | x_given)
        self.generation_net = _mlp([latent_dim, *hidden, dim])  # z -> logits (B, D); Pyro's sees z only

    def recognize(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z | x), each (B, latent_dim), from the whole image."""
        return self.recognition_net(flatten_images(x, len(self.given)))

    def prior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of the learned prior p(z | x_given), each (B, latent_dim); the missing pixels are not read."""
        x = flatten_images(x, len(self.given))
        fill = -1.0
        if self.baseline is not None:
            with torch.no_grad():
                fill = torch.sigmoid(self.baseline(x))  # Pyro's y_hat: the baseline's guess, from x_given only
        return self.prior_net(masked_input(x, self.given, fill))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits (..., D) of p(x | z); only the missing pixels are modelled and scored."""
        return self.generation_net(z)

    def log_prob_missing_given_z(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x_missing | z), (...,) for codes z (..., latent_dim) and images x broadcast to them (..., D)."""
        return (bernoulli_log_probs(self.decode(z), x) * ~self.given).sum(-1)

    def loss_terms(self, x: torch.Tensor, y: torch.Tensor | None = None,
                   generator: torch.Generator | None = None) -> LossTerms:
        """(E_q[−log p(x_m | z)] with one z, KL(q(z | x) ‖ p(z | x_g)) in closed form) as batch means: the −ELBO."""
        x = flatten_images(x, len(self.given))
        mu_q, logvar_q = self.recognize(x)
        mu_p, logvar_p = self.prior(x)
        z = reparameterize(mu_q, logvar_q, generator=generator)  # (B, latent_dim)
        recon = -self.log_prob_missing_given_z(z, x).mean()
        return LossTerms.of(recon, kl_normal_diag(mu_q, logvar_q, mu_p, logvar_p).mean())


class InpaintingScore(NamedTuple):
    """−log p(x_missing | x_given) per image (N,), nats, with what the number is (`kind`)."""

    nll: torch.Tensor
    kind: str  # "exact", "importance-sampled (a stochastic upper bound ...)" or "difference of two estimates ..."

    @property
    def mean(self) -> float:
        """The mean over images."""
        return self.nll.double().mean().item()

    @property
    def standard_error(self) -> float:
        """The standard error of the mean over images, std / √N (the images' spread, not the estimator's)."""
        return (self.nll.double().std() / math.sqrt(len(self.nll))).item() if len(self.nll) > 1 else math.nan


@torch.no_grad()
def inpainting_nll(model: nn.Module, x: torch.Tensor, given: torch.Tensor, num_samples: int, *,
                   batch_size: int = 100, generator: torch.Generator | None = None) -> InpaintingScore:
    """−log p(x_missing | x_given) per image (nats): one score for a BaselineNet, an InpaintingCVAE and a VAE.

    Images x should be binary (e.g. binarize_dynamic of the test set): then every value is a log-probability.
    - BaselineNet: exact (num_samples is checked but not used).
    - InpaintingCVAE: log E_{q(z|x)}[p(x_m | z) p(z | x_g) / q(z | x)] from k = num_samples draws of q(z | x):
      its expectation is below log p(x_m | x_g) (Jensen) and rises to it as k grows, so −log is a stochastic
      upper bound; k = 1 is the model's own one-sample −ELBO.
    - a VAE (encode/decode, prior N(0, I)): conditional.iw_conditional's log p(x) − log p(x_g) from the
      same draws of q(z | x): a difference of two log-estimates, consistent as k grows but not a bound.
    `given` (True = given) must be the mask a BaselineNet or InpaintingCVAE was trained for.
    """
    check_pixels(x, "x")
    check_count(num_samples, "num_samples (k)")
    if getattr(model, "needs_labels", False):
        raise ValueError(f"{type(model).__name__} needs labels; inpainting_nll scores models of images alone")
    x = flatten_images(x)
    mask = check_mask(given, x.shape[1]).cpu()
    vae_like = all(hasattr(model, name) for name in ("encode", "decode")) and not isinstance(model, Autoencoder)
    if not (vae_like or isinstance(model, (BaselineNet, InpaintingCVAE))):
        raise ValueError(f"{type(model).__name__} is not a model of p(x): pass a BaselineNet, an InpaintingCVAE or "
                         "a VAE (encode -> (mu, logvar), decode -> logits)")
    if isinstance(model, (BaselineNet, InpaintingCVAE)) and not torch.equal(mask, model.given.cpu()):
        raise ValueError(f"{type(model).__name__} was trained for another mask: pass the `given` it was built with "
                         "(model.given)")
    device = next(model.parameters()).device
    parts = []
    with eval_mode(model):
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size].to(device)
            if isinstance(model, BaselineNet):
                parts.append(model.log_prob_missing(xb))
            elif isinstance(model, InpaintingCVAE):
                parts.append(_cvae_log_prob_missing(model, xb, num_samples, generator))
            else:
                parts.append(iw_conditional(model, xb, mask, num_samples, batch_size=batch_size,
                                            generator=generator).log_p_hidden)
    kind = ("exact" if isinstance(model, BaselineNet) else
            f"importance-sampled, k = {num_samples} (a stochastic upper bound)" if isinstance(model, InpaintingCVAE)
            else f"difference of two importance-sampled estimates, k = {num_samples} (not a bound)")
    return InpaintingScore(-torch.cat(parts), kind)


def _cvae_log_prob_missing(model: InpaintingCVAE, x: torch.Tensor, num_samples: int,
                           generator: torch.Generator | None) -> torch.Tensor:
    """Importance-sampled log p(x_m | x_g), (B,), with q(z | x) as proposal (lesson 08's estimator)."""
    mu_q, logvar_q = model.recognize(x)
    mu_p, logvar_p = model.prior(x)

    def log_joint(z: torch.Tensor) -> torch.Tensor:
        """log p(x_m | z) + log p(z | x_g), (S, B), for codes z (S, B, d)."""
        return model.log_prob_missing_given_z(z, x) + diagonal_normal_log_prob(z, mu_p, logvar_p)

    return iw_log_marginal(log_joint, mu_q, logvar_q, num_samples, generator=generator,
                           chunk_size=max(1, ROWS_PER_BLOCK // len(x)))
