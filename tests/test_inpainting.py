"""course_utils.inpainting: Pyro's baseline network, the CVAE with a learned prior, and the one inpainting score.

References: torch.distributions (the Gaussian KL and log-densities), F.binary_cross_entropy (the baseline's
exact log-likelihood), conditional.iw_conditional (the VAE's score) and, for the CVAE's estimator, a tiny
CVAE with a 1-D latent where log p(x_m | x_g) = log ∫ p(x_m | z) p(z | x_g) dz is computed by quadrature.

Two checks are stochastic; both go through tests/stats.py and fail a correct implementation with probability
at most 1e-6.
- The quadrature test. Importance sampling is unbiased for p(x_m | x_g), not for its log, so the check looks at
  the ratio p̂ / p = exp(log p̂ − log p), whose expectation is exactly 1. Each of R = 200 independent repeats
  is an average of k = 500 i.i.d. weights w = p(x_m | z) p(z | x_g) / q(z | x) with finite variance
  (p(x_m | z) <= 1, so Var_q[w] is finite when ∫ p(z | x_g)² / q(z | x) dz is, that is when σ_q² > σ_p² / 2;
  the test asserts this of its toy models). By the central limit theorem each ratio is close to normal, and
  (mean of R ratios − 1) / (std / √R) close to Student's t with R − 1 = 199 degrees of freedom. Four images
  are checked at once: t_value(4, 199) standard errors, the union bound giving each image 1e-6 / 4.
- The k = 1 test: R = 200 i.i.d. gaps (−log w − (−ELBO) of the same draw, each a mean over 6 images of
  log q(z) − log p(z | x_g) − KL, expectation exactly 0), one value checked: t_value(1, 199) standard errors.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from course_utils.conditional import iw_conditional
from course_utils.evaluation import mean_and_standard_error
from course_utils.inpainting import BaselineNet, InpaintingCVAE, inpainting_nll
from course_utils.models import VAE, Autoencoder
from course_utils.train import evaluate, fit
from tests.stats import assert_within_se, t_value

pytestmark = pytest.mark.unit

D = 6  # pixels of the toy images
GIVEN = torch.tensor([True, True, True, False, False, False])  # the first half given
GRID = torch.linspace(-12.0, 12.0, 48001, dtype=torch.float64)  # z grid for quadrature (1-D latent)
REPEATS, K = 200, 500


def _images(num_images=4, dim=D, p=0.5, seed=1):
    return torch.bernoulli(torch.full((num_images, dim), p, dtype=torch.float64),
                           generator=torch.Generator().manual_seed(seed))


def _toy_cvae(with_baseline=False, seed=0):
    torch.manual_seed(seed)
    baseline = BaselineNet(GIVEN, hidden_dims=(8,)).double() if with_baseline else None
    model = InpaintingCVAE(GIVEN, latent_dim=1, hidden_dims=(16,), baseline=baseline).double()
    with torch.no_grad():
        model.generation_net[0].weight.mul_(3.0)  # a generation net that depends clearly on z
        model.prior_net.mu.bias.fill_(0.7)  # a prior away from N(0, 1), so that using N(0, 1) would show
    return model


def _quadrature_log_p_missing(model, x, prior=None):
    """log ∫ p(x_m | z) N(z; mu_p, σ_p²) dz per image (B,) on GRID; prior (mu, logvar) (B, 1), default the model's."""
    with torch.no_grad():
        mu, logvar = model.prior(x) if prior is None else prior
        log_px_z = model.log_prob_missing_given_z(GRID[:, None, None].expand(-1, len(x), 1), x)  # (G, B)
    log_f = log_px_z + Normal(mu[:, 0], (0.5 * logvar[:, 0]).exp()).log_prob(GRID[:, None])  # (G, B)
    top = log_f.max(0).values
    return torch.trapezoid((log_f - top).exp(), GRID, dim=0).log() + top


@pytest.mark.parametrize("with_baseline", [False, True])
def test_the_learned_prior_kl_is_torch_distributions_kl(with_baseline):
    torch.manual_seed(3)
    model = InpaintingCVAE(GIVEN, latent_dim=3, hidden_dims=(16, 16),
                           baseline=BaselineNet(GIVEN, (8,)) if with_baseline else None).double()
    x = _images(5)
    with torch.no_grad():
        mu_q, logvar_q = model.recognize(x)
        mu_p, logvar_p = model.prior(x)
        terms = model.loss_terms(x, generator=torch.Generator().manual_seed(0))
    reference = kl_divergence(Normal(mu_q, (0.5 * logvar_q).exp()), Normal(mu_p, (0.5 * logvar_p).exp())).sum(-1)
    torch.testing.assert_close(terms.kl, reference.mean())
    assert (mu_q != mu_p).any()  # the two Gaussians differ: the KL is not trivially 0


