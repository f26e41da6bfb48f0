"""course_utils.models and course_utils.objectives: shapes, gradients, and agreement with PyTorch references."""

import inspect

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from course_utils.models import CVAE, VAE, Autoencoder, ModelConfig, build_model, eval_mode, init_output_bias
from course_utils.objectives import bernoulli_log_likelihood, negative_elbo, reconstruction_loss

pytestmark = pytest.mark.unit

SIZES = [(784, 400, 2, 1), (784, 64, 20, 2), (16, 8, 3, 3)]


def _images(batch, input_dim, seed=0):
    """Random grey levels shaped like MNIST when input_dim is 784, else (B, input_dim)."""
    x = torch.rand(batch, input_dim, generator=torch.Generator().manual_seed(seed))
    return x.view(batch, 1, 28, 28) if input_dim == 784 else x


@pytest.mark.parametrize("input_dim, hidden_dim, latent_dim, num_layers", SIZES)
def test_autoencoder_shapes(input_dim, hidden_dim, latent_dim, num_layers):
    model = Autoencoder(input_dim, hidden_dim, latent_dim, num_layers)
    assert build_model(model.config).config == model.config
    x = _images(5, input_dim)
    z = model.encode(x)
    assert z.shape == (5, latent_dim)
    assert model.decode(z).shape == (5, input_dim)
    assert torch.equal(model(x), model.decode(z))  # deterministic: forward = decode(encode(x))
    assert torch.equal(model(x), model(x.reshape(5, input_dim)))  # (B, 1, 28, 28) and (B, 784) agree


@pytest.mark.parametrize("input_dim, hidden_dim, latent_dim, num_layers", SIZES)
def test_vae_shapes_and_sampling(input_dim, hidden_dim, latent_dim, num_layers):
    model = VAE(input_dim, hidden_dim, latent_dim, num_layers)
    assert build_model(model.config).config == model.config
    x = _images(6, input_dim)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (6, latent_dim)
    logits, mu2, logvar2 = model(x, generator=torch.Generator().manual_seed(1))
    assert logits.shape == (6, input_dim) and torch.equal(mu, mu2) and torch.equal(logvar, logvar2)
    samples, z = model.sample(7, generator=torch.Generator().manual_seed(2))
    assert samples.shape == (7, input_dim) and z.shape == (7, latent_dim)
    assert set(samples.unique().tolist()) <= {0.0, 1.0}  # draws x ~ p(x|z), binary pixels
    again, z_again = model.sample(7, generator=torch.Generator().manual_seed(2))
    assert torch.equal(samples, again) and torch.equal(z, z_again)  # the generator makes sampling reproducible


@pytest.mark.parametrize("kind", ["autoencoder", "vae"])
def test_init_output_bias_starts_the_decoder_at_the_average_image(kind):
    model = build_model(ModelConfig(kind, 16, 8, 3, 2))
    x = _images(50, 16)
    init_output_bias(model, x)
    with torch.no_grad():
        model.decoder[-1].weight.zero_()  # ignore z: what is left is the bias
    probs = torch.sigmoid(model.decode(torch.randn(4, 3)))
    torch.testing.assert_close(probs, x.mean(0).expand(4, 16))


def test_vae_reparameterize_is_the_lesson_05_function():
    from course_utils.gradients import reparameterize

    mu, logvar = torch.randn(4, 3), torch.randn(4, 3)
    got = VAE(16, 8, 3).reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0))
    assert torch.equal(got, reparameterize(mu, logvar, generator=torch.Generator().manual_seed(0)))


@pytest.mark.parametrize("kind", ["autoencoder", "vae"])
def test_every_parameter_gets_a_gradient(kind):
    model = build_model(ModelConfig(kind, 16, 8, 3))
    x = _images(10, 16)
    if kind == "vae":
        logits, mu, logvar = model(x)
        loss = negative_elbo(logits, x, mu, logvar)[0]
    else:
        loss = reconstruction_loss(model(x), x)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"{name} got no gradient"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bernoulli_log_likelihood_matches_torch_distributions(seed):
    gen = torch.Generator().manual_seed(seed)
    logits = 6 * torch.randn(4, 784, generator=gen)
    x = torch.rand(4, 1, 28, 28, generator=gen)  # grey levels: a cross-entropy, as the course trains on
    binary = torch.bernoulli(x, generator=gen)
    for target in (x, binary):
        expected = Bernoulli(logits=logits, validate_args=False).log_prob(target.view(4, 784)).sum(-1)
        torch.testing.assert_close(bernoulli_log_likelihood(logits, target), expected)


