"""The training protocol: any model with loss_terms trains with fit; β, warm-up, free bits, IWAE, labels; the CVAE."""

import math

import pytest
import torch
from torch import nn
from torch.distributions import Bernoulli, Independent, Normal, kl_divergence

from course_utils.latent_space import encode_posterior, kl_per_dimension, unit_activity
from course_utils.models import CVAE, VAE, Autoencoder, ModelConfig, Trainable, build_model
from course_utils.objectives import LossTerms, free_bits_kl, free_bits_loss, iwae_loss, kl_weight, negative_elbo
from course_utils.train import TrainConfig, evaluate, fit

pytestmark = pytest.mark.unit


class IndependentPixels(nn.Module):
    """A model fit does not know by name: lesson 01's independent Bernoulli pixels, learned by Adam.

    It records the labels it is given, to show what reaches a model.
    """

    def __init__(self, num_pixels: int, needs_labels: bool = False) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(num_pixels))
        self.needs_labels = needs_labels
        self.seen: list[torch.Tensor] = []

    def loss_terms(self, x, y=None, generator=None):
        if y is not None:
            self.seen.append(y.clone())
        nll = nn.functional.binary_cross_entropy_with_logits(self.logits.expand_as(x), x, reduction="none").sum(1)
        return LossTerms.of(nll.mean(), torch.zeros(()))


