"""course_utils.plots: the helpers draw and write PNGs with stable names."""

import matplotlib.pyplot as plt
import pytest
import torch

from course_utils.plots import plot_curves, save_figure, show_images

pytestmark = pytest.mark.unit

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def figures_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_FIGURES_DIR", str(tmp_path))
    yield
    plt.close("all")


@pytest.mark.parametrize("shape", [(12, 784), (12, 28, 28), (12, 1, 28, 28)])
def test_show_images_writes_a_png(tmp_path, shape):
    fig = show_images(torch.rand(shape), nrow=5, title="digits", name="test_grid", labels=list(range(12)))
    assert len([ax for ax in fig.axes if ax.images]) == 12
    path = tmp_path / "test_grid.png"
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_plot_curves_writes_a_png(tmp_path):
    fig = plot_curves({"train": [3.0, 2.0, 1.5], "test": [3.2, 2.4, 2.0]}, name="test_curves", ylabel="nats")
    assert [line.get_label() for line in fig.axes[0].lines] == ["train", "test"]
    assert (tmp_path / "test_curves.png").read_bytes()[:8] == PNG_MAGIC


def test_save_figure_keeps_stable_names(tmp_path):
    fig, _ = plt.subplots()
    assert save_figure(fig, "00_stable") is None  # a cell ending with a save prints no path
    assert (tmp_path / "00_stable.png").stat().st_size > 0
    with pytest.raises(ValueError, match="without an extension"):
        save_figure(fig, "bad.png")


@pytest.mark.parametrize("images, message", [
    (torch.rand(4, 3, 28, 28), "one channel"),
    (torch.rand(4, 780), "square"),
    (torch.rand(0, 28, 28), "non-empty"),
])
def test_show_images_rejects_bad_shapes(images, message):
    with pytest.raises(ValueError, match=message):
        show_images(images)


def test_plot_curves_styles_each_series_apart():
    fig = plot_curves({"a": [1.0, 2.0], "b": [2.0, 1.0]})
    a, b = fig.axes[0].lines
    assert a.get_color() != b.get_color() and a.get_marker() != b.get_marker()
    fig = plot_curves({str(i): [float(i)] * 3 for i in range(12)})  # past the ten styles: matplotlib's cycle
    assert len(fig.axes[0].lines) == 12


def test_plot_curves_needs_curves():
    with pytest.raises(ValueError, match="no curves"):
        plot_curves({})


def test_show_images_keeps_the_shape_of_non_square_images():
    images = torch.rand(3, 1, 4, 7)
    fig = show_images(images, nrow=3)
    shown = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert [a.shape for a in shown] == [(4, 7)] * 3 and (shown[1] == images[1, 0].numpy()).all()


@pytest.mark.parametrize("n, labelled", [(80, False), (20, True), (3, False)])  # 80: a title over eight rows
def test_show_images_keeps_the_title_clear_of_the_first_row(n, labelled):
    labels = list(range(n)) if labelled else None
    title = "a long title " * 5 if n > 10 else "digits"
    fig = show_images(torch.rand(n, 784), nrow=10, title=title, labels=labels)
    fig.canvas.draw()  # places the labels
    renderer = fig.canvas.get_renderer()
    title = fig._suptitle.get_window_extent(renderer)
    top_of_grid = max(ax.get_tightbbox(renderer).y1 for ax in fig.axes)  # image tops and their labels
    assert title.y0 >= top_of_grid
    assert title.y1 <= fig.bbox.y1 and title.x0 >= 0  # and the title is inside the figure


def test_show_images_names_rows_left_of_the_grid():
    fig = show_images(torch.rand(6, 784), nrow=3, row_labels=["data", "reconstruction"])
    fig.canvas.draw()  # places the labels
    renderer = fig.canvas.get_renderer()
    first_column = [ax for ax in fig.axes if ax.get_subplotspec().colspan.start == 0]
    assert [ax.get_ylabel() for ax in fig.axes] == ["data", "", "", "reconstruction", "", ""]
    for ax in first_column:
        box = ax.yaxis.label.get_window_extent(renderer)
        assert box.x1 <= ax.get_window_extent(renderer).x0 and box.x0 >= 0  # left of its row, inside the figure
    with pytest.raises(ValueError, match="3 row labels for 2 rows"):
        show_images(torch.rand(6, 784), nrow=3, row_labels=["a", "b", "c"])


def test_show_images_shades_hidden_pixels_with_a_tint_and_a_hatch():
    hidden = torch.zeros(28, 28, dtype=torch.bool)
    hidden[14:] = True  # the bottom half
    fig = show_images(torch.zeros(3, 784), nrow=3, hidden=hidden)
    for ax in fig.axes:
        image, overlay = ax.images
        alpha = overlay.get_array()[..., 3]
        assert (alpha[14:] > 0).all() and (alpha[:14] == 0).all()  # tinted exactly where hidden
        assert any(getattr(c, "hatches", None) == ["////"] for c in ax.collections)
    per_image = torch.zeros(3, 28, 28, dtype=torch.bool)
    per_image[1, :5] = True
    fig = show_images(torch.zeros(3, 784), nrow=3, hidden=per_image)
    assert [len(ax.images) for ax in fig.axes] == [1, 2, 1]  # an image with nothing hidden stays untouched
    with pytest.raises(ValueError, match="boolean mask"):
        show_images(torch.zeros(3, 784), hidden=hidden.float())
    with pytest.raises(ValueError, match="boolean mask"):
        show_images(torch.zeros(3, 784), hidden=torch.zeros(2, 28, 28, dtype=torch.bool))
