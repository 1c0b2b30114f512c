"""Tables that stay where they lie: Parquet files read by DuckDB, never loaded whole into pandas.

A :class:`~churnlab.schema.Dataset` may hold a Parquet path (a file, a folder of files or a glob) instead
of a pandas frame for its event-level tables. This module answers what the dataset is asked about such
a table without reading it whole: how many rows it has (from the Parquet footers), a pandas frame of
some columns or some customers (pushed down to DuckDB), a seeded sample of customers across every
table, a copy, and the content fingerprint, computed batch by batch so that it equals the in-memory
:func:`churnlab.schema.fingerprint` of the same rows. An ibis table expression (a table in a Spark
session or a warehouse, ``con.table(name)``) is answered by its own backend: counted, filtered and
streamed there.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from churnlab.checks import kind_of
from churnlab.engine import Tables, connect, sql_string
from churnlab.errors import AnalysisError, DataSourceError, SchemaError

__all__ = [
    "LAZY_ROWS",
    "lazy_rows",
    "parquet_files",
    "row_count",
    "read_frame",
    "table_digest",
    "combine_digests",
    "streamed_digest",
    "copy_table",
    "file_stamp",
    "is_ibis_table",
    "ibis_backend_of",
]

#: Tables with more rows than this stay on disk when a saved dataset is loaded with ``lazy="auto"``
#: (the environment variable ``CHURNLAB_LAZY_ROWS`` overrides it: ``0`` keeps every big table on disk).
LAZY_ROWS = 5_000_000


def lazy_rows() -> int:
    """Return the row count past which ``Dataset.load(lazy="auto")`` leaves a table on disk."""
    text = os.environ.get("CHURNLAB_LAZY_ROWS", "").strip()
    if not text:
        return LAZY_ROWS
    try:
        value = int(text)
    except ValueError:
        raise DataSourceError(f"CHURNLAB_LAZY_ROWS must be a row count (an int >= 0); got {text!r}") from None
    if value < 0:
        raise DataSourceError(f"CHURNLAB_LAZY_ROWS must be a row count (an int >= 0); got {text!r}")
    return value

#: Rows per batch when a Parquet table is hashed batch by batch.
_BATCH_ROWS = 1_000_000


def parquet_files(path: str | os.PathLike) -> list[Path]:
    """List the Parquet files behind ``path``: the file itself, every ``*.parquet`` under a folder, or a glob's matches.

    Raises
    ------
    DataSourceError
        When nothing matches.
    """
    p = Path(path)
    if p.is_file():
        files = [p]
    elif p.is_dir():
        files = sorted(p.rglob("*.parquet"))
    else:
        files = sorted(Path(f) for f in glob.glob(str(p), recursive=True))
    if not files:
        raise DataSourceError(f"{path}: no Parquet file there; expected a .parquet file, a folder of them or a glob")
    return files


def is_ibis_table(table: object) -> bool:
    """Whether ``table`` is an ibis table expression (``con.table("events")``, ``con.read_parquet(path)``).

    Checked without importing ibis, so that pandas- and DuckDB-only work never pays for it.
    """
    return type(table).__module__.startswith("ibis.") and type(table).__name__ == "Table"


def ibis_backend_of(table: object):
    """Return the ibis backend an ibis table lives on (its ``con.table`` / ``read_parquet`` connection).

    Raises
    ------
    AnalysisError
        When the table belongs to no single backend (an ``ibis.memtable`` has none until it is run).
    """
    try:
        return table._find_backend(use_default=False)
    except Exception as exc:  # ibis raises its own error types (and their names change between versions)
        raise AnalysisError(f"an ibis table that lives on no single backend ({type(exc).__name__}); pass a table "
                            "of one backend, e.g. con.table(name) or con.read_parquet(path)") from exc


def row_count(table: object) -> int:
    """Rows of ``table``: ``len`` of a frame, the Parquet footers' counts of a path, ``count(*)`` of a relation.

    An ibis table is counted by its own backend (``count(*)`` on Spark or the warehouse).
    """
    if isinstance(table, pd.DataFrame):
        return len(table)
    if is_ibis_table(table):
        return int(ibis_backend_of(table).execute(table.count()))
    if isinstance(table, (str, os.PathLike)):
        import pyarrow.parquet as pq

        return int(sum(pq.ParquetFile(f).metadata.num_rows for f in parquet_files(table)))
    return int(table.aggregate("count(*)").fetchall()[0][0])


def read_frame(table: object, name: str = "table", *, columns: Sequence[str] | None = None,
               customer_ids: Iterable[str] | None = None, id_column: str = "customer_id") -> pd.DataFrame:
    """Read ``table`` into pandas, optionally only some columns and some customers (filtered in DuckDB).

    Parameters
    ----------
    table : DataFrame, Parquet path or DuckDB relation
        The table.
    name : str
        Canonical table name, for errors.
    columns : sequence of str, optional
        Columns to return (default all).
    customer_ids : iterable of str, optional
        Keep only these customers' rows (a semi-join in the engine; the table is not loaded whole).
    id_column : str
        The customer column.

    Raises
    ------
    SchemaError
        When a named column is missing.
    """
    if isinstance(table, pd.DataFrame):
        from churnlab.schema import require_columns

        require_columns(table, list(columns or []) + ([id_column] if customer_ids is not None else []), table=name)
        out = table if columns is None else table[list(columns)]
        if customer_ids is None:
            return out
        keep = table[id_column].astype(str).isin({str(i) for i in customer_ids}).to_numpy()
        return out[keep].reset_index(drop=True)
    if isinstance(table, (str, os.PathLike)):
        return _read_parquet(table, name, columns, customer_ids, id_column)
    if is_ibis_table(table):
        return _read_ibis(table, name, columns, customer_ids, id_column)
    con = connect(relations=[table])
    tables = Tables(con)
    view = tables.view(name, table)
    if columns is not None:
        tables.require(name, table, columns)
    select = "*" if columns is None else ", ".join(f'"{c}"' for c in columns)
    if customer_ids is None:
        return con.execute(f"SELECT {select} FROM {view}").df()
    tables.require(name, table, [id_column])
    ids = pd.DataFrame({"id": pd.Series(list(customer_ids), dtype="string").astype(object)})
    con.register("churnlab_wanted_ids", ids)
    try:
        return con.execute(f'SELECT {select} FROM {view} WHERE CAST("{id_column}" AS VARCHAR) IN '
                           f"(SELECT id FROM churnlab_wanted_ids)").df()
    finally:
        con.unregister("churnlab_wanted_ids")


def _read_parquet(path, name: str, columns, customer_ids, id_column: str) -> pd.DataFrame:
    """Read Parquet with pyarrow (row groups streamed, filter pushed down), keeping the files' pandas dtypes."""
    import pyarrow.compute as pc
    import pyarrow.dataset as pads

    data = pads.dataset([str(f) for f in parquet_files(path)], format="parquet")
    have = data.schema.names
    wanted = list(columns) if columns is not None else None
    need = (wanted or []) + ([id_column] if customer_ids is not None else [])
    missing = [c for c in need if c not in have]
    if missing:
        raise SchemaError(f"{name}.{missing[0]}: missing column; the table has {', '.join(have)}")
    where = None
    if customer_ids is not None:
        import pyarrow as pa

        ids = pa.array([str(i) for i in customer_ids], type=pa.string())
        where = pc.field(id_column).cast(pa.string()).isin(ids)
    return data.to_table(columns=wanted, filter=where).to_pandas()


