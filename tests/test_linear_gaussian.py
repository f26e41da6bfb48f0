"""course_utils.latent: the linear-Gaussian model's exact log p(x), posterior, ELBO and naive estimator."""

import math

import pytest
import torch
from torch.distributions import MultivariateNormal, Normal, kl_divergence

from course_utils.linear_gaussian import (
    LinearGaussian,
    elbo,
    expected_log_likelihood,
    kl_to_posterior,
    log_likelihood,
    log_marginal,
    naive_log_marginal,
    naive_relative_variance,
    posterior,
    random_linear_gaussian,
    sample,
)
from tests.stats import assert_within_se

pytestmark = pytest.mark.unit

SHAPES = [(1, 1), (2, 1), (3, 2), (5, 3)]  # (data_dim, latent_dim)


def model_and_data(data_dim, latent_dim, seed=0, num_x=4):
    g = torch.Generator().manual_seed(seed)
    model = random_linear_gaussian(data_dim, latent_dim, noise_var=0.3, generator=g)
    x, _ = sample(model, num_x, generator=g)
    return model, x, g


def random_q(latent_dim, num_q, g):
    mu = 2 * torch.randn(num_q, 1, latent_dim, generator=g, dtype=torch.float64)
    logvar = 2 * torch.randn(num_q, 1, latent_dim, generator=g, dtype=torch.float64)
    return mu, logvar  # broadcast against x of shape (num_x, data_dim)


@pytest.mark.parametrize("data_dim, latent_dim", SHAPES)
def test_log_likelihood_matches_multivariate_normal(data_dim, latent_dim):
    model, x, g = model_and_data(data_dim, latent_dim)
    z = torch.randn(x.shape[0], latent_dim, generator=g, dtype=torch.float64)
    eye = torch.eye(data_dim, dtype=torch.float64)
    expected = MultivariateNormal(z @ model.weight.T + model.bias, covariance_matrix=model.noise_var * eye).log_prob(x)
    torch.testing.assert_close(log_likelihood(model, x, z), expected)


@pytest.mark.parametrize("data_dim, latent_dim", SHAPES)
def test_log_marginal_matches_joint_gaussian(data_dim, latent_dim):
    # (z, x) is jointly Gaussian with cov [[I, W^T], [W, W W^T + s I]]; its x-marginal is p(x).
    model, x, _ = model_and_data(data_dim, latent_dim)
    w, eye_z = model.weight, torch.eye(latent_dim, dtype=torch.float64)
    joint_cov = torch.cat([torch.cat([eye_z, w.T], 1),
                           torch.cat([w, w @ w.T + model.noise_var * torch.eye(data_dim, dtype=torch.float64)], 1)])
    x_cov = joint_cov[latent_dim:, latent_dim:]
    torch.testing.assert_close(log_marginal(model, x), MultivariateNormal(model.bias, x_cov).log_prob(x))


def test_log_marginal_matches_quadrature_in_one_dimension():
    model, x, _ = model_and_data(2, 1)
    z = torch.linspace(-12, 12, 200_001, dtype=torch.float64)[:, None, None]  # (grid, 1, 1)
    log_joint = log_likelihood(model, x, z) + Normal(0.0, 1.0).log_prob(z[..., 0])  # (grid, num_x)
    log_integral = torch.logsumexp(log_joint, 0) + math.log(z[1, 0, 0] - z[0, 0, 0])
    torch.testing.assert_close(log_marginal(model, x), log_integral)


@pytest.mark.parametrize("data_dim, latent_dim", SHAPES)
def test_posterior_satisfies_bayes_rule(data_dim, latent_dim):
    # log p(z | x) = log p(x | z) + log p(z) - log p(x), at any z.
    model, x, g = model_and_data(data_dim, latent_dim)
    mean, cov = posterior(model, x)
    z = 3 * torch.randn(7, *mean.shape, generator=g, dtype=torch.float64)
    log_prior = Normal(0.0, 1.0).log_prob(z).sum(-1)
    bayes = log_likelihood(model, x, z) + log_prior - log_marginal(model, x)
    torch.testing.assert_close(MultivariateNormal(mean, cov).log_prob(z), bayes)


