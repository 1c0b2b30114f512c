"""The monitored metrics of each weekly run, in one long table with intervals, by segment.

Each run at time ``T`` looks at the window ``[T - every_days, T)`` and reports, for every segment and for
``all``: the churn rate among customers active at the start (Wilson), both practitioner formulas (net and
gross, DOMAIN.md "Metrics"), retention, reactivation, revenue churn, the average lifetime implied by the
churn rate, and two early signals that move before cancellations do: the share of active customers who
unsubscribed and who exported data in the window. :func:`metric_rows` turns any estimate with an interval
into the same long rows, so alerts read one shape (:mod:`churnlab.monitor.alerts`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.intervals import wilson_interval
from churnlab.labels import active_at, customer_spells
from churnlab.metrics import churn_rate_gross, churn_rate_net, retention_rate
from churnlab.schema import Dataset

__all__ = ["METRIC_COLUMNS", "ALL", "DAYS_PER_MONTH", "run_dates", "metric_rows", "window_metrics",
           "average_lifetime_months"]

#: Columns of every monitoring table.
METRIC_COLUMNS = ("run_at", "window_start", "window_end", "metric", "segment", "n", "successes", "value", "lower",
                  "upper")
#: The segment label of the whole population.
ALL = "all"
DAYS_PER_MONTH = 365.25 / 12


def run_dates(as_of, runs: int, every_days: int = 7) -> list[pd.Timestamp]:
    """Return the dates of this run and the ``runs`` before it, oldest first.

    Examples
    --------
    >>> [d.date().isoformat() for d in run_dates("2025-03-31", 2)]
    ['2025-03-17', '2025-03-24', '2025-03-31']
    """
    if runs < 0 or every_days <= 0:
        raise AnalysisError(f"run_dates: runs must be >= 0 and every_days > 0, got {runs}, {every_days}")
    as_of = pd.Timestamp(as_of)
    return [as_of - pd.Timedelta(days=every_days * k) for k in range(runs, -1, -1)]


def metric_rows(run_at, window_start, window_end, metric: str, segment: str, n, successes, value, lower,
                upper) -> dict:
    """One row of a monitoring table (see :data:`METRIC_COLUMNS`)."""
    return {"run_at": pd.Timestamp(run_at), "window_start": pd.Timestamp(window_start),
            "window_end": pd.Timestamp(window_end), "metric": metric, "segment": str(segment), "n": float(n),
            "successes": float(successes), "value": float(value), "lower": float(lower), "upper": float(upper)}


def average_lifetime_months(monthly_churn):
    """Average customer lifetime implied by a constant monthly churn rate: ``1 / monthly churn`` months.

    Examples
    --------
    >>> float(average_lifetime_months(0.05))
    20.0
    """
    m = np.asarray(monthly_churn, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(m > 0, 1.0 / np.where(m > 0, m, 1.0), np.inf)[()]


def _proportion(rows: list, t, a, b, metric: str, seg: str, x: float, n: float, alpha: float) -> None:
    if n <= 0:
        return
    lo, hi = wilson_interval(x, n, alpha)
    rows.append(metric_rows(t, a, b, metric, seg, n, x, x / n, lo, hi))


def _groups(customers: pd.DataFrame, by: str | None) -> dict[str, set[str]]:
    ids = customers[C.CUSTOMER_ID].astype(str)
    out = {ALL: set(ids)}
    if by and by in customers.columns:
        for value, members in ids.groupby(customers[by].astype("string").fillna("unknown")):
            out[str(value)] = set(members)
    return out


def _signal_ids(dataset: Dataset, table: str, ts: str, where, a, b) -> set[str]:
    if table not in dataset:
        return set()
    frame = dataset[table]
    stamp = pd.to_datetime(frame[ts])
    mask = (stamp >= a) & (stamp < b) & where(frame)
    return set(frame.loc[mask, C.CUSTOMER_ID].astype(str))


def window_metrics(dataset: Dataset, dates: Sequence, *, every_days: int = 7, by: str | None = C.SEGMENT,
                   alpha: float = 0.05) -> pd.DataFrame:
    """Compute the monitored customer metrics of the window ending at each run date, by segment.

    Parameters
    ----------
    dataset : Dataset
        ``customers`` and ``subscriptions`` (``monthly_fee`` for revenue churn; ``messages`` and ``events`` for
        the early signals); read only as of each run date.
    dates : sequence of timestamps
        Run dates (:func:`run_dates`); each window is ``[date - every_days, date)``.
    every_days : int, default 7
        Window length.
    by : str or None, default "segment"
        Customers column to break down by (``all`` is always included).
    alpha : float, default 0.05
        One minus the intervals' level.

    Returns
    -------
    DataFrame
        Long rows (:data:`METRIC_COLUMNS`), metrics ``churn_rate`` (churned / active at the start, Wilson),
        ``churn_rate_net``, ``churn_rate_gross``, ``retention_rate`` (point values; their interval is the
        churn rate's, mirrored for retention), ``reactivation_rate`` (lapsed who returned, Wilson),
        ``revenue_churn_rate`` (fee of the churned / fee of the starters; Wilson on Kish's effective n),
        ``average_lifetime_months`` (1 / monthly-equivalent churn rate, interval from the rate's bounds),
        ``unsubscribe_rate`` and ``export_rate`` (active at the start with an unsubscribe / a data export in
        the window, Wilson).

    Raises
    ------
    MissingTableError
        Without ``subscriptions``.
    """
    dataset.require("subscriptions", by="window_metrics")
    customers = dataset["customers"]
    groups = _groups(customers, by)
    fee = None
    if "monthly_fee" in customers.columns:
        fee = customers.assign(**{C.CUSTOMER_ID: customers[C.CUSTOMER_ID].astype(str)}).drop_duplicates(
            C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)["monthly_fee"].astype(float)
    per_month = DAYS_PER_MONTH / every_days
    rows: list[dict] = []
    for t in dates:
        b = pd.Timestamp(t)
        a = b - pd.Timedelta(days=every_days)
        spells = customer_spells(dataset["subscriptions"], b)
        ids = spells[C.CUSTOMER_ID].astype(str)
        act_a, act_b = set(ids[active_at(spells, a)]), set(ids[active_at(spells, b)])
        started = spells[(spells["start_at"] >= a) & (spells["start_at"] < b)]
        new = set(started[C.CUSTOMER_ID].astype(str)) - act_a
        lapsed = set(ids[spells["start_at"] < a]) - act_a
        returned = set(started.loc[started["spell"] > 0, C.CUSTOMER_ID].astype(str)) & lapsed
        unsub = _signal_ids(dataset, "messages", "sent_at", lambda f: f["unsubscribed"].fillna(False).astype(bool),
                            a, b)
        export = _signal_ids(dataset, "events", C.TIMESTAMP, lambda f: f["event_type"].astype(str) == "export", a, b)
        for seg, members in groups.items():
            s_a, s_b, s_new = act_a & members, act_b & members, new & members
            n, lost = len(s_a), len(s_a - s_b)
            if n == 0:
                continue
            _proportion(rows, b, a, b, "churn_rate", seg, lost, n, alpha)
            lo, hi = wilson_interval(lost, n, alpha)
            net = float(churn_rate_net(n, len(s_b)))
            gross = float(churn_rate_gross(n, len(s_b), len(s_new)))
            rows.append(metric_rows(b, a, b, "churn_rate_net", seg, n, n - len(s_b), net, np.nan, np.nan))
            rows.append(metric_rows(b, a, b, "churn_rate_gross", seg, n, n + len(s_new) - len(s_b), gross,
                                    np.nan, np.nan))
            rows.append(metric_rows(b, a, b, "retention_rate", seg, n, n - lost,
                                    float(retention_rate(n, len(s_b), len(s_new & s_b))), 1 - hi, 1 - lo))
            _proportion(rows, b, a, b, "reactivation_rate", seg, len(returned & members), len(lapsed & members), alpha)
            if fee is not None:
                f_start = fee.reindex(sorted(s_a)).fillna(0.0).to_numpy()
                f_lost = fee.reindex(sorted(s_a - s_b)).fillna(0.0).sum()
                if f_start.sum() > 0:
                    n_eff = f_start.sum() ** 2 / np.sum(f_start**2)
                    share = f_lost / f_start.sum()
                    r_lo, r_hi = wilson_interval(share * n_eff, n_eff, alpha)
                    rows.append(metric_rows(b, a, b, "revenue_churn_rate", seg, n_eff, share * n_eff, share,
                                            r_lo, r_hi))
            monthly = np.clip(np.array([lost / n, lo, hi]) * per_month, 0, 1)
            life = average_lifetime_months(monthly)
            rows.append(metric_rows(b, a, b, "average_lifetime_months", seg, n, lost, life[0], life[2], life[1]))
            if "messages" in dataset:
                _proportion(rows, b, a, b, "unsubscribe_rate", seg, len(unsub & s_a), n, alpha)
            if "events" in dataset:
                _proportion(rows, b, a, b, "export_rate", seg, len(export & s_a), n, alpha)
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS))