def _binary(n, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    probs = torch.linspace(0.05, 0.95, d)
    return torch.bernoulli(probs.expand(n, d), generator=g), probs


def test_a_new_model_trains_with_fit_unchanged():
    x, probs = _binary(2000)
    model = IndependentPixels(16)
    assert isinstance(model, Trainable)
    history = fit(model, x, epochs=200, batch_size=2000, lr=0.1, schedule="cosine", test_x=x, progress=False,
                  device="cpu")
    # The maximum-likelihood answer is the pixel means (lesson 01); full-batch Adam with a decaying
    # step size settles on it.
    torch.testing.assert_close(torch.sigmoid(model.logits.detach()), x.mean(0), atol=1e-3, rtol=0)
    assert history.test_kl == [0.0] * 200 and history.test_loss[-1] < history.test_loss[0]
    assert history.config.train_size == 2000


def test_fit_refuses_a_model_without_loss_terms():
    with pytest.raises(TypeError, match="loss_terms"):
        fit(nn.Linear(784, 784), torch.rand(10, 784), epochs=1, progress=False)


def test_labels_reach_a_model_that_needs_them_in_the_shuffled_order():
    x, _ = _binary(64, d=4)
    y = torch.arange(64)  # label i belongs to image i
    x = torch.cat([x, y[:, None] / 64.0], dim=1)  # the image carries its own index in its last pixel
    model = IndependentPixels(5, needs_labels=True)
    fit(model, x, y, epochs=2, batch_size=16, progress=False, device="cpu")
    seen = torch.cat(model.seen)
    assert len(seen) == 128 and sorted(seen[:64].tolist()) == list(range(64))  # each label once per epoch
    assert seen[:64].tolist() != list(range(64))  # shuffled ...
    model.seen.clear()
    evaluate(model, x, y, batch_size=10)
    assert torch.equal(torch.cat(model.seen), y)  # ... and evaluate passes them in order
    with pytest.raises(ValueError, match="pass train_y"):
        fit(model, x, epochs=1, progress=False)
    with pytest.raises(ValueError, match="integer tensor of shape \\(64,\\)"):
        fit(model, x, y.float(), epochs=1, progress=False)


def test_a_model_without_labels_never_sees_them():
    x, _ = _binary(50, d=4)
    model = IndependentPixels(4)
    fit(model, x, torch.arange(50), epochs=1, batch_size=10, progress=False)
    assert model.seen == []


def test_kl_weight_warms_up_linearly_to_beta():
    assert [kl_weight(s, 2.0, 4) for s in range(7)] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    assert kl_weight(0, 0.3) == 0.3 and kl_weight(10**6, 0.3, 0) == 0.3  # no warm-up: β from the start
    for bad in [dict(step=-1), dict(step=0, warmup_steps=-2), dict(step=0, beta=-1.0), dict(step=1.5)]:
        with pytest.raises(ValueError):
            kl_weight(**{"beta": 1.0, "warmup_steps": 0, **bad})


def _recorded_weights(monkeypatch, **fit_kwargs):
    """The KL weight of every training step fit takes, read off the objective it minimises."""
    from course_utils import train

    weights, real = [], train.weighted_loss

    def spy(terms, beta=1.0):
        weights.append(beta)
        return real(terms, beta)

    monkeypatch.setattr(train, "weighted_loss", spy)
    torch.manual_seed(0)
    fit(VAE(784, 16, 2), torch.rand(40, 784), epochs=3, batch_size=10, progress=False, **fit_kwargs)
    return weights


def test_fit_weights_the_kl_by_the_warm_up_schedule(monkeypatch):
    weights = _recorded_weights(monkeypatch, beta=4.0, warmup_epochs=2)  # 4 steps per epoch, 8 of warm-up
    assert weights == [4.0 * min(1.0, s / 8) for s in range(12)]
    assert _recorded_weights(monkeypatch) == [1.0] * 12


def test_beta_one_is_todays_objective_exactly():
    torch.manual_seed(0)
    model = VAE(784, 32, 3)
    x = torch.bernoulli(torch.rand(8, 784))  # binary, so torch.distributions.Bernoulli accepts it
    logits, mu, logvar = model(x, generator=torch.Generator().manual_seed(1))
    terms = model.loss_terms(x, generator=torch.Generator().manual_seed(1))
    loss, recon, kl = negative_elbo(logits, x, mu, logvar)
    assert torch.equal(terms.recon, recon) and torch.equal(terms.kl, kl)
    assert torch.equal(loss, recon + kl) and torch.equal(negative_elbo(logits, x, mu, logvar, beta=1.0)[0], loss)
    # Against torch.distributions, independently of the package's formulas:
    expected_recon = -Independent(Bernoulli(logits=logits), 1).log_prob(x).mean()
    q, p = Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected_kl = kl_divergence(q, p).sum(1).mean()
    torch.testing.assert_close(recon, expected_recon)
    torch.testing.assert_close(kl, expected_kl)
    torch.testing.assert_close(negative_elbo(logits, x, mu, logvar, beta=0.25)[0], expected_recon + 0.25 * expected_kl)


def test_a_large_beta_drives_the_rate_down():
    x = torch.bernoulli(torch.rand(600, 784, generator=torch.Generator().manual_seed(0)) * 0.3 + 0.1 *
                        (torch.arange(600) % 2)[:, None])  # two kinds of image: information worth encoding
    rates = {}
    for beta in (0.1, 10.0):
        torch.manual_seed(0)
        model = VAE(784, 32, 4)
        history = fit(model, x, epochs=8, batch_size=50, lr=3e-3, beta=beta, test_x=x, progress=False)
        rates[beta] = history.test_kl[-1]
    assert rates[10.0] < rates[0.1] / 2


# --- free bits and the IWAE bound -------------------------------------------------------------------


def _gaussians(seed=0, n=64, d=6):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(n, d, generator=g) * torch.linspace(0.05, 2.0, d)  # some dimensions near the prior
    logvar = torch.randn(n, d, generator=g) * 0.3 - torch.linspace(0.0, 2.0, d)
    return mu, logvar


def test_free_bits_charge_each_dimension_at_least_lambda():
    mu, logvar = _gaussians()
    q = Normal(mu, (0.5 * logvar).exp())
    kl_dims = kl_divergence(q, Normal(torch.zeros_like(mu), torch.ones_like(mu))).mean(0)  # (d,) reference
    for lam in (0.0, 0.05, 0.3, 5.0):
        torch.testing.assert_close(free_bits_kl(mu, logvar, lam), kl_dims.clamp(min=lam).sum())
    # Below λ a dimension's KL gets no gradient (it costs λ whatever it carries); above λ it is the KL's own.
    lam = float(kl_dims.median())
    mu = mu.clone().requires_grad_(True)
    free_bits_kl(mu, logvar, lam).backward()
    below = kl_dims < lam
    assert below.any() and (~below).any()
    assert torch.all(mu.grad[:, below] == 0)
    torch.testing.assert_close(mu.grad[:, ~below], mu.detach()[:, ~below] / len(mu))  # d/dμ of ½μ², batch mean


def test_free_bits_of_zero_is_the_elbo_and_above_every_kl_is_reconstruction_alone():
    torch.manual_seed(0)
    model, x = VAE(784, 32, 3), torch.bernoulli(torch.rand(8, 784))
    loss, terms = free_bits_loss(model, x, None, 0.0, generator=torch.Generator().manual_seed(1))
    reference = model.loss_terms(x, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(loss, reference.loss)
    assert torch.equal(terms.recon, reference.recon) and torch.equal(terms.kl, reference.kl)
    loss, terms = free_bits_loss(model, x, None, 1e6, generator=torch.Generator().manual_seed(1))
    loss.backward()
    with_free_bits = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model.loss_terms(x, generator=torch.Generator().manual_seed(1)).recon.backward()
    for ours, recon_only in zip(with_free_bits, (p.grad for p in model.parameters()), strict=True):
        torch.testing.assert_close(ours, recon_only)  # the KL term is the constant 3·10⁶


def _iwae_by_hand(model, x, k, seed):
    """−L_k with torch.distributions, from the same draws ε ~ N(0, I) (k, B, d) as the package."""
    mu, logvar = model.encode(x)
    eps = torch.randn((k, *mu.shape), generator=torch.Generator().manual_seed(seed))
    q = Normal(mu, (0.5 * logvar).exp())
    z = q.loc + q.scale * eps
    log_w = (Independent(Bernoulli(logits=model.decode(z)), 1).log_prob(x)
             + Normal(0.0, 1.0).log_prob(z).sum(-1) - q.log_prob(z).sum(-1))
    return -(torch.logsumexp(log_w, 0) - math.log(k)).mean(), log_w


def test_iwae_loss_is_the_importance_weighted_bound_of_the_same_draws():
    torch.manual_seed(0)
    model, x = VAE(784, 32, 3), torch.bernoulli(torch.rand(8, 784))
    for k in (1, 7):
        loss, terms = iwae_loss(model, x, None, k, generator=torch.Generator().manual_seed(2))
        expected, log_w = _iwae_by_hand(model, x, k, seed=2)
        torch.testing.assert_close(loss, expected)
        assert -loss >= log_w.mean() - 1e-4  # Jensen, draw by draw: log of a mean >= mean of the logs
        # The terms are the −ELBO of the first draw: the closed-form KL and that draw's reconstruction.
        mu, logvar = model.encode(x)
        kl = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1).mean()
        torch.testing.assert_close(terms.kl, kl)
    # k = 1: −L_1 is the −ELBO with the KL sampled at the one draw, −L_1 = recon + mean(log q(z) − log p(z)).
    loss, terms = iwae_loss(model, x, None, 1, generator=torch.Generator().manual_seed(2))
    mu, logvar = model.encode(x)
    z = mu + (0.5 * logvar).exp() * torch.randn((1, *mu.shape), generator=torch.Generator().manual_seed(2))
    sampled_kl = (Normal(mu, (0.5 * logvar).exp()).log_prob(z) - Normal(0.0, 1.0).log_prob(z)).sum(-1).mean()
    torch.testing.assert_close(loss, terms.recon + sampled_kl)


def test_iwae_bound_reaches_log_p_x_of_a_one_dimensional_model():
    """L_k → log p(x) (Burda et al., Theorem 1: bounded weights) on a model whose integral is a quadrature."""
    torch.manual_seed(0)
    model = VAE(6, 8, 1)
    with torch.no_grad():  # q(z|x) = N(0, 1) = p(z): the weights w = p(x|z) lie in [0, 1], bounded
        for layer in (model.mu, model.logvar):
            layer.weight.zero_(), layer.bias.zero_()
    x = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0, 0.0]])
    z = torch.linspace(-12, 12, 24001)[:, None]
    with torch.no_grad():
        log_px_z = Independent(Bernoulli(logits=model.decode(z)), 1).log_prob(x)
        exact = torch.logsumexp(log_px_z + Normal(0.0, 1.0).log_prob(z[:, 0]), 0) + math.log(24 / 24000)
        k = 200_000
        loss, _ = iwae_loss(model, x, None, k, generator=torch.Generator().manual_seed(3))
        w = torch.exp(_iwae_by_hand(model, x, k, seed=3)[1][:, 0].double())
    # Delta method: L_k = log mean(w) has standard error sd(w) / (mean(w) √k); its bias −Var/(2k mean²) is
    # below one SE here. |error| > 7 SE has probability < 3·10⁻¹², far below 10⁻⁶, for this bounded w.
    se = float(w.std() / (w.mean() * math.sqrt(k)))
    assert abs(-float(loss) - float(exact)) < 7 * se + 1e-4, (float(loss), float(exact), se)


