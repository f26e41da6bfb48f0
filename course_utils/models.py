"""MLP autoencoder, variational autoencoder and conditional VAE for 28x28 images, with their configs.

Derived in notebooks/03_autoencoder.ipynb (Autoencoder), notebooks/06_vae.ipynb (VAE) and
notebooks/09_beyond_the_vae.ipynb (CVAE).

The training protocol (what `train.fit` needs from a model, and all it needs): a `loss_terms(x, y,
generator=None)` method returning `LossTerms(recon, kl)` batch means, a `needs_labels` flag, and, to be
saved and rebuilt by `train.save_checkpoint`/`load_checkpoint`, a `config` (ModelConfig).
`sample(...)` in every model returns draws from it (binary pixels) and the codes that made them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_count, check_labels, flatten_images
from .gradients import reparameterize
from .objectives import LossTerms, bernoulli_nll, gaussian_vae_terms

KINDS = ("autoencoder", "vae", "cvae")


@runtime_checkable
class Trainable(Protocol):
    """What `train.fit` and `train.evaluate` use: a module with its own loss terms."""

    needs_labels: bool

    def loss_terms(self, x: torch.Tensor, y: torch.Tensor | None = None,
                   generator: torch.Generator | None = None) -> LossTerms:
        """(reconstruction, KL) batch means in nats per image for flattened images x (B, D) and labels y."""
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
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
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
        return LossTerms(recon, torch.zeros((), device=x.device, dtype=recon.dtype))


class VAE(nn.Module):
    """Variational autoencoder: q(z|x) = N(mu(x), diag exp(logvar(x))), p(z) = N(0, I), p(x|z) Bernoulli."""

    needs_labels = False

    def __init__(
        self, input_dim: int = 784, hidden_dim: int = 400, latent_dim: int = 20, num_layers: int = 1
    ) -> None:
        super().__init__()
        self.config = ModelConfig("vae", input_dim, hidden_dim, latent_dim, num_layers)
        self._build_networks()

    def _build_networks(self) -> None:
        """Encoder, the two heads and decoder from self.config; a CVAE's label widens both inputs."""
        c = self.config
        hidden = [c.hidden_dim] * c.num_layers
        self.encoder = nn.Sequential(*_mlp([c.input_dim + c.num_classes, *hidden]), nn.ReLU())  # x -> h (B, hidden)
        self.mu = nn.Linear(c.hidden_dim, c.latent_dim)  # h -> mu (B, latent_dim)
        self.logvar = nn.Linear(c.hidden_dim, c.latent_dim)  # h -> log sigma^2 (B, latent_dim)
        self.decoder = _mlp([c.latent_dim + c.num_classes, *hidden, c.input_dim])  # z -> logits (B, input_dim)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Parameters (mu, logvar), each (B, latent_dim), of the approximate posterior q(z|x)."""
        h = self.encoder(flatten_images(x, self.config.input_dim))
        return self.mu(h), self.logvar(h)

    def reparameterize(
        self, mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """A differentiable sample z = mu + sigma * eps from q(z|x) (lesson 05's trick)."""
        return reparameterize(mu, logvar, generator=generator)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits (B, input_dim) of p(x|z); sigmoid gives pixel probabilities."""
        return self.decoder(z)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits, mu, logvar): one reparameterized z per image, decoded to Bernoulli logits."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator=generator)  # (B, latent_dim)
        return self.decode(z), mu, logvar

    def loss_terms(self, x: torch.Tensor, y: torch.Tensor | None = None,
                   generator: torch.Generator | None = None) -> LossTerms:
        """(reconstruction, KL) batch means: one reparameterized z per image; y is not used."""
        logits, mu, logvar = self(x, generator=generator)
        return gaussian_vae_terms(logits, x, mu, logvar)

    @torch.no_grad()
    def sample(self, num_samples: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draws from the model: z ~ N(0, I), then binary pixels x ~ p(x|z); returns (x, z).

        The pixel probabilities of those draws (the usual "sample" figures) are torch.sigmoid(decode(z)).
        """
        z = _prior_draws(self, num_samples, generator)  # step 1: z ~ p(z), (num_samples, latent_dim)
        return _bernoulli_draws(self.decode(z), generator), z  # step 2: x ~ p(x|z)


class CVAE(VAE):
    """Conditional VAE: q(z|x, y) and p(x|z, y) see the label y (one-hot), the prior is p(z) = N(0, I).

    Encoder and decoder are the VAE's, with the one-hot label appended to their inputs, so the decoder
    can draw any chosen digit: decode(z, y). Trained like the VAE, on (image, label) pairs.
    """

    needs_labels = True

    def __init__(
        self, input_dim: int = 784, hidden_dim: int = 400, latent_dim: int = 20, num_layers: int = 1,
        num_classes: int = 10,
    ) -> None:
        nn.Module.__init__(self)  # not VAE.__init__: its networks would be built, then thrown away
        self.config = ModelConfig("cvae", input_dim, hidden_dim, latent_dim, num_layers, num_classes)
        self._build_networks()  # [x, y] -> h -> (mu, logvar); [z, y] -> logits

    def one_hot(self, y: torch.Tensor, rows: int) -> torch.Tensor:
        """Labels y (rows,) of ints in [0, num_classes) as float one-hot rows (rows, num_classes)."""
        k = self.config.num_classes
        return F.one_hot(check_labels(y, rows, "labels y", k), k).to(self.mu.weight.dtype)

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z | x, y), each (B, latent_dim)."""
        x = flatten_images(x, self.config.input_dim)
        h = self.encoder(torch.cat([x, self.one_hot(y.to(x.device), len(x))], dim=1))
        return self.mu(h), self.logvar(h)

    def decode(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits (B, input_dim) of p(x | z, y)."""
        return self.decoder(torch.cat([z, self.one_hot(y.to(z.device), len(z))], dim=1))

    def forward(
        self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits, mu, logvar): one reparameterized z ~ q(z|x, y) per image, decoded under the same y."""
        mu, logvar = self.encode(x, y)
        return self.decode(self.reparameterize(mu, logvar, generator=generator), y), mu, logvar

    def loss_terms(self, x: torch.Tensor, y: torch.Tensor | None = None,
                   generator: torch.Generator | None = None) -> LossTerms:
        """(reconstruction, KL) batch means of the conditional −ELBO, −log p(x|y) ≤ recon + KL."""
        if y is None:
            raise ValueError("a CVAE needs the labels: fit(model, train_x, train_y, ...) or loss_terms(x, y)")
        logits, mu, logvar = self(x, y, generator=generator)
        return gaussian_vae_terms(logits, x, mu, logvar)

    @torch.no_grad()
    def sample(self, y: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One draw per label in y (B,): z ~ N(0, I), then binary x ~ p(x | z, y); returns (x, z)."""
        if not isinstance(y, torch.Tensor) or y.dim() != 1:
            raise ValueError(f"y must be a 1-D tensor of labels, one per image to draw, got {y!r:.80}")
        z = _prior_draws(self, len(y), generator)
        return _bernoulli_draws(self.decode(z, y), generator), z


def _prior_draws(model: VAE, num_samples: int, generator: torch.Generator | None) -> torch.Tensor:
    """z ~ N(0, I), (num_samples, latent_dim) on the model's device, drawn where the generator lives."""
    check_count(num_samples, "num_samples")
    weight = model.mu.weight
    where = generator.device if generator is not None else weight.device  # a CPU generator: same z anywhere
    return torch.randn(num_samples, model.config.latent_dim, generator=generator, device=where,
                       dtype=weight.dtype).to(weight.device)


def _bernoulli_draws(logits: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Binary pixels x ~ Bernoulli(sigmoid(logits)), drawn where the generator lives."""
    probs = torch.sigmoid(logits)
    where = generator.device if generator is not None else probs.device
    return torch.bernoulli(probs.to(where), generator=generator).to(probs.device)


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
    if config.kind == "cvae":
        return CVAE(config.input_dim, config.hidden_dim, config.latent_dim, config.num_layers, config.num_classes)
    cls = Autoencoder if config.kind == "autoencoder" else VAE
    return cls(config.input_dim, config.hidden_dim, config.latent_dim, config.num_layers)
