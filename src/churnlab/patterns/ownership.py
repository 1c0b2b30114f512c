"""Breakdowns by who owns the customer and where: region, account manager, acquisition channel.

A sale counts only if the customer stays (DOMAIN.md, "Onboarding and sales as KPIs"): per owner or
place this module gives activation, early churn (the first spell ending within ``early_days`` of its
start) and the number of customers at risk now, each with a Wilson interval and a comparison with
everyone else, and only calls a group out when it has at least ``min_n`` customers and its interval
excludes the rest's rate.

:func:`onboarding_outcomes` builds one row per customer; :func:`breakdown` summarises any boolean
outcome column of it by any attribute; :func:`at_risk_by` counts a risk list by attribute.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.intervals import newcombe_difference_interval
from churnlab.metrics import customer_lifetimes, rate_with_ci
from churnlab.patterns.lifetime import observation_start
from churnlab.patterns.usage import activation_flags
from churnlab.schema import Dataset, require_columns

__all__ = ["DEFAULT_EARLY_DAYS", "DEFAULT_MIN_GROUP", "onboarding_outcomes", "breakdown", "at_risk_by"]

#: Early churn: the first spell ends within 30 days of its start (OPINIONS.md, "Early churn window").
DEFAULT_EARLY_DAYS = 30
#: Fewest customers before a group is called out (OPINIONS.md, "Minimum group size in breakdowns").
DEFAULT_MIN_GROUP = 30


def onboarding_outcomes(dataset: Dataset, cutoff=None, *, early_days: int = DEFAULT_EARLY_DAYS,
                        activation_days: int = 14, observed_from=None) -> pd.DataFrame:
    """One row per customer: did they activate, did they churn early, with their owner and place.

    Parameters
    ----------
    dataset : Dataset
        Needs ``subscriptions`` and ``customers``; ``funnel`` or ``events`` for activation.
    cutoff : timestamp, optional
        Default ``as_of``.
    early_days : int
        Early churn window after the first spell's start.
    activation_days : int
        Onboarding window of :func:`churnlab.patterns.usage.activation_flags`.
    observed_from : timestamp, optional
        When the data began recording churns (default
        :func:`churnlab.patterns.lifetime.observation_start`): customers who started before it are
        only there because they survived until then, so their early churn is unknown (missing).

    Returns
    -------
    DataFrame
        ``customer_id, start_at, early_churn`` (boolean; missing when the window is not over at the
        cutoff or began before observation), ``activated`` (boolean; missing when unknown) and the
        customers table's columns (``region, account_manager, channel, segment``...).
    """
    cutoff = dataset.as_of if cutoff is None else pd.Timestamp(cutoff)
    life = customer_lifetimes(dataset, cutoff)
    start = observation_start(dataset, cutoff) if observed_from is None else pd.Timestamp(observed_from)
    known = (life["start_at"] >= start) & (life["start_at"] + pd.Timedelta(days=early_days) <= cutoff)
    early = life["observed"] & (life["duration_days"] <= early_days)
    out = life.drop(columns=["end_at", "duration_days", "observed"]).copy()
    out[C.CUSTOMER_ID] = out[C.CUSTOMER_ID].astype(str)
    out.insert(2, "early_churn", early.where(known).astype("boolean"))
    out.insert(3, "activated", pd.Series(pd.NA, index=out.index, dtype="boolean"))
    if ("funnel" in dataset or "events" in dataset) and C.SIGNUP_AT in out:
        pop = out[[C.CUSTOMER_ID, C.SIGNUP_AT]].assign(**{C.CUTOFF: cutoff, C.LABEL: 0})
        pop = pop[pop[C.SIGNUP_AT] < cutoff]
        act = activation_flags(dataset, pop, activation_days=activation_days).set_index(C.CUSTOMER_ID)["activated"]
        out["activated"] = out[C.CUSTOMER_ID].map(act).astype("boolean")
    out.attrs.update(observed_from=start, early_days=early_days, activation_days=activation_days)
    return out


def breakdown(outcomes: pd.DataFrame, by: str, outcome: str, *, min_n: int = DEFAULT_MIN_GROUP,
              alpha: float = 0.05) -> pd.DataFrame:
    """Rate of a boolean outcome per value of ``by``, with intervals and a comparison with the rest.

    Parameters
    ----------
    outcomes : DataFrame
        One row per customer with ``by`` and a boolean ``outcome`` (missing values are left out), e.g.
        :func:`onboarding_outcomes` (``early_churn``, ``activated``).
    by : str
        Grouping column (``region``, ``account_manager``, ``channel``...); missing values form
        ``"(missing)"``.
    outcome : str
        The boolean column.
    min_n : int
        Fewest customers before a group can ``stand_out``.
    alpha : float
        Interval level.

    Returns
    -------
    DataFrame
        One row per group, highest rate first: ``by, n, successes, rate, ci_lower, ci_upper``
        (Wilson), ``rate_rest``, ``difference`` with Newcombe ``difference_lower/upper``, ``enough``
        (n >= min_n) and ``stands_out`` (enough and the difference's interval excludes 0).

    Raises
    ------
    AnalysisError
        When no row has a known outcome.

    Examples
    --------
    >>> o = pd.DataFrame({"region": ["n", "n", "s", "s"], "early_churn": [True, False, False, False]})
    >>> breakdown(o, "region", "early_churn", min_n=1)[["region", "n", "rate", "rate_rest"]].to_dict("records")
    [{'region': 'n', 'n': 2, 'rate': 0.5, 'rate_rest': 0.0}, {'region': 's', 'n': 2, 'rate': 0.0, 'rate_rest': 0.5}]
    """
    require_columns(outcomes, [by, outcome], table="outcomes")
    d = outcomes[[by, outcome]].dropna(subset=[outcome])
    if d.empty:
        raise AnalysisError(f"breakdown: no customer has a known {outcome!r}")
    key = d[by].astype("object").where(d[by].notna(), "(missing)").astype(str)
    g = d[outcome].astype(bool).groupby(key, sort=True).agg(["size", "sum"])
    ci = rate_with_ci(g["sum"], g["size"], alpha)
    n_rest, x_rest = g["size"].sum() - g["size"], g["sum"].sum() - g["sum"]
    lo, hi = newcombe_difference_interval(g["sum"], g["size"], x_rest, n_rest, alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        rest = np.where(n_rest > 0, x_rest / n_rest, np.nan)
    out = pd.DataFrame({by: g.index, "n": ci["n"].to_numpy(), "successes": ci["successes"].to_numpy(),
                        "rate": ci["rate"].to_numpy(), "ci_lower": ci["ci_lower"].to_numpy(),
                        "ci_upper": ci["ci_upper"].to_numpy(), "rate_rest": rest})
    out["difference"] = out["rate"] - out["rate_rest"]
    out["difference_lower"], out["difference_upper"] = np.asarray(lo, float), np.asarray(hi, float)
    out["enough"] = out["n"] >= int(min_n)
    out["stands_out"] = out["enough"] & ((out["difference_lower"] > 0) | (out["difference_upper"] < 0))
    out.attrs.update(outcome=outcome, min_n=int(min_n), alpha=alpha)
    return out.sort_values(["rate", by], ascending=[False, True], kind="mergesort").reset_index(drop=True)


def at_risk_by(risk: pd.DataFrame, attributes: pd.DataFrame, by: str, *, flag: str | None = None,
               zones: Sequence[str] = ("red", "amber"), min_n: int = DEFAULT_MIN_GROUP,
               alpha: float = 0.05) -> pd.DataFrame:
    """Count the customers at risk now per owner or place.

    Parameters
    ----------
    risk : DataFrame
        One row per scored customer: ``customer_id`` and either a boolean ``flag`` column or a
        ``zone`` column (:func:`churnlab.patterns.rules.assign_zones`).
    attributes : DataFrame
        ``customer_id`` and ``by`` (e.g. ``customers``).
    by : str
        Grouping column.
    flag : str, optional
        Boolean at-risk column; default ``zone`` in ``zones``.
    zones : sequence of str
        Zones that count as at risk when ``flag`` is None.
    min_n, alpha
        As in :func:`breakdown`.

    Returns
    -------
    DataFrame
        The :func:`breakdown` columns with ``successes`` renamed ``at_risk`` and ``rate`` renamed
        ``share_at_risk``, largest count first.
    """
    require_columns(risk, [C.CUSTOMER_ID], table="risk")
    require_columns(attributes, [C.CUSTOMER_ID, by], table="attributes")
    if flag is None:
        require_columns(risk, ["zone"], table="risk")
        at = risk["zone"].isin(list(zones))
    else:
        require_columns(risk, [flag], table="risk")
        at = risk[flag].astype(bool)
    a = attributes[[C.CUSTOMER_ID, by]].assign(**{C.CUSTOMER_ID: attributes[C.CUSTOMER_ID].astype(str)})
    a = a.drop_duplicates(C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)[by]
    d = pd.DataFrame({by: risk[C.CUSTOMER_ID].astype(str).map(a).to_numpy(), "at_risk": at.to_numpy()})
    out = breakdown(d, by, "at_risk", min_n=min_n, alpha=alpha).rename(
        columns={"successes": "at_risk", "rate": "share_at_risk"})
    return out.sort_values(["at_risk", by], ascending=[False, True], kind="mergesort").reset_index(drop=True)
