"""One training function for every model that brings its own loss terms, and evaluation.

The loop is written out once in notebooks/03_autoencoder.ipynb; fit is that loop with the data on the
device, checks, a progress line and checkpoints. Derived in notebooks/03_autoencoder.ipynb,
notebooks/06_vae.ipynb (the VAE's terms), notebooks/09_beta_collapse_iwae.ipynb (β, warm-up, free bits, the
IWAE bound) and notebooks/10_conditional_vae.ipynb (labels).
Checkpoints, TrainConfig and History live in course_utils.checkpoint (importable from here too).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import replace

import torch

from .checkpoint import (  # noqa: F401  (lessons import CHECKPOINTS, load_checkpoint and load_pretrained from here)
    CHECKPOINTS,
    History,
    TrainConfig,
    load_checkpoint,
    load_pretrained,
    save_checkpoint,
)
from .checks import check_labels, check_pixels, flatten_images
from .data import binarize_dynamic, binarize_fixed
from .latent_space import encode_posterior, kl_per_dimension, unit_activity
from .models import VAE, ModelConfig, Trainable, eval_mode
from .objectives import LossTerms, free_bits_loss, iwae_loss, kl_weight, weighted_loss
from .progress import Progress
from .runtime import get_device

SYNC_EVERY = 50  # steps between reads of a GPU's losses (see _Loop._check_finite)


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite; training stopped and the last good checkpoint was kept."""


def fit(
    model: Trainable,
    train_x: torch.Tensor,
    train_y: torch.Tensor | None = None,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    device: torch.device | str | None = None,
    test_x: torch.Tensor | None = None,
    test_y: torch.Tensor | None = None,
    binarize: str | None = None,
    schedule: str = "constant",
    beta: float = 1.0,
    warmup_epochs: int = 0,
    free_bits: float = 0.0,
    iw_samples: int = 1,
    checkpoint_path: str | os.PathLike | None = None,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """Train `model` in place with Adam on images in [0, 1]; return the per-epoch History.

    Any model with `loss_terms(x, y, generator)` trains (see models.Trainable): fit minimises
    recon + w·KL, w = kl_weight(step, beta, warmup_epochs · steps per epoch). Labels `train_y`/`test_y`
    reach the model when it `needs_labels`. A VAE can train with free bits instead (`free_bits` λ > 0 nats:
    recon + w·Σ_d max(λ, KL_d)) or with the IWAE bound of `iw_samples` k > 1 draws (−L_k, no KL weight); the
    −ELBO is reported either way, and a VAE's History keeps each epoch's test KL and activity per dimension.
    The whole data set lives as one tensor on `device` (default: the GPU if there is one) and each epoch
    slices shuffled batches from it. `binarize`: None trains on grey levels, "dynamic" on a new Bernoulli
    draw of every batch, "fixed" on pixels > 0.5.
    `schedule="cosine"` decays lr to 0. Ctrl-C stops cleanly and returns the epochs done so far; a NaN
    loss raises TrainingDivergedError. The settings are saved with every checkpoint (History.config).
    """
    if not isinstance(model, Trainable):
        raise TypeError(f"{type(model).__name__} cannot be trained by fit: it needs a needs_labels flag and a "
                        "loss_terms(x, y, generator) method returning LossTerms.of(recon, kl) (see models.Trainable)")
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, schedule=schedule, beta=beta,
                         warmup_epochs=warmup_epochs, binarize=binarize, seed=seed, free_bits=free_bits,
                         iw_samples=iw_samples)
    if (free_bits or iw_samples > 1) and not isinstance(model, VAE):
        raise ValueError(f"free_bits and iw_samples train a VAE's latent code; {type(model).__name__} has none")
    device = torch.device(device) if device is not None else get_device()
    generator = torch.Generator(device=device).manual_seed(seed)  # shuffling, binarization, z samples
    x_train, y_train = _data(model, train_x, train_y, device, binarize, generator, "train")
    x_test, y_test = _data(model, test_x, test_y, device, binarize, generator, "test") if test_x is not None \
        else (None, None)
    test_size = None if x_test is None else len(x_test)
    history = History(config=replace(config, train_size=len(x_train), test_size=test_size))
    model.to(device)
    loop = _Loop(model, x_train, y_train, generator, history.config, Progress(
        f"fit on {device}", epochs, math.ceil(len(x_train) / batch_size), enabled=progress), checkpoint_path)
    try:
        for epoch in range(epochs):
            loop.epoch, start = epoch, time.perf_counter()
            batch_sums = loop.train_epoch()
            history.seconds.append(time.perf_counter() - start)
            _append(history, "train", _means(batch_sums, len(x_train)))
            if x_test is not None:
                _append(history, "test", _test_epoch(model, x_test, y_test, generator, epoch))
                if isinstance(model, VAE):
                    _append_latent_stats(history, model, x_test, y_test)
            loop.bar.epoch_done(history)
            if checkpoint_path is not None:
                save_checkpoint(model, checkpoint_path, history=history)
    except KeyboardInterrupt:
        history.interrupted = True
        loop.bar.note(f"Interrupted at epoch {loop.epoch + 1}, step {loop.step + 1}: returning the "
                      f"{len(history.seconds)} finished epoch(s); the model keeps its current weights.")
    finally:
        loop.bar.close(history)
        model.eval()
    return history


