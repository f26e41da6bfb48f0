"""A small convolutional MNIST classifier that the course ships to measure the quality of generated digits.

Lesson 11 uses it the way the Inception score and FID use an Inception network on photographs: its confidence
on samples (`predict_proba`), the entropy of its predicted labels, and the Fréchet distance and precision/recall
between its penultimate-layer features (`classifier_features`) of samples and of real test digits. It learned
from binary digits (a fresh Bernoulli draw of every training image at every step), like the samples of the
course's Bernoulli models. The shipped weights (`load_classifier`) are made by benchmarks/train_classifier.py,
which holds their settings; the checkpoint records them.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import CHECKPOINTS
from .checks import check_count, check_labels
from .data import binarize_dynamic
from .models import eval_mode
from .runtime import get_device

FEATURE_DIM = 128
FEATURE_LAYER = "the 128 ReLU units after the first fully connected layer (the penultimate layer)"
CHECKPOINT = CHECKPOINTS / "mnist_classifier.pt"
SHAPES = "(N, 784), (N, 28, 28) or (N, 1, 28, 28)"


def as_digits(x: torch.Tensor, what: str = "x") -> torch.Tensor:
    """MNIST digits as a float batch (N, 1, 28, 28) in [0, 1]; ValueError saying what to do otherwise."""
    if not torch.is_tensor(x) or not torch.is_floating_point(x):
        kind = f"dtype {x.dtype}" if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"{what} must be a float tensor of images in [0, 1], got {kind}: divide 0–255 pixel "
                         "values by 255 (x.float() / 255)")
    if x.shape[1:] not in ((784,), (28, 28), (1, 28, 28)):
        raise ValueError(f"{what} has shape {tuple(x.shape)}: the classifier expects a batch of 28x28 MNIST digits "
                         f"shaped {SHAPES}; a single image needs x.unsqueeze(0)")
    if x.numel() and not (x.min() >= 0 and x.max() <= 1):  # a NaN fails both comparisons
        lo, hi = x.min().item(), x.max().item()
        fix = ("find where the NaN come from" if lo != lo else "divide 0–255 pixel values by 255" if hi > 1
               else "undo any normalization (x * std + mean) or clamp to [0, 1]")
        raise ValueError(f"{what}: images must be in [0, 1], got values from {lo:.3g} to {hi:.3g}: {fix}")
    return x.reshape(len(x), 1, 28, 28)


class MNISTClassifier(nn.Module):
    """conv 32 – pool – conv 64 – pool – 128 ReLU features – 10 logits; dropout (if any) only before the logits."""

    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        if isinstance(dropout, bool) or not (isinstance(dropout, (int, float)) and 0.0 <= dropout < 1.0):
            raise ValueError(f"dropout must be a probability in [0, 1), got {dropout!r}")
        self.dropout = dropout
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3, padding=1)  # (N, 32, 28, 28), pooled to 14x14
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)  # (N, 64, 14, 14), pooled to 7x7
        self.fc1 = nn.Linear(64 * 7 * 7, FEATURE_DIM)
        self.fc2 = nn.Linear(FEATURE_DIM, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate activations (N, 128), ReLU(fc1(...)), of a batch of digits shaped as in SHAPES."""
        h = F.max_pool2d(F.relu(self.conv1(as_digits(x))), 2)  # (N, 32, 14, 14)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)  # (N, 64, 7, 7)
        return F.relu(self.fc1(h.flatten(1)))  # (N, 128)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, 10) for a batch of digits in [0, 1]."""
        return self.fc2(F.dropout(self.features(x), self.dropout, self.training))


def _device(model: nn.Module) -> torch.device:
    """Where the model's weights are."""
    return next(model.parameters()).device


