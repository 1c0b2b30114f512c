"""Support quality as of a cutoff: bot containment, first-contact resolution, CSAT, resolution time.

Line 1 is the bot/chat line, line 2 account managers, line 3 experts; categories are the problem
clusters technical / financial / emotional. Ticket-level quality is summarised by line and by
cluster; :func:`support_exposures` turns it into customer-level exposures for
:func:`churnlab.patterns.exposure.compare_exposed`. The count of unresolved tickets is the feature
module's ``unresolved_tickets`` (one definition shared with the model).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from churnlab import config as C
from churnlab.metrics import rate_with_ci
from churnlab.patterns.population import rows_before
from churnlab.schema import Dataset, require_columns

__all__ = ["support_quality", "mean_with_ci", "support_exposures"]

_TICKET_COLUMNS = [C.CUSTOMER_ID, "opened_at", "line", "category", "resolved_by_bot", "first_contact_resolution",
                   "hours_to_resolve", "csat"]


def mean_with_ci(values: pd.Series, alpha: float = 0.05) -> tuple[int, float, float, float]:
    """Return ``(n, mean, lower, upper)`` of the non-missing values, with a Student-t interval.

    Examples
    --------
    >>> n, m, lo, hi = mean_with_ci(pd.Series([1.0, 2.0, 3.0]))
    >>> n, m, round(lo, 3), round(hi, 3)
    (3, 2.0, -0.484, 4.484)
    """
    v = pd.Series(values, dtype=float).dropna().to_numpy()
    n = v.size
    if n == 0:
        return 0, np.nan, np.nan, np.nan
    m = float(v.mean())
    if n == 1:
        return 1, m, np.nan, np.nan
    half = float(stats.t.ppf(1 - alpha / 2, n - 1) * v.std(ddof=1) / np.sqrt(n))
    return n, m, m - half, m + half


def support_quality(dataset: Dataset, cutoff, *, window_days: float | None = 90, by: str = "line",
                    alpha: float = 0.05) -> pd.DataFrame:
    """Summarise support quality per line (or per category) over the window before ``cutoff``.

    Parameters
    ----------
    dataset : Dataset
        Needs ``tickets`` (``line, category, resolved_by_bot, first_contact_resolution,
        hours_to_resolve, csat``).
    cutoff : timestamp
        The point in time; tickets opened at or after it are not read.
    window_days : float, optional
        Tickets opened in ``[cutoff - window, cutoff)``; None for all history.
    by : {"line", "category"}
        Grouping.
    alpha : float
        Interval level.

    Returns
    -------
    DataFrame
        One row per group: ``by, n_tickets, bot_containment`` (share resolved by the bot, Wilson
        ``bot_containment_lower/upper``; line 1 only, NaN elsewhere), ``fcr`` (first-contact
        resolution share, Wilson ``fcr_lower/upper``), ``csat_mean`` (t interval
        ``csat_lower/upper``, ``n_rated``), ``hours_median, hours_p90``, ``unresolved_share``
        (no resolution time by the cutoff).
    """
    dataset.require("tickets", by="support_quality")
    t = rows_before(dataset["tickets"], "opened_at", cutoff, window_days, name="tickets")
    require_columns(t, _TICKET_COLUMNS, table="tickets")
    cutoff = pd.Timestamp(cutoff)
    resolved_at = t["opened_at"] + pd.to_timedelta(t["hours_to_resolve"], unit="h")
    t = t.assign(resolved=t["hours_to_resolve"].notna() & (resolved_at <= cutoff))
    rows = []
    for key, g in t.groupby(by, sort=True):
        n = len(g)
        bot = rate_with_ci(pd.Series([g["resolved_by_bot"].sum()]), pd.Series([n]), alpha).iloc[0]
        fcr = rate_with_ci(pd.Series([g["first_contact_resolution"].sum()]), pd.Series([n]), alpha).iloc[0]
        k, m, lo, hi = mean_with_ci(g.loc[g["resolved"], "csat"], alpha)
        hours = g.loc[g["resolved"], "hours_to_resolve"].astype(float)
        line1 = by == "line" and key == 1
        rows.append({
            by: key, "n_tickets": n,
            "bot_containment": bot["rate"] if line1 else np.nan,
            "bot_containment_lower": bot["ci_lower"] if line1 else np.nan,
            "bot_containment_upper": bot["ci_upper"] if line1 else np.nan,
            "fcr": fcr["rate"], "fcr_lower": fcr["ci_lower"], "fcr_upper": fcr["ci_upper"],
            "n_rated": k, "csat_mean": m, "csat_lower": lo, "csat_upper": hi,
            "hours_median": float(hours.median()) if len(hours) else np.nan,
            "hours_p90": float(hours.quantile(0.9)) if len(hours) else np.nan,
            "unresolved_share": float((~g["resolved"]).mean()),
        })
    return pd.DataFrame(rows)


def support_exposures(dataset: Dataset, pop: pd.DataFrame, *, window_days: float = 90, low_csat: float = 2.0,
                      slow_quantile: float = 0.9) -> pd.DataFrame:
    """Customer-level support exposures in the window before the cutoff.

    Parameters
    ----------
    dataset : Dataset
        Needs ``tickets``.
    pop : DataFrame
        ``customer_id, cutoff, label`` (one cutoff); ``unresolved_tickets`` from the features is
        used when present.
    window_days : float
        Tickets opened in ``[cutoff - window, cutoff)``.
    low_csat : float
        A rating at or below it is a bad experience (on the 1-5 scale).
    slow_quantile : float
        A resolution slower than this quantile of its line's resolution times is slow.

    Returns
    -------
    DataFrame
        One row per customer: ``customer_id, label`` and booleans ``had_ticket``, ``bot_failed``
        (a line-1 ticket the bot did not resolve), ``no_fcr`` (a ticket not resolved at first
        contact), ``low_csat``, ``slow_resolution``, ``unresolved`` (an open ticket at the cutoff),
        ``ticket_technical``, ``ticket_financial``, ``ticket_emotional``.
    """
    dataset.require("tickets", by="support_exposures")
    require_columns(pop, [C.CUSTOMER_ID, C.CUTOFF, C.LABEL], table="population")
    cutoff = pd.Timestamp(pop[C.CUTOFF].iloc[0])
    t = rows_before(dataset["tickets"], "opened_at", cutoff, window_days, name="tickets")
    require_columns(t, _TICKET_COLUMNS, table="tickets")
    t = t.assign(**{C.CUSTOMER_ID: t[C.CUSTOMER_ID].astype(str)})
    resolved_at = t["opened_at"] + pd.to_timedelta(t["hours_to_resolve"], unit="h")
    resolved = t["hours_to_resolve"].notna() & (resolved_at <= cutoff)
    slow_limit = t.loc[resolved].groupby("line")["hours_to_resolve"].quantile(slow_quantile)
    flags = pd.DataFrame({
        C.CUSTOMER_ID: t[C.CUSTOMER_ID],
        "had_ticket": True,
        "bot_failed": (t["line"] == 1) & ~t["resolved_by_bot"].astype(bool),
        "no_fcr": ~t["first_contact_resolution"].astype(bool),
        "low_csat": resolved & (t["csat"] <= low_csat),
        "slow_resolution": resolved & (t["hours_to_resolve"] > t["line"].map(slow_limit)),
        "unresolved": ~resolved,
        **{f"ticket_{cat}": t["category"] == cat for cat in C.TICKET_CATEGORIES},
    }).groupby(C.CUSTOMER_ID).any()
    out = pop[[C.CUSTOMER_ID, C.LABEL]].copy()
    ids = out[C.CUSTOMER_ID].astype(str)
    for col in flags.columns:
        out[col] = ids.map(flags[col]).fillna(False).astype(bool)
    return out
