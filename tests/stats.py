"""The suite's one rule for stochastic checks: a correct implementation fails a check with probability below 1e-6.

    from tests.stats import assert_within_se

    runs = torch.stack([estimator(seed=s) for s in range(200)])
    assert_within_se(runs.mean(0), exact, runs.std(0) / math.sqrt(len(runs)), "the ELBO estimate", draws=len(runs))

An estimate whose standard error is `se` is off by more than `z * se` with probability
P(|N(0, 1)| > z) = erfc(z / sqrt(2)) (its error is Gaussian by the central limit theorem). Setting that to
FAILURE_PROBABILITY and solving gives z = Phi^-1(1 - FAILURE_PROBABILITY / 2) = 4.89. A check of n values at
once fails if any one does: by the union bound it stays below FAILURE_PROBABILITY when each value gets
FAILURE_PROBABILITY / n, so its z grows with n (5.33 for 10 values, 6.11 for 1,000).

The tolerance is z standard errors and nothing else: never add a multiple of the estimator's own noise
(a term that grows as the estimate gets worse), and never widen it with a relative tolerance.
A standard error estimated from the n draws themselves (`std / sqrt(n)`) is itself noisy: then
(mean - expected) / se follows Student's t with n - 1 degrees of freedom (exactly for normal draws, and
nearly for draws that are themselves averages), whose tails are heavier than the normal's. Pass `draws=n`
and the check takes t's quantile, t_value(count, n - 1), instead of z (5.05 rather than 4.89 for
n = 200, 4.92 for n = 1000).
For the difference of two means with estimated standard errors pass the smaller n: Welch's
degrees of freedom are never below min(n1, n2) - 1.

A deterministic bound on the estimator's bias, derived before the run (a theorem, a closed form, a
quadrature: never the run's own variance or effective sample size), may be added as `bias_bound`;
the check then allows |error| <= quantile * se + bias_bound.

Means of bounded draws whose distribution is far from normal (a Bernoulli frequency of a rare event) go
through assert_bounded_mean instead: Bernstein's inequality, with no central limit theorem, at the same
FAILURE_PROBABILITY.
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


def _continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (Numerical Recipes 6.4, modified Lentz)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 10_000):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d, c = 1.0 + numerator * d, 1.0 + numerator / c
            d, c = 1.0 / (d if abs(d) > tiny else tiny), c if abs(c) > tiny else tiny
            result *= d * c
        if abs(d * c - 1.0) < 1e-15:
            return result
    raise ArithmeticError(f"the incomplete beta fraction did not converge for a={a}, b={b}, x={x}")


def regularized_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the regularized incomplete beta function, for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0 or x >= 1.0:
        return 0.0 if x <= 0.0 else 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):  # the fraction converges fast here; elsewhere use I_x(a, b) = 1 - I_1-x(b, a)
        return math.exp(log_front) * _continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _continued_fraction(b, a, 1.0 - x) / b


def t_tail(t: float, dof: float) -> float:
    """P(|T| > t) for Student's t with `dof` degrees of freedom: I_{dof / (dof + t^2)}(dof / 2, 1 / 2)."""
    return regularized_beta(dof / 2, 0.5, dof / (dof + t * t))


def t_value(count: int = 1, dof: float = math.inf) -> float:
    """z_value's twin when the standard error is estimated with `dof` degrees of freedom (Student's t, two-sided)."""
    z = z_value(count)  # also checks count
    if not dof > 0:
        raise ValueError(f"dof must be positive (the number of draws minus one), got {dof!r}")
    if math.isinf(dof):
        return z
    alpha = FAILURE_PROBABILITY / count
    # P(|T| > t) = I_x(dof/2, 1/2) with x = dof / (dof + t^2) rises with x: bisect x, then t = sqrt(dof (1 - x) / x)
    low, high = 0.0, 1.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if regularized_beta(dof / 2, 0.5, middle) < alpha else (low, middle)
    return math.sqrt(dof * (1.0 - high) / high)