@torch.no_grad()
def _batched(model: MNISTClassifier, x: torch.Tensor, batch_size: int,
             fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """fn(batch) for each batch of x on the model's device, in eval mode, concatenated as float32 on the CPU."""
    check_count(batch_size, "batch_size")
    x, device = as_digits(x), _device(model)
    with eval_mode(model):
        outputs = [fn(x[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(outputs) if outputs else torch.empty(0)


def predict_proba(model: MNISTClassifier, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """p(label | x) for each image: (N, 10) on the CPU, rows summing to 1 (softmax of the logits)."""
    return _batched(model, x, batch_size, lambda b: F.softmax(model(b), dim=1)).reshape(-1, 10)


def classifier_features(model: MNISTClassifier, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """The classifier's penultimate features (N, 128) on the CPU: what FID-style distances compare."""
    return _batched(model, x, batch_size, model.features).reshape(-1, FEATURE_DIM)


def accuracy(model: MNISTClassifier, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    """The fraction of images whose most probable label is the true one y."""
    y = check_labels(y, len(x), "y", num_classes=10).cpu()
    return (predict_proba(model, x, batch_size).argmax(dim=1) == y).double().mean().item()


def train_classifier(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    binarize: str | None = "dynamic",
    schedule: str = "cosine",
    dropout: float = 0.0,
    seed: int = 0,
    device: torch.device | str = "cpu",
    test_x: torch.Tensor | None = None,
    test_y: torch.Tensor | None = None,
    progress: bool = False,
) -> tuple[MNISTClassifier, dict]:
    """Train a new MNISTClassifier with Adam on the cross-entropy; return it (eval mode) and a record of the run.

    `schedule="cosine"` anneals the learning rate from `lr` to 0 over the run (one step per batch), "constant"
    keeps it; `dropout` is the probability of dropping each of the 128 features before the logits.

    `binarize="dynamic"` shows every batch as a fresh Bernoulli draw (P(pixel = 1) = grey level, drawn with a
    generator seeded from `seed`), so the classifier learns binary digits like the samples of the course's
    Bernoulli models; `binarize=None` trains on the grey levels. The initial weights, shuffling, dropout and
    draws all follow `seed`: on a CPU a run is bit for bit reproducible for a fixed seed and thread count.
    The record (plain values) holds the settings, the mean train loss and, given test data, the test accuracy
    (on test_x as given) after each epoch, the seconds of each epoch, the thread count and torch's version.
    `progress=True` prints those numbers as each epoch ends.
    """
    check_count(epochs, "epochs")
    check_count(batch_size, "batch_size")
    if not (isinstance(lr, (int, float)) and 0 < lr < math.inf):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if binarize not in ("dynamic", None):
        raise ValueError(f"binarize must be 'dynamic' (fresh binary draws) or None (grey levels), got {binarize!r}")
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', got {schedule!r}")
    if (test_x is None) != (test_y is None):
        raise ValueError("give test_x and test_y together (images and their labels), or neither")
    if test_x is not None:  # checked now, not after the first epoch
        check_labels(test_y, len(as_digits(test_x, "test_x")), "test_y", num_classes=10)
    device = torch.device(device)
    x = as_digits(x).to(device)
    y = check_labels(y, len(x), "y", num_classes=10).to(device)
    info = {"epochs": epochs, "batch_size": batch_size, "lr": float(lr), "binarize": binarize,
            "schedule": schedule, "dropout": dropout, "seed": seed, "train_size": len(x),
            "test_size": None if test_x is None else len(test_x), "device": str(device),
            "train_loss": [], "test_accuracy": [], "seconds": [],
            "threads": torch.get_num_threads(), "torch": str(torch.__version__)}
    generator = torch.Generator(device=device).manual_seed(seed)  # shuffling and binarization
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):  # leave the global RNG as it was
        torch.manual_seed(seed)  # the initial weights and dropout
        model = MNISTClassifier(dropout).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        steps = epochs * math.ceil(len(x) / batch_size)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps) if schedule == "cosine" else None
        for _ in range(epochs):
            start, total = time.perf_counter(), torch.zeros((), device=device)
            model.train()
            order = torch.randperm(len(x), device=device, generator=generator)
            for i in range(0, len(x), batch_size):
                batch = order[i : i + batch_size]
                x_batch = binarize_dynamic(x[batch], generator) if binarize == "dynamic" else x[batch]
                loss = F.cross_entropy(model(x_batch), y[batch])  # mean over the batch, in nats
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                total += loss.detach() * len(batch)
            info["seconds"].append(time.perf_counter() - start)
            info["train_loss"].append(total.item() / len(x))
            if test_x is not None:
                info["test_accuracy"].append(accuracy(model, test_x, test_y))
            if progress:
                tested = f", test accuracy {info['test_accuracy'][-1]:.2%}" if test_x is not None else ""
                print(f"epoch {len(info['seconds'])}/{epochs}: train loss {info['train_loss'][-1]:.4f} nats"
                      f"{tested}, {info['seconds'][-1]:.0f} s", flush=True)
    model.eval()
    return model, info


def load_classifier(device: torch.device | str | None = None) -> tuple[MNISTClassifier, dict]:
    """The shipped classifier (eval mode, on `device`, default get_device()) and the record of how it was trained."""
    if not CHECKPOINT.is_file():
        raise FileNotFoundError(f"no shipped classifier at {CHECKPOINT}: run benchmarks/train_classifier.py")
    blob = torch.load(CHECKPOINT, map_location="cpu", weights_only=True)
    model = MNISTClassifier(blob["info"]["dropout"])
    model.load_state_dict(blob["state_dict"])
    return model.to(device if device is not None else get_device()).eval(), blob["info"]


def save_classifier(model: MNISTClassifier, info: dict, path: str | os.PathLike = CHECKPOINT) -> Path:
    """Write the weights and the record of the run to `path` (plain values only: weights_only=True reads them)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        torch.save({"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "info": info}, tmp)
        os.replace(tmp, path)  # atomic: a reader sees the old file or the new one
    finally:
        tmp.unlink(missing_ok=True)
    return path
