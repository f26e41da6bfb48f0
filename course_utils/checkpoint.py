"""Checkpoints that know how they were made: model config, weights, per-epoch history, training settings.

`TrainConfig` is what one call of `train.fit` ran with; `History` its per-epoch numbers. Both are saved
by `save_checkpoint` and come back from `load_checkpoint`/`load_pretrained`. Derived in
notebooks/06_vae.ipynb (saving and reloading) and notebooks/09_beta_collapse_iwae.ipynb (the settings).
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from .models import ModelConfig, Trainable, build_model
from .runtime import get_device

CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"
BINARIZE = (None, "dynamic", "fixed")
SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """The settings of one training run, saved in every checkpoint fit writes (and in History.config).

    `train_size`/`test_size` are the numbers of images trained and evaluated on. The objective is
    reconstruction + w·KL with w rising linearly from 0 to `beta` over the first `warmup_epochs`; with
    `free_bits` λ > 0 the KL term is Σ_d max(λ, KL_d) (objectives.free_bits_kl); with `iw_samples` k > 1 it
    is Burda et al.'s importance-weighted bound L_k instead (objectives.iwae_loss), which has no KL to weight.
    """

    epochs: int
    batch_size: int = 128
    lr: float = 1e-3
    schedule: str = "constant"
    beta: float = 1.0
    warmup_epochs: int = 0
    binarize: str | None = None
    seed: int = 0
    free_bits: float = 0.0
    iw_samples: int = 1
    train_size: int | None = None
    test_size: int | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(self.warmup_epochs, int) or self.warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be an int >= 0, got {self.warmup_epochs!r}")
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr < math.inf):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if not (isinstance(self.beta, (int, float)) and 0 <= self.beta < math.inf):
            raise ValueError(f"beta must be a finite number >= 0, got {self.beta!r}")
        if not (isinstance(self.free_bits, (int, float)) and 0 <= self.free_bits < math.inf):
            raise ValueError(f"free_bits must be a finite number of nats >= 0 per latent dimension, got "
                             f"{self.free_bits!r}")
        if not isinstance(self.iw_samples, int) or self.iw_samples < 1:
            raise ValueError(f"iw_samples must be an int >= 1 (1: the ELBO), got {self.iw_samples!r}")
        if self.iw_samples > 1 and (self.beta != 1 or self.warmup_epochs or self.free_bits):
            raise ValueError(f"iw_samples = {self.iw_samples} trains the importance-weighted bound, which has no "
                             "KL term for beta, warm-up or free bits to change: leave those at 1, 0 and 0")
        if self.binarize not in BINARIZE or self.schedule not in SCHEDULES:
            raise ValueError(f"binarize must be one of {BINARIZE} and schedule one of {SCHEDULES}, "
                             f"got {self.binarize!r} and {self.schedule!r}")

    @classmethod
    def from_dict(cls, settings: dict) -> TrainConfig:
        """The TrainConfig in a checkpoint's "train_config" record (other facts there, e.g. times, are skipped)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in settings.items() if k in known})


@dataclass
class History:
    """Per-epoch numbers in nats per image, and the run they came from (`config`; None if not recorded).

    `loss` is recon + KL whatever β is: the −ELBO for a VAE, the reconstruction for an autoencoder.
    """

    train_loss: list[float] = field(default_factory=list)
    train_recon: list[float] = field(default_factory=list)
    train_kl: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_recon: list[float] = field(default_factory=list)
    test_kl: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # training time of each epoch (no evaluation)
    # A VAE's test set after each epoch, per latent dimension: the average KL(q(z_d|x) ‖ N(0, 1)) in nats,
    # and the activity Var_x[μ_d(x)] (active units: > 0.01). Empty for other models and older checkpoints.
    test_kl_dims: list[list[float]] = field(default_factory=list)
    test_activity: list[list[float]] = field(default_factory=list)
    interrupted: bool = False
    config: TrainConfig | None = None


def save_checkpoint(
    model: Trainable, path: str | os.PathLike, history: History | None = None, *, facts: dict | None = None,
) -> Path:
    """Write config, weights, history and the training settings (history.config) to `path` atomically.

    `facts`: more plain values about the run to keep beside the settings (the script, wall time, machine);
    they must not reuse a TrainConfig field's name.
    """
    path = Path(path)
    config = getattr(model, "config", None)
    if not isinstance(config, ModelConfig):
        raise TypeError(f"{type(model).__name__} has no ModelConfig `config`: save its state_dict with torch.save")
    record = {}
    if history is not None and history.config is not None:
        record.update(asdict(history.config))
    if facts:
        clash = sorted(set(facts) & {f.name for f in fields(TrainConfig)})
        if clash:
            raise ValueError(f"facts {clash} would overwrite the training settings; name them differently")
        odd = {k: type(v).__name__ for k, v in facts.items() if type(v) not in (str, int, float, bool, type(None))}
        if odd:  # e.g. torch.__version__, a str subclass that torch.load(weights_only=True) refuses to read
            raise ValueError(f"facts must be plain str, int, float, bool or None values (convert them, e.g. "
                             f"str(...)); got {odd}")
        record.update(facts)  # plain values: torch.load(weights_only=True) reads them
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {
        "config": asdict(config),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "history": None if history is None else {k: v for k, v in asdict(history).items() if k != "config"},
    }
    if record:
        blob["train_config"] = record
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save(blob, tmp)
        os.replace(tmp, path)  # atomic: readers see the old file or the new one, never half of one
    finally:
        tmp.unlink(missing_ok=True)  # only left over when saving failed or was interrupted
    return path


def load_checkpoint(
    path: str | os.PathLike, model: Trainable | None = None, device: torch.device | str | None = None
) -> tuple[Trainable, History | None]:
    """(model, history) from a checkpoint; into `model` if given (its shapes must match), else a new one.

    A new model goes to `device` (default: `get_device()`); a given model stays on its own device unless
    `device` is named. history.config holds the training settings; a checkpoint saved before they were
    recorded still loads, with a warning and history.config = None.
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
    settings, history = blob.get("train_config"), None
    if blob.get("history"):
        if settings is None:
            warnings.warn(f"{path.name} was saved before checkpoints recorded their training settings: the model "
                          "and its history load, but history.config is None (how it was trained is unknown)",
                          UserWarning, stacklevel=2)
        history = History(**blob["history"], config=TrainConfig.from_dict(settings) if settings else None)
    return model, history


def _check_shapes(path: Path, weights: dict, config: ModelConfig, model: Trainable) -> None:
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
) -> tuple[Trainable, History | None]:
    """A model shipped with the course (course_utils/checkpoints/<name>.pt) and its training history."""
    path = CHECKPOINTS / f"{name}.pt"
    if name == "mnist_classifier":  # shipped too, but a classifier, not a model fit trains
        raise ValueError("mnist_classifier is lesson 11's classifier: load it with "
                         "course_utils.classifier.load_classifier()")
    if not path.is_file():
        shipped = sorted(p.stem for p in CHECKPOINTS.glob("*.pt") if p.stem != "mnist_classifier")
        raise ValueError(f"no shipped checkpoint named {name!r}; available: {shipped}")
    return load_checkpoint(path, device=device)
