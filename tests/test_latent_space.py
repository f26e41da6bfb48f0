"""course_utils.latent_space and the plots it uses: each function against a direct PyTorch computation."""

import math
import statistics

import matplotlib.pyplot as plt
import pytest
import torch
from torch.distributions import Normal, kl_divergence

from course_utils import latent_space as ls
from course_utils.models import CVAE, VAE, Autoencoder
from course_utils.plots import scatter_codes, tile

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _models(latent_dim=3):
    torch.manual_seed(0)
    return Autoencoder(hidden_dim=16, latent_dim=latent_dim), VAE(hidden_dim=16, latent_dim=latent_dim)


@pytest.mark.parametrize("batch_size", [7, 2000])
def test_encode_dataset_matches_one_encode_call(batch_size):
    ae, vae = _models()
    x = torch.rand(50, 784)
    torch.testing.assert_close(ls.encode_dataset(ae, x, batch_size), ae.encode(x).detach())
    mu, logvar = vae.encode(x)
    torch.testing.assert_close(ls.encode_dataset(vae, x, batch_size), mu.detach())
    got_mu, got_logvar = ls.encode_posterior(vae, x, batch_size)
    torch.testing.assert_close(got_logvar, logvar.detach())
    with pytest.raises(ValueError, match="needs a VAE"):
        ls.encode_posterior(ae, x)


@pytest.mark.unit
def test_the_encoders_leave_the_model_in_the_mode_they_found_and_pass_labels_along():
    ae, vae = _models()
    x, y = torch.rand(6, 784), torch.tensor([0, 1, 2, 0, 1, 2])
    for model in (ae, vae):
        model.train()
        ls.encode_dataset(model, x)
        ls.decode_images(model, torch.zeros(2, 3))
        assert model.training
    torch.manual_seed(0)
    cvae = CVAE(hidden_dim=16, latent_dim=3, num_classes=3)
    mu, logvar = ls.encode_posterior(cvae, x, 4, y=y)
    torch.testing.assert_close((mu, logvar), tuple(t.detach() for t in cvae.encode(x, y)))


def test_decode_images_is_sigmoid_of_decode_and_checks_shapes():
    ae, _ = _models()
    z = torch.randn(4, 3)
    torch.testing.assert_close(ls.decode_images(ae, z), torch.sigmoid(ae.decode(z)).detach())
    with pytest.raises(ValueError, match="latent_dim is 3"):
        ls.decode_images(ae, torch.randn(4, 2))
    with pytest.raises(ValueError, match="unsqueeze"):
        ls.decode_images(ae, torch.randn(3))


def test_grid_codes_runs_row_by_row_from_the_top_left():
    z = ls.grid_codes((-1.0, -2.0), (1.0, 2.0), steps=5).view(5, 5, 2)
    torch.testing.assert_close(z[0, 0], torch.tensor([-1.0, 2.0]))  # top left: smallest z_1, largest z_2
    torch.testing.assert_close(z[-1, -1], torch.tensor([1.0, -2.0]))
    assert (z[:, :, 1].diff(dim=0) < 0).all() and (z[:, :, 0].diff(dim=1) > 0).all()
    with pytest.raises(ValueError, match="at least 2"):
        ls.grid_codes((0, 0), (1, 1), 1)


def test_quantile_grid_cells_hold_equal_prior_mass():
    z = ls.quantile_grid(7)
    levels = Normal(0.0, 1.0).cdf(z[:7, 0])  # the first row's z_1 values, as prior probabilities
    torch.testing.assert_close(levels, torch.linspace(0.03, 0.97, 7), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="0 < low < high < 1"):
        ls.quantile_grid(5, low=0.0)


@pytest.mark.parametrize("a, b, alpha", [(0.3, 2.0, 0.25), (-1.0, 1.5, 0.5), (0.0, 3.0, 0.9)])
def test_slerp_is_a_rotation_in_the_plane(a, b, alpha):
    r = 2.5
    z0, z1 = r * torch.tensor([math.cos(a), math.sin(a)]), r * torch.tensor([math.cos(b), math.sin(b)])
    angle = a + alpha * (b - a)
    torch.testing.assert_close(ls.slerp(z0, z1, alpha), r * torch.tensor([math.cos(angle), math.sin(angle)]))


