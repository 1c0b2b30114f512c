"""A user's own CSV or Parquet files, mapped to the canonical tables by a short YAML config.

Example config (paths are relative to the config file)::

    name: my_shop
    as_of: 2024-06-30
    description: Orders and support tickets exported from the CRM.
    vocabulary:                       # optional: the values this data uses (default: the synthetic world's)
      segments: [SMB, Enterprise]
      funnel_stages: [visit, demo_call, signup, first_payment]   # in funnel order
    tables:
      customers:
        file: customers.csv
        rename: {client: customer_id, created: signup_at}
        timestamps: {signup_at: "%d.%m.%Y"}
      events:
        file: events.parquet
        rename: {ts: timestamp, type: event_type}

A snapshot (one row per customer and a churn flag, no activity log) says so::

    name: telecom
    kind: snapshot
    as_of: 2024-03-31                 # when the flag was observed (required for a snapshot)
    churn: {column: Churned, values: yes/no}    # yes/no, 1/0, true/false, churned/active or auto
    tenure: {column: MonthsActive, unit: months}  # only when there is no signup date
    tables:
      customers: {file: accounts.csv, rename: {AccountNo: customer_id}}

Keys per table: ``file`` (required), ``rename`` (original name to canonical name), ``timestamps``
(column to strptime format; canonical datetime columns without one are parsed as ISO 8601),
``encoding`` (CSV only, default utf-8) and ``sep`` (CSV only, default ``,``; tab for .tsv).

Every column that becomes a canonical text column (ids above all) is read as text, whatever it was
renamed from, so ``00007`` stays ``00007``. Timestamps with a UTC offset are converted to UTC; a
column that mixes values with and without an offset is refused (OPINIONS.md, "Timezone offsets in
files"). :func:`load_files` validates the dataset before returning it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from churnlab import config as C
from churnlab.errors import DataSourceError, SchemaError
from churnlab.schema import DATASET_KINDS, SCHEMAS, Dataset
from churnlab.schema import validate as validate_dataset
from churnlab.vocabulary import Vocabulary

__all__ = ["load_files", "read_config", "parse_churn_flag", "CHURN_VALUES", "DAYS_PER_MONTH"]

TABLE_KEYS = {"file", "rename", "timestamps", "encoding", "sep"}
TOP_KEYS = {"name", "as_of", "description", "kind", "churn", "tenure", "vocabulary", "tables"}

#: Churn-flag spellings by name: (churned values, active values), compared case-insensitively.
CHURN_VALUES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "yes/no": (("yes",), ("no",)),
    "1/0": (("1",), ("0",)),
    "true/false": (("true",), ("false",)),
    "churned/active": (("churned",), ("active",)),
}
#: Days per month when a snapshot's tenure is given in months (365.25 / 12), as for Telco.
DAYS_PER_MONTH = 30.4375
#: A time of day followed by a UTC offset or ``Z``: ``09:15+02:00``, ``09:15:00Z``, ``09:15:00.5 -0500``.
_OFFSET = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|UTC|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)
_SEPARATORS = (",", ";", "\t", "|")


def _fail(path: Path, message: str) -> DataSourceError:
    return DataSourceError(f"{path}: {message}")


def read_config(path: str | Path) -> dict[str, Any]:
    """Read and check a files config; raise :class:`DataSourceError` naming the offending key."""
    path = Path(path)
    if not path.is_file():
        raise _fail(path, "config file not found")
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise _fail(path, f"not a readable YAML file ({type(exc).__name__})") from exc
    if not isinstance(cfg, dict):
        raise _fail(path, f"expected a mapping with keys {sorted(TOP_KEYS)}")
    unknown = set(cfg) - TOP_KEYS
    if unknown:
        raise _fail(path, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(TOP_KEYS)}")
    for key in ("name", "tables"):
        if key not in cfg:
            raise _fail(path, f"missing key {key!r}")
    if not isinstance(cfg["tables"], dict) or not cfg["tables"]:
        raise _fail(path, "'tables' must map table names to file settings")
    for table, spec in cfg["tables"].items():
        if table not in SCHEMAS:
            raise _fail(path, f"unknown table {table!r}; canonical tables are {sorted(SCHEMAS)}")
        if not isinstance(spec, dict) or "file" not in spec:
            raise _fail(path, f"table {table!r} needs a 'file'")
        bad = set(spec) - TABLE_KEYS
        if bad:
            raise _fail(path, f"table {table!r} has unknown key(s) {sorted(bad)}; allowed: {sorted(TABLE_KEYS)}")
        for key in ("rename", "timestamps"):
            if spec.get(key) is not None and not isinstance(spec[key], dict):
                raise _fail(path, f"tables.{table}.{key} must map column names, found {spec[key]!r}")
    _check_snapshot_keys(path, cfg)
    try:
        Vocabulary.from_mapping(cfg.get("vocabulary"), where="vocabulary")
    except SchemaError as exc:
        raise _fail(path, str(exc)) from None
    return cfg


def _check_snapshot_keys(path: Path, cfg: dict[str, Any]) -> None:
    kind = cfg.get("kind")
    if kind is not None and kind not in DATASET_KINDS:
        raise _fail(path, f"kind {kind!r}; expected one of {list(DATASET_KINDS)}")
    for key, needed in (("churn", ("column",)), ("tenure", ("column", "unit"))):
        if key not in cfg:
            continue
        value = cfg[key]
        if not isinstance(value, dict) or any(k not in value for k in needed):
            raise _fail(path, f"{key} must be a mapping with {', '.join(needed)}, found {value!r}")
        if kind == "events":
            raise _fail(path, f"{key} applies to snapshots; this config says kind: events")
        if "customers" not in cfg["tables"]:
            raise _fail(path, f"{key} names a column of customers, but the config has no customers table")
    churn = cfg.get("churn") or {}
    values = churn.get("values", "auto")
    if churn and values != "auto" and values not in CHURN_VALUES:
        raise _fail(path, f"churn.values {values!r}; expected one of {[*CHURN_VALUES, 'auto']}")
    unit = (cfg.get("tenure") or {}).get("unit", "months")
    if unit not in ("months", "days"):
        raise _fail(path, f"tenure.unit {unit!r}; expected months or days")
    if (kind == "snapshot" or "churn" in cfg) and "as_of" not in cfg:
        raise _fail(path, "a snapshot needs as_of, the date its churn flag was observed")


def _text_columns(table: str, spec: dict[str, Any], extra: set[str]) -> set[str]:
    """Original names of the columns to read as text: canonical text columns (ids) and timestamps."""
    schema = SCHEMAS[table]
    wanted = {c.name for c in schema.columns if c.kind in ("string", "datetime")} | extra
    rename = spec.get("rename") or {}
    originals = {orig for orig, canonical in rename.items() if canonical in wanted}
    return originals | {c for c in wanted if c not in rename.values()} | set(spec.get("timestamps") or {})


def _encoding_hint(raw: bytes) -> str:
    for guess in ("cp1252", "latin-1"):
        try:
            raw.decode(guess)
        except UnicodeDecodeError:
            continue
        return f"it reads as {guess}: set encoding: {guess} in the config, or re-save it as UTF-8"
    return "re-save it as UTF-8 or set 'encoding' in the config"  # pragma: no cover - latin-1 decodes anything


def _read_csv(table: str, file: Path, spec: dict[str, Any], text: set[str]) -> pd.DataFrame:
    encoding = spec.get("encoding", "utf-8")
    sep = spec.get("sep", "\t" if file.suffix.lower() == ".tsv" else ",")
    read_as = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        df = pd.read_csv(file, encoding=read_as, sep=sep, dtype={c: str for c in text})
    except UnicodeDecodeError as exc:
        raise DataSourceError(
            f"{table}: file {file.name} is not valid {encoding} text (byte {exc.object[exc.start]:#x} at "
            f"offset {exc.start}); {_encoding_hint(file.read_bytes())}"
        ) from exc
    except LookupError as exc:
        raise DataSourceError(f"{table}: encoding {encoding!r} is unknown; try utf-8, cp1252 or latin-1") from exc
    except pd.errors.EmptyDataError as exc:
        raise DataSourceError(f"{table}: file {file.name} has no columns; expected a header and rows") from exc
    except (pd.errors.ParserError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataSourceError(
            f"{table}: file {file.name} does not parse as CSV with sep {sep!r} ({first}); check 'sep' and quoting"
        ) from exc
    if df.shape[1] == 1:
        header = str(df.columns[0])
        other = next((s for s in _SEPARATORS if s != sep and s in header), None)
        if other is not None:
            raise DataSourceError(
                f"{table}: file {file.name} reads as one column {header[:60]!r} with sep {sep!r}; it looks separated "
                f"by {other!r}: set sep: {other!r} in the config"
            )
    return df


def _read_file(table: str, file: Path, spec: dict[str, Any], text: set[str]) -> pd.DataFrame:
    if not file.is_file():
        raise DataSourceError(f"{table}: file {file} not found")
    if file.stat().st_size == 0:
        raise DataSourceError(f"{table}: file {file.name} is empty; expected a header and rows")
    suffix = file.suffix.lower()
    if suffix in (".parquet", ".pq"):
        try:
            df = pd.read_parquet(file)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several unrelated types for a bad file
            raise DataSourceError(f"{table}: file {file.name} is not a readable Parquet file ({exc})") from exc
        for col in text & set(df.columns):
            df[col] = _as_text(df[col])
    elif suffix in (".csv", ".txt", ".tsv"):
        df = _read_csv(table, file, spec, text)
    else:
        raise DataSourceError(f"{table}: file {file.name} has suffix {suffix!r}; expected .csv or .parquet")
    if df.empty:
        raise DataSourceError(f"{table}: file {file.name} has a header but no rows")
    return df


def _as_text(s: pd.Series) -> pd.Series:
    """Return a column as text; whole numbers stored as floats (ids with gaps) lose their ``.0``."""
    if pd.api.types.is_float_dtype(s.dtype) and (s.dropna() % 1 == 0).all():
        s = s.astype("Int64")
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s
    return s.astype("string")


def _parse_timestamps(table: str, df: pd.DataFrame, formats: dict[str, str]) -> pd.DataFrame:
    schema = SCHEMAS[table]
    targets = {c.name for c in schema.columns if c.kind == "datetime" and c.name in df.columns} | set(formats)
    for col in sorted(targets):
        if col not in df.columns:
            raise DataSourceError(f"{table}.{col}: a timestamp format is given but the column is missing")
        df[col] = _parse_column(table, col, df[col], formats.get(col))
    return df


def _parse_column(table: str, col: str, s: pd.Series, fmt: str | None) -> pd.Series:
    """Parse one timestamp column to timezone-naive UTC (OPINIONS.md, "Timezone offsets in files")."""
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s.dt.tz_convert("UTC").dt.tz_localize(None) if isinstance(s.dtype, pd.DatetimeTZDtype) else s
    text = s.astype("string").str.strip()
    if fmt is None:
        offset = text.str.contains(_OFFSET, na=False)
        naive = text.notna() & ~offset
        if offset.any() and naive.any():
            raise DataSourceError(
                f"{table}.{col}: {int(offset.sum())} value(s) carry a UTC offset and {int(naive.sum())} do not, "
                f"e.g. {text[offset].iloc[0]!r} and {text[naive].iloc[0]!r}; give every value an offset or none"
            )
        utc = bool(offset.any())
    else:
        utc = "%z" in fmt or "%Z" in fmt
    shown = fmt or "ISO8601"
    try:
        parsed = pd.to_datetime(text, format=shown, errors="coerce", utc=utc)
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise DataSourceError(f"{table}.{col}: values do not parse with format {shown!r} ({first})") from exc
    bad = parsed.isna() & text.notna()
    if bad.any():
        eg = ", ".join(repr(v) for v in text[bad].unique()[:3])
        raise DataSourceError(
            f"{table}.{col}: {int(bad.sum())} value(s) do not parse as timestamps with format {shown!r}, e.g. {eg}"
        )
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed


def parse_churn_flag(
    values: pd.Series, spelling: str = "auto", *, where: str, keys: pd.Series | None = None
) -> pd.Series:
    """Turn a churn-flag column (``Yes``/``No``, ``1``/``0``, ...) into booleans, refusing anything else.

    Parameters
    ----------
    values : Series
        The flag as read (text, numbers or booleans).
    spelling : {"auto", "yes/no", "1/0", "true/false", "churned/active"}
        How churned and active customers are written, compared case-insensitively; ``auto`` picks
        the one spelling that covers every value.
    where : str
        ``table.column`` for the messages.
    keys : Series, optional
        Row keys (customer ids) for the examples; default the row numbers.

    Returns
    -------
    Series of bool
        True for churned customers, same index as ``values``.

    Raises
    ------
    DataSourceError
        A missing flag, or a value outside the spelling, naming the values found and a few rows.

    Examples
    --------
    >>> parse_churn_flag(pd.Series(["Yes", "no", "YES"]), where="customers.Churn").tolist()
    [True, False, True]
    """
    keys = keys if keys is not None else pd.Series([f"row {i}" for i in range(1, len(values) + 1)], index=values.index)
    norm = values.astype("string").str.strip().str.lower()
    norm = norm.replace({"1.0": "1", "0.0": "0"})
    missing = norm.isna()
    if missing.any():
        eg = ", ".join(map(str, keys[missing].iloc[:3]))
        raise DataSourceError(f"{where}: the churn flag is missing in {int(missing.sum())} row(s), e.g. {eg}")
    if spelling == "auto":
        seen = set(norm)
        fits = [name for name, (yes, no) in CHURN_VALUES.items() if seen <= set(yes) | set(no)]
        spelling = fits[0] if fits else "yes/no"
        expected = f"one spelling of {', '.join(CHURN_VALUES)}"
    else:
        expected = spelling
    yes, no = CHURN_VALUES[spelling]
    bad = ~norm.isin([*yes, *no])
    if bad.any():
        found = ", ".join(repr(v) for v in values[bad].astype(str).unique()[:3])
        eg = ", ".join(map(str, keys[bad].iloc[:3]))
        raise DataSourceError(
            f"{where}: expected churn flag values {expected} (case-insensitive), found {found}; "
            f"{int(bad.sum())} rows, e.g. {eg}"
        )
    return norm.isin(yes).astype(bool)


def _original(column: str, df: pd.DataFrame, rename: dict[str, str], table: str, role: str) -> str:
    """Return the column's name in the renamed frame, whether the config names it before or after renaming."""
    if column in df.columns:
        return column
    if column in rename and rename[column] in df.columns:
        return rename[column]
    raise DataSourceError(f"{table}.{column}: the {role} column is missing; the table has {', '.join(df.columns)}")


