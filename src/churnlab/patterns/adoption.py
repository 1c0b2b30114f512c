"""Adoption depth: do customers who use more components stay longer, and which component matters most.

Counting a customer's components over their whole life would favour the long-lived (they had more
time to try things: immortal-time bias). So adoption is measured in a *landmark* window, the first
``landmark_days`` after the first spell's start, for customers still active at the landmark, and
lifetime is counted from the landmark on (Anderson, Cain & Gelber 1983). Customers whose start
predates the event log cannot show their early adoption and are left out (and counted).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.intervals import z_value
from churnlab.metrics import customer_lifetimes, kaplan_meier, median_lifetime, survival_by
from churnlab.patterns.lifetime import restricted_mean
from churnlab.schema import Dataset, require_columns

__all__ = ["DEFAULT_LANDMARK_DAYS", "adoption_table", "retention_by_depth", "component_lifetimes"]

#: Adoption is counted in the first 60 days (OPINIONS.md, "Adoption depth: landmark window").
DEFAULT_LANDMARK_DAYS = 60


def adoption_table(dataset: Dataset, cutoff=None, *, landmark_days: int = DEFAULT_LANDMARK_DAYS,
                   components: Sequence[str] | None = None, events_since=None) -> pd.DataFrame:
    """One row per customer at the landmark: components adopted in the first ``landmark_days``, lifetime after.

    Parameters
    ----------
    dataset : Dataset
        Needs ``subscriptions`` and ``events`` with ``component`` (``event_type == "component_use"``).
    cutoff : timestamp, optional
        Default ``as_of``; events at or after it are not read, lifetimes are censored there.
    landmark_days : int
        Length of the adoption window after the first spell's start.
    components : sequence of str, optional
        Components to count; default those seen in the events.
    events_since : timestamp, optional
        Start of the event log (default its first timestamp); customers who started before it are
        left out.

    Returns
    -------
    DataFrame
        One row per customer who started on or after ``events_since``, reached the landmark before
        the cutoff and was still active then: ``customer_id, depth`` (components used in the
        window), ``depth_group`` (``"0"`` .. ``"4+"``), ``uses_<component>`` booleans,
        ``duration_days`` (from the landmark to churn or the cutoff), ``observed`` and the customers
        columns. ``attrs`` records ``n_before_log`` (started before the log), ``n_too_recent`` and
        ``n_gone_before_landmark``.

    Raises
    ------
    AnalysisError
        When no customer qualifies.
    """
    dataset.require("subscriptions", "events", by="adoption_table")
    cutoff = dataset.as_of if cutoff is None else pd.Timestamp(cutoff)
    ev = dataset["events"]
    require_columns(ev, [C.CUSTOMER_ID, C.TIMESTAMP, "event_type", "component"], table="events")
    since = pd.Timestamp(ev[C.TIMESTAMP].min()).normalize() if events_since is None else pd.Timestamp(events_since)
    life = customer_lifetimes(dataset, cutoff)
    life[C.CUSTOMER_ID] = life[C.CUSTOMER_ID].astype(str)
    mark = life["start_at"] + pd.Timedelta(days=landmark_days)
    before = life["start_at"] < since
    recent = ~before & (mark > cutoff)
    gone = ~before & ~recent & (life["duration_days"] <= landmark_days)
    keep = ~before & ~recent & ~gone
    life = life[keep].copy()
    if life.empty:
        raise AnalysisError(f"adoption_table: no customer started after the event log began ({since.date()}) and "
                            f"reached {landmark_days} days before {cutoff.date()}")
    use = ev[(ev["event_type"] == "component_use") & ev["component"].notna() & (ev[C.TIMESTAMP] < cutoff)]
    use = use.assign(**{C.CUSTOMER_ID: use[C.CUSTOMER_ID].astype(str)})
    use = use[use[C.CUSTOMER_ID].isin(life[C.CUSTOMER_ID])]
    start = use[C.CUSTOMER_ID].map(life.set_index(C.CUSTOMER_ID)["start_at"])
    use = use[(use[C.TIMESTAMP] >= start) & (use[C.TIMESTAMP] < start + pd.Timedelta(days=landmark_days))]
    comps = list(components) if components is not None else [c for c in dataset.vocabulary("components")
                                                             if c in set(ev["component"].dropna())]
    comps += [c for c in sorted(set(ev["component"].dropna())) if components is None and c not in comps]
    used = pd.crosstab(use[C.CUSTOMER_ID], use["component"]).reindex(columns=comps, fill_value=0) > 0
    out = life[[C.CUSTOMER_ID]].copy()
    for c in comps:
        out[f"uses_{c}"] = out[C.CUSTOMER_ID].map(used[c]).fillna(False).astype(bool).to_numpy()
    out["depth"] = out[[f"uses_{c}" for c in comps]].sum(axis=1).astype(int)
    out["depth_group"] = np.where(out["depth"] >= 4, "4+", out["depth"].astype(str))
    out["duration_days"] = (life["duration_days"] - landmark_days).to_numpy()
    out["observed"] = life["observed"].to_numpy()
    extra = life.drop(columns=[c for c in ("start_at", "end_at", "duration_days", "observed") if c in life])
    out = out.merge(extra, on=C.CUSTOMER_ID, how="left")
    out.attrs.update(landmark_days=landmark_days, events_since=since, components=comps,
                     n_before_log=int(before.sum()), n_too_recent=int(recent.sum()),
                     n_gone_before_landmark=int(gone.sum()))
    return out


def _common_horizon(table: pd.DataFrame, column: str) -> float:
    return float(table.groupby(column)["duration_days"].max().min())


def retention_by_depth(adoption: pd.DataFrame, *, horizon_days: float | None = None,
                       alpha: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Kaplan-Meier retention after the landmark per adoption depth, with medians and restricted means.

    Parameters
    ----------
    adoption : DataFrame
        From :func:`adoption_table`.
    horizon_days : float, optional
        Horizon of the restricted mean; default the shortest of the groups' longest follow-ups.
    alpha : float
        Band and interval level.

    Returns
    -------
    curves : DataFrame
        :func:`churnlab.metrics.survival_by` curves by ``depth_group``.
    summary : DataFrame
        One row per group: :func:`churnlab.metrics.median_lifetime` columns plus ``rmst_days``,
        ``rmst_lower``, ``rmst_upper``, ``horizon_days``.
    """
    require_columns(adoption, ["depth_group", "duration_days", "observed"], table="adoption")
    curves = survival_by(adoption, by="depth_group", alpha=alpha)
    summary = median_lifetime(curves)
    h = _common_horizon(adoption, "depth_group") if horizon_days is None else float(horizon_days)
    rm = [restricted_mean(g, h, alpha) for _, g in curves.groupby("group", sort=True)]
    summary["rmst_days"] = [r["rmst"] for r in rm]
    summary["rmst_lower"] = [r["ci_lower"] for r in rm]
    summary["rmst_upper"] = [r["ci_upper"] for r in rm]
    summary["horizon_days"] = h
    return curves, summary