def test_slerp_keeps_the_norm_in_20d_and_hits_both_ends():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(20, generator=g, dtype=torch.float64), torch.randn(20, generator=g, dtype=torch.float64)
    z1 = z1 / z1.norm() * z0.norm()
    path = ls.interpolate(z0, z1, 11, "spherical")
    torch.testing.assert_close(path.norm(dim=1), z0.norm().expand(11))
    torch.testing.assert_close(path[0], z0)
    torch.testing.assert_close(path[-1], z1)
    linear = ls.interpolate(z0, z1, 11, "linear")
    # the straight line cuts inside the sphere: its midpoint has norm |z0| cos(θ / 2), θ the angle between the codes
    angle = torch.arccos(z0 @ z1 / (z0.norm() * z1.norm()))
    torch.testing.assert_close(linear[5].norm(), z0.norm() * torch.cos(angle / 2))
    assert linear[5].norm() < z0.norm()
    torch.testing.assert_close(linear[5], (z0 + z1) / 2)


def test_slerp_of_parallel_codes_falls_back_to_the_line():
    z0 = torch.tensor([1.0, 2.0])
    torch.testing.assert_close(ls.slerp(z0, 3 * z0, 0.5), 2 * z0)
    with pytest.raises(ValueError, match="same shape"):
        ls.slerp(z0, torch.zeros(3), 0.5)
    with pytest.raises(ValueError, match="method must be"):
        ls.interpolate(z0, z0, 3, "cubic")


def test_traverse_changes_only_the_chosen_coordinate():
    z = torch.arange(5.0)
    codes = ls.traverse(z, 2, torch.tensor([-1.0, 0.5]))
    assert codes.shape == (2, 5) and codes[:, 2].tolist() == [-1.0, 0.5]
    torch.testing.assert_close(codes[:, [0, 1, 3, 4]], z[[0, 1, 3, 4]].expand(2, 4))
    with pytest.raises(ValueError, match="dim"):
        ls.traverse(z, 5, torch.zeros(2))


def test_kl_per_dimension_matches_torch_distributions():
    g = torch.Generator().manual_seed(1)
    mu, logvar = torch.randn(30, 4, generator=g), torch.randn(30, 4, generator=g)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).mean(0)
    torch.testing.assert_close(ls.kl_per_dimension(mu, logvar), expected)


def test_active_units_are_the_dimensions_whose_means_vary_over_the_data():
    g = torch.Generator().manual_seed(2)
    mu = torch.randn(500, 4, generator=g) * torch.tensor([1.0, 0.05, 0.2, 0.0]) + torch.tensor([0.0, 3.0, 0.0, 1.0])
    # the sample variance of each column by the standard library, not by torch's var
    columns = mu.double().T.tolist()
    torch.testing.assert_close(ls.unit_activity(mu), torch.tensor([statistics.variance(c) for c in columns]))
    # True variances 1, 0.0025, 0.04 and 0 against the threshold 0.01. For 500 Gaussian values 499 S^2 / σ^2 is
    # χ²_499, within [k - 2 √(k x), k + 2 √(k x) + 2x] = [0.66 k, 1.40 k] with probability 1 - 2e^-x = 1 - 1e-6
    # (Laurent & Massart 2000, x = 14.5): 0.0025 stays below 0.0035 and 0.04 above 0.026, both clear of 0.01.
    assert ls.active_units(mu).tolist() == [True, False, True, False]
    with pytest.raises(ValueError, match="at least two"):
        ls.unit_activity(mu[:1])


def test_posterior_ellipse_points_are_num_std_sigmas_away():
    mu, logvar = torch.tensor([0.5, -1.0]), torch.tensor([-2.0, 0.5])
    points = ls.posterior_ellipse(mu, logvar, num_std=2.0, num_points=50)
    mahalanobis = (((points - mu) / (0.5 * logvar).exp()) ** 2).sum(1).sqrt()
    torch.testing.assert_close(mahalanobis, torch.full((50,), 2.0))
    with pytest.raises(ValueError, match="2-D posterior"):
        ls.posterior_ellipse(torch.zeros(3), torch.zeros(3))


def test_temperature_scales_the_same_noise():
    hot = ls.temperature_codes(6, 4, 1.5, torch.Generator().manual_seed(3))
    cold = ls.temperature_codes(6, 4, 0.5, torch.Generator().manual_seed(3))
    torch.testing.assert_close(hot, 3 * cold)
    assert (ls.temperature_codes(2, 4, 0.0) == 0).all()
    with pytest.raises(ValueError, match=">= 0"):
        ls.temperature_codes(2, 4, -1.0)


