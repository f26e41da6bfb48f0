"""One training function for the autoencoder and the VAE, evaluation, and safe checkpoints.

Derived in notebooks/03_autoencoder.ipynb and notebooks/06_vae.ipynb.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .data import binarize_dynamic, binarize_fixed, check_pixels
from .models import VAE, Autoencoder, ModelConfig, build_model, flatten_images
from .objectives import _bce_per_image, _negative_elbo_terms
from .runtime import get_device

CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"
BINARIZE = (None, "dynamic", "fixed")
SCHEDULES = ("constant", "cosine")


@dataclass
class History:
    """Per-epoch numbers in nats per image; `loss` is −ELBO for a VAE, reconstruction for an autoencoder."""

    train_loss: list[float] = field(default_factory=list)
    train_recon: list[float] = field(default_factory=list)
    train_kl: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_recon: list[float] = field(default_factory=list)
    test_kl: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # training time of each epoch (no evaluation)
    interrupted: bool = False


class TrainingDivergedError(FloatingPointError):
    """The loss became NaN or infinite; training stopped and the last good checkpoint was kept."""


def fit(
    model: Autoencoder | VAE,
    train_x: torch.Tensor,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    device: torch.device | str | None = None,
    test_x: torch.Tensor | None = None,
    binarize: str | None = None,
    schedule: str = "constant",
    checkpoint_path: str | os.PathLike | None = None,
    seed: int = 0,
    progress: bool = True,
) -> History:
    """Train `model` in place with Adam on images in [0, 1]; return the per-epoch History.

    The whole data set lives as one tensor on `device` (default: the GPU if there is one) and each
    epoch slices shuffled batches from it. `binarize`: None trains on grey levels, "dynamic" on a new
    Bernoulli draw of every batch, "fixed" on pixels > 0.5. `schedule="cosine"` decays lr to 0.
    Ctrl-C stops cleanly and returns the epochs done so far; a NaN loss raises TrainingDivergedError.
    """
    if not isinstance(epochs, int) or epochs < 1 or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be positive ints, got {epochs!r} and {batch_size!r}")
    if binarize not in BINARIZE or schedule not in SCHEDULES:
        raise ValueError(f"binarize must be one of {BINARIZE} and schedule one of {SCHEDULES}, "
                         f"got {binarize!r} and {schedule!r}")
    device = torch.device(device) if device is not None else get_device()
    generator = torch.Generator(device=device).manual_seed(seed)  # shuffling, binarization, z samples
    x_train = _prepare(train_x, model, device, "train_x", binarize, generator, is_test=False)
    x_test = None if test_x is None else _prepare(test_x, model, device, "test_x", binarize, generator,
                                                   is_test=True)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, **_fast_adam(device))
    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    scheduler = None
    if schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
    history = History()
    bar = tqdm(total=epochs * steps_per_epoch, disable=not progress, unit="batch", desc=f"fit on {device}")
    epoch = step = 0
    try:
        for epoch in range(epochs):
            model.train()
            start, batch_sums = time.perf_counter(), []
            x_shuffled = x_train[torch.randperm(len(x_train), device=device, generator=generator)]
            for step in range(steps_per_epoch):
                x = x_shuffled[step * batch_size : (step + 1) * batch_size]  # a view: no copy
                if binarize == "dynamic":
                    x = torch.bernoulli(x, generator=generator)
                loss, recon, kl = _loss_terms(model, x, generator)
                value = loss.item()
                if not math.isfinite(value):
                    raise TrainingDivergedError(
                        f"the loss became {value} at epoch {epoch + 1}, step {step + 1} of "
                        f"{steps_per_epoch}; training stopped"
                        + (f" and the last good checkpoint {checkpoint_path} was kept" if checkpoint_path else "")
                        + ". Try a smaller lr, or check the data for NaN values."
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                batch_sums.append(torch.stack((loss, recon, kl)).detach() * len(x))  # summed once per epoch (the
                # NaN check's loss.item() above already waits for each step on a GPU)
                bar.update()
                if step % 50 == 0:
                    bar.set_postfix(epoch=epoch + 1, loss=f"{value:.1f}")
            seconds = time.perf_counter() - start
            _append(history, "train", _means(batch_sums, len(x_train)))
            history.seconds.append(seconds)
            if x_test is not None:
                test_terms = evaluate(model, x_test, generator=generator)
                if not all(map(math.isfinite, test_terms)):
                    raise TrainingDivergedError(f"the test loss became {test_terms[0]} after epoch "
                                                f"{epoch + 1}; training stopped, no checkpoint written")
                _append(history, "test", test_terms)
                bar.set_postfix(epoch=epoch + 1, test_loss=f"{history.test_loss[-1]:.1f}")
            if checkpoint_path is not None:
                save_checkpoint(model, checkpoint_path, history=history)
    except KeyboardInterrupt:
        history.interrupted = True
        bar.write(f"Interrupted at epoch {epoch + 1}, step {step + 1}: returning the "
                  f"{len(history.seconds)} finished epoch(s); the model keeps its current weights.")
    finally:
        bar.close()
        model.eval()
    return history


@torch.no_grad()
def evaluate(
    model: Autoencoder | VAE, x: torch.Tensor, *, batch_size: int = 1000, generator: torch.Generator | None = None
) -> tuple[float, float, float]:
    """(loss, reconstruction, KL) in nats per image on images x (VAE: one z sample per image)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    if generator is not None and generator.device.type != device.type:
        raise ValueError(f"the generator is on {generator.device} but the model on {device}; "
                         f"use torch.Generator(device={str(device)!r}).manual_seed(...)")
    x = flatten_images(x, model.config.input_dim).to(device)
    batch_sums = []
    for i in range(0, len(x), batch_size):
        batch = x[i : i + batch_size]
        batch_sums.append(torch.stack(_loss_terms(model, batch, generator)) * len(batch))
    model.train(was_training)
    return _means(batch_sums, len(x))


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


