"""Expected lifetime from a survival curve: Kaplan-Meier with delayed entry, restricted means, remaining life.

Customer value needs the *expected* lifetime, not only the median: the area under the survival curve
up to a horizon (the restricted mean survival time, RMST). Many datasets also start observing in the
middle of customers' lives (the synthetic world's long-standing customers signed up years before its
first day, and a customer who left before then is not in the data at all): counting their early
years as observed would inflate survival. :func:`km_with_entry` therefore takes each customer's
entry time (tenure when observation began) and keeps them out of the risk set before it.

:func:`lifetime_table` builds durations and entries from the dataset (first subscription spells, from
:func:`churnlab.metrics.customer_lifetimes`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.intervals import z_value
from churnlab.metrics import customer_lifetimes
from churnlab.schema import Dataset, require_columns

__all__ = ["DAYS_PER_MONTH", "km_with_entry", "restricted_mean", "remaining_lifetime", "observation_start",
           "lifetime_table", "survival_with_entry"]

DAYS_PER_MONTH = 365.25 / 12.0


def km_with_entry(durations, observed, entry=None, alpha: float = 0.05) -> pd.DataFrame:
    """Kaplan-Meier curve for left-truncated data (delayed entry), with log-log bands.

    Parameters
    ----------
    durations : array-like of float
        Time from start to churn or censoring (days); non-negative.
    observed : array-like of bool
        True when the churn was observed.
    entry : array-like of float, optional
        Time from start at which each customer came under observation (0 = from the start); a
        customer is at risk at ``t`` only when ``entry < t <= duration``. Default all 0.
    alpha : float
        One minus the band's confidence level.

    Returns
    -------
    DataFrame
        ``time, at_risk, events, censored, survival, ci_lower, ci_upper`` with a first row at 0, as
        :func:`churnlab.metrics.kaplan_meier` (identical to it when every entry is 0).

    Raises
    ------
    AnalysisError
        When there are no durations, a duration or entry is negative or missing, or an entry
        exceeds its duration.

    Notes
    -----
    Product-limit estimator with risk sets ``n_i = #{entry_j < t_i <= duration_j}``;
    ``S(t) = prod_{t_i <= t} (1 - d_i / n_i)``; Greenwood's variance and the log-log band as in
    :func:`churnlab.metrics.kaplan_meier`.

    References
    ----------
    .. [1] Klein, J. P. and Moeschberger, M. L. (2003) Survival Analysis, 2nd ed., section 4.6
       (estimation for left-truncated data).

    Examples
    --------
    >>> km = km_with_entry([2, 3, 5, 6], [True, True, False, True], entry=[0, 0, 4, 0])
    >>> km[["time", "at_risk", "survival"]].round(4).to_dict("list")
    {'time': [0.0, 2.0, 3.0, 5.0, 6.0], 'at_risk': [3, 3, 2, 2, 1], 'survival': [1.0, 0.6667, 0.3333, 0.3333, 0.0]}
    """
    t = np.asarray(durations, dtype=float)
    e = np.asarray(observed, dtype=bool)
    a = np.zeros_like(t) if entry is None else np.asarray(entry, dtype=float)
    if t.size == 0:
        raise AnalysisError("km_with_entry: no durations")
    if np.isnan(t).any() or (t < 0).any() or np.isnan(a).any() or (a < 0).any():
        raise AnalysisError("km_with_entry: durations and entries must be non-negative and not missing")
    if (a > t).any():
        raise AnalysisError(f"km_with_entry: {int((a > t).sum())} entries come after their duration")
    times, inv = np.unique(t, return_inverse=True)
    events = np.bincount(inv, weights=e, minlength=len(times)).astype(int)
    censored = np.bincount(inv, weights=~e, minlength=len(times)).astype(int)
    entered = np.searchsorted(np.sort(a), times, side="left")  # entry < t
    left = np.searchsorted(np.sort(t), times, side="left")  # duration < t
    at_risk = entered - left
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(at_risk > 0, 1.0 - events / at_risk, 1.0)
        surv = np.cumprod(factor)
        green = np.cumsum(np.where((at_risk > events) & (events > 0), events / (at_risk * (at_risk - events)),
                                   np.where(events > 0, np.nan, 0.0)))
        z = z_value(alpha)
        se = np.sqrt(green) / np.abs(np.log(surv))
        lower = surv ** np.exp(z * se)
        upper = surv ** np.exp(-z * se)
    lower = np.where(surv >= 1.0, 1.0, np.where(surv <= 0.0, 0.0, lower))
    upper = np.where(surv >= 1.0, 1.0, np.where(surv <= 0.0, 0.0, upper))
    out = pd.DataFrame({"time": times, "at_risk": at_risk, "events": events, "censored": censored,
                        "survival": surv, "ci_lower": lower, "ci_upper": upper})
    if times[0] > 0:
        head = pd.DataFrame({"time": [0.0], "at_risk": [int((a <= 0).sum())], "events": [0], "censored": [0],
                             "survival": [1.0], "ci_lower": [1.0], "ci_upper": [1.0]})
        out = pd.concat([head, out], ignore_index=True)
    return out


def _area(curve: pd.DataFrame, start: float, stop: float) -> float:
    """Area under the step curve between ``start`` and ``stop`` (flat after the last time)."""
    t = curve["time"].to_numpy(float)
    s = curve["survival"].to_numpy(float)
    right = np.r_[t[1:], np.inf]
    lo = np.clip(t, start, stop)
    hi = np.clip(right, start, stop)
    return float(np.sum(s * (hi - lo)))


def survival_at(curve: pd.DataFrame, t: float) -> float:
    """Survival at ``t`` (right-continuous step: the value at the last time <= t)."""
    times = curve["time"].to_numpy(float)
    i = int(np.searchsorted(times, t, side="right")) - 1
    return float(curve["survival"].iloc[max(i, 0)])


def restricted_mean(curve: pd.DataFrame, horizon: float, alpha: float = 0.05) -> dict[str, float]:
    """Restricted mean survival time: the expected lifetime up to ``horizon``, with its interval.

    Parameters
    ----------
    curve : DataFrame
        ``time, at_risk, events, survival`` of one group (:func:`km_with_entry`).
    horizon : float
        Upper limit of the integral, in the curve's time unit.
    alpha : float
        Interval level (normal).

    Returns
    -------
    dict
        ``rmst, se, ci_lower, ci_upper, horizon`` and ``extrapolated`` (True when the horizon
        passes the curve's last time: the tail is then taken flat, an optimistic choice).

    Notes
    -----
    ``RMST = int_0^H S(u) du``; ``Var = sum_{t_i <= H} A_i^2 d_i / (n_i (n_i - d_i))`` with
    ``A_i = int_{t_i}^H S(u) du`` (Klein & Moeschberger 2003, eq. 4.5.2).

    Examples
    --------
    >>> from churnlab.metrics import kaplan_meier
    >>> r = restricted_mean(kaplan_meier([1, 2, 2, 3], [True, True, False, True]), 3.0)
    >>> round(r["rmst"], 4)
    2.25
    """
    require_columns(curve, ["time", "at_risk", "events", "survival"], table="curve")
    h = float(horizon)
    rmst = _area(curve, 0.0, h)
    t = curve["time"].to_numpy(float)
    d = curve["events"].to_numpy(float)
    n = curve["at_risk"].to_numpy(float)
    s = curve["survival"].to_numpy(float)
    # A_i = area under S from t_i to H: the segments from the i-th on (times ascend), summed from the right
    segments = s * (np.minimum(np.r_[t[1:], np.inf], h) - np.minimum(t, h))
    after = np.cumsum(segments[::-1])[::-1]
    use = (t <= h) & (d > 0) & (n > d)
    var = float(np.sum(after[use] ** 2 * d[use] / (n[use] * (n[use] - d[use]))))
    se = float(np.sqrt(var))
    z = z_value(alpha)
    return {"rmst": rmst, "se": se, "ci_lower": max(rmst - z * se, 0.0), "ci_upper": min(rmst + z * se, h),
            "horizon": h, "extrapolated": bool(h > t[-1])}


def remaining_lifetime(curve: pd.DataFrame, tenure, horizon: float) -> np.ndarray:
    """Return the expected time still active within the next ``horizon`` for customers of the given ``tenure``.

    ``E[min(T, a + H) - a | T > a] = int_a^{a+H} S(u) du / S(a)`` for each tenure ``a``; the tail
    past the curve's last time is flat. NaN where ``S(a) = 0``.

    Examples
    --------
    >>> from churnlab.metrics import kaplan_meier
    >>> km = kaplan_meier([1, 2, 2, 3], [True, True, False, True])
    >>> remaining_lifetime(km, [0.0, 1.5], 1.0).round(4).tolist()
    [1.0, 0.8333]
    """
    a = np.atleast_1d(np.asarray(tenure, dtype=float))
    t = curve["time"].to_numpy(float)
    s = curve["survival"].to_numpy(float)
    # G(x) = area under the step curve from its first time to x; area(a, a + H) = G(a + H) - G(a)
    full = np.r_[0.0, np.cumsum(s[:-1] * np.diff(t))]

    def area_to(x: np.ndarray) -> np.ndarray:
        i = np.searchsorted(t, x, side="right") - 1
        j = np.maximum(i, 0)
        return np.where(i < 0, 0.0, full[j] + s[j] * (x - t[j]))

    s0 = s[np.maximum(np.searchsorted(t, a, side="right") - 1, 0)]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (area_to(a + float(horizon)) - area_to(a)) / s0
    return np.where(s0 > 0, out, np.nan)


def observation_start(dataset: Dataset, cutoff=None) -> pd.Timestamp:
    """When the data began recording churns.

    ``dataset.metadata["observed_from"]`` when the source states it; the synthetic world's start
    (its long-standing customers signed up years before it); otherwise the earliest subscription
    start, i.e. the data is taken as the full history. An extract that holds only the customers
    still active on some date is left-truncated at that date: pass it as ``observed_from`` (any
    time up to the first recorded churn is a valid choice, since nobody is known to have left
    before it).
    """
    meta = dataset.metadata if isinstance(dataset.metadata, dict) else {}
    if meta.get("observed_from"):
        return pd.Timestamp(meta["observed_from"])
    world = meta.get("world", {})
    if "start" in world:
        return pd.Timestamp(world["start"])
    subs = dataset.require("subscriptions", by="observation_start")["subscriptions"]
    return pd.Timestamp(subs["start_at"].min())


def lifetime_table(dataset: Dataset, cutoff=None, *, observed_from=None) -> pd.DataFrame:
    """First-spell lifetimes with each customer's entry into observation.

    Parameters
    ----------
    dataset : Dataset
        Needs ``subscriptions``; attributes come from ``customers``.
    cutoff : timestamp, optional
        Default ``as_of``; spells running then are censored there.
    observed_from : timestamp, optional
        When observation began (default :func:`observation_start`); a customer who started before
        it enters at their tenure then (``entry_days``), since churns before it are not in the data.

    Returns
    -------
    DataFrame
        :func:`churnlab.metrics.customer_lifetimes` plus ``entry_days`` (0 for customers who
        started after ``observed_from``); ``attrs["observed_from"]`` records the start used.
    """
    life = customer_lifetimes(dataset, cutoff)
    start = observation_start(dataset, cutoff) if observed_from is None else pd.Timestamp(observed_from)
    entry = ((start - life["start_at"]).dt.total_seconds() / 86400.0).clip(lower=0.0)
    life["entry_days"] = np.minimum(entry.to_numpy(), life["duration_days"].to_numpy())
    life.attrs["observed_from"] = start
    return life


def survival_with_entry(lifetimes: pd.DataFrame, by: str | None = C.SEGMENT, alpha: float = 0.05) -> pd.DataFrame:
    """Kaplan-Meier curves with delayed entry per group of :func:`lifetime_table`.

    Returns
    -------
    DataFrame
        The :func:`km_with_entry` columns plus ``group`` (``"all"`` when ``by`` is None), the layout of
        :func:`churnlab.metrics.survival_by`, so :func:`churnlab.plots.patterns.plot_survival` draws it.
    """
    need = ["duration_days", "observed", "entry_days"] + ([by] if by else [])
    require_columns(lifetimes, need, table="lifetimes")
    groups = [("all", lifetimes)] if by is None else list(lifetimes.dropna(subset=[by]).groupby(by, sort=True))
    if not groups:
        raise AnalysisError(f"survival_with_entry: no customer has a value of {by!r}")
    parts = [km_with_entry(g["duration_days"], g["observed"], g["entry_days"], alpha).assign(group=str(k))
             for k, g in groups]
    out = pd.concat(parts, ignore_index=True)
    return out[["group", *out.columns.drop("group")]]
