"""The lesson-02 playground: sliders for two distributions p and q, with H(p), H(p, q), KL(p || q) and KL(q || p).

The numbers come from plain functions (`divergence_table`, `bernoulli_table`, `gaussian_table`) so they can
be tested without a browser; `playground(kind)` only wires ipywidgets sliders to them and draws p and q.

Derived in notebooks/02_entropy_kl.ipynb.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import torch

from .. import info
from ..checks import check_distribution

KINDS = ("bernoulli", "categorical", "gaussian")


@dataclass(frozen=True)
class DivergenceTable:
    """H(p), H(p, q), KL(p || q) and KL(q || p) of one pair of distributions, in `unit`."""

    entropy_p: float
    cross_entropy_pq: float
    kl_pq: float
    kl_qp: float
    unit: str = "nats"

    def rows(self) -> list[tuple[str, float]]:
        """(label, value) pairs in display order."""
        return [("H(p)", self.entropy_p), ("H(p, q)", self.cross_entropy_pq),
                ("KL(p ‖ q)", self.kl_pq), ("KL(q ‖ p)", self.kl_qp)]

    def to_html(self) -> str:
        """A small HTML table, values with 4 decimals (∞ where q misses p's support)."""
        cells = "".join(f"<tr><td>{label}</td><td style='text-align:right'>{format_value(value)}</td></tr>"
                        for label, value in self.rows())
        return f"<table><tr><th></th><th>{self.unit}</th></tr>{cells}</table>"


def format_value(value: float) -> str:
    """4 decimals, or ∞ for an infinite divergence."""
    return "∞" if math.isinf(value) else f"{value:.4f}"


def divergence_table(p: info.Probs, q: info.Probs, unit: str = "nats") -> DivergenceTable:
    """The four quantities for two discrete distributions over the same K outcomes."""
    p, q = check_distribution(p, "p"), check_distribution(q, "q")
    if p.ndim != 1 or q.ndim != 1:
        raise ValueError(f"p and q must be single distributions (1-D), got shapes {tuple(p.shape)}, {tuple(q.shape)}")
    return DivergenceTable(
        entropy_p=info.entropy(p, unit).item(),
        cross_entropy_pq=info.cross_entropy(p, q, unit).item(),
        kl_pq=info.kl_divergence(p, q, unit).item(),
        kl_qp=info.kl_divergence(q, p, unit).item(),
        unit=unit,
    )


def bernoulli_table(p: float, q: float, unit: str = "nats") -> DivergenceTable:
    """The four quantities for Bernoulli(p) and Bernoulli(q): p and q are probabilities of a 1."""
    for name, value in (("p", p), ("q", q)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} = {value} is not a probability in [0, 1]")
    return divergence_table(torch.tensor([1.0 - p, p], dtype=torch.float64),
                            torch.tensor([1.0 - q, q], dtype=torch.float64), unit)


def categorical_from_weights(weights: list[float]) -> torch.Tensor:
    """Normalize non-negative slider weights into a probability vector (float64)."""
    w = torch.tensor(weights, dtype=torch.float64)
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights {weights} must be >= 0 with at least one > 0")
    return w / w.sum()


def gaussian_table(mu_p: float, sigma_p: float, mu_q: float, sigma_q: float, unit: str = "nats") -> DivergenceTable:
    """The four quantities for N(mu_p, sigma_p²) and N(mu_q, sigma_q²); H is differential (can be < 0)."""
    if sigma_p <= 0 or sigma_q <= 0:
        raise ValueError(f"sigma_p = {sigma_p} and sigma_q = {sigma_q} must both be > 0")
    mu = torch.tensor([[mu_p], [mu_q]], dtype=torch.float64)  # (2, 1): p then q
    logvar = 2 * torch.tensor([[sigma_p], [sigma_q]], dtype=torch.float64).log()
    kl_pq = info.kl_normal_diag(mu[:1], logvar[:1], mu[1:], logvar[1:])  # (1,)
    kl_qp = info.kl_normal_diag(mu[1:], logvar[1:], mu[:1], logvar[:1])
    entropy_p = info.normal_entropy(torch.tensor([sigma_p], dtype=torch.float64))
    # H(p, q) = H(p) + KL(p || q) holds for densities too
    values = [info.in_unit(t, unit).item() for t in (entropy_p, entropy_p + kl_pq, kl_pq, kl_qp)]
    return DivergenceTable(*values, unit=unit)


def draw_pair(ax: plt.Axes, kind: str, p, q) -> None:
    """Draw p and q on `ax`: bars for discrete distributions, densities for Gaussians ((mu, sigma) pairs)."""
    if kind == "gaussian":
        (mu_p, sigma_p), (mu_q, sigma_q) = p, q
        lo = min(mu_p - 4 * sigma_p, mu_q - 4 * sigma_q)
        hi = max(mu_p + 4 * sigma_p, mu_q + 4 * sigma_q)
        x = torch.linspace(lo, hi, 400)
        for (mu, sigma), label in (((mu_p, sigma_p), "p"), ((mu_q, sigma_q), "q")):
            density = torch.distributions.Normal(mu, sigma).log_prob(x).exp().numpy()
            ax.plot(x.numpy(), density, label=label)
            ax.fill_between(x.numpy(), density, alpha=0.2)
        ax.set_xlabel("x")
        ax.set_ylabel("density")
    else:
        p, q = torch.as_tensor(p).tolist(), torch.as_tensor(q).tolist()
        k = list(range(len(p)))
        ax.bar([i - 0.2 for i in k], p, width=0.4, label="p")
        ax.bar([i + 0.2 for i in k], q, width=0.4, label="q")
        ax.set_xticks(k, [str(i) for i in k])
        ax.set_ylim(0, 1)
        ax.set_xlabel("outcome")
        ax.set_ylabel("probability")
    ax.legend()


@dataclass
class Playground:
    """The live widget plus handles on its sliders, readout and plot (tests move sliders through these)."""

    kind: str
    widget: object
    sliders: dict = field(default_factory=dict)
    readout: object = None
    plot: object = None
    table: DivergenceTable | None = None

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def playground(kind: str = "bernoulli", unit: str = "nats", num_categories: int = 4) -> Playground:
    """Build the ipywidgets playground for 'bernoulli', 'categorical' or 'gaussian' p and q; numbers update live."""
    import ipywidgets as w
    from IPython.display import display

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    slider = dict(continuous_update=False, readout_format=".2f", style={"description_width": "initial"})
    if kind == "bernoulli":
        sliders = {"p": w.FloatSlider(0.3, min=0.0, max=1.0, step=0.01, description="p(x=1)", **slider),
                   "q": w.FloatSlider(0.6, min=0.0, max=1.0, step=0.01, description="q(x=1)", **slider)}
    elif kind == "categorical":
        start_p = [4.0, 3.0, 2.0, 1.0, 1.0, 1.0][:num_categories]
        sliders = {f"{name}{i}": w.FloatSlider(start, min=0.0, max=5.0, step=0.1, description=f"{name} weight {i}",
                                               **slider)
                   for name, starts in (("p", start_p), ("q", [1.0] * num_categories))
                   for i, start in enumerate(starts)}
    else:
        sliders = {"mu_p": w.FloatSlider(0.0, min=-4, max=4, step=0.1, description="μ_p", **slider),
                   "sigma_p": w.FloatSlider(1.0, min=0.1, max=3, step=0.05, description="σ_p", **slider),
                   "mu_q": w.FloatSlider(1.0, min=-4, max=4, step=0.1, description="μ_q", **slider),
                   "sigma_q": w.FloatSlider(0.5, min=0.1, max=3, step=0.05, description="σ_q", **slider)}
    units = w.ToggleButtons(options=list(info.UNITS), value=unit, description="unit")
    readout, plot = w.HTML(), w.Output()
    pg = Playground(kind, widget=None, sliders=sliders, readout=readout, plot=plot)

    def update(_change=None) -> None:
        v = {name: s.value for name, s in sliders.items()}
        try:
            if kind == "bernoulli":
                pg.table = bernoulli_table(v["p"], v["q"], units.value)
                p, q = [1 - v["p"], v["p"]], [1 - v["q"], v["q"]]
            elif kind == "categorical":
                p = categorical_from_weights([v[f"p{i}"] for i in range(num_categories)])
                q = categorical_from_weights([v[f"q{i}"] for i in range(num_categories)])
                pg.table = divergence_table(p, q, units.value)
            else:
                pg.table = gaussian_table(v["mu_p"], v["sigma_p"], v["mu_q"], v["sigma_q"], units.value)
                p, q = (v["mu_p"], v["sigma_p"]), (v["mu_q"], v["sigma_q"])
        except ValueError as err:  # e.g. all weights of a categorical at zero
            pg.table, readout.value = None, f"<b>{err}</b>"
            return
        readout.value = pg.table.to_html()
        with plot:
            plot.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(5, 2.6))
            draw_pair(ax, kind, p, q)
            display(fig)
            plt.close(fig)

    for s in [*sliders.values(), units]:
        s.observe(update, names="value")
    columns = [w.VBox(list(sliders.values())), w.VBox([units, readout])]
    pg.widget = w.VBox([w.HBox(columns), plot])
    update()
    return pg
