"""The population observed at a cutoff: customers active then, their outcome, attributes and features.

:func:`cutoff_profile` was called ``population`` (still importable under that name), which read like
:func:`churnlab.labels.population` (the bare ``customer_id, cutoff`` rows to score) but returns much
more: the outcome, the features and the attributes of each customer active at one cutoff.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from churnlab import config as C
from churnlab.features import build_features
from churnlab.labels import customer_spells
from churnlab.metrics import churn_outcome
from churnlab.schema import Dataset, require_columns

__all__ = ["cutoff_profile", "population", "rows_before"]


def rows_before(table: pd.DataFrame, time_column: str, cutoff, window_days: float | None = None,
                *, name: str = "table") -> pd.DataFrame:
    """Return the rows stamped strictly before ``cutoff`` (and within ``window_days`` of it when given).

    Parameters
    ----------
    table : DataFrame
        Any table with a timestamp column.
    time_column : str
        The column that dates each row.
    cutoff : timestamp
        Rows at or after it are dropped.
    window_days : float, optional
        Keep only rows in ``[cutoff - window_days, cutoff)``.
    name : str
        Table name for the error message.

    Returns
    -------
    DataFrame
        A filtered copy; the caller's frame is untouched.

    Raises
    ------
    SchemaError
        When ``time_column`` is missing.

    Examples
    --------
    >>> t = pd.DataFrame({"ts": pd.to_datetime(["2024-01-01", "2024-01-20", "2024-02-01"])})
    >>> len(rows_before(t, "ts", "2024-02-01")), len(rows_before(t, "ts", "2024-02-01", 14))
    (2, 1)
    """
    require_columns(table, [time_column], table=name)
    cutoff = pd.Timestamp(cutoff)
    keep = table[time_column] < cutoff
    if window_days is not None:
        keep &= table[time_column] >= cutoff - pd.Timedelta(days=window_days)
    return table.loc[keep].copy()


def cutoff_profile(dataset: Dataset, cutoff, horizon_days: int = 30, *, recent_window_days: int = 30,
                   labels: pd.DataFrame | None = None, windows: Sequence[int] = (7, 30, 90)) -> pd.DataFrame:
    """Return the customers active at ``cutoff`` with their outcome, attributes and features.

    Parameters
    ----------
    dataset : Dataset
        Needs ``customers`` and what :func:`churnlab.metrics.churn_outcome` needs.
    cutoff : timestamp
        The point in time.
    horizon_days : int
        Outcome window (churn in ``(cutoff, cutoff + horizon]``).
    recent_window_days : int
        The "recent" window of usage decline: ``sessions_{w}d`` and ``sessions_{2w}d`` features are
        computed so that the previous window is their difference.
    labels : DataFrame, optional
        ``customer_id, label`` for this cutoff computed elsewhere; default
        :func:`churnlab.metrics.churn_outcome`.
    windows : sequence of int
        Further feature windows (days) passed to :func:`churnlab.features.build_features`.

    Returns
    -------
    DataFrame
        One row per customer active at the cutoff: ``customer_id, cutoff, label`` (0/1), every
        column of :func:`churnlab.features.build_features` for that cutoff (``segment``, ``plan``,
        ``tenure_days``, ``days_since_last_session``, ...), ``signup_at`` and ``returning`` (an
        earlier subscription spell had ended; False without subscriptions).

    Raises
    ------
    MissingTableError
        When a needed table is missing.
    AnalysisError
        When the outcome window passes ``as_of``.
    """
    dataset.require("customers", by="cutoff_profile")
    if labels is None:
        out = churn_outcome(dataset, cutoff, horizon_days)
    else:
        require_columns(labels, [C.CUSTOMER_ID, C.LABEL], table="labels")
        out = labels[[C.CUSTOMER_ID, C.LABEL]].assign(**{C.CUTOFF: pd.Timestamp(cutoff)})
    out = out[[C.CUSTOMER_ID, C.CUTOFF, C.LABEL]].reset_index(drop=True)
    out[C.CUSTOMER_ID] = out[C.CUSTOMER_ID].astype(str)
    wins = sorted({*map(int, windows), int(recent_window_days), 2 * int(recent_window_days)})
    feats = build_features(dataset, out[[C.CUSTOMER_ID, C.CUTOFF]], windows=wins)
    feats[C.CUSTOMER_ID] = feats[C.CUSTOMER_ID].astype(str)
    feats = feats.drop(columns=[C.CUTOFF])
    out = out.merge(feats, on=C.CUSTOMER_ID, how="left", validate="one_to_one")
    customers = dataset["customers"].drop_duplicates(C.CUSTOMER_ID)
    signup = customers.assign(**{C.CUSTOMER_ID: customers[C.CUSTOMER_ID].astype(str)}).set_index(C.CUSTOMER_ID)
    out[C.SIGNUP_AT] = out[C.CUSTOMER_ID].map(signup[C.SIGNUP_AT])
    if "do_not_disturb" in signup and "do_not_disturb" not in out:
        out["do_not_disturb"] = out[C.CUSTOMER_ID].map(signup["do_not_disturb"])
    out["returning"] = False
    if "subscriptions" in dataset and dataset.kind != "snapshot":
        spells = customer_spells(dataset["subscriptions"], out[C.CUTOFF].iloc[0] if len(out) else cutoff)
        earlier = spells.loc[spells["end_at"].notna(), C.CUSTOMER_ID].astype(str).unique()
        out["returning"] = out[C.CUSTOMER_ID].isin(earlier)
    return out


#: Former name of :func:`cutoff_profile`, kept so existing notebooks keep working.
population = cutoff_profile
