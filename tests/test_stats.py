"""tests/stats.py: the one tolerance rule of the suite's stochastic checks."""

import math

import pytest
import torch

from tests.stats import FAILURE_PROBABILITY, Z, assert_not_below, assert_within_se, z_value

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
