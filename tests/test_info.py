"""course_utils.info: entropy, cross-entropy and KL against torch.distributions, and their properties."""

import math

import pytest
import torch
from torch.distributions import Categorical, Dirichlet, Independent, MultivariateNormal, Normal
from torch.distributions import kl_divergence as torch_kl

from course_utils import info
from tests.stats import FAILURE_PROBABILITY, assert_within_se

pytestmark = pytest.mark.unit


def random_distributions(seed: int, num: int = 500, k: int = 6, concentration: float = 0.5) -> torch.Tensor:
    """(num, k) random probability vectors in float64; small concentrations give near-sparse ones."""
    torch.manual_seed(seed)
    return Dirichlet(torch.full((k,), concentration, dtype=torch.float64)).sample((num,))


def random_covariance(generator: torch.Generator, d: int, batch: tuple = ()) -> torch.Tensor:
    """A random symmetric positive definite (..., d, d) matrix."""
    a = torch.randn(*batch, d, d, generator=generator, dtype=torch.float64)
    return a @ a.transpose(-1, -2) + 0.1 * torch.eye(d, dtype=torch.float64)


# --- against torch.distributions -------------------------------------------------------------------

@pytest.mark.parametrize("k, concentration", [(2, 1.0), (5, 0.3), (10, 2.0)])
def test_entropy_matches_categorical(k, concentration):
    p = random_distributions(0, k=k, concentration=concentration)
    torch.testing.assert_close(info.entropy(p), Categorical(probs=p).entropy())


@pytest.mark.parametrize("k, concentration", [(2, 1.0), (5, 0.3), (10, 2.0)])
def test_kl_matches_categorical(k, concentration):
    p, q = random_distributions(1, k=k, concentration=concentration), random_distributions(2, k=k)
    torch.testing.assert_close(info.kl_divergence(p, q), torch_kl(Categorical(probs=p), Categorical(probs=q)))


def test_cross_entropy_is_average_nll_of_samples():
    p, q = torch.tensor([0.1, 0.6, 0.3], dtype=torch.float64), torch.tensor([0.3, 0.3, 0.4], dtype=torch.float64)
    torch.manual_seed(0)
    x = Categorical(probs=p).sample((200_000,))
    nll = -Categorical(probs=q).log_prob(x)
    assert_within_se(nll.mean(), info.cross_entropy(p, q), nll.std() / math.sqrt(len(nll)), "the average NLL",
                     draws=len(nll))


@pytest.mark.parametrize("d, batch", [(1, ()), (3, ()), (4, (5,)), (2, (3, 2))])
def test_kl_normal_matches_multivariate_normal(d, batch):
    g = torch.Generator().manual_seed(d)
    mu_p, mu_q = torch.randn(*batch, d, generator=g, dtype=torch.float64), torch.randn(d, dtype=torch.float64)
    cov_p, cov_q = random_covariance(g, d, batch), random_covariance(g, d)
    expected = torch_kl(MultivariateNormal(mu_p, cov_p), MultivariateNormal(mu_q, cov_q))
    torch.testing.assert_close(info.kl_normal(mu_p, cov_p, mu_q, cov_q), expected)


@pytest.mark.parametrize("shape", [(7,), (4, 3), (2, 3, 5)])
def test_kl_normal_diag_matches_independent_normal(shape):
    g = torch.Generator().manual_seed(len(shape))
    mu_p, mu_q, logvar_p, logvar_q = (torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(4))
    p = Independent(Normal(mu_p, (0.5 * logvar_p).exp()), 1)
    q = Independent(Normal(mu_q, (0.5 * logvar_q).exp()), 1)
    torch.testing.assert_close(info.kl_normal_diag(mu_p, logvar_p, mu_q, logvar_q), torch_kl(p, q))


@pytest.mark.parametrize("shape", [(7,), (4, 3), (2, 3, 5)])
def test_kl_normal_standard_agrees_with_torch_and_the_general_formulas(shape):
    g = torch.Generator().manual_seed(10 + len(shape))
    mu, logvar = torch.randn(shape, generator=g, dtype=torch.float64), 2 * torch.randn(shape, generator=g)
    logvar = logvar.double()
    sigma = (0.5 * logvar).exp()
    expected = torch_kl(Independent(Normal(mu, sigma), 1), Independent(Normal(0.0, torch.ones_like(sigma)), 1))
    torch.testing.assert_close(info.kl_normal_standard(mu, logvar), expected)
    zeros = torch.zeros_like(mu)
    torch.testing.assert_close(info.kl_normal_diag(mu, logvar, zeros, zeros), expected)
    eye = torch.eye(shape[-1], dtype=torch.float64)
    torch.testing.assert_close(info.kl_normal(mu, torch.diag_embed(sigma**2), zeros, eye), expected)