def test_log_likelihood_stays_finite_for_saturated_logits():
    logits = torch.tensor([[100.0, -100.0]])
    x = torch.tensor([[0.0, 1.0]])  # confidently wrong: −log σ(−100) = 100 nats per pixel, not inf
    torch.testing.assert_close(bernoulli_log_likelihood(logits, x), torch.tensor([-200.0]))


@pytest.mark.parametrize("latent_dim", [1, 2, 20])
def test_negative_elbo_terms_match_torch_distributions(latent_dim):
    gen = torch.Generator().manual_seed(latent_dim)
    logits, x = torch.randn(8, 784, generator=gen), torch.rand(8, 784, generator=gen)
    mu, logvar = torch.randn(8, latent_dim, generator=gen), torch.randn(8, latent_dim, generator=gen)
    neg_elbo, recon, kl = negative_elbo(logits, x, mu, logvar)
    q = Normal(mu, torch.exp(0.5 * logvar))
    expected_kl = kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(-1).mean()
    expected_recon = -Bernoulli(logits=logits, validate_args=False).log_prob(x).sum(-1).mean()
    torch.testing.assert_close(kl, expected_kl)
    torch.testing.assert_close(recon, expected_recon)
    torch.testing.assert_close(neg_elbo, recon + kl)


@pytest.mark.parametrize("bad, message", [
    (lambda x: x * 255, r"\[0, 1\]"),
    (lambda x: x[:, :100], "do not match"),
    (lambda x: x[:3], "do not match"),
])
def test_objectives_say_what_is_wrong(bad, message):
    logits, x = torch.zeros(4, 784), torch.rand(4, 784)
    with pytest.raises(ValueError, match=message):
        negative_elbo(logits, bad(x), torch.zeros(4, 2), torch.zeros(4, 2))


def test_models_say_what_is_wrong():
    with pytest.raises(ValueError, match="784 pixels"):
        VAE().encode(torch.rand(3, 28, 27))
    with pytest.raises(ValueError, match="float"):
        Autoencoder().encode(torch.zeros(3, 784, dtype=torch.uint8))
    with pytest.raises(ValueError, match="kind"):
        ModelConfig("gan")
    with pytest.raises(ValueError, match="num_samples"):
        VAE().sample(0)


@pytest.mark.unit
def test_a_cvae_keeps_every_method_contract_of_the_vae():
    """A CVAE is a VAE with labels: the same signatures, so code written for a VAE passes y along and runs."""
    for name in ("encode", "decode", "forward", "loss_terms", "sample", "reparameterize"):
        assert inspect.signature(getattr(CVAE, name)) == inspect.signature(getattr(VAE, name)), name

    def reconstruct(model, x, y=None):  # written once, for "a VAE"
        logits, mu, logvar = model(x, y, generator=torch.Generator().manual_seed(0))
        return negative_elbo(logits, x, mu, logvar)[0]

    x, y = _images(4, 16), torch.tensor([0, 1, 2, 1])
    torch.manual_seed(0)
    vae, cvae = VAE(16, 8, 2), CVAE(16, 8, 2, num_classes=3)
    assert reconstruct(vae, x).isfinite() and reconstruct(cvae, x, y).isfinite()
    assert not vae.needs_labels and cvae.needs_labels and VAE(16, 8, 2, num_classes=3).needs_labels
    with pytest.raises(ValueError, match="takes no labels"):
        vae.encode(x, y)
    with pytest.raises(ValueError, match="conditioned on labels"):
        cvae.decode(torch.zeros(4, 2))
    draws, z = cvae.sample(y=y, generator=torch.Generator().manual_seed(1))
    assert draws.shape == (4, 16) and z.shape == (4, 2)


@pytest.mark.unit
def test_eval_mode_puts_back_the_mode_even_when_the_block_raises():
    model = VAE(16, 8, 2)
    for training in (True, False):
        model.train(training)
        with eval_mode(model):
            assert not model.training
        assert model.training == training
        with pytest.raises(RuntimeError), eval_mode(model):
            raise RuntimeError("inside the block")
        assert model.training == training
