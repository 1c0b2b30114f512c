"""Usage signals as of a cutoff: decline, low start, segment norms, high usage, recency, components, activation.

Recency and window counts come from :func:`churnlab.features.build_features` (through
:func:`churnlab.patterns.population.population`), so patterns and the model share one definition of
``days_since_last_session`` and ``sessions_{w}d``. This module adds the flags an analyst reads them
by, and what the feature module does not compute: first-month usage, per-component idle thresholds
and onboarding activation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.patterns.population import rows_before
from churnlab.schema import Dataset, require_columns

__all__ = [
    "DEFAULT_BUCKET_EDGES_WEEKS",
    "recency_bucket",
    "usage_flags",
    "first_window_coverage",
    "component_idle_thresholds",
    "component_usage",
    "activation_stage",
    "activation_flags",
]

#: Recency bucket edges in weeks: 0-2, 2-4, 4-6, 6+ (OPINIONS.md, "Recency buckets").
DEFAULT_BUCKET_EDGES_WEEKS = (2, 4, 6)


def recency_bucket(days: pd.Series, edges_weeks: Sequence[float] = DEFAULT_BUCKET_EDGES_WEEKS) -> pd.Series:
    """Bucket days since the last session into week ranges: ``0-2 wk``, ``2-4 wk``, ..., ``6+ wk``.

    Parameters
    ----------
    days : Series of float
        Days since the last session (missing stays missing).
    edges_weeks : sequence of float
        Increasing inner edges in weeks; a value equal to an edge falls in the upper bucket.

    Returns
    -------
    Series
        Ordered categorical with ``len(edges_weeks) + 1`` categories.

    Examples
    --------
    >>> recency_bucket(pd.Series([3.0, 14.0, 30.0, 90.0])).tolist()
    ['0-2 wk', '2-4 wk', '4-6 wk', '6+ wk']
    """
    edges = [float(e) for e in edges_weeks]
    if sorted(edges) != edges or len(set(edges)) != len(edges) or (edges and edges[0] <= 0):
        raise ValueError(f"recency_bucket: edges_weeks must be positive and increasing; got {list(edges_weeks)}")
    bounds = [0.0, *edges]
    labels = [f"{_num(a)}-{_num(b)} wk" for a, b in zip(bounds[:-1], bounds[1:])] + [f"{_num(bounds[-1])}+ wk"]
    cut = pd.cut(days.astype(float) / 7.0, [-np.inf, *edges, np.inf], right=False, labels=labels)
    return cut.rename("recency_bucket")


def _num(x: float) -> str:
    return f"{x:g}"


def usage_flags(pop: pd.DataFrame, dataset: Dataset | None = None, *, recent_window_days: int = 30,
                bucket_edges_weeks: Sequence[float] = DEFAULT_BUCKET_EDGES_WEEKS, segment_column: str = C.SEGMENT,
                decline_ratio: float = 0.5, norm_ratio: float = 0.5, high_quantile: float = 0.99,
                first_days: int = 30, low_start_ratio: float = 0.5, events_since=None) -> pd.DataFrame:
    """Flag usage decline, low start, below-norm and abnormally high usage; bucket recency.

    Parameters
    ----------
    pop : DataFrame
        From :func:`~churnlab.patterns.population.population`: ``customer_id, cutoff, label``,
        ``days_since_last_session``, ``sessions_{w}d`` and ``sessions_{2w}d`` for
        ``w = recent_window_days``, ``tenure_days``, ``signup_at`` and ``segment_column``.
    dataset : Dataset, optional
        With ``events`` for the first-month usage (``low_start``); without it that flag is missing.
    recent_window_days : int
        Recent window ``w``; the previous window is the ``w`` days before it.
    bucket_edges_weeks : sequence of float
        Recency bucket edges (:func:`recency_bucket`).
    segment_column : str
        Peers for the norms: usage is compared within this column's values (like with like).
    decline_ratio : float
        ``declining`` when recent sessions <= ratio x previous ones (and previous > 0).
    norm_ratio : float
        ``below_norm`` when recent sessions < ratio x the segment's median.
    high_quantile : float
        ``high_usage`` when recent sessions exceed the segment's quantile (and its median).
    first_days : int
        Length of the first-use window after signup (``low_start``).
    low_start_ratio : float
        ``low_start`` when sessions in the first ``first_days`` after signup fall below this ratio of
        the median of the segment's customers whose first window is observed.
    events_since : timestamp, optional
        When the event log begins (default the day of its first event). A customer who signed up
        before it has an unobserved first window: their ``low_start`` is missing, never "low".

    Returns
    -------
    DataFrame
        One row per customer of ``pop``: ``customer_id, label``, the segment column,
        ``sessions_recent, sessions_previous, usage_change`` (relative change, NaN when the previous
        window was empty), ``declining, below_norm, high_usage, low_start`` (boolean, missing where
        not applicable), ``days_since_last_session, recency_bucket``; with events also
        ``sessions_first_window`` and ``first_window`` (``"observed"``, ``"before the event log"``,
        ``"not over"``: why ``low_start`` is missing), counted by :func:`first_window_coverage`.

    Raises
    ------
    SchemaError
        When a needed column is missing.
    """
    w = int(recent_window_days)
    recent, both = f"sessions_{w}d", f"sessions_{2 * w}d"
    require_columns(pop, [C.CUSTOMER_ID, C.LABEL, recent, both, "days_since_last_session", segment_column],
                    table="population")
    out = pop[[C.CUSTOMER_ID, C.CUTOFF, C.LABEL, segment_column]].copy()
    out["sessions_recent"] = pop[recent].astype(float)
    out["sessions_previous"] = (pop[both] - pop[recent]).astype(float)
    prev = out["sessions_previous"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["usage_change"] = np.where(prev > 0, out["sessions_recent"] / prev - 1.0, np.nan)
    out["declining"] = (out["sessions_recent"] <= decline_ratio * prev).where(prev > 0).astype("boolean")
    seg = out.groupby(segment_column, dropna=False)["sessions_recent"]
    median = seg.transform("median")
    upper = seg.transform(lambda s: s.quantile(high_quantile))
    out["below_norm"] = (out["sessions_recent"] < norm_ratio * median).where(median > 0).astype("boolean")
    out["high_usage"] = (out["sessions_recent"] > upper) & (out["sessions_recent"] > median)
    out["low_start"] = pd.Series(pd.NA, index=out.index, dtype="boolean")
    if dataset is not None and "events" in dataset and C.SIGNUP_AT in pop and len(pop):
        events = dataset["events"]
        since = (pd.Timestamp(events[C.TIMESTAMP].min()).normalize() if events_since is None
                 else pd.Timestamp(events_since))
        first = _first_window_sessions(events, pop, first_days)
        before = (pop[C.SIGNUP_AT] < since).to_numpy()
        first = first.where(~before)
        norm = first.groupby(out[segment_column], dropna=False).transform("median")
        out["sessions_first_window"] = first
        out["first_window"] = np.where(before, "before the event log", np.where(first.isna(), "not over", "observed"))
        out["low_start"] = (first < low_start_ratio * norm).where(first.notna() & (norm > 0)).astype("boolean")
        out.attrs["events_since"] = since
    out["days_since_last_session"] = pop["days_since_last_session"].astype(float)
    out["recency_bucket"] = recency_bucket(out["days_since_last_session"], bucket_edges_weeks)
    return out


def first_window_coverage(flags: pd.DataFrame) -> pd.DataFrame:
    """Count why ``low_start`` is known or missing in :func:`usage_flags` output.

    Returns
    -------
    DataFrame
        One row per status (``observed``, ``before the event log``, ``not over``): ``first_window,
        n, share, low_start`` (customers flagged among the observed), so a notebook can say for how
        many customers the signal is computed and why the others have none.

    Raises
    ------
    SchemaError
        When ``first_window`` is missing (``usage_flags`` was called without events).
    """
    require_columns(flags, ["first_window", "low_start"], table="usage_flags")
    g = flags.groupby("first_window", sort=False)
    out = pd.DataFrame({"n": g.size(), "low_start": g["low_start"].sum().astype(int)})
    out = out.reindex([s for s in ("observed", "before the event log", "not over") if s in out.index])
    out["share"] = out["n"] / out["n"].sum()
    return out.reset_index()[["first_window", "n", "share", "low_start"]]


def _first_window_sessions(events: pd.DataFrame, pop: pd.DataFrame, first_days: int) -> pd.Series:
    """Sessions in ``[signup, signup + first_days)`` per row of ``pop``; NaN when that window is not over."""
    require_columns(events, [C.CUSTOMER_ID, C.TIMESTAMP, "event_type"], table="events")
    cutoff = pd.Timestamp(pop[C.CUTOFF].iloc[0])
    ev = rows_before(events[events["event_type"] == "session"], C.TIMESTAMP, cutoff, name="events")
    ev = ev.assign(**{C.CUSTOMER_ID: ev[C.CUSTOMER_ID].astype(str)})
    signup = pop.set_index(C.CUSTOMER_ID)[C.SIGNUP_AT]
    ev = ev[ev[C.CUSTOMER_ID].isin(signup.index)]
    start = ev[C.CUSTOMER_ID].map(signup)
    inside = (ev[C.TIMESTAMP] >= start) & (ev[C.TIMESTAMP] < start + pd.Timedelta(days=first_days))
    counts = ev[inside].groupby(C.CUSTOMER_ID).size()
    n = pop[C.CUSTOMER_ID].map(counts).fillna(0).astype(float)
    over = pop[C.SIGNUP_AT] + pd.Timedelta(days=first_days) <= cutoff
    return n.where(over.to_numpy())


def component_idle_thresholds(events: pd.DataFrame, cutoff, *, quantile: float = 0.9,
                              min_days: float = 7.0) -> pd.DataFrame:
    """Compute per-component idle thresholds: the ``quantile`` of gaps between a customer's consecutive uses.

    A customer is past their normal rhythm when idle longer than 90% of the gaps seen for that
    component, so a weekly report and a daily dashboard get different thresholds (OPINIONS.md, "Idle
    thresholds per component").

    Parameters
    ----------
    events : DataFrame
        ``customer_id, timestamp, event_type, component``; rows with ``event_type ==
        "component_use"`` stamped before ``cutoff`` are read.
    cutoff : timestamp
        Uses stamped at or after it are not read.
    quantile : float
        Gap quantile.
    min_days : float
        Floor of every threshold.

    Returns
    -------
    DataFrame
        One row per component seen: ``component, n_gaps, threshold_days``.
    """
    require_columns(events, [C.CUSTOMER_ID, C.TIMESTAMP, "event_type", "component"], table="events")
    ev = rows_before(events[events["event_type"] == "component_use"], C.TIMESTAMP, cutoff, name="events")
    ev = ev.dropna(subset=["component"]).sort_values([C.CUSTOMER_ID, "component", C.TIMESTAMP])
    gaps = ev.groupby([C.CUSTOMER_ID, "component"])[C.TIMESTAMP].diff().dt.total_seconds() / 86400.0
    ev = ev.assign(gap=gaps).dropna(subset=["gap"])
    g = ev.groupby("component")["gap"]
    out = pd.DataFrame({"n_gaps": g.size(), "threshold_days": g.quantile(quantile).clip(lower=min_days)})
    return out.reset_index()


def component_usage(dataset: Dataset, pop: pd.DataFrame, *,
                    thresholds: Mapping[str, float] | pd.DataFrame | None = None,
                    components: Sequence[str] | None = None) -> pd.DataFrame:
    """Flag, per customer and component, never used (adoption gap) and stopped (idle past threshold).

    Parameters
    ----------
    dataset : Dataset
        Needs ``events`` with ``component``.
    pop : DataFrame
        ``customer_id, cutoff, label`` (one cutoff).
    thresholds : mapping or DataFrame, optional
        Idle days per component; default :func:`component_idle_thresholds` as of the cutoff.
    components : sequence of str, optional
        Components to report; default those seen before the cutoff, in the order of the dataset's
        ``components`` vocabulary (any undeclared ones after, sorted).

    Returns
    -------
    DataFrame
        One row per customer: ``customer_id, label``, then for each component ``c``:
        ``never_c`` (True when never used before the cutoff), ``stopped_c`` (used, but last use
        more than the threshold ago; missing for never-users) and ``idle_days_c``.
    """
    dataset.require("events", by="component_usage")
    events = dataset["events"]
    require_columns(pop, [C.CUSTOMER_ID, C.CUTOFF, C.LABEL], table="population")
    cutoff = pd.Timestamp(pop[C.CUTOFF].iloc[0])
    if thresholds is None:
        thresholds = component_idle_thresholds(events, cutoff)
    if isinstance(thresholds, pd.DataFrame):
        thresholds = dict(zip(thresholds["component"], thresholds["threshold_days"]))
    ev = rows_before(events[events["event_type"] == "component_use"], C.TIMESTAMP, cutoff, name="events")
    ev = ev.dropna(subset=["component"]).assign(**{C.CUSTOMER_ID: lambda d: d[C.CUSTOMER_ID].astype(str)})
    last = ev.groupby([C.CUSTOMER_ID, "component"])[C.TIMESTAMP].max().unstack()
    if components is None:
        declared = [c for c in dataset.vocabulary("components") if c in last.columns]
        comps = declared + sorted(c for c in last.columns if c not in declared)
    else:
        comps = list(components)
    out = pop[[C.CUSTOMER_ID, C.LABEL]].copy()
    ids = out[C.CUSTOMER_ID].astype(str)
    for comp in comps:
        last_use = ids.map(last[comp]) if comp in last.columns else pd.Series(pd.NaT, index=out.index)
        idle = (cutoff - pd.to_datetime(last_use)).dt.total_seconds() / 86400.0
        out[f"never_{comp}"] = idle.isna()
        limit = thresholds.get(comp, np.nan)
        out[f"stopped_{comp}"] = (idle > limit).where(idle.notna()).astype("boolean")
        out[f"idle_days_{comp}"] = idle
    return out


def activation_stage(stages: Sequence[str]) -> str | None:
    """Pick the funnel stage that marks activation: the one named ``activation`` (any case), else None.

    A funnel of its own may call the step something else (``onboarded``, ``first_project``); pass it
    to :func:`activation_flags` as ``stage`` then. OPINIONS.md, "Which funnel stage is activation".

    Examples
    --------
    >>> activation_stage(("visit", "demo_call", "signup", "Activation"))
    'Activation'
    >>> activation_stage(("visit", "signup", "first_payment")) is None
    True
    """
    return next((s for s in stages if str(s).strip().lower() == "activation"), None)


def activation_flags(dataset: Dataset, pop: pd.DataFrame, *, activation_days: int = 14,
                     stage: str | None = None) -> pd.DataFrame:
    """Flag customers who activated within ``activation_days`` of signup (onboarding vs retention).

    Activation is the funnel's activation stage (``stage``, default :func:`activation_stage` of
    the dataset's ``funnel_stages``) when the dataset has a ``funnel`` table and such a stage;
    otherwise the first ``component_use`` event. Both must be stamped before the cutoff.

    Parameters
    ----------
    dataset : Dataset
        ``funnel`` or ``events``.
    pop : DataFrame
        ``customer_id, cutoff, label, signup_at``.
    activation_days : int
        Onboarding window after signup.
    stage : str, optional
        The funnel stage that marks activation; must be one of the dataset's ``funnel_stages``.

    Returns
    -------
    DataFrame
        One row per customer: ``customer_id, label, activated_at, activated`` (boolean; missing for
        customers whose onboarding window is not over at the cutoff), ``source`` of the activation.
        Nobody activated yet is a valid answer: ``activated`` is False where the window is over.

    Raises
    ------
    MissingTableError
        When the dataset has neither a funnel with an activation stage nor ``events``.
    AnalysisError
        When ``stage`` is not one of the dataset's funnel stages.
    SchemaError
        When ``pop`` lacks a column it needs.

    Examples
    --------
    >>> f = pd.DataFrame({"customer_id": ["a", "b"], "stage": ["visit", "visit"],
    ...                   "reached_at": pd.Timestamp("2024-01-01")})
    >>> ds = Dataset("t", {"funnel": f}, as_of="2024-03-01", source="doctest")
    >>> pop = pd.DataFrame({"customer_id": ["a", "b"], "cutoff": pd.Timestamp("2024-03-01"), "label": [0, 1],
    ...                     "signup_at": pd.Timestamp("2024-01-01")})
    >>> activation_flags(ds, pop)["activated"].tolist()
    [False, False]
    """
    require_columns(pop, [C.CUSTOMER_ID, C.CUTOFF, C.LABEL, C.SIGNUP_AT], table="population")
    cutoff = pd.Timestamp(pop[C.CUTOFF].iloc[0])
    stages = dataset.vocabulary("funnel_stages")
    if stage is not None and stage not in stages:
        raise AnalysisError(f"activation_flags: stage {stage!r} is not a funnel stage; the dataset declares "
                            f"{list(stages)}")
    stage = stage if stage is not None else activation_stage(stages)
    if "funnel" in dataset and stage is not None:
        f = rows_before(dataset["funnel"], "reached_at", cutoff, name="funnel")
        require_columns(f, [C.CUSTOMER_ID, "stage", "reached_at"], table="funnel")
        f = f[f["stage"] == stage]
        first = f.assign(**{C.CUSTOMER_ID: f[C.CUSTOMER_ID].astype(str)}).groupby(C.CUSTOMER_ID)["reached_at"].min()
        source = f"funnel stage {stage}"
    else:
        why = "no funnel table" if "funnel" not in dataset else f"no activation stage among {list(stages)}"
        dataset.require("events", by=f"activation_flags ({why})")
        ev = dataset["events"]
        require_columns(ev, [C.CUSTOMER_ID, C.TIMESTAMP, "event_type"], table="events")
        ev = rows_before(ev[ev["event_type"] == "component_use"], C.TIMESTAMP, cutoff, name="events")
        first = ev.assign(**{C.CUSTOMER_ID: ev[C.CUSTOMER_ID].astype(str)}).groupby(C.CUSTOMER_ID)[C.TIMESTAMP].min()
        source = "first component use"
    out = pop[[C.CUSTOMER_ID, C.LABEL]].copy()
    # Series.map with an empty datetime mapper casts it to float and fails; reindex keeps the dtype (NaT).
    out["activated_at"] = pd.to_datetime(first).reindex(out[C.CUSTOMER_ID].astype(str)).to_numpy()
    deadline = pd.to_datetime(pop[C.SIGNUP_AT]) + pd.Timedelta(days=activation_days)
    done = (out["activated_at"] <= deadline).fillna(False)
    over = deadline <= cutoff
    out["activated"] = done.where(over | done).astype("boolean")
    out["source"] = source
    return out
