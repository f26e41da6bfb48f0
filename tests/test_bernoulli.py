"""Bernoulli pixel models and the mixture of Bernoullis against torch.distributions, plus EM and MNIST checks."""

import math

import pytest
import torch
from torch.distributions import Bernoulli, Categorical, Independent, MixtureSameFamily

from course_utils import binarize_fixed, load_mnist
from course_utils.bernoulli import (
    BernoulliClassifier,
    bernoulli_log_prob,
    class_log_joint,
    class_posterior,
    classify,
    component_log_probs,
    fit_bernoulli,
    fit_classifier,
    sample_bernoulli,
)
from course_utils.checks import check_mask
from course_utils.mixture import (
    BernoulliMixture,
    as_mixture,
    complete_pixels,
    fit_mixture,
    mixture_log_joint,
    mixture_log_prob,
    responsibilities,
    sample_mixture,
)
from tests.stats import assert_bounded_mean, assert_within_se

pytestmark = pytest.mark.integration

D = 12  # pixels of the synthetic images


def _data(n=50, binary=True, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, D, generator=g, dtype=dtype)
    probs = torch.rand(D, generator=g, dtype=dtype) * 0.9 + 0.05
    return (torch.bernoulli(x.new_ones(n, D) * probs, generator=g) if binary else x), probs


