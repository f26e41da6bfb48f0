"""course_utils.latent_widgets without a browser: moving a control redraws the one image from the right numbers.

Small random models and random images: the views' arithmetic is checked against latent_space directly.
Also run under ipywidgets 7.7.1 (Colab's version) by tests/test_widgets_ipywidgets7.py.
"""

import io

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from course_utils import latent_space as ls
from course_utils import widget_canvas as wc
from course_utils.models import VAE, Autoencoder
from course_utils.widgets import latent_views as lw
from tests.stats import assert_within_se

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    torch.manual_seed(0)
    x, labels = torch.rand(60, 784), torch.randint(0, 10, (60,))
    return {"x": x, "labels": labels, "ae2": Autoencoder(hidden_dim=16, latent_dim=2),
            "vae2": VAE(hidden_dim=16, latent_dim=2), "vae5": VAE(hidden_dim=16, latent_dim=5)}


def _pixels(view) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(view.image.value)).convert("RGB"))


def test_canvas_pastes_into_the_axes_box_and_marks_points():
    fig = Figure(figsize=(3, 2), dpi=100)
    slot, plane = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    plane.set_xlim(0, 1)
    plane.set_ylim(0, 1)
    canvas = wc.Canvas(fig)
    canvas.paste(slot, torch.ones(28, 28))
    r0, r1, c0, c1 = canvas.box(slot)
    assert (canvas.frame[r0:r1, c0:c1] == 255).all() and r1 - r0 > 10
    canvas.mark(plane, torch.tensor([[0.5, 0.5]]), wc.RED, radius=3)
    col, row = plane.transData.transform((0.5, 0.5))
    assert tuple(canvas.frame[canvas.frame.shape[0] - int(round(row)), int(round(col))]) == wc.RED
    canvas.reset()
    assert (canvas.frame == canvas.background).all()


def test_explorer_decodes_the_same_place_in_each_box(data):
    models = {"autoencoder": data["ae2"], "VAE": data["vae2"]}
    codes = {name: ls.encode_dataset(m, data["x"]) for name, m in models.items()}
    view = lw.explorer_2d(models, codes, data["labels"])
    before = view.image.value
    view.controls["u1"].value = 0.9  # what dragging the slider in a browser does
    assert view.image.value != before and _pixels(view).shape == view.canvas.frame.shape
    for name, model in models.items():
        low, high = codes[name].min(0).values, codes[name].max(0).values
        z = low + torch.tensor([0.9, 0.5]) * (high - low)
        torch.testing.assert_close(view.state[name]["z"], z)
        torch.testing.assert_close(view.state[name]["image"], ls.decode_images(model, z[None])[0].view(28, 28))
        assert f"z = ({z[0]:.2f}, {z[1]:.2f})" in view.readout.value
    with pytest.raises(ValueError, match="2-D codes"):
        lw.explorer_2d({"VAE": data["vae5"]}, {"VAE": torch.zeros(3, 5)}, data["labels"][:3])


@pytest.mark.parametrize("method", ls.METHODS)
def test_interpolation_follows_alpha_and_the_pair(data, method):
    view = lw.interpolation_view({"VAE": data["vae5"]}, data["x"], methods=(method,), pair=(3, 7))
    before = view.image.value
    view.controls["alpha"].value = 0.25
    assert view.image.value != before
    z0, z1 = ls.encode_dataset(data["vae5"], data["x"][[3, 7]])
    expected = ls.slerp(z0, z1, 0.25) if method == "spherical" else 0.75 * z0 + 0.25 * z1
    torch.testing.assert_close(view.state[("VAE", method)]["z"], expected)
    torch.testing.assert_close(view.state[("VAE", method)]["path"], ls.interpolate(z0, z1, 9, method))
    view.controls["random pair"].click()
    assert (view.controls["first"].value, view.controls["second"].value) != (3, 7)


def test_traversal_moves_one_coordinate_and_an_ignored_one_changes_nothing(data):
    model = VAE(hidden_dim=16, latent_dim=5)
    with torch.no_grad():
        model.decoder[0].weight[:, 4] = 0.0  # the decoder ignores z_4: an inactive unit
    mu, logvar = ls.encode_posterior(model, data["x"])
    kl, activity = ls.kl_per_dimension(mu, logvar), ls.unit_activity(mu)
    view = lw.traversal_view(model, data["x"], kl.argsort(descending=True).tolist(), kl, activity, index=2)
    view.controls["dim"].value, view.controls["value"].value = 1, 2.0
    codes = view.state["codes"]
    assert codes[-1, 1].item() == 2.0
    torch.testing.assert_close(codes[-1, [0, 2, 3, 4]], mu[2, [0, 2, 3, 4]])
    assert view.state["change"] > 0
    view.controls["dim"].value = 4
    assert view.state["change"] < 1e-6 and "z<sub>4</sub>" in view.readout.value  # float32 rounding only


def test_posterior_draws_come_from_the_chosen_images_q(data):
    view = lw.posterior_view(data["vae2"], data["x"], data["labels"], num_draws=8, index=5)
    assert view.state["z"].shape == (8, 2) and "red: 8 draws" in view.readout.value  # num_draws draws, no fewer
    first = view.state["z"].clone()
    view.controls["redraw"].click()
    assert not torch.equal(first, view.state["z"]) and "test digit 5" in view.readout.value
    mu, logvar = ls.encode_posterior(data["vae2"], data["x"][5:6])
    # every draw is exactly N(mu, sigma^2): within z_value(16) = 5.6 of its sigmas, the suite's 1e-6 for 16 values
    assert_within_se(view.state["z"], mu, (0.5 * logvar).exp(), "the posterior draws")
    view.controls["index"].value = 6
    assert "test digit 6" in view.readout.value