def test_normal_entropy_matches_torch_and_can_be_negative():
    sigma = torch.tensor([0.05, 0.2, 1.0, 3.0], dtype=torch.float64)
    torch.testing.assert_close(info.normal_entropy(sigma), Normal(0.0, sigma).entropy())
    assert info.normal_entropy(torch.tensor(0.05)) < 0  # differential entropy, unlike discrete, can be < 0


@pytest.mark.parametrize("num_samples", [1_000, 100_000])
def test_kl_monte_carlo_is_within_a_few_standard_errors(num_samples):
    torch.manual_seed(0)
    p, q = Normal(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.5])), Normal(torch.tensor([1.0, 0.0]), 2.0)
    estimate, stderr = info.kl_monte_carlo(p, q, num_samples)
    assert_within_se(estimate, torch_kl(p, q), stderr, "Monte Carlo KL", draws=num_samples)


def test_kl_monte_carlo_standard_error_is_the_spread_over_root_n():
    # Equal variances make log p(x) - log q(x) = Δ (x - m_p) / s^2 + Δ^2 / (2 s^2), Δ = m_p - m_q, exactly normal
    # with variance σ^2 = Δ^2 / s^2. The sample variance is S^2 = N stderr^2, so k S^2 / σ^2 with k = N - 1 is
    # exactly χ²_k, and Laurent & Massart (2000, Lemma 1) bound it: P(χ²_k - k >= 2 √(k x) + 2x) <= e^-x
    # and P(k - χ²_k >= 2 √(k x)) <= e^-x. With e^-x = FAILURE_PROBABILITY / 4 (two sides, two values) this
    # interval fails a correct standard error with probability <= 1e-6; one that forgot the √N is far outside it.
    torch.manual_seed(1)
    num_samples = 10_000
    scale = torch.tensor([1.0, 0.5], dtype=torch.float64)
    p = Normal(torch.tensor([0.0, 1.0], dtype=torch.float64), scale)
    q = Normal(torch.tensor([1.0, 0.0], dtype=torch.float64), scale)
    estimate, stderr = info.kl_monte_carlo(p, q, num_samples)
    variance = (1.0 / scale) ** 2  # Δ^2 / s^2 with |Δ| = 1
    k, x = num_samples - 1, math.log(4 / FAILURE_PROBABILITY)
    chi2 = k * num_samples * stderr**2 / variance
    assert ((chi2 >= k - 2 * math.sqrt(k * x)) & (chi2 <= k + 2 * math.sqrt(k * x) + 2 * x)).all(), chi2 / k
    # and the estimate itself, with this (now checked) standard error
    assert_within_se(estimate, torch_kl(p, q), stderr, "Monte Carlo KL, equal variances", draws=num_samples)


# --- properties on many random distributions --------------------------------------------------------

@pytest.mark.parametrize("seed, k, concentration", [(3, 2, 1.0), (4, 5, 0.2), (5, 12, 1.0)])
def test_properties_on_random_distributions(seed, k, concentration):
    p, q = random_distributions(seed, k=k, concentration=concentration), random_distributions(seed + 100, k=k)
    h_p, h_pq, h_qp = info.entropy(p), info.cross_entropy(p, q), info.cross_entropy(q, p)
    kl_pq, kl_qp = info.kl_divergence(p, q), info.kl_divergence(q, p)
    assert (h_p >= 0).all() and (h_p <= math.log(k) + 1e-12).all()  # 0 <= H(p) <= log K
    assert (h_pq >= h_p - 1e-12).all()  # Gibbs: H(p, q) >= H(p)
    assert (kl_pq >= 0).all() and (kl_qp >= 0).all()
    torch.testing.assert_close(kl_pq, h_pq - h_p)  # KL(p || q) = H(p, q) - H(p)
    # asymmetric in general (not always: for K = 2, p = (a, 1 - a) and q = (1 - a, a) give equal KLs)
    assert ((kl_pq - kl_qp).abs() > 1e-6).float().mean() > 0.9
    assert ((h_pq - h_qp).abs() > 1e-6).float().mean() > 0.9  # H(p, q) != H(q, p) in general
    assert (kl_pq[(p - q).abs().amax(dim=-1) > 0.01] > 1e-6).all()  # KL > 0 when p != q


