"""The course's colours that carry meaning stay distinguishable under simulated colour blindness.

Simulation: Machado, Oliveira & Fernandes (2009), "A physiologically-based model for simulation of color
vision deficiency", IEEE TVCG 15(6), the matrices for severity 1.0 (dichromacy), applied to linear sRGB as in
their paper. Distance: CIE76 dE, the Euclidean distance in CIELAB (D65). A just-noticeable difference is about
dE = 2.3 (Sharma, Digital Color Imaging Handbook, 2003); small scatter marks need far more, and we require
dE >= 10 between every two digit colours under each simulation. That does not make ten classes nameable by
colour alone (no ten hues are, for every viewer), which is why `scatter_codes` also writes the digits.
"""

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgb

from course_utils.plots import DIGIT_CMAP, DIGIT_COLORS, OVERLAPPING_DIGITS, TOL_MUTED, scatter_codes, series_styles

pytestmark = pytest.mark.unit

MACHADO_2009 = {  # severity 1.0; each row sums to 1, so white and greys stay where they are
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}
SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
MIN_DELTA_E = 10.0


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def linear_rgb(colors) -> np.ndarray:
    """sRGB colours (hex strings) as linear RGB, (N, 3)."""
    c = np.array([to_rgb(color) for color in colors])
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def lab(linear: np.ndarray) -> np.ndarray:
    """Linear RGB (N, 3) in CIELAB (N, 3), D65 white."""
    xyz = linear @ SRGB_TO_XYZ.T / WHITE_D65
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def simulate(colors, deficiency: str | None) -> np.ndarray:
    """CIELAB coordinates (N, 3) of colours as seen with a deficiency (None: normal vision)."""
    linear = linear_rgb(colors)
    if deficiency is not None:
        linear = np.clip(linear @ np.array(MACHADO_2009[deficiency]).T, 0.0, 1.0)
    return lab(linear)


def smallest_difference(colors, deficiency: str | None) -> float:
    points = simulate(colors, deficiency)
    return min(np.linalg.norm(points[i] - points[j]) for i, j in itertools.combinations(range(len(points)), 2))


def test_the_colour_science_matches_known_values():
    # facts: sRGB white is L* = 100, a* = b* = 0; pure red is L* = 53.24, a* = 80.09, b* = 67.20 (CIE D65)
    np.testing.assert_allclose(simulate(["#FFFFFF"], None)[0], [100, 0, 0], atol=0.05)
    np.testing.assert_allclose(simulate(["#FF0000"], None)[0], [53.24, 80.09, 67.20], atol=0.05)
    # the known confusions: tab10's green and red look alike to deuteranopes, its orange and green to protanopes
    assert smallest_difference(["#2CA02C", "#D62728"], None) > 40
    assert smallest_difference(["#2CA02C", "#D62728"], "deuteranopia") < MIN_DELTA_E
    assert smallest_difference(["#FF7F0E", "#2CA02C"], "protanopia") < MIN_DELTA_E
    for deficiency in MACHADO_2009:  # greys are unchanged by every simulation
        np.testing.assert_allclose(simulate(["#777777"], deficiency), simulate(["#777777"], None), atol=1e-3)


def test_matplotlibs_tab10_fails_the_check_that_the_course_palette_passes():
    tab10 = [plt.get_cmap("tab10")(i) for i in range(10)]
    assert min(smallest_difference(tab10, d) for d in MACHADO_2009) < MIN_DELTA_E  # why tab10 was replaced


@pytest.mark.parametrize("deficiency", [None, *MACHADO_2009])
def test_the_ten_digit_colours_differ_by_delta_e_10_under_each_simulation(deficiency):
    assert len(set(DIGIT_COLORS)) == 10
    assert smallest_difference(DIGIT_COLORS, deficiency) >= MIN_DELTA_E


@pytest.mark.parametrize("deficiency", [None, *MACHADO_2009])
def test_digits_whose_codes_overlap_get_colours_three_times_further_apart(deficiency):
    for a, b in OVERLAPPING_DIGITS:  # neighbours on the maps of lessons 03, 06 and 07
        assert smallest_difference([DIGIT_COLORS[a], DIGIT_COLORS[b]], deficiency) >= 3 * MIN_DELTA_E


def test_the_digit_colour_map_gives_digit_d_its_colour():
    assert DIGIT_CMAP.N == 10
    for digit, color in enumerate(DIGIT_COLORS):
        assert np.allclose(DIGIT_CMAP(digit)[:3], to_rgb(color))
        assert color in TOL_MUTED or color == "#BBBBBB"


def test_scatter_codes_writes_each_digit_at_its_class_median_and_adds_a_colorbar():
    z = torch.randn(200, 2) + torch.arange(10).repeat(20)[:, None] * 3.0  # (200, 2): ten separate clouds
    labels = torch.arange(10).repeat(20)
    fig, ax = plt.subplots()
    points = scatter_codes(ax, z, labels)
    texts = {t.get_text(): t.get_position() for t in ax.texts}
    assert sorted(texts) == [str(d) for d in range(10)]
    for digit in range(10):
        np.testing.assert_allclose(texts[str(digit)], z[labels == digit].median(0).values.numpy(), rtol=1e-6)
    assert all(t.get_path_effects() for t in ax.texts)  # the white halo that keeps a label legible on points
    fig.canvas.draw()  # colours of a colour-mapped scatter are set when it is drawn
    colorbar = points.colorbar
    assert colorbar is not None and list(colorbar.get_ticks()) == list(range(10)) and len(fig.axes) == 2
    np.testing.assert_allclose(points.get_facecolors()[:10, :3], [to_rgb(DIGIT_COLORS[d]) for d in range(10)])


def test_scatter_codes_can_leave_out_labels_and_colorbar_and_rejects_non_digits():
    fig, ax = plt.subplots()
    scatter_codes(ax, torch.randn(20, 2), torch.arange(10).repeat(2), colorbar=False, digits=False)
    assert not ax.texts and len(fig.axes) == 1
    scatter_codes(ax, torch.randn(3, 2), torch.tensor([1, 1, 1]), colorbar=False)
    assert [t.get_text() for t in ax.texts] == ["1"]  # only the classes present
    for bad in (torch.tensor([0, 1, 10]), torch.tensor([0.0, 0.5, 1.0]), torch.tensor([-1, 0, 1])):
        with pytest.raises(ValueError, match="digits 0-9"):
            scatter_codes(ax, torch.randn(3, 2), bad)


@pytest.mark.parametrize("n", [1, 5, 6, 8, 10])
def test_series_styles_never_rely_on_colour_alone(n):
    styles = series_styles(n)
    assert len(styles) == n
    assert len({s["marker"] for s in styles}) == n and len({s["color"] for s in styles}) == n
    for deficiency in MACHADO_2009:
        if n > 1:
            assert smallest_difference([s["color"] for s in styles], deficiency) >= MIN_DELTA_E
    if n > 6:  # past six series, neighbours in the list also differ in line style
        assert all(a["linestyle"] != b["linestyle"] for a, b in itertools.pairwise(styles))


def test_series_styles_rejects_too_many_series():
    with pytest.raises(ValueError, match="1 to 10"):
        series_styles(11)
