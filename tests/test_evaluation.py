"""course_utils.evaluation: the importance-weighted estimate of log p(x), checked where log p(x) is exact.

Stochastic checks go through tests/stats.py: the mean of R independent repeats is compared within
t_value(n, R − 1) standard errors estimated from the repeats (n: the values checked at once), so a correct
implementation fails one with probability below 1e-6. Two-sided checks compare quantities whose expectation
is exact (the k = 1 estimate is the ELBO in expectation; p̂ / p averages to 1 for any k); log p̂ is biased
for k > 1, but only downwards (Jensen) and less with every k (Burda et al. 2016), so checks on it are one-sided.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Independent, Normal

from course_utils import evaluation
from course_utils import linear_gaussian as latent
from course_utils.evaluation import (
    bits_per_dim,
    iw_log_likelihood,
    iw_log_likelihood_with_error,
    iw_log_marginal,
    mean_and_standard_error,
    standard_normal_log_prob,
)
from course_utils.models import VAE
from course_utils.objectives import negative_elbo
from tests.stats import assert_not_below, assert_within_se

pytestmark = pytest.mark.unit


def _toy(num_images=4, seed=0):
    """Lesson 04's linear-Gaussian model (float64) and a few of its samples."""
    g = torch.Generator().manual_seed(seed)
    model = latent.random_linear_gaussian(data_dim=6, latent_dim=3, noise_var=0.5, generator=g)
    x, _ = latent.sample(model, num_images, generator=g)
    return model, x


def _toy_log_joint(model, x):
    return lambda z: latent.log_likelihood(model, x, z) + standard_normal_log_prob(z)  # (S, B)


def _poor_proposal(model, x):
    """A diagonal q: the posterior's mean shifted by 0.4 and its diagonal variances doubled."""
    mean, cov = latent.posterior(model, x)
    return mean + 0.4, (2 * cov.diagonal()).log().expand_as(mean).clone()


def test_standard_normal_log_prob_matches_torch():
    z = torch.randn(5, 3, 4, dtype=torch.float64)
    reference = Independent(Normal(torch.zeros_like(z), torch.ones_like(z)), 1).log_prob(z)
    torch.testing.assert_close(standard_normal_log_prob(z), reference)


@pytest.mark.parametrize("num_samples, chunk_size", [(1, None), (7, 3), (1000, None), (1000, 64)])
def test_exact_posterior_gives_log_p_x_for_every_k(num_samples, chunk_size):
    model, x = _toy()
    mean, cov = latent.posterior(model, x)  # a full covariance: the exact p(z | x)
    estimate = iw_log_marginal(_toy_log_joint(model, x), mean, None, num_samples, chunk_size=chunk_size,
                               scale_tril=torch.linalg.cholesky(cov), generator=torch.Generator().manual_seed(1))
    # Every weight p(x, z) / p(z | x) equals p(x): zero variance, the exact answer up to rounding.
    torch.testing.assert_close(estimate, latent.log_marginal(model, x), rtol=0, atol=1e-9)


def _repeats(model, x, num_samples, repeats, seed=2):
    """`repeats` independent estimates for each image, (repeats, B): the batch replicated, one call."""
    mu, logvar = _poor_proposal(model, x)
    x_rep = x.repeat(repeats, 1)
    estimates = iw_log_marginal(_toy_log_joint(model, x_rep), mu.repeat(repeats, 1), logvar.repeat(repeats, 1),
                                num_samples, generator=torch.Generator().manual_seed(seed))
    return estimates.reshape(repeats, len(x))


def test_k_equals_one_is_the_elbo_in_expectation():
    model, x = _toy()
    mu, logvar = _poor_proposal(model, x)
    runs = _repeats(model, x, 1, 4000)
    exact_elbo = latent.elbo(model, x, mu, logvar)
    assert_within_se(runs.mean(0), exact_elbo, runs.std(0) / math.sqrt(len(runs)), "the k = 1 estimate",
                     draws=len(runs))


