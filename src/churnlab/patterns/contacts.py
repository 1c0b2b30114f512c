"""Contacts as of a cutoff: last reached contact, contact frequency per segment, do-not-disturb.

Only reached contacts count as contacts (a call nobody answered is an attempt). The feature module's
``reached_contacts_90d`` is reused; days since the last *reached* contact is computed here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.metrics import rate_with_ci
from churnlab.patterns.population import rows_before
from churnlab.schema import Dataset, require_columns

__all__ = ["contact_profile", "contact_frequency"]


def contact_profile(dataset: Dataset, pop: pd.DataFrame, *, window_days: int = 90) -> pd.DataFrame:
    """Describe each customer's contacts before the cutoff, counting only reached ones as contacts.

    Parameters
    ----------
    dataset : Dataset
        Needs ``contacts`` (``customer_id, contacted_at, reached``); ``customers.do_not_disturb``
        when present.
    pop : DataFrame
        ``customer_id, cutoff, label`` and ``tenure_days``, ``segment`` when present.
    window_days : int
        The recent window for counts.

    Returns
    -------
    DataFrame
        One row per customer: ``customer_id, label, segment`` (when present), ``attempts`` and
        ``reached`` in the window, ``days_since_reached`` (since the last reached contact; tenure when
        never reached), ``not_contacted`` (no reached contact in the window), ``do_not_disturb`` and
        ``dnd_contacted`` (a DND customer got an attempt in the window).
    """
    dataset.require("contacts", by="contact_profile")
    require_columns(pop, [C.CUSTOMER_ID, C.CUTOFF, C.LABEL], table="population")
    cutoff = pd.Timestamp(pop[C.CUTOFF].iloc[0])
    c = rows_before(dataset["contacts"], "contacted_at", cutoff, name="contacts")
    c = c.assign(**{C.CUSTOMER_ID: c[C.CUSTOMER_ID].astype(str), "reached": c["reached"].astype(bool)})
    recent = c[c["contacted_at"] >= cutoff - pd.Timedelta(days=window_days)]
    attempts = recent.groupby(C.CUSTOMER_ID).size()
    reached = recent[recent["reached"]].groupby(C.CUSTOMER_ID).size()
    last = c[c["reached"]].groupby(C.CUSTOMER_ID)["contacted_at"].max()
    keep = [col for col in [C.CUSTOMER_ID, C.LABEL, C.SEGMENT] if col in pop]
    out = pop[keep].copy()
    ids = out[C.CUSTOMER_ID].astype(str)
    out["attempts"] = ids.map(attempts).fillna(0).astype(int)
    out["reached"] = ids.map(reached).fillna(0).astype(int)
    since = (cutoff - pd.to_datetime(ids.map(last))).dt.total_seconds() / 86400.0
    if "tenure_days" in pop:
        since = since.fillna(pop["tenure_days"])
    out["days_since_reached"] = since
    out["not_contacted"] = out["reached"] == 0
    dnd = pd.Series(False, index=out.index)
    customers = dataset.tables.get("customers")
    if customers is not None and "do_not_disturb" in customers:
        flag = customers.assign(**{C.CUSTOMER_ID: customers[C.CUSTOMER_ID].astype(str)}).drop_duplicates(
            C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)["do_not_disturb"]
        dnd = ids.map(flag).fillna(False).astype(bool)
    out["do_not_disturb"] = dnd
    out["dnd_contacted"] = dnd & (out["attempts"] > 0)
    return out


def contact_frequency(profile: pd.DataFrame, *, by: str = C.SEGMENT, window_days: int = 90,
                      alpha: float = 0.05) -> pd.DataFrame:
    """Summarise contact frequency per group and whether do-not-disturb was respected.

    Parameters
    ----------
    profile : DataFrame
        From :func:`contact_profile`.
    by : str
        Grouping column.
    window_days : int
        The profile's window, to express frequency per 30 days.
    alpha : float
        Interval level (Wilson).

    Returns
    -------
    DataFrame
        One row per group: ``by, customers, reached_per_30d`` (mean reached contacts per customer
        per 30 days), ``reach_rate`` (reached / attempts), ``not_contacted_share`` with
        ``not_contacted_lower/upper``, ``median_days_since_reached``, ``dnd_customers``,
        ``dnd_respected`` (share of DND customers with no attempt) with ``dnd_respected_lower/upper``.
    """
    require_columns(profile, [by, "attempts", "reached", "not_contacted", "days_since_reached", "do_not_disturb",
                              "dnd_contacted"], table="contact_profile")
    rows = []
    for key, g in profile.groupby(by, sort=True):
        nc = rate_with_ci(pd.Series([g["not_contacted"].sum()]), pd.Series([len(g)]), alpha).iloc[0]
        dnd = g[g["do_not_disturb"]]
        ok = rate_with_ci(pd.Series([(~dnd["dnd_contacted"]).sum()]), pd.Series([len(dnd)]), alpha).iloc[0]
        att = g["attempts"].sum()
        rows.append({by: key, "customers": len(g), "reached_per_30d": g["reached"].mean() * 30.0 / window_days,
                     "reach_rate": g["reached"].sum() / att if att else np.nan,
                     "not_contacted_share": nc["rate"], "not_contacted_lower": nc["ci_lower"],
                     "not_contacted_upper": nc["ci_upper"],
                     "median_days_since_reached": float(g["days_since_reached"].median()),
                     "dnd_customers": len(dnd), "dnd_respected": ok["rate"], "dnd_respected_lower": ok["ci_lower"],
                     "dnd_respected_upper": ok["ci_upper"]})
    return pd.DataFrame(rows)
