"""Confidence intervals and a test for proportions: one formula per function.

Every function is vectorised: counts may be scalars or arrays of the same shape, and the result has
that shape. Inputs are sufficient statistics (successes and trials), so strata pool by adding them.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = [
    "z_value",
    "wilson_interval",
    "newcombe_difference_interval",
    "two_proportion_z_test",
    "risk_ratio_interval",
    "mover_ratio_interval",
]


def z_value(alpha: float = 0.05) -> float:
    """Two-sided standard normal quantile ``z_{1 - alpha / 2}`` (1.959964 for ``alpha=0.05``)."""
    return float(stats.norm.ppf(1.0 - alpha / 2.0))


def wilson_interval(successes, n, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion.

    Parameters
    ----------
    successes : int or array of int
        Number of successes ``x``.
    n : int or array of int
        Number of trials; where ``n == 0`` both bounds are NaN.
    alpha : float
        One minus the confidence level.

    Returns
    -------
    (lower, upper) : tuple of ndarray
        Bounds within [0, 1].

    Notes
    -----
    With ``p = x / n`` and ``z = z_{1-alpha/2}``::

        centre = (p + z^2 / (2n)) / (1 + z^2 / n)
        half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / (4 n^2))

    Unlike the Wald interval it stays inside [0, 1] and keeps its coverage near 0 and 1.

    References
    ----------
    .. [1] Wilson, E. B. (1927) Probable inference, the law of succession, and statistical
       inference. JASA 22, 209-212.
    .. [2] Newcombe, R. G. (1998) Two-sided confidence intervals for the single proportion:
       comparison of seven methods. Statistics in Medicine 17, 857-872 (81/263 -> 0.2553-0.3662).

    Examples
    --------
    >>> lo, hi = wilson_interval(81, 263)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.2553, 0.3662)
    """
    x = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    z = z_value(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / m
        denom = 1.0 + z**2 / m
        centre = (p + z**2 / (2.0 * m)) / denom
        half = z / denom * np.sqrt(p * (1.0 - p) / m + z**2 / (4.0 * m**2))
        lower = np.where(m > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        upper = np.where(m > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return lower, upper


def newcombe_difference_interval(x1, n1, x2, n2, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe's hybrid score interval for the difference of two independent proportions ``p1 - p2``.

    Parameters
    ----------
    x1, n1 : int or array of int
        Successes and trials of the first group (e.g. exposed customers).
    x2, n2 : int or array of int
        Successes and trials of the second group (e.g. not exposed).
    alpha : float
        One minus the confidence level.

    Returns
    -------
    (lower, upper) : tuple of ndarray
        Bounds within [-1, 1]; NaN where either group is empty.

    Notes
    -----
    With Wilson bounds ``(l1, u1)`` and ``(l2, u2)`` of each proportion and ``d = p1 - p2``::

        lower = d - sqrt((p1 - l1)^2 + (u2 - p2)^2)
        upper = d + sqrt((u1 - p1)^2 + (p2 - l2)^2)

    Method 10 of Newcombe (1998); good coverage for small groups and rates near 0 or 1.

    References
    ----------
    .. [1] Newcombe, R. G. (1998) Interval estimation for the difference between independent
       proportions: comparison of eleven methods. Statistics in Medicine 17, 873-890
       (56/70 - 48/80 -> 0.0524 to 0.3339).

    Examples
    --------
    >>> lo, hi = newcombe_difference_interval(56, 70, 48, 80)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.0524, 0.3339)
    """
    x1, n1, x2, n2 = (np.asarray(a, dtype=float) for a in (x1, n1, x2, n2))
    l1, u1 = wilson_interval(x1, n1, alpha)
    l2, u2 = wilson_interval(x2, n2, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = x1 / n1, x2 / n2
        d = p1 - p2
        lower = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
        upper = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return lower, upper


def two_proportion_z_test(x1, n1, x2, n2) -> tuple[np.ndarray, np.ndarray]:
    """Pooled two-sided z-test of ``p1 == p2`` for two independent proportions.

    Parameters
    ----------
    x1, n1, x2, n2 : int or array of int
        Successes and trials of each group.

    Returns
    -------
    (z, p_value) : tuple of ndarray
        The statistic and its two-sided p-value; NaN where a group is empty or the pooled rate is 0
        or 1 (no variance: nothing to test).

    Notes
    -----
    ``p = (x1 + x2) / (n1 + n2)``, ``z = (x1/n1 - x2/n2) / sqrt(p (1 - p) (1/n1 + 1/n2))``,
    ``p_value = 2 (1 - Phi(|z|))``. Equivalent to the chi-square test of the 2x2 table without
    continuity correction (``scipy.stats.chi2_contingency(..., correction=False)``).

    References
    ----------
    .. [1] Agresti, A. (2013) Categorical Data Analysis, 3rd ed., section 3.1.

    Examples
    --------
    >>> z, p = two_proportion_z_test(56, 70, 48, 80)
    >>> round(float(z), 2), round(float(p), 3)
    (2.65, 0.008)
    """
    x1, n1, x2, n2 = (np.asarray(a, dtype=float) for a in (x1, n1, x2, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (x1 + x2) / (n1 + n2)
        se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
        z = np.where(se > 0, (x1 / n1 - x2 / n2) / se, np.nan)
        p = np.where(np.isfinite(z), 2.0 * stats.norm.sf(np.abs(z)), np.nan)
    return z, p


def risk_ratio_interval(x1, n1, x2, n2, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Risk ratio ``p1 / p2`` of two independent proportions with Katz's log interval.

    Parameters
    ----------
    x1, n1, x2, n2 : int or array of int
        Successes and trials of each group.
    alpha : float
        One minus the confidence level.

    Returns
    -------
    (ratio, lower, upper) : tuple of ndarray
        NaN where either group has no successes or no trials (the log interval is undefined).

    Notes
    -----
    ``se(log RR) = sqrt(1/x1 - 1/n1 + 1/x2 - 1/n2)``; bounds ``RR * exp(+- z se)``.

    References
    ----------
    .. [1] Katz, D., Baptista, J., Azen, S. P. and Pike, M. C. (1978) Obtaining confidence
       intervals for the risk ratio in cohort studies. Biometrics 34, 469-474.

    Examples
    --------
    >>> rr, lo, hi = risk_ratio_interval(20, 100, 10, 100)
    >>> round(float(rr), 2), round(float(lo), 3), round(float(hi), 3)
    (2.0, 0.987, 4.054)
    """
    x1, n1, x2, n2 = (np.asarray(a, dtype=float) for a in (x1, n1, x2, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (x1 > 0) & (x2 > 0) & (n1 > 0) & (n2 > 0)
        rr = np.where((n1 > 0) & (n2 > 0) & (x2 > 0), (x1 / n1) / (x2 / n2), np.nan)
        se = np.sqrt(1.0 / x1 - 1.0 / n1 + 1.0 / x2 - 1.0 / n2)
        z = z_value(alpha)
        lower = np.where(ok, rr * np.exp(-z * se), np.nan)
        upper = np.where(ok, rr * np.exp(z * se), np.nan)
    return rr, lower, upper


def mover_ratio_interval(x1, n1, x2, n2, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """MOVER-R interval for the ratio ``p1 / p2`` of two independent proportions, from Wilson bounds.

    Parameters
    ----------
    x1, n1, x2, n2 : int or array of int
        Successes and trials of each group (``x2`` may be 0: the upper bound is then infinite).
    alpha : float
        One minus the confidence level.

    Returns
    -------
    (lower, upper) : tuple of ndarray
        Bounds of the ratio, ``0 <= lower <= upper <= inf``; NaN where a group is empty or both have
        no successes.

    Notes
    -----
    With Wilson bounds ``(l1, u1)``, ``(l2, u2)`` and ``p1 = x1/n1``, ``p2 = x2/n2``::

        lower = (p1 p2 - sqrt((p1 p2)^2 - l1 u2 (2 p1 - l1)(2 p2 - u2))) / (u2 (2 p2 - u2))
        upper = (p1 p2 + sqrt((p1 p2)^2 - u1 l2 (2 p1 - u1)(2 p2 - l2))) / (l2 (2 p2 - l2))

    Unlike Katz's log interval it exists with zero successes in a group, never goes below 0 (a relative
    effect below -100%), and is asymmetric the way the ratio's sampling distribution is when a group is small.

    References
    ----------
    .. [1] Donner A, Zou GY (2012) Closed-form confidence intervals for functions of the normal mean and
       standard deviation. Statistical Methods in Medical Research 21, 347-359 (MOVER-R).
    .. [2] Newcombe RG (2013) Confidence Intervals for Proportions and Related Measures of Effect Size,
       ch. 10 (MOVER-R with Wilson intervals for a ratio of proportions).

    Examples
    --------
    >>> lo, hi = mover_ratio_interval(20, 100, 10, 100)
    >>> round(float(lo), 3), round(float(hi), 3)
    (1.001, 3.998)
    """
    x1, n1, x2, n2 = (np.asarray(a, dtype=float) for a in (x1, n1, x2, n2))
    l1, u1 = wilson_interval(x1, n1, alpha)
    l2, u2 = wilson_interval(x2, n2, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = x1 / n1, x2 / n2
        prod = p1 * p2
        lower = (prod - np.sqrt(np.maximum(prod**2 - l1 * u2 * (2 * p1 - l1) * (2 * p2 - u2), 0.0))) / (
            u2 * (2 * p2 - u2))
        upper_den = l2 * (2 * p2 - l2)
        upper = np.where(upper_den > 0, (prod + np.sqrt(np.maximum(prod**2 - u1 * l2 * (2 * p1 - u1) * (2 * p2 - l2),
                                                                      0.0))) / upper_den, np.inf)
        bad = (n1 <= 0) | (n2 <= 0) | ((x1 <= 0) & (x2 <= 0))
        lower = np.where(bad, np.nan, np.maximum(lower, 0.0))
        upper = np.where(bad, np.nan, upper)
    return lower, upper