def _read_ibis(table, name: str, columns, customer_ids, id_column: str) -> pd.DataFrame:
    """Read an ibis table into pandas through its backend: columns selected and customers filtered there."""
    import ibis

    have = list(table.columns)
    need = list(columns or []) + ([id_column] if customer_ids is not None else [])
    missing = [c for c in need if c not in have]
    if missing:
        raise SchemaError(f"{name}.{missing[0]}: missing column; the table has {', '.join(have)}")
    expr = table
    if customer_ids is not None:
        # the ids go to the backend as a small table and the filter is a semi-join there
        wanted = ibis.memtable(pd.DataFrame({"churnlab_id": pd.Series([str(i) for i in customer_ids], dtype=object)}))
        expr = expr.semi_join(wanted, expr[id_column].cast("string") == wanted.churnlab_id)
    if columns is not None:
        expr = expr.select(*columns)
    return ibis_backend_of(table).to_pandas(expr)


def _ibis_batches(table):
    """Stream an ibis table's rows from its backend as a pyarrow RecordBatchReader of ``_BATCH_ROWS`` rows."""
    backend = ibis_backend_of(table)
    if backend.name == "duckdb":
        # ibis 12's DuckDB batches call fetch_record_batch, which DuckDB 2 renamed to to_arrow_reader
        relation = backend.con.sql(backend.compile(table))
        reader = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
        return reader(_BATCH_ROWS)
    return backend.to_pyarrow_batches(table, chunk_size=_BATCH_ROWS)


