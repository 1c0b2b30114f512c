"""Support quality as of a cutoff: bot containment, first-contact resolution, CSAT, resolution time.

Lines and categories come from the dataset's vocabulary (``ticket_lines``, first line first;
``ticket_categories``): in the synthetic world line 1 is the bot/chat line, line 2 account managers,
line 3 experts, and the categories are the problem clusters technical / financial / emotional. The
bot line is the first declared line. Ticket-level quality is summarised by line and by
cluster; :func:`support_exposures` turns it into customer-level exposures for
:func:`churnlab.patterns.exposure.compare_exposed`. The count of unresolved tickets is the feature
module's ``unresolved_tickets`` (one definition shared with the model).

Where the tickets carry the optional ``agent`` and ``first_response_hours`` columns,
:func:`first_response` measures speed to the first answer against an SLA per line or per agent and
:func:`agent_unresolved` names the operators who regularly leave requests unresolved (a minimum
number of tickets and an interval that excludes their line's rate, so one bad week names nobody).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.intervals import newcombe_difference_interval, wilson_interval
from churnlab.metrics import rate_with_ci
from churnlab.patterns.population import rows_before
from churnlab.schema import Dataset, require_columns

__all__ = ["support_quality", "mean_with_ci", "low_csat_threshold", "support_exposures", "first_response",
           "agent_unresolved", "DEFAULT_SLA_HOURS", "DEFAULT_MIN_TICKETS"]

#: First-response SLA in hours (OPINIONS.md, "First-response SLA"): 46% of customers expect an email
#: answer within 4 hours (DOMAIN.md, "Response time"). A lead expects minutes: pass ``{1: 1 / 6}``.
DEFAULT_SLA_HOURS = 4.0
#: Fewest tickets before an agent can be named (OPINIONS.md, "Naming operators who leave tickets unresolved").
DEFAULT_MIN_TICKETS = 30

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
        ``bot_containment_lower/upper``; the first declared line only, NaN elsewhere), ``fcr`` (first-contact
        resolution share, Wilson ``fcr_lower/upper``), ``csat_mean`` (t interval
        ``csat_lower/upper``, ``n_rated``), ``hours_median, hours_p90``, ``unresolved_share``
        (no resolution time by the cutoff).
    """
    dataset.require("tickets", by="support_quality")
    t = rows_before(dataset["tickets"], "opened_at", cutoff, window_days, name="tickets")
    require_columns(t, _TICKET_COLUMNS, table="tickets")
    cutoff = pd.Timestamp(cutoff)
    bot_line = dataset.vocabulary("ticket_lines")[0]
    resolved_at = t["opened_at"] + pd.to_timedelta(t["hours_to_resolve"], unit="h")
    t = t.assign(resolved=t["hours_to_resolve"].notna() & (resolved_at <= cutoff))
    rows = []
    for key, g in t.groupby(by, sort=True):
        n = len(g)
        bot = rate_with_ci(pd.Series([g["resolved_by_bot"].sum()]), pd.Series([n]), alpha).iloc[0]
        fcr = rate_with_ci(pd.Series([g["first_contact_resolution"].sum()]), pd.Series([n]), alpha).iloc[0]
        k, m, lo, hi = mean_with_ci(g.loc[g["resolved"], "csat"], alpha)
        hours = g.loc[g["resolved"], "hours_to_resolve"].astype(float)
        line1 = by == "line" and key == bot_line
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


def low_csat_threshold(scale: tuple[float, float]) -> float:
    """Highest CSAT that counts as a bad experience: the bottom quarter of the scale, ``low + (high - low) / 4``.

    OPINIONS.md, "A low CSAT on any scale": 2 on the synthetic world's 1-5 scale, 2.5 on 0-10.

    Examples
    --------
    >>> low_csat_threshold((1.0, 5.0)), low_csat_threshold((0.0, 10.0))
    (2.0, 2.5)
    """
    low, high = scale
    return float(low + (high - low) / 4.0)