@pytest.mark.parametrize("k", [1, 2, 7])
def test_equality_cases(k):
    point_masses = torch.eye(k, dtype=torch.float64)
    assert (info.entropy(point_masses) == 0).all()  # 0 log 0 = 0: no NaN, exactly zero
    p = random_distributions(6, k=k, num=50)
    assert (info.kl_divergence(p, p) == 0).all()
    torch.testing.assert_close(info.cross_entropy(p, p), info.entropy(p))
    uniform = torch.full((k,), 1.0 / k, dtype=torch.float64)
    torch.testing.assert_close(info.entropy(uniform), torch.tensor(math.log(k), dtype=torch.float64))


def test_missing_support_gives_infinite_kl_but_zeros_of_p_are_free():
    p, q = torch.tensor([0.5, 0.5, 0.0]), torch.tensor([1.0, 0.0, 0.0])
    assert info.kl_divergence(p, q) == math.inf and info.cross_entropy(p, q) == math.inf
    assert info.kl_divergence(q, p) == pytest.approx(math.log(2.0))


@pytest.mark.parametrize("fn", [info.entropy, info.cross_entropy, info.kl_divergence])
def test_bits_are_nats_over_ln2(fn):
    p, q = random_distributions(7, num=20), random_distributions(8, num=20)
    args = (p,) if fn is info.entropy else (p, q)
    torch.testing.assert_close(fn(*args, unit="bits"), fn(*args) / math.log(2.0))
    assert info.entropy(torch.full((8,), 1 / 8), unit="bits") == pytest.approx(3.0)  # a fair 8-sided die: 3 bits


def test_batches_broadcast_and_lists_work():
    p, q = random_distributions(9, num=4), random_distributions(10, num=1)[0]
    torch.testing.assert_close(info.kl_divergence(p, q), info.kl_divergence(p, q.expand(4, -1)))
    assert info.entropy([0.5, 0.5]).item() == pytest.approx(math.log(2.0))


# --- inputs a student can get wrong -------------------------------------------------------------------

@pytest.mark.parametrize("p, message", [
    ([0.5, 0.6], "does not sum to one"),
    ([1.2, -0.2], "negative entries"),
    ([0.5, float("nan"), 0.5], "NaN"),
    ([], "at least one outcome"),
    (torch.tensor(1.0), "at least one outcome"),
])
def test_bad_probabilities_raise(p, message):
    with pytest.raises(ValueError, match=message):
        info.entropy(p)


@pytest.mark.parametrize("q, message", [
    ([0.2, 0.3, 0.5], "2 outcomes but q has 3"),
    (torch.full((3, 2), 0.5), "batch dims must broadcast"),
    ([0.7, 0.7], "q does not sum to one"),
])
def test_bad_pairs_raise(q, message):
    p = torch.full((2, 2), 0.5)
    with pytest.raises(ValueError, match=message):
        info.kl_divergence(p, q)


def test_bad_units_and_gaussians_raise():
    with pytest.raises(ValueError, match="'nats' or 'bits'"):
        info.entropy([0.5, 0.5], unit="bans")
    eye = torch.eye(2)
    with pytest.raises(ValueError, match="not positive definite"):
        info.kl_normal(torch.zeros(2), torch.diag(torch.tensor([1.0, -1.0])), torch.zeros(2), eye)
    with pytest.raises(ValueError, match="not symmetric"):
        info.kl_normal(torch.zeros(2), torch.tensor([[1.0, 0.5], [0.0, 1.0]]), torch.zeros(2), eye)
    with pytest.raises(ValueError, match="expected"):
        info.kl_normal(torch.zeros(3), eye, torch.zeros(2), eye)
    with pytest.raises(ValueError, match="must match"):
        info.kl_normal_standard(torch.zeros(2, 3), torch.zeros(3))
    with pytest.raises(ValueError, match="must all match"):
        info.kl_normal_diag(torch.zeros(3), torch.zeros(3), torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match="sigma must be > 0"):
        info.normal_entropy(0.0)


def test_in_unit_converts_nats_to_bits_and_refuses_other_units():
    nats = torch.tensor([0.0, math.log(2.0), math.log(8.0)])
    torch.testing.assert_close(info.in_unit(nats, "bits"), torch.tensor([0.0, 1.0, 3.0]))
    assert torch.equal(info.in_unit(nats, "nats"), nats)
    with pytest.raises(ValueError, match="'nats' or 'bits'"):
        info.in_unit(nats, "bans")