def _snapshot_columns(cfg: dict[str, Any], customers: pd.DataFrame, rename: dict[str, str], as_of) -> pd.DataFrame:
    """Add ``churned`` (from the declared flag) and ``signup_at`` (from tenure) to a snapshot's customers."""
    customers = customers.copy()
    keys = customers[C.CUSTOMER_ID] if C.CUSTOMER_ID in customers.columns else None
    if "churn" in cfg:
        col = _original(str(cfg["churn"]["column"]), customers, rename, "customers", "churn flag")
        flag = parse_churn_flag(customers[col], cfg["churn"].get("values", "auto"), where=f"customers.{col}", keys=keys)
        customers = customers.drop(columns=[col]).assign(churned=flag.to_numpy())
    if "tenure" in cfg:
        col = _original(str(cfg["tenure"]["column"]), customers, rename, "customers", "tenure")
        if C.SIGNUP_AT in customers.columns:
            raise DataSourceError(f"customers.{col}: tenure is given but customers has a signup_at too; keep one")
        tenure = pd.to_numeric(customers[col], errors="coerce")
        bad = tenure.isna() | (tenure < 0)
        if bad.any():
            eg = ", ".join(repr(v) for v in customers.loc[bad, col].astype(str).unique()[:3])
            raise DataSourceError(f"customers.{col}: expected tenure numbers >= 0, found {eg}")
        days = tenure * (DAYS_PER_MONTH if cfg["tenure"].get("unit", "months") == "months" else 1.0)
        customers[C.SIGNUP_AT] = (pd.Timestamp(as_of) - pd.to_timedelta(days, unit="D")).dt.floor("D")
    return customers