def assert_within_se(estimate, expected, standard_error, what: str, *, draws: int | None = None,
                     bias_bound=0.0) -> None:
    """Assert |estimate - expected| <= q * standard_error + bias_bound for every value.

    q is z_value(n) for a standard error known in closed form, t_value(n, draws - 1) for one estimated from
    `draws` draws (n: the number of values checked). bias_bound: an a-priori bound on |E[estimate] - expected|.
    """
    estimate, expected, standard_error, bias_bound = (torch.as_tensor(v, dtype=torch.float64) for v in
                                                      (estimate, expected, standard_error, bias_bound))
    if draws is not None and (not isinstance(draws, int) or draws < 2):
        raise ValueError(f"{what}: draws must be an int >= 2 (the draws behind the standard error), got {draws!r}")
    if not (torch.isfinite(bias_bound).all() and (bias_bound >= 0).all()):
        raise ValueError(f"{what}: the bias bound must be finite and non-negative, got {bias_bound}")
    error = (estimate - expected).abs()
    if not torch.isfinite(estimate).all():
        raise AssertionError(f"{what}: the estimate is not finite: {estimate}")
    if not (torch.isfinite(standard_error).all() and (standard_error >= 0).all()):
        raise ValueError(f"{what}: the standard error must be finite and non-negative, got {standard_error}")
    error, standard_error, bias_bound = torch.broadcast_tensors(error, standard_error, bias_bound)
    z = z_value(error.numel()) if draws is None else t_value(error.numel(), draws - 1)
    outside = error > z * standard_error + bias_bound
    if outside.any():
        # the worst value, in standard errors beyond the bias bound (inf where the standard error is 0)
        beyond = (error - bias_bound).clamp(min=0)
        ratio = torch.where(standard_error > 0, beyond / standard_error, torch.where(outside, math.inf, 0.0))
        worst = int(ratio.argmax())
        index = tuple(int(i) for i in torch.unravel_index(torch.tensor(worst), error.shape)) if error.dim() else ()
        est, exp = torch.broadcast_tensors(estimate, expected)
        raise AssertionError(
            f"{what}: {int(outside.sum())} of {error.numel()} values are more than {z:.2f} standard errors off "
            f"(a correct implementation fails this with probability {FAILURE_PROBABILITY:g}); the worst"
            f"{f' at {index}' if index else ''}: estimate {est.reshape(-1)[worst].item():.6g}, expected "
            f"{exp.reshape(-1)[worst].item():.6g}, off by {ratio.reshape(-1)[worst].item():.2f} standard errors "
            f"of {standard_error.reshape(-1)[worst].item():.3g}"
            f"{f' beyond the bias bound {bias_bound.reshape(-1)[worst].item():.3g}' if bias_bound.any() else ''}")


def assert_not_below(estimate, bound, standard_error, what: str, *, draws: int | None = None) -> None:
    """Assert estimate >= bound - q * standard_error for every value: one-sided, q as in assert_within_se."""
    estimate, bound, standard_error = (torch.as_tensor(v, dtype=torch.float64) for v in
                                       (estimate, bound, standard_error))
    shortfall = (bound - estimate).clamp(min=0)
    # one-sided, the same quantile fails with half the probability: within the policy
    assert_within_se(bound - shortfall, bound, standard_error, what, draws=draws)


def bernstein_radius(variance, draws: int, value_range: float = 1.0, count: int = 1) -> torch.Tensor:
    """How far the mean of `draws` bounded draws may stray: Bernstein's inequality at FAILURE_PROBABILITY / count."""
    if not isinstance(draws, int) or draws < 1:
        raise ValueError(f"draws must be a positive int (the draws averaged), got {draws!r}")
    # P(|mean - E| >= r) <= 2 exp(-n r^2 / (2 var + 2 b r / 3)) for |X - E X| <= b (Bernstein 1924; e.g. Boucheron,
    # Lugosi and Massart 2013, Theorem 2.10). Setting it to FAILURE_PROBABILITY / count and solving the quadratic in r:
    log_term = math.log(2 * count / FAILURE_PROBABILITY)
    variance = torch.as_tensor(variance, dtype=torch.float64)
    b = value_range
    return (b * log_term / 3 + torch.sqrt((b * log_term / 3) ** 2 + 2 * draws * variance * log_term)) / draws


def assert_bounded_mean(mean, expected, variance, draws: int, what: str, *, value_range: float = 1.0) -> None:
    """Assert |mean - expected| <= bernstein_radius for the mean of `draws` draws within `value_range` of their mean.

    No central limit theorem: for rare events (a Bernoulli p of 0.001 in 400 draws) the normal law's tails are
    far too light, Bernstein's bound holds for any sample size. `variance`: the draws' exact variance, a closed form.
    """
    mean, expected = (torch.as_tensor(v, dtype=torch.float64) for v in (mean, expected))
    if not torch.isfinite(mean).all():
        raise AssertionError(f"{what}: the mean is not finite: {mean}")
    error = (mean - expected).abs()
    radius = bernstein_radius(variance, draws, value_range, error.numel())
    error, radius = torch.broadcast_tensors(error, radius)
    outside = error > radius
    if outside.any():
        worst = int((error - radius).argmax())
        raise AssertionError(
            f"{what}: {int(outside.sum())} of {error.numel()} values are further off than Bernstein's bound for "
            f"{draws} draws allows (a correct implementation fails this with probability {FAILURE_PROBABILITY:g}); "
            f"the worst: off by {error.reshape(-1)[worst].item():.4g}, allowed {radius.reshape(-1)[worst].item():.4g}")