def test_fit_trains_with_free_bits_or_the_iwae_bound_and_keeps_per_dimension_statistics():
    x = torch.bernoulli(torch.rand(120, 784, generator=torch.Generator().manual_seed(0)) * 0.3 + 0.1 *
                        (torch.arange(120) % 2)[:, None])
    for settings in ({"free_bits": 0.5}, {"iw_samples": 5}):
        torch.manual_seed(0)
        model = VAE(784, 16, 4)
        history = fit(model, x, epochs=3, batch_size=40, lr=3e-3, test_x=x, progress=False, device="cpu", **settings)
        assert all(math.isfinite(v) for v in history.test_loss)
        assert history.config == TrainConfig(epochs=3, batch_size=40, lr=3e-3, train_size=120, test_size=120,
                                              **settings)
        mu, logvar = encode_posterior(model, x)
        assert len(history.test_kl_dims) == len(history.test_activity) == 3
        torch.testing.assert_close(torch.tensor(history.test_kl_dims[-1]), kl_per_dimension(mu, logvar))
        torch.testing.assert_close(torch.tensor(history.test_activity[-1]), unit_activity(mu))


def test_free_bits_and_iw_samples_say_what_is_wrong():
    for bad, match in [(dict(free_bits=-0.1), "free_bits"), (dict(free_bits=math.inf), "free_bits"),
                       (dict(iw_samples=0), "iw_samples"), (dict(iw_samples=2.0), "iw_samples"),
                       (dict(iw_samples=5, beta=2.0), "no KL term"), (dict(iw_samples=5, warmup_epochs=1), "no KL"),
                       (dict(iw_samples=5, free_bits=0.1), "no KL term")]:
        with pytest.raises(ValueError, match=match):
            TrainConfig(epochs=1, **bad)
    with pytest.raises(ValueError, match="has none"):
        fit(Autoencoder(784, 16, 2), torch.rand(10, 784), epochs=1, free_bits=0.5, progress=False)


