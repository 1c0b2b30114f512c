"""Funnel as of a cutoff: stage-to-stage conversion, the bottleneck, and group comparisons.

A customer reached a stage when the ``funnel`` table has a row for it stamped before the cutoff.
Conversion into stage ``k`` is the share of those who reached stage ``k - 1`` who also reached ``k``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.intervals import newcombe_difference_interval, two_proportion_z_test, wilson_interval
from churnlab.patterns.population import rows_before
from churnlab.schema import Dataset, require_columns

__all__ = ["funnel_reached", "funnel_conversion", "funnel_bottleneck", "compare_funnel"]


def funnel_reached(dataset: Dataset, cutoff, *, stages: Sequence[str] = C.FUNNEL_STAGES) -> pd.DataFrame:
    """Return one row per funnel entrant with a boolean column per stage reached before ``cutoff``.

    Returns
    -------
    DataFrame
        ``customer_id`` then one boolean column per stage, in funnel order.
    """
    dataset.require("funnel", by="funnel_reached")
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
                      stages: Sequence[str] = C.FUNNEL_STAGES, alpha: float = 0.05) -> pd.DataFrame:
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
    stages : sequence of str
        Funnel order.
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
                   stages: Sequence[str] = C.FUNNEL_STAGES, alpha: float = 0.05) -> pd.DataFrame:
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
