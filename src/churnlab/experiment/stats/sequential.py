"""Always-valid sequential testing (mSPRT) and the log-rank increments it runs on."""

from __future__ import annotations

import numpy as np

__all__ = [
    "msprt_likelihood_ratio",
    "always_valid_p",
    "logrank_increments",
]


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
