"""Plotting helpers: image grids, tiles, code scatters and training curves, saved as PNGs under figures/.

`scatter_codes` and `tile` are used from notebooks/03_autoencoder.ipynb on (lessons 03 and 06 once wrote
them inline). Colours that carry meaning come from one colour-blind-safe set, `DIGIT_COLORS`, and never
alone: digit classes are also written on the plot, series also differ in marker and line style.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import patheffects
from matplotlib.colors import ListedColormap, to_rgba

from .checks import flatten_images
from .runtime import figures_dir

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")

# Paul Tol's 'muted' scheme (personal.sron.nl/~pault, 2021), built to stay distinct for the common forms of
# colour blindness, plus the grey of his 'bright' scheme: muted's own tenth colour, pale grey #DDDDDD, is meant
# for missing data and nearly vanishes on white. Under simulated protanopia, deuteranopia and tritanopia
# (tests/test_palette.py) every two of the ten differ by CIELAB dE >= 10. Ten hues are still too many to name
# at a glance, so plots also write the digits. Which digit gets which colour: the assignment, among all 10!,
# that keeps the pairs of digits whose codes overlap in lessons 03, 06 and 07 (OVERLAPPING_DIGITS) the furthest
# apart: dE >= 36 under every simulation.
TOL_MUTED = ("#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE", "#882255", "#44AA99", "#999933", "#AA4499")
DIGIT_COLORS = ("#44AA99", "#CC6677", "#88CCEE", "#DDCC77", "#332288",
                "#AA4499", "#999933", "#882255", "#117733", "#BBBBBB")  # DIGIT_COLORS[d]: the colour of digit d
DIGIT_CMAP = ListedColormap(DIGIT_COLORS, name="course_digits")
HIDDEN_COLOR = "#EE7733"  # Tol's 'vibrant' orange: the tint of hidden (masked) pixels, hatched as well
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
OVERLAPPING_DIGITS = ((4, 9), (4, 7), (7, 9), (2, 3), (3, 5), (3, 8), (5, 8), (2, 8), (2, 6), (0, 6), (5, 6))


def series_styles(n: int) -> list[dict]:
    """Matplotlib keywords (color, marker, linestyle) for n series: colour-blind-safe colours, distinct markers.

    Tol's muted order; past six series the line style alternates as well, so no two series rely on colour alone.
    """
    if n < 1 or n > len(_MARKERS):
        raise ValueError(f"series_styles gives 1 to {len(_MARKERS)} styles, got n={n}; plot fewer series per axes")
    return [{"color": (*TOL_MUTED, DIGIT_COLORS[9])[i], "marker": _MARKERS[i],
             "linestyle": "--" if n > 6 and i % 2 else "-"} for i in range(n)]


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
    row_labels: Sequence[str] | None = None,
    hidden: torch.Tensor | None = None,
) -> plt.Figure:
    """A grid of images in [0, 1], shaped (N, 784), (N, 28, 28) or (N, 1, 28, 28); saved if `name`.

    `row_labels` names each row (written left of it); `hidden`, a boolean mask shaped like one image or like
    the batch, tints and hatches the pixels a model did not see.
    """
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
    if row_labels is not None and len(row_labels) != nrows:
        raise ValueError(f"{len(row_labels)} row labels for {nrows} rows of {ncol} images")
    masks = None if hidden is None else _hidden_masks(hidden, len(images), height, width)  # (N, H, W) bool
    row_height = scale + (0.25 if labels is not None else 0.0)  # room for each row's labels
    left = 0.1 + 0.07 * max(map(len, map(str, row_labels))) if row_labels is not None else 0.0  # inches, labels
    top = 0.3 if title else 0.0  # inches kept free for the title, so it never covers the first row
    fig_width, fig_height = scale * ncol + left, row_height * nrows + top
    fig, axes = plt.subplots(nrows, ncol, figsize=(fig_width, fig_height), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i].numpy(), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            if labels is not None:
                ax.set_title(str(labels[i]), fontsize=8, pad=2)
            if masks is not None and masks[i].any():
                _shade(ax, masks[i].numpy())
    for r, text in enumerate(row_labels or []):  # a y-label, which tight_layout below makes room for
        ax = axes[r, 0]
        ax.axis("on")
        ax.set(xticks=[], yticks=[])
        ax.spines[:].set_visible(False)
        ax.set_ylabel(str(text), rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, y=1 - 0.04 / fig_height, va="top")
    fig.tight_layout(pad=0.2, rect=(0, 0, 1, 1 - top / fig_height))
    if name:
        save_figure(fig, name)
    return fig


def _hidden_masks(hidden: torch.Tensor, n: int, height: int, width: int) -> torch.Tensor:
    """`hidden` as (n, height, width) bools: one mask for every image, or one per image."""
    hidden = torch.as_tensor(hidden).detach().cpu()
    if hidden.dtype != torch.bool or hidden.numel() not in (height * width, n * height * width):
        raise ValueError(f"hidden must be a boolean mask of {height}x{width} pixels (one for all images) or of "
                         f"{n} images, got {hidden.dtype} {tuple(hidden.shape)}; e.g. pass ~given")
    return hidden.reshape(-1, height, width).expand(n, height, width)


def _shade(ax: plt.Axes, mask: np.ndarray) -> None:
    """Tint the True pixels of an image's axes and hatch them, so a hidden region shows in any colour vision."""
    overlay = np.zeros((*mask.shape, 4))
    overlay[mask] = to_rgba(HIDDEN_COLOR, alpha=0.45)
    ax.imshow(overlay, interpolation="nearest")
    height, width = mask.shape
    padded = np.pad(mask.astype(float), 1, mode="edge")  # pixel edges at +-0.5: the hatch covers whole pixels
    cols = np.concatenate([[-0.5], np.arange(width), [width - 0.5]])
    rows = np.concatenate([[-0.5], np.arange(height), [height - 0.5]])
    ax.contourf(cols, rows, padded, levels=[0.5, 1.5], colors="none", hatches=["////"])
    ax.set(xlim=(-0.5, width - 0.5), ylim=(height - 0.5, -0.5))


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


