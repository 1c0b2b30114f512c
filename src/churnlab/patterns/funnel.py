"""Funnel as of a cutoff: stage-to-stage conversion, the bottleneck, time between stages, group comparisons.

A customer reached a stage when the ``funnel`` table has a row for it stamped before the cutoff.
Conversion into stage ``k`` is the share of those who reached stage ``k - 1`` who also reached ``k``.
:func:`stage_durations` measures how long customers take between stages (where they stall, not only
where they drop); :func:`compare_new_returning` sets customers who came back after churning against
new ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.intervals import newcombe_difference_interval, two_proportion_z_test, wilson_interval, z_value
from churnlab.patterns.population import rows_before
from churnlab.schema import Dataset, require_columns

__all__ = ["funnel_stages", "funnel_reached", "funnel_conversion", "funnel_bottleneck", "compare_funnel",
           "stage_durations", "funnel_stall", "compare_new_returning"]


def funnel_stages(dataset: Dataset, stages: Sequence[str] | None = None) -> tuple[str, ...]:
    """Return the funnel order to use: ``stages`` when given, else the dataset's ``funnel_stages`` vocabulary.

    Parameters
    ----------
    dataset : Dataset
        Its :meth:`~churnlab.schema.Dataset.vocabulary` declares the stages in funnel order (the
        synthetic world's ``visit, signup, activation, first_payment`` unless the source says otherwise).
    stages : sequence of str, optional
        An explicit order, e.g. a sub-funnel.

    Returns
    -------
    tuple of str

    Raises
    ------
    AnalysisError
        When ``stages`` is given but empty.

    Examples
    --------
    >>> ds = Dataset("x", {}, as_of="2024-06-30", source="doc",
    ...              metadata={"vocabulary": {"funnel_stages": ["visit", "demo_call", "signup"]}})
    >>> funnel_stages(ds)
    ('visit', 'demo_call', 'signup')
    """
    if stages is None:
        return tuple(dataset.vocabulary("funnel_stages"))
    stages = tuple(stages)
    if not stages:
        raise AnalysisError("funnel: stages is empty; pass the funnel order or leave it to the dataset's vocabulary")
    return stages


def funnel_reached(dataset: Dataset, cutoff, *, stages: Sequence[str] | None = None) -> pd.DataFrame:
    """Return one row per funnel entrant with a boolean column per stage reached before ``cutoff``.

    Parameters
    ----------
    dataset : Dataset
        Needs ``funnel`` (``customer_id, stage, reached_at``).
    cutoff : timestamp
        Stages reached at or after it are not counted.
    stages : sequence of str, optional
        Funnel order; default the dataset's ``funnel_stages`` vocabulary (:func:`funnel_stages`).

    Returns
    -------
    DataFrame
        ``customer_id`` then one boolean column per stage, in funnel order.

    Raises
    ------
    MissingTableError
        When the dataset has no ``funnel`` table.
    """
    dataset.require("funnel", by="funnel_reached")
    stages = funnel_stages(dataset, stages)
    f = rows_before(dataset["funnel"], "reached_at", cutoff, name="funnel")
    require_columns(f, [C.CUSTOMER_ID, "stage"], table="funnel")
    f = f.assign(**{C.CUSTOMER_ID: f[C.CUSTOMER_ID].astype(str)})
    wide = pd.crosstab(f[C.CUSTOMER_ID], f["stage"]).reindex(columns=list(stages), fill_value=0) > 0
    return wide.reset_index()


def _conversion(reached: pd.DataFrame, stages: Sequence[str], alpha: float) -> pd.DataFrame:
    rows = []
    top = int(reached[stages[0]].sum())
    for i, stage in enumerate(stages):
        n_stage = int(reached[stage].sum())
        if i == 0:
            prev, conv_x = n_stage, n_stage
        else:
            prev = int(reached[stages[i - 1]].sum())
            conv_x = int((reached[stages[i - 1]] & reached[stage]).sum())
        lo, hi = wilson_interval(conv_x, prev, alpha)
        olo, ohi = wilson_interval(n_stage, top, alpha)
        rows.append({"stage": stage, "step": i, "reached": n_stage, "from_previous": prev, "converted": conv_x,
                     "conversion": conv_x / prev if prev else np.nan, "conversion_lower": float(lo),
                     "conversion_upper": float(hi), "overall": n_stage / top if top else np.nan,
                     "overall_lower": float(olo), "overall_upper": float(ohi)})
    out = pd.DataFrame(rows)
    out["drop"] = 1.0 - out["conversion"]
    return out


def funnel_conversion(dataset: Dataset, cutoff, *, attributes: pd.DataFrame | None = None, by: str | None = None,
                      stages: Sequence[str] | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Compute stage-to-stage and overall conversion, optionally per group.

    Parameters
    ----------
    dataset : Dataset
        Needs ``funnel``.
    cutoff : timestamp
        Stages reached at or after it are not counted.
    attributes : DataFrame, optional
        ``customer_id`` and ``by`` (e.g. ``customers``), used when the funnel table itself has no
        ``by`` column (visitors who never signed up are known only there); entrants without a value
        are grouped as ``"(unknown)"``.
    by : str, optional
        Grouping column of ``attributes``.
    stages : sequence of str, optional
        Funnel order; default the dataset's ``funnel_stages`` vocabulary.
    alpha : float
        Interval level (Wilson).

    Returns
    -------
    DataFrame
        One row per (group and) stage: ``[by,] stage, step, reached, from_previous, converted,
        conversion`` (converted / from_previous, ``conversion_lower/upper``), ``overall`` (reached /
        first stage, ``overall_lower/upper``), ``drop`` (1 - conversion).

    Examples
    --------
    >>> f = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "c"], "stage": ["visit", "signup"] * 2 + ["visit"],
    ...                   "reached_at": pd.Timestamp("2024-01-01")})
    >>> ds = Dataset("t", {"funnel": f}, as_of="2024-02-01", source="doctest")
    >>> funnel_conversion(ds, "2024-02-01", stages=("visit", "signup"))["conversion"].round(3).tolist()
    [1.0, 0.667]
    """
    stages = funnel_stages(dataset, stages)
    reached = funnel_reached(dataset, cutoff, stages=stages)
    if reached.empty:
        raise AnalysisError(f"funnel_conversion: nobody entered the funnel before {pd.Timestamp(cutoff).date()}")
    if by is None:
        return _conversion(reached, stages, alpha)
    funnel = dataset["funnel"]
    if by in funnel.columns:
        attrs = funnel[[C.CUSTOMER_ID, by]].dropna()
    elif attributes is None:
        raise AnalysisError(f"funnel_conversion: funnel has no column {by!r}; pass attributes with it")
    else:
        require_columns(attributes, [C.CUSTOMER_ID, by], table="attributes")
        attrs = attributes
    attrs = attrs.assign(**{C.CUSTOMER_ID: attrs[C.CUSTOMER_ID].astype(str)}).drop_duplicates(C.CUSTOMER_ID)
    key = reached[C.CUSTOMER_ID].map(attrs.set_index(C.CUSTOMER_ID)[by])
    key = key.astype("object").where(key.notna(), "(unknown)").astype(str)
    parts = [_conversion(g, stages, alpha).assign(**{by: k}) for k, g in reached.groupby(key, sort=True)]
    out = pd.concat(parts, ignore_index=True)
    return out[[by, *out.columns.drop(by)]]


def funnel_bottleneck(conversion: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Pick the stage with the largest drop from the previous one (per group when ``by`` is given).

    Returns
    -------
    DataFrame
        One row per group: the :func:`funnel_conversion` row of the stage with the lowest
        ``conversion`` among steps after the first.
    """
    require_columns(conversion, ["stage", "step", "conversion"], table="funnel_conversion")
    later = conversion[conversion["step"] > 0].dropna(subset=["conversion"])
    if later.empty:
        raise AnalysisError("funnel_bottleneck: no stage after the first has a conversion")
    if by is None:
        return later.loc[[later["conversion"].idxmin()]].reset_index(drop=True)
    return later.loc[later.groupby(by)["conversion"].idxmin()].reset_index(drop=True)


def compare_funnel(dataset: Dataset, cutoff, attributes: pd.DataFrame | None, by: str, *,
                   stages: Sequence[str] | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Compare each group's stage conversion with the rest of the funnel, with a CI and a test.

    Parameters
    ----------
    dataset, cutoff, stages, alpha
        As in :func:`funnel_conversion`.
    attributes : DataFrame or None
        ``customer_id`` and ``by`` when the funnel table lacks ``by``.
    by : str
        Grouping (``segment``, ``channel``, ``returning``); every value is compared with all others.

    Returns
    -------
    DataFrame
        One row per group and stage after the first: ``by, stage, n_group, conversion_group,
        n_rest, conversion_rest, difference`` (group - rest; Newcombe ``difference_lower/upper``),
        ``p_value`` (pooled z-test).
    """
    conv = funnel_conversion(dataset, cutoff, attributes=attributes, by=by, stages=stages, alpha=alpha)
    conv = conv[conv["step"] > 0]
    rows = []
    totals = conv.groupby("stage")[["from_previous", "converted"]].sum()
    for _, r in conv.iterrows():
        n0 = totals.loc[r["stage"], "from_previous"] - r["from_previous"]
        x0 = totals.loc[r["stage"], "converted"] - r["converted"]
        lo, hi = newcombe_difference_interval(r["converted"], r["from_previous"], x0, n0, alpha)
        _, p = two_proportion_z_test(r["converted"], r["from_previous"], x0, n0)
        rest = x0 / n0 if n0 else np.nan
        rows.append({by: r[by], "stage": r["stage"], "n_group": int(r["from_previous"]),
                     "conversion_group": r["conversion"], "n_rest": int(n0), "conversion_rest": rest,
                     "difference": r["conversion"] - rest, "difference_lower": float(lo),
                     "difference_upper": float(hi), "p_value": float(p)})
    return pd.DataFrame(rows)


def _quantile_ci(x: np.ndarray, q: float, alpha: float) -> tuple[float, float]:
    """Distribution-free interval of the ``q`` quantile from order statistics (binomial, normal approx.)."""
    n = x.size
    if n < 2:
        return np.nan, np.nan
    xs = np.sort(x)
    half = z_value(alpha) * np.sqrt(n * q * (1 - q))
    lo, hi = int(np.floor(n * q - half)), int(np.ceil(n * q + half))
    return float(xs[max(lo, 0)]), float(xs[min(hi, n - 1)])


def stage_durations(dataset: Dataset, cutoff, *, stages: Sequence[str] | None = None, by: str | None = None,
                    attributes: pd.DataFrame | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Days between consecutive funnel stages: how long those who moved on took, and who is still waiting.

    Parameters
    ----------
    dataset : Dataset
        Needs ``funnel`` (``customer_id, stage, reached_at``).
    cutoff : timestamp
        Stages reached at or after it are not counted.
    stages : sequence of str, optional
        Funnel order; default the dataset's ``funnel_stages`` vocabulary.
    by : str, optional
        A column of the funnel, else of ``attributes``.
    attributes : DataFrame, optional
        ``customer_id`` and ``by``.
    alpha : float
        Level of the median's interval.

    Returns
    -------
    DataFrame
        One row per (group and) step after the first: ``[by,] stage, from_stage, n_moved``
        (reached both), ``median_days`` with a distribution-free ``median_lower/upper``,
        ``p25_days, p75_days, p90_days``, ``n_waiting`` (reached the previous stage, not this one)
        and ``waiting_median_days`` (how long they have waited so far at the cutoff).

    Raises
    ------
    AnalysisError
        When nobody entered the funnel before the cutoff.

    Examples
    --------
    >>> f = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "c"], "stage": ["visit", "signup"] * 2 + ["visit"],
    ...                   "reached_at": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-01", "2024-01-05",
    ...                                                 "2024-01-20"])})
    >>> ds = Dataset("t", {"funnel": f}, as_of="2024-02-01", source="doctest")
    >>> stage_durations(ds, "2024-02-01", stages=("visit", "signup"))[["n_moved", "median_days", "n_waiting",
    ...                                                                "waiting_median_days"]].to_dict("records")
    [{'n_moved': 2, 'median_days': 3.0, 'n_waiting': 1, 'waiting_median_days': 12.0}]
    """
    dataset.require("funnel", by="stage_durations")
    stages = funnel_stages(dataset, stages)
    cutoff = pd.Timestamp(cutoff)
    f = rows_before(dataset["funnel"], "reached_at", cutoff, name="funnel")
    require_columns(f, [C.CUSTOMER_ID, "stage", "reached_at"], table="funnel")
    if f.empty:
        raise AnalysisError(f"stage_durations: nobody entered the funnel before {cutoff.date()}")
    f = f.assign(**{C.CUSTOMER_ID: f[C.CUSTOMER_ID].astype(str)})
    when = f.groupby([C.CUSTOMER_ID, "stage"])["reached_at"].min().unstack().reindex(columns=list(stages))
    if by is None:
        groups = [(None, when)]
    else:
        if by in f.columns:
            attrs = f[[C.CUSTOMER_ID, by]].dropna().drop_duplicates(C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)[by]
        elif attributes is None:
            raise AnalysisError(f"stage_durations: funnel has no column {by!r}; pass attributes with it")
        else:
            require_columns(attributes, [C.CUSTOMER_ID, by], table="attributes")
            a = attributes.assign(**{C.CUSTOMER_ID: attributes[C.CUSTOMER_ID].astype(str)})
            attrs = a.drop_duplicates(C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)[by]
        key = when.index.map(attrs)
        key = pd.Series(key, index=when.index).astype("object").where(pd.notna(key), "(unknown)").astype(str)
        groups = list(when.groupby(key, sort=True))
    rows = []
    for name, w in groups:
        for prev, stage in zip(stages[:-1], stages[1:]):
            both = w[prev].notna() & w[stage].notna()
            days = ((w.loc[both, stage] - w.loc[both, prev]).dt.total_seconds() / 86400.0).to_numpy()
            waiting = w[prev].notna() & w[stage].isna()
            waited = ((cutoff - w.loc[waiting, prev]).dt.total_seconds() / 86400.0).to_numpy()
            lo, hi = _quantile_ci(days, 0.5, alpha)
            q = np.quantile(days, [0.25, 0.5, 0.75, 0.9]) if days.size else np.full(4, np.nan)
            row = {"stage": stage, "from_stage": prev, "n_moved": int(both.sum()), "median_days": float(q[1]),
                   "median_lower": lo, "median_upper": hi, "p25_days": float(q[0]), "p75_days": float(q[2]),
                   "p90_days": float(q[3]), "n_waiting": int(waiting.sum()),
                   "waiting_median_days": float(np.median(waited)) if waited.size else np.nan}
            rows.append(row if by is None else {by: name, **row})
    return pd.DataFrame(rows)


def funnel_stall(durations: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Pick the step where customers who move on take longest (largest median days), per group when ``by``."""
    require_columns(durations, ["stage", "median_days"], table="stage_durations")
    d = durations.dropna(subset=["median_days"])
    if d.empty:
        raise AnalysisError("funnel_stall: no step has a duration")
    if by is None:
        return d.loc[[d["median_days"].idxmax()]].reset_index(drop=True)
    return d.loc[d.groupby(by)["median_days"].idxmax()].reset_index(drop=True)