class _Loop:
    """fit's optimiser, lr schedule and position (epoch, step), and one epoch of updates on shuffled batches."""

    def __init__(self, model: Trainable, x: torch.Tensor, y: torch.Tensor | None, generator: torch.Generator,
                 config: TrainConfig, bar: Progress, checkpoint_path: str | os.PathLike | None) -> None:
        self.model, self.x, self.y, self.generator, self.config, self.bar = model, x, y, generator, config, bar
        self.checkpoint_path = checkpoint_path
        self.steps_per_epoch = math.ceil(len(x) / config.batch_size)
        self.warmup_steps = config.warmup_epochs * self.steps_per_epoch
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, **_fast_adam(x.device))
        self.scheduler = None
        if config.schedule == "cosine":
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
                self.optimizer, T_max=config.epochs * self.steps_per_epoch)
        self.epoch = self.step = 0
        self.finite: torch.Tensor | None = None  # on a GPU: were all losses since the last read finite?

    def train_epoch(self) -> list[torch.Tensor]:
        """One pass over the shuffled training set; returns each batch's (loss, recon, KL) summed over its images."""
        self.model.train()
        batch_sums, size = [], self.config.batch_size
        order = torch.randperm(len(self.x), device=self.x.device, generator=self.generator)
        x_shuffled = self.x[order]
        y_shuffled = None if self.y is None else self.y[order]
        for step in range(self.steps_per_epoch):
            self.step = step
            x = x_shuffled[step * size : (step + 1) * size]  # a view: no copy
            y = None if y_shuffled is None else y_shuffled[step * size : (step + 1) * size]
            if self.config.binarize == "dynamic":
                x = torch.bernoulli(x, generator=self.generator)
            weight = kl_weight(self.epoch * self.steps_per_epoch + step, self.config.beta, self.warmup_steps)
            loss, terms = self._loss(x, y, weight)
            self._check_finite(loss, step)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()
            batch_sums.append(_row(terms).detach() * len(x))  # summed once per epoch, exactly
            self.bar.step(self.epoch, step, loss.detach())  # a GPU's value is read only when the bar shows it
        self._check_finite(None, self.steps_per_epoch - 1)
        return batch_sums

    def _loss(self, x: torch.Tensor, y: torch.Tensor | None, weight: float) -> tuple[torch.Tensor, LossTerms]:
        """The batch's training loss at KL weight `weight`, and its −ELBO terms."""
        config = self.config
        if config.iw_samples > 1:
            return iwae_loss(self.model, x, y, config.iw_samples, generator=self.generator)
        if config.free_bits:
            return free_bits_loss(self.model, x, y, config.free_bits, weight, generator=self.generator)
        terms = self.model.loss_terms(x, y, generator=self.generator)
        return weighted_loss(terms, weight), terms

    def _check_finite(self, loss: torch.Tensor | None, step: int) -> None:
        """TrainingDivergedError once a loss is NaN or infinite.

        On a CPU every step's loss is read at once (reading costs nothing), so training stops before the
        bad step's update. A GPU queues its steps ahead of Python, and reading a value waits for all of
        them; so there the losses are checked on the device and read every SYNC_EVERY steps and at the end
        of the epoch: the weights in memory may then hold a few bad updates, but a checkpoint is written
        only after a finished epoch, so the last good one is kept on disk either way.
        """
        if loss is not None and _reads_every_step(loss.device):
            value = loss.item()
            bad, when = not math.isfinite(value), f"became {value} at epoch {self.epoch + 1}, step {step + 1}"
        else:
            if loss is not None:
                finite = torch.isfinite(loss.detach())
                self.finite = finite if self.finite is None else self.finite & finite
                if (step + 1) % SYNC_EVERY:
                    return
            bad = self.finite is not None and not bool(self.finite)
            self.finite = None
            when = f"became NaN or infinite at epoch {self.epoch + 1}, by step {step + 1}"
        if bad:
            raise TrainingDivergedError(
                f"the loss {when} of {self.steps_per_epoch}; training stopped"
                + (f" and the last good checkpoint {self.checkpoint_path} was kept" if self.checkpoint_path else "")
                + ". Try a smaller lr, or check the data for NaN values."
            )


def _reads_every_step(device: torch.device) -> bool:
    """Whether fit reads every step's loss at once: on a CPU reading costs nothing; a GPU would wait for it."""
    return device.type == "cpu"