@pytest.mark.parametrize("with_baseline", [False, True])
def test_the_prior_and_the_baseline_read_only_the_given_pixels(with_baseline):
    model, x = _toy_cvae(with_baseline), _images(8)
    flipped = torch.where(GIVEN, x, 1 - x)  # the same given pixels, every missing pixel changed
    with torch.no_grad():
        torch.testing.assert_close(model.prior(x), model.prior(flipped), rtol=0, atol=0)
        assert (model.recognize(x)[0] != model.recognize(flipped)[0]).all()  # q(z | x) reads the whole image
        if with_baseline:
            torch.testing.assert_close(model.baseline(x), model.baseline(flipped), rtol=0, atol=0)


def test_the_baseline_log_likelihood_is_the_bce_of_its_missing_pixels():
    torch.manual_seed(4)
    model, x = BaselineNet(GIVEN, (8, 8)).double(), _images(7)
    with torch.no_grad():
        probs = torch.sigmoid(model(x))
    reference = -(F.binary_cross_entropy(probs, x, reduction="none") * ~GIVEN).sum(-1)  # (B,)
    score = inpainting_nll(model, x, GIVEN, 1)
    torch.testing.assert_close(-score.nll, reference)
    assert score.kind == "exact"
    terms = model.loss_terms(x)
    torch.testing.assert_close(terms.recon, -reference.mean())
    assert terms.kl == 0