def _loss_terms(model, x, generator):
    """(loss, recon, KL) batch means; x must already be (B, input_dim) on the model's device."""
    if isinstance(model, VAE):
        logits, mu, logvar = model(x, generator=generator)
        return _negative_elbo_terms(logits, x, mu, logvar)
    recon = _bce_per_image(model(x), x).mean()
    return recon, recon, torch.zeros((), device=x.device)


def _prepare(x, model, device, what, binarize, generator, is_test):
    """Check images once, flatten to (N, input_dim) on `device`; binarize a fixed copy if asked."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{what} must be a tensor of images, e.g. load_mnist('train')[0]; got {type(x)}")
    x = flatten_images(x, model.config.input_dim).to(device=device, dtype=torch.float32)
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


def save_checkpoint(
    model: Autoencoder | VAE, path: str | os.PathLike, history: History | None = None,
    train_config: dict | None = None,
) -> Path:
    """Write config, weights, history (and the settings that trained it) to `path` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {
        "config": asdict(model.config),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "history": asdict(history) if history is not None else None,
    }
    if train_config is not None:
        blob["train_config"] = dict(train_config)  # plain values: torch.load(weights_only=True) reads them
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save(blob, tmp)
        os.replace(tmp, path)  # atomic: readers see the old file or the new one, never half of one
    finally:
        tmp.unlink(missing_ok=True)  # only left over when saving failed or was interrupted
    return path


def load_checkpoint(
    path: str | os.PathLike, model: Autoencoder | VAE | None = None, device: torch.device | str | None = None
) -> tuple[Autoencoder | VAE, History | None]:
    """(model, history) from a checkpoint; into `model` if given (its shapes must match), else a new one.

    A new model goes to `device` (default: `get_device()`); a given model stays on its own device unless
    `device` is named.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    config = ModelConfig(**blob["config"])
    if model is None:
        model = build_model(config)
        device = device if device is not None else get_device()
    else:
        _check_shapes(path, blob["state_dict"], config, model)
    model.load_state_dict(blob["state_dict"])  # copies into the model's parameters, wherever they are
    if device is not None:
        model.to(device)
    model.eval()
    history = History(**blob["history"]) if blob.get("history") else None
    return model, history


def _check_shapes(path: Path, weights: dict, config: ModelConfig, model: Autoencoder | VAE) -> None:
    """ValueError naming both shapes when the checkpoint's weights do not fit `model`."""
    own = model.state_dict()
    for name in [*weights, *(k for k in own if k not in weights)]:  # in the network's order
        theirs = f"shape {tuple(weights[name].shape)}" if name in weights else "absent"
        ours = f"shape {tuple(own[name].shape)}" if name in own else "absent"
        if theirs != ours:
            raise ValueError(
                f"checkpoint {path.name} does not fit this model: {name} is {theirs} in the "
                f"checkpoint ({config}) but {ours} in the model ({model.config}). Build the model "
                "with the checkpoint's sizes, or call load_checkpoint(path) without a model."
            )


def load_pretrained(
    name: str = "vae_latent20", device: torch.device | str | None = None
) -> tuple[Autoencoder | VAE, History | None]:
    """A model shipped with the course (course_utils/checkpoints/<name>.pt) and its training history."""
    path = CHECKPOINTS / f"{name}.pt"
    if not path.is_file():
        shipped = sorted(p.stem for p in CHECKPOINTS.glob("*.pt"))
        raise ValueError(f"no shipped checkpoint named {name!r}; available: {shipped}")
    return load_checkpoint(path, device=device)
