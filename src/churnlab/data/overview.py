"""Data-quality overview of a dataset: missing values, duplicate keys, churn by tenure band, segment mix.

Companions of :mod:`churnlab.data.summary` (tables, rows, time spans) for the data overview notebook
and reports. Monthly churn over time is :func:`churnlab.metrics.churn_over_time`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.engine import Tables, columns_of, connect, is_lazy
from churnlab.errors import AnalysisError
from churnlab.labels import churned_by
from churnlab.metrics import rate_with_ci
from churnlab.schema import SCHEMAS, Dataset

__all__ = ["missing_values", "duplicate_keys", "duplicate_rows", "customer_churned", "churn_by_tenure", "segment_mix",
           "TENURE_BANDS"]

#: Tenure band edges in months for :func:`churn_by_tenure` (last band open-ended).
TENURE_BANDS: tuple[float, ...] = (0, 6, 12, 24, 48, np.inf)
#: Average month length in days (365.25 / 12), used to turn tenure days into months.
DAYS_PER_MONTH = 30.4375


def missing_values(dataset: Dataset) -> pd.DataFrame:
    """Count missing values per column of every table.

    Parameters
    ----------
    dataset : Dataset
        Any dataset; every table is read (a lazy one counted in DuckDB, never loaded:
        :func:`churnlab.data.summary.profile_table`).

    Returns
    -------
    DataFrame
        One row per table and column with at least one missing value: ``table, column, missing,
        share`` (of the table's rows), largest share first. Empty when nothing is missing.
    """
    from churnlab.data.summary import profile_table

    rows = []
    for name, table in dataset.tables.items():
        profile = profile_table(table, name)
        for column, missing in profile.missing.items():
            if missing > 0:
                rows.append({"table": name, "column": column, "missing": missing, "share": missing / profile.rows})
    out = pd.DataFrame(rows, columns=["table", "column", "missing", "share"])
    return out.sort_values(["share", "table", "column"], ascending=[False, True, True], ignore_index=True)


def duplicate_keys(dataset: Dataset) -> pd.DataFrame:
    """Count rows whose canonical key is shared with another row, per table that has a key.

    Parameters
    ----------
    dataset : Dataset
        Any dataset; tables without a canonical key (events, messages, ...) are left out; lazy
        tables are counted in DuckDB (:func:`duplicate_rows`).

    Returns
    -------
    DataFrame
        One row per keyed table present: ``table, key`` (columns joined by ``+``), ``rows``,
        ``duplicate_rows`` (rows in a key group of two or more; 0 when the key is unique).
    """
    rows = []
    for name, table in dataset.tables.items():
        key = [k for k in SCHEMAS[name].key if k in columns_of(table, name)]
        if not key or len(key) < len(SCHEMAS[name].key):
            continue
        rows.append({"table": name, "key": "+".join(key), "rows": dataset.rows(name),
                     "duplicate_rows": duplicate_rows(table, key, name)})
    return pd.DataFrame(rows, columns=["table", "key", "rows", "duplicate_rows"])


def duplicate_rows(table, key: Sequence[str], name: str = "table") -> int:
    """Count the rows of ``table`` whose ``key`` is shared with another row (missing values equal to each other).

    A frame is counted in pandas (``duplicated(keep=False)``), a lazy table in DuckDB (``GROUP BY`` the
    key, summing the groups of two or more rows), never loaded.

    Examples
    --------
    >>> duplicate_rows(pd.DataFrame({"k": ["a", "a", "b", None, None]}), ["k"])
    4
    """
    if not is_lazy(table):
        return int(table.duplicated(list(key), keep=False).sum())
    tables = Tables(connect(relations=[table]))
    view = tables.view(name, table)
    cols = ", ".join('"' + str(k).replace('"', '""') + '"' for k in key)
    n = tables.con.execute(f"SELECT sum(n) FROM (SELECT count(*) AS n FROM {view} GROUP BY {cols} "
                           "HAVING count(*) > 1)").fetchall()[0][0]
    return int(n or 0)


def customer_churned(dataset: Dataset) -> pd.Series | None:
    """Per-customer churn flag by ``as_of``, where the dataset defines one.

    A snapshot's ``customers.churned``; otherwise :func:`churnlab.labels.churned_by` at ``as_of``: True
    when no subscription spell is active then (every spell started before ``as_of`` ended at or before
    it; a renewal starting the instant the previous subscription ends is no churn). Customers without
    a subscription started before ``as_of`` are absent. ``None`` without either table.

    Returns
    -------
    Series or None
        Boolean, indexed by ``customer_id``.
    """
    customers = dataset.tables.get("customers")
    if customers is not None and "churned" in customers.columns:
        from churnlab.data.summary import churn_flags

        return churn_flags(customers.drop_duplicates(C.CUSTOMER_ID).set_index(C.CUSTOMER_ID))
    subs = dataset.tables.get("subscriptions")
    if subs is None or subs.empty:
        return None
    return churned_by(subs, dataset.as_of)


def churn_by_tenure(dataset: Dataset, bands: Sequence[float] = TENURE_BANDS, *, alpha: float = 0.05) -> pd.DataFrame:
    """Churn rate by tenure band (months from ``signup_at`` to ``as_of``), for snapshot datasets.

    Parameters
    ----------
    dataset : Dataset
        Needs ``customers`` with ``signup_at`` and a churn flag (see :func:`customer_churned`).
    bands : sequence of float
        Increasing band edges in months; bands are closed on the left, ``[a, b)``.
    alpha : float
        For the Wilson interval.

    Returns
    -------
    DataFrame
        One row per band: ``band`` (``"0-6 m"``, ``"48+ m"``), ``customers, churned, churn_rate,
        ci_lower, ci_upper``; empty bands have ``churn_rate`` NaN.

    Raises
    ------
    AnalysisError
        When the dataset has no churn flag.
    """
    dataset.require("customers", by="churn_by_tenure")
    churned = customer_churned(dataset)
    if churned is None:
        raise AnalysisError(f"churn_by_tenure: dataset {dataset.name!r} has no churn flag or subscriptions")
    customers = dataset["customers"].drop_duplicates(C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)
    months = (dataset.as_of - customers[C.SIGNUP_AT]).dt.days / DAYS_PER_MONTH
    edges = list(bands)
    labels = [f"{a:g}-{b:g} m" if np.isfinite(b) else f"{a:g}+ m" for a, b in zip(edges[:-1], edges[1:])]
    band = pd.cut(months, edges, right=False, labels=labels)
    flags = churned.reindex(customers.index).fillna(False).astype(int)
    grouped = flags.groupby(band, observed=False).agg(["size", "sum"])
    ci = rate_with_ci(grouped["sum"], grouped["size"], alpha)
    return pd.DataFrame(
        {
            "band": [str(b) for b in grouped.index],
            "customers": grouped["size"].to_numpy(dtype="int64"),
            "churned": grouped["sum"].to_numpy(dtype="int64"),
            "churn_rate": ci["rate"].to_numpy(),
            "ci_lower": ci["ci_lower"].to_numpy(),
            "ci_upper": ci["ci_upper"].to_numpy(),
        }
    )


def segment_mix(dataset: Dataset, by: str = C.SEGMENT) -> pd.DataFrame:
    """Count customers per value of ``customers[by]`` with their share and churn rate.

    Parameters
    ----------
    dataset : Dataset
        Needs ``customers`` with column ``by``.
    by : str
        A customers column (``segment``, ``plan``, ``region``, ``channel``).

    Returns
    -------
    DataFrame
        One row per value (missing shown as ``"(missing)"``), most customers first:
        ``<by>, customers, share, churn_rate`` (NaN when the dataset has no churn flag).

    Raises
    ------
    SchemaError
        When ``customers`` has no column ``by``.
    """
    from churnlab.schema import require_columns

    customers = dataset.require("customers", by="segment_mix")["customers"].drop_duplicates(C.CUSTOMER_ID)
    require_columns(customers, [by], table="customers")
    values = customers.set_index(C.CUSTOMER_ID)[by].astype("string").fillna("(missing)")
    churned = customer_churned(dataset)
    flags = (
        churned.reindex(values.index).astype(float)
        if churned is not None
        else pd.Series(np.nan, index=values.index, dtype=float)
    )
    out = (
        pd.DataFrame({by: values.to_numpy(), "flag": flags.to_numpy()})
        .groupby(by, sort=False)
        .agg(customers=("flag", "size"), churn_rate=("flag", "mean"))
        .reset_index()
    )
    out["share"] = out["customers"] / out["customers"].sum()
    out = out.sort_values(["customers", by], ascending=[False, True], ignore_index=True)
    return out[[by, "customers", "share", "churn_rate"]]
