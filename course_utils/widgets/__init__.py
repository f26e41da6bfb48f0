"""The course's interactive widgets: each a thin ipywidgets view over plain, tested functions.

- `widgets.kl_playground`: lesson 02's sliders for two distributions, their entropies and KLs.
- `widgets.latent_views`: lesson 07's views of a trained model's latent space.
- `widgets.canvas`: what the latent views share (one figure drawn once, images pasted in place).
"""

from __future__ import annotations

_PLAYGROUND = ("DivergenceTable", "bernoulli_table", "divergence_table", "gaussian_table", "playground")


def __getattr__(name: str):
    """Lesson 02's playground, as `course_utils.widgets` held it before the widgets were a package."""
    if name in _PLAYGROUND:
        from . import kl_playground

        return getattr(kl_playground, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
