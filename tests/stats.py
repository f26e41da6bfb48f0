"""The suite's one rule for stochastic checks: a correct implementation fails a check with probability below 1e-6.

    from tests.stats import assert_within_se

    runs = torch.stack([estimator(seed=s) for s in range(200)])
    assert_within_se(runs.mean(0), exact, runs.std(0) / math.sqrt(len(runs)), "the ELBO estimate")

An estimate whose standard error is `se` is off by more than `z * se` with probability
P(|N(0, 1)| > z) = erfc(z / sqrt(2)) (its error is Gaussian by the central limit theorem). Setting that to
FAILURE_PROBABILITY and solving gives z = Phi^-1(1 - FAILURE_PROBABILITY / 2) = 4.89. A check of n values at
once fails if any one does: by the union bound it stays below FAILURE_PROBABILITY when each value gets
FAILURE_PROBABILITY / n, so its z grows with n (5.33 for 10 values, 6.11 for 1,000).

The tolerance is z standard errors and nothing else: never add a multiple of the estimator's own noise
(a term that grows as the estimate gets worse), and never widen it with a relative tolerance.
A standard error estimated from the draws themselves (`std / sqrt(n)`) is itself noisy; with n >= 1000
draws Student's t quantile is within 1% of z (4.92), so use at least that many, or a standard error known in
closed form.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import torch

FAILURE_PROBABILITY = 1e-6  # the chance that a correct implementation fails one check


def z_value(count: int = 1) -> float:
    """How many standard errors a check of `count` values may be off (two-sided, union bound over the values)."""
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive int (the number of values checked at once), got {count!r}")
    return NormalDist().inv_cdf(1 - FAILURE_PROBABILITY / (2 * count))


Z = z_value()  # 4.89: one value, two-sided


def assert_within_se(estimate, expected, standard_error, what: str) -> None:
    """Assert |estimate - expected| <= z * standard_error for every value (z from FAILURE_PROBABILITY)."""
    estimate, expected, standard_error = (torch.as_tensor(v, dtype=torch.float64) for v in
                                          (estimate, expected, standard_error))
    error = (estimate - expected).abs()
    if not torch.isfinite(estimate).all():
        raise AssertionError(f"{what}: the estimate is not finite: {estimate}")
    if not (torch.isfinite(standard_error).all() and (standard_error >= 0).all()):
        raise ValueError(f"{what}: the standard error must be finite and non-negative, got {standard_error}")
    error, standard_error = torch.broadcast_tensors(error, standard_error)
    z = z_value(error.numel())
    outside = error > z * standard_error
    if outside.any():
        # the worst value, in standard errors (inf where the standard error is 0)
        ratio = torch.where(standard_error > 0, error / standard_error, torch.where(outside, math.inf, 0.0))
        worst = int(ratio.argmax())
        index = tuple(int(i) for i in torch.unravel_index(torch.tensor(worst), error.shape)) if error.dim() else ()
        est, exp = torch.broadcast_tensors(estimate, expected)
        raise AssertionError(
            f"{what}: {int(outside.sum())} of {error.numel()} values are more than {z:.2f} standard errors off "
            f"(a correct implementation fails this with probability {FAILURE_PROBABILITY:g}); the worst"
            f"{f' at {index}' if index else ''}: estimate {est.reshape(-1)[worst].item():.6g}, expected "
            f"{exp.reshape(-1)[worst].item():.6g}, off by {ratio.reshape(-1)[worst].item():.2f} standard errors "
            f"of {standard_error.reshape(-1)[worst].item():.3g}")


def assert_not_below(estimate, bound, standard_error, what: str) -> None:
    """Assert estimate >= bound - z * standard_error for every value: a one-sided check with the same z."""
    estimate, bound, standard_error = (torch.as_tensor(v, dtype=torch.float64) for v in
                                       (estimate, bound, standard_error))
    shortfall = (bound - estimate).clamp(min=0)
    # one-sided, the same z fails with half the probability: within the policy
    assert_within_se(bound - shortfall, bound, standard_error, what)