def test_a_poor_proposal_rises_with_k_and_reaches_log_p_x_without_exceeding_it():
    model, x = _toy()
    mu, logvar = _poor_proposal(model, x)
    gap_at_k1 = latent.kl_to_posterior(model, x, mu, logvar)  # E[log p(x) - estimate] at k = 1, exactly
    assert (gap_at_k1 > 0.5).all(), "the test needs a proposal that is clearly poor"
    log_px = latent.log_marginal(model, x)
    means, repeats = {}, {1: 400, 10: 400, 100: 400, 3000: 40}
    for k in (1, 10, 100, 3000):
        runs = _repeats(model, x, k, repeats[k])
        mean, se = runs.mean(0), runs.std(0) / math.sqrt(len(runs))
        # E[log p̂] <= log p(x) (Jensen): the estimate's mean may not exceed log p(x) by more than noise
        assert_not_below(log_px, mean, se, f"log p(x) against the k = {k} estimate", draws=len(runs))
        means[k] = (mean, se)
    for small, large in ((1, 10), (10, 100), (100, 3000)):
        (m1, s1), (m2, s2) = means[small], means[large]
        # E[log p̂_k] rises with k; the difference of two means, Welch's dof >= the smaller count - 1
        assert_not_below(m2, m1, torch.sqrt(s1**2 + s2**2), f"the estimate from k={small} to {large}",
                         draws=min(repeats[small], repeats[large]))
    # At k = 3000 it reaches log p(x): p̂ / p = exp(log p̂ − log p) averages to exactly 1 for any k (p̂ is
    # unbiased), and at this k its spread is small, so the check is sharp; no allowance for log p̂'s bias.
    ratio = (runs - log_px).exp()  # the k = 3000 runs
    assert_within_se(ratio.mean(0), 1.0, ratio.std(0) / math.sqrt(len(ratio)), "p̂ / p at k = 3000",
                     draws=len(ratio))
    assert ((log_px - means[1][0]) > 0.5 * gap_at_k1).all()



def test_a_proposal_density_misstated_by_a_tenth_of_a_nat_fails_the_check(monkeypatch):
    """Negative control: the p̂ / p check above must catch an estimator whose log q is off by 0.1 nats."""
    honest = evaluation._proposal

    def misstated(*args):
        draw = honest(*args)

        def draw_wrong(n):
            z, log_q = draw(n)
            return z, log_q + 0.1  # every weight, and so p̂ / p, becomes e^-0.1 = 0.905 of the truth
        return draw_wrong

    monkeypatch.setattr(evaluation, "_proposal", misstated)
    model, x = _toy()
    ratio = (_repeats(model, x, 3000, 40) - latent.log_marginal(model, x)).exp()
    # about 0.008 standard errors at this k: 0.095 is over 10 of them, beyond t_value(4, 39) = 6.3
    with pytest.raises(AssertionError, match="p̂ / p at k = 3000: .* standard errors off"):
        assert_within_se(ratio.mean(0), 1.0, ratio.std(0) / math.sqrt(len(ratio)), "p̂ / p at k = 3000", draws=40)

def _small_vae_and_digits(num_images=6):
    torch.manual_seed(0)
    model = VAE(input_dim=784, hidden_dim=32, latent_dim=3).double()
    x = torch.bernoulli(torch.full((num_images, 784), 0.2, dtype=torch.float64),
                        generator=torch.Generator().manual_seed(0))
    return model, x


def test_vae_k_equals_one_matches_the_negative_elbo_on_the_same_samples():
    model, x = _small_vae_and_digits()
    estimate = iw_log_likelihood(model, x, 1, generator=torch.Generator().manual_seed(5))  # (B,)
    # The same noise by hand: the estimator draws eps (1, B, latent_dim) from the generator.
    eps = torch.randn(1, *x.shape[:1], 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)[0]
    with torch.no_grad():
        mu, logvar = model.encode(x)
        z = mu + (0.5 * logvar).exp() * eps
        logits = model.decode(z)
        _, recon, _ = negative_elbo(logits, x, mu, logvar)
        recon_per_image = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        q = Independent(Normal(mu, (0.5 * logvar).exp()), 1)
        p = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
        mc_kl = q.log_prob(z) - p.log_prob(z)  # the one-sample KL estimate inside the k = 1 bound
    torch.testing.assert_close(recon_per_image.mean(), recon)  # negative_elbo's reconstruction, same z
    torch.testing.assert_close(estimate, -recon_per_image - mc_kl)
    # negative_elbo's KL is the closed form, the expectation of mc_kl; that k = 1 is the ELBO in
    # expectation is checked exactly on the toy model above.


def test_vae_estimate_rises_with_k_and_reports_a_standard_error():
    model, x = _small_vae_and_digits()
    g = torch.Generator().manual_seed(3)
    low, low_se = iw_log_likelihood_with_error(model, x, 1, repeats=100, generator=g)
    high, high_se = iw_log_likelihood_with_error(model, x, 200, repeats=10, generator=g, chunk_size=37)
    assert low.shape == high.shape == low_se.shape == (6,) and (high_se > 0).all()
    # E[log p̂_k] rises with k; Welch's dof >= the smaller count (10 repeats) - 1
    assert_not_below(high, low, torch.sqrt(low_se**2 + high_se**2), "the k = 200 estimate", draws=10)
    assert (high - low).mean() > 0  # an untrained encoder is a poor proposal: k = 200 is clearly tighter


