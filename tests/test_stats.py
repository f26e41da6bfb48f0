"""tests/stats.py: the one tolerance rule of the suite's stochastic checks."""

import math

import pytest
import torch

from tests.stats import (
    FAILURE_PROBABILITY,
    Z,
    assert_bounded_mean,
    assert_not_below,
    assert_within_se,
    bernstein_radius,
    regularized_beta,
    t_tail,
    t_value,
    z_value,
)

pytestmark = pytest.mark.unit


def test_z_fails_a_correct_check_with_the_stated_probability():
    # P(|N(0,1)| > z) = erfc(z / sqrt(2)), computed independently of NormalDist's inverse
    assert math.erfc(Z / math.sqrt(2)) == pytest.approx(FAILURE_PROBABILITY, rel=1e-6)
    assert 4.89 < Z < 4.90
    assert 10 * math.erfc(z_value(10) / math.sqrt(2)) == pytest.approx(FAILURE_PROBABILITY, rel=1e-6)
    with pytest.raises(ValueError, match="positive int"):
        z_value(0)


def test_within_passes_inside_and_fails_outside_z_standard_errors():
    assert_within_se(1.0 + 4.8 * 0.1, 1.0, 0.1, "a scalar")
    with pytest.raises(AssertionError, match=r"a scalar: 1 of 1 values .* 4\.90 standard errors"):
        assert_within_se(1.0 + 4.9 * 0.1, 1.0, 0.1, "a scalar")


def test_a_check_of_many_values_takes_the_union_bound_and_names_the_worst():
    estimate = torch.zeros(3, 4)
    estimate[1, 2] = 5.0  # over 4.89 standard errors, yet inside the z for 12 values (5.36)
    assert_within_se(estimate, 0.0, 1.0, "a matrix")
    estimate[2, 3] = 6.0
    with pytest.raises(AssertionError, match=r"a matrix: 1 of 12 values .* at \(2, 3\): estimate 6"):
        assert_within_se(estimate, torch.zeros(3, 4), torch.ones(3, 4), "a matrix")


def test_a_zero_standard_error_asks_for_equality_and_bad_ones_are_refused():
    assert_within_se(2.0, 2.0, 0.0, "exact")
    with pytest.raises(AssertionError, match="inf standard errors"):
        assert_within_se(2.0 + 1e-9, 2.0, 0.0, "exact")
    with pytest.raises(ValueError, match="finite and non-negative"):
        assert_within_se(1.0, 1.0, -1.0, "negative")
    with pytest.raises(AssertionError, match="not finite"):
        assert_within_se(float("nan"), 1.0, 1.0, "nan")


def test_not_below_is_one_sided():
    assert_not_below(100.0, 1.0, 0.1, "far above")
    assert_not_below(1.0 - 4.8 * 0.1, 1.0, 0.1, "a little below")
    with pytest.raises(AssertionError, match="too far below"):
        assert_not_below(1.0 - 5.0 * 0.1, 1.0, 0.1, "too far below")


def test_t_quantiles_match_the_tables_and_approach_z():
    # two-sided table values: t_{0.975, 10} = 2.228, t_{0.9995, 30} = 3.646, t_{0.995, 1} = 63.657
    assert t_tail(2.228, 10) == pytest.approx(0.05, rel=1e-3)
    assert t_tail(3.646, 30) == pytest.approx(0.001, rel=1e-3)
    assert t_tail(63.657, 1) == pytest.approx(0.01, rel=1e-4)
    # one degree of freedom is the Cauchy law: P(|T| > t) = 1 - 2 atan(t) / pi, so t = cot(pi p / 2)
    assert t_value(1, 1) == pytest.approx(1 / math.tan(math.pi * FAILURE_PROBABILITY / 2), rel=1e-9)
    # two degrees of freedom: P(|T| > t) = 1 - t / sqrt(2 + t^2), so t = (1 - p) sqrt(2 / (1 - (1 - p)^2))
    p = FAILURE_PROBABILITY / 3
    assert t_value(3, 2) == pytest.approx((1 - p) * math.sqrt(2 / (1 - (1 - p) ** 2)), rel=1e-9)
    assert regularized_beta(2.0, 3.0, 0.4) == pytest.approx(0.5248, abs=1e-12)  # 1 - Σ_{j<2} C(4,j) .4^j .6^(4-j)
    quantiles = [t_value(1, dof) for dof in (10, 30, 199, 999, 10**6)]
    assert quantiles == sorted(quantiles, reverse=True) and quantiles[-1] > Z  # heavier tails, shrinking to z
    assert t_value(1, 10**8) == pytest.approx(Z, rel=1e-6) and t_value(1, math.inf) == Z
    assert 5.0 < t_value(1, 199) < 5.1 and t_value(1, 999) / Z < 1.01
    with pytest.raises(ValueError, match="dof must be positive"):
        t_value(1, 0)