def test_nearest_neighbours_match_brute_force_across_batches():
    g = torch.Generator().manual_seed(4)
    queries, reference = torch.rand(9, 784, generator=g), torch.rand(100, 784, generator=g)
    distances, indices = ls.nearest_neighbours(queries, reference, batch_size=7)
    expected = torch.cdist(queries, reference).min(dim=1)
    torch.testing.assert_close(distances, expected.values)
    assert indices.tolist() == expected.indices.tolist()
    again = ls.nearest_neighbours(queries, reference, reference_sq_norms=reference.pow(2).sum(1))
    assert again[1].tolist() == indices.tolist()
    d, i = ls.nearest_neighbours(reference[[5, 42]], reference)
    assert i.tolist() == [5, 42] and d.abs().max() < 1e-2  # an image is its own nearest neighbour
    with pytest.raises(ValueError, match="features"):
        ls.nearest_neighbours(queries, reference[:, :10])
    with pytest.raises(ValueError, match="empty"):
        ls.nearest_neighbours(queries, reference[:0])


def test_code_spacing_is_the_distance_between_interleaved_halves():
    z = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 1.0], [10.0, 0.0]])
    torch.testing.assert_close(ls.code_spacing(z), torch.tensor([3.0, 10.0 ** 0.5]))  # rows 0, 2 vs rows 1, 3
    with pytest.raises(ValueError, match="at least two"):
        ls.code_spacing(z[:1])


def test_tile_lays_images_out_row_by_row():
    images = torch.arange(6 * 4, dtype=torch.float32).view(6, 4)  # six 2x2 images
    canvas = tile(images, nrow=3)
    assert canvas.shape == (4, 6)
    for k in range(6):
        row, col = divmod(k, 3)
        torch.testing.assert_close(canvas[2 * row:2 * row + 2, 2 * col:2 * col + 2], images[k].view(2, 2))
    with pytest.raises(ValueError, match="multiple of nrow"):
        tile(images, nrow=4)


def test_scatter_codes_draws_every_code():
    fig, ax = plt.subplots()
    points = scatter_codes(ax, torch.randn(40, 2), torch.randint(0, 10, (40,)))
    assert len(points.get_offsets()) == 40 and ax.get_xlabel() == "$z_1$"
    with pytest.raises(ValueError, match="2-D codes"):
        scatter_codes(ax, torch.randn(40, 3), torch.zeros(40))


def test_inside_hull_keeps_convex_combinations_and_rejects_points_beyond():
    g = torch.Generator().manual_seed(0)
    codes = torch.randn(300, 2, generator=g) * torch.tensor([3.0, 0.5])  # an elongated cloud
    weights = torch.rand(500, 300, generator=g) ** 8  # convex combinations: inside the hull by definition
    combos = (weights / weights.sum(1, keepdim=True)) @ codes
    assert ls.inside_hull(combos, codes).all()
    assert ls.inside_hull(codes, codes).all()  # every code is in its own hull (on it, for the corners)
    far = torch.tensor([[codes[:, 0].max() + 0.1, 0.0], [0.0, codes[:, 1].min() - 0.1], [100.0, 100.0]])
    assert not ls.inside_hull(far, codes).any()
    square = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.5, 0.5]])
    points = torch.tensor([[0.5, 0.99], [0.01, 0.5], [1.01, 0.5], [0.5, -0.01]])
    assert ls.inside_hull(points, square).tolist() == [True, True, False, False]
    with pytest.raises(ValueError, match="three distinct"):
        ls.inside_hull(points, torch.zeros(5, 2))
    with pytest.raises(ValueError, match="2-D"):
        ls.inside_hull(points, torch.zeros(5, 3))


def test_aggregate_log_density_is_the_mixture_of_the_posteriors():
    from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

    g = torch.Generator().manual_seed(1)
    mu, logvar = torch.randn(50, 3, generator=g), torch.randn(50, 3, generator=g) * 0.5
    z = torch.randn(7, 3, generator=g) * 2
    mixture = MixtureSameFamily(Categorical(torch.ones(50)), Independent(Normal(mu, (0.5 * logvar).exp()), 1))
    torch.testing.assert_close(ls.aggregate_log_density(z, mu, logvar, batch_size=3), mixture.log_prob(z).double())
    with pytest.raises(ValueError, match="mu, logvar"):
        ls.aggregate_log_density(z, mu, logvar[:, :2])
