"""Power, minimum detectable effect and sample size of the z-test at an actual (unequal) allocation."""

from __future__ import annotations

import numpy as np
from scipy import stats as _st

from churnlab.errors import AnalysisError
from churnlab.experiment.checks import check_probability
from churnlab.experiment.stats.core import z_critical

__all__ = [
    "power",
    "minimum_detectable_effect",
    "sample_size",
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