@pytest.mark.parametrize("data_dim, latent_dim", SHAPES)
def test_elbo_is_below_log_marginal_for_many_q(data_dim, latent_dim):
    model, x, g = model_and_data(data_dim, latent_dim)
    mu, logvar = random_q(latent_dim, 500, g)
    bound = elbo(model, x, mu, logvar)  # (500, num_x)
    assert bound.shape == (500, x.shape[0])
    assert (bound <= log_marginal(model, x)).all()


@pytest.mark.parametrize("data_dim, latent_dim", SHAPES)
def test_gap_equals_kl_to_posterior(data_dim, latent_dim):
    model, x, g = model_and_data(data_dim, latent_dim)
    mu, logvar = random_q(latent_dim, 500, g)
    gap = log_marginal(model, x) - elbo(model, x, mu, logvar)
    kl = kl_to_posterior(model, x, mu, logvar)
    assert (gap - kl).abs().max() < 1e-9 * max(1.0, kl.abs().max().item())


@pytest.mark.parametrize("data_dim, latent_dim", SHAPES)
def test_kl_to_posterior_matches_torch(data_dim, latent_dim):
    model, x, g = model_and_data(data_dim, latent_dim)
    mu, logvar = random_q(latent_dim, 20, g)
    mean, cov = posterior(model, x)
    q = MultivariateNormal(mu, covariance_matrix=torch.diag_embed(logvar.exp()))
    expected = kl_divergence(q, MultivariateNormal(mean, cov))
    torch.testing.assert_close(kl_to_posterior(model, x, mu, logvar), expected)


@pytest.mark.parametrize("data_dim, latent_dim", [(1, 1), (4, 1), (3, 2), (6, 3)])
def test_elbo_equals_log_marginal_at_exact_posterior(data_dim, latent_dim):
    # Orthonormal-times-scale columns make W^T W diagonal, so the posterior is a diagonal Gaussian.
    g = torch.Generator().manual_seed(1)
    basis, _ = torch.linalg.qr(torch.randn(data_dim, latent_dim, generator=g, dtype=torch.float64))
    model = LinearGaussian(basis * torch.linspace(0.5, 2.0, latent_dim, dtype=torch.float64),
                           torch.randn(data_dim, generator=g, dtype=torch.float64), 0.2)
    x, _ = sample(model, 5, generator=g)
    mean, cov = posterior(model, x)
    assert torch.allclose(cov, torch.diag(torch.diagonal(cov)))
    logvar = torch.diagonal(cov).log().expand_as(mean)
    torch.testing.assert_close(elbo(model, x, mean, logvar), log_marginal(model, x), rtol=0, atol=1e-10)
    assert kl_to_posterior(model, x, mean, logvar).abs().max() < 1e-10


def test_reconstruction_term_matches_monte_carlo():
    model, x, g = model_and_data(3, 2)
    mu, logvar = torch.tensor([0.5, -1.0], dtype=torch.float64), torch.tensor([-1.0, 0.5], dtype=torch.float64)
    z = mu + (0.5 * logvar).exp() * torch.randn(200_000, 1, 2, generator=g, dtype=torch.float64)
    samples = log_likelihood(model, x, z)  # (S, num_x)
    assert_within_se(samples.mean(0), expected_log_likelihood(model, x, mu, logvar),
                     samples.std(0) / math.sqrt(len(samples)), "E_q[log p(x | z)]", draws=len(samples))


def test_naive_relative_variance_matches_quadrature_in_one_dimension():
    # Var[p(x | z)] / p(x)^2 = E_p(z)[p(x | z)^2] / p(x)^2 - 1, both integrals over the 1-D z on a grid
    model, x, _ = model_and_data(2, 1)
    z = torch.linspace(-12, 12, 200_001, dtype=torch.float64)[:, None, None]  # (grid, 1, 1)
    log_lik, log_prior = log_likelihood(model, x, z), Normal(0.0, 1.0).log_prob(z[..., 0])  # (grid, num_x)
    log_first, log_second = torch.logsumexp(log_lik + log_prior, 0), torch.logsumexp(2 * log_lik + log_prior, 0)
    step = math.log(z[1, 0, 0] - z[0, 0, 0])
    torch.testing.assert_close(naive_relative_variance(model, x),
                               torch.expm1(log_second + step - 2 * (log_first + step)))