def table_digest(df: pd.DataFrame) -> tuple[int, tuple[str, ...], int]:
    """Digest one table for its fingerprint: row count, ``column:kind`` in name order, and the row-hash sum mod 2**64.

    Two frames holding the same rows in any order, or split into batches whose digests are combined with
    :func:`combine_digests`, give the same parts.
    """
    cols = sorted(df.columns)
    total = 0
    if len(df):
        rows = pd.util.hash_pandas_object(df[cols], index=False).to_numpy(dtype=np.uint64)
        total = int(rows.sum(dtype=np.uint64))
    return len(df), tuple(f"{c}:{kind_of(df[c])}" for c in cols), total


def combine_digests(parts: Iterable[tuple[int, tuple[str, ...], int]]) -> tuple[int, tuple[str, ...], int]:
    """Add up the digests of a table's batches (rows and hash sums add; the column kinds must agree)."""
    n, kinds, total = 0, None, 0
    for rows, cols, hashed in parts:
        if rows == 0:
            continue
        if kinds is not None and cols != kinds:
            raise DataSourceError(f"table batches disagree on their columns: {kinds} and {cols}")
        n, kinds, total = n + rows, cols, (total + hashed) % 2**64
    return n, kinds or (), total


def fingerprint_of(digests: Mapping[str, tuple[int, tuple[str, ...], int]]) -> str:
    """Make the 16-hex fingerprint of a set of tables from their digests (see :func:`churnlab.schema.fingerprint`)."""
    h = hashlib.sha256()
    for name in sorted(digests):
        n, kinds, total = digests[name]
        h.update(f"{name}|{n}|{','.join(kinds)}|{total}\n".encode())
    return h.hexdigest()[:16]


def streamed_digest(table: object, name: str = "table") -> tuple[int, tuple[str, ...], int]:
    """Digest a lazy table, batch by batch (memory bounded by one batch)."""
    if isinstance(table, pd.DataFrame):
        return table_digest(table)
    if isinstance(table, (str, os.PathLike)):
        import pyarrow.parquet as pq

        parts = []
        for f in parquet_files(table):
            pf = pq.ParquetFile(f)
            for batch in pf.iter_batches(batch_size=_BATCH_ROWS):
                parts.append(table_digest(_batch_frame(batch, pf.schema_arrow)))
        return combine_digests(parts)
    if is_ibis_table(table):
        return combine_digests(table_digest(b.to_pandas()) for b in _ibis_batches(table))
    # a DuckDB relation: DuckDB 2 calls the batch reader to_arrow_reader (fetch_arrow_reader before)
    read = getattr(table, "to_arrow_reader", None) or getattr(table, "fetch_arrow_reader", None)
    if read is None:
        return table_digest(table.df())
    return combine_digests(table_digest(b.to_pandas()) for b in read(_BATCH_ROWS))


def _batch_frame(batch, schema) -> pd.DataFrame:
    import pyarrow as pa

    # the file's pandas metadata (categoricals, string dtypes) applies to every batch as to the whole file
    return pa.Table.from_batches([batch], schema=schema).to_pandas()


def copy_table(table: object, dest: Path, name: str = "table") -> None:
    """Write ``table`` to ``dest`` (one Parquet file) without loading it: a file copy, or DuckDB's COPY."""
    if isinstance(table, pd.DataFrame):
        table.to_parquet(dest, index=False)
        return
    if isinstance(table, (str, os.PathLike)):
        files = parquet_files(table)
        if len(files) == 1:
            if Path(files[0]).resolve() != Path(dest).resolve():
                shutil.copyfile(files[0], dest)
            return
    if is_ibis_table(table):
        import pyarrow.parquet as pq

        # the backend streams the rows batch by batch into one local file (memory bounded by a batch)
        batches = _ibis_batches(table)
        with pq.ParquetWriter(dest, batches.schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
        return
    con = connect(relations=[table])
    view = Tables(con).view(name, table)
    con.execute(f"COPY (SELECT * FROM {view}) TO {sql_string(str(dest))} (FORMAT parquet)")


def file_stamp(table: object) -> list[list] | None:
    """``[[file, size], ...]`` of a Parquet path (to tell whether a stored fingerprint still holds); None otherwise."""
    if not isinstance(table, (str, os.PathLike)):
        return None
    return [[f.name, f.stat().st_size] for f in parquet_files(table)]
