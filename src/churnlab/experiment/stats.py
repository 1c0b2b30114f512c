"""Statistical formulas of the A/B analysis, one quantity per function, from sufficient statistics.

Every function takes sufficient statistics (counts, sums, sums of squares and cross-products) that
can be added to pool strata, and returns plain numbers. The analysis in :mod:`churnlab.experiment.analysis`
wraps them into result objects; this module holds only the formulas and cites each one.

Conventions: ``t`` is the treated arm, ``c`` the control (holdout) arm; an effect is ``t - c``; a
variance of a mean is the arm's own variance divided by the arm's own n (never an equal-split n).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

from churnlab.errors import AnalysisError
from churnlab.intervals import two_proportion_z_test

__all__ = [
    "Moments",
    "moments",
    "z_critical",
    "p_value_from_z",
    "two_proportion_z",
    "absolute_effect",
    "relative_effect",
    "cuped_theta",
    "cuped_adjusted",
    "power",
    "minimum_detectable_effect",
    "sample_size",
    "holm",
    "benjamini_hochberg",
    "non_inferiority",
    "msprt_likelihood_ratio",
    "always_valid_p",
    "logrank_increments",
    "srm_chi_square",
    "binomial_band",
]


@dataclass(frozen=True, eq=False)
class Moments:
    """Sufficient statistics of an outcome and its covariates in one group.

    Column 0 is the outcome ``y``; columns 1..k are pre-period covariates ``x``. Two ``Moments`` add
    (``a + b``) to pool groups or strata.

    Parameters
    ----------
    n : int
        Number of units.
    sums : numpy.ndarray, shape (k + 1,)
        Column sums.
    cross : numpy.ndarray, shape (k + 1, k + 1)
        Sums of cross-products ``sum(z_i z_j)``.
    """

    n: int
    sums: np.ndarray
    cross: np.ndarray

    def __add__(self, other: Moments) -> Moments:
        return Moments(self.n + other.n, self.sums + other.sums, self.cross + other.cross)

    @property
    def mean(self) -> np.ndarray:
        """Column means."""
        return self.sums / self.n

    @property
    def covariance(self) -> np.ndarray:
        """Sample covariance matrix (denominator ``n - 1``)."""
        m = self.mean
        return (self.cross - self.n * np.outer(m, m)) / (self.n - 1)

    @property
    def mean_y(self) -> float:
        """Mean of the outcome."""
        return float(self.sums[0] / self.n)

    @property
    def var_y(self) -> float:
        """Sample variance of the outcome."""
        return float(self.covariance[0, 0])


def moments(y: Sequence[float], x: np.ndarray | None = None) -> Moments:
    """Return the sufficient statistics of outcome ``y`` and covariates ``x``.

    Parameters
    ----------
    y : array-like, shape (n,)
        Outcome per unit.
    x : array-like, shape (n,) or (n, k), optional
        Pre-period covariates per unit.

    Returns
    -------
    Moments

    Examples
    --------
    >>> m = moments([1.0, 0.0, 1.0, 1.0])
    >>> m.n, m.mean_y, round(m.var_y, 4)
    (4, 0.75, 0.25)
    """
    y = np.asarray(y, dtype=float).reshape(-1, 1)
    z = y if x is None else np.column_stack([y, np.asarray(x, dtype=float).reshape(len(y), -1)])
    return Moments(int(len(z)), z.sum(axis=0), z.T @ z)


def z_critical(alpha: float, sides: int = 2) -> float:
    """Return the standard-normal critical value for ``alpha`` (two- or one-sided).

    Examples
    --------
    >>> round(z_critical(0.05), 3)
    1.96
    """
    return float(_st.norm.ppf(1 - alpha / sides))


def p_value_from_z(z: float, sides: int = 2) -> float:
    """Return the p-value of a z statistic: two-sided ``2 (1 - Phi(|z|))``, one-sided ``1 - Phi(z)``.

    Examples
    --------
    >>> round(p_value_from_z(1.959964), 4)
    0.05
    """
    if sides == 2:
        return _num(2 * _st.norm.sf(np.abs(z)))
    return _num(_st.norm.sf(z))


def _check_n(n_t: float, n_c: float) -> None:
    if np.any(np.asarray(n_t) < 2) or np.any(np.asarray(n_c) < 2):
        raise AnalysisError(f"an arm has fewer than 2 customers (n_t={n_t}, n_c={n_c}): no variance to test with")


def _num(value):
    """Return a float for a scalar and an array for an array (formulas accept both)."""
    arr = np.asarray(value, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


def two_proportion_z(x_t: float, n_t: float, x_c: float, n_c: float) -> float:
    """Return the pooled two-proportion z statistic.

    Parameters
    ----------
    x_t, x_c : float
        Successes (e.g. retained customers) in the treated and control arm.
    n_t, n_c : float
        Customers in each arm.

    Returns
    -------
    float
        ``z = (p_t - p_c) / sqrt(p (1 - p) (1/n_t + 1/n_c))`` with pooled ``p = (x_t + x_c)/(n_t + n_c)``.

    Raises
    ------
    AnalysisError
        When an arm is empty or every outcome is identical (pooled p is 0 or 1).

    Notes
    -----
    The textbook test of equal proportions [1]_; it is what ``statsmodels.stats.proportion.proportions_ztest``
    computes. The analysis uses the unpooled (Wald) variance instead so that the p-value and the CI agree.

    References
    ----------
    .. [1] Agresti A (2013) Categorical Data Analysis, 3rd ed., sec. 3.1.

    Examples
    --------
    >>> round(two_proportion_z(720, 1000, 700, 1000), 4)
    0.9856
    """
    _check_n(n_t, n_c)
    p = (x_t + x_c) / (n_t + n_c)
    if p <= 0 or p >= 1:
        raise AnalysisError("identical outcomes everywhere: a proportion test has no variance")
    z, _ = two_proportion_z_test(x_t, n_t, x_c, n_c)
    return float(z)


def absolute_effect(
    mean_t: float, var_t: float, n_t: float, mean_c: float, var_c: float, n_c: float
) -> tuple[float, float]:
    """Return the absolute effect ``mean_t - mean_c`` and its standard error.

    Parameters
    ----------
    mean_t, var_t, n_t : float
        Treated arm's mean, sample variance and size.
    mean_c, var_c, n_c : float
        Control arm's mean, sample variance and size.

    Returns
    -------
    (float, float)
        Estimate and ``se = sqrt(var_t / n_t + var_c / n_c)`` (Welch, each arm's own n and variance).

    Raises
    ------
    AnalysisError
        When an arm has fewer than 2 units or both variances are zero.

    References
    ----------
    .. [1] Welch BL (1947) The generalization of Student's problem when several different
       population variances are involved. Biometrika 34.

    Scalars or arrays of the same shape (one element per simulated experiment) are accepted.

    Examples
    --------
    >>> est, se = absolute_effect(0.72, 0.2016, 18000, 0.70, 0.21, 2000)
    >>> round(est, 3), round(se, 5)
    (0.02, 0.01078)
    """
    _check_n(n_t, n_c)
    var = np.asarray(var_t / n_t + var_c / n_c)
    if not np.all(var > 0):
        raise AnalysisError("identical outcomes everywhere: the effect has zero variance")
    return _num(mean_t - mean_c), _num(np.sqrt(var))


def relative_effect(
    mean_t: float, var_t: float, n_t: float, mean_c: float, var_c: float, n_c: float
) -> tuple[float, float]:
    """Return the relative effect ``mean_t / mean_c - 1`` and its delta-method standard error.

    Parameters
    ----------
    mean_t, var_t, n_t : float
        Treated arm's mean, sample variance and size.
    mean_c, var_c, n_c : float
        Control arm's mean, sample variance and size.

    Returns
    -------
    (float, float)
        Estimate and ``se`` with ``se^2 = var_t / (n_t mean_c^2) + mean_t^2 var_c / (n_c mean_c^4)``.

    Raises
    ------
    AnalysisError
        When the control mean is zero, an arm has fewer than 2 units or both variances are zero.

    Notes
    -----
    First-order Taylor expansion of the ratio of two independent means [1]_. Each arm's own n enters
    its own term: an equal-n version gave 23% A/A false positives at a 10/90 split (FIELD_NOTES).

    References
    ----------
    .. [1] Deng A, Knoblich U, Lu J (2018) Applying the Delta Method in Metric Analytics: A Practical
       Guide with Novel Ideas. KDD 2018, sec. 3.

    Examples
    --------
    >>> est, se = relative_effect(0.72, 0.2016, 18000, 0.70, 0.21, 2000)
    >>> round(est, 4), round(se, 5)
    (0.0286, 0.0158)
    """
    _check_n(n_t, n_c)
    if np.any(np.asarray(mean_c) == 0):
        raise AnalysisError("the control mean is zero: a relative effect is undefined")
    var = np.asarray(var_t / (n_t * mean_c**2) + mean_t**2 * var_c / (n_c * mean_c**4))
    if not np.all(var > 0):
        raise AnalysisError("identical outcomes everywhere: the effect has zero variance")
    return _num(mean_t / mean_c - 1), _num(np.sqrt(var))


def cuped_theta(pooled: Moments) -> np.ndarray:
    """Return the CUPED coefficients ``theta = Cov(X)^-1 Cov(X, y)`` from pooled moments.

    Parameters
    ----------
    pooled : Moments
        Moments of outcome and k covariates pooled over all arms.

    Returns
    -------
    numpy.ndarray, shape (k,)
        One coefficient per covariate; with one covariate ``theta = cov(y, x) / var(x)``.

    Raises
    ------
    AnalysisError
        When there is no covariate or a covariate has no variance.

    References
    ----------
    .. [1] Deng A, Xu Y, Kohavi R, Walker T (2013) Improving the Sensitivity of Online Controlled
       Experiments by Utilizing Pre-Experiment Data. WSDM 2013, eq. (3) and sec. 3.3 (several covariates).

    Examples
    --------
    >>> m = moments([2.0, 4.0, 6.0, 9.0], [1.0, 2.0, 3.0, 4.0])
    >>> cuped_theta(m).round(4).tolist()
    [2.3]
    """
    cov = pooled.covariance
    if cov.shape[0] < 2:
        raise AnalysisError("CUPED needs at least one pre-period covariate")
    sxx, sxy = cov[1:, 1:], cov[1:, 0]
    if np.any(np.diag(sxx) <= 0):
        raise AnalysisError("a pre-period covariate has no variance: CUPED cannot use it")
    try:
        return np.linalg.solve(sxx, sxy)
    except np.linalg.LinAlgError as exc:
        raise AnalysisError("pre-period covariates are collinear: CUPED cannot separate them") from exc


def cuped_adjusted(m: Moments, theta: np.ndarray, x_mean: np.ndarray) -> tuple[float, float]:
    """Return one arm's CUPED-adjusted mean and variance.

    Parameters
    ----------
    m : Moments
        The arm's moments (outcome and covariates).
    theta : numpy.ndarray
        Coefficients from :func:`cuped_theta` on the pooled moments.
    x_mean : numpy.ndarray
        Pooled covariate means (any constant works; pooled keeps the adjusted mean on the outcome's scale).

    Returns
    -------
    (float, float)
        ``mean(y) - theta . (mean(x) - x_mean)`` and ``var(y) - 2 theta . cov(x, y) + theta' cov(x) theta``.

    References
    ----------
    .. [1] Deng A, Xu Y, Kohavi R, Walker T (2013) Improving the Sensitivity of Online Controlled
       Experiments by Utilizing Pre-Experiment Data. WSDM 2013, eq. (2)-(4).

    Examples
    --------
    >>> m = moments([2.0, 4.0, 6.0, 9.0], [1.0, 2.0, 3.0, 4.0])
    >>> mean, var = cuped_adjusted(m, cuped_theta(m), m.mean[1:])
    >>> round(mean, 4), round(var, 4)
    (5.25, 0.1)
    """
    cov = m.covariance
    mean = m.mean
    adj_mean = mean[0] - float(theta @ (mean[1:] - x_mean))
    adj_var = cov[0, 0] - 2 * float(theta @ cov[1:, 0]) + float(theta @ cov[1:, 1:] @ theta)
    return float(adj_mean), float(max(adj_var, 0.0))


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
    return float((z_critical(alpha, sides) + _st.norm.ppf(target_power)) * se)


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
    zsum = z_critical(alpha, sides) + _st.norm.ppf(target_power)
    return int(np.ceil(zsum**2 * (var_t / treated_share + var_c / (1 - treated_share)) / effect**2))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Return Holm step-down adjusted p-values (family-wise error control).

    References
    ----------
    .. [1] Holm S (1979) A Simple Sequentially Rejective Multiple Test Procedure. Scand J Statist 6.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p)
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Return Benjamini-Hochberg adjusted p-values (false-discovery-rate control).

    References
    ----------
    .. [1] Benjamini Y, Hochberg Y (1995) Controlling the False Discovery Rate. JRSS B 57.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.04, 0.04]
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p)[::-1]
    ranks = m - np.arange(m)
    adj = np.minimum.accumulate(p[order] * m / ranks)
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def non_inferiority(estimate: float, se: float, margin: float, higher_is_better: bool = True) -> tuple[float, float]:
    """Return the z statistic and one-sided p-value of a non-inferiority test.

    Parameters
    ----------
    estimate, se : float
        Effect (treated - control) and its standard error.
    margin : float
        Largest acceptable harm, a positive number on the effect's scale.
    higher_is_better : bool
        Whether larger values of the metric are good (harm is a negative effect).

    Returns
    -------
    (float, float)
        ``z = (estimate + margin) / se`` (or ``(margin - estimate) / se``) and ``p = 1 - Phi(z)``;
        a small p means the harm is smaller than the margin.

    References
    ----------
    .. [1] Schuirmann DJ (1987) A comparison of the two one-sided tests procedure. J Pharmacokin Biopharm 15.

    Examples
    --------
    >>> z, p = non_inferiority(-0.005, 0.01, 0.02)
    >>> round(z, 2), round(p, 4)
    (1.5, 0.0668)
    """
    if margin <= 0:
        raise AnalysisError(f"a non-inferiority margin must be positive, got {margin}")
    z = (estimate + margin) / se if higher_is_better else (margin - estimate) / se
    return float(z), p_value_from_z(z, sides=1)


def msprt_likelihood_ratio(estimate: np.ndarray, variance: np.ndarray, tau2: float) -> np.ndarray:
    """Return the mixture sequential probability ratio of a normal estimate with a normal mixture.

    Parameters
    ----------
    estimate : array-like
        Effect estimate at each look.
    variance : array-like
        Its variance at each look (``se^2``).
    tau2 : float
        Variance of the normal mixing distribution over effects (the effect size the test is tuned for).

    Returns
    -------
    numpy.ndarray
        ``Lambda = sqrt(V / (V + tau2)) exp(tau2 est^2 / (2 V (V + tau2)))``.

    References
    ----------
    .. [1] Johari R, Koomen P, Pekelis L, Walsh D (2017) Peeking at A/B Tests: Why it matters, and
       what to do about it. KDD 2017, eq. (7); journal version Operations Research 70 (2022).

    Examples
    --------
    >>> round(float(msprt_likelihood_ratio(0.0, 1.0, 1.0)), 4)
    0.7071
    """
    est = np.asarray(estimate, dtype=float)
    v = np.asarray(variance, dtype=float)
    return np.sqrt(v / (v + tau2)) * np.exp(tau2 * est**2 / (2 * v * (v + tau2)))


def always_valid_p(likelihood_ratios: np.ndarray) -> np.ndarray:
    """Return always-valid p-values ``p_n = min(1, min_{m <= n} 1 / Lambda_m)`` along the last axis.

    References
    ----------
    .. [1] Johari R, Koomen P, Pekelis L, Walsh D (2017) Peeking at A/B Tests. KDD 2017, sec. 4.

    Examples
    --------
    >>> always_valid_p([0.5, 4.0, 2.0]).tolist()
    [1.0, 0.25, 0.25]
    """
    lr = np.asarray(likelihood_ratios, dtype=float)
    return np.minimum.accumulate(np.minimum(1.0, 1.0 / lr), axis=-1)


def logrank_increments(
    at_risk_t: np.ndarray, at_risk_c: np.ndarray, events_t: np.ndarray, events_c: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the two-group log-rank score and variance increments at each event time.

    Parameters
    ----------
    at_risk_t, at_risk_c : array-like
        Customers still subscribed just before each time, per arm.
    events_t, events_c : array-like
        Churn events at each time, per arm.

    Returns
    -------
    tuple of numpy.ndarray
        ``u = d_t - d n_t / n`` and ``v = d (n - d) / (n - 1) (n_t / n) (1 - n_t / n)`` per time; their
        cumulative sums up to a look are the log-rank score ``U`` (observed minus expected churn in the treated
        arm) and its variance ``V``.

    Notes
    -----
    Computed at successive calendar looks, ``U`` has asymptotically independent increments with variance
    ``V`` [2]_, so ``U / V`` behaves as an estimate of the log hazard ratio with variance ``1 / V`` observed
    along a Brownian motion in information time: the mSPRT of :func:`msprt_likelihood_ratio` applies.

    References
    ----------
    .. [1] Mantel N (1966) Evaluation of survival data and two new rank order statistics arising in its
       consideration. Cancer Chemotherapy Reports 50.
    .. [2] Tsiatis AA (1982) Repeated significance testing for a general class of statistics used in
       censored survival analysis. JASA 77(380).

    Examples
    --------
    By hand, second time: ``u = 1 - 2 x 3/7``, ``v = 2 x 5/6 x 3/7 x 4/7``.

    >>> u, v = logrank_increments([4, 3], [4, 4], [1, 1], [0, 1])
    >>> [round(float(x), 4) for x in u], [round(float(x), 4) for x in v]
    ([0.5, 0.1429], [0.25, 0.4082])
    """
    nt = np.asarray(at_risk_t, dtype=float)
    nc = np.asarray(at_risk_c, dtype=float)
    dt = np.asarray(events_t, dtype=float)
    d = dt + np.asarray(events_c, dtype=float)
    n = nt + nc
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(n > 0, nt / n, 0.0)
        u = dt - d * share
        v = np.where(n > 1, d * (n - d) / (n - 1), 0.0) * share * (1 - share)
    return u, v


def srm_chi_square(observed: Sequence[float], expected_shares: Sequence[float]) -> tuple[float, float]:
    """Return Pearson's chi-square statistic and p-value of observed arm sizes against planned shares.

    Parameters
    ----------
    observed : sequence of float
        Customers per arm.
    expected_shares : sequence of float
        Planned share of each arm (normalised to sum 1).

    Returns
    -------
    (float, float)
        ``chi2 = sum (o - e)^2 / e`` with ``e = N share``, and its p-value on ``k - 1`` degrees of freedom.

    References
    ----------
    .. [1] Fabijan A et al. (2019) Diagnosing Sample Ratio Mismatch in Online Controlled Experiments. KDD 2019.

    Examples
    --------
    >>> chi2, p = srm_chi_square([9000, 91000], [0.1, 0.9])
    >>> round(chi2, 2), p < 1e-20
    (111.11, True)
    """
    o = np.asarray(observed, dtype=float)
    s = np.asarray(expected_shares, dtype=float)
    if len(o) != len(s) or len(o) < 2:
        raise AnalysisError("SRM needs at least two arms with one planned share each")
    if np.any(s <= 0):
        raise AnalysisError("every planned share must be positive")
    e = o.sum() * s / s.sum()
    chi2 = float(((o - e) ** 2 / e).sum())
    return chi2, float(_st.chi2.sf(chi2, len(o) - 1))


def binomial_band(n: int, rate: float = 0.05, level: float = 0.99) -> tuple[float, float]:
    """Return the central ``level`` band of the share of successes in ``n`` Bernoulli(``rate``) draws.

    Used to judge a simulated false-positive rate: with 2,000 simulations at 5% the 99% band is
    3.8%-6.3%.

    Examples
    --------
    >>> binomial_band(2000)
    (0.038, 0.063)
    """
    lo = _st.binom.ppf((1 - level) / 2, n, rate) / n
    hi = _st.binom.ppf(1 - (1 - level) / 2, n, rate) / n
    return float(lo), float(hi)
