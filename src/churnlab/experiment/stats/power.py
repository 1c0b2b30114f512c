"""Power, minimum detectable effect and sample size at an actual (unequal) allocation.

Two tests: the Wald z-test (each arm's own variance; :func:`power`, :func:`minimum_detectable_effect`,
:func:`sample_size`) and the score test of two proportions that the analysis runs on a binary metric (the
variance under the null, at the pooled rate; :func:`score_power`, :func:`score_minimum_detectable_effect`,
:func:`score_sample_size`). At a 10% holdout the score test is the more powerful of the two for a positive
effect on a rate above one half, so planning with the Wald formula understates the analysis's power.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _st
from scipy.optimize import brentq

from churnlab.errors import AnalysisError
from churnlab.experiment.checks import check_probability
from churnlab.experiment.stats.core import z_critical

__all__ = [
    "power",
    "minimum_detectable_effect",
    "sample_size",
    "score_power",
    "score_minimum_detectable_effect",
    "score_sample_size",
]


def power(
    effect: float, var_t: float, n_t: float, var_c: float, n_c: float, alpha: float = 0.05, sides: int = 2
) -> float:
    """Return the power of the z-test to detect ``effect`` at the given arm sizes.

    Parameters
    ----------
    effect : float
        True absolute effect to detect.
    var_t, var_c : float
        Outcome variance in each arm (after variance reduction, if any: CUPED multiplies it by ``1 - rho^2``).
    n_t, n_c : float
        Customers in each arm (the actual allocation, e.g. 18,000 / 2,000).
    alpha : float
        Significance level.
    sides : {1, 2}
        Two-sided (default) or one-sided test.

    Returns
    -------
    float
        ``Phi(|d|/se - z) + Phi(-|d|/se - z)`` (two-sided), ``se = sqrt(var_t/n_t + var_c/n_c)``.

    References
    ----------
    .. [1] Chow SC, Shao J, Wang H (2008) Sample Size Calculations in Clinical Research, 2nd ed., sec. 3.2.

    Examples
    --------
    The FIELD_NOTES reference: n = 20,000 at 10/90, base 70%, +2 points.

    >>> round(power(0.02, 0.72 * 0.28, 18000, 0.21, 2000), 3)
    0.458
    >>> round(power(0.02, 0.75 * 0.72 * 0.28, 18000, 0.75 * 0.21, 2000), 3)
    0.572
    """
    se = np.sqrt(var_t / n_t + var_c / n_c)
    z = z_critical(alpha, sides)
    ratio = abs(effect) / se
    if sides == 2:
        return float(_st.norm.cdf(ratio - z) + _st.norm.cdf(-ratio - z))
    return float(_st.norm.cdf(ratio - z))


def minimum_detectable_effect(
    var_t: float, n_t: float, var_c: float, n_c: float, alpha: float = 0.05, target_power: float = 0.8, sides: int = 2
) -> float:
    """Return the smallest absolute effect detectable with ``target_power`` at the given arm sizes.

    Returns
    -------
    float
        ``(z_{1-alpha/sides} + z_{power}) sqrt(var_t/n_t + var_c/n_c)``.

    References
    ----------
    .. [1] Kohavi R, Tang D, Xu Y (2020) Trustworthy Online Controlled Experiments, ch. 17.

    Examples
    --------
    >>> round(minimum_detectable_effect(0.21, 18000, 0.21, 2000), 4)
    0.0303
    """
    se = np.sqrt(var_t / n_t + var_c / n_c)
    return float((z_critical(alpha, sides) + _st.norm.ppf(check_probability(target_power, "target_power"))) * se)


def sample_size(
    var_t: float,
    var_c: float,
    effect: float,
    treated_share: float = 0.9,
    alpha: float = 0.05,
    target_power: float = 0.8,
    sides: int = 2,
) -> int:
    """Return the total number of customers needed to detect ``effect`` at a treated share.

    Returns
    -------
    int
        ``ceil((z_a + z_b)^2 (var_t / s + var_c / (1 - s)) / effect^2)`` with ``s`` the treated share.

    Notes
    -----
    At ``s = 0.5`` this is twice the textbook per-group size ``(z_a + z_b)^2 (var_t + var_c) / effect^2``.

    References
    ----------
    .. [1] Chow SC, Shao J, Wang H (2008) Sample Size Calculations in Clinical Research, 2nd ed., eq. 4.2.2.

    Examples
    --------
    >>> sample_size(0.72 * 0.28, 0.21, 0.02, treated_share=0.5)
    16153
    """
    if not 0 < treated_share < 1:
        raise AnalysisError(f"treated share must lie in (0, 1), got {treated_share}")
    if effect == 0:
        raise AnalysisError("an effect of zero needs an infinite sample")
    zsum = z_critical(alpha, sides) + _st.norm.ppf(check_probability(target_power, "target_power"))
    return int(np.ceil(zsum**2 * (var_t / treated_share + var_c / (1 - treated_share)) / effect**2))


def _score_sigmas(base_rate: float, effect: float, s_t: float, s_c: float) -> tuple[float, float]:
    """Null and alternative standard deviations of ``p_t - p_c`` per unit of ``1/sqrt(N)`` (shares ``s_t, s_c``)."""
    p_c, p_t = base_rate, base_rate + effect
    pooled = (s_t * p_t + s_c * p_c) / (s_t + s_c)
    sigma0 = np.sqrt(pooled * (1 - pooled) * (1 / s_t + 1 / s_c))
    sigma1 = np.sqrt(p_t * (1 - p_t) / s_t + p_c * (1 - p_c) / s_c)
    return float(sigma0), float(sigma1)


def score_power(
    base_rate: float, effect: float, n_t: float, n_c: float, alpha: float = 0.05, sides: int = 2,
    variance_ratio: float = 1.0,
) -> float:
    """Return the power of the score (pooled) test of two proportions at the given arm sizes.

    Parameters
    ----------
    base_rate : float
        Rate in the control arm, ``p_c``.
    effect : float
        True absolute effect ``p_t - p_c``.
    n_t, n_c : float
        Customers in each arm.
    alpha : float
        Significance level.
    sides : {1, 2}
        Two-sided (default) or one-sided (``H1: p_t > p_c``).
    variance_ratio : float
        Variance kept by CUPED, ``1 - rho^2``: multiplies both the null and the alternative variance (the
        analysis's CUPED test of a binary metric uses the adjusted variance pooled over arms).

    Returns
    -------
    float
        Two-sided ``Phi((|d| - z sigma0) / sigma1) + Phi((-|d| - z sigma0) / sigma1)`` with
        ``sigma0 = sqrt(r pbar (1 - pbar) (1/n_t + 1/n_c))`` at the pooled rate
        ``pbar = (n_t p_t + n_c p_c) / (n_t + n_c)``, ``sigma1 = sqrt(r (p_t (1 - p_t)/n_t + p_c (1 - p_c)/n_c))``
        and ``r`` the variance ratio; one-sided ``Phi((d - z sigma0) / sigma1)``.

    Notes
    -----
    The score test rejects when ``|d_hat| > z sigma0``; under the alternative ``d_hat`` is normal with mean
    ``d`` and standard deviation ``sigma1``. With equal variances (``sigma0 = sigma1``) it is the Wald power.

    References
    ----------
    .. [1] Fleiss JL, Levin B, Paik MC (2003) Statistical Methods for Rates and Proportions, 3rd ed.,
       eq. 4.14 (the pooled-variance test's sample size, here for unequal arms and read as a power).
    .. [2] Deng A, Xu Y, Kohavi R, Walker T (2013) CUPED, WSDM, sec. 3 (variance ratio ``1 - rho^2``).

    Examples
    --------
    n = 20,000 at 10/90, base 70%, +2 points (the FIELD_NOTES setting; Wald gives 0.458 there):

    >>> round(score_power(0.70, 0.02, 18000, 2000), 3)
    0.471
    """
    if sides not in (1, 2):
        raise AnalysisError(f"sides must be 1 or 2, got {sides!r}")
    sigma0, sigma1 = _score_sigmas(base_rate, effect, n_t, n_c)
    # _score_sigmas works per share of the audience; given the counts it returns the SDs of p_t - p_c themselves
    sigma0 *= np.sqrt(variance_ratio)
    sigma1 *= np.sqrt(variance_ratio)
    z = z_critical(alpha, sides)
    if sides == 2:
        d = abs(effect)
        return float(_st.norm.cdf((d - z * sigma0) / sigma1) + _st.norm.cdf((-d - z * sigma0) / sigma1))
    return float(_st.norm.cdf((effect - z * sigma0) / sigma1))


def score_minimum_detectable_effect(
    base_rate: float, n_t: float, n_c: float, alpha: float = 0.05, target_power: float = 0.8, sides: int = 2,
    variance_ratio: float = 1.0,
) -> float:
    """Return the smallest positive effect the score test detects with ``target_power`` at the given arm sizes.

    Returns
    -------
    float
        The root in ``(0, 1 - base_rate]`` of ``score_power(base_rate, d, ...) = target_power``; ``inf`` when no
        effect that keeps the rate at or below 1 reaches the target (the audience is too small for any effect).

    Notes
    -----
    The score test's variances depend on the effect, so the MDE is found by root finding (Brent's method).

    Examples
    --------
    >>> round(score_minimum_detectable_effect(0.70, 18000, 2000), 4)
    0.0297
    """
    target_power = check_probability(target_power, "target_power")

    def gap(d: float) -> float:
        return score_power(base_rate, d, n_t, n_c, alpha, sides, variance_ratio) - target_power

    top = 1.0 - base_rate
    if top <= 0 or gap(top) < 0:
        return float("inf")
    return float(brentq(gap, 1e-12, top, xtol=1e-10))


def score_sample_size(
    base_rate: float, effect: float, treated_share: float, control_share: float, alpha: float = 0.05,
    target_power: float = 0.8, sides: int = 2, variance_ratio: float = 1.0,
) -> int:
    """Return the audience at which the score test detects ``effect`` with ``target_power``.

    Parameters
    ----------
    base_rate, effect : float
        Control rate and absolute effect (``base_rate + effect`` in [0, 1], effect non-zero).
    treated_share, control_share : float
        Shares of the whole audience in the treated arm and the control arm (they need not add to 1: one arm
        of several).
    alpha, target_power : float
        Level and power.
    sides : {1, 2}
        Sidedness (the far tail of a two-sided test is neglected, as in the reference).
    variance_ratio : float
        CUPED's ``1 - rho^2``.

    Returns
    -------
    int
        ``ceil(r (z_a sigma0 + z_b sigma1)^2 / d^2)`` with ``sigma0 = sqrt(pbar (1 - pbar) (1/s_t + 1/s_c))`` at
        ``pbar = (s_t p_t + s_c p_c) / (s_t + s_c)`` and ``sigma1 = sqrt(p_t (1 - p_t)/s_t + p_c (1 - p_c)/s_c)``.

    References
    ----------
    .. [1] Fleiss JL, Levin B, Paik MC (2003) Statistical Methods for Rates and Proportions, 3rd ed., eq. 4.14.

    Examples
    --------
    >>> score_sample_size(0.70, 0.02, 0.9, 0.1)
    44581
    """
    if effect == 0:
        raise AnalysisError("an effect of zero needs an infinite sample")
    sigma0, sigma1 = _score_sigmas(base_rate, effect, treated_share, control_share)
    z_a = z_critical(alpha, sides)
    z_b = _st.norm.ppf(check_probability(target_power, "target_power"))
    return int(np.ceil(variance_ratio * (z_a * sigma0 + z_b * sigma1) ** 2 / effect**2))