def test_sampling_at_zero_temperature_decodes_the_prior_mean(data):
    view = lw.sampling_view(data["vae5"], data["x"], num_samples=4)
    view.controls["temperature"].value = 0.0
    samples = view.state["samples"]
    torch.testing.assert_close(samples, ls.decode_images(data["vae5"], torch.zeros(4, 5)))
    expected = torch.cdist(samples, data["x"]).min(dim=1)
    torch.testing.assert_close(view.state["distances"], expected.values)
    view.controls["temperature"].value = 1.0
    first = view.state["z"].clone()
    view.controls["redraw"].click()
    assert not torch.equal(first, view.state["z"])


def test_snapshot_is_the_current_frame_saved_under_figures(data, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_FIGURES_DIR", str(tmp_path))
    view = lw.posterior_view(data["vae2"], data["x"], data["labels"])
    view.snapshot("07_test_snapshot", title="a title")
    assert (tmp_path / "07_test_snapshot.png").is_file()


def test_views_are_ipywidgets_with_one_image():
    assert ipywidgets.__version__.split(".")[0] in {"7", "8"}
    fig = Figure(figsize=(1, 1))
    fig.add_subplot(1, 1, 1)
    view = wc.assemble([("s", wc.slider("s", 0.0, 0.0, 1.0, 0.1))], wc.Canvas(fig), lambda c: str(c["s"].value),
                        "course-test", {})
    assert isinstance(view.widget, ipywidgets.VBox) and isinstance(view.image, ipywidgets.Image)
    view.controls["s"].value = 0.5
    assert view.readout.value == "0.5"


def test_views_draw_their_randomness_from_the_generator_they_are_given(data):
    views = [lw.posterior_view(data["vae2"], data["x"], data["labels"], generator=torch.Generator().manual_seed(4))
             for _ in range(2)]
    assert torch.equal(views[0].state["z"], views[1].state["z"])  # the same generator state, the same draws
    mu, logvar = ls.encode_posterior(data["vae2"], data["x"][:1])
    eps = torch.randn(7, 2, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(views[0].state["z"], mu + (0.5 * logvar).exp() * eps)  # z = mu + sigma * eps
    sampling = lw.sampling_view(data["vae5"], data["x"], num_samples=4, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(sampling.state["z"], torch.randn(4, 5, generator=torch.Generator().manual_seed(5)))
    view = lw.interpolation_view({"VAE": data["vae5"]}, data["x"], generator=torch.Generator().manual_seed(6))
    view.controls["random pair"].click()
    expected = torch.randperm(len(data["x"]), generator=torch.Generator().manual_seed(6))[:2].tolist()
    assert [view.controls["first"].value, view.controls["second"].value] == expected


def test_a_latent_view_displays_its_widget_and_index_boxes_stay_in_range(monkeypatch):
    box = wc.index_box("digit", 3, 10)
    assert (box.value, box.min, box.max) == (3, 0, 9)
    box.value = 12
    assert box.value == 9  # an index past the end is clamped to the last image
    fig = Figure(figsize=(1, 1))
    fig.add_subplot(1, 1, 1)
    view = wc.assemble([("digit", box)], wc.Canvas(fig), lambda c: str(c["digit"].value), "course-test", {})
    assert isinstance(view, wc.LatentView) and view.readout.value == "9"
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    view._ipython_display_()
    assert shown == [view.widget]


def _map_axes(fig) -> list:
    return [ax for ax in fig.axes if ax.collections]  # the maps of codes (the image slots hold no points)


def test_maps_name_the_digits_and_keep_every_point_and_label_inside(data):
    models = {"autoencoder": data["ae2"], "VAE": data["vae2"]}
    codes = {name: ls.encode_dataset(m, data["x"]) for name, m in models.items()}
    explorer = lw.explorer_2d(models, codes, data["labels"])
    for ax, z in zip(_map_axes(explorer.canvas.fig), codes.values(), strict=True):
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        assert x0 < z[:, 0].min() and z[:, 0].max() < x1 and y0 < z[:, 1].min() and z[:, 1].max() < y1
        assert sorted(t.get_text() for t in ax.texts) == sorted(str(d) for d in data["labels"].unique().tolist())
    posterior = lw.posterior_view(data["vae2"], data["x"], data["labels"])
    fig = posterior.canvas.fig
    (ax,) = _map_axes(fig)
    renderer = fig.canvas.get_renderer()
    for label in (ax.xaxis.label, ax.yaxis.label):  # the map's axis labels are inside the picture the widget sends
        box = label.get_window_extent(renderer)
        assert label.get_text() and box.y0 >= 0 and box.x0 >= 0


def test_every_slider_keeps_a_usable_track_beside_its_description(data):
    views = [lw.explorer_2d({"VAE": data["vae2"]}, {"VAE": ls.encode_dataset(data["vae2"], data["x"])}, data["labels"]),
             lw.interpolation_view({"VAE": data["vae5"]}, data["x"]),
             lw.traversal_view(data["vae5"], data["x"], [0, 1, 2, 3, 4], torch.ones(5), torch.ones(5)),
             lw.sampling_view(data["vae5"], data["x"])]
    sliders = [c for view in views for c in view.controls.values() if isinstance(c, ipywidgets.FloatSlider)]
    assert len(sliders) == 5
    for s in sliders:
        label, width = int(s.style.description_width.removesuffix("px")), int(s.layout.width.removesuffix("px"))
        assert label >= 7 * len(s.description)  # about 7 px a character at the notebook's 13 px font
        assert width - label >= wc.SLIDER_TRACK_PX >= 150 and s.layout.flex == "0 0 auto"  # the row cannot squeeze it