def _as_of(path: Path, cfg: dict[str, Any], tables: dict[str, pd.DataFrame]) -> pd.Timestamp:
    if "as_of" in cfg:
        try:
            as_of = pd.Timestamp(cfg["as_of"])
        except (TypeError, ValueError) as exc:
            raise _fail(path, f"as_of {cfg['as_of']!r} is not a date") from exc
        return as_of.tz_convert("UTC").tz_localize(None) if as_of.tzinfo is not None else as_of
    stamps = [
        df[c].max() for df in tables.values() for c in df.columns if pd.api.types.is_datetime64_any_dtype(df[c].dtype)
    ]
    return max(stamps) if stamps else pd.Timestamp.now().normalize()


def load_files(config: str | Path, *, validate: bool = True) -> Dataset:  # noqa: C901 - one step per config key
    """Load a user's CSV/Parquet files as a canonical :class:`Dataset` described by a YAML config.

    Parameters
    ----------
    config : str or Path
        The YAML file (see the module docstring for its keys).
    validate : bool, default True
        Check the dataset with :func:`churnlab.schema.validate` and raise on any problem;
        ``False`` returns it as read (to inspect a broken export).

    Returns
    -------
    Dataset
        Tables renamed, text columns (ids) as strings, timestamps parsed to naive UTC; other
        columns exactly as read. ``as_of`` is the config's, or the latest timestamp found when it
        gives none. A snapshot's churn flag becomes the boolean ``customers.churned``. Declared
        vocabularies are in ``dataset.metadata["vocabulary"]``.

    Raises
    ------
    DataSourceError
        Missing or empty file, wrong encoding or separator (with a hint), unparseable or
        half-offset timestamps, a bad churn-flag value, unknown table or key.
    SchemaError
        When ``validate`` and the data breaks the schema: every problem, one per line.
    """
    config = Path(config)
    cfg = read_config(config)
    churn_column = {str(cfg["churn"]["column"])} if "churn" in cfg else set()
    tables: dict[str, pd.DataFrame] = {}
    for table, spec in cfg["tables"].items():
        rename = {str(k): str(v) for k, v in (spec.get("rename") or {}).items()}
        extra = churn_column if table == "customers" else set()
        df = _read_file(table, (config.parent / spec["file"]).resolve(), spec, _text_columns(table, spec, extra))
        absent = [c for c in rename if c not in df.columns]
        if absent:
            raise DataSourceError(
                f"{table}: rename names column {absent[0]!r} that file {spec['file']} lacks; it has "
                f"{', '.join(map(str, df.columns))}"
            )
        df = df.rename(columns=rename)
        for col in [c.name for c in SCHEMAS[table].columns if c.kind == "string" and c.name in df.columns]:
            df[col] = _as_text(df[col])
        tables[table] = _parse_timestamps(table, df, spec.get("timestamps") or {})
    as_of = _as_of(config, cfg, tables)
    kind = cfg.get("kind") or ("snapshot" if "churn" in cfg or set(tables) <= {"customers"} else "events")
    if kind == "snapshot" and "customers" in tables:
        rename = {str(k): str(v) for k, v in (cfg["tables"]["customers"].get("rename") or {}).items()}
        tables["customers"] = _snapshot_columns(cfg, tables["customers"], rename, as_of)
    declared = cfg.get("vocabulary") or {}
    dataset = Dataset(
        name=str(cfg["name"]),
        tables=tables,
        as_of=as_of,
        source=str(config.resolve()),
        kind=kind,
        description=str(cfg.get("description", "")),
        metadata={"vocabulary": declared} if declared else {},
    )
    if validate:
        validate_dataset(dataset).raise_if_failed()
    return dataset
