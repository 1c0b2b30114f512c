"""A user's own CSV or Parquet files, mapped to the canonical tables by a short YAML config.

Example config (paths are relative to the config file)::

    name: my_shop
    as_of: 2024-06-30
    description: Orders and support tickets exported from the CRM.
    tables:
      customers:
        file: customers.csv
        rename: {client: customer_id, created: signup_at}
        timestamps: {signup_at: "%d.%m.%Y"}
      events:
        file: events.parquet
        rename: {ts: timestamp, type: event_type}

Keys per table: ``file`` (required), ``rename`` (original name to canonical name), ``timestamps``
(column to strptime format; canonical datetime columns without one are parsed as ISO 8601),
``encoding`` (CSV only, default utf-8) and ``sep`` (CSV only, default ``,``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from churnlab import config as C
from churnlab.errors import DataSourceError
from churnlab.schema import SCHEMAS, Dataset

__all__ = ["load_files", "read_config"]

TABLE_KEYS = {"file", "rename", "timestamps", "encoding", "sep"}
TOP_KEYS = {"name", "as_of", "description", "tables"}


def read_config(path: str | Path) -> dict[str, Any]:
    """Read and check a files config; raise :class:`DataSourceError` naming the offending key."""
    path = Path(path)
    if not path.is_file():
        raise DataSourceError(f"{path}: config file not found")
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DataSourceError(f"{path}: not a readable YAML file ({type(exc).__name__})") from exc
    if not isinstance(cfg, dict):
        raise DataSourceError(f"{path}: expected a mapping with keys {sorted(TOP_KEYS)}")
    unknown = set(cfg) - TOP_KEYS
    if unknown:
        raise DataSourceError(f"{path}: unknown key(s) {sorted(unknown)}; allowed: {sorted(TOP_KEYS)}")
    for key in ("name", "tables"):
        if key not in cfg:
            raise DataSourceError(f"{path}: missing key {key!r}")
    if not isinstance(cfg["tables"], dict) or not cfg["tables"]:
        raise DataSourceError(f"{path}: 'tables' must map table names to file settings")
    for table, spec in cfg["tables"].items():
        if table not in SCHEMAS:
            raise DataSourceError(f"{path}: unknown table {table!r}; canonical tables are {sorted(SCHEMAS)}")
        if not isinstance(spec, dict) or "file" not in spec:
            raise DataSourceError(f"{path}: table {table!r} needs a 'file'")
        bad = set(spec) - TABLE_KEYS
        if bad:
            raise DataSourceError(
                f"{path}: table {table!r} has unknown key(s) {sorted(bad)}; allowed: {sorted(TABLE_KEYS)}"
            )
    return cfg


def _read_file(table: str, file: Path, spec: dict[str, Any]) -> pd.DataFrame:
    if not file.is_file():
        raise DataSourceError(f"{table}: file {file} not found")
    if file.stat().st_size == 0:
        raise DataSourceError(f"{table}: file {file.name} is empty; expected a header and rows")
    suffix = file.suffix.lower()
    if suffix in (".parquet", ".pq"):
        df = pd.read_parquet(file)
    elif suffix in (".csv", ".txt", ".tsv"):
        encoding = spec.get("encoding", "utf-8")
        try:
            df = pd.read_csv(file, encoding=encoding, sep=spec.get("sep", ","), dtype={C.CUSTOMER_ID: str})
        except UnicodeDecodeError as exc:
            raise DataSourceError(
                f"{table}: file {file.name} is not valid {encoding} text (byte {exc.object[exc.start]:#x} at "
                f"offset {exc.start}); re-save it as UTF-8 or set 'encoding' in the config"
            ) from exc
        except pd.errors.EmptyDataError as exc:
            raise DataSourceError(f"{table}: file {file.name} has no columns; expected a header and rows") from exc
    else:
        raise DataSourceError(f"{table}: file {file.name} has suffix {suffix!r}; expected .csv or .parquet")
    if df.empty:
        raise DataSourceError(f"{table}: file {file.name} has a header but no rows")
    return df


def _parse_timestamps(table: str, df: pd.DataFrame, formats: dict[str, str]) -> pd.DataFrame:
    schema = SCHEMAS[table]
    targets = {c.name for c in schema.columns if c.kind == "datetime" and c.name in df.columns} | set(formats)
    for col in sorted(targets):
        if col not in df.columns:
            raise DataSourceError(f"{table}.{col}: a timestamp format is given but the column is missing")
        s = df[col]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            continue
        fmt = formats.get(col, "ISO8601")
        parsed = pd.to_datetime(s, format=fmt, errors="coerce")
        bad = parsed.isna() & s.notna()
        if bad.any():
            eg = ", ".join(repr(v) for v in s[bad].astype(str).unique()[:3])
            raise DataSourceError(
                f"{table}.{col}: {int(bad.sum())} value(s) do not parse as timestamps with format {fmt!r}, e.g. {eg}"
            )
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        df[col] = parsed
    return df


def load_files(config: str | Path) -> Dataset:
    """Load a user's CSV/Parquet files as a canonical :class:`Dataset` described by a YAML config.

    Parameters
    ----------
    config : str or Path
        The YAML file (see the module docstring for its keys).

    Returns
    -------
    Dataset
        Tables renamed and timestamps parsed; other columns exactly as read. ``as_of`` is the
        config's, or the latest timestamp found when it gives none. Validate it with
        :func:`churnlab.schema.validate`.

    Raises
    ------
    DataSourceError
        Missing or empty file, non-UTF-8 CSV, unparseable timestamp, unknown table or key.
    """
    config = Path(config)
    cfg = read_config(config)
    tables: dict[str, pd.DataFrame] = {}
    for table, spec in cfg["tables"].items():
        df = _read_file(table, (config.parent / spec["file"]).resolve(), spec)
        df = df.rename(columns=spec.get("rename") or {})
        if C.CUSTOMER_ID in df.columns:
            df[C.CUSTOMER_ID] = df[C.CUSTOMER_ID].astype("string")
        tables[table] = _parse_timestamps(table, df, spec.get("timestamps") or {})
    if "as_of" in cfg:
        as_of = pd.Timestamp(cfg["as_of"])
    else:
        stamps = [
            df[c].max()
            for df in tables.values()
            for c in df.columns
            if pd.api.types.is_datetime64_any_dtype(df[c].dtype)
        ]
        as_of = max(stamps) if stamps else pd.Timestamp.now().normalize()
    return Dataset(
        name=str(cfg["name"]),
        tables=tables,
        as_of=as_of,
        source=str(config.resolve()),
        kind="snapshot" if set(tables) <= {"customers"} else "events",
        description=str(cfg.get("description", "")),
    )