def _mixture(num_components=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    probs = torch.rand(num_components, D, generator=g, dtype=torch.float64) * 0.9 + 0.05
    log_weights = torch.randn(num_components, generator=g, dtype=torch.float64).log_softmax(0)
    return BernoulliMixture(log_weights=log_weights, probs=probs)


def _torch_mixture(model):
    return MixtureSameFamily(Categorical(logits=model.log_weights), Independent(Bernoulli(probs=model.probs), 1))


@pytest.mark.parametrize("shape", [(7, D), (7, 1, 3, 4), (7, 3, 4)])
def test_log_prob_matches_torch_independent_bernoulli(shape):
    x, probs = _data(7)
    expected = Independent(Bernoulli(probs=probs), 1).log_prob(x)
    torch.testing.assert_close(bernoulli_log_prob(probs, x.reshape(shape)), expected)


def test_grey_target_log_prob_is_expected_log_prob_of_binarized_images():
    x, probs = _data(3, binary=False)
    reference = Independent(Bernoulli(probs=probs, validate_args=False), 1).log_prob(x)  # -BCE for soft targets
    torch.testing.assert_close(bernoulli_log_prob(probs, x), reference)
    g = torch.Generator().manual_seed(1)
    samples = torch.bernoulli(x.expand(20000, -1, -1), generator=g)  # (S, N, D) dynamic binarizations
    draws = Independent(Bernoulli(probs=probs), 1).log_prob(samples)  # (S, N): sums of D independent terms
    assert_within_se(draws.mean(0), bernoulli_log_prob(probs, x), draws.std(0) / math.sqrt(len(draws)),
                     "the mean log-probability of binarizations", draws=len(draws))


@pytest.mark.parametrize("mask_shape", [(D,), (3, 4), (5, D)])
def test_masked_log_prob_counts_only_observed_pixels(mask_shape):
    x, probs = _data(5)
    mask = torch.rand(mask_shape, generator=torch.Generator().manual_seed(2)) < 0.5
    full = mask.reshape(-1, D).expand(5, D)
    for n in range(5):
        observed = full[n]
        expected = Independent(Bernoulli(probs=probs[observed]), 1).log_prob(x[n, observed])
        torch.testing.assert_close(bernoulli_log_prob(probs, x, mask)[n], expected)


def test_probability_zero_pixel_that_is_on_has_log_prob_minus_infinity():
    probs = torch.tensor([0.0, 0.5, 1.0])
    assert bernoulli_log_prob(probs, torch.tensor([[0.0, 1.0, 1.0]])).item() == pytest.approx(math.log(0.5))
    assert bernoulli_log_prob(probs, torch.tensor([[1.0, 1.0, 1.0]])).item() == -math.inf


@pytest.mark.parametrize("binary", [True, False])
def test_maximum_likelihood_estimate_is_the_pixel_mean_and_maximizes_the_likelihood(binary):
    x, _ = _data(40, binary=binary)
    probs = fit_bernoulli(x)
    torch.testing.assert_close(probs, x.mean(0))
    g = torch.Generator().manual_seed(3)
    best = bernoulli_log_prob(probs.clamp(1e-6, 1 - 1e-6), x).sum()
    for _ in range(20):
        other = (probs + 0.05 * torch.randn(D, generator=g, dtype=x.dtype)).clamp(1e-3, 1 - 1e-3)
        assert bernoulli_log_prob(other, x).sum() < best


@pytest.mark.parametrize("smoothing", [1, 3, 10])
def test_smoothing_is_the_mle_with_extra_images_all_on_and_all_off(smoothing):
    x, _ = _data(30)
    pseudo = torch.cat([torch.ones(smoothing, D), torch.zeros(smoothing, D)]).double()
    torch.testing.assert_close(fit_bernoulli(x, smoothing), torch.cat([x, pseudo]).mean(0))
    assert 0 < fit_bernoulli(torch.zeros(4, D), smoothing).min() < 0.5


def test_samples_have_the_model_pixel_frequencies():
    probs = torch.linspace(0.05, 0.95, D)
    samples = sample_bernoulli(probs, 20000, torch.Generator().manual_seed(4))
    assert samples.shape == (20000, D) and set(samples.unique().tolist()) <= {0.0, 1.0}
    assert_bounded_mean(samples.mean(0), probs, probs * (1 - probs), 20000, "pixel frequencies")


def _labelled(num_classes=3, n=60, seed=5):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % num_classes
    centres = torch.rand(num_classes, D, generator=g, dtype=torch.float64)
    return torch.bernoulli(centres[labels], generator=g), labels


def test_classifier_joint_and_posterior_match_torch():
    x, labels = _labelled()
    model = fit_classifier(x, labels, smoothing=1.0)
    torch.testing.assert_close(model.log_prior.exp(), torch.full((3,), 1 / 3, dtype=torch.float64))
    for c in range(3):
        torch.testing.assert_close(model.probs[c], fit_bernoulli(x[labels == c], smoothing=1.0))
    expected = model.log_prior + Independent(Bernoulli(probs=model.probs), 1).log_prob(x[:, None, :])  # (N, C)
    torch.testing.assert_close(class_log_joint(model, x), expected)
    torch.testing.assert_close(class_posterior(model, x), expected.softmax(-1))
    torch.testing.assert_close(classify(model, x), expected.argmax(-1))


def test_classifier_with_mask_matches_torch_on_the_visible_pixels():
    x, labels = _labelled()
    model = fit_classifier(x, labels)
    visible = torch.arange(D) < D // 2
    expected = model.log_prior + Independent(Bernoulli(probs=model.probs[:, visible]), 1).log_prob(
        x[:, None, visible])
    torch.testing.assert_close(class_log_joint(model, x, visible), expected)


def test_generative_classifier_beats_80_percent_on_mnist_and_works_on_half_images():
    x_train, y_train = load_mnist("train")
    x_test, y_test = load_mnist("test")
    model = fit_classifier(binarize_fixed(x_train[:20000]), y_train[:20000])
    x_test = binarize_fixed(x_test)
    accuracy = (classify(model, x_test) == y_test).float().mean().item()
    assert accuracy > 0.80
    top_half = torch.zeros(28, 28, dtype=torch.bool)
    top_half[:14] = True
    half_accuracy = (classify(model, x_test, top_half) == y_test).float().mean().item()
    assert 0.5 < half_accuracy < accuracy  # far above chance (0.1), below seeing everything


def test_mixture_log_prob_matches_torch_mixture_same_family():
    model = _mixture()
    x, _ = _data(9)
    torch.testing.assert_close(mixture_log_prob(model, x), _torch_mixture(model).log_prob(x))
    r = responsibilities(model, x)
    torch.testing.assert_close(r.sum(-1), torch.ones(9, dtype=torch.float64))
    joint = model.log_weights + Independent(Bernoulli(probs=model.probs), 1).log_prob(x[:, None, :])
    torch.testing.assert_close(r, (joint - _torch_mixture(model).log_prob(x)[:, None]).exp())


def test_mixture_masked_log_prob_marginalizes_hidden_pixels():
    model = _mixture()
    x, _ = _data(6)
    observed = torch.arange(D) % 3 != 0
    marginal = MixtureSameFamily(Categorical(logits=model.log_weights),
                                 Independent(Bernoulli(probs=model.probs[:, observed]), 1))
    torch.testing.assert_close(mixture_log_prob(model, x, observed), marginal.log_prob(x[:, observed]))


def test_one_component_mixture_is_the_independent_model():
    x, probs = _data(8)
    torch.testing.assert_close(mixture_log_prob(as_mixture(probs), x), bernoulli_log_prob(probs, x))
    observed = torch.arange(D) < 4
    completed = complete_pixels(as_mixture(probs), x, observed)
    torch.testing.assert_close(completed[:, :4], x[:, :4])
    torch.testing.assert_close(completed[:, 4:], probs[4:].expand(8, -1))  # observed pixels tell it nothing


def test_completion_is_the_conditional_expectation_of_hidden_pixels():
    model = _mixture()
    x, _ = _data(4)
    observed = torch.arange(D) < 6
    completed = complete_pixels(model, x, observed)
    torch.testing.assert_close(completed[:, :6], x[:, :6])
    for n in range(4):  # E[x_d | x_obs] = p(x_d = 1, x_obs) / p(x_obs), through the torch mixture
        for d in range(6, D):
            on = x[n].clone()
            on[d] = 1.0
            keep = observed.clone()
            keep[d] = True
            marginal = MixtureSameFamily(Categorical(logits=model.log_weights),
                                         Independent(Bernoulli(probs=model.probs[:, keep]), 1))
            sub = MixtureSameFamily(Categorical(logits=model.log_weights),
                                    Independent(Bernoulli(probs=model.probs[:, observed]), 1))
            expected = (marginal.log_prob(on[keep]) - sub.log_prob(x[n, observed])).exp()
            torch.testing.assert_close(completed[n, d], expected)


def test_mixture_samples_follow_the_weights_and_components():
    model = _mixture()
    x, k = sample_mixture(model, 30000, torch.Generator().manual_seed(6))
    assert x.shape == (30000, D) and k.shape == (30000,)
    frequencies = torch.bincount(k, minlength=3).double() / 30000
    weights = model.log_weights.exp()
    assert_bounded_mean(frequencies, weights, weights * (1 - weights), 30000, "component frequencies")
    for j in range(3):  # given the components k, the pixels of x[k == j] are independent Bernoulli(probs[j])
        probs = model.probs[j]
        assert_bounded_mean(x[k == j].mean(0), probs, probs * (1 - probs), int((k == j).sum()), f"component {j}")


@pytest.mark.parametrize("smoothing", [0.0, 1e-2, 1.0])
@pytest.mark.parametrize("num_components", [2, 8])
def test_em_objective_never_decreases_on_mnist(smoothing, num_components):
    x, _ = load_mnist("train")
    x = binarize_fixed(x[:400]).double()
    model, objective = fit_mixture(x, num_components, num_iters=15, smoothing=smoothing,
                                   generator=torch.Generator().manual_seed(7))
    assert len(objective) == 16
    steps = torch.tensor(objective).diff()
    assert (steps >= -1e-9).all(), f"EM decreased its objective: steps {steps.tolist()}"
    assert objective[-1] > -784 * math.log(2)  # better than the uniform model
    torch.testing.assert_close(model.log_weights.exp().sum(), torch.tensor(1.0, dtype=torch.float64))
    if smoothing == 0:  # then the objective is exactly the mean log-likelihood
        assert objective[-1] == pytest.approx(mixture_log_prob(model, x).mean().item(), abs=1e-4)


def test_em_mixture_beats_the_independent_model_on_held_out_mnist():
    x, _ = load_mnist("train")
    x_train, x_test = binarize_fixed(x[:2000]), binarize_fixed(x[2000:3000])
    mixture, _ = fit_mixture(x_train, 10, num_iters=10, generator=torch.Generator().manual_seed(8))
    independent = fit_bernoulli(x_train, smoothing=1e-2)
    assert mixture_log_prob(mixture, x_test).mean() > bernoulli_log_prob(independent, x_test).mean() + 20


@pytest.mark.parametrize("call, message", [
    (lambda: fit_bernoulli(torch.full((3, D), 2.0)), r"\[0, 1\]"),
    (lambda: fit_bernoulli(torch.full((3, D), 255, dtype=torch.uint8)), "divide by 255"),
    (lambda: fit_bernoulli(torch.zeros(D)), "single image"),
    (lambda: fit_bernoulli(torch.zeros(3, D), smoothing=-1.0), "pseudo-count"),
    (lambda: bernoulli_log_prob(torch.full((D + 1,), 0.5), torch.zeros(3, D)), "pixels"),
    (lambda: bernoulli_log_prob(torch.full((D,), 1.5), torch.zeros(3, D)), "logits"),
    (lambda: bernoulli_log_prob(torch.full((D,), 0.5), -torch.ones(3, D)), r"\[0, 1\]"),
    (lambda: bernoulli_log_prob(torch.full((D,), 0.5), torch.zeros(3, D), torch.ones(D + 1)), "mask"),
    (lambda: bernoulli_log_prob(torch.full((D,), 0.5), torch.zeros(3, D), torch.full((D,), 0.3)), "mask"),
    (lambda: fit_classifier(torch.zeros(3, D), torch.tensor([0, 1])), "labels"),
    (lambda: fit_classifier(torch.zeros(3, D), torch.tensor([0.0, 1.0, 1.0])), "labels"),
    (lambda: fit_classifier(torch.zeros(3, D), torch.tensor([0, 2, 2])), "no training images"),
    (lambda: fit_classifier(torch.zeros(3, D), torch.tensor([0, 1, 3]), num_classes=3), "labels must lie"),
    (lambda: fit_mixture(torch.zeros(3, D), num_components=4), "num_components"),
    (lambda: complete_pixels(_mixture(), torch.zeros(2, D, dtype=torch.float64), torch.ones(3, 4, 2)), "mask"),
    (lambda: mixture_log_prob(_mixture(), torch.zeros(2, D + 1, dtype=torch.float64)), "pixels"),
])
def test_bad_inputs_raise_value_errors_that_say_what_is_wrong(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_component_log_probs_is_each_components_log_prob_by_torch():
    x, _ = _data(9)
    model = _mixture(4)
    expected = Independent(Bernoulli(probs=model.probs), 1).log_prob(x[:, None, :])  # (N, K)
    torch.testing.assert_close(component_log_probs(model.probs, x), expected)
    mask = torch.arange(D) % 3 > 0
    visible = Independent(Bernoulli(probs=model.probs[:, mask]), 1).log_prob(x[:, None, mask])
    torch.testing.assert_close(component_log_probs(model.probs, x, mask), visible)


def test_mixture_log_joint_adds_the_log_weights_to_torchs_component_log_probs():
    x, _ = _data(9)
    model = _mixture(4)
    expected = model.log_weights + Independent(Bernoulli(probs=model.probs), 1).log_prob(x[:, None, :])
    torch.testing.assert_close(mixture_log_joint(model, x), expected)
    with pytest.raises(ValueError, match="weights for 4 components"):
        mixture_log_joint(BernoulliMixture(model.log_weights[:3], model.probs), x)


def test_check_mask_accepts_one_mask_or_one_per_image():
    one = torch.arange(D).reshape(3, 4) % 2
    assert torch.equal(check_mask(one, D, 2), (torch.arange(D) % 2).bool())  # (D,), shared by every image
    per_image = torch.rand(2, D, generator=torch.Generator().manual_seed(0)) > 0.5
    assert torch.equal(check_mask(per_image.float(), D, 2), per_image)  # (N, D)
    with pytest.raises(ValueError, match="one mask of 12 pixels"):
        check_mask(torch.ones(3, D), D, 2)
    with pytest.raises(ValueError, match="one mask of 12 pixels"):
        check_mask(per_image, D)  # a caller that takes one mask for all images gives no num_images
    with pytest.raises(ValueError, match="0s and 1s"):
        check_mask(torch.full((D,), 0.5), D)


def test_a_classifier_built_by_hand_classifies_by_bayes_rule():
    probs = torch.tensor([[0.9, 0.9, 0.1], [0.1, 0.1, 0.9]], dtype=torch.float64)
    model = BernoulliClassifier(probs=probs, log_prior=torch.tensor([0.5, 0.5], dtype=torch.float64).log())
    x = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 1.0]], dtype=torch.float64)
    # p(x | c) by hand, with equal priors: image 0 is 0.9³ under class 0 and 0.1³ under class 1;
    # image 2 is 0.9·0.1·0.1 = 0.009 under class 0 and 0.1·0.9·0.9 = 0.081 under class 1.
    posterior = class_posterior(model, x)
    expected = torch.tensor([[0.9**3, 0.1**3], [0.009, 0.081]], dtype=torch.float64)
    torch.testing.assert_close(posterior[[0, 2]], expected / expected.sum(-1, keepdim=True))
    assert classify(model, x).tolist() == [0, 1, 1]
    assert isinstance(fit_classifier(x, torch.tensor([0, 1, 1])), BernoulliClassifier)


def test_sampling_returns_draws_and_checks_its_arguments():
    probs = torch.tensor([0.0, 1.0, 0.5])
    draws = sample_bernoulli(probs, 4, torch.Generator().manual_seed(0))
    assert draws.shape == (4, 3) and (draws[:, 0] == 0).all() and (draws[:, 1] == 1).all()
    x, k = sample_mixture(_mixture(), 5, torch.Generator().manual_seed(0))
    assert x.shape == (5, D) and k.shape == (5,)
    with pytest.raises(ValueError, match="num_samples must be a positive int"):
        sample_bernoulli(probs, 0)
    with pytest.raises(ValueError, match=r"shaped \(D,\)"):
        sample_bernoulli(probs[None], 2)
