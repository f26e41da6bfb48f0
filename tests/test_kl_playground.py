"""course_utils.widgets: the playground's numbers without a browser, and the live widget's updates."""

import math

import matplotlib.pyplot as plt
import pytest
import torch
from torch.distributions import Bernoulli, Categorical, Normal
from torch.distributions import kl_divergence as torch_kl

from course_utils.widgets import kl_playground as widgets

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.mark.parametrize("p, q", [(0.3, 0.6), (0.01, 0.99), (0.5, 0.5), (0.0, 0.4)])
def test_bernoulli_table_matches_torch(p, q):
    table = widgets.bernoulli_table(p, q)
    bp, bq = Bernoulli(torch.tensor(p, dtype=torch.float64)), Bernoulli(torch.tensor(q, dtype=torch.float64))
    assert table.entropy_p == pytest.approx(bp.entropy().item(), abs=1e-12)
    assert table.kl_pq == pytest.approx(torch_kl(bp, bq).item(), abs=1e-12)
    assert table.kl_qp == pytest.approx(torch_kl(bq, bp).item(), abs=1e-12)
    assert table.cross_entropy_pq == pytest.approx(table.entropy_p + table.kl_pq)


def test_bernoulli_table_with_a_point_mass_q_is_infinite_one_way():
    table = widgets.bernoulli_table(0.3, 1.0)
    assert table.kl_pq == math.inf and math.isfinite(table.kl_qp)
    assert "∞" in table.to_html()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_divergence_table_matches_categorical(seed):
    g = torch.Generator().manual_seed(seed)
    p, q = torch.rand(5, generator=g).softmax(0), torch.rand(5, generator=g).softmax(0)
    table = widgets.divergence_table(p, q, unit="bits")
    ln2 = math.log(2.0)
    assert table.entropy_p == pytest.approx(Categorical(p).entropy().item() / ln2, rel=1e-5)
    assert table.kl_pq == pytest.approx(torch_kl(Categorical(p), Categorical(q)).item() / ln2, rel=1e-4)
    assert table.kl_qp == pytest.approx(torch_kl(Categorical(q), Categorical(p)).item() / ln2, rel=1e-4)


@pytest.mark.parametrize("mu_p, sigma_p, mu_q, sigma_q", [(0.0, 1.0, 1.0, 0.5), (-2.0, 0.2, 3.0, 2.5)])
def test_gaussian_table_matches_torch(mu_p, sigma_p, mu_q, sigma_q):
    table = widgets.gaussian_table(mu_p, sigma_p, mu_q, sigma_q)
    p, q = Normal(mu_p, sigma_p), Normal(mu_q, sigma_q)
    assert table.entropy_p == pytest.approx(p.entropy().item(), rel=1e-6)
    assert table.kl_pq == pytest.approx(torch_kl(p, q).item(), rel=1e-6)
    assert table.kl_qp == pytest.approx(torch_kl(q, p).item(), rel=1e-6)
    assert table.cross_entropy_pq == pytest.approx(table.entropy_p + table.kl_pq)


def test_categorical_from_weights_normalizes_and_rejects_all_zero():
    torch.testing.assert_close(widgets.categorical_from_weights([1.0, 3.0]), torch.tensor([0.25, 0.75]).double())
    with pytest.raises(ValueError, match="at least one > 0"):
        widgets.categorical_from_weights([0.0, 0.0])


@pytest.mark.parametrize("call, message", [
    (lambda: widgets.bernoulli_table(1.5, 0.5), "not a probability"),
    (lambda: widgets.gaussian_table(0.0, 0.0, 0.0, 1.0), "must both be > 0"),
    (lambda: widgets.divergence_table([0.5, 0.5], [0.9, 0.2]), "does not sum to one"),
    (lambda: widgets.playground("poisson"), "kind must be one of"),
])
def test_bad_inputs_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("kind", widgets.KINDS)
def test_draw_pair_draws_both_distributions(kind):
    fig, ax = plt.subplots()
    p, q = {"bernoulli": ([0.7, 0.3], [0.4, 0.6]), "categorical": ([0.1, 0.2, 0.7], [0.3, 0.3, 0.4]),
            "gaussian": ((0.0, 1.0), (1.0, 0.5))}[kind]
    widgets.draw_pair(ax, kind, p, q)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["p", "q"]


@pytest.mark.parametrize("kind, slider, value, expected", [
    ("bernoulli", "q", 0.9, lambda v: widgets.bernoulli_table(v["p"], v["q"])),
    ("categorical", "p0", 0.0, lambda v: widgets.divergence_table(
        widgets.categorical_from_weights([v[f"p{i}"] for i in range(4)]),
        widgets.categorical_from_weights([v[f"q{i}"] for i in range(4)]))),
    ("gaussian", "sigma_q", 2.0, lambda v: widgets.gaussian_table(v["mu_p"], v["sigma_p"], v["mu_q"], v["sigma_q"])),
])
def test_moving_a_slider_updates_the_displayed_numbers(kind, slider, value, expected):
    pg = widgets.playground(kind)
    before = pg.readout.value
    pg.sliders[slider].value = value  # what dragging the slider in a browser does
    values = {name: s.value for name, s in pg.sliders.items()}
    assert pg.table == expected(values)
    assert pg.readout.value != before
    for label, number in pg.table.rows():
        assert label in pg.readout.value and widgets.format_value(number) in pg.readout.value


def test_unit_toggle_and_impossible_settings_are_shown():
    pg = widgets.playground("categorical")
    nats = pg.table
    pg.widget.children[0].children[1].children[0].value = "bits"  # the nats/bits toggle
    assert pg.table.kl_pq == pytest.approx(nats.kl_pq / math.log(2.0))
    assert "bits" in pg.readout.value
    for i in range(4):
        pg.sliders[f"q{i}"].value = 0.0
    assert pg.table is None and "at least one > 0" in pg.readout.value


def test_divergence_table_rows_and_html_show_every_number():
    table = widgets.DivergenceTable(entropy_p=0.5, cross_entropy_pq=1.25, kl_pq=0.75, kl_qp=math.inf, unit="bits")
    assert table.rows() == [("H(p)", 0.5), ("H(p, q)", 1.25), ("KL(p ‖ q)", 0.75), ("KL(q ‖ p)", math.inf)]
    html = table.to_html()
    assert "<th>bits</th>" in html and "1.2500" in html and "0.7500" in html and "∞" in html


@pytest.mark.parametrize("kind", widgets.KINDS)
def test_playground_holds_the_widget_and_displays_it(kind, monkeypatch):
    pg = widgets.playground(kind)
    assert isinstance(pg, widgets.Playground) and pg.kind == kind and pg.table is not None
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    pg._ipython_display_()  # what Jupyter calls when the playground ends a cell
    assert shown == [pg.widget]
    with pytest.raises(ValueError, match="kind must be one of"):
        widgets.playground("poisson")
