"""Companion package of the Generative Models & VAEs course: one module per lesson's concept.

What students read lives here (data, models, objectives, training, evaluation, plots, one module per
lesson's concept); `course_utils.widgets` holds the interactive views and `course_utils.grading` the
exercises' checks and the instructor's grading. Nothing heavy is imported until it is used: the
names below load their module (torch, matplotlib) on first use, so `course_utils.grading`'s student face
and the grading supervisor start without them.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

# name -> the module that defines it; `__version__` is runtime.VERSION, the one place the version is set
_LAZY = {
    **dict.fromkeys(("binarize_dynamic", "binarize_fixed", "load_mnist"), "data"),
    **dict.fromkeys(("VERSION", "fast_mode", "figures_dir", "get_device", "seed_everything"), "runtime"),
    **dict.fromkeys(("plot_curves", "save_figure", "show_images"), "plots"),
}

# Modules that moved; notebooks saved (or handed out) before the move still import them by the old name.
MOVED = {
    "latent": "linear_gaussian",
    "beyond": "conditional",
    "sealed": "grading.sealed",
    "supervise": "grading.supervise",
    "classroom": "grading.classroom",
    "autograder": "grading.autograder",
    "widget_canvas": "widgets.canvas",
    "latent_widgets": "widgets.latent_views",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports `course_utils.<old name>` as the module it became (the same module object, not a copy)."""

    def find_spec(self, fullname, path, target=None):
        package, _, name = fullname.rpartition(".")
        if package == __name__ and name in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        module = importlib.import_module(f"{__name__}.{MOVED[spec.name.rpartition('.')[2]]}")
        spec.loader_state = module.__spec__  # the import system now sets the old name's spec on the module
        return module

    def exec_module(self, module) -> None:
        module.__spec__ = module.__spec__.loader_state  # already executed under its new name: its own spec back


if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModules())


def __getattr__(name: str):
    """The package's top-level names, each imported from its module on first use."""
    if name == "__version__":
        name = "VERSION"
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "VERSION",
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
