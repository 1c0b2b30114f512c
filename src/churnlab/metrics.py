"""Churn, retention, reactivation and revenue-churn rates; cohorts; lifetime (Kaplan-Meier).

Everything is point-in-time as of a ``cutoff``: only rows stamped strictly before it are read, and a
subscription that ends after the cutoff counts as still running (its end is not yet known).
A customer's consecutive or overlapping subscriptions form one *spell* (renewals do not churn); a
customer churns when a spell ends, and reactivates when a later spell starts. Spells and "active at
t" are :func:`churnlab.labels.customer_spells` and :func:`churnlab.labels.active_at` (re-exported here
as ``customer_spells``), the one definition the labels, patterns and campaign audience use too.

The two churn-rate formulas practitioners use are both here, named (see OPINIONS.md, "Churn rate
formula"):

- :func:`churn_rate_net` ``(C_start - C_end) / C_start``: customers lost net of new ones;
- :func:`churn_rate_gross` ``(C_start + C_new - C_end) / C_start``: every loss, new customers included.

Next to them :func:`churn_over_time` reports ``churn_rate`` = starters lost / ``C_start``, a true
proportion with a Wilson interval, which the plots and comparisons use.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.intervals import wilson_interval, z_value
from churnlab.labels import active_at, customer_spells, make_label_times
from churnlab.schema import Dataset, require_columns

__all__ = [
    "churn_rate_net",
    "churn_rate_gross",
    "retention_rate",
    "reactivation_rate",
    "revenue_churn_rate",
    "customer_spells",
    "churn_outcome",
    "churn_over_time",
    "churn_seasonality",
    "cohort_retention",
    "kaplan_meier",
    "customer_lifetimes",
    "survival_by",
    "median_lifetime",
    "funnel_stage_reached",
    "churn_rate_by",
    "churn_reasons",
    "rate_with_ci",
]

# --- the formulas ----------------------------------------------------------------------------------


def churn_rate_net(c_start, c_end):
    """Churn rate, first formula: customers lost net of new ones, ``(C_start - C_end) / C_start``.

    Parameters
    ----------
    c_start : int or array
        Customers at the start of the period (``C1``).
    c_end : int or array
        Customers at the end of the period (``C2``).

    Returns
    -------
    float or ndarray
        NaN where ``c_start == 0``. Can be negative when new customers outnumber the lost ones.

    Notes
    -----
    New customers acquired during the period hide lost ones, so this understates churn in a growing
    business. See DOMAIN.md, "Metrics".

    Examples
    --------
    >>> float(churn_rate_net(1000, 800))
    0.2
    """
    c_start, c_end = np.asarray(c_start, dtype=float), np.asarray(c_end, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(c_start > 0, (c_start - c_end) / c_start, np.nan)[()]


def churn_rate_gross(c_start, c_end, c_new):
    """Churn rate, second formula: every loss counted, ``(C_start + C_new - C_end) / C_start``.

    Parameters
    ----------
    c_start, c_end : int or array
        Customers at the start and at the end of the period (``C1``, ``C2``).
    c_new : int or array
        Customers acquired during the period (``C3``), returning ones included.

    Returns
    -------
    float or ndarray
        NaN where ``c_start == 0``; may exceed 1 when many new customers also left.

    Examples
    --------
    >>> float(churn_rate_gross(1000, 800, 500))
    0.7
    """
    c_start, c_end, c_new = (np.asarray(a, dtype=float) for a in (c_start, c_end, c_new))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(c_start > 0, (c_start + c_new - c_end) / c_start, np.nan)[()]


def retention_rate(c_start, c_end, c_new):
    """Compute the customer retention rate ``(C_end - C_new) / C_start``: starting customers kept.

    Negative when customers acquired in the period left within it (they are subtracted but were
    never counted at the end); ``1 - churn_rate`` of :func:`churn_over_time` is the bounded variant.

    Examples
    --------
    >>> float(retention_rate(1000, 800, 50))
    0.75
    """
    c_start, c_end, c_new = (np.asarray(a, dtype=float) for a in (c_start, c_end, c_new))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(c_start > 0, (c_end - c_new) / c_start, np.nan)[()]


def reactivation_rate(reactivated, lapsed):
    """Reactivation rate: lapsed (formerly churned) customers who came back / lapsed customers.

    Examples
    --------
    >>> float(reactivation_rate(5, 200))
    0.025
    """
    reactivated, lapsed = np.asarray(reactivated, dtype=float), np.asarray(lapsed, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(lapsed > 0, reactivated / lapsed, np.nan)[()]


def revenue_churn_rate(mrr_lost, mrr_start):
    """Gross revenue churn: monthly recurring revenue of lost customers / MRR at the start.

    Examples
    --------
    >>> float(revenue_churn_rate(150.0, 3000.0))
    0.05
    """
    mrr_lost, mrr_start = np.asarray(mrr_lost, dtype=float), np.asarray(mrr_start, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mrr_start > 0, mrr_lost / mrr_start, np.nan)[()]


def rate_with_ci(successes, n, alpha: float = 0.05) -> pd.DataFrame:
    """Frame of ``n, successes, rate, ci_lower, ci_upper`` (Wilson) from aligned count columns."""
    successes = pd.Series(successes).astype(float)
    n = pd.Series(n, index=successes.index).astype(float)
    lo, hi = wilson_interval(successes.to_numpy(), n.to_numpy(), alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, successes / n, np.nan)
    return pd.DataFrame(
        {"n": n.astype("int64"), "successes": successes.astype("int64"), "rate": rate, "ci_lower": lo, "ci_upper": hi},
        index=successes.index,
    )


# --- the outcome ----------------------------------------------------------------------------------


def _ts(cutoff) -> pd.Timestamp:
    return pd.Timestamp(cutoff)


def churn_outcome(dataset: Dataset, cutoff, horizon_days: int = 30) -> pd.DataFrame:
    """Return the customers active at ``cutoff`` and whether they churned in ``(cutoff, cutoff + horizon]``.

    A thin call of :func:`churnlab.labels.make_label_times` for one cutoff, so that patterns, metrics
    and the model share one churn definition (subscription spells, inactivity or snapshot, chosen by
    :func:`churnlab.labels.default_definition`).

    Parameters
    ----------
    dataset : Dataset
        Needs ``customers`` and ``subscriptions`` (or ``events``, or a snapshot's ``churned``).
    cutoff : timestamp
        The point in time (ignored for snapshots, whose single cutoff is ``as_of``).
    horizon_days : int
        Length of the outcome window in days.

    Returns
    -------
    DataFrame
        One row per customer active at the cutoff: ``customer_id, cutoff, label`` (int 0/1).

    Raises
    ------
    AnalysisError
        When ``cutoff + horizon`` passes the dataset's ``as_of`` (the outcome is not observed yet).
    """
    table = make_label_times(dataset, [_ts(cutoff)], horizon_days=horizon_days).table
    return table.assign(**{C.LABEL: table[C.LABEL].astype(int)})[[C.CUSTOMER_ID, C.CUTOFF, C.LABEL]]


# --- churn over time ------------------------------------------------------------------------------


def churn_over_time(
    dataset: Dataset, cutoff=None, *, freq: str = "MS", start=None, alpha: float = 0.05
) -> pd.DataFrame:
    """Count customers and compute every churn rate per period, for periods that ended by ``cutoff``.

    Parameters
    ----------
    dataset : Dataset
        Needs ``subscriptions``; ``customers.monthly_fee`` for revenue churn (NaN without it).
    cutoff : timestamp, optional
        Default the dataset's ``as_of``. Periods ending after it are left out.
    freq : str
        Pandas period-start frequency (``"MS"`` months, ``"QS"`` quarters, ``"W-MON"`` weeks).
    start : timestamp, optional
        First period; default the first subscription's period.
    alpha : float
        For the Wilson interval of ``churn_rate``.

    Returns
    -------
    DataFrame
        One row per period: ``period_start, period_end, c_start, c_new, c_end, churned`` (starters
        not active at the end), ``lapsed`` (had a spell before, not active at the start),
        ``reactivated`` (lapsed ones who started a new spell in the period), ``churn_rate``
        (churned / c_start) with ``ci_lower, ci_upper``, ``churn_rate_net``, ``churn_rate_gross``,
        ``retention_rate``, ``reactivation_rate``, ``mrr_start, mrr_lost, revenue_churn_rate``.

    Raises
    ------
    MissingTableError
        When there are no ``subscriptions``.
    """
    dataset.require("subscriptions", by="churn_over_time")
    cutoff = dataset.as_of if cutoff is None else _ts(cutoff)
    spells = customer_spells(dataset["subscriptions"], cutoff)
    if spells.empty:
        raise AnalysisError("churn_over_time: no subscription started before the cutoff")
    if start is None:
        start = pd.date_range(end=spells["start_at"].min().normalize(), periods=1, freq=freq)[0]
    edges = pd.date_range(_ts(start), cutoff, freq=freq)
    fee = None
    customers = dataset.tables.get("customers")
    if customers is not None and "monthly_fee" in customers:
        fee = customers.drop_duplicates(C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)["monthly_fee"].astype(float)
    # customers as integer codes and sets as boolean masks over them: the same counts as set algebra on ids,
    # in numpy (a million customers over a decade of months is seconds, not minutes)
    codes, ids = pd.factorize(spells[C.CUSTOMER_ID], sort=True)
    n_ids = len(ids)
    fee_by_code = (fee.reindex(ids).to_numpy(float) if fee is not None else None)
    starts = spells["start_at"].to_numpy()
    returns = spells["spell"].to_numpy() > 0

    def mask(rows: np.ndarray) -> np.ndarray:
        out = np.zeros(n_ids, dtype=bool)
        out[codes[rows]] = True
        return out

    rows = []
    for a, b in zip(edges[:-1], edges[1:]):
        act_a = mask(np.asarray(active_at(spells, a)))
        act_b = mask(np.asarray(active_at(spells, b)))
        in_period = (starts >= np.datetime64(a)) & (starts < np.datetime64(b))
        new = mask(in_period) & ~act_a
        returning = mask(in_period & returns) & ~act_a
        lapsed = mask(starts < np.datetime64(a)) & ~act_a
        lost = act_a & ~act_b
        mrr_start = float(np.nansum(fee_by_code[act_a])) if fee_by_code is not None else np.nan
        mrr_lost = float(np.nansum(fee_by_code[lost])) if fee_by_code is not None else np.nan
        rows.append(
            {
                "period_start": a, "period_end": b, "c_start": int(act_a.sum()), "c_new": int(new.sum()),
                "c_end": int(act_b.sum()), "churned": int(lost.sum()), "lapsed": int(lapsed.sum()),
                "reactivated": int((returning & lapsed).sum()), "mrr_start": mrr_start, "mrr_lost": mrr_lost,
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        raise AnalysisError(f"churn_over_time: no complete {freq} period before the cutoff {cutoff.date()}")
    ci = rate_with_ci(out["churned"], out["c_start"], alpha)
    out["churn_rate"], out["ci_lower"], out["ci_upper"] = ci["rate"], ci["ci_lower"], ci["ci_upper"]
    out["churn_rate_net"] = churn_rate_net(out["c_start"], out["c_end"])
    out["churn_rate_gross"] = churn_rate_gross(out["c_start"], out["c_end"], out["c_new"])
    out["retention_rate"] = retention_rate(out["c_start"], out["c_end"], out["c_new"])
    out["reactivation_rate"] = reactivation_rate(out["reactivated"], out["lapsed"])
    out["revenue_churn_rate"] = revenue_churn_rate(out["mrr_lost"], out["mrr_start"])
    return out


def churn_seasonality(over_time: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Pool the periods of :func:`churn_over_time` by calendar month (is churn seasonal?).

    Parameters
    ----------
    over_time : DataFrame
        ``period_start, c_start, churned`` (from :func:`churn_over_time`).
    alpha : float
        For the Wilson interval.

    Returns
    -------
    DataFrame
        One row per calendar month present: ``month`` (1-12), ``n_periods, n, successes, rate,
        ci_lower, ci_upper`` where ``rate`` = pooled churned / pooled c_start.
    """
    require_columns(over_time, ["period_start", "c_start", "churned"], table="churn_over_time")
    g = over_time.assign(month=pd.to_datetime(over_time["period_start"]).dt.month).groupby("month")
    pooled = g.agg(n_periods=("c_start", "size"), c_start=("c_start", "sum"), churned=("churned", "sum"))
    ci = rate_with_ci(pooled["churned"], pooled["c_start"], alpha)
    return pd.concat([pooled[["n_periods"]], ci], axis=1).reset_index()


# --- cohorts --------------------------------------------------------------------------------------


def cohort_retention(dataset: Dataset, cutoff=None, *, max_months: int | None = None) -> pd.DataFrame:
    """Cohort retention matrix: signup month x months since signup, unobservable cells NaN.

    Parameters
    ----------
    dataset : Dataset
        Needs ``subscriptions``; a customer's cohort is the month of their first subscription.
    cutoff : timestamp, optional
        Default ``as_of``. Customers who signed up at or after it are left out.
    max_months : int, optional
        Number of columns; default as many as the oldest cohort can show.

    Returns
    -------
    DataFrame
        Index ``cohort`` (first day of the signup month), columns ``0 .. K`` months since signup,
        values = share of the cohort active at the end of that month (``cohort + k + 1`` months).
        A cell whose date falls after the cutoff is NaN, never 0. Attribute ``attrs["size"]`` is a
        Series of cohort sizes.
    """
    dataset.require("subscriptions", by="cohort_retention")
    cutoff = dataset.as_of if cutoff is None else _ts(cutoff)
    spells = customer_spells(dataset["subscriptions"], cutoff)
    if spells.empty:
        raise AnalysisError("cohort_retention: no subscription started before the cutoff")
    first = spells.groupby(C.CUSTOMER_ID)["start_at"].min()
    cohort = first.dt.to_period("M").dt.to_timestamp()
    cohorts = sorted(cohort.unique())
    span = (cutoff.year - cohorts[0].year) * 12 + cutoff.month - cohorts[0].month
    k_max = span if max_months is None else max_months
    matrix = pd.DataFrame(np.nan, index=pd.DatetimeIndex(cohorts, name="cohort"), columns=range(k_max))
    for c0 in cohorts:
        members = cohort.index[cohort == c0]
        mine = spells[spells[C.CUSTOMER_ID].isin(members)]
        for k in range(k_max):
            t = c0 + pd.DateOffset(months=k + 1)
            if t > cutoff:
                break
            active = mine.loc[active_at(mine, t), C.CUSTOMER_ID].nunique()
            matrix.loc[c0, k] = active / len(members)
    matrix.attrs["size"] = cohort.value_counts().sort_index().rename("size")
    return matrix


# --- lifetime (Kaplan-Meier) ----------------------------------------------------------------------


def kaplan_meier(durations, observed, alpha: float = 0.05) -> pd.DataFrame:
    """Kaplan-Meier survival curve with log-log (exponential Greenwood) confidence bands.

    Parameters
    ----------
    durations : array-like of float
        Time from start to churn or censoring (any unit, e.g. days); non-negative.
    observed : array-like of bool
        True when the churn was observed, False when censored.
    alpha : float
        One minus the confidence level of the pointwise band.

    Returns
    -------
    DataFrame
        One row per distinct time plus a first row at 0: ``time, at_risk, events, censored,
        survival, ci_lower, ci_upper``. ``survival`` is non-increasing within [0, 1].

    Raises
    ------
    AnalysisError
        When there are no durations or a duration is negative or missing.

    Notes
    -----
    ``S(t) = prod_{t_i <= t} (1 - d_i / n_i)``; Greenwood ``V(t) = sum d_i / (n_i (n_i - d_i))``;
    band ``S(t) ** exp(+- z sqrt(V) / log S(t))`` (Kalbfleisch & Prentice), as lifelines does.

    References
    ----------
    .. [1] Kaplan, E. L. and Meier, P. (1958) Nonparametric estimation from incomplete
       observations. JASA 53, 457-481.
    .. [2] Kalbfleisch, J. D. and Prentice, R. L. (2002) The Statistical Analysis of Failure Time
       Data, 2nd ed., eq. 1.10.

    Examples
    --------
    >>> km = kaplan_meier([1, 2, 2, 3], [True, True, False, True])
    >>> km["survival"].round(4).tolist()
    [1.0, 0.75, 0.5, 0.0]
    """
    t = np.asarray(durations, dtype=float)
    e = np.asarray(observed, dtype=bool)
    if t.size == 0:
        raise AnalysisError("kaplan_meier: no durations")
    if np.isnan(t).any() or (t < 0).any():
        raise AnalysisError("kaplan_meier: durations must be non-negative and not missing")
    times, inv = np.unique(t, return_inverse=True)
    events = np.bincount(inv, weights=e, minlength=len(times)).astype(int)
    censored = np.bincount(inv, weights=~e, minlength=len(times)).astype(int)
    at_risk = t.size - np.concatenate([[0], np.cumsum(events + censored)[:-1]])
    factor = 1.0 - events / at_risk
    surv = np.cumprod(factor)
    with np.errstate(divide="ignore", invalid="ignore"):
        green = np.cumsum(np.where(at_risk > events, events / (at_risk * (at_risk - events)), np.nan))
        z = z_value(alpha)
        log_s = np.log(surv)
        se = np.sqrt(green) / np.abs(log_s)
        lower = surv ** np.exp(z * se)
        upper = surv ** np.exp(-z * se)
    lower = np.where(surv >= 1.0, 1.0, np.where(surv <= 0.0, 0.0, lower))
    upper = np.where(surv >= 1.0, 1.0, np.where(surv <= 0.0, 0.0, upper))
    out = pd.DataFrame(
        {"time": times, "at_risk": at_risk, "events": events, "censored": censored, "survival": surv,
         "ci_lower": lower, "ci_upper": upper}
    )
    if times[0] > 0:
        head = pd.DataFrame({"time": [0.0], "at_risk": [t.size], "events": [0], "censored": [0], "survival": [1.0],
                             "ci_lower": [1.0], "ci_upper": [1.0]})
        out = pd.concat([head, out], ignore_index=True)
    return out


def customer_lifetimes(dataset: Dataset, cutoff=None) -> pd.DataFrame:
    """Each customer's first spell as a lifetime as of ``cutoff``: churned or censored.

    Parameters
    ----------
    dataset : Dataset
        Needs ``subscriptions``; customer attributes are joined from ``customers`` when present.
    cutoff : timestamp, optional
        Default ``as_of``. A spell still running at the cutoff is censored there.

    Returns
    -------
    DataFrame
        One row per customer: ``customer_id, start_at, end_at, duration_days, observed`` plus the
        customers table's other columns (segment, plan, channel, ...).
    """
    dataset.require("subscriptions", by="customer_lifetimes")
    cutoff = dataset.as_of if cutoff is None else _ts(cutoff)
    spells = customer_spells(dataset["subscriptions"], cutoff)
    first = spells[spells["spell"] == 0]
    stop = first["end_at"].fillna(cutoff)
    out = pd.DataFrame(
        {
            C.CUSTOMER_ID: first[C.CUSTOMER_ID].to_numpy(),
            "start_at": first["start_at"].to_numpy(),
            "end_at": first["end_at"].to_numpy(),
            "duration_days": ((stop - first["start_at"]).dt.total_seconds() / 86400.0).to_numpy(),
            "observed": first["end_at"].notna().to_numpy(),
        }
    )
    customers = dataset.tables.get("customers")
    if customers is not None:
        extra = customers.drop(columns=[c for c in ("start_at", "end_at") if c in customers])
        extra = extra.drop_duplicates(C.CUSTOMER_ID)
        out = out.merge(extra, on=C.CUSTOMER_ID, how="left")
    return out


def survival_by(lifetimes: pd.DataFrame, by: str | None = C.SEGMENT, alpha: float = 0.05) -> pd.DataFrame:
    """Kaplan-Meier curves per group of :func:`customer_lifetimes`.

    Parameters
    ----------
    lifetimes : DataFrame
        ``duration_days, observed`` and the ``by`` column.
    by : str or None
        Grouping column; None for one curve labelled ``"all"``.
    alpha : float
        Band level.

    Returns
    -------
    DataFrame
        The :func:`kaplan_meier` columns plus ``group``; one row per group and distinct time.
    """
    need = ["duration_days", "observed"] + ([by] if by else [])
    require_columns(lifetimes, need, table="lifetimes")
    groups = [("all", lifetimes)] if by is None else list(lifetimes.dropna(subset=[by]).groupby(by, sort=True))
    parts = [kaplan_meier(g["duration_days"], g["observed"], alpha).assign(group=str(k)) for k, g in groups]
    return pd.concat(parts, ignore_index=True)[["group", *parts[0].columns.drop("group")]]


def median_lifetime(curves: pd.DataFrame) -> pd.DataFrame:
    """Median lifetime per group from :func:`survival_by` curves, with the band's interval.

    Returns
    -------
    DataFrame
        One row per group: ``group, n, events, median_days, ci_lower, ci_upper``. The median is the
        first time the survival falls to 0.5 or below; NaN when the curve never gets there
        (more than half still active), which is reported, not extrapolated.

    Notes
    -----
    The interval takes the first times the upper and lower bands cross 0.5 (Brookmeyer & Crowley
    1982, as lifelines' ``median_survival_times`` of the confidence band).
    """
    require_columns(curves, ["group", "time", "survival", "ci_lower", "ci_upper", "events", "at_risk"], table="curves")

    def first_below(g: pd.DataFrame, col: str) -> float:
        hit = g.loc[g[col] <= 0.5, "time"]
        return float(hit.iloc[0]) if len(hit) else np.nan

    rows = []
    for name, g in curves.groupby("group", sort=True):
        rows.append({"group": name, "n": int(g["at_risk"].iloc[0]), "events": int(g["events"].sum()),
                     "median_days": first_below(g, "survival"), "ci_lower": first_below(g, "ci_lower"),
                     "ci_upper": first_below(g, "ci_upper")})
    return pd.DataFrame(rows)


# --- churn by attribute ---------------------------------------------------------------------------


def funnel_stage_reached(dataset: Dataset, cutoff, *, stages: Sequence[str] | None = None) -> pd.Series:
    """Furthest funnel stage each customer reached strictly before ``cutoff`` (a Series by customer_id).

    ``stages``: funnel order, default the dataset's ``funnel_stages`` vocabulary (other stages are ignored).
    """
    dataset.require("funnel", by="funnel_stage_reached")
    stages = tuple(dataset.vocabulary("funnel_stages") if stages is None else stages)
    f = dataset["funnel"]
    require_columns(f, [C.CUSTOMER_ID, "stage", "reached_at"], table="funnel")
    f = f[f["reached_at"] < _ts(cutoff)]
    idx = f["stage"].map({s: i for i, s in enumerate(stages)})
    best = idx.groupby(f[C.CUSTOMER_ID].astype(str)).max().dropna().astype(int)
    return best.map(dict(enumerate(stages))).rename("funnel_stage")


def churn_rate_by(outcome: pd.DataFrame, attributes: pd.DataFrame, by: str, alpha: float = 0.05) -> pd.DataFrame:
    """Churn rate in the horizon per value of one attribute, with Wilson intervals.

    Parameters
    ----------
    outcome : DataFrame
        ``customer_id, label`` (from :func:`churn_outcome` or ``make_label_times(...).table``).
    attributes : DataFrame
        ``customer_id`` and the ``by`` column (e.g. ``customers``; or a frame with ``funnel_stage``).
    by : str
        Column to group by (``segment``, ``plan``, ``channel``, ``funnel_stage``, ...).
    alpha : float
        Interval level.

    Returns
    -------
    DataFrame
        One row per value of ``by`` (missing shown as ``"(missing)"``): ``by, n, churned,
        churn_rate, ci_lower, ci_upper``, sorted by value.

    Examples
    --------
    >>> o = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "label": [1, 0, 0, 0]})
    >>> a = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "plan": ["x", "x", "y", "y"]})
    >>> churn_rate_by(o, a, "plan")[["plan", "n", "churn_rate"]].to_dict("records")
    [{'plan': 'x', 'n': 2, 'churn_rate': 0.5}, {'plan': 'y', 'n': 2, 'churn_rate': 0.0}]
    """
    require_columns(outcome, [C.CUSTOMER_ID, C.LABEL], table="outcome")
    require_columns(attributes, [C.CUSTOMER_ID, by], table="attributes")
    attrs = attributes[[C.CUSTOMER_ID, by]].drop_duplicates(C.CUSTOMER_ID)
    df = outcome[[C.CUSTOMER_ID, C.LABEL]].merge(attrs, on=C.CUSTOMER_ID, how="left")
    key = df[by].astype("object").where(df[by].notna(), "(missing)").astype(str)
    g = df.groupby(key, sort=True)[C.LABEL].agg(["size", "sum"])
    ci = rate_with_ci(g["sum"], g["size"], alpha)
    out = pd.DataFrame({by: g.index, "n": ci["n"].to_numpy(), "churned": ci["successes"].to_numpy(),
                        "churn_rate": ci["rate"].to_numpy(), "ci_lower": ci["ci_lower"].to_numpy(),
                        "ci_upper": ci["ci_upper"].to_numpy()})
    return out


def churn_reasons(dataset: Dataset, cutoff=None, *, since=None, alpha: float = 0.05,
                  reasons: Sequence[str] | None = None) -> pd.DataFrame:
    """Count the recorded reasons of the churns observed before ``cutoff`` (since ``since`` when given).

    ``reasons`` orders the rows, default the dataset's ``churn_reasons`` vocabulary (others follow, by count).

    Returns
    -------
    DataFrame
        One row per reason (``"(not recorded)"`` for missing ones): ``churn_reason, n, share,
        ci_lower, ci_upper`` where ``share`` is the reason's share of all churns in the window.
    """
    dataset.require("subscriptions", by="churn_reasons")
    reasons = tuple(dataset.vocabulary("churn_reasons") if reasons is None else reasons)
    cutoff = dataset.as_of if cutoff is None else _ts(cutoff)
    spells = customer_spells(dataset["subscriptions"], cutoff)
    ended = spells[spells["end_at"].notna()]
    if since is not None:
        ended = ended[ended["end_at"] >= _ts(since)]
    reason = ended["churn_reason"].astype("object").where(ended["churn_reason"].notna(), "(not recorded)")
    counts = reason.value_counts()
    order = [r for r in reasons if r in counts.index] + [r for r in counts.index if r not in reasons]
    counts = counts.reindex(order)
    ci = rate_with_ci(counts, pd.Series(counts.sum(), index=counts.index), alpha)
    return pd.DataFrame({"churn_reason": counts.index, "n": counts.to_numpy(), "share": ci["rate"].to_numpy(),
                         "ci_lower": ci["ci_lower"].to_numpy(), "ci_upper": ci["ci_upper"].to_numpy()})
