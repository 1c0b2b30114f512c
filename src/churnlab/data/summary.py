"""What a dataset holds: one row per table with its size and time span, and its churn rate."""

from __future__ import annotations

import pandas as pd
from pandas.api import types as ptypes

from churnlab.errors import SchemaError
from churnlab.labels import churned_by
from churnlab.schema import SCHEMAS, Dataset

__all__ = ["summarize", "overall_churn_rate", "churn_flags"]


def churn_flags(customers: pd.DataFrame) -> pd.Series:
    """Return ``customers.churned`` as booleans, refusing a flag that is not boolean (``Yes``/``No`` text).

    Raises
    ------
    SchemaError
        Naming the column and the values found, and how a files config declares the flag.
    """
    flag = customers["churned"]
    if not ptypes.is_bool_dtype(flag.dtype):
        found = ", ".join(repr(v) for v in pd.unique(flag.dropna())[:3])
        raise SchemaError(
            f"customers.churned: expected a bool churn flag, found {flag.dtype} values {found}; a files config "
            "declares the flag with churn: {column: ..., values: yes/no}"
        )
    return flag.astype(bool)


def summarize(dataset: Dataset) -> pd.DataFrame:
    """One row per table: rows, columns, customers, first and last timestamp, missing-value share.

    Parameters
    ----------
    dataset : Dataset
        The dataset to describe.

    Returns
    -------
    DataFrame
        Columns ``table, rows, columns, customers, first, last, missing_share``; ``first``/``last``
        span every datetime column of the table (NaT when it has none).
    """
    rows = []
    for name in [t for t in SCHEMAS if t in dataset.tables]:
        df = dataset.tables[name]
        stamps = [df[c] for c in df.columns if ptypes.is_datetime64_any_dtype(df[c].dtype)]
        first = min((s.min() for s in stamps), default=pd.NaT)
        last = max((s.max() for s in stamps), default=pd.NaT)
        cells = df.size
        rows.append(
            {
                "table": name,
                "rows": len(df),
                "columns": df.shape[1],
                "customers": df["customer_id"].nunique() if "customer_id" in df.columns else 0,
                "first": first,
                "last": last,
                "missing_share": float(df.isna().to_numpy().sum() / cells) if cells else 0.0,
            }
        )
    return pd.DataFrame(rows)


def overall_churn_rate(dataset: Dataset) -> float | None:
    """Share of customers who have churned by ``as_of``, where the dataset defines it.

    A snapshot's ``customers.churned`` flag; otherwise the share of customers with a subscription
    started before ``as_of`` who have churned by it (:func:`churnlab.labels.churned_by`, the rule of
    :func:`churnlab.data.overview.customer_churned`). ``None`` for a dataset without either (CDNOW:
    churn needs a label window).
    """
    customers = dataset.tables.get("customers")
    if customers is not None and "churned" in customers.columns:
        return float(churn_flags(customers).mean())
    subs = dataset.tables.get("subscriptions")
    if subs is None or subs.empty:
        return None
    churned = churned_by(subs, dataset.as_of)
    return float(churned.mean()) if len(churned) else None