# --- the conditional VAE ---------------------------------------------------------------------------

def test_cvae_shapes_config_and_rebuild():
    model = CVAE(784, 32, 3, num_layers=2, num_classes=10)
    assert model.config == ModelConfig("cvae", 784, 32, 3, 2, 10) and build_model(model.config).config == model.config
    x, y = torch.rand(5, 1, 28, 28), torch.tensor([0, 1, 2, 3, 9])
    mu, logvar = model.encode(x, y)
    assert mu.shape == logvar.shape == (5, 3)
    logits, mu2, _ = model(x, y, generator=torch.Generator().manual_seed(0))
    assert logits.shape == (5, 784) and torch.equal(mu, mu2)
    draws, z = model.sample(y=y, generator=torch.Generator().manual_seed(0))
    assert draws.shape == (5, 784) and z.shape == (5, 3) and set(draws.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="num_classes"):
        ModelConfig("cvae", 784, 32, 3)
    with pytest.raises(ValueError, match="num_classes"):
        ModelConfig("vae", 784, 32, 3, 1, 10)


def test_cvae_loss_terms_are_the_conditional_elbo():
    torch.manual_seed(0)
    model = CVAE(16, 8, 2, num_classes=3)
    x, y = torch.bernoulli(torch.rand(6, 16)), torch.tensor([0, 1, 2, 2, 1, 0])
    terms = model.loss_terms(x, y, generator=torch.Generator().manual_seed(5))
    mu, logvar = model.encode(x, y)
    z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=torch.Generator().manual_seed(5))
    expected_recon = -Independent(Bernoulli(logits=model.decode(z, y)), 1).log_prob(x).mean()
    q, p = Normal(mu, (0.5 * logvar).exp()), Normal(torch.zeros_like(mu), torch.ones_like(mu))
    torch.testing.assert_close(terms.recon, expected_recon)
    torch.testing.assert_close(terms.kl, kl_divergence(q, p).sum(1).mean())
    with pytest.raises(ValueError, match="conditioned on labels"):
        model.loss_terms(x)
    for bad in [torch.tensor([0, 1, 2, 3, 1, 0]), torch.tensor([0, 1]), y.float()]:
        with pytest.raises(ValueError, match="labels"):
            model.encode(x, bad)


def test_conditioning_on_y_changes_the_samples():
    torch.manual_seed(0)
    model = CVAE(16, 8, 2, num_classes=3)
    z = torch.randn(4, 2)
    by_label = [torch.sigmoid(model.decode(z, torch.full((4,), k))) for k in range(3)]
    assert not torch.allclose(by_label[0], by_label[1]) and not torch.allclose(by_label[1], by_label[2])
    # The same z and label give the same pixel probabilities: only y changed above.
    torch.testing.assert_close(torch.sigmoid(model.decode(z, torch.full((4,), 1))), by_label[1])