def component_lifetimes(adoption: pd.DataFrame, *, horizon_days: float | None = None,
                        alpha: float = 0.05) -> pd.DataFrame:
    """For each component: restricted mean lifetime after the landmark of adopters vs non-adopters.

    Parameters
    ----------
    adoption : DataFrame
        From :func:`adoption_table` (``uses_<component>`` columns).
    horizon_days : float, optional
        Horizon of the restricted means; default the shortest follow-up of any adopter /
        non-adopter group.
    alpha : float
        Interval level.

    Returns
    -------
    DataFrame
        One row per component, largest gain first: ``component, n_adopters, n_other,
        rmst_adopters, rmst_other, difference`` (days) with a normal ``difference_lower/upper``
        (the two curves' variances add), ``horizon_days``.

    Notes
    -----
    Adopters differ from non-adopters in more than the component (engaged customers adopt more);
    the difference is an association, not the effect of adopting.
    """
    cols = [c for c in adoption.columns if c.startswith("uses_")]
    if not cols:
        raise AnalysisError("component_lifetimes: the adoption table has no uses_<component> columns")
    require_columns(adoption, ["duration_days", "observed"], table="adoption")
    splits = [(c, adoption[c].astype(bool)) for c in cols if 0 < adoption[c].sum() < len(adoption)]
    if not splits:
        raise AnalysisError("component_lifetimes: every component was adopted by everyone or no one")
    if horizon_days is None:
        horizon_days = min(float(adoption.loc[m, "duration_days"].max()) for _, s in splits for m in (s, ~s))
    z = z_value(alpha)
    rows = []
    for c, s in splits:
        a = restricted_mean(kaplan_meier(adoption.loc[s, "duration_days"], adoption.loc[s, "observed"]),
                            horizon_days, alpha)
        b = restricted_mean(kaplan_meier(adoption.loc[~s, "duration_days"], adoption.loc[~s, "observed"]),
                            horizon_days, alpha)
        d = a["rmst"] - b["rmst"]
        se = float(np.hypot(a["se"], b["se"]))
        rows.append({"component": c.removeprefix("uses_"), "n_adopters": int(s.sum()), "n_other": int((~s).sum()),
                     "rmst_adopters": a["rmst"], "rmst_other": b["rmst"], "difference": d,
                     "difference_lower": d - z * se, "difference_upper": d + z * se,
                     "horizon_days": float(horizon_days)})
    return pd.DataFrame(rows).sort_values("difference", ascending=False, ignore_index=True)
