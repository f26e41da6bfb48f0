"""course_utils.gradients: the reparameterization trick and two unbiased gradient estimators."""

import math

import pytest
import torch
from torch.distributions import Normal

from course_utils.gradients import (
    COSINE,
    QUADRATIC,
    GaussianObjective,
    pathwise_gradients,
    reparameterize,
    score_function_gradients,
)
from tests.stats import assert_not_below, assert_within_se

pytestmark = pytest.mark.unit

OBJECTIVES = [QUADRATIC, COSINE]
ESTIMATORS = [score_function_gradients, pathwise_gradients]
# (mu, logvar) of q, 2-D
SETTINGS = [([0.0, 0.5], [0.0, -1.0]), ([1.5, -2.0], [-2.0, 1.0])]
# where lesson 05 compares variances: sigma <= 1, a posterior narrower than the prior. (For cos(z) with
# sigma > 1 the pathwise estimate of the logvar gradient is the noisier one; the lesson shows this too.)
NARROW_SETTINGS = [([0.0, 0.5], [0.0, -1.0]), ([1.5, -2.0], [-2.0, -4.0])]


def test_reparameterize_gradients_are_one_and_eps():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(1000, 3, generator=g).requires_grad_(True)
    sigma = (torch.rand(1000, 3, generator=g) + 0.1).requires_grad_(True)
    z = reparameterize(mu, 2 * sigma.log(), generator=torch.Generator().manual_seed(1))
    eps = torch.randn(1000, 3, generator=torch.Generator().manual_seed(1))
    z.sum().backward()  # each z_i depends only on mu_i and sigma_i, so these are dz_i/dmu_i and dz_i/dsigma_i
    torch.testing.assert_close(mu.grad, torch.ones_like(mu))
    torch.testing.assert_close(sigma.grad, eps)
    torch.testing.assert_close(z.detach(), mu.detach() + sigma.detach() * eps)


def test_reparameterize_agrees_with_rsample():
    mu = torch.tensor([0.3, -1.0, 2.0], requires_grad=True)
    logvar = torch.tensor([0.0, -2.0, 1.0], requires_grad=True)
    torch.manual_seed(3)
    ours = reparameterize(mu, logvar)
    (grad_ours,) = torch.autograd.grad(ours.sum(), logvar)
    torch.manual_seed(3)
    theirs = Normal(mu, (0.5 * logvar).exp()).rsample()
    (grad_theirs,) = torch.autograd.grad(theirs.sum(), logvar)
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(grad_ours, grad_theirs)


def test_only_the_pathwise_estimator_differentiates_through_the_samples():
    mu, logvar = torch.zeros(2), torch.zeros(2)
    seen = {}
    for estimator in ESTIMATORS:
        def f(z, name=estimator.__name__):
            seen[name] = z.requires_grad  # does the estimator hand f a sample that carries gradients?
            return z.sum(-1)
        estimator(f, mu, logvar, 3)
    assert seen == {"score_function_gradients": False, "pathwise_gradients": True}


def test_reparameterize_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="must match"):
        reparameterize(torch.zeros(2, 3), torch.zeros(3))


@pytest.mark.parametrize("mu, logvar", SETTINGS)
def test_quadratic_true_gradient_is_the_hand_derived_one(mu, logvar):
    mu, logvar = torch.tensor(mu), torch.tensor(logvar)
    grad_mu, grad_logvar = QUADRATIC.true_gradients(mu, logvar)
    torch.testing.assert_close(grad_mu, 2 * (mu - 1))
    torch.testing.assert_close(grad_logvar, logvar.exp())  # d sigma^2 / d logvar = sigma^2


@pytest.mark.parametrize("mu, logvar", SETTINGS)
@pytest.mark.parametrize("objective", OBJECTIVES, ids=lambda o: o.name.split()[0])
def test_score_function_matches_autograd_of_the_surrogate(objective, mu, logvar):
    mu, logvar = torch.tensor(mu, dtype=torch.float64), torch.tensor(logvar, dtype=torch.float64)
    grad_mu, grad_logvar = score_function_gradients(objective.f, mu, logvar, 64, torch.Generator().manual_seed(5))
    # the REINFORCE surrogate: mean of f(z) * log q(z), z held fixed, differentiated by autograd
    mu_, logvar_ = mu.clone().requires_grad_(True), logvar.clone().requires_grad_(True)
    z = reparameterize(mu.expand(64, 2), logvar.expand(64, 2), torch.Generator().manual_seed(5))
    surrogate = (objective.f(z) * Normal(mu_, (0.5 * logvar_).exp()).log_prob(z).sum(-1)).mean()
    expected = torch.autograd.grad(surrogate, (mu_, logvar_))
    torch.testing.assert_close(grad_mu.mean(0), expected[0])
    torch.testing.assert_close(grad_logvar.mean(0), expected[1])


