"""MLP autoencoder, variational autoencoder and conditional VAE for 28x28 images, with their configs.

Derived in notebooks/03_autoencoder.ipynb (Autoencoder), notebooks/06_vae.ipynb (VAE) and
notebooks/10_conditional_vae.ipynb (CVAE).

The training protocol (what `train.fit` needs from a model, and all it needs): a `loss_terms(x, y,
generator=None)` method returning `LossTerms.of(recon, kl)` batch means, a `needs_labels` flag, and, to be
saved and rebuilt by `train.save_checkpoint`/`load_checkpoint`, a `config` (ModelConfig).
The VAE and the CVAE share one set of methods, each with an optional label y: `encode(x, y)`,
`decode(z, y)`, `forward(x, y)`, `sample(num_samples, y=y)`; a CVAE is a VAE built with num_classes > 0,
so code written for "a VAE" runs on a CVAE when it passes the labels along. The generative models
(VAE, CVAE) have `sample(...)`, returning draws (binary pixels) and the codes that made them; the
autoencoder has none (it is not a generative model, lesson 03).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_count, check_labels, draw_device, flatten_images
from .gradients import reparameterize
from .objectives import LossTerms, bernoulli_nll, gaussian_vae_terms

MODEL_KINDS = ("autoencoder", "vae", "cvae")


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Run a block with `model` in eval mode, then put back the mode it had, even if the block raises."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@runtime_checkable
class Trainable(Protocol):
    """What `train.fit` and `train.evaluate` use: a module with its own loss terms."""

    needs_labels: bool

    def loss_terms(self, x: torch.Tensor, y: torch.Tensor | None = None,
                   generator: torch.Generator | None = None) -> LossTerms:
        """LossTerms.of(recon, kl): batch means in nats per image for flattened images x (B, D) and labels y."""
        ...


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model: its kind and its sizes (saved with every checkpoint)."""

    kind: str
    input_dim: int = 784
    hidden_dim: int = 400
    latent_dim: int = 20
    num_layers: int = 1  # hidden layers of hidden_dim units in the encoder and in the decoder
    num_classes: int = 0  # labels a conditional model takes (0: none; checkpoints before 09 lack it)

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise ValueError(f"kind must be one of {MODEL_KINDS}, got {self.kind!r}")
        for name in ("input_dim", "hidden_dim", "latent_dim", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(self.num_classes, int) or (self.num_classes < 2) != (self.kind != "cvae"):
            raise ValueError(f"num_classes must be an int >= 2 for a cvae and 0 otherwise, got "
                             f"{self.num_classes!r} for kind {self.kind!r}")


def _mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of the given sizes with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(d_in, d_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    """Deterministic autoencoder: x -> z = encode(x) -> logits = decode(z); pixels = sigmoid(logits)."""

    needs_labels = False

    def __init__(
        self, input_dim: int = 784, hidden_dim: int = 400, latent_dim: int = 2, num_layers: int = 1
    ) -> None:
        super().__init__()
        self.config = ModelConfig("autoencoder", input_dim, hidden_dim, latent_dim, num_layers)
        hidden = [hidden_dim] * num_layers
        self.encoder = _mlp([input_dim, *hidden, latent_dim])  # x (B, 784) -> z (B, latent_dim)
        self.decoder = _mlp([latent_dim, *hidden, input_dim])  # z -> logits (B, 784)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code z (B, latent_dim) of images x."""
        return self.encoder(flatten_images(x, self.config.input_dim))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits (B, input_dim) of the pixels given codes z; sigmoid gives grey levels."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction logits (B, input_dim) of images x."""
        return self.decode(self.encode(x))

    def loss_terms(self, x: torch.Tensor, y: torch.Tensor | None = None,
                   generator: torch.Generator | None = None) -> LossTerms:
        """(reconstruction loss, 0): an autoencoder has no KL term; y and generator are not used."""
        recon = bernoulli_nll(self(x), x).mean()
        return LossTerms.of(recon, torch.zeros((), device=x.device, dtype=recon.dtype))


class VAE(nn.Module):
    """Variational autoencoder: q(z|x) = N(mu(x), diag exp(logvar(x))), p(z) = N(0, I), p(x|z) Bernoulli.

    With num_classes > 0 it is a conditional VAE (see CVAE): every method then takes the labels y.
    """

    def __init__(
        self, input_dim: int = 784, hidden_dim: int = 400, latent_dim: int = 20, num_layers: int = 1,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        kind = "cvae" if num_classes else "vae"
        self.config = ModelConfig(kind, input_dim, hidden_dim, latent_dim, num_layers, num_classes)
        c = self.config
        hidden = [c.hidden_dim] * c.num_layers
        # A conditional model's one-hot label widens the encoder's and the decoder's inputs.
        self.encoder = nn.Sequential(*_mlp([c.input_dim + c.num_classes, *hidden]), nn.ReLU())  # x -> h (B, hidden)
        self.mu = nn.Linear(c.hidden_dim, c.latent_dim)  # h -> mu (B, latent_dim)
        self.logvar = nn.Linear(c.hidden_dim, c.latent_dim)  # h -> log sigma^2 (B, latent_dim)
        self.decoder = _mlp([c.latent_dim + c.num_classes, *hidden, c.input_dim])  # z -> logits (B, input_dim)

    @property
    def needs_labels(self) -> bool:
        """Whether encode, decode and the loss need labels y (a conditional VAE)."""
        return self.config.num_classes > 0

    def _with_label(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """h (B, n) with the one-hot label appended for a conditional model, (B, n + num_classes); h alone otherwise."""
        if not self.needs_labels:
            if y is not None:
                raise ValueError(f"{type(self).__name__} takes no labels: leave y out")
            return h
        if y is None:
            raise ValueError(f"{type(self).__name__} is conditioned on labels: pass y, one label per image")
        k = self.config.num_classes
        one_hot = F.one_hot(check_labels(y, len(h), "labels y", k).to(h.device), k).to(self.mu.weight.dtype)
        return torch.cat([h, one_hot], dim=1)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Parameters (mu, logvar), each (B, latent_dim), of the approximate posterior q(z|x) (q(z|x, y) given y)."""
        h = self.encoder(self._with_label(flatten_images(x, self.config.input_dim), y))
        return self.mu(h), self.logvar(h)

    def reparameterize(
        self, mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """A differentiable sample z = mu + sigma * eps from q(z|x) (lesson 05's trick)."""
        return reparameterize(mu, logvar, generator=generator)

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Bernoulli logits (B, input_dim) of p(x|z) (p(x|z, y) given y); sigmoid gives pixel probabilities."""
        return self.decoder(self._with_label(z, y))

    def forward(
        self, x: torch.Tensor, y: torch.Tensor | None = None, *, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits, mu, logvar): one reparameterized z per image, decoded to Bernoulli logits (under the same y)."""
        mu, logvar = self.encode(x, y)
        z = self.reparameterize(mu, logvar, generator=generator)  # (B, latent_dim)
        return self.decode(z, y), mu, logvar

    def loss_terms(self, x: torch.Tensor, y: torch.Tensor | None = None,
                   generator: torch.Generator | None = None) -> LossTerms:
        """(reconstruction, KL) batch means of the −ELBO (−log p(x|y) ≤ recon + KL given labels), one z per image."""
        logits, mu, logvar = self(x, y, generator=generator)
        return gaussian_vae_terms(logits, x, mu, logvar)

    @torch.no_grad()
    def sample(self, num_samples: int | None = None, generator: torch.Generator | None = None, *,
               y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draws from the model: z ~ N(0, I), then binary pixels x ~ p(x|z) (p(x|z, y)); returns (x, z).

        A conditional model draws one image per label in y (num_samples may be left out). The pixel
        probabilities of those draws (the usual "sample" figures) are torch.sigmoid(decode(z, y)).
        """
        if y is not None and not (torch.is_tensor(y) and y.dim() == 1):
            raise ValueError(f"y must be a 1-D tensor of labels, one per image to draw, got {y!r:.80}")
        if num_samples is None and y is not None:
            num_samples = len(y)
        z = _prior_draws(self, num_samples, generator)  # step 1: z ~ p(z), (num_samples, latent_dim)
        return _bernoulli_draws(self.decode(z, y), generator), z  # step 2: x ~ p(x|z)


class CVAE(VAE):
    """Conditional VAE: q(z|x, y) and p(x|z, y) see the label y (one-hot), the prior is p(z) = N(0, I).

    The VAE with num_classes > 0 (ten by default): the same networks with the one-hot label appended to
    their inputs, and the same methods, so the decoder can draw any chosen digit, decode(z, y).
    Trained like the VAE, on (image, label) pairs.
    """

    def __init__(
        self, input_dim: int = 784, hidden_dim: int = 400, latent_dim: int = 20, num_layers: int = 1,
        num_classes: int = 10,
    ) -> None:
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2 for a CVAE, got {num_classes!r}")
        super().__init__(input_dim, hidden_dim, latent_dim, num_layers, num_classes)


def _prior_draws(model: VAE, num_samples: int, generator: torch.Generator | None) -> torch.Tensor:
    """z ~ N(0, I), (num_samples, latent_dim) on the model's device, drawn where the generator lives."""
    check_count(num_samples, "num_samples")
    weight = model.mu.weight
    return torch.randn(num_samples, model.config.latent_dim, generator=generator,
                       device=draw_device(generator, weight.device), dtype=weight.dtype).to(weight.device)


def _bernoulli_draws(logits: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Binary pixels x ~ Bernoulli(sigmoid(logits)), drawn where the generator lives."""
    probs = torch.sigmoid(logits)
    return torch.bernoulli(probs.to(draw_device(generator, probs.device)), generator=generator).to(probs.device)


def encode_batch(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """model.encode(x), or model.encode(x, y) given labels: a model written without labels needs no y argument."""
    return model.encode(x) if y is None else model.encode(x, y.to(x.device))


def decode_batch(model: nn.Module, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """model.decode(z), or model.decode(z, y) given labels (see encode_batch)."""
    return model.decode(z) if y is None else model.decode(z, y.to(z.device))


@torch.no_grad()
def init_output_bias(model: Autoencoder | VAE, x: torch.Tensor) -> None:
    """Start the decoder at the average image: its last bias = logit of each pixel's mean grey level.

    A free head start (no extra cost per step): the first epochs no longer spend their updates
    learning the average digit, and the −ELBO after a few epochs is about a nat lower.
    """
    mean = flatten_images(x, model.config.input_dim).mean(dim=0).clamp(1e-3, 1 - 1e-3)  # (input_dim,)
    last = model.decoder[-1]
    last.bias.copy_(torch.logit(mean).to(last.bias))  # sigmoid(bias) = mean pixel when z has no effect


def build_model(config: ModelConfig) -> Autoencoder | VAE | CVAE:
    """A freshly initialised model of the kind and sizes in `config`."""
    if config.kind == "autoencoder":
        return Autoencoder(config.input_dim, config.hidden_dim, config.latent_dim, config.num_layers)
    cls = CVAE if config.kind == "cvae" else VAE
    return cls(config.input_dim, config.hidden_dim, config.latent_dim, config.num_layers, config.num_classes)
