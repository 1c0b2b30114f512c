"""Effects of a treated arm against the control from sufficient statistics: difference, ratio, CUPED, margin."""

from __future__ import annotations

import numpy as np

from churnlab.errors import AnalysisError
from churnlab.experiment.stats.core import Moments, _check_n, _num, moments, p_value_from_z  # noqa: F401 - moments: doctests
from churnlab.intervals import two_proportion_z_test

__all__ = [
    "two_proportion_z",
    "absolute_effect",
    "relative_effect",
    "cuped_theta",
    "cuped_adjusted",
    "non_inferiority",
    "log_ratio_effect",
    "upper_cap",
]


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


def log_ratio_effect(
    mean_t: float, var_t: float, n_t: float, mean_c: float, var_c: float, n_c: float
) -> tuple[float, float]:
    """Return the log ratio of means ``log(mean_t / mean_c)`` and its delta-method standard error.

    Parameters
    ----------
    mean_t, var_t, n_t : float
        Treated arm's mean, sample variance and size.
    mean_c, var_c, n_c : float
        Control arm's mean, sample variance and size.

    Returns
    -------
    (float, float)
        Estimate and ``se`` with ``se^2 = var_t / (n_t mean_t^2) + var_c / (n_c mean_c^2)``.

    Raises
    ------
    AnalysisError
        When a mean is not positive (no log ratio), an arm has fewer than 2 units or both variances are zero.

    Notes
    -----
    An interval ``exp(log ratio +- z se) - 1`` for the relative effect never passes -100% and is
    asymmetric like the ratio of a small holdout's mean: a symmetric delta-method interval on the ratio
    misses mostly on one side when the holdout is small (FIELD_NOTES). ``se x ratio`` is the delta-method
    standard error of the ratio itself (:func:`relative_effect`).

    References
    ----------
    .. [1] Deng A, Knoblich U, Lu J (2018) Applying the Delta Method in Metric Analytics. KDD 2018, sec. 3.
    .. [2] Katz D, Baptista J, Azen SP, Pike MC (1978) Obtaining confidence intervals for the risk ratio in
       cohort studies. Biometrics 34 (the same log scale for proportions).

    Examples
    --------
    >>> est, se = log_ratio_effect(0.72, 0.2016, 18000, 0.70, 0.21, 2000)
    >>> round(est, 4), round(se, 5)
    (0.0282, 0.01536)
    """
    _check_n(n_t, n_c)
    if np.any(np.asarray(mean_t) <= 0) or np.any(np.asarray(mean_c) <= 0):
        raise AnalysisError(f"a relative effect on the log scale needs positive means, got treated {mean_t!r} "
                            f"and control {mean_c!r}")
    var = np.asarray(var_t / (n_t * mean_t**2) + var_c / (n_c * mean_c**2))
    if not np.all(var > 0):
        raise AnalysisError("identical outcomes everywhere: the effect has zero variance")
    return _num(np.log(mean_t / mean_c)), _num(np.sqrt(var))


def upper_cap(values, quantile: float) -> float | None:
    """Return the value at which a heavy-tailed metric is capped (winsorised from above), or None.

    Parameters
    ----------
    values : array-like
        The metric over every analysed customer, all arms pooled (so the cap is the same in every arm and
        does not depend on the assignment).
    quantile : float
        Pooled quantile to cap at (default in the analysis 0.99, OPINIONS.md "Heavy-tailed metrics").

    Returns
    -------
    float or None
        None for a binary (0/1) metric, which is never capped; otherwise the pooled ``quantile``, or when that
        equals the smallest value (a metric that is mostly zero), the ``quantile`` of the values above it.

    Notes
    -----
    Capping the top 1% bounds the influence of a few customers on the mean: at a 10/90 split with 20,000
    customers the Welch test on raw lognormal, Pareto or 80%-zero revenue rejects 7-12% of A/A tests, mostly
    "the offer raised revenue" (a small holdout's mean and its variance rise together), and 5% once capped
    (benchmarks/RESULTS.md). The estimand becomes the effect on capped revenue.

    References
    ----------
    .. [1] Kohavi R, Tang D, Xu Y (2020) Trustworthy Online Controlled Experiments, ch. 22 (capping).
    .. [2] Dixon WJ, Tukey JW (1968) Approximate behavior of the distribution of Winsorized t. Technometrics 10.

    Examples
    --------
    >>> upper_cap([0.0, 1.0, 1.0, 0.0], 0.99) is None
    True
    >>> upper_cap(list(range(101)), 0.99)
    99.0
    """
    y = np.asarray(values, dtype=float)
    if y.size == 0 or np.all((y == 0) | (y == 1)):
        return None
    cap = float(np.quantile(y, quantile))
    low = float(y.min())
    if cap <= low and (y > low).any():
        cap = float(np.quantile(y[y > low], quantile))
    return cap
