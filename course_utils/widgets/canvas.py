"""The engine of lesson 07's widgets: a figure drawn once, then redrawn in place as one PNG per event.

`Canvas` renders a matplotlib layout (maps of codes, empty image slots) into a pixel array once; each
event copies it, pastes decoded images into slots, marks points on maps and encodes one PNG for a
single `ipywidgets.Image`. `assemble` wires controls to an update function. Keyword arguments only,
so the same code runs on ipywidgets 7.7 (Colab) and 8.x (JupyterLab 4).

Derived in notebooks/07_latent_space.ipynb.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from ..plots import save_figure

RED, BLACK = (230, 30, 30), (0, 0, 0)


class Canvas:
    """A figure rendered once; each frame is a copy with images pasted into axes and points marked."""

    def __init__(self, fig: Figure) -> None:
        FigureCanvasAgg(fig).draw()
        self.fig = fig
        self.background = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()  # (H, W, 3) uint8
        self.frame = self.background.copy()

    def reset(self) -> None:
        np.copyto(self.frame, self.background)

    def box(self, ax) -> tuple[int, int, int, int]:
        """(row0, row1, col0, col1) of an axes in the pixel array (rows count from the top)."""
        height = self.background.shape[0]
        b = ax.bbox
        return height - int(round(b.y1)), height - int(round(b.y0)), int(round(b.x0)), int(round(b.x1))

    def paste(self, ax, image: torch.Tensor) -> None:
        """Draw a grey image (h, w) in [0, 1] over the whole axes box (nearest-neighbour scaling)."""
        r0, r1, c0, c1 = self.box(ax)
        pixels = (image.clamp(0, 1) * 255).to(torch.uint8).numpy()
        rows = np.arange(r1 - r0) * pixels.shape[0] // (r1 - r0)
        cols = np.arange(c1 - c0) * pixels.shape[1] // (c1 - c0)
        self.frame[r0:r1, c0:c1] = pixels[rows][:, cols, None]

    def mark(self, ax, points: torch.Tensor, color: tuple[int, int, int], radius: int = 6, width: int = 1) -> None:
        """A '+' of half-size `radius` at each data point (N, 2) of a map, clipped to the axes."""
        r0, r1, c0, c1 = self.box(ax)
        height = self.background.shape[0]
        for x, y in ax.transData.transform(np.asarray(points, dtype=float).reshape(-1, 2)):
            col, row = int(round(x)), height - int(round(y))
            for dr, dc in ((slice(-width, width + 1), slice(-radius, radius + 1)),
                           (slice(-radius, radius + 1), slice(-width, width + 1))):
                rr = slice(max(r0, row + dr.start), max(r0, min(r1, row + dr.stop)))
                cc = slice(max(c0, col + dc.start), max(c0, min(c1, col + dc.stop)))
                self.frame[rr, cc] = color

    def png(self) -> bytes:
        """The current frame as PNG bytes (fast compression: a frame is sent, not archived)."""
        buffer = io.BytesIO()
        Image.fromarray(self.frame).save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()


@dataclass
class LatentView:
    """A live widget, its controls, the one image it redraws, and what the last update computed."""

    widget: object
    controls: dict
    image: object
    readout: object
    canvas: Canvas
    update: Callable[[], None]
    state: dict = field(default_factory=dict)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def snapshot(self, name: str | None = None, title: str | None = None):
        """A static matplotlib figure of the current view (what the widget shows); saved as figures/<name>.png."""
        import matplotlib.pyplot as plt

        height, width = self.canvas.frame.shape[:2]
        fig, ax = plt.subplots(figsize=(width / 100, height / 100 + (0.3 if title else 0)))
        ax.imshow(self.canvas.frame, interpolation="nearest")
        ax.axis("off")
        if title:
            ax.set_title(title, fontsize=10)
        fig.tight_layout(pad=0.1)
        if name:
            save_figure(fig, name)
        return fig


def assemble(controls: list, canvas: Canvas, update: Callable, css: str, state: dict) -> LatentView:
    """Wire controls to `update` and lay out controls, readout and the image; draws the first frame."""
    import ipywidgets as w

    image, readout = w.Image(format="png"), w.HTML()
    image.add_class("course-latent-image")
    view = LatentView(widget=None, controls={}, image=image, readout=readout, canvas=canvas, update=None,
                      state=state)

    def redraw(_change=None) -> None:
        canvas.reset()
        readout.value = update(view.controls)
        image.value = canvas.png()

    for name, control in controls:
        view.controls[name] = control
        if isinstance(control, w.Button):
            control.on_click(lambda _button: redraw())
        else:
            control.observe(redraw, names="value")
    view.update = redraw
    row = w.HBox([c for _, c in controls], layout=w.Layout(flex_flow="row wrap"))  # wraps rather than squeezes
    view.widget = w.VBox([row, readout, image])
    view.widget.add_class(css)
    redraw()
    return view


SLIDER_TRACK_PX = 200  # every slider's track, however long its description: a 27-pixel track cannot be dragged


def slider(description: str, value: float, low: float, high: float, step: float):
    """A float slider that updates while dragged (continuous_update), readout with 2 decimals.

    The description gets a width from its length (8 px a character) and the track SLIDER_TRACK_PX more, with
    room for the readout; the slider does not shrink in its row, so a long description never eats the track.
    """
    import ipywidgets as w

    label = 8 * len(description) + 8
    return w.FloatSlider(value=value, min=low, max=high, step=step, description=description,
                         continuous_update=True, readout_format=".2f", style={"description_width": f"{label}px"},
                         layout=w.Layout(width=f"{label + SLIDER_TRACK_PX + 60}px", flex="0 0 auto"))


def index_box(description: str, value: int, size: int):
    """A box for an index 0 .. size - 1 (a test digit)."""
    import ipywidgets as w

    return w.BoundedIntText(value=value, min=0, max=size - 1, description=description,
                            layout=w.Layout(width="170px"), style={"description_width": "initial"})


def figure(width: float, height: float) -> Figure:
    """A matplotlib Figure outside pyplot (never shown by the inline backend), 100 dpi."""
    return Figure(figsize=(width, height), dpi=100)


def slot(ax, title: str, images: int = 1) -> None:
    """An empty axes that will hold a row of `images` square images (its box keeps that aspect)."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_box_aspect(1 / images)
    ax.set_title(title, fontsize=9)
