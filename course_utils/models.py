"""MLP autoencoder and variational autoencoder for 28x28 images, with the config saved in checkpoints.

Derived in notebooks/03_autoencoder.ipynb (Autoencoder) and notebooks/06_vae.ipynb (VAE).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .gradients import reparameterize

KINDS = ("autoencoder", "vae")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model: its kind and its sizes (saved with every checkpoint)."""

    kind: str
    input_dim: int = 784
    hidden_dim: int = 400
    latent_dim: int = 20
    num_layers: int = 1  # hidden layers of hidden_dim units in the encoder and in the decoder

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        for name in ("input_dim", "hidden_dim", "latent_dim", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")


def flatten_images(x: torch.Tensor, input_dim: int) -> torch.Tensor:
    """Images (B, 1, 28, 28), (B, 28, 28) or (B, 784) as rows (B, input_dim); ValueError otherwise."""
    if not torch.is_floating_point(x):
        raise ValueError(f"expected float pixels in [0, 1], got dtype {x.dtype}; divide by 255 first")
    if x.dim() < 2 or x[0].numel() != input_dim:
        raise ValueError(
            f"expected a batch of images with {input_dim} pixels each, shaped (B, 1, 28, 28) or "
            f"(B, {input_dim}); got shape {tuple(x.shape)} (a single image needs x.unsqueeze(0))"
        )
    return x.reshape(x.shape[0], input_dim)


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


class VAE(nn.Module):
    """Variational autoencoder: q(z|x) = N(mu(x), diag exp(logvar(x))), p(z) = N(0, I), p(x|z) Bernoulli."""

    def __init__(
        self, input_dim: int = 784, hidden_dim: int = 400, latent_dim: int = 20, num_layers: int = 1
    ) -> None:
        super().__init__()
        self.config = ModelConfig("vae", input_dim, hidden_dim, latent_dim, num_layers)
        hidden = [hidden_dim] * num_layers
        self.encoder = nn.Sequential(*_mlp([input_dim, *hidden]), nn.ReLU())  # x -> h (B, hidden_dim)
        self.mu = nn.Linear(hidden_dim, latent_dim)  # h -> mu (B, latent_dim)
        self.logvar = nn.Linear(hidden_dim, latent_dim)  # h -> log sigma^2 (B, latent_dim)
        self.decoder = _mlp([latent_dim, *hidden, input_dim])  # z -> logits (B, 784)

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

    @torch.no_grad()
    def sample(self, num_samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Pixel probabilities (num_samples, input_dim) of new images: z ~ N(0, I), then sigmoid(decode(z))."""
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"num_samples must be a positive int, got {num_samples!r}")
        weight = self.mu.weight
        # Draw z where the generator lives (a CPU generator gives the same samples on every device).
        where = generator.device if generator is not None else weight.device
        z = torch.randn(num_samples, self.config.latent_dim, generator=generator,
                        device=where, dtype=weight.dtype).to(weight.device)  # step 1: z ~ p(z)
        return torch.sigmoid(self.decode(z))  # step 2: the mean of p(x|z); draw pixels with torch.bernoulli


@torch.no_grad()
def init_output_bias(model: Autoencoder | VAE, x: torch.Tensor) -> None:
    """Start the decoder at the average image: its last bias = logit of each pixel's mean grey level.

    A free head start (no extra cost per step): the first epochs no longer spend their updates
    learning the average digit, and the −ELBO after a few epochs is about a nat lower.
    """
    mean = flatten_images(x, model.config.input_dim).mean(dim=0).clamp(1e-3, 1 - 1e-3)  # (input_dim,)
    last = model.decoder[-1]
    last.bias.copy_(torch.logit(mean).to(last.bias))  # sigmoid(bias) = mean pixel when z has no effect


def build_model(config: ModelConfig) -> Autoencoder | VAE:
    """A freshly initialised model of the kind and sizes in `config`."""
    cls = Autoencoder if config.kind == "autoencoder" else VAE
    return cls(config.input_dim, config.hidden_dim, config.latent_dim, config.num_layers)
