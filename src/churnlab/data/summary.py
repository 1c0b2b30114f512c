"""What a dataset holds: one row per table with its size and time span, and its churn rate.

A lazy table (Parquet path or DuckDB relation) is profiled in DuckDB in one scan (row count, distinct
customers, first and last timestamp, missing values per column), never loaded; an in-memory table in
pandas. Both give the same :class:`TableProfile` for the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from pandas.api import types as ptypes

from churnlab import config as C
from churnlab.engine import Tables, connect, is_lazy
from churnlab.errors import SchemaError
from churnlab.labels import churned_by
from churnlab.schema import SCHEMAS, Dataset

__all__ = ["summarize", "overall_churn_rate", "churn_flags", "TableProfile", "profile_table"]


@dataclass(frozen=True)
class TableProfile:
    """What one table holds: rows, columns, distinct customers, time span and missing values per column."""

    rows: int
    columns: tuple[str, ...]
    customers: int
    first: pd.Timestamp
    last: pd.Timestamp
    missing: dict[str, int]

    @property
    def cells(self) -> int:
        """Rows x columns."""
        return self.rows * len(self.columns)


def _q(column: str) -> str:
    return '"' + str(column).replace('"', '""') + '"'


def _stamp(epoch_ns: int, duck_type: str) -> pd.Timestamp:
    """Turn a DuckDB timestamp (nanoseconds since the epoch) into the resolution pandas reads the column with."""
    t = duck_type.upper()
    unit = {"TIMESTAMP_NS": "ns", "TIMESTAMP_MS": "ms", "TIMESTAMP_S": "s", "DATE": "s"}.get(t, "us")
    stamp = pd.Timestamp(int(epoch_ns), unit="ns").as_unit(unit)
    return stamp.tz_localize("UTC") if "TIME ZONE" in t else stamp


def profile_table(table, name: str = "table") -> TableProfile:
    """Profile a table: in pandas for a frame, in one DuckDB scan for a lazy table (never loaded).

    Parameters
    ----------
    table : DataFrame, Parquet path or DuckDB relation
        The table; ``first``/``last`` span its datetime columns (NaT when it has none); a value is
        missing when NULL (or NaN in a float column), as :meth:`pandas.DataFrame.isna` counts it.
    name : str
        Canonical table name (for the view's name).
    """
    if not is_lazy(table):
        stamps = [table[c] for c in table.columns if ptypes.is_datetime64_any_dtype(table[c].dtype)]
        missing = table.isna().sum()
        return TableProfile(
            rows=len(table), columns=tuple(map(str, table.columns)),
            customers=int(table[C.CUSTOMER_ID].nunique()) if C.CUSTOMER_ID in table.columns else 0,
            first=min((s.min() for s in stamps), default=pd.NaT), last=max((s.max() for s in stamps), default=pd.NaT),
            missing={str(c): int(n) for c, n in missing.items()},
        )
    tables = Tables(connect(relations=[table]))
    view, types = tables.view(name, table), tables.types(name, table)
    stamps = [c for c, t in types.items() if t.upper().startswith("TIMESTAMP") or t.upper() == "DATE"]
    floats = {c for c, t in types.items() if t.upper() in ("FLOAT", "DOUBLE", "REAL")}
    parts = ["count(*)", f"count(DISTINCT {_q(C.CUSTOMER_ID)})" if C.CUSTOMER_ID in types else "0"]
    parts += [f"epoch_ns(min({_q(c)}))" for c in stamps] + [f"epoch_ns(max({_q(c)}))" for c in stamps]
    parts += [f"count(*) FILTER (WHERE {_q(c)} IS NULL" + (f" OR isnan({_q(c)}))" if c in floats else ")")
              for c in types]
    row = tables.con.execute(f"SELECT {', '.join(parts)} FROM {view}").fetchall()[0]
    k = len(stamps)
    firsts = [_stamp(v, types[c]) for c, v in zip(stamps, row[2:2 + k]) if v is not None]
    lasts = [_stamp(v, types[c]) for c, v in zip(stamps, row[2 + k:2 + 2 * k]) if v is not None]
    return TableProfile(
        rows=int(row[0]), columns=tuple(types), customers=int(row[1]),
        first=min(firsts, default=pd.NaT), last=max(lasts, default=pd.NaT),
        missing={c: int(n) for c, n in zip(types, row[2 + 2 * k:])},
    )


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
        span every datetime column of the table (NaT when it has none). Lazy tables are counted in
        DuckDB (:func:`profile_table`), with the same numbers as in memory.
    """
    rows = []
    for name in [t for t in SCHEMAS if t in dataset.tables]:
        p = profile_table(dataset.tables[name], name)
        rows.append(
            {
                "table": name,
                "rows": p.rows,
                "columns": len(p.columns),
                "customers": p.customers,
                "first": p.first,
                "last": p.last,
                "missing_share": float(sum(p.missing.values()) / p.cells) if p.cells else 0.0,
            }
        )
    return pd.DataFrame(rows, columns=["table", "rows", "columns", "customers", "first", "last", "missing_share"])


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