def _test_epoch(model: Trainable, x: torch.Tensor, y: torch.Tensor | None, generator: torch.Generator,
                epoch: int) -> LossTerms:
    """The test set's (−ELBO, recon, KL) after an epoch; TrainingDivergedError if they are not finite."""
    terms = evaluate(model, x, y, generator=generator)
    if not all(map(math.isfinite, terms)):
        raise TrainingDivergedError(f"the test loss became {terms[0]} after epoch {epoch + 1}; training stopped, "
                                    "no checkpoint written")
    return terms


def _append_latent_stats(history: History, model: VAE, x: torch.Tensor, y: torch.Tensor | None) -> None:
    """Append the test set's average KL and activity Var_x[μ_d] of every latent dimension to `history`."""
    mu, logvar = encode_posterior(model, x, y=y)
    history.test_kl_dims.append(kl_per_dimension(mu, logvar).tolist())
    history.test_activity.append(unit_activity(mu).tolist())


@torch.no_grad()
def evaluate(
    model: Trainable, x: torch.Tensor, y: torch.Tensor | None = None, *, batch_size: int = 1000,
    generator: torch.Generator | None = None,
) -> LossTerms:
    """LossTerms(recon + KL, reconstruction, KL) as floats, nats per image on images x (a VAE: one z per image).

    The first number is the −ELBO of a VAE (β plays no part here), the loss of an autoencoder.
    Labels y (N,) reach the model when it needs them.
    """
    device = next(model.parameters()).device
    x = _flatten(x, model).to(device)
    y = _labels(model, y, len(x), device, "y")
    batch_sums = []
    with eval_mode(model):
        for i in range(0, len(x), batch_size):
            batch = x[i : i + batch_size]
            labels = None if y is None else y[i : i + batch_size]
            batch_sums.append(_row(model.loss_terms(batch, labels, generator=generator)) * len(batch))
    return LossTerms(*_means(batch_sums, len(x)))


def _row(terms: LossTerms) -> torch.Tensor:
    """(recon + KL, recon, KL) as one tensor of 3: the −ELBO is reported whatever weight trained it."""
    if not isinstance(terms, LossTerms):
        raise TypeError(f"loss_terms must return LossTerms.of(recon, kl), two scalar tensors; got {terms!r:.120}")
    return torch.stack((terms.recon + terms.kl, terms.recon, terms.kl))


def _means(batch_sums: list[torch.Tensor], n: int) -> tuple[float, float, float]:
    """Per-image means of (loss, recon, KL) from per-batch sums, added exactly in Python (one sync).

    No float64 tensor: Apple's MPS has none, and fsum over Python floats is exact anyway.
    """
    columns = zip(*torch.stack(batch_sums).tolist(), strict=True)  # (steps, 3) -> 3 columns
    return tuple(math.fsum(column) / n for column in columns)


def _append(history: History, split: str, terms) -> None:
    """Append one epoch's (loss, recon, kl) to history.<split>_loss, _recon and _kl."""
    for name, value in zip(("loss", "recon", "kl"), terms, strict=True):
        getattr(history, f"{split}_{name}").append(value)


def _flatten(x: torch.Tensor, model, what: str = "x") -> torch.Tensor:
    """Images as rows (N, D), with D the model's input_dim when it has a ModelConfig."""
    config = getattr(model, "config", None)
    return flatten_images(x, config.input_dim if isinstance(config, ModelConfig) else None, what)


def _labels(model, y, n: int, device: torch.device, what: str) -> torch.Tensor | None:
    """Labels for a model that needs them, checked once: an int tensor (n,) on `device`; else None."""
    if not getattr(model, "needs_labels", False):
        return None
    if y is None:
        raise ValueError(f"{type(model).__name__} is conditioned on labels: pass {what}, e.g. "
                         f"load_mnist('train')[1], one label per image")
    return check_labels(y, n, what).to(device)


def _data(model, x, y, device, binarize, generator, split: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The images (N, D) and, for a model that needs them, the labels (N,) of one split, checked, on `device`."""
    x = _prepare(x, model, device, f"{split}_x", binarize, generator, is_test=split == "test")
    return x, _labels(model, y, len(x), device, f"{split}_y")


def _prepare(x, model, device, what, binarize, generator, is_test):
    """Check images once, flatten to (N, D) on `device`; binarize a fixed copy if asked."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{what} must be a tensor of images, e.g. load_mnist('train')[0]; got {type(x)}")
    x = _flatten(x, model, what).to(device=device, dtype=torch.float32)
    check_pixels(x, what)
    if binarize == "fixed":
        x = binarize_fixed(x)
    elif binarize == "dynamic" and is_test:  # the test set: one Bernoulli draw, the same every epoch
        x = binarize_dynamic(x, generator)
    return x.contiguous()


def _fast_adam(device: torch.device) -> dict:
    """Adam's fused kernel (one op for all parameters) where this PyTorch has it for the device."""
    try:
        torch.optim.Adam([torch.zeros(1, device=device, requires_grad=True)], fused=True)
        return {"fused": True}
    except (RuntimeError, ValueError, TypeError):
        return {}
