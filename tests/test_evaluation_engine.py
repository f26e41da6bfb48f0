"""The importance-sampling engine's fast decoding path (course_utils.evaluation.pixel_log_likelihoods).

An MLP decoder is decoded a cache-sized block of samples at a time, with x·logits folded into a matrix
product and softplus summed with a sixteenth of the logarithms. These tests hold it to the plain
computation (decode every sample, Bernoulli log-probabilities from BCE-with-logits, sum), which is what the
engine did before and what any other decoder still takes: the same samples must give the same numbers up
to float32 summation order, an exact model must come out exact, and the memory must not grow with k.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from course_utils import evaluation
from course_utils.conditional import iw_conditional, quadrant_masks
from course_utils.evaluation import iw_log_likelihood, pixel_log_likelihoods, softplus_sum
from course_utils.models import CVAE, VAE
from course_utils.objectives import bernoulli_log_probs

pytestmark = pytest.mark.unit


class PlainVAE(VAE):
    """The same network, with decode overridden: the engine then takes its plain path (decode every sample)."""

    def decode(self, z, y=None):
        return VAE.decode(self, z, y)


class PlainCVAE(CVAE):
    decode = PlainVAE.decode


def _pair(model_class=VAE, seed=0, **kwargs):
    """A randomly initialised model with a larger output bias spread, and its twin on the plain path."""
    torch.manual_seed(seed)
    model = model_class(**kwargs).eval()
    with torch.no_grad():
        model.decoder[-1].bias.uniform_(-6, 6)  # confident pixels too: large |logits| test softplus' range
    config = model.config
    plain = (PlainVAE if model_class is VAE else PlainCVAE)(
        config.input_dim, config.hidden_dim, config.latent_dim, config.num_layers,
        *([config.num_classes] if config.num_classes else []))
    plain.load_state_dict(model.state_dict())
    return model, plain.eval()


def _binary(n, d=784, seed=1):
    return torch.bernoulli(torch.full((n, d), 0.3), generator=torch.Generator().manual_seed(seed))


# Float32 summation order: a log-likelihood of ~10^3 nats summed over 784 pixels in another order differs by
# a few hundred ulps of 10^3 (ulp = 6e-5): 2e-2 absolute is far from any real error (a pixel's term is ≥ 1e-2
# nats when it matters) and far above rounding.
ATOL = 2e-2


@pytest.mark.parametrize("kwargs", [{}, {"num_layers": 2, "hidden_dim": 64, "latent_dim": 5}, {"latent_dim": 2}])
def test_fast_path_equals_decoding_every_sample(kwargs):
    model, _ = _pair(**kwargs)
    x = _binary(7)
    z = torch.randn(13, 7, model.config.latent_dim, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        fast = pixel_log_likelihoods(model, z, x)[0]
        reference = bernoulli_log_probs(evaluation.decode_samples(model, z, None), x).sum(-1)
    assert fast.shape == (13, 7)
    torch.testing.assert_close(fast, reference, rtol=0, atol=ATOL)


def test_fast_path_takes_pixel_weightings_and_labels():
    model, _ = _pair(CVAE, hidden_dim=32, latent_dim=4)
    x, y = _binary(5), torch.tensor([0, 3, 9, 3, 1])
    z = torch.randn(6, 5, 4, generator=torch.Generator().manual_seed(3))
    left = quadrant_masks()[2].flatten().float()  # a mask: the pixels it keeps
    weights = torch.stack([torch.ones(784), left, torch.linspace(0, 1, 784)])
    with torch.no_grad():
        fast = pixel_log_likelihoods(model, z, x, y, weights)
        per_pixel = bernoulli_log_probs(evaluation.decode_samples(model, z, y), x)  # (S, B, D)
    assert fast.shape == (3, 6, 5)
    for j, w in enumerate(weights):
        torch.testing.assert_close(fast[j], (per_pixel * w).sum(-1), rtol=0, atol=ATOL)


def test_the_engine_gives_todays_numbers_from_the_same_generator():
    for model_class, kwargs, y in [(VAE, {"hidden_dim": 64, "latent_dim": 8}, None),
                                   (CVAE, {"hidden_dim": 48, "latent_dim": 3}, torch.arange(9) % 10)]:
        model, plain = _pair(model_class, **kwargs)
        x = _binary(9)
        fast = iw_log_likelihood(model, x, 300, y=y, batch_size=4, generator=torch.Generator().manual_seed(5))
        old = iw_log_likelihood(plain, x, 300, y=y, batch_size=4, generator=torch.Generator().manual_seed(5))
        torch.testing.assert_close(fast, old, rtol=0, atol=ATOL)


def test_conditional_estimates_use_the_engine_and_keep_their_numbers():
    model, plain = _pair(hidden_dim=32, latent_dim=4)
    x, observed = _binary(6), quadrant_masks()[1]
    fast = iw_conditional(model, x, observed, 200, generator=torch.Generator().manual_seed(6))
    old = iw_conditional(plain, x, observed, 200, generator=torch.Generator().manual_seed(6))
    for a, b in zip(fast, old, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=ATOL)


def test_a_model_whose_posterior_is_its_prior_is_scored_exactly():
    # Decoder weights zero: p(x|z) = Π Bern(σ(c)) for every z, so p(z|x) = p(z); an encoder that outputs
    # N(0, I) is then the exact posterior, every weight equals p(x), and the estimate is exact for any k.
    model, _ = _pair(hidden_dim=32, latent_dim=3)
    with torch.no_grad():
        for layer in (model.decoder[-1], model.mu, model.logvar):
            layer.weight.zero_()
        model.mu.bias.zero_()
        model.logvar.bias.zero_()
    x = _binary(5)
    bias = model.decoder[-1].bias.detach().double()
    exact = (x.double() * bias - F.softplus(bias)).sum(-1)
    for k in (1, 7, 3000):
        estimate = iw_log_likelihood(model, x, k, generator=torch.Generator().manual_seed(k))
        torch.testing.assert_close(estimate.double(), exact, rtol=0, atol=1e-3)


@pytest.mark.parametrize("width", [784, 49, 50, 3, 1])
def test_softplus_sum_agrees_with_softplus_over_its_whole_range(width):
    logits = torch.cat([torch.randn(40, width, generator=torch.Generator().manual_seed(width)) * 8,
                        torch.full((1, width), 95.0), torch.full((1, width), -95.0), torch.zeros(1, width)])
    reference = F.softplus(logits.double()).sum(-1)
    got = softplus_sum(logits.clone())  # it overwrites its argument
    assert torch.isfinite(got).all()
    # float32: each factor σ(|l|) carries a relative error of 6e-8, a product of 16 of them 1e-6; summed
    # over the row's 49 products and the relu part, 1e-6 · (|l| sum) bounds the difference comfortably.
    torch.testing.assert_close(got.double(), reference, rtol=1e-6, atol=1e-5 * width)


def test_memory_stays_bounded_whatever_k():
    # The plain path would make the (k, B, 784) logits in chunks of 2^15 rows (100 MB); the engine never
    # allocates more than a block of logits and a chunk of codes, a few MB.
    model, _ = _pair(hidden_dim=64, latent_dim=8)
    x = _binary(100)
    with torch.profiler.profile(profile_memory=True) as prof:
        iw_log_likelihood(model, x, 2000, generator=torch.Generator().manual_seed(7))
    largest = max(event.cpu_memory_usage for event in prof.events())
    assert largest < 16 * 2**20, f"an operation allocated {largest / 2**20:.0f} MB"
    assert 2000 * 100 * 784 * 4 > 30 * 16 * 2**20  # what materialising (k, B, 784) would take: 627 MB


def test_gradients_take_the_plain_path():
    model, _ = _pair(hidden_dim=16, latent_dim=2)
    x = _binary(3)
    z = torch.randn(4, 3, 2, requires_grad=True)
    total = pixel_log_likelihoods(model, z, x).sum()
    total.backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and math.isfinite(total.item())
