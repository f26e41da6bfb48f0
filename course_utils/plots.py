"""Plotting helpers: image grids, tiles, code scatters and training curves, saved as PNGs under figures/.

`scatter_codes` and `tile` are used from notebooks/03_autoencoder.ipynb on (lessons 03 and 06 once wrote
them inline).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch

from .checks import flatten_images
from .runtime import figures_dir

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")


def save_figure(fig: plt.Figure, name: str, dpi: int = 120) -> None:
    """Save `fig` as figures/<name>.png (a stable name such as '00_mnist_grid'); prints and returns nothing.

    Returning nothing keeps a notebook cell that ends with a save from printing the file's path.
    """
    if not _NAME.match(name):
        raise ValueError(
            f"figure name {name!r} must be letters, digits, '_' or '-' without an extension, "
            "e.g. '06_vae_samples'"
        )
    path = figures_dir() / f"{name}.png"
    fig.savefig(path, dpi=dpi, bbox_inches="tight")


def show_images(
    images: torch.Tensor,
    nrow: int = 10,
    title: str | None = None,
    name: str | None = None,
    labels: Sequence | None = None,
    scale: float = 0.9,
) -> plt.Figure:
    """A grid of images in [0, 1], shaped (N, 784), (N, 28, 28) or (N, 1, 28, 28); saved if `name`."""
    images = torch.as_tensor(images).detach().float().cpu()
    rows = flatten_images(images, what="images")  # (N, D)
    if len(rows) == 0:
        raise ValueError("no images to show: pass a non-empty batch")
    side = int(round(rows.shape[1] ** 0.5))
    if images.dim() == 2 and side * side != rows.shape[1]:
        raise ValueError(f"cannot reshape {rows.shape[1]} pixels into a square image; pass images as (N, H, W)")
    height, width = images.shape[-2:] if images.dim() > 2 else (side, side)
    images = rows.view(-1, height, width)  # (N, H, W)
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(labels)} labels for {len(images)} images")
    ncol = min(nrow, len(images))
    nrows = (len(images) + ncol - 1) // ncol
    row_height = scale + (0.25 if labels is not None else 0.0)  # room for each row's labels
    fig, axes = plt.subplots(nrows, ncol, figsize=(scale * ncol, row_height * nrows + (0.4 if title else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i].numpy(), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=8, pad=2)
    if title:
        fig.suptitle(title)
    fig.tight_layout(pad=0.2)
    if name:
        save_figure(fig, name)
    return fig


def tile(images: torch.Tensor, nrow: int) -> torch.Tensor:
    """Square images (N, side*side) or (N, side, side) laid out as one (rows*side, nrow*side) picture, row by row."""
    images = torch.as_tensor(images).detach().cpu()
    side = int(round(images[0].numel() ** 0.5))
    if images.dim() < 2 or side * side != images[0].numel():
        raise ValueError(f"expected square images shaped (N, 784) or (N, 28, 28), got {tuple(images.shape)}")
    if nrow < 1 or len(images) % nrow:
        raise ValueError(f"{len(images)} images do not fill rows of nrow={nrow}; pass a multiple of nrow")
    rows = images.reshape(-1, nrow, side, side)  # (rows, nrow, side, side)
    return rows.permute(0, 2, 1, 3).reshape(rows.shape[0] * side, nrow * side)


def scatter_codes(ax: plt.Axes, z: torch.Tensor, labels: torch.Tensor, colorbar: bool = True, s: float = 3):
    """2-D codes (N, 2) as points coloured by digit label (0-9), with a colorbar; returns the scatter."""
    z, labels = torch.as_tensor(z).detach().cpu(), torch.as_tensor(labels).cpu()
    if z.dim() != 2 or z.shape[1] != 2 or len(labels) != len(z):
        raise ValueError(f"need 2-D codes (N, 2) and N labels, got {tuple(z.shape)} and {len(labels)} labels")
    points = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", s=s, alpha=0.6, vmin=-0.5, vmax=9.5)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if colorbar:
        plt.colorbar(points, ax=ax, ticks=range(10), label="digit")
    return points


def plot_curves(
    curves: Mapping[str, Sequence[float]],
    title: str | None = None,
    name: str | None = None,
    xlabel: str = "epoch",
    ylabel: str = "",
    logy: bool = False,
) -> plt.Figure:
    """Line plot of named per-epoch series, e.g. {'train -ELBO': [...], 'test -ELBO': [...]}."""
    if not curves:
        raise ValueError("no curves to plot: pass a mapping like {'train loss': [..]}")
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for label, values in curves.items():
        values = [float(v) for v in values]
        ax.plot(range(1, len(values) + 1), values, marker="o" if len(values) < 30 else None,
                label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    if name:
        save_figure(fig, name)
    return fig
