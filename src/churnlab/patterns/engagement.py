"""Engagement signals as of a cutoff: email opens, incentives, complaints, late payments, exports, events.

Customer-level signals are flags on the feature columns of :func:`churnlab.features.build_features`
(``email_open_rate_30d``, ``email_open_rate_drop``, ``promo_redeem_rate_90d``, ``late_payments_90d``,
``exports_{w}d``, ``unsubscribed``), so the patterns and the model read the same numbers. Two
analyses look across time instead: complaints per segment and period (:func:`complaint_trend`) and
the before/after effect of a dated event such as an interface change (:func:`event_effect`), whose
date comes from the dataset's own ``metadata["dated_events"]`` (:func:`dated_events`, :func:`world_event`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from churnlab import config as C
from churnlab.errors import AnalysisError, SchemaError
from churnlab.intervals import newcombe_difference_interval, two_proportion_z_test, wilson_interval
from churnlab.labels import active_at, customer_spells
from churnlab.patterns.population import rows_before
from churnlab.schema import Dataset, require_columns

__all__ = ["engagement_flags", "complaint_rates", "complaint_trend", "event_effect", "dated_events", "world_event"]


def engagement_flags(pop: pd.DataFrame, *, recent_window_days: int = 30, open_drop_share: float = 0.5) -> pd.DataFrame:
    """Flag email disengagement, incentive disinterest, late payers, exporters and unsubscribers.

    Parameters
    ----------
    pop : DataFrame
        From :func:`~churnlab.patterns.population.population`; each flag is computed when its
        feature columns are present and left out otherwise.
    recent_window_days : int
        Window of ``exports_{w}d``.
    open_drop_share : float
        ``open_rate_fell`` when the last 30 days' open rate is at most ``1 - share`` of the
        previous 30-120 days' rate (0.5: "opens fell by half").

    Returns
    -------
    DataFrame
        One row per customer: ``customer_id, cutoff, label`` and, as available,
        ``open_rate_fell`` (missing when either rate is undefined), ``incentive_disinterest``
        (promotions received in 90 days, none redeemed; missing without promotions),
        ``late_payment`` (a late payment due in 90 days), ``exported`` (a data export in the recent
        window), ``unsubscribed``.
    """
    require_columns(pop, [C.CUSTOMER_ID, C.CUTOFF, C.LABEL], table="population")
    out = pop[[C.CUSTOMER_ID, C.CUTOFF, C.LABEL]].copy()
    if {"email_open_rate_30d", "email_open_rate_drop"} <= set(pop.columns):
        recent = pop["email_open_rate_30d"]
        previous = recent + pop["email_open_rate_drop"]
        fell = (recent <= (1.0 - open_drop_share) * previous).where(previous.notna() & (previous > 0) & recent.notna())
        out["open_rate_fell"] = fell.astype("boolean")
    if "promo_redeem_rate_90d" in pop:
        rate = pop["promo_redeem_rate_90d"]
        out["incentive_disinterest"] = (rate == 0).where(rate.notna()).astype("boolean")
    if "late_payments_90d" in pop:
        out["late_payment"] = pop["late_payments_90d"] >= 1
    exports = f"exports_{int(recent_window_days)}d"
    if exports in pop:
        out["exported"] = pop[exports] >= 1
    if "unsubscribed" in pop:
        out["unsubscribed"] = pop["unsubscribed"] >= 1
    return out


def _customers_per_period(dataset: Dataset, edges: pd.DatetimeIndex, segment_column: str) -> pd.DataFrame:
    """Count customers active (subscriptions) or signed up (otherwise) at each period start, by segment."""
    customers = dataset["customers"].drop_duplicates(C.CUSTOMER_ID)
    seg = customers.set_index(C.CUSTOMER_ID)[segment_column]
    rows = []
    spells = customer_spells(dataset["subscriptions"], edges[-1]) if "subscriptions" in dataset else None
    for a in edges[:-1]:
        if spells is not None:
            ids = spells.loc[active_at(spells, a), C.CUSTOMER_ID].unique()
        else:
            ids = customers.loc[customers[C.SIGNUP_AT] < a, C.CUSTOMER_ID].unique()
        counts = pd.Series(ids).map(seg).value_counts()
        for k, v in counts.items():
            rows.append({"period_start": a, segment_column: k, "customers": int(v)})
    return pd.DataFrame(rows, columns=["period_start", segment_column, "customers"])


def _period_index(edges: pd.DatetimeIndex, ts: pd.Series) -> np.ndarray:
    """Index of the period ``[edges[i], edges[i + 1])`` holding each timestamp (all inside the edges)."""
    e = edges.as_unit("ns").asi8
    v = ts.astype("datetime64[ns]").astype("int64").to_numpy()
    return np.searchsorted(e, v, side="right") - 1


def complaint_rates(dataset: Dataset, cutoff, *, segment_column: str = C.SEGMENT, freq: str = "MS",
                    categories: tuple[str, ...] | None = None, periods: int = 12, alpha: float = 0.05) -> pd.DataFrame:
    """Count tickets per 100 customers per segment and period, for the ``periods`` before ``cutoff``.

    Parameters
    ----------
    dataset : Dataset
        Needs ``customers`` (with ``segment_column``) and ``tickets``; ``subscriptions`` for the
        active base (signed-up customers otherwise).
    cutoff : timestamp
        Only complete periods before it.
    segment_column : str
        Customer column that defines the segments.
    freq : str
        Period frequency.
    categories : tuple of str, optional
        Ticket categories that count as complaints; default all.
    periods : int
        Number of periods.
    alpha : float
        Interval level (Wilson on customers with a complaint / customers).

    Returns
    -------
    DataFrame
        One row per segment and period: ``period_start, segment_column, customers, complainers``
        (customers with a complaint), ``tickets, tickets_per_100, complainer_rate, ci_lower, ci_upper``.
    """
    dataset.require("customers", "tickets", by="complaint_rates")
    cutoff = pd.Timestamp(cutoff)
    require_columns(dataset["customers"], [C.CUSTOMER_ID, segment_column], table="customers")
    edges = pd.date_range(end=cutoff, periods=periods + 1, freq=freq)
    if edges[-1] > cutoff:
        edges = edges[:-1]
    base = _customers_per_period(dataset, edges, segment_column)
    t = rows_before(dataset["tickets"], "opened_at", edges[-1], name="tickets")
    t = t[t["opened_at"] >= edges[0]]
    if categories is not None:
        t = t[t["category"].isin(categories)]
    seg = dataset["customers"].drop_duplicates(C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)[segment_column]
    t = t.assign(**{segment_column: t[C.CUSTOMER_ID].map(seg),
                    "period_start": edges[:-1][_period_index(edges, t["opened_at"])]})
    g = t.groupby(["period_start", segment_column]).agg(tickets=("opened_at", "size"),
                                                       complainers=(C.CUSTOMER_ID, "nunique")).reset_index()
    out = base.merge(g, on=["period_start", segment_column], how="left").fillna({"tickets": 0, "complainers": 0})
    out["complainers"] = np.minimum(out["complainers"], out["customers"]).astype(int)
    out["tickets"] = out["tickets"].astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["tickets_per_100"] = 100.0 * out["tickets"] / out["customers"]
        out["complainer_rate"] = out["complainers"] / out["customers"]
    out["ci_lower"], out["ci_upper"] = wilson_interval(out["complainers"], out["customers"], alpha)
    return out


def complaint_trend(rates: pd.DataFrame, *, segment_column: str = C.SEGMENT) -> pd.DataFrame:
    """Fit a straight line to each segment's complaints per 100 customers (are they rising?).

    Parameters
    ----------
    rates : DataFrame
        From :func:`complaint_rates`.
    segment_column : str
        Customer column that defines the segments.

    Returns
    -------
    DataFrame
        One row per segment: ``segment_column, n_periods, first, last, slope_per_period, slope_lower,
        slope_upper, p_value`` (ordinary least squares, ``scipy.stats.linregress``; t interval).
    """
    require_columns(rates, ["period_start", segment_column, "tickets_per_100"], table="complaint_rates")
    rows = []
    for key, g in rates.sort_values("period_start").groupby(segment_column, sort=True):
        y = g["tickets_per_100"].to_numpy(dtype=float)
        ok = np.isfinite(y)
        x = np.arange(len(y))[ok]
        y = y[ok]
        if len(y) < 3:
            continue
        fit = stats.linregress(x, y)
        half = stats.t.ppf(0.975, len(y) - 2) * fit.stderr
        rows.append({segment_column: key, "n_periods": len(y), "first": y[0], "last": y[-1],
                     "slope_per_period": fit.slope, "slope_lower": fit.slope - half, "slope_upper": fit.slope + half,
                     "p_value": fit.pvalue})
    return pd.DataFrame(rows, columns=[segment_column, "n_periods", "first", "last", "slope_per_period",
                                       "slope_lower", "slope_upper", "p_value"])


def _before_after_row(metric: str, group: str, x0: int, n0: int, x1: int, n1: int, alpha: float) -> dict:
    lo0, hi0 = wilson_interval(x0, n0, alpha)
    lo1, hi1 = wilson_interval(x1, n1, alpha)
    dlo, dhi = newcombe_difference_interval(x1, n1, x0, n0, alpha)
    _, p = two_proportion_z_test(x1, n1, x0, n0)
    r0 = x0 / n0 if n0 else np.nan
    r1 = x1 / n1 if n1 else np.nan
    return {"metric": metric, "group": group, "n_before": n0, "x_before": x0, "rate_before": r0,
            "before_lower": float(lo0), "before_upper": float(hi0), "n_after": n1, "x_after": x1, "rate_after": r1,
            "after_lower": float(lo1), "after_upper": float(hi1), "difference": r1 - r0,
            "difference_lower": float(dlo), "difference_upper": float(dhi), "p_value": float(p)}


def event_effect(dataset: Dataset, event_date, cutoff, *, window_days: int = 60, segment_column: str = C.SEGMENT,
                 alpha: float = 0.05) -> pd.DataFrame:
    """Compare unsubscribes and churn in the window before a dated event with the window after it.

    Parameters
    ----------
    dataset : Dataset
        ``customers`` with ``segment_column``; ``messages`` for unsubscribes and ``subscriptions``
        for churn (each metric is skipped without its table).
    event_date : timestamp
        The event (e.g. an interface change).
    cutoff : timestamp
        Only data stamped before it is read; the after-window is cut at it.
    window_days : int
        Length of each window: messages sent in ``[d - w, d)`` before and ``[d, d + w)`` after.
    segment_column : str
        Each metric is reported for every segment and for ``"all"``.
    alpha : float
        Interval level.

    Returns
    -------
    DataFrame
        One row per metric (``unsubscribe`` = share of messaged customers who unsubscribed;
        ``churn`` = share of customers active at the window start who churned by its end, i.e. whose
        spell ended in ``(d - w, d]`` before and ``(d, d + w]`` after: :func:`churnlab.labels.churned_by`) and
        group: ``metric, group, n_before, x_before, rate_before, before_lower, before_upper,
        n_after, x_after, rate_after, after_lower, after_upper, difference`` (after - before,
        Newcombe ``difference_lower/upper``), ``p_value`` (pooled z-test).

    Raises
    ------
    AnalysisError
        When the event is not before the cutoff, or neither table is present.

    Notes
    -----
    A before/after comparison attributes to the event whatever else changed between the windows
    (season, campaigns); a segment the event did not touch is the natural control.
    """
    d, cutoff = pd.Timestamp(event_date), pd.Timestamp(cutoff)
    if d >= cutoff:
        raise AnalysisError(f"event_effect: event date {d.date()} is not before the cutoff {cutoff.date()}")
    if "messages" not in dataset and "subscriptions" not in dataset:
        raise AnalysisError("event_effect: needs messages (unsubscribes) or subscriptions (churn); it has neither")
    w = pd.Timedelta(days=window_days)
    end = min(d + w, cutoff)
    seg = dataset["customers"].drop_duplicates(C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)[segment_column]
    rows = []
    groups = ["all", *sorted(seg.dropna().unique())]
    if "messages" in dataset:
        m = rows_before(dataset["messages"], "sent_at", cutoff, name="messages")
        m = m.assign(group=m[C.CUSTOMER_ID].map(seg))
        before = m[(m["sent_at"] >= d - w) & (m["sent_at"] < d)]
        after = m[(m["sent_at"] >= d) & (m["sent_at"] < end)]
        for grp in groups:
            b = before if grp == "all" else before[before["group"] == grp]
            a = after if grp == "all" else after[after["group"] == grp]
            xb = b.groupby(C.CUSTOMER_ID)["unsubscribed"].any()
            xa = a.groupby(C.CUSTOMER_ID)["unsubscribed"].any()
            rows.append(_before_after_row("unsubscribe", grp, int(xb.sum()), len(xb), int(xa.sum()), len(xa), alpha))
    if "subscriptions" in dataset:
        spells = customer_spells(dataset["subscriptions"], cutoff)
        spells = spells.assign(group=spells[C.CUSTOMER_ID].map(seg))
        for grp in groups:
            s = spells if grp == "all" else spells[spells["group"] == grp]
            counts = []
            for lo, hi in [(d - w, d), (d, end)]:
                at_start = s[active_at(s, lo)].drop_duplicates(C.CUSTOMER_ID)
                churned = ~active_at(at_start, hi)  # churned by the window's end: ended in (lo, hi]
                counts.append((int(churned.sum()), len(at_start)))
            (xb, nb), (xa, na) = counts
            rows.append(_before_after_row("churn", grp, xb, nb, xa, na, alpha))
    return pd.DataFrame(rows)


def dated_events(dataset: Dataset) -> pd.DataFrame:
    """Return the dated world events a dataset declares in ``metadata["dated_events"]``.

    The synthetic generator writes its interface change and competitor offer there (see
    :func:`churnlab.data.synthetic.build.dated_events`); any source may declare its own (a release,
    a price change) as a list of ``{"event", "date"[, "segment", "description"]}``.

    Returns
    -------
    DataFrame
        One row per event in date order: ``event, date`` (Timestamp), ``segment`` (None: every
        segment), ``description``. Empty when the dataset declares none: there is then no dated
        event to study unless the analyst names one.

    Raises
    ------
    SchemaError
        When an entry lacks ``event`` or ``date``.

    Examples
    --------
    >>> ds = Dataset("x", {}, as_of="2024-12-31", source="doctest",
    ...              metadata={"dated_events": [{"event": "release", "date": "2024-05-01"}]})
    >>> dated_events(ds)[["event", "date"]].astype(str).values.tolist()
    [['release', '2024-05-01']]
    """
    entries = (dataset.metadata or {}).get("dated_events") or []
    rows = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or "event" not in e or "date" not in e:
            raise SchemaError(f"dataset {dataset.name!r} metadata.dated_events[{i}]: expected a mapping with "
                              f"'event' and 'date', got {e!r}")
        rows.append({"event": str(e["event"]), "date": pd.Timestamp(e["date"]), "segment": e.get("segment"),
                     "description": str(e.get("description", ""))})
    out = pd.DataFrame(rows, columns=["event", "date", "segment", "description"])
    out["segment"] = pd.Series([r["segment"] for r in rows], dtype=object)  # None stays None: every segment
    out["date"] = out["date"].astype("datetime64[ns]")
    return out.sort_values("date", kind="stable", ignore_index=True)


def world_event(dataset: Dataset, event: str = "ui_change") -> dict | None:
    """Return the dataset's dated ``event`` (``date``, ``segment``), or None when it declares none.

    Reads :func:`dated_events`; the default is the synthetic world's interface change. Nothing is
    guessed: a dataset without the event (a public dataset, a world saved before events were
    recorded) gives None, and an analysis then says there is no dated event to study.

    Examples
    --------
    >>> world_event(Dataset("x", {}, as_of="2024-01-01", source="doctest")) is None
    True
    """
    events = dated_events(dataset)
    hit = events[events["event"] == event]
    if hit.empty:
        return None
    first = hit.iloc[0]
    return {"date": pd.Timestamp(first["date"]), "segment": first["segment"]}
