"""The checks of :mod:`churnlab.validation`, stated in DuckDB SQL for tables that stay where they lie.

A lazy table (a Parquet path or a DuckDB relation) is never loaded: one query counts every problem
of a table at once (``count(*) FILTER (WHERE ...)``), and a short query per problem found fetches its
first few example keys, in the table's row order, and the values that show it. Each check mirrors its
pandas twin in :mod:`churnlab.checks` so that the same rows give the same problems, counts, messages
and examples lazy or in memory:

- the dtype family of a Parquet column is the one pandas gives it when the file is read
  (``pyarrow``'s pandas conversion of the file's schema, where an integer or boolean column with
  missing values becomes ``float64`` or ``object``, as it does when the file is read into pandas);
- a row's key is its ``customer_id``, or ``row N`` (1-based, over the files in order) where it has none.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from churnlab import config as C
from churnlab.checks import Problem, compatible, kind_of, range_found, shown_values, value_bounds
from churnlab.engine import Tables, connect, sql_string
from churnlab.schema import SCHEMAS, Column
from churnlab.vocabulary import Vocabulary

__all__ = ["LazyChecks", "pandas_dtypes"]

#: The row-order column added to every checked table (1-based, as in the file).
_ROW = "__churnlab_row"
#: Example keys shown per problem (as :func:`churnlab.checks.examples`).
_EXAMPLES = 3


def _q(column: str) -> str:
    return '"' + str(column).replace('"', '""') + '"'


def pandas_dtypes(table: object, view_types: dict[str, str], nulls: dict[str, int]) -> dict[str, object]:
    """Column -> the pandas dtype the column has once read into pandas, from the schema and null counts only.

    Parameters
    ----------
    table : Parquet path or DuckDB relation
        A Parquet table's dtypes come from pyarrow's pandas conversion of its schema (its pandas
        metadata included); a relation's from its DuckDB types.
    view_types : dict of str to str
        The DuckDB type of each column.
    nulls : dict of str to int
        Missing values per integer or boolean column: pandas holds such a column with missing values
        as ``float64`` (integers) or ``object`` (booleans).
    """
    import numpy as np

    if isinstance(table, (str, os.PathLike)):
        import pyarrow.parquet as pq

        from churnlab.lazy import parquet_files

        empty = pq.read_schema(parquet_files(table)[0]).empty_table().to_pandas()
        dtypes = {c: empty[c].dtype for c in empty.columns}
    else:
        dtypes = {c: _duckdb_dtype(t) for c, t in view_types.items()}
    for c, dtype in dtypes.items():
        if nulls.get(c, 0) and isinstance(dtype, np.dtype) and dtype.kind in "iu":
            dtypes[c] = np.dtype("float64")
        elif nulls.get(c, 0) and isinstance(dtype, np.dtype) and dtype.kind == "b":
            dtypes[c] = np.dtype("object")
    return {c: dtypes[c] for c in view_types if c in dtypes}


def _duckdb_dtype(duck: str):
    import numpy as np

    t = duck.upper()
    if t == "BOOLEAN":
        return np.dtype("bool")
    if t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "HUGEINT"):
        return np.dtype("int64")
    if t in ("FLOAT", "DOUBLE", "REAL") or t.startswith("DECIMAL"):
        return np.dtype("float64")
    if t.startswith("TIMESTAMP WITH TIME ZONE"):
        return pd.DatetimeTZDtype(tz="UTC")
    if t.startswith("TIMESTAMP") or t == "DATE":
        return np.dtype("datetime64[ns]")
    if t == "VARCHAR":
        return pd.StringDtype()
    return np.dtype("object")


@dataclass
class _View:
    """One registered lazy table: its view (with the row-order column), rows, DuckDB types and pandas dtypes."""

    name: str
    sql: str
    rows: int
    types: dict[str, str]
    dtypes: dict[str, object]

    def kind(self, column: str) -> str:
        return kind_of(pd.Series([], dtype=self.dtypes[column]))

    def text(self, column: str) -> str:
        """Write ``column`` in SQL as pandas ``astype(str)`` writes it (missing values as pandas writes them)."""
        null = str(pd.Series([None], dtype=self.dtypes[column]).astype(str).iloc[0])
        return f"COALESCE(CAST({_q(column)} AS VARCHAR), {sql_string(null)})"

    def is_float(self, column: str) -> bool:
        t = self.types[column].upper()
        return t in ("FLOAT", "DOUBLE", "REAL")

    def missing(self, column: str) -> str:
        """Give the SQL condition that the value is missing (NULL, or NaN in a float column)."""
        c = _q(column)
        return f"({c} IS NULL OR isnan({c}))" if self.is_float(column) else f"({c} IS NULL)"

    @property
    def key(self) -> str:
        """SQL for each row's key: its customer id as text, or ``row N`` where it has none."""
        row = f"'row ' || CAST({_ROW} AS VARCHAR)"
        if C.CUSTOMER_ID not in self.types:
            return row
        c = _q(C.CUSTOMER_ID)
        absent = self.missing(C.CUSTOMER_ID)
        return f"CASE WHEN {absent} THEN {row} ELSE CAST({c} AS VARCHAR) END"


