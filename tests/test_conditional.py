"""course_utils.conditional: hidden pixels given observed ones, the CVAE's log p(x | y) and its Bayes classifier.

References: a tiny VAE (and CVAE) with a 1-D latent, where every integral over z is computed by quadrature
(torch.trapezoid on a fine grid), and decoders that ignore z, where p(x_h | x_o) = p(x_h) exactly.

Stochastic checks compare the mean of R = 200 independent repeats with the exact value through
tests/stats.py: within t_value(n, R − 1) estimated standard errors, std / √R, and nothing else (n: the values
checked at once). They compare quantities whose expectation is the exact value: importance sampling is
unbiased for p(x), not for log p(x), so the checks look at p̂ / p = exp(log p̂ − log p), whose mean is
exactly 1. Each repeat's p̂ is an average of k = 500 weights, close to normal, so (mean − 1) / (std / √R) is
close to Student's t with 199 degrees of freedom. A proposal whose density is misstated by a factor e^0.25
(the negative control below) moves p̂ / p to 0.78, many standard errors away.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from course_utils import evaluation
from course_utils.conditional import (
    bayes_classify,
    class_log_likelihoods,
    complete,
    completion_proposal,
    cvae_log_likelihood,
    iw_conditional,
    iw_conditional_defensive,
    quadrant_masks,
)
from course_utils.evaluation import iw_log_likelihood
from course_utils.models import CVAE, VAE
from tests.stats import assert_within_se

pytestmark = pytest.mark.unit

REPEATS = 200
D = 6  # pixels of the toy images
OBSERVED = torch.tensor([True, True, True, False, False, False])  # the first half observed
GRID = torch.linspace(-12.0, 12.0, 48001, dtype=torch.float64)  # z grid for quadrature (1-D latent)


def _toy_vae(seed=0):
    torch.manual_seed(seed)
    model = VAE(input_dim=D, hidden_dim=16, latent_dim=1).double()
    with torch.no_grad():
        model.decoder[0].weight.mul_(3.0)  # a decoder that depends clearly on z
    return model


def _toy_images(num_images=4, seed=1):
    return torch.bernoulli(torch.full((num_images, D), 0.5, dtype=torch.float64),
                           generator=torch.Generator().manual_seed(seed))


def _quadrature_log_p(model, x, mask, y=None):
    """log ∫ p(x_mask | z) N(z; 0, 1) dz per image (B,), on GRID (the decoder sees z on the grid)."""
    with torch.no_grad():
        if y is None:
            logits = model.decode(GRID[:, None])  # (G, D)
            log_px_z = -F.binary_cross_entropy_with_logits(
                logits[:, None].expand(-1, len(x), -1), x.expand(len(GRID), -1, -1), reduction="none")
        else:
            logits = torch.stack([model.decode(GRID[:, None], torch.full((len(GRID),), int(c))) for c in y], 1)
            log_px_z = -F.binary_cross_entropy_with_logits(logits, x.expand(len(GRID), -1, -1), reduction="none")
    log_f = (log_px_z * mask).sum(-1) - 0.5 * GRID[:, None] ** 2 - 0.5 * math.log(2 * math.pi)  # (G, B)
    top = log_f.max(0).values
    return torch.trapezoid((log_f - top).exp(), GRID, dim=0).log() + top


def _quadrature_expected(model, x, mask):
    """E[x_d | x_mask] = ∫ p(z | x_mask) σ(logit_d(z)) dz for every pixel, (B, D)."""
    with torch.no_grad():
        logits = model.decode(GRID[:, None])  # (G, D)
    log_px_z = -F.binary_cross_entropy_with_logits(
        logits[:, None].expand(-1, len(x), -1), x.expand(len(GRID), -1, -1), reduction="none")
    log_f = (log_px_z * mask).sum(-1) - 0.5 * GRID[:, None] ** 2  # (G, B), unnormalized log posterior
    weights = (log_f - log_f.max(0).values).exp()
    normalizer = torch.trapezoid(weights, GRID, dim=0)  # (B,)
    return torch.trapezoid(weights[..., None] * torch.sigmoid(logits)[:, None], GRID, dim=0) / normalizer[:, None]


def _mean_is(values, expected, what):
    """The mean of R independent repeats (R, B) is within t standard errors (R − 1 dof) of expected, every column."""
    assert_within_se(values.mean(0), expected, values.std(0) / math.sqrt(len(values)), what, draws=len(values))


def _close(runs, exact, what):
    """Repeated log-estimates (R, B) of exact log-probabilities (B,): their p̂ / p must average to 1."""
    _mean_is((runs - exact).exp(), 1.0, what)


def _close_difference(log_px, log_obs, exact_hidden, exact_px, what):
    """log p̂(x) − log p̂(x_o) against log p(x_h | x_o): p̂(x) − p(x_h | x_o) p̂(x_o) averages to 0 (scaled by p(x))."""
    _mean_is((log_px - exact_px).exp() - (log_obs + exact_hidden - exact_px).exp(), 0.0, what)


def _mixture(model, x):
    """A 3-component proposal per image: the encoder's q, and two poor shifted, widened copies of it."""
    with torch.no_grad():
        mu, logvar = model.encode(x)
    return torch.stack([mu, mu + 1.0, mu - 1.0], 1), torch.stack([logvar, logvar + 1.0, logvar + 1.0], 1)


