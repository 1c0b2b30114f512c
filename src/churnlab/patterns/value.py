"""Customer value: lifetime value, revenue concentration, churn counted in money, what a churn cut is worth.

- :func:`monthly_revenue` is each customer's revenue per month (``monthly_fee``, else their invoices);
- :func:`lifetime_value` per group = mean monthly revenue x expected lifetime up to a horizon (the
  restricted mean of the Kaplan-Meier curve with delayed entry, :mod:`~churnlab.patterns.lifetime`),
  with a delta-method interval;
- :func:`customer_values` gives each active customer their expected revenue over the next months
  given their tenure, and :func:`add_value` puts it on a risk list (with the expected loss);
- :func:`revenue_concentration` is the Pareto curve, :func:`top_share` what the top x% bring;
- :func:`revenue_churn` shows churn in money (``mrr_lost``) next to churn in customers;
- :func:`churn_cut_value` prices a relative cut in churn from the dataset's own revenue and curves;
- :data:`INDUSTRY_MONTHLY_CHURN` and :func:`churn_vs_benchmarks` put the dataset's monthly churn next
  to the published figures.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.intervals import z_value
from churnlab.metrics import churn_over_time, customer_spells, rate_with_ci
from churnlab.patterns.lifetime import (
    DAYS_PER_MONTH,
    lifetime_table,
    observation_start,
    remaining_lifetime,
    restricted_mean,
    survival_with_entry,
)
from churnlab.patterns.population import rows_before
from churnlab.patterns.support import mean_with_ci
from churnlab.schema import Dataset, require_columns

__all__ = ["DEFAULT_LTV_HORIZON_MONTHS", "DEFAULT_VALUE_HORIZON_MONTHS", "INDUSTRY_MONTHLY_CHURN",
           "monthly_revenue", "lifetime_value", "customer_values", "add_value", "revenue_concentration",
           "top_share", "revenue_churn", "churn_cut_value", "churn_vs_benchmarks"]

#: Horizon of lifetime value (OPINIONS.md, "LTV horizon"): 36 months of expected lifetime.
DEFAULT_LTV_HORIZON_MONTHS = 36
#: Horizon of a customer's value on a risk list: the revenue expected over the next 12 months.
DEFAULT_VALUE_HORIZON_MONTHS = 12

#: Reported average monthly churn (shared/DOMAIN.md, "Metrics": the digest of five practitioner
#: articles on churn; figures as the articles report them, without their own sample sizes).
INDUSTRY_MONTHLY_CHURN = pd.DataFrame(
    [("B2B", "segment", 0.05), ("B2C", "segment", 0.07), ("software", "industry", 0.0475),
     ("digital media", "industry", 0.0642), ("education", "industry", 0.0722), ("retail", "industry", 0.0755),
     ("professional services", "industry", 0.0659), ("healthcare", "industry", 0.0603)],
    columns=["benchmark", "kind", "monthly_churn"],
).assign(source="practitioner articles digested in DOMAIN.md ('Reported average monthly churn')")


def monthly_revenue(dataset: Dataset, cutoff=None) -> pd.DataFrame:
    """Each customer's revenue per month: ``customers.monthly_fee``, else their paid invoices.

    Parameters
    ----------
    dataset : Dataset
        ``customers`` with ``monthly_fee``; without it ``payments`` (``amount`` of invoices due
        before the cutoff, summed and divided by the months between the first due date and the
        cutoff, at least one).
    cutoff : timestamp, optional
        Default ``as_of``.

    Returns
    -------
    DataFrame
        ``customer_id, monthly_revenue``; ``attrs["source"]`` says which table it came from.

    Raises
    ------
    MissingTableError
        When neither a fee nor payments exist.
    """
    cutoff = dataset.as_of if cutoff is None else pd.Timestamp(cutoff)
    customers = dataset.tables.get("customers")
    if customers is not None and "monthly_fee" in customers and customers["monthly_fee"].notna().any():
        c = customers.drop_duplicates(C.CUSTOMER_ID)
        out = pd.DataFrame({C.CUSTOMER_ID: c[C.CUSTOMER_ID].astype(str).to_numpy(),
                            "monthly_revenue": c["monthly_fee"].astype(float).to_numpy()})
        out.attrs["source"] = "customers.monthly_fee"
        return out
    dataset.require("payments", by="monthly_revenue (no customers.monthly_fee)")
    # Three columns only, read in the engine when the table stays on disk.
    p = rows_before(dataset.frame("payments", columns=[C.CUSTOMER_ID, "due_at", "amount"]), "due_at", cutoff,
                    name="payments")
    g = p.assign(**{C.CUSTOMER_ID: p[C.CUSTOMER_ID].astype(str)}).groupby(C.CUSTOMER_ID)
    months = ((cutoff - g["due_at"].min()).dt.total_seconds() / 86400.0 / DAYS_PER_MONTH).clip(lower=1.0)
    out = (g["amount"].sum() / months).rename("monthly_revenue").reset_index()
    out.attrs["source"] = "payments.amount per month"
    return out


def _with_revenue(life: pd.DataFrame, revenue: pd.DataFrame) -> pd.DataFrame:
    life = life.assign(**{C.CUSTOMER_ID: life[C.CUSTOMER_ID].astype(str)})
    return life.merge(revenue, on=C.CUSTOMER_ID, how="left")


def lifetime_value(dataset: Dataset, cutoff=None, *, by: str | None = C.SEGMENT,
                   horizon_months: float = DEFAULT_LTV_HORIZON_MONTHS, observed_from=None,
                   alpha: float = 0.05) -> pd.DataFrame:
    """Lifetime value per group: mean monthly revenue x expected lifetime (months) up to a horizon.

    Parameters
    ----------
    dataset : Dataset
        Needs ``subscriptions`` and a revenue source (:func:`monthly_revenue`).
    cutoff : timestamp, optional
        Default ``as_of``.
    by : str or None
        Customers column to group by; None for one row ``"all"``.
    horizon_months : float
        The expected lifetime is the area under the survival curve up to this many months
        (OPINIONS.md, "LTV horizon").
    observed_from : timestamp, optional
        When observation began (see :func:`churnlab.patterns.lifetime.lifetime_table`).
    alpha : float
        Interval level.

    Returns
    -------
    DataFrame
        One row per group: ``group, n, events, monthly_revenue`` (mean, t interval
        ``revenue_lower/upper``), ``lifetime_months`` (restricted mean, ``lifetime_lower/upper``),
        ``ltv`` (``ltv_lower/upper``), ``horizon_months``, ``extrapolated`` (the horizon passes
        the longest follow-up: the tail is flat, so the LTV is optimistic).

    Raises
    ------
    AnalysisError
        When no customer has both a lifetime and a revenue.

    Notes
    -----
    ``LTV = R * L`` with ``R`` the mean monthly revenue and ``L = int_0^H S(t) dt`` (in months).
    Revenue and survival are estimated from different aspects of the same customers; the interval
    treats them as independent: ``se(LTV)^2 = L^2 se(R)^2 + R^2 se(L)^2`` (delta method).
    Undiscounted: a discount rate would lower long horizons most.

    References
    ----------
    .. [1] Gupta, S. and Lehmann, D. R. (2003) Customers as assets. Journal of Interactive
       Marketing 17(1), 9-24 (margin x expected lifetime).
    """
    life = _with_revenue(lifetime_table(dataset, cutoff, observed_from=observed_from),
                         monthly_revenue(dataset, cutoff)).dropna(subset=["monthly_revenue"])
    if life.empty:
        raise AnalysisError("lifetime_value: no customer has both a lifetime and a monthly revenue")
    curves = survival_with_entry(life, by=by, alpha=alpha)
    key = pd.Series("all", index=life.index) if by is None else life[by].astype(str)
    h_days = float(horizon_months) * DAYS_PER_MONTH
    z = z_value(alpha)
    rows = []
    for name, curve in curves.groupby("group", sort=True):
        members = life[key == name]
        n, r, r_lo, r_hi = mean_with_ci(members["monthly_revenue"], alpha)
        se_r = float(members["monthly_revenue"].std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
        rm = restricted_mean(curve, h_days, alpha)
        lm, se_l = rm["rmst"] / DAYS_PER_MONTH, rm["se"] / DAYS_PER_MONTH
        ltv = r * lm
        se = float(np.sqrt(lm**2 * se_r**2 + r**2 * se_l**2))
        rows.append({"group": name, "n": n, "events": int(members["observed"].sum()), "monthly_revenue": r,
                     "revenue_lower": r_lo, "revenue_upper": r_hi, "lifetime_months": lm,
                     "lifetime_lower": rm["ci_lower"] / DAYS_PER_MONTH,
                     "lifetime_upper": rm["ci_upper"] / DAYS_PER_MONTH,
                     "ltv": ltv, "ltv_lower": max(ltv - z * se, 0.0), "ltv_upper": ltv + z * se,
                     "horizon_months": float(horizon_months), "extrapolated": rm["extrapolated"]})
    return pd.DataFrame(rows)


def customer_values(dataset: Dataset, cutoff=None, *, by: str | None = C.SEGMENT,
                    horizon_months: float = DEFAULT_VALUE_HORIZON_MONTHS, observed_from=None) -> pd.DataFrame:
    """Each active customer's expected revenue over the next ``horizon_months``, given their tenure.

    Parameters
    ----------
    dataset : Dataset
        Needs ``subscriptions`` and a revenue source (:func:`monthly_revenue`).
    cutoff : timestamp, optional
        Default ``as_of``; customers whose current spell runs at the cutoff are valued.
    by : str or None
        The survival curve each customer is read from (their group's; None for one curve).
    horizon_months : float
        How far ahead (OPINIONS.md, "LTV horizon": 12 months on a risk list).
    observed_from : timestamp, optional
        As in :func:`lifetime_value`.

    Returns
    -------
    DataFrame
        One row per active customer: ``customer_id, tenure_days, monthly_revenue,
        expected_months`` (expected months still active in the horizon, from their group's curve
        conditioned on surviving to their tenure), ``value`` (revenue x expected months),
        ``extrapolated`` (their tenure plus the horizon passes the curve's last time).
    """
    cutoff = dataset.as_of if cutoff is None else pd.Timestamp(cutoff)
    life = _with_revenue(lifetime_table(dataset, cutoff, observed_from=observed_from), monthly_revenue(dataset, cutoff))
    curves = survival_with_entry(life, by=by)
    spells = customer_spells(dataset["subscriptions"], cutoff)
    running = spells[spells["end_at"].isna()]
    active = running.assign(**{C.CUSTOMER_ID: running[C.CUSTOMER_ID].astype(str)}).drop_duplicates(C.CUSTOMER_ID)
    tenure = (cutoff - active.set_index(C.CUSTOMER_ID)["start_at"]).dt.total_seconds() / 86400.0
    attrs = life.set_index(C.CUSTOMER_ID)
    out = pd.DataFrame({C.CUSTOMER_ID: tenure.index, "tenure_days": tenure.to_numpy()})
    out["monthly_revenue"] = out[C.CUSTOMER_ID].map(attrs["monthly_revenue"]).astype(float)
    group = pd.Series("all", index=out.index) if by is None else out[C.CUSTOMER_ID].map(attrs[by]).astype(str)
    h = float(horizon_months) * DAYS_PER_MONTH
    out["expected_months"] = np.nan
    out["extrapolated"] = False
    for name, curve in curves.groupby("group"):
        rows = group == name
        out.loc[rows, "expected_months"] = remaining_lifetime(curve, out.loc[rows, "tenure_days"], h) / DAYS_PER_MONTH
        out.loc[rows, "extrapolated"] = (out.loc[rows, "tenure_days"] + h) > curve["time"].max()
    out["value"] = out["monthly_revenue"] * out["expected_months"]
    return out


def add_value(risk: pd.DataFrame, values: pd.DataFrame, *, probability: str | None = None) -> pd.DataFrame:
    """Put each customer's value on a risk list (and the expected loss when a probability is given).

    Parameters
    ----------
    risk : DataFrame
        A risk list with ``customer_id`` (e.g. :func:`churnlab.patterns.rules.at_risk_list` or a
        scored frame); not modified.
    values : DataFrame
        ``customer_id, monthly_revenue, value`` from :func:`customer_values`.
    probability : str, optional
        Column of ``risk`` with the churn probability; adds ``expected_loss = probability x value``.

    Returns
    -------
    DataFrame
        ``risk`` with ``monthly_revenue, value`` (NaN for customers without one) and, with a
        probability, ``expected_loss``; row order kept.

    Examples
    --------
    >>> r = pd.DataFrame({"customer_id": ["a", "b"], "p_churn": [0.5, 0.1]})
    >>> v = pd.DataFrame({"customer_id": ["a", "b"], "monthly_revenue": [10.0, 100.0], "value": [60.0, 1000.0]})
    >>> add_value(r, v, probability="p_churn")["expected_loss"].tolist()
    [30.0, 100.0]
    """
    require_columns(risk, [C.CUSTOMER_ID], table="risk list")
    require_columns(values, [C.CUSTOMER_ID, "monthly_revenue", "value"], table="values")
    v = values[[C.CUSTOMER_ID, "monthly_revenue", "value"]].assign(
        **{C.CUSTOMER_ID: values[C.CUSTOMER_ID].astype(str)}).drop_duplicates(C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)
    out = risk.copy()
    ids = out[C.CUSTOMER_ID].astype(str)
    out["monthly_revenue"] = ids.map(v["monthly_revenue"]).to_numpy()
    out["value"] = ids.map(v["value"]).to_numpy()
    if probability is not None:
        require_columns(risk, [probability], table="risk list")
        out["expected_loss"] = out[probability].astype(float) * out["value"]
    return out


def revenue_concentration(values: pd.DataFrame, column: str = "monthly_revenue") -> pd.DataFrame:
    """Pareto curve: customers sorted by revenue, the cumulative share of revenue they bring.

    Parameters
    ----------
    values : DataFrame
        One row per customer with a non-negative ``column`` (missing rows are dropped).
    column : str
        Revenue column.

    Returns
    -------
    DataFrame
        One row per customer, largest first: ``rank, customer_share`` (rank / n), ``revenue``,
        ``revenue_share`` (cumulative share of the total); ``attrs["gini"]`` is the Gini coefficient.

    Raises
    ------
    AnalysisError
        When there is no positive revenue.

    Examples
    --------
    >>> v = pd.DataFrame({"monthly_revenue": [50.0, 30.0, 10.0, 5.0, 5.0]})
    >>> float(top_share(revenue_concentration(v), 0.2))
    0.5
    """
    require_columns(values, [column], table="values")
    r = values[column].dropna().astype(float)
    if (r < 0).any():
        raise AnalysisError(f"revenue_concentration: {column} has negative values")
    if r.sum() <= 0:
        raise AnalysisError(f"revenue_concentration: no positive {column}")
    r = np.sort(r.to_numpy())[::-1]
    n = r.size
    cum = np.cumsum(r) / r.sum()
    out = pd.DataFrame({"rank": np.arange(1, n + 1), "customer_share": np.arange(1, n + 1) / n, "revenue": r,
                        "revenue_share": cum})
    asc = r[::-1]
    out.attrs["gini"] = float((2 * np.arange(1, n + 1) - n - 1) @ asc / (n * asc.sum()))
    return out


def top_share(curve: pd.DataFrame, share: float = 0.2) -> float:
    """Share of revenue brought by the top ``share`` of customers (interpolated on the Pareto curve)."""
    require_columns(curve, ["customer_share", "revenue_share"], table="pareto curve")
    x = np.r_[0.0, curve["customer_share"].to_numpy(float)]
    y = np.r_[0.0, curve["revenue_share"].to_numpy(float)]
    return float(np.interp(share, x, y))


def revenue_churn(over_time: pd.DataFrame) -> pd.DataFrame:
    """Churn in money next to churn in customers, per period of :func:`churnlab.metrics.churn_over_time`.

    Returns
    -------
    DataFrame
        ``period_start, c_start, churned, churn_rate, mrr_start, mrr_lost, revenue_churn_rate``,
        ``fee_start`` (mean monthly revenue of the starting customers), ``fee_lost`` (of those lost) and
        ``value_ratio`` = revenue churn / customer churn (above 1: the customers lost were worth
        more than average).
    """
    need = ["period_start", "c_start", "churned", "churn_rate", "mrr_start", "mrr_lost", "revenue_churn_rate"]
    require_columns(over_time, need, table="churn_over_time")
    out = over_time[need].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["fee_start"] = out["mrr_start"] / out["c_start"].where(out["c_start"] > 0)
        out["fee_lost"] = out["mrr_lost"] / out["churned"].where(out["churned"] > 0)
        out["value_ratio"] = out["revenue_churn_rate"] / out["churn_rate"].where(out["churn_rate"] > 0)
    return out


def churn_cut_value(dataset: Dataset, cutoff=None, *, cut: float = 0.05, by: str | None = C.SEGMENT,
                    horizon_months: float = DEFAULT_LTV_HORIZON_MONTHS, observed_from=None) -> pd.DataFrame:
    """Price a relative cut of churn by ``cut`` from the dataset's own revenue and lifetimes.

    Parameters
    ----------
    dataset : Dataset
        Needs ``subscriptions`` and a revenue source.
    cutoff : timestamp, optional
        Default ``as_of``.
    cut : float
        Relative cut of the churn hazard at every tenure, in (0, 1): 0.05 lowers 5% monthly churn to
        4.75%.
    by : str or None
        Groups (each keeps its own curve and revenue).
    horizon_months : float
        Horizon of the expected lifetime.
    observed_from : timestamp, optional
        As in :func:`lifetime_value`.

    Returns
    -------
    DataFrame
        One row per group: ``group, n_active`` (customers active at the cutoff),
        ``monthly_revenue``, ``lifetime_months`` and ``lifetime_months_after``, ``ltv``,
        ``ltv_after``, ``ltv_gain`` (per customer), ``ltv_gain_pct``, ``base_gain`` (``n_active x``
        the gain in their expected revenue over the horizon given their tenure), ``cut``,
        ``horizon_months``.

    Raises
    ------
    AnalysisError
        When ``cut`` is not in (0, 1).

    Notes
    -----
    A proportional cut of the hazard at every tenure turns the survival curve into
    ``S'(t) = S(t)^(1 - cut)`` (cumulative hazard times ``1 - cut``); both lifetimes are its
    restricted mean. A scenario, not an estimate: it has no interval of its own.
    """
    if not 0 < float(cut) < 1:
        raise AnalysisError(f"churn_cut_value: cut must lie in (0, 1), got {cut}")
    cutoff = dataset.as_of if cutoff is None else pd.Timestamp(cutoff)
    ltv = lifetime_value(dataset, cutoff, by=by, horizon_months=horizon_months, observed_from=observed_from)
    life = _with_revenue(lifetime_table(dataset, cutoff, observed_from=observed_from), monthly_revenue(dataset, cutoff))
    curves = survival_with_entry(life.dropna(subset=["monthly_revenue"]), by=by)
    now = customer_values(dataset, cutoff, by=by, horizon_months=horizon_months, observed_from=observed_from)
    key = pd.Series("all", index=now.index) if by is None else now[C.CUSTOMER_ID].map(
        life.set_index(C.CUSTOMER_ID)[by]).astype(str)
    h = float(horizon_months) * DAYS_PER_MONTH
    rows = []
    for _, r in ltv.iterrows():
        curve = curves[curves["group"] == r["group"]]
        after = curve.assign(survival=curve["survival"] ** (1.0 - float(cut)))
        l_after = restricted_mean(after, h)["rmst"] / DAYS_PER_MONTH
        members = now[key == r["group"]].dropna(subset=["monthly_revenue"])
        rem_after = remaining_lifetime(after, members["tenure_days"], h) / DAYS_PER_MONTH
        base_gain = float(np.nansum(members["monthly_revenue"].to_numpy() * (rem_after - members["expected_months"])))
        ltv_after = r["monthly_revenue"] * l_after
        rows.append({"group": r["group"], "n_active": len(members), "monthly_revenue": r["monthly_revenue"],
                     "lifetime_months": r["lifetime_months"], "lifetime_months_after": l_after, "ltv": r["ltv"],
                     "ltv_after": ltv_after, "ltv_gain": ltv_after - r["ltv"],
                     "ltv_gain_pct": ltv_after / r["ltv"] - 1.0 if r["ltv"] > 0 else np.nan,
                     "base_gain": base_gain, "cut": float(cut), "horizon_months": float(horizon_months)})
    return pd.DataFrame(rows)


def _subset(dataset: Dataset, ids) -> Dataset:
    ids = set(map(str, ids))
    tables = {}
    for name in ("customers", "subscriptions"):
        t = dataset.tables.get(name)
        if t is not None:
            tables[name] = t[t[C.CUSTOMER_ID].astype(str).isin(ids)]
    return Dataset(dataset.name, tables, as_of=dataset.as_of, source=dataset.source, kind=dataset.kind,
                   metadata=dataset.metadata)


def churn_vs_benchmarks(dataset: Dataset, cutoff=None, *, by: str | None = C.SEGMENT, alpha: float = 0.05,
                        benchmarks: pd.DataFrame = INDUSTRY_MONTHLY_CHURN) -> pd.DataFrame:
    """Put the dataset's average monthly churn (overall and per group) next to published monthly figures.

    Parameters
    ----------
    dataset : Dataset
        Needs ``subscriptions`` (and ``customers`` with ``by``).
    cutoff : timestamp, optional
        Default ``as_of``; full calendar months before it are pooled.
    by : str or None
        Customers column for per-group rows (``segment`` lines up with the B2B / B2C figures).
    alpha : float
        Wilson interval level of the pooled rate.
    benchmarks : DataFrame
        ``benchmark, kind, monthly_churn, source`` (default :data:`INDUSTRY_MONTHLY_CHURN`).

    Returns
    -------
    DataFrame
        The dataset's rows first (``benchmark`` = ``"this dataset"`` or ``"this dataset: <group>"``,
        ``kind="dataset"``, ``monthly_churn`` = pooled churned / pooled starting customers over
        ``n_months`` full months from the start of observation (:func:`observation_start`: months
        before it would count long-standing customers as safe) with ``ci_lower, ci_upper``), then the
        published figures with their ``source``; ``ratio`` = the dataset's overall rate / each figure.
    """
    cutoff = dataset.as_of if cutoff is None else pd.Timestamp(cutoff)
    start = observation_start(dataset, cutoff).to_period("M").start_time
    if start < observation_start(dataset, cutoff):
        start = start + pd.offsets.MonthBegin(1)
    parts = [("this dataset", dataset)]
    if by is not None:
        cust = dataset["customers"]
        require_columns(cust, [C.CUSTOMER_ID, by], table="customers")
        for value, g in cust.dropna(subset=[by]).groupby(by, sort=True):
            parts.append((f"this dataset: {value}", _subset(dataset, g[C.CUSTOMER_ID])))
    rows = []
    for name, ds in parts:
        ot = churn_over_time(ds, cutoff, start=start)
        ot = ot[ot["c_start"] > 0]
        ci = rate_with_ci(pd.Series([ot["churned"].sum()]), pd.Series([ot["c_start"].sum()]), alpha).iloc[0]
        rows.append({"benchmark": name, "kind": "dataset", "monthly_churn": ci["rate"], "ci_lower": ci["ci_lower"],
                     "ci_upper": ci["ci_upper"], "n_months": len(ot), "source": dataset.source})
    mine = pd.DataFrame(rows)
    pub = benchmarks.assign(ci_lower=np.nan, ci_upper=np.nan, n_months=np.nan)
    out = pd.concat([mine, pub[mine.columns]], ignore_index=True)
    out["ratio"] = float(mine["monthly_churn"].iloc[0]) / out["monthly_churn"]
    return out
