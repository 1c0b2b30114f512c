"""Tables where they lie: pandas frames, Parquet files or DuckDB relations, read through one DuckDB connection.

Event-level work (label times, point-in-time features) runs as SQL in DuckDB over the tables as the
caller has them: a pandas frame is scanned in place (no copy), a Parquet path (a file, a folder of
files or a glob) is read by DuckDB out of core and never loaded into pandas, and a DuckDB relation
is used on its own connection. :class:`Tables` registers each table once under a stable view name
and answers the questions the callers ask of a table (its columns, their DuckDB types) without
reading its rows.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from churnlab.errors import AnalysisError, SchemaError

__all__ = ["TableSource", "is_lazy", "connect", "Tables", "sql_string", "columns_of"]

#: What a table may be: a pandas frame, a Parquet path (file, folder or glob) or a DuckDB relation.
TableSource = object

_counter = itertools.count()


def is_lazy(table: object) -> bool:
    """Whether ``table`` is read where it lies (a Parquet path or a DuckDB relation), not a pandas frame."""
    return not isinstance(table, pd.DataFrame)


def _is_relation(table: object) -> bool:
    return type(table).__name__ == "DuckDBPyRelation"


def sql_string(text: str) -> str:
    """Quote ``text`` as a SQL string literal."""
    return "'" + str(text).replace("'", "''") + "'"


def _parquet_glob(path: str | os.PathLike) -> str:
    p = Path(path)
    if p.is_dir():
        return str(p / "**" / "*.parquet")
    return str(p)


def connect(threads: int | None = None, relations: Iterable[object] = ()):
    """Open a DuckDB connection: the relations' own one when some are given, else a fresh in-memory one.

    Parameters
    ----------
    threads : int, optional
        ``SET threads``; default DuckDB's (the number of cores).
    relations : iterable
        Tables that may be DuckDB relations; relations made with the module-level ``duckdb.sql`` /
        ``duckdb.read_parquet`` live on ``duckdb.default_connection()``, which is then used.
    """
    import duckdb

    con = duckdb.default_connection() if any(_is_relation(r) for r in relations) else duckdb.connect()
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    return con


class Tables:
    """Register tables on a DuckDB connection under generated view names, one registration per table.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Where the SQL runs.

    Examples
    --------
    >>> import duckdb
    >>> t = Tables(duckdb.connect())
    >>> view = t.view("events", pd.DataFrame({"customer_id": ["a"], "n": [1]}))
    >>> t.con.execute(f"SELECT count(*) FROM {view}").fetchone()[0]
    1
    """

    def __init__(self, con) -> None:
        self.con = con
        self._views: dict[int, str] = {}
        self._keep: list[object] = []
        self._types: dict[str, dict[str, str]] = {}

    def view(self, name: str, table: TableSource) -> str:
        """Register ``table`` (once) and return the name of a view over it.

        Parameters
        ----------
        name : str
            The canonical table name (``events``), used in view names and errors.
        table : DataFrame, str, PathLike or DuckDBPyRelation
            A frame is scanned in place; a path is read with ``read_parquet`` (a folder reads every
            ``*.parquet`` below it); a relation must belong to this connection.

        Raises
        ------
        AnalysisError
            A table of another kind, or a relation from another connection.
        """
        key = id(table)
        if key in self._views:
            return self._views[key]
        view = f"churnlab_{name}_{next(_counter)}"
        if isinstance(table, pd.DataFrame):
            # DuckDB scans the frame in place and reads only the columns a query names
            self.con.register(view, table)
        elif isinstance(table, (str, os.PathLike)):
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM "
                             f"read_parquet({sql_string(_parquet_glob(table))})")
        elif _is_relation(table):
            try:
                table.create_view(view, replace=True)
                self.con.execute(f"SELECT 1 FROM {view} LIMIT 0")
            except Exception as exc:  # duckdb raises its own error types per version
                raise AnalysisError(f"{name}: the DuckDB relation is not readable on this connection; pass the "
                                    f"connection it was made on as backend= ({exc})") from exc
        else:
            raise AnalysisError(f"{name}: expected a pandas DataFrame, a Parquet path or a DuckDB relation; got "
                                f"{type(table).__name__}")
        self._keep.append(table)
        self._views[key] = view
        return view

    def types(self, name: str, table: TableSource) -> dict[str, str]:
        """Column name -> DuckDB type of ``table`` (read from its schema, no rows)."""
        view = self.view(name, table)
        if view not in self._types:
            self._types[view] = {r[0]: r[1] for r in self.con.execute(f"DESCRIBE {view}").fetchall()}
        return self._types[view]

    def require(self, name: str, table: TableSource, columns: Iterable[str]) -> None:
        """Raise :class:`SchemaError` naming the first of ``columns`` that ``table`` lacks."""
        have = list(table.columns) if isinstance(table, pd.DataFrame) else list(self.types(name, table))
        missing = [c for c in columns if c not in have]
        if missing:
            raise SchemaError(f"{name}.{missing[0]}: missing column; the table has {', '.join(map(str, have))}")


def columns_of(table: TableSource, name: str = "table") -> list[str]:
    """List the column names of ``table`` without reading its rows (a fresh connection for lazy tables)."""
    if isinstance(table, pd.DataFrame) or type(table).__module__.startswith("ibis."):
        # an ibis table (Spark, a warehouse) knows its schema without a query
        return list(table.columns)
    return list(Tables(connect(relations=[table])).types(name, table))