class LazyChecks:
    """Run :mod:`churnlab.validation`'s checks on lazy tables in DuckDB, one connection for a dataset.

    Parameters
    ----------
    as_of : Timestamp
        Nothing may be stamped after it.
    vocabulary : Vocabulary
        The dataset's vocabulary.
    relations : iterable
        The lazy tables to be checked (a DuckDB relation's own connection is used when there is one).
    """

    def __init__(self, as_of: pd.Timestamp, vocabulary: Vocabulary, relations: Iterable[object] = ()) -> None:
        self.as_of = pd.Timestamp(as_of)
        self.vocabulary = vocabulary
        self._relations = list(relations)
        self._tables: Tables | None = None
        self._views: dict[int, _View] = {}

    @property
    def con(self):
        """The DuckDB connection the checks run on."""
        return self.tables.con

    @property
    def tables(self) -> Tables:
        """The registered tables (the connection opens on first use)."""
        if self._tables is None:
            self._tables = Tables(connect(relations=self._relations))
        return self._tables

    def view(self, name: str, table: object) -> _View:
        """Register ``table`` with its row-order column (file order, 1-based) and read its types."""
        if id(table) in self._views:
            return self._views[id(table)]
        from churnlab.lazy import parquet_files, row_count

        base = self.tables.view(name, table)
        types = self.tables.types(name, table)
        view = f"{base}_checked"
        if isinstance(table, (str, os.PathLike)):
            parts, offset = [], 0
            for f in parquet_files(table):
                parts.append(f"SELECT * EXCLUDE (file_row_number), file_row_number + {offset + 1} AS {_ROW} "
                             f"FROM read_parquet({sql_string(str(f))}, file_row_number = true)")
                offset += row_count(f)
            body = " UNION ALL ".join(parts)
        else:
            body = f"SELECT *, row_number() OVER () AS {_ROW} FROM {base}"
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {body}").fetchall()
        rows = row_count(table)
        flagged = [c for c, t in types.items() if t.upper() in ("BOOLEAN", "TINYINT", "SMALLINT", "INTEGER",
                                                                    "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER",
                                                                    "UBIGINT", "HUGEINT")]
        nulls = {}
        if flagged and rows:
            counts = self.con.execute("SELECT " + ", ".join(f"count(*) FILTER (WHERE {_q(c)} IS NULL)" for c in flagged)
                                      + f" FROM {view}").fetchall()[0]
            nulls = dict(zip(flagged, counts))
        out = _View(name, view, rows, types, pandas_dtypes(table, types, nulls))
        self._views[id(table)] = out
        return out

    # -- queries --------------------------------------------------------------------------------------------------

    def _counts(self, v: _View, conditions: list[str]) -> list[int]:
        if not conditions:
            return []
        select = ", ".join(f"count(*) FILTER (WHERE {c})" for c in conditions)
        return [int(n) for n in self.con.execute(f"SELECT {select} FROM {v.sql}").fetchall()[0]]

    def _first(self, source: str, expr: str, where: str, limit: int = _EXAMPLES) -> list:
        """Fetch the first ``limit`` distinct values of ``expr`` over the rows matching ``where``, in row order."""
        rows = self.con.execute(
            f"SELECT v FROM (SELECT {expr} AS v, min({_ROW}) AS o FROM {source} WHERE {where} GROUP BY 1) "
            f"ORDER BY o LIMIT {int(limit)}"
        ).fetchall()
        return [r[0] for r in rows]

    def _examples(self, v: _View, where: str, source: str | None = None, expr: str | None = None) -> tuple[str, ...]:
        return tuple(str(k) for k in self._first(source or v.sql, expr or v.key, where))

    def _values(self, v: _View, column: str, where: str) -> list:
        """Fetch the first distinct values of ``column`` where ``where`` holds, as pandas would hold them."""
        values = self._first(v.sql, _q(column), where)
        return [pd.Timestamp(x) if hasattr(x, "isoformat") and not isinstance(x, str) else x for x in values]

    # -- one table ------------------------------------------------------------------------------------------------

    def check_table(self, name: str, table: object) -> list[Problem]:
        """Check one lazy table against its schema (the checks of :func:`churnlab.validation.check_table`)."""
        schema = SCHEMAS[name]
        v = self.view(name, table)
        if v.rows == 0:
            return [Problem(name, None, "at least one row; the table is empty")]
        pending: list[tuple[str, object]] = []  # (condition, make(count) -> Problem | None), counted in one scan
        problems: list[tuple[int, object]] = []  # (order, Problem or pending index) to keep the in-memory order
        order = 0
        for col in schema.columns:
            if col.name in v.types:
                for item in self._column(v, col):
                    problems.append((order, item if isinstance(item, Problem) else len(pending)))
                    if not isinstance(item, Problem):
                        pending.append(item)
                    order += 1
            elif col.required:
                problems.append((order, Problem(name, col.name, f"a column of {col.kind} values; it is missing")))
                order += 1
        if name == "surveys":
            for item in self._survey_scores(v):
                problems.append((order, len(pending)))
                pending.append(item)
                order += 1
        counts = self._counts(v, [cond for cond, _ in pending])
        out: list[Problem] = []
        for _, item in problems:
            if isinstance(item, Problem):
                out.append(item)
            elif counts[item]:
                out.append(pending[item][1](counts[item]))
        if schema.key and all(k in v.types for k in schema.key):
            out.extend(self._duplicates(v, schema.key))
        return out

    def _column(self, v: _View, col: Column) -> list:
        """Problems of one column: a Problem at once, or (condition, make) to count in the table's scan."""
        name, c = v.name, _q(col.name)
        kind = v.kind(col.name)
        if not compatible(kind, col.kind):
            return self._dtype(v, col, kind)
        items: list = []
        missing = v.missing(col.name)
        if not col.nullable:
            items.append((missing, lambda n, where=missing: Problem(name, col.name, "no missing values", n,
                                                                    self._examples(v, where))))
        allowed = col.allowed if col.vocabulary is None else self.vocabulary.get(col.vocabulary)
        if allowed is not None:
            literals = _literals(allowed, kind)
            bad = f"NOT {missing}" + (f" AND NOT ({c} IN ({literals}))" if literals else "")
            hint = f"; declare it under vocabulary: {col.vocabulary}" if col.vocabulary else ""

            def make_allowed(n, where=bad):
                found = ", ".join(map(str, self._values(v, col.name, where)))
                return Problem(name, col.name, f"one of {list(allowed)} (found {found}{hint})", n,
                               self._examples(v, where))

            items.append((bad, make_allowed))
        low, high, expected = value_bounds(col, self.vocabulary)
        if expected:
            items.append(self._out_of_range(v, col.name, "TRUE", low, high, expected))
        if col.kind == "datetime" and not col.scheduled:  # a scheduled date (renewal) may lie ahead
            late = f"{c} > {_timestamp(self.as_of)}"
            after = f"nothing after as_of {self.as_of.date()}"
            items.append((late, lambda n, where=late: Problem(name, col.name, after, n, self._examples(v, where))))
        return items

    def _dtype(self, v: _View, col: Column, kind: str) -> list:
        """Describe the one problem of a column of the wrong dtype family (as the pandas check)."""
        name, c = v.name, _q(col.name)
        if kind == "datetime-tz":
            return [Problem(name, col.name, f"dtype {col.kind}, found datetime with a timezone (expected "
                                            "timezone-naive UTC)")]
        generic_found = "datetime" if kind == "datetime" else str(v.dtypes[col.name])

        def generic() -> Problem:
            sample = shown_values(self._values(v, col.name, f"NOT {v.missing(col.name)}"))
            shown = f"dtype {col.kind}, found {generic_found}" + (f" (values {sample})" if sample else "")
            if col.name == "churned":
                shown += "; a files config maps a text flag with churn: {column: ..., values: yes/no}"
            return Problem(name, col.name, shown)

        if col.kind in ("float", "int") and kind in ("string", "other"):
            text = f"{c} IS NOT NULL AND TRY_CAST({c} AS DOUBLE) IS NULL"

            def make_text(n, where=text):
                found = shown_values(self._values(v, col.name, where))
                return Problem(name, col.name, f"numbers ({col.kind}), found text {found}", n, self._examples(v, where))

            n_text = self._counts(v, [text])[0]
            return [make_text(n_text) if n_text else generic()]
        return [generic()]

    def _out_of_range(self, v: _View, column: str, rows: str, low, high, expected: str):
        c = _q(column)
        parts = ([f"{c} < {float(low)!r}"] if low is not None else []) + (
            [f"{c} > {float(high)!r}"] if high is not None else [])
        nan = f" AND NOT isnan({c})" if v.is_float(column) else ""
        bad = f"({rows}) AND ({' OR '.join(parts)}){nan}"

        def make(n, where=bad):
            lo, hi = self.con.execute(f"SELECT min({c}), max({c}) FROM {v.sql} WHERE {where}").fetchall()[0]
            return Problem(v.name, column, expected + range_found(lo, hi), n, self._examples(v, where))

        return bad, make

    def _survey_scores(self, v: _View) -> list:
        """NPS 0-10 and CSAT on the dataset's scale (:func:`churnlab.checks.check_survey_scores`)."""
        if not {"kind", "score"} <= set(v.types) or v.kind("score") not in ("float", "int"):
            return []
        if v.kind("kind") not in ("string", "other"):
            return []  # pandas compares a non-text kind column with "nps" as never equal
        low, high = self.vocabulary.get("csat_scale")
        items = []
        for kind, lo, hi, expected in [
            ("nps", 0.0, 10.0, "NPS scores between 0 and 10"),
            ("csat", low, high, f"CSAT scores on the csat scale {low:g}-{high:g}"),
        ]:
            rows = f'CAST("kind" AS VARCHAR) = {sql_string(kind)}'
            items.append(self._out_of_range(v, "score", rows, lo, hi, f"{expected} where kind is {kind}"))
        return items

    def _duplicates(self, v: _View, key: tuple[str, ...]) -> list[Problem]:
        cols = ", ".join(_q(k) for k in key)
        dup = (f"SELECT {cols} FROM {v.sql} GROUP BY ALL HAVING count(*) > 1")
        on = " AND ".join(f"t.{_q(k)} IS NOT DISTINCT FROM d.{_q(k)}" for k in key)
        source = f"(SELECT t.* FROM {v.sql} t SEMI JOIN ({dup}) d ON {on})"
        n = int(self.con.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0])
        if not n:
            return []
        expr = " || '/' || ".join(v.text(k) for k in key)
        return [Problem(v.name, "/".join(key), "unique key values", n, self._examples(v, "TRUE", source, expr))]

    # -- across tables --------------------------------------------------------------------------------------------

    def check_against_customers(self, name: str, table: object, customers: pd.DataFrame) -> list[Problem]:
        """Check customer ids are known to ``customers`` and no activity precedes signup (as in memory)."""
        schema = SCHEMAS[name]
        v = self.view(name, table)
        if C.CUSTOMER_ID not in v.types or not v.rows:
            return []
        known = customers.drop_duplicates(C.CUSTOMER_ID)[[C.CUSTOMER_ID, C.SIGNUP_AT]]
        known = pd.DataFrame({"id": known[C.CUSTOMER_ID].astype(str).to_numpy(dtype=object),
                              "signup": known[C.SIGNUP_AT].to_numpy()})
        customers_view = f"{v.sql}_customers"
        # DuckDB refuses to register a frame while a DDL statement's result is unread (Tables.view's CREATE VIEW)
        self.con.execute("SELECT 1").fetchall()
        self.con.register(customers_view, known)
        try:
            cid = _q(C.CUSTOMER_ID)
            joined = (f"(SELECT t.*, k.signup AS __churnlab_signup FROM {v.sql} t LEFT JOIN {customers_view} k "
                      f"ON CAST(t.{cid} AS VARCHAR) = k.id)")
            checks = []
            if name != "funnel":
                unknown = f"__churnlab_signup IS NULL AND NOT {v.missing(C.CUSTOMER_ID)}"
                checks.append((None, unknown, "ids present in customers", C.CUSTOMER_ID))
            for col in schema.activity:
                if col in v.types and v.kind(col) == "datetime":
                    checks.append((col, f"{_q(col)} < __churnlab_signup", "no activity before the customer's signup_at",
                                   col))
            if not checks:
                return []
            select = ", ".join(f"count(*) FILTER (WHERE {where})" for _, where, _, _ in checks)
            counts = self.con.execute(f"SELECT {select} FROM {joined}").fetchall()[0]
            out = []
            for (_, where, expected, column), n in zip(checks, counts):
                if n:
                    eg = self._examples(v, where, joined, f"CAST({cid} AS VARCHAR)")
                    out.append(Problem(name, column, expected, int(n), eg))
            return out
        finally:
            self.con.unregister(customers_view)


def _literals(values, kind: str) -> str:
    """List in SQL the allowed values comparable with a column of ``kind`` (others can never match, as in pandas)."""
    if kind == "string":
        keep = [sql_string(x) for x in values if isinstance(x, str)]
    elif kind == "bool":
        keep = ["TRUE" if x else "FALSE" for x in values if isinstance(x, bool)]
    elif kind in ("int", "float"):
        keep = [repr(float(x)) for x in values if isinstance(x, (int, float)) and not isinstance(x, bool)]
    else:
        keep = [sql_string(str(x)) for x in values]
    return ", ".join(keep)


def _timestamp(ts: pd.Timestamp) -> str:
    return f"TIMESTAMP {sql_string(pd.Timestamp(ts).isoformat(sep=' '))}"