def test_evaluation_runs_in_chunks_and_batches_without_changing_the_answer():
    model, x = _toy(num_images=5)
    mean, cov = latent.posterior(model, x)
    calls = []

    def log_joint(z):
        calls.append(z.shape[0])
        return _toy_log_joint(model, x)(z)

    iw_log_marginal(log_joint, mean, None, 100, chunk_size=30, scale_tril=torch.linalg.cholesky(cov))
    assert calls == [30, 30, 30, 10]


@pytest.mark.unit
def test_several_log_joints_share_the_samples_and_report_their_ess():
    model, x = _toy()
    mu, logvar = _poor_proposal(model, x)
    log_joint = _toy_log_joint(model, x)
    g = torch.Generator().manual_seed(7)
    one = iw_log_marginal(log_joint, mu, logvar, 50, chunk_size=20, generator=g)
    g = torch.Generator().manual_seed(7)
    (same, shifted), (ess, ess_shifted) = iw_log_marginal(lambda z: (log_joint(z), log_joint(z) - 2.0), mu, logvar,
                                                          50, chunk_size=20, generator=g, with_ess=True)
    torch.testing.assert_close(same, one, rtol=0, atol=0)  # the same draws: the same numbers
    torch.testing.assert_close(shifted, one - 2.0)  # a constant factor e^-2 in every weight comes out exactly
    torch.testing.assert_close(ess, ess_shifted)  # and leaves the effective sample size alone
    assert ((ess >= 1 - 1e-9) & (ess <= 50 + 1e-9)).all()  # 1 <= ESS <= k always; 1e-9: round-off
    # With the exact posterior every weight is p(x): all 50 samples count.
    mean, cov = latent.posterior(model, x)
    _, exact_ess = iw_log_marginal(log_joint, mean, None, 50, scale_tril=torch.linalg.cholesky(cov), with_ess=True)
    torch.testing.assert_close(exact_ess, torch.full_like(exact_ess, 50.0))


@pytest.mark.unit
def test_a_mixture_proposal_whose_components_are_the_posterior_gives_log_p_x_exactly():
    diagonal = latent.random_linear_gaussian(data_dim=6, latent_dim=1, noise_var=0.5,
                                             generator=torch.Generator().manual_seed(3))
    x1, _ = latent.sample(diagonal, 4, generator=torch.Generator().manual_seed(4))
    mean, cov = latent.posterior(diagonal, x1)  # a 1-D latent: the posterior is a diagonal Gaussian
    logvar = cov.diagonal(dim1=-2, dim2=-1).log().expand_as(mean)
    mixture = torch.stack([mean, mean], 1), torch.stack([logvar, logvar], 1)  # (B, 2, 1): two equal components
    estimate = iw_log_marginal(_toy_log_joint(diagonal, x1), *mixture, 9, generator=torch.Generator().manual_seed(5))
    # q(z) = ½ p(z|x) + ½ p(z|x) = p(z|x), so every weight is p(x), whichever component drew z.
    torch.testing.assert_close(estimate, latent.log_marginal(diagonal, x1), rtol=0, atol=1e-9)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_samples": 0}, "positive int"),
    ({"logvar": None}, "exactly one of logvar"),
    ({"mu": torch.zeros(3)}, r"mu must be \(B, latent_dim\)"),
    ({"mu": torch.zeros(2, 2, 3), "logvar": None, "scale_tril": torch.eye(3)}, "mixture"),
    ({"logvar": torch.zeros(2, 4)}, "same shape"),
])
def test_bad_arguments_say_what_to_do(kwargs, message):
    args = {"log_joint": lambda z: z.sum(-1), "mu": torch.zeros(2, 3), "num_samples": 4,
            "logvar": torch.zeros(2, 3)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        iw_log_marginal(**args)


def test_grey_levels_outside_the_unit_interval_are_refused():
    model, _ = _small_vae_and_digits()
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        iw_log_likelihood(model, torch.full((2, 784), 255.0, dtype=torch.float64), 2)


def test_bits_per_dim_of_the_uniform_model_is_one():
    assert bits_per_dim(784 * math.log(2)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least two"):
        mean_and_standard_error(torch.tensor([1.0]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_the_estimate_on_a_gpu_agrees_with_the_cpu_within_its_standard_error():
    model, x = _small_vae_and_digits()
    g_cpu, g_gpu = torch.Generator().manual_seed(6), torch.Generator(device="cuda").manual_seed(6)
    cpu, cpu_se = iw_log_likelihood_with_error(model, x, 100, repeats=10, generator=g_cpu)
    gpu, gpu_se = iw_log_likelihood_with_error(model.cuda(), x.cuda(), 100, repeats=10, generator=g_gpu)
    assert gpu.device.type == "cuda"
    # the same estimator, so the same expectation; 10 repeats each: Welch's dof >= 9
    assert_within_se(gpu.cpu(), cpu, torch.sqrt(cpu_se**2 + gpu_se.cpu() ** 2), "GPU against CPU", draws=10)
