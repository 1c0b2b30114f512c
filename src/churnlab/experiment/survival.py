"""Retention by arm with censoring: Kaplan-Meier curves and the k-group log-rank test.

Input is one row per customer: time since the campaign until churn or censoring (``duration``), and
whether churn was observed (``event``). Both estimators work on counts per distinct event time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as _st

from churnlab.errors import AnalysisError
from churnlab.experiment.results import Result
from churnlab.metrics import kaplan_meier

__all__ = ["kaplan_meier", "km_by_arm", "LogRankResult", "logrank_test"]


def km_by_arm(
    frame: pd.DataFrame, *, duration_col: str = "duration", event_col: str = "event", arm_col: str = "arm",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Return Kaplan-Meier curves per arm: the :func:`kaplan_meier` columns plus ``arm``.

    Parameters
    ----------
    frame : DataFrame
        ``arm_col, duration_col, event_col``, one row per customer.
    duration_col, event_col, arm_col : str
        Column names.
    alpha : float
        Level of the pointwise band.

    Returns
    -------
    DataFrame
        One row per arm and distinct time.
    """
    missing = [c for c in (duration_col, event_col, arm_col) if c not in frame.columns]
    if missing:
        raise AnalysisError(f"survival columns missing: {missing}")
    parts = []
    for arm, part in frame.groupby(arm_col, sort=True):
        km = kaplan_meier(part[duration_col], part[event_col].astype(bool), alpha)
        km.insert(0, "arm", arm)
        parts.append(km)
    return pd.concat(parts, ignore_index=True)


@dataclass(frozen=True, repr=False)
class LogRankResult(Result):
    """k-group log-rank test of equal survival curves.

    Attributes
    ----------
    arms : tuple of str
        Groups compared.
    observed, expected : tuple of float
        Observed and expected (under equal hazards) churn events per arm.
    chi2, p : float
        Statistic on ``k - 1`` degrees of freedom and its p-value.
    n : tuple of int
        Customers per arm.
    """

    arms: tuple[str, ...]
    observed: tuple[float, ...]
    expected: tuple[float, ...]
    n: tuple[int, ...]
    chi2: float
    p: float
    curves: pd.DataFrame = field(default=None, repr=False)

    @property
    def df(self) -> int:
        """Degrees of freedom."""
        return len(self.arms) - 1

    @property
    def summary(self) -> pd.DataFrame:
        """One row per arm: ``arm, n, observed, expected, chi2, df, p``."""
        return pd.DataFrame({"arm": list(self.arms), "n": list(self.n), "observed": list(self.observed),
                             "expected": list(self.expected), "chi2": self.chi2, "df": self.df, "p": self.p})

    def _headline(self) -> str:
        return f"{len(self.arms)} arms chi2={self.chi2:.2f} df={self.df} p={self.p:.3g}"

    def _settings(self) -> dict[str, object]:
        return {"test": "log-rank (Mantel-Haenszel)", "sides": 2, "n": sum(self.n)}

    def plot(self, ax=None):
        """Kaplan-Meier curves by arm."""
        from churnlab.plots.experiment import plot_survival

        return plot_survival(self.curves, ax=ax)


def logrank_test(
    frame: pd.DataFrame, *, duration_col: str = "duration", event_col: str = "event", arm_col: str = "arm",
) -> LogRankResult:
    """Test whether survival differs between arms (k-group log-rank).

    Parameters
    ----------
    frame : DataFrame
        ``arm_col, duration_col, event_col``, one row per customer.
    duration_col, event_col, arm_col : str
        Column names.

    Returns
    -------
    LogRankResult

    Raises
    ------
    AnalysisError
        When fewer than two arms are present or no churn event is observed.

    Notes
    -----
    At each event time, ``E_j = n_j d / n`` and ``V_jk = d (n - d) / (n - 1) (n_j / n) (delta_jk - n_k / n)``;
    ``chi2 = (O - E)' V^- (O - E)`` over the first ``k - 1`` arms.

    References
    ----------
    .. [1] Mantel N (1966) Evaluation of survival data and two new rank order statistics arising in its
       consideration. Cancer Chemotherapy Reports 50.

    Examples
    --------
    >>> f = pd.DataFrame({"arm": ["a"] * 4 + ["b"] * 4, "duration": [1, 2, 3, 4, 2, 4, 5, 6],
    ...                   "event": [True] * 8})
    >>> round(logrank_test(f).chi2, 3)
    2.646
    """
    missing = [c for c in (duration_col, event_col, arm_col) if c not in frame.columns]
    if missing:
        raise AnalysisError(f"survival columns missing: {missing}")
    arms = tuple(sorted(pd.unique(frame[arm_col]), key=str))
    if len(arms) < 2:
        raise AnalysisError("log-rank needs at least two arms")
    t = frame[duration_col].to_numpy(dtype=float)
    e = frame[event_col].to_numpy(dtype=bool)
    if not e.any():
        raise AnalysisError("no churn event observed: the log-rank test has no information")
    g = pd.Categorical(frame[arm_col], categories=list(arms)).codes
    times, inv = np.unique(t, return_inverse=True)
    k, m = len(arms), len(times)
    d = np.zeros((m, k))
    leave = np.zeros((m, k))
    np.add.at(d, (inv, g), e.astype(float))
    np.add.at(leave, (inv, g), 1.0)
    n_arm = leave.sum(axis=0)
    at_risk = n_arm - np.vstack([np.zeros(k), np.cumsum(leave, axis=0)[:-1]])
    n = at_risk.sum(axis=1)
    dt = d.sum(axis=1)
    keep = dt > 0
    at_risk, n, dt, d = at_risk[keep], n[keep], dt[keep], d[keep]
    exp = at_risk * (dt / n)[:, None]
    factor = np.where(n > 1, dt * (n - dt) / np.maximum(n - 1, 1), 0.0)
    share = at_risk / n[:, None]
    v = np.einsum("t,tj,jk->jk", factor, share, np.eye(k)) - np.einsum("t,tj,tk->jk", factor, share, share)
    diff = (d - exp).sum(axis=0)
    chi2 = float(diff[:-1] @ np.linalg.pinv(v[:-1, :-1]) @ diff[:-1])
    return LogRankResult(arms, tuple(d.sum(axis=0).tolist()), tuple(exp.sum(axis=0).tolist()),
                         tuple(int(x) for x in n_arm), chi2, float(_st.chi2.sf(chi2, k - 1)),
                         km_by_arm(frame, duration_col=duration_col, event_col=event_col, arm_col=arm_col))