def test_the_cvae_estimate_at_k_1_is_the_one_sample_elbo_of_the_same_draw():
    model, x = _toy_cvae(with_baseline=True), _images(6)
    score = inpainting_nll(model, x, GIVEN, 1, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        mu_q, logvar_q = model.recognize(x)
        mu_p, logvar_p = model.prior(x)
        eps = torch.randn(1, *mu_q.shape, generator=torch.Generator().manual_seed(5), dtype=x.dtype)[0]
        q = Normal(mu_q, (0.5 * logvar_q).exp())
        z = mu_q + q.scale * eps
        log_px_z = -(F.binary_cross_entropy_with_logits(model.decode(z), x, reduction="none") * ~GIVEN).sum(-1)
        elbo = log_px_z + Normal(mu_p, (0.5 * logvar_p).exp()).log_prob(z).sum(-1) - q.log_prob(z).sum(-1)
        recon = model.loss_terms(x, generator=torch.Generator().manual_seed(5)).recon  # the same eps, in order
    torch.testing.assert_close(-score.nll, elbo)
    torch.testing.assert_close(recon, -log_px_z.mean())


def test_the_cvae_estimate_at_k_1_averages_to_minus_the_models_elbo():
    """E_eps[log w] = −(recon + KL): with the same eps the recon parts cancel, what is left averages to the KL."""
    model, x = _toy_cvae(), _images(6)
    gaps = []
    for seed in range(REPEATS):
        nll = inpainting_nll(model, x, GIVEN, 1, generator=torch.Generator().manual_seed(seed)).nll.mean()
        with torch.no_grad():
            terms = model.loss_terms(x, generator=torch.Generator().manual_seed(seed))
        gaps.append(nll - (terms.recon + terms.kl))  # −log w − (−ELBO): the sampled KL minus the closed form
    gaps = torch.stack(gaps)
    # One value checked, R = 200 i.i.d. gaps (a mean of 6 log-density ratios each): t with 199 dof, see above.
    assert_within_se(gaps.mean(), 0.0, gaps.std() / math.sqrt(REPEATS), "−log w − (−ELBO)", draws=REPEATS)


@pytest.mark.parametrize("with_baseline", [False, True])
def test_the_cvae_estimator_matches_quadrature(with_baseline):
    model, x = _toy_cvae(with_baseline), _images(4)
    with torch.no_grad():  # the derivation's premise: finite Var_q[w] needs σ_q² > σ_p² / 2 for every image
        assert (model.recognize(x)[1] > model.prior(x)[1] - math.log(2.0)).all()
    runs = inpainting_nll(model, x.repeat(REPEATS, 1), GIVEN, K, batch_size=REPEATS * len(x),
                          generator=torch.Generator().manual_seed(6)).nll.reshape(REPEATS, -1)  # (R, B)
    exact = _quadrature_log_p_missing(model, x)
    ratios = (-runs - exact).exp()  # p̂ / p, mean exactly 1 (see the module docstring)
    assert_within_se(ratios.mean(0), 1.0, ratios.std(0) / math.sqrt(REPEATS), "p̂(x_m | x_g) / p", draws=REPEATS)
    # Negative control: the same check against the conditional under N(0, 1) instead of the learned prior fails.
    with torch.no_grad():
        standard = (torch.zeros(len(x), 1, dtype=x.dtype), torch.zeros(len(x), 1, dtype=x.dtype))
        wrong = _quadrature_log_p_missing(model, x, prior=standard)
    wrong_ratios = (-runs - wrong).exp()
    off = (wrong_ratios.mean(0) - 1.0).abs() / (wrong_ratios.std(0) / math.sqrt(REPEATS))
    assert (off > t_value(len(x), REPEATS - 1)).any(), off


def test_a_vae_is_scored_by_iw_conditional_on_the_same_draws():
    torch.manual_seed(7)
    model, x = VAE(input_dim=D, hidden_dim=16, latent_dim=2).double(), _images(10)
    score = inpainting_nll(model, x, GIVEN, 50, generator=torch.Generator().manual_seed(8))
    reference = iw_conditional(model, x, GIVEN, 50, generator=torch.Generator().manual_seed(8))
    torch.testing.assert_close(score.nll, -reference.log_p_hidden, rtol=0, atol=0)
    assert "not a bound" in score.kind
    mean, se = mean_and_standard_error(score.nll)
    assert math.isclose(score.mean, mean, rel_tol=1e-12) and math.isclose(score.standard_error, se, rel_tol=1e-12)


@pytest.mark.parametrize("kind", ["baseline", "cvae"])
def test_fit_trains_each_model_and_the_loss_goes_down(kind):
    """Pixels on with probability 0.2: from −log p ≈ 8 log 2 = 5.5 nats (logits near 0) towards 8 H(0.2) = 4.0."""
    given = torch.arange(16) < 8
    x = _images(512, dim=16, p=0.2, seed=9).float()
    torch.manual_seed(10)
    baseline = BaselineNet(given, (32,))
    model = baseline if kind == "baseline" else InpaintingCVAE(given, latent_dim=2, hidden_dims=(32,),
                                                                baseline=baseline)
    frozen = [p.clone() for p in baseline.parameters()]
    before = evaluate(model, x, generator=torch.Generator().manual_seed(0)).loss
    history = fit(model, x, epochs=5, batch_size=32, lr=1e-2, device="cpu", progress=False)
    after = evaluate(model, x, generator=torch.Generator().manual_seed(0)).loss
    assert after < before - 0.5 and history.train_loss[-1] < history.train_loss[0], (before, after, history.train_loss)
    if kind == "cvae":  # the CVAE's baseline is trained beforehand; fit leaves it alone, as Pyro's no_grad does
        assert all(torch.equal(p, q) for p, q in zip(frozen, baseline.parameters(), strict=True))


def test_bad_input_says_what_to_do():
    model, x = _toy_cvae(), _images(4)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        inpainting_nll(model, x * 2, GIVEN, 10)
    with pytest.raises(ValueError, match="mask has shape"):
        inpainting_nll(model, x, torch.ones(5, dtype=torch.bool), 10)
    with pytest.raises(ValueError, match="positive int"):
        inpainting_nll(model, x, GIVEN, 0)
    with pytest.raises(ValueError, match="trained for another mask"):
        inpainting_nll(model, x, ~GIVEN, 10)
    with pytest.raises(ValueError, match="same mask"):
        InpaintingCVAE(GIVEN, baseline=BaselineNet(~GIVEN))
    with pytest.raises(ValueError, match="some pixels given and some missing"):
        BaselineNet(torch.ones(D, dtype=torch.bool))
    with pytest.raises(ValueError, match="needs labels"):
        inpainting_nll(VAE(input_dim=D, num_classes=3), x, GIVEN, 10)
    with pytest.raises(ValueError, match="not a model of p\\(x\\)"):
        inpainting_nll(Autoencoder(input_dim=D, latent_dim=2), x.float(), GIVEN, 10)