def support_exposures(dataset: Dataset, pop: pd.DataFrame, *, window_days: float = 90,
                      low_csat: float | None = None, slow_quantile: float = 0.9) -> pd.DataFrame:
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
    low_csat : float, optional
        A rating at or below it is a bad experience; default :func:`low_csat_threshold` of the
        dataset's ``csat_scale`` (2 on the synthetic world's 1-5 scale).
    slow_quantile : float
        A resolution slower than this quantile of its line's resolution times is slow.

    Returns
    -------
    DataFrame
        One row per customer: ``customer_id, label`` and booleans ``had_ticket``, ``bot_failed``
        (a ticket on the first declared line the bot did not resolve), ``no_fcr`` (a ticket not
        resolved at first contact), ``low_csat``, ``slow_resolution``, ``unresolved`` (an open ticket
        at the cutoff), then ``ticket_<category>`` for each of the dataset's ``ticket_categories``
        (synthetic: ``ticket_technical``, ``ticket_financial``, ``ticket_emotional``).
        ``attrs["exposures"]`` lists the boolean columns in that order.

    Raises
    ------
    MissingTableError
        When the dataset has no ``tickets`` table.
    SchemaError
        When ``pop`` or ``tickets`` lacks a column it needs.
    """
    dataset.require("tickets", by="support_exposures")
    require_columns(pop, [C.CUSTOMER_ID, C.CUTOFF, C.LABEL], table="population")
    cutoff = pd.Timestamp(pop[C.CUTOFF].iloc[0])
    t = rows_before(dataset["tickets"], "opened_at", cutoff, window_days, name="tickets")
    require_columns(t, _TICKET_COLUMNS, table="tickets")
    t = t.assign(**{C.CUSTOMER_ID: t[C.CUSTOMER_ID].astype(str)})
    resolved_at = t["opened_at"] + pd.to_timedelta(t["hours_to_resolve"], unit="h")
    resolved = t["hours_to_resolve"].notna() & (resolved_at <= cutoff)
    if low_csat is None:
        low_csat = low_csat_threshold(dataset.vocabulary("csat_scale"))
    categories = dataset.vocabulary("ticket_categories")
    slow_limit = t.loc[resolved].groupby("line")["hours_to_resolve"].quantile(slow_quantile)
    flags = pd.DataFrame({
        C.CUSTOMER_ID: t[C.CUSTOMER_ID],
        "had_ticket": True,
        "bot_failed": (t["line"] == dataset.vocabulary("ticket_lines")[0]) & ~t["resolved_by_bot"].astype(bool),
        "no_fcr": ~t["first_contact_resolution"].astype(bool),
        "low_csat": resolved & (t["csat"] <= low_csat),
        "slow_resolution": resolved & (t["hours_to_resolve"] > t["line"].map(slow_limit)),
        "unresolved": ~resolved,
        **{f"ticket_{cat}": t["category"] == cat for cat in categories},
    }).groupby(C.CUSTOMER_ID).any()
    out = pop[[C.CUSTOMER_ID, C.LABEL]].copy()
    ids = out[C.CUSTOMER_ID].astype(str)
    for col in flags.columns:
        out[col] = ids.map(flags[col]).fillna(False).astype(bool)
    out.attrs["exposures"] = [c for c in flags.columns if c != "had_ticket"]
    return out


def _sla_of(lines: pd.Series, sla_hours) -> pd.Series:
    """SLA hours per ticket: one number for every line, or a mapping line -> hours."""
    if isinstance(sla_hours, dict):
        missing = sorted(set(lines.unique()) - set(sla_hours))
        if missing:
            raise AnalysisError(f"first_response: sla_hours has no entry for line(s) {missing}; got {sla_hours}")
        return lines.map(sla_hours).astype(float)
    return pd.Series(float(sla_hours), index=lines.index)


def first_response(dataset: Dataset, cutoff, *, by: str = "line", sla_hours: float | dict = DEFAULT_SLA_HOURS,
                   window_days: float | None = 90, include_bot: bool = True, alpha: float = 0.05) -> pd.DataFrame:
    """Measure the time to the first response and the share answered within an SLA, per line or per agent.

    Parameters
    ----------
    dataset : Dataset
        Needs ``tickets`` with ``opened_at, line, resolved_by_bot, first_response_hours`` (and
        ``agent`` for ``by="agent"``).
    cutoff : timestamp
        Tickets opened at or after it are not read.
    by : {"line", "agent", "category"}
        Grouping; ``agent`` reads only tickets an agent handled (bot-resolved ones name none) and
        keeps each agent's line.
    sla_hours : float or dict of int to float
        The SLA: one number for every line or one per line (default 4 hours; a lead line might use
        ``1 / 6``, 10 minutes).
    window_days : float, optional
        Tickets opened in ``[cutoff - window, cutoff)``; None for all history.
    include_bot : bool
        Count the bot's instant answers (line 1) in the per-line view.
    alpha : float
        Interval level (Wilson for the share).

    Returns
    -------
    DataFrame
        One row per group: ``by`` (plus ``line`` for agents), ``n_tickets`` (opened at least the SLA
        before the cutoff, so whether they met it is known), ``sla_hours``, ``median_hours``,
        ``p90_hours`` (of the first responses given by the cutoff), ``within_sla`` (count),
        ``share_within_sla`` with ``ci_lower, ci_upper``; sorted by the share, worst first.

    Raises
    ------
    MissingTableError
        When there are no ``tickets``.
    SchemaError
        When ``first_response_hours`` (or ``agent``) is missing.
    AnalysisError
        When no ticket is old enough to tell.

    Examples
    --------
    >>> t = pd.DataFrame({"customer_id": list("abc"), "opened_at": pd.Timestamp("2024-05-01"), "line": 1,
    ...                   "category": "technical", "resolved_by_bot": False, "agent": ["x", "x", "y"],
    ...                   "first_response_hours": [1.0, 6.0, 2.0]})
    >>> ds = Dataset("d", {"tickets": t}, as_of="2024-06-01", source="doctest")
    >>> first_response(ds, "2024-06-01", by="agent")[["agent", "n_tickets", "share_within_sla"]].to_dict("records")
    [{'agent': 'x', 'n_tickets': 2, 'share_within_sla': 0.5}, {'agent': 'y', 'n_tickets': 1, 'share_within_sla': 1.0}]
    """
    dataset.require("tickets", by="first_response")
    cutoff = pd.Timestamp(cutoff)
    t = rows_before(dataset["tickets"], "opened_at", cutoff, window_days, name="tickets")
    need = ["opened_at", "line", "resolved_by_bot", "first_response_hours"] + (["agent"] if by == "agent" else [by])
    require_columns(t, list(dict.fromkeys(need)), table="tickets")
    if by == "agent":
        t = t[t["agent"].notna()]
    elif not include_bot:
        t = t[~t["resolved_by_bot"].astype(bool)]
    sla = _sla_of(t["line"], sla_hours)
    t = t.assign(_sla=sla)
    t = t[t["opened_at"] + pd.to_timedelta(t["_sla"], unit="h") <= cutoff]
    if t.empty:
        raise AnalysisError(f"first_response: no ticket opened at least the SLA before {cutoff.date()}")
    hours = t["first_response_hours"].astype(float)
    given = hours.notna() & (t["opened_at"] + pd.to_timedelta(hours.fillna(0.0), unit="h") <= cutoff)
    t = t.assign(_within=given & (hours <= t["_sla"]), _given=given)
    keys = ["agent", "line"] if by == "agent" else [by]
    rows = []
    for key, g in t.groupby(keys, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        h = g.loc[g["_given"], "first_response_hours"].astype(float)
        rows.append({**dict(zip(keys, key)), "n_tickets": len(g), "sla_hours": float(g["_sla"].iloc[0]),
                     "median_hours": float(h.median()) if len(h) else np.nan,
                     "p90_hours": float(h.quantile(0.9)) if len(h) else np.nan,
                     "within_sla": int(g["_within"].sum())})
    out = pd.DataFrame(rows)
    lo, hi = wilson_interval(out["within_sla"].to_numpy(), out["n_tickets"].to_numpy(), alpha)
    out["share_within_sla"] = out["within_sla"] / out["n_tickets"]
    out["ci_lower"], out["ci_upper"] = lo, hi
    return out.sort_values(["share_within_sla", *keys], kind="mergesort").reset_index(drop=True)


def agent_unresolved(dataset: Dataset, cutoff, *, window_days: float | None = 180,
                     min_tickets: int = DEFAULT_MIN_TICKETS, alpha: float = 0.05,
                     adjust: bool = True) -> pd.DataFrame:
    """Find the operators who regularly leave requests unresolved, compared with the rest of their line.

    A ticket an agent handled is *left unresolved* when it was not resolved at first contact, or
    not resolved at all by the cutoff. An agent is named (``flagged``) only with at least
    ``min_tickets`` tickets and when the whole interval of their rate minus the rest of their
    line's rate lies above zero, so a handful of bad tickets or one bad week names nobody.

    Parameters
    ----------
    dataset : Dataset
        Needs ``tickets`` with ``agent, line, opened_at, resolved_by_bot, first_contact_resolution,
        hours_to_resolve``.
    cutoff : timestamp
        Tickets opened at or after it are not read.
    window_days : float, optional
        Tickets opened in ``[cutoff - window, cutoff)``; None for all history.
    min_tickets : int
        Fewest tickets before an agent can be named.
    alpha : float
        Interval level.
    adjust : bool
        Bonferroni: each interval is at level ``1 - alpha / k`` for the ``k`` agents with enough
        tickets, so the chance of naming anyone by luck stays at most ``alpha``.

    Returns
    -------
    DataFrame
        One row per agent: ``agent, line, n_tickets, unresolved, rate`` (Wilson ``ci_lower,
        ci_upper`` at the adjusted level), ``rate_rest`` (the other agents of the line),
        ``difference`` with Newcombe ``difference_lower, difference_upper``, ``months_active``,
        ``months_above`` (months with a rate above the rest's), ``enough`` (n >= min_tickets),
        ``flagged``; worst first.

    Raises
    ------
    SchemaError
        When the tickets name no agent (the column is optional in the schema).
    AnalysisError
        When no ticket handled by an agent is in the window.

    Notes
    -----
    A line with a single agent has no rest to compare with: its ``difference`` is NaN and nobody
    is flagged there.
    """
    dataset.require("tickets", by="agent_unresolved")
    cutoff = pd.Timestamp(cutoff)
    t = rows_before(dataset["tickets"], "opened_at", cutoff, window_days, name="tickets")
    require_columns(t, ["agent", "line", "opened_at", "first_contact_resolution", "hours_to_resolve"], table="tickets")
    t = t[t["agent"].notna()]
    if t.empty:
        raise AnalysisError(f"agent_unresolved: no ticket handled by an agent before {cutoff.date()}")
    resolved_at = t["opened_at"] + pd.to_timedelta(t["hours_to_resolve"], unit="h")
    open_now = t["hours_to_resolve"].isna() | (resolved_at > cutoff)
    t = t.assign(_bad=(~t["first_contact_resolution"].astype(bool)) | open_now,
                 _month=t["opened_at"].dt.to_period("M"))
    g = t.groupby(["agent", "line"], sort=True)["_bad"].agg(["size", "sum"]).reset_index()
    g.columns = ["agent", "line", "n_tickets", "unresolved"]
    line_tot = g.groupby("line")[["n_tickets", "unresolved"]].transform("sum")
    n_rest, x_rest = line_tot["n_tickets"] - g["n_tickets"], line_tot["unresolved"] - g["unresolved"]
    enough = g["n_tickets"] >= int(min_tickets)
    k = max(int(enough.sum()), 1)
    level = alpha / k if adjust else alpha
    lo, hi = wilson_interval(g["unresolved"].to_numpy(), g["n_tickets"].to_numpy(), level)
    dlo, dhi = newcombe_difference_interval(g["unresolved"], g["n_tickets"], x_rest, n_rest, level)
    monthly = t.groupby(["agent", "line", "_month"])["_bad"].agg(["size", "sum"]).reset_index()
    m_line = monthly.groupby(["line", "_month"])[["size", "sum"]].transform("sum")
    with np.errstate(divide="ignore", invalid="ignore"):
        rest_m = (m_line["sum"] - monthly["sum"]) / (m_line["size"] - monthly["size"])
    monthly["above"] = (monthly["sum"] / monthly["size"]) > rest_m
    months = monthly.groupby(["agent", "line"]).agg(months_active=("size", "size"), months_above=("above", "sum"))
    out = g.assign(rate=g["unresolved"] / g["n_tickets"], ci_lower=lo, ci_upper=hi,
                   rate_rest=np.where(n_rest > 0, x_rest / n_rest.where(n_rest > 0), np.nan))
    out["difference"] = out["rate"] - out["rate_rest"]
    out["difference_lower"], out["difference_upper"] = np.asarray(dlo, float), np.asarray(dhi, float)
    out = out.merge(months.reset_index(), on=["agent", "line"], how="left")
    out["enough"] = enough.to_numpy()
    out["flagged"] = out["enough"] & (out["difference_lower"] > 0)
    out.attrs.update(alpha=alpha, level=level, min_tickets=int(min_tickets), adjusted=adjust)
    return out.sort_values(["flagged", "difference"], ascending=[False, False], kind="mergesort").reset_index(drop=True)