@pytest.mark.parametrize("kind", ["encoder", "mixture"])
def test_conditional_estimates_match_quadrature(kind):
    model, x, repeats = _toy_vae(), _toy_images(), REPEATS
    x_rep = x.repeat(repeats, 1)  # R independent estimates of every image, in one call
    proposal = None if kind == "encoder" else tuple(p.repeat(repeats, 1, 1) for p in _mixture(model, x))
    est = iw_conditional(model, x_rep, OBSERVED, 500, proposal=proposal, generator=torch.Generator().manual_seed(2))
    log_px, log_obs = _quadrature_log_p(model, x, torch.ones(D)), _quadrature_log_p(model, x, OBSERVED.double())
    _close(est.log_px.reshape(repeats, -1), log_px, "log p(x)")
    _close(est.log_p_observed.reshape(repeats, -1), log_obs, "log p(x_o)")
    _close_difference(est.log_px.reshape(repeats, -1), est.log_p_observed.reshape(repeats, -1), log_px - log_obs,
                      log_px, "log p(x_h | x_o)")
    assert ((est.ess >= 1 - 1e-9) & (est.ess <= 500 + 1e-9)).all()  # 1 <= ESS <= k always; 1e-9: round-off


@pytest.mark.unit
def test_a_proposal_whose_density_is_misstated_fails_the_check(monkeypatch):
    """Negative control: the check above must catch a proposal whose log q is off by 0.25 nats."""
    honest = evaluation._proposal

    def misstated(*args):
        draw = honest(*args)

        def draw_wrong(n):
            z, log_q = draw(n)
            return z, log_q + 0.25  # claims q(z) e^0.25: every weight, and so p̂, is e^-0.25 = 0.78 of the truth
        return draw_wrong

    monkeypatch.setattr(evaluation, "_proposal", misstated)
    model, x, repeats = _toy_vae(), _toy_images(), REPEATS
    est = iw_conditional(model, x.repeat(repeats, 1), OBSERVED, 500, generator=torch.Generator().manual_seed(2))
    with pytest.raises(AssertionError, match="log p\\(x_o\\): .* standard errors off"):
        _close(est.log_p_observed.reshape(repeats, -1), _quadrature_log_p(model, x, OBSERVED.double()), "log p(x_o)")