def test_a_cvae_learns_to_draw_the_digit_it_is_asked_for():
    # Two "digits": label 0 lights the left half, label 1 the right half. After training, asking for a
    # label must give its half (a decoder that ignored y could only draw the average of the two).
    n, d = 800, 16
    y = torch.arange(n) % 2
    left = torch.cat([torch.ones(d // 2), torch.zeros(d // 2)])
    x = torch.where(y[:, None] == 0, left, 1 - left) * 0.9 + 0.05
    torch.manual_seed(0)
    model = CVAE(d, 32, 2, num_classes=2)
    fit(model, x, y, epochs=40, batch_size=100, lr=1e-2, binarize="dynamic", progress=False, device="cpu")
    z = torch.zeros(2, 2)
    probs = torch.sigmoid(model.decode(z, torch.tensor([0, 1])))
    assert (probs[0, : d // 2] > 0.7).all() and (probs[0, d // 2 :] < 0.3).all()
    assert (probs[1, d // 2 :] > 0.7).all() and (probs[1, : d // 2] < 0.3).all()
    assert math.isfinite(evaluate(model, x, y)[0])


# --- the progress line ------------------------------------------------------------------------------

def _history():
    from course_utils.train import History

    return History(train_loss=[110.0, 100.5], train_recon=[80.0, 75.25], train_kl=[30.0, 25.25],
                   test_loss=[111.0, 101.0], test_recon=[81.0, 76.0], test_kl=[30.0, 25.0], seconds=[1.0, 1.0])


def test_progress_ends_on_a_plain_line_with_the_final_numbers(capsys):
    from course_utils.progress import Progress

    progress = Progress("fit on cpu", 2, 10, enabled=False)
    line = progress.summary(_history())
    assert line.startswith("fit on cpu: 2/2 epochs in ")
    assert line.endswith("epoch 2: train loss 100.50, test loss 101.00 (= reconstruction 76.00 + KL 25.00) "
                         "nats per image")
    progress.note("interrupted")  # with no bar and no notebook, a note is printed
    assert capsys.readouterr().out == "interrupted\n"


@pytest.fixture
def notebook_lines(monkeypatch):
    """Pretend to run in a notebook: every text the progress module displays or updates lands in this list."""
    import IPython.display

    from course_utils import progress as module

    shown = []

    class Handle:
        def update(self, obj, raw):
            shown.append(obj["text/plain"])

    monkeypatch.setattr(module, "_in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw, display_id: shown.append(obj["text/plain"])
                        or Handle())
    return shown


def test_in_a_notebook_the_saved_output_is_the_last_line_not_a_bar(notebook_lines):
    from course_utils import progress as module

    shown = notebook_lines
    bar = module.Progress("fit on cpu", 2, 10, enabled=True)
    bar.note("a note")
    bar.close(_history())
    assert shown[0] == "fit on cpu: starting"
    final, note = shown[-1].splitlines()  # what a saved notebook keeps: the final numbers, then the note
    assert final.startswith("fit on cpu: 2/2 epochs in ") and final.endswith("KL 25.00) nats per image")
    assert note == "a note"


def test_a_long_computation_counts_its_items_and_ends_on_the_final_line(notebook_lines, monkeypatch, capsys):
    # course_utils.progress.Counter (lesson 08's scoreboard: importance sampling with progress=...): in a
    # notebook a plain line, updated, that ends at total/total; in a terminal a tqdm bar; off: nothing at all.
    from course_utils import progress as module
    from course_utils.evaluation import iw_log_likelihood

    shown = notebook_lines
    model, x = VAE(hidden_dim=8, latent_dim=2), torch.bernoulli(torch.full((250, 784), 0.2))
    iw_log_likelihood(model, x, 5, batch_size=100, progress="scoring")
    assert shown[0] == "scoring: starting"
    assert shown[-1].startswith("scoring: 250/250 images, ") and "left" not in shown[-1]
    monkeypatch.setattr(module, "_in_notebook", lambda: False)
    shown.clear()
    iw_log_likelihood(model, x, 5, batch_size=100)  # progress off: no line, no bar
    assert not shown and capsys.readouterr().err == ""
    iw_log_likelihood(model, x, 5, batch_size=100, progress=True)  # a terminal: tqdm's bar on stderr
    assert "log p(x), k = 5" in capsys.readouterr().err