def compare_new_returning(pop: pd.DataFrame, *, columns: Sequence[str] = (C.LABEL,), alpha: float = 0.05
                          ) -> pd.DataFrame:
    """Compare customers who came back after churning (``returning``) with new ones, column by column.

    Parameters
    ----------
    pop : DataFrame
        From :func:`churnlab.patterns.population.population`: ``returning`` (bool) and ``columns``.
    columns : sequence of str
        Boolean or 0/1 columns compared as rates (Wilson, Newcombe difference, pooled z-test); other
        numeric columns are compared as means (Welch's t-test, its interval).
    alpha : float
        Interval level.

    Returns
    -------
    DataFrame
        One row per column: ``column, kind`` (``rate`` or ``mean``), ``n_returning, returning,
        n_new, new, difference`` (returning - new), ``difference_lower, difference_upper, p_value``.

    Raises
    ------
    AnalysisError
        When either group is empty.
    """
    from scipy import stats

    require_columns(pop, ["returning", *columns], table="population")
    ret = pop["returning"].astype(bool)
    if ret.all() or not ret.any():
        raise AnalysisError(f"compare_new_returning: {int(ret.sum())} returning and {int((~ret).sum())} new "
                            "customers; both groups are needed")
    rows = []
    for col in columns:
        v = pop[col]
        a, b = v[ret].dropna(), v[~ret].dropna()
        is_rate = pd.api.types.is_bool_dtype(v) or set(pd.unique(v.dropna())) <= {0, 1}
        if is_rate:
            x1, n1, x0, n0 = float(a.astype(float).sum()), len(a), float(b.astype(float).sum()), len(b)
            lo, hi = newcombe_difference_interval(x1, n1, x0, n0, alpha)
            _, p = two_proportion_z_test(x1, n1, x0, n0)
            m1, m0 = x1 / n1 if n1 else np.nan, x0 / n0 if n0 else np.nan
        else:
            a, b = a.astype(float), b.astype(float)
            m1, m0 = float(a.mean()), float(b.mean())
            t = stats.ttest_ind(a, b, equal_var=False)
            ci = t.confidence_interval(1 - alpha)
            lo, hi, p = ci.low, ci.high, t.pvalue
        rows.append({"column": col, "kind": "rate" if is_rate else "mean", "n_returning": len(a), "returning": m1,
                     "n_new": len(b), "new": m0, "difference": m1 - m0, "difference_lower": float(lo),
                     "difference_upper": float(hi), "p_value": float(p)})
    return pd.DataFrame(rows)