def test_log_px_is_iw_log_likelihood_on_the_same_samples():
    model, x = _toy_vae(), _toy_images()
    ours = iw_conditional(model, x, OBSERVED, 64, chunk_size=16, generator=torch.Generator().manual_seed(3)).log_px
    package = iw_log_likelihood(model, x, 64, chunk_size=16, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(ours, package, rtol=0, atol=1e-12)


def test_a_decoder_that_ignores_z_gives_p_hidden_exactly():
    model, x = _toy_vae(), _toy_images()
    with torch.no_grad():
        model.decoder[0].weight.zero_()  # logits no longer depend on z: p(x_h | x_o) = p(x_h)
        logits = model.decode(torch.zeros(1, 1, dtype=torch.float64))[0]  # (D,)
    exact = -(F.binary_cross_entropy_with_logits(logits.expand_as(x), x, reduction="none") * ~OBSERVED).sum(-1)
    est = iw_conditional(model, x, OBSERVED, 7, generator=torch.Generator().manual_seed(4))
    # log Σ w p(x_h) − log Σ w = log p(x_h) on the same z: exact up to rounding, for any k and weights
    torch.testing.assert_close(est.log_p_hidden, exact, rtol=0, atol=1e-9)
    filled = complete(model, x, OBSERVED, 9, num_draws=3, generator=torch.Generator().manual_seed(4))
    expected = torch.where(OBSERVED, x, torch.sigmoid(logits))
    torch.testing.assert_close(filled.expected, expected)
    torch.testing.assert_close(filled.draws, expected[:, None].expand(-1, 3, -1))


def _quadrature_rho(model, x, mask):
    """ρ = E_q[w²] / p(x_o)² of the weights p(x_o, z) / q(z), q = the encoder's q(z | x with hidden pixels 0), (B,)."""
    with torch.no_grad():
        logits = model.decode(GRID[:, None])  # (G, D)
        mu, logvar = model.encode(torch.where(mask.bool(), x, torch.zeros_like(x)))  # (B, 1) each
    log_px_z = -F.binary_cross_entropy_with_logits(
        logits[:, None].expand(-1, len(x), -1), x.expand(len(GRID), -1, -1), reduction="none")
    log_joint = (log_px_z * mask).sum(-1) - 0.5 * GRID[:, None] ** 2 - 0.5 * math.log(2 * math.pi)  # (G, B)
    log_q = -0.5 * ((GRID[:, None] - mu[:, 0]) ** 2 / logvar[:, 0].exp() + logvar[:, 0] + math.log(2 * math.pi))
    log_second = 2 * log_joint - log_q  # p(x_o, z)² / q(z)
    top = log_second.max(0).values
    second = torch.trapezoid((log_second - top).exp(), GRID, dim=0).log() + top
    return (second - 2 * _quadrature_log_p(model, x, mask)).exp()


def test_completion_matches_quadrature_and_its_draws_resample_it():
    model, x, repeats, k = _toy_vae(), _toy_images(), REPEATS, 4000
    filled = complete(model, x.repeat(repeats, 1), OBSERVED, k, num_draws=200, rounds=1,
                      generator=torch.Generator().manual_seed(5))
    runs = filled.expected.reshape(repeats, len(x), D)
    assert torch.equal(runs[:, :, OBSERVED], x[:, OBSERVED].expand(repeats, -1, -1))  # observed pixels kept
    # Self-normalized IS is biased; for a test function φ with values in [0, 1], |E[μ̂_k(φ)] − μ(φ)| <= (2ρ − 1) / k,
    # ρ = E_q[w²] / E_q[w]². Derivation: with Z̄ = mean(w) / E w and A = mean(w φ) / E w, μ̂ = A / Z̄ and
    # μ̂ − μ = (A − μ Z̄) + (μ̂ − μ)(1 − Z̄) = (A − μ Z̄) + (A − μ Z̄)(1 − Z̄) + (μ̂ − μ)(1 − Z̄)². The first term has
    # mean 0; the second has mean −E_q[w² (φ − μ)] / (k E_q[w]²), at most ρ / k in size since |φ − μ| <= 1; the
    # third at most E[(1 − Z̄)²] = (ρ − 1) / k since μ̂ and μ both lie in [0, 1]. (The same order as Agapiou,
    # Papaspiliopoulos, Sanz-Alonso and Stuart 2017, "Importance sampling: intrinsic dimension and computational
    # cost", Theorem 2.1: 12 ρ / k for |φ| <= 1.) With one round the proposal is fixed, so ρ is computed by
    # quadrature, not from the run: a proposal that covers the posterior badly does not widen its own tolerance.
    bias = (2 * _quadrature_rho(model, x, OBSERVED.double()) - 1) / k  # (B,)
    assert (bias < 0.01).all(), f"the test needs k large enough for a small bias bound, got {bias}"
    exact = _quadrature_expected(model, x, OBSERVED.double())
    assert_within_se(runs.mean(0)[:, ~OBSERVED], exact[:, ~OBSERVED], runs.std(0)[:, ~OBSERVED] / math.sqrt(repeats),
                     "E[x_h | x_o]", draws=repeats, bias_bound=bias[:, None])
    # The draws resample the last round's z by weight: given the weights, their mean is that round's completion,
    # so each repeat's difference (draw mean − completion) has mean 0, and the R repeats are independent. (A
    # check per repeat would lean on the t law for 200 draws from a few heavy particles; across repeats the
    # differences are bounded, independent and averaged, so the t law holds there.)
    draws = filled.draws  # (R * B, 200, D)
    assert torch.equal(draws[:, :, OBSERVED], x.repeat(repeats, 1)[:, None, OBSERVED].expand(-1, 200, -1))
    differences = (draws.mean(1) - filled.expected).reshape(repeats, len(x), D)[:, :, ~OBSERVED]
    assert_within_se(differences.mean(0), 0.0, differences.std(0) / math.sqrt(repeats), "the draws' mean",
                     draws=repeats)


def test_completion_proposal_starts_from_the_encoder_and_covers_the_posterior():
    model, x = _toy_vae(), _toy_images()
    mu, logvar = completion_proposal(model, x, OBSERVED, 3, generator=torch.Generator().manual_seed(6))
    assert mu.shape == logvar.shape == (len(x), 6, 1)
    with torch.no_grad():
        for j in range(3, 6):  # half of the mixture is the encoder's q(z | x)
            torch.testing.assert_close((mu[:, j], logvar[:, j]), model.encode(x))
    repeats = REPEATS
    est = iw_conditional(model, x.repeat(repeats, 1), OBSERVED, 500, proposal=(mu.repeat(repeats, 1, 1),
                         logvar.repeat(repeats, 1, 1)), generator=torch.Generator().manual_seed(7))
    _close(est.log_p_observed.reshape(repeats, -1), _quadrature_log_p(model, x, OBSERVED.double()), "log p(x_o)")


def test_the_defensive_estimate_is_the_lessons_loop_a_block_at_a_time():
    model, x = _toy_vae(), _toy_images().repeat(3, 1)[:11]  # blocks of 2 images, the last of one
    ours = iw_conditional_defensive(model, x, OBSERVED, 50, num_completions=2, block=2,
                                    generator=torch.Generator().manual_seed(8))
    generator, parts = torch.Generator().manual_seed(8), []
    for i in range(0, len(x), 2):  # lesson 10's loop: the block's completions, then its estimate, one generator
        proposal = completion_proposal(model, x[i:i + 2], OBSERVED, 2, generator=generator)
        parts.append(iw_conditional(model, x[i:i + 2], OBSERVED, 50, proposal=proposal, generator=generator))
    for got, expected in zip(ours, zip(*parts, strict=True), strict=True):
        assert torch.equal(got, torch.cat(expected))
    with pytest.raises(ValueError, match="block"):
        iw_conditional_defensive(model, x, OBSERVED, 50, block=0)


def _toy_cvae(seed=0):
    torch.manual_seed(seed)
    model = CVAE(input_dim=D, hidden_dim=16, latent_dim=1, num_classes=3).double()
    with torch.no_grad():
        model.decoder[0].weight.mul_(3.0)
    return model


def test_cvae_log_likelihood_matches_quadrature_and_feeds_every_label():
    model, x, repeats = _toy_cvae(), _toy_images(), REPEATS
    y = torch.tensor([0, 1, 2, 1])
    runs = cvae_log_likelihood(model, x.repeat(repeats, 1), y.repeat(repeats), 500,
                               generator=torch.Generator().manual_seed(8)).reshape(repeats, -1)
    _close(runs, _quadrature_log_p(model, x, torch.ones(D), y=y), "log p(x | y)")
    table = class_log_likelihoods(model, x, 30, generator=torch.Generator().manual_seed(9))  # (B, 3)
    assert table.shape == (len(x), 3)
    generator = torch.Generator().manual_seed(9)
    for c in range(3):  # the same draws as one call per label, in label order
        expected = cvae_log_likelihood(model, x, torch.full((len(x),), c), 30, generator=generator)
        torch.testing.assert_close(table[:, c], expected)


def test_conditional_estimate_with_labels_matches_quadrature():
    model, x, repeats = _toy_cvae(), _toy_images(), REPEATS
    y = torch.tensor([2, 0, 1, 1])
    est = iw_conditional(model, x.repeat(repeats, 1), OBSERVED, 500, y=y.repeat(repeats),
                         generator=torch.Generator().manual_seed(10))
    exact = _quadrature_log_p(model, x, OBSERVED.double(), y=y)
    _close(est.log_p_observed.reshape(repeats, -1), exact, "log p(x_o | y)")


def _prototype_cvae():
    """A CVAE whose label alone sets the pixels (label c: pixels 2c and 2c + 1 on), with q(z | x, y) = p(z)."""
    model = CVAE(input_dim=D, hidden_dim=3, latent_dim=1, num_classes=3).double()
    with torch.no_grad():
        for layer in (model.decoder[0], model.decoder[2], model.mu, model.logvar):
            layer.weight.zero_()
            layer.bias.zero_()
        model.decoder[0].weight[:, 1:] = torch.eye(3)  # hidden unit c = [y = c]; z is ignored
        model.decoder[2].weight[:] = -8.0
        for c in range(3):
            model.decoder[2].weight[2 * c:2 * c + 2, c] = 8.0
    return model


def test_bayes_classifier_on_a_constructed_case():
    model = _prototype_cvae()
    prototypes = torch.tensor([[1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1]], dtype=torch.float64)
    x, truth = prototypes.repeat(5, 1), torch.arange(3).repeat(5)
    table = class_log_likelihoods(model, x, 3, generator=torch.Generator().manual_seed(11))
    uniform = torch.full((3,), -math.log(3), dtype=torch.float64)
    assert torch.equal(bayes_classify(table, uniform), truth)  # every image of its own label: accuracy 1
    # the decoder ignores z and the proposal is the prior, so every weight is p(x | y): Σ_d log σ(±8) exactly
    logits = model.decode(torch.zeros(15, 1, dtype=torch.float64), truth)
    exact = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
    torch.testing.assert_close(table[torch.arange(15), truth], exact.detach())
    # a prior that overwhelms the likelihood moves every decision to its label: Bayes' rule, not argmax p(x|y)
    strong_prior = torch.tensor([-1e4, 0.0, -1e4], dtype=torch.float64)
    assert torch.equal(bayes_classify(table, strong_prior), torch.ones(15, dtype=torch.long))
    brute = torch.tensor([max(range(3), key=lambda c: table[i, c] + uniform[c]) for i in range(15)])
    assert torch.equal(bayes_classify(table, uniform), brute)


def test_quadrant_masks_are_pyros():
    masks = quadrant_masks()
    assert [int(masks[q].sum()) for q in (1, 2, 3)] == [196, 392, 588]
    assert masks[1][14:, :14].all() and masks[2][:, :14].all() and not masks[3][14:, 14:].any()
    assert (masks[1] <= masks[2]).all() and (masks[2] <= masks[3]).all()  # each setting gives more
    with pytest.raises(ValueError, match="even"):
        quadrant_masks(27)


@pytest.mark.unit
def test_masks_may_be_boolean_or_zeros_and_ones_of_any_shape_with_the_images_pixels():
    model, x = _toy_vae(), _toy_images()
    as_bool = iw_conditional(model, x, OBSERVED, 5, generator=torch.Generator().manual_seed(12))
    as_float = iw_conditional(model, x, OBSERVED.double().reshape(2, 3), 5, generator=torch.Generator().manual_seed(12))
    assert all(torch.equal(a, b) for a, b in zip(as_bool, as_float, strict=True))


def test_bad_inputs_raise_value_errors():
    vae, cvae, x = _toy_vae(), _toy_cvae(), _toy_images()
    with pytest.raises(ValueError, match="0s and 1s"):
        iw_conditional(vae, x, torch.full((D,), 0.5), 5)
    with pytest.raises(ValueError, match="one mask of 6 pixels"):
        iw_conditional(vae, x, OBSERVED.repeat(len(x), 1), 5)  # one mask for all images here
    with pytest.raises(ValueError, match="pixels"):
        iw_conditional(vae, x, torch.ones(28, 28, dtype=torch.bool), 5)
    with pytest.raises(ValueError, match="takes no labels"):
        iw_conditional(vae, x, OBSERVED, 5, y=torch.zeros(len(x), dtype=torch.long))
    with pytest.raises(ValueError, match="conditioned on labels"):
        complete(cvae, x, OBSERVED, 5)
    with pytest.raises(ValueError, match="positive int"):
        iw_conditional(vae, x, OBSERVED, 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        iw_conditional(vae, x * 2, OBSERVED, 5)
    with pytest.raises(ValueError, match="proposal"):
        iw_conditional(vae, x, OBSERVED, 5, proposal=(torch.zeros(2, 1), torch.zeros(2, 1)))
    with pytest.raises(ValueError, match="CVAE"):
        cvae_log_likelihood(vae, x, torch.zeros(len(x), dtype=torch.long), 5)
    with pytest.raises(ValueError, match="log prior"):
        bayes_classify(torch.zeros(4, 3), torch.zeros(2))
    with pytest.raises(ValueError, match="num_completions"):
        completion_proposal(vae, x, OBSERVED, 0)