def test_draws_take_the_t_quantile():
    se, t = 0.1, t_value(1, 199)
    assert_within_se(1.0 + 0.99 * t * se, 1.0, se, "estimated", draws=200)  # beyond z, inside t
    with pytest.raises(AssertionError, match=r"estimated: 1 of 1 values .* 5\.05 standard errors"):
        assert_within_se(1.0 + 1.01 * t * se, 1.0, se, "estimated", draws=200)
    with pytest.raises(ValueError, match="draws must be an int >= 2"):
        assert_within_se(1.0, 1.0, se, "one draw", draws=1)


def test_a_bias_bound_widens_by_itself_and_nothing_else():
    assert_within_se(1.0 + 4.8 * 0.1 + 0.05, 1.0, 0.1, "biased", bias_bound=0.05)
    with pytest.raises(AssertionError, match=r"off by 4\.95 standard errors of 0\.1 beyond the bias bound 0\.05"):
        assert_within_se(1.0 + 4.95 * 0.1 + 0.05, 1.0, 0.1, "biased", bias_bound=0.05)
    with pytest.raises(ValueError, match="bias bound must be finite and non-negative"):
        assert_within_se(1.0, 1.0, 0.1, "negative bias", bias_bound=-1.0)


def test_a_mean_off_by_a_few_standard_errors_fails():
    """Negative control of the helper on real draws: a sample whose mean is shifted by 12 standard errors."""
    draws = torch.randn(1000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    shifted = draws + 12 / math.sqrt(1000)  # the true mean is now 12 standard errors from 0
    se = shifted.std() / math.sqrt(1000)
    # passing needs noise of more than 12 - 4.92 = 7 standard errors against the shift: probability below 1e-11
    with pytest.raises(AssertionError, match="the shifted mean"):
        assert_within_se(shifted.mean(), 0.0, se, "the shifted mean", draws=1000)
    assert_within_se(draws.mean(), 0.0, draws.std() / math.sqrt(1000), "the unshifted mean", draws=1000)


def test_bernstein_radius_holds_for_rare_events_and_catches_a_shifted_mean():
    # one value, p = 1/2, n = 400: L = ln(2e6) = 14.5, r = (L/3 + sqrt(L^2/9 + 2 n p (1 - p) L)) / n
    log_term = math.log(2 / FAILURE_PROBABILITY)
    expected = (log_term / 3 + math.sqrt(log_term**2 / 9 + 2 * 400 * 0.25 * log_term)) / 400
    assert bernstein_radius(0.25, 400).item() == pytest.approx(expected, rel=1e-12)
    # a rare event: p = 0.0025 in 400 draws (one success expected). The binomial tail beyond the radius, summed
    # exactly, is below the failure probability (the normal law's 4.89 standard errors would allow only 0.017)
    p, n = 0.0025, 400
    radius = bernstein_radius(p * (1 - p), n).item()
    tail = sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(n + 1) if abs(j / n - p) > radius)
    assert tail < FAILURE_PROBABILITY and radius > Z * math.sqrt(p * (1 - p) / n)
    # for p = 1/2 the radius of two values at n = 400 is 0.150: off by 0.1 passes, off by 0.2 fails
    assert_bounded_mean(torch.tensor([0.0025, 0.5]), torch.tensor([0.0025, 0.4]), torch.tensor([0.0025, 0.25]), n,
                        "inside")
    with pytest.raises(AssertionError, match="shifted: 1 of 2 values"):
        assert_bounded_mean(torch.tensor([0.0025, 0.7]), torch.tensor([0.0025, 0.5]), torch.tensor([0.0025, 0.25]),
                            n, "shifted")