def test_naive_estimator_is_unbiased_for_p_of_x_and_has_the_predicted_variance():
    model, x, g = model_and_data(2, 1)
    x = x[:2]
    num_samples, repeats = 50, 4000
    estimates = torch.stack([naive_log_marginal(model, x, num_samples, generator=g) for _ in range(repeats)])
    ratio = (estimates - log_marginal(model, x)).exp()  # p_hat / p, (repeats, num_x); mean 1 if unbiased
    predicted_var = naive_relative_variance(model, x) / num_samples  # closed form, checked by quadrature above
    assert_within_se(ratio.mean(0), 1.0, (predicted_var / repeats).sqrt(), "the mean of p̂ / p")
    # the sample variance is the mean of the squared deviations, so its standard error is theirs over sqrt(R)
    # (p(x | z) is bounded, so p̂ / p has every moment and the central limit theorem applies)
    squared = (ratio - ratio.mean(0)) ** 2
    assert_within_se(ratio.var(0), predicted_var, squared.std(0) / math.sqrt(repeats), "the variance of p̂ / p",
                     draws=repeats)


def test_naive_estimator_converges_with_many_samples():
    model, x, g = model_and_data(3, 1)
    num_samples = 200_000
    estimate = naive_log_marginal(model, x, num_samples, generator=g)
    # p̂ / p averages to 1 with variance naive_relative_variance / N, a closed form: z standard errors
    assert_within_se((estimate - log_marginal(model, x)).exp(), 1.0,
                     (naive_relative_variance(model, x) / num_samples).sqrt(), "p̂ / p with 200,000 samples")


def test_bad_inputs_raise_value_errors():
    model, x, _ = model_and_data(3, 2)
    with pytest.raises(ValueError, match="data_dim"):
        log_marginal(model, x[:, :2])
    with pytest.raises(ValueError, match="latent_dim"):
        elbo(model, x, torch.zeros(3), torch.zeros(3))
    with pytest.raises(ValueError, match="noise_var"):
        LinearGaussian(model.weight, model.bias, 0.0)
    with pytest.raises(ValueError, match="num_samples"):
        naive_log_marginal(model, x, 0)


def test_log_noise_var_is_the_log_and_carries_the_gradient_of_a_learned_noise():
    model, _, _ = model_and_data(3, 2)
    assert model.log_noise_var().item() == pytest.approx(math.log(0.3))
    noise_var = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(LinearGaussian(model.weight, model.bias, noise_var).log_noise_var(), noise_var)
    assert grad.item() == pytest.approx(2.0)  # d log v / dv = 1 / v


def test_sample_returns_draws_and_the_latents_that_made_them():
    model, _, g = model_and_data(3, 2)
    num_samples = 200_000
    x, z = sample(model, num_samples, generator=g)
    assert x.shape == (num_samples, 3) and z.shape == (num_samples, 2)
    # z ~ N(0, I) and x - (W z + b) ~ N(0, noise_var I): standard errors in closed form, sqrt(variance / n) for
    # a mean and sqrt(2 / (n - 1)) variance for a Gaussian's sample variance ((n - 1) S^2 / σ^2 is χ²_{n-1}).
    residual = x - z @ model.weight.T - model.bias
    for values, variance, name in ((z, 1.0, "z"), (residual, 0.3, "x - (W z + b)")):
        assert_within_se(values.mean(0), 0.0, math.sqrt(variance / num_samples), f"the mean of {name}")
        assert_within_se(values.var(0), variance, math.sqrt(2 / (num_samples - 1)) * variance,
                         f"the variance of {name}")


def test_an_estimator_that_averages_log_likelihoods_fails_the_check():
    """Negative control: mean log p(x | z) over z ~ p(z) (an ELBO, below log p(x)) is not the naive estimator."""
    model, x, g = model_and_data(3, 1)
    num_samples = 200_000
    z = torch.randn(num_samples, 1, 1, generator=g, dtype=torch.float64)
    wrong = log_likelihood(model, x, z).mean(0)  # log of a geometric mean: E_p(z)[log p(x | z)] < log p(x)
    with pytest.raises(AssertionError, match="averaged log-likelihoods: .* standard errors off"):
        assert_within_se((wrong - log_marginal(model, x)).exp(), 1.0,
                         (naive_relative_variance(model, x) / num_samples).sqrt(), "averaged log-likelihoods")