@pytest.mark.parametrize("mu, logvar", SETTINGS)
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: e.__name__)
@pytest.mark.parametrize("objective", OBJECTIVES, ids=lambda o: o.name.split()[0])
def test_estimators_are_unbiased(objective, estimator, mu, logvar):
    mu, logvar = torch.tensor(mu, dtype=torch.float64), torch.tensor(logvar, dtype=torch.float64)
    num_samples = 100_000
    estimates = estimator(objective.f, mu, logvar, num_samples, torch.Generator().manual_seed(7))
    for samples, truth in zip(estimates, objective.true_gradients(mu, logvar), strict=True):
        assert samples.shape == (num_samples, 2)
        assert_within_se(samples.mean(0), truth, samples.std(0) / math.sqrt(num_samples),
                         f"{estimator.__name__} for {objective.name}", draws=num_samples)


def test_a_pathwise_gradient_that_forgets_the_half_in_sigma_fails_the_check():
    """Negative control: d z / d logvar = σ ε / 2; an estimator without the 1/2 doubles the logvar gradient."""
    mu, logvar = torch.tensor([0.0, 0.5], dtype=torch.float64), torch.tensor([0.0, -1.0], dtype=torch.float64)
    _, grad_logvar = pathwise_gradients(QUADRATIC.f, mu, logvar, 100_000, torch.Generator().manual_seed(7))
    wrong = 2 * grad_logvar  # mean 2 σ² instead of σ² (QUADRATIC's exact gradient): hundreds of standard errors off
    with pytest.raises(AssertionError, match="forgotten half: .* standard errors off"):
        assert_within_se(wrong.mean(0), QUADRATIC.true_gradients(mu, logvar)[1],
                         wrong.std(0) / math.sqrt(len(wrong)), "forgotten half", draws=len(wrong))


@pytest.mark.parametrize("mu, logvar", NARROW_SETTINGS)
@pytest.mark.parametrize("objective", OBJECTIVES, ids=lambda o: o.name.split()[0])
def test_pathwise_has_lower_variance_than_score_function(objective, mu, logvar):
    mu, logvar = torch.tensor(mu, dtype=torch.float64), torch.tensor(logvar, dtype=torch.float64)
    score = score_function_gradients(objective.f, mu, logvar, 20_000, torch.Generator().manual_seed(8))
    path = pathwise_gradients(objective.f, mu, logvar, 20_000, torch.Generator().manual_seed(8))
    for s, p in zip(score, path, strict=True):
        # The same seed draws the same ε for both, so the per-sample difference of squared deviations,
        # (s − s̄)² − (p − p̄)², averages to Var̂(s) − Var̂(p) up to a factor n / (n − 1) and has a standard error
        # from the 20,000 pairs: the score function's variance may not fall below the pathwise one by more than noise.
        # (A one-sided check: it passes when the variances are equal and fails when pathwise is clearly noisier.)
        paired = (s - s.mean(0)) ** 2 - (p - p.mean(0)) ** 2
        assert_not_below(paired.mean(0), 0.0, paired.std(0) / math.sqrt(len(paired)),
                         f"Var(score function) − Var(pathwise) for {objective.name}", draws=len(paired))


def test_estimators_leave_inputs_alone_and_check_f():
    mu, logvar = torch.zeros(2, requires_grad=True), torch.zeros(2, requires_grad=True)
    for estimator in ESTIMATORS:
        grads = estimator(QUADRATIC.f, mu, logvar, 10)
        assert mu.grad is None and not grads[0].requires_grad
        with pytest.raises(ValueError, match="one value per sample"):
            estimator(lambda z: z, mu, logvar, 10)


@pytest.mark.parametrize("mu, logvar", SETTINGS)
def test_cosine_true_gradient_is_the_hand_derived_one(mu, logvar):
    mu, logvar = torch.tensor(mu, dtype=torch.float64), torch.tensor(logvar, dtype=torch.float64)
    damping = torch.exp(-0.5 * logvar.exp())  # E cos z = cos(mu) exp(-sigma^2 / 2)
    grad_mu, grad_logvar = COSINE.true_gradients(mu, logvar)
    torch.testing.assert_close(grad_mu, -torch.sin(mu) * damping)
    torch.testing.assert_close(grad_logvar, -0.5 * logvar.exp() * torch.cos(mu) * damping)


@pytest.mark.parametrize("objective", OBJECTIVES, ids=lambda o: o.name.split()[0])
def test_closed_form_expectations_match_monte_carlo(objective):
    mu, logvar = torch.tensor([0.3, -1.2], dtype=torch.float64), torch.tensor([-0.5, 0.4], dtype=torch.float64)
    num_samples = 200_000
    z = mu + (0.5 * logvar).exp() * torch.randn(num_samples, 2, generator=torch.Generator().manual_seed(9),
                                                  dtype=torch.float64)
    values = objective.f(z)
    assert_within_se(values.mean(), objective.expectation(mu, logvar), values.std() / math.sqrt(num_samples),
                     f"E[{objective.name}]", draws=num_samples)


def test_a_new_gaussian_objective_gets_its_gradients_from_its_closed_form():
    linear = GaussianObjective("linear 3 z", lambda z: 3 * z.sum(-1), lambda mu, logvar: 3 * mu.sum(-1))
    grad_mu, grad_logvar = linear.true_gradients(torch.tensor([0.5, 2.0]), torch.tensor([0.0, 1.0]))
    assert grad_mu.tolist() == [3.0, 3.0] and grad_logvar.tolist() == [0.0, 0.0]
