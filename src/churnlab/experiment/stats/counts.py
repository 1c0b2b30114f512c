"""Effects on a binary metric that stay valid with few successes: score test, Newcombe and MOVER-R intervals.

A Wald interval and test use each arm's own ``p (1 - p)``; with a small holdout and a rare outcome the
holdout's variance is often estimated near zero (exactly zero when it has no success), and the test rejects
far too often (n = 1,000 at 10/90 with a 5% base rate: 8% of A/A tests). The score test uses the variance
under the null (the pooled rate) and the score intervals are built from Wilson intervals of each arm.
"""

from __future__ import annotations

import numpy as np

from churnlab.experiment.stats.core import _check_n, p_value_from_z
from churnlab.experiment.stats.effects import two_proportion_z
from churnlab.intervals import mover_ratio_interval, newcombe_difference_interval

__all__ = ["score_difference", "score_ratio"]


def _score_z(x_t: float, n_t: float, x_c: float, n_c: float) -> tuple[float, float]:
    z = two_proportion_z(x_t, n_t, x_c, n_c)
    pooled = (x_t + x_c) / (n_t + n_c)
    return z, float(np.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c)))


def score_difference(
    x_t: float, n_t: float, x_c: float, n_c: float, alpha: float = 0.05, sides: int = 2
) -> tuple[float, float, float, float, float]:
    """Return the difference of two proportions with its null standard error, score interval and p-value.

    Parameters
    ----------
    x_t, n_t : float
        Successes and customers in the treated arm.
    x_c, n_c : float
        Successes and customers in the control arm (``x_c`` may be 0).
    alpha : float
        Level of the interval and test.
    sides : {1, 2}
        Two-sided, or one-sided (``H1: p_t > p_c``, upper bound infinite).

    Returns
    -------
    (estimate, se, lower, upper, p) : tuple of float
        ``p_t - p_c``; ``se = sqrt(p (1 - p) (1/n_t + 1/n_c))`` at the pooled rate ``p``; Newcombe's hybrid
        score interval; the pooled (score) z-test p-value.

    Raises
    ------
    AnalysisError
        When an arm has fewer than 2 customers or every outcome is identical.

    References
    ----------
    .. [1] Newcombe RG (1998) Interval estimation for the difference between independent proportions:
       comparison of eleven methods. Statistics in Medicine 17, 873-890 (method 10).
    .. [2] Agresti A (2013) Categorical Data Analysis, 3rd ed., sec. 3.1 (score test of equal proportions).

    Examples
    --------
    Newcombe (1998), example (a): 56/70 vs 48/80.

    >>> est, se, lo, hi, p = score_difference(56, 70, 48, 80)
    >>> round(lo, 4), round(hi, 4), round(p, 3)
    (0.0524, 0.3339, 0.008)
    """
    _check_n(n_t, n_c)
    z, se = _score_z(x_t, n_t, x_c, n_c)
    lo, hi = newcombe_difference_interval(x_t, n_t, x_c, n_c, alpha if sides == 2 else 2 * alpha)
    upper = float(hi) if sides == 2 else float("inf")
    return float(x_t / n_t - x_c / n_c), se, float(lo), upper, p_value_from_z(z, sides)


def score_ratio(
    x_t: float, n_t: float, x_c: float, n_c: float, alpha: float = 0.05, sides: int = 2
) -> tuple[float, float, float, float, float]:
    """Return the relative effect ``p_t / p_c - 1`` with a MOVER-R interval and the score-test p-value.

    Parameters
    ----------
    x_t, n_t, x_c, n_c : float
        Successes and customers in the treated and control arm.
    alpha : float
        Level of the interval and test.
    sides : {1, 2}
        Two-sided, or one-sided (upper bound infinite).

    Returns
    -------
    (estimate, se, lower, upper, p) : tuple of float
        ``p_t / p_c - 1`` (infinite when the holdout has no success); the delta-method standard error of the
        ratio (NaN when ``p_c = 0``); the MOVER-R interval minus 1, never below -100% and unbounded above when
        ``x_c = 0``; the score-test p-value (equal ratios and equal proportions are the same null).

    Raises
    ------
    AnalysisError
        When an arm has fewer than 2 customers or every outcome is identical.

    References
    ----------
    .. [1] Donner A, Zou GY (2012) Closed-form confidence intervals for functions of the normal mean and
       standard deviation. Statistical Methods in Medical Research 21 (MOVER-R).

    Examples
    --------
    >>> est, se, lo, hi, p = score_ratio(6, 900, 0, 100)
    >>> est, hi, round(lo, 3) > -1
    (inf, inf, True)
    """
    _check_n(n_t, n_c)
    z, _ = _score_z(x_t, n_t, x_c, n_c)
    lo, hi = mover_ratio_interval(x_t, n_t, x_c, n_c, alpha if sides == 2 else 2 * alpha)
    pt, pc = x_t / n_t, x_c / n_c
    if pc > 0:
        est = pt / pc - 1
        se = float(np.sqrt(pt * (1 - pt) / (n_t * pc**2) + pt**2 * pc * (1 - pc) / (n_c * pc**4)))
    else:
        est, se = float("inf"), float("nan")
    upper = float(hi) - 1 if sides == 2 else float("inf")
    return float(est), se, float(lo) - 1, upper, p_value_from_z(z, sides)