def scatter_codes(ax: plt.Axes, z: torch.Tensor, labels: torch.Tensor, colorbar: bool = True, s: float = 3,
                  digits: bool = True):
    """2-D codes (N, 2) as points coloured by digit label (0-9); returns the scatter.

    Colour is not the only cue: `digits` writes each digit at the median code of its class, and `colorbar`
    adds a colour bar with the ten digits as ticks.
    """
    z, labels = torch.as_tensor(z).detach().cpu(), torch.as_tensor(labels).cpu()
    if z.dim() != 2 or z.shape[1] != 2 or len(labels) != len(z):
        raise ValueError(f"need 2-D codes (N, 2) and N labels, got {tuple(z.shape)} and {len(labels)} labels")
    if len(labels) and (labels.is_floating_point() and not torch.equal(labels, labels.round())
                        or labels.min() < 0 or labels.max() > 9):
        raise ValueError("labels must be the digits 0-9 (one per code), e.g. the test set's targets")
    points = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap=DIGIT_CMAP, s=s, alpha=0.6, vmin=-0.5, vmax=9.5)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if digits:
        halo = [patheffects.withStroke(linewidth=3, foreground="white")]
        for digit in labels.unique().long().tolist():
            x, y = z[labels == digit].median(0).values.tolist()  # the class's median code: inside its cloud
            ax.text(x, y, str(digit), ha="center", va="center", fontsize=12, fontweight="bold", color="black",
                    path_effects=halo)
    if colorbar:
        ax.figure.colorbar(points, ax=ax, ticks=range(10), label="digit", shrink=0.85)
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
    styles = series_styles(len(curves)) if len(curves) <= 10 else [{}] * len(curves)  # more: matplotlib's cycle
    for (label, values), style in zip(curves.items(), styles, strict=True):
        values = [float(v) for v in values]
        marker = style.get("marker", "o") if len(values) < 30 else None
        ax.plot(range(1, len(values) + 1), values, **{**style, "marker": marker}, label=label)
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
