"""Companion package of the Generative Models & VAEs course: one module per lesson's concept."""

from .data import binarize_dynamic, binarize_fixed, load_mnist
from .plots import plot_curves, save_figure, show_images
from .runtime import VERSION, fast_mode, figures_dir, get_device, seed_everything

__version__ = VERSION  # set in course_utils/runtime.py, the one place

__all__ = [
    "binarize_dynamic",
    "binarize_fixed",
    "fast_mode",
    "figures_dir",
    "get_device",
    "load_mnist",
    "plot_curves",
    "save_figure",
    "seed_everything",
    "show_images",
]
