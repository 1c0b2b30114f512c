"""Sufficient statistics, normal critical values and p-values, multiple-testing corrections, SRM chi-square."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st

from churnlab.errors import AnalysisError
from churnlab.experiment.checks import check_alpha, check_sides

__all__ = [
    "Moments",
    "moments",
    "z_critical",
    "p_value_from_z",
    "holm",
    "benjamini_hochberg",
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

    Raises
    ------
    AnalysisError
        When ``alpha`` is not a finite number in (0, 1) or ``sides`` is not 1 or 2.

    Examples
    --------
    >>> round(z_critical(0.05), 3)
    1.96
    """
    return float(_st.norm.ppf(1 - check_alpha(alpha) / check_sides(sides)))


def p_value_from_z(z: float, sides: int = 2) -> float:
    """Return the p-value of a z statistic: two-sided ``2 (1 - Phi(|z|))``, one-sided ``1 - Phi(z)``.

    Examples
    --------
    >>> round(p_value_from_z(1.959964), 4)
    0.05
    """
    check_sides(sides)
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
