"""The canonical tables and the :class:`Dataset` that carries them (their validation: :mod:`churnlab.validation`).

Every source (synthetic world, public datasets, a user's files) produces the same tables, all keyed
by ``customer_id`` with timezone-naive UTC timestamps. A source provides the tables it has; a
function that needs a table says so with :meth:`Dataset.require` and fails with a message naming it.

Validation (:func:`churnlab.validation.validate`, also importable from here with :class:`Problem` and
:class:`ValidationReport`) never coerces: it reports every problem at once, one line each, naming the
table, the column, what was expected and a few offending keys, in pandas or in DuckDB for lazy tables.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.checks import Problem, ValidationReport
from churnlab.engine import columns_of, is_lazy
from churnlab.errors import DataSourceError, MissingTableError, SchemaError
from churnlab.vocabulary import Vocabulary

if TYPE_CHECKING:  # pragma: no cover - imported lazily below (validation imports this module)
    from churnlab.validation import validate

__all__ = [
    "Column",
    "TableSchema",
    "SCHEMAS",
    "Problem",
    "ValidationReport",
    "Dataset",
    "validate",
    "fingerprint",
    "require_columns",
]

KINDS = ("string", "datetime", "float", "int", "bool")
#: What a dataset is: time-stamped activity to build labels from, or one row per customer with a churn flag.
DATASET_KINDS = ("events", "snapshot")


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    Parameters
    ----------
    name : str
        Column name.
    kind : {"string", "datetime", "float", "int", "bool"}
        Expected dtype family; datetimes are timezone-naive (UTC by convention).
    nullable : bool
        Whether missing values are allowed.
    allowed : tuple, optional
        The only values allowed (missing values aside), fixed by churnlab itself.
    required : bool
        Whether a source must provide the column; optional columns are checked when present.
    vocabulary : str, optional
        The entry of the dataset's :class:`~churnlab.vocabulary.Vocabulary` its values must come from.
    min, max : float, optional
        Inclusive bounds of the values (OPINIONS.md, "Value ranges").
    scale : str, optional
        A vocabulary entry ``(low, high)`` that bounds the values (``csat_scale``).
    scheduled : bool
        A datetime that is a date agreed in advance (a contract's renewal), so it may lie after ``as_of``.
    """

    name: str
    kind: str
    nullable: bool = False
    allowed: tuple | None = None
    required: bool = True
    vocabulary: str | None = None
    min: float | None = None
    max: float | None = None
    scale: str | None = None
    scheduled: bool = False


@dataclass(frozen=True)
class TableSchema:
    """A canonical table: its columns, its key and which timestamps mark customer activity.

    ``activity`` columns must not precede the customer's ``signup_at``; every datetime column must
    not pass the dataset's ``as_of``, except a ``scheduled`` one (a date agreed in advance).
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    activity: tuple[str, ...] = ()

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        return next(c for c in self.columns if c.name == name)

    @property
    def required(self) -> list[str]:
        """Names of the columns every source must provide."""
        return [c.name for c in self.columns if c.required]


def _cols(*columns: Column) -> tuple[Column, ...]:
    return (Column(C.CUSTOMER_ID, "string"), *columns)


SCHEMAS: dict[str, TableSchema] = {
    s.name: s
    for s in [
        TableSchema(
            "customers",
            _cols(
                Column(C.SIGNUP_AT, "datetime"),
                Column(C.SEGMENT, "string", nullable=True, required=False, vocabulary="segments"),
                Column("plan", "string", nullable=True, required=False, vocabulary="plans"),
                Column("region", "string", nullable=True, required=False),
                Column("channel", "string", nullable=True, required=False),
                Column("monthly_fee", "float", nullable=True, required=False, min=0),
                Column("do_not_disturb", "bool", required=False),
                Column("account_manager", "string", nullable=True, required=False),
                Column("churned", "bool", required=False),
            ),
            key=(C.CUSTOMER_ID,),
        ),
        TableSchema(
            "subscriptions",
            _cols(
                Column("subscription_id", "string"),
                Column("start_at", "datetime"),
                Column("end_at", "datetime", nullable=True),
                Column("renewal_at", "datetime", nullable=True, required=False, scheduled=True),
                Column("billing_period_days", "float", nullable=True, required=False, min=1),
                Column("churn_reason", "string", nullable=True, vocabulary="churn_reasons"),
            ),
            key=("subscription_id",),
            activity=("start_at",),
        ),
        TableSchema(
            "payments",
            _cols(
                Column("payment_id", "string"),
                Column("due_at", "datetime"),
                Column("paid_at", "datetime", nullable=True),
                Column("amount", "float", min=0),
                Column("late", "bool"),
            ),
            key=("payment_id",),
            activity=("due_at",),
        ),
        TableSchema(
            "events",
            _cols(
                Column(C.TIMESTAMP, "datetime"),
                Column("event_type", "string"),
                Column("component", "string", nullable=True, required=False, vocabulary="components"),
                Column("amount", "float", nullable=True, required=False, min=0),
            ),
            activity=(C.TIMESTAMP,),
        ),
        TableSchema(
            "tickets",
            _cols(
                Column("ticket_id", "string"),
                Column("opened_at", "datetime"),
                Column("line", "int", vocabulary="ticket_lines"),
                Column("category", "string", vocabulary="ticket_categories"),
                Column("resolved_by_bot", "bool"),
                Column("first_contact_resolution", "bool"),
                Column("hours_to_resolve", "float", nullable=True, min=0),
                Column("csat", "float", nullable=True, scale="csat_scale"),
                Column("agent", "string", nullable=True, required=False),
                Column("first_response_hours", "float", nullable=True, required=False, min=0),
            ),
            key=("ticket_id",),
            activity=("opened_at",),
        ),
        TableSchema(
            "messages",
            _cols(
                Column("sent_at", "datetime"),
                Column("channel", "string", vocabulary="message_channels"),
                Column("kind", "string", allowed=C.MESSAGE_KINDS),
                Column("offer", "string", nullable=True, required=False),
                Column("opened", "bool"),
                Column("clicked", "bool"),
                Column("unsubscribed", "bool"),
                Column("redeemed", "bool", required=False),
            ),
            activity=("sent_at",),
        ),
        TableSchema(
            "contacts",
            _cols(
                Column("contacted_at", "datetime"),
                Column("kind", "string", allowed=C.CONTACT_KINDS),
                Column("reached", "bool"),
            ),
            activity=("contacted_at",),
        ),
        TableSchema(
            "surveys",
            _cols(
                Column("answered_at", "datetime"),
                Column("kind", "string", allowed=C.SURVEY_KINDS),
                Column("score", "float", nullable=True),
                Column("reason", "string", nullable=True, required=False),
            ),
            activity=("answered_at",),
        ),
        TableSchema(
            "funnel",
            _cols(
                Column("stage", "string", vocabulary="funnel_stages"),
                Column("reached_at", "datetime"),
            ),
            key=(C.CUSTOMER_ID, "stage"),
        ),
        # Campaigns: who was assigned to which arm of which experiment, and when (holdout arms included).
        # Arm names belong to the experiment (offers, "none" for the holdout), so no vocabulary is checked.
        TableSchema(
            "assignments",
            _cols(
                Column("experiment_id", "string"),
                Column("arm", "string"),
                Column("assigned_at", "datetime"),
            ),
            key=("experiment_id", C.CUSTOMER_ID),
            activity=("assigned_at",),
        ),
    ]
}


@dataclass
class Dataset:
    """The canonical tables a source provides, with what they are and when they were observed.

    Parameters
    ----------
    name : str
        Short name (``telco``, ``synthetic``, a files config's name).
    tables : dict of str to DataFrame or Path
        Canonical tables by name (see :data:`SCHEMAS`); extra columns are kept as they are. An
        event-level table may be a Parquet path (file, folder or glob) or a DuckDB relation instead of
        a frame: it stays where it lies, and label times, features and validation read it in DuckDB
        (:mod:`churnlab.lazy`). :meth:`frame` gives a pandas frame of it (some columns, some customers).
    as_of : Timestamp
        When the data was observed: nothing may be stamped after it.
    source : str
        Where the data comes from (package and file, generator and seed, config path).
    kind : {"events", "snapshot"}
        ``snapshot`` datasets (Telco, MLC) are one row per customer with a ``churned`` column in
        ``customers``; ``events`` datasets have time-stamped activity to build labels from.
    description : str
        One paragraph for reports.
    metadata : dict
        Anything else the source records, JSON-safe. ``metadata["vocabulary"]`` holds the
        vocabulary entries the source declares (see :meth:`vocabulary`); it survives
        :meth:`save` and :meth:`load`.
    """

    name: str
    tables: dict[str, pd.DataFrame | Path]
    as_of: pd.Timestamp
    source: str
    kind: str = "events"
    description: str = ""
    metadata: dict = field(default_factory=dict)
    #: (fingerprint, {table: file stamp}) recorded by :meth:`save` and read back by :meth:`load`.
    _stored: tuple | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.as_of = pd.Timestamp(self.as_of)
        unknown = sorted(set(self.tables) - set(SCHEMAS))
        if unknown:
            raise SchemaError(
                f"dataset {self.name!r}: unknown table(s) {unknown}; canonical tables are {sorted(SCHEMAS)}"
            )
        if self.kind not in DATASET_KINDS:
            raise SchemaError(f"dataset {self.name!r}: kind {self.kind!r}; expected one of {list(DATASET_KINDS)}")
        self.vocabularies  # noqa: B018 - a declared vocabulary that cannot be used fails here, at once

    def __repr__(self) -> str:
        def where(table: object) -> str:
            if not is_lazy(table):
                return ""
            return " (on disk)" if isinstance(table, (str, os.PathLike)) else " (in the engine)"

        sizes = ", ".join(f"{k}={self.rows(k):,}{where(v)}"
                          for k, v in self.tables.items())
        return f"Dataset({self.name!r}, as_of={self.as_of.date()}, {sizes})"

    @property
    def lazy_tables(self) -> tuple[str, ...]:
        """Names of the tables read where they lie (Parquet paths or DuckDB relations), not held in pandas."""
        return tuple(k for k, v in self.tables.items() if is_lazy(v))

    def rows(self, table: str) -> int:
        """Row count of ``table`` (a lazy table's from its Parquet footers, without reading it)."""
        from churnlab.lazy import row_count

        return row_count(self.require(table).tables[table])

    def frame(self, table: str, *, columns: Sequence[str] | None = None,
              customer_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Return ``table`` as a pandas frame (a lazy table is read in DuckDB: some columns, some customers).

        Parameters
        ----------
        table : str
            Canonical table name.
        columns : sequence of str, optional
            Only these columns.
        customer_ids : iterable of str, optional
            Only these customers' rows (filtered in the engine, so a lazy table is never loaded whole).
        """
        from churnlab.lazy import read_frame

        return read_frame(self.require(table).tables[table], table, columns=columns, customer_ids=customer_ids)

    def sample_customers(self, n: int, seed: int = 0) -> Dataset:
        """Return an in-memory dataset of ``n`` customers drawn at random (seeded), with all their rows in every table.

        Lazy tables are filtered in DuckDB; the sample keeps the name, ``as_of``, kind and metadata, and
        says in ``source`` that it is a sample. With ``n`` at least the number of customers, every
        table is read into pandas.

        Raises
        ------
        SchemaError
            For ``n`` below 1 or a dataset with no customers table.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise SchemaError(f"sample_customers: n must be a positive int; got {n!r}")
        customers = self.frame("customers")
        ids = customers[C.CUSTOMER_ID].astype(str).drop_duplicates()
        whole = int(n) >= len(ids)
        keep = ids if whole else ids.sample(int(n), random_state=np.random.RandomState(seed))
        tables = {}
        for name, table in self.tables.items():
            if whole:
                tables[name] = self.frame(name)
            elif C.CUSTOMER_ID not in columns_of(table, name):
                tables[name] = self.frame(name)
            else:
                tables[name] = self.frame(name, customer_ids=keep)
        source = self.source if whole else f"{self.source}; a sample of {len(keep):,} customers (seed {seed})"
        return Dataset(self.name, tables, self.as_of, source, self.kind, self.description, dict(self.metadata))

    def vocabulary(self, name: str) -> tuple:
        """Return the values the dataset declares for a vocabulary entry, in order (default: the synthetic world's).

        Parameters
        ----------
        name : str
            One of :data:`churnlab.vocabulary.VOCABULARY_NAMES`: ``segments``, ``plans``,
            ``funnel_stages`` (in funnel order), ``message_channels``, ``email_channels``,
            ``ticket_lines``, ``ticket_categories``, ``components``, ``churn_reasons``,
            ``csat_scale`` (``(low, high)``).

        Returns
        -------
        tuple

        Raises
        ------
        SchemaError
            For an unknown entry name, listing the known ones.

        Examples
        --------
        >>> ds = Dataset("x", {}, as_of="2024-06-30", source="doc",
        ...              metadata={"vocabulary": {"funnel_stages": ["visit", "demo_call", "signup"]}})
        >>> ds.vocabulary("funnel_stages")
        ('visit', 'demo_call', 'signup')
        >>> ds.vocabulary("segments")
        ('B2B', 'B2C')
        """
        return self.vocabularies.get(name)

    @property
    def vocabularies(self) -> Vocabulary:
        """Every vocabulary entry of the dataset: the declared ones over the synthetic world's defaults."""
        declared = (self.metadata or {}).get("vocabulary")
        return Vocabulary.from_mapping(declared, where=f"dataset {self.name!r} vocabulary")

    def __getitem__(self, table: str) -> pd.DataFrame:
        return self.require(table).tables[table]

    def __contains__(self, table: str) -> bool:
        return table in self.tables

    def require(self, *tables: str, by: str | None = None) -> Dataset:
        """Check the dataset provides ``tables`` and return it.

        Raises
        ------
        MissingTableError
            Naming the first missing table, who needs it and what the dataset has.
        """
        for t in tables:
            if t not in self.tables:
                needed = f" (needed by {by})" if by else ""
                raise MissingTableError(
                    f"dataset {self.name!r} has no table {t!r}{needed}; "
                    f"it provides: {', '.join(sorted(self.tables)) or 'nothing'}"
                )
        return self

    @property
    def fingerprint(self) -> str:
        """Content hash of the tables, independent of row and column order (see :func:`fingerprint`).

        Lazy tables are hashed batch by batch; a dataset loaded from a folder whose files are unchanged
        (same names and sizes) reuses the fingerprint :meth:`save` recorded.
        """
        from churnlab.lazy import file_stamp

        if self._stored is not None and self.lazy_tables:
            stored, stamps = self._stored
            if all(file_stamp(self.tables[t]) == stamps.get(t) for t in self.lazy_tables):
                return stored
        return fingerprint(self.tables)

    def save(self, folder: str | Path) -> Path:
        """Write each table as Parquet plus ``dataset.json`` (metadata and fingerprint).

        A lazy table is copied file to file (or written by DuckDB), never loaded into pandas.
        """
        from churnlab.lazy import copy_table

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, table in self.tables.items():
            copy_table(table, folder / f"{name}.parquet", name)
        return self.write_manifest(folder)

    def write_manifest(self, folder: str | Path, fingerprint: str | None = None) -> Path:
        """Write ``dataset.json`` for tables already written to ``folder`` as ``<table>.parquet``.

        Parameters
        ----------
        folder : str or Path
            Where the tables are.
        fingerprint : str, optional
            The tables' fingerprint when the writer computed it on the way (a streamed world);
            default :attr:`fingerprint`.
        """
        from churnlab.lazy import file_stamp

        folder = Path(folder)
        meta = {
            "name": self.name,
            "as_of": self.as_of.isoformat(),
            "source": self.source,
            "kind": self.kind,
            "description": self.description,
            "metadata": self.metadata,
            "tables": sorted(self.tables),
            "fingerprint": self.fingerprint if fingerprint is None else fingerprint,
            "files": {t: file_stamp(folder / f"{t}.parquet") for t in sorted(self.tables)},
        }
        (folder / "dataset.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, lazy: bool | str = "auto") -> Dataset:
        """Read a dataset written by :meth:`save` (or streamed by ``churnlab data generate``).

        Parameters
        ----------
        folder : str or Path
            The folder with ``dataset.json`` and one ``<table>.parquet`` per table.
        lazy : {"auto", True, False}
            ``"auto"``: an event-level table with more than :func:`churnlab.lazy.lazy_rows` rows stays
            on disk (read by DuckDB where it lies); ``True``: every event-level table stays on disk;
            ``False``: every table is read into pandas. ``customers`` and ``subscriptions`` (one or a
            few rows per customer) are always read into pandas.

        Raises
        ------
        DataSourceError
            When the folder holds no ``dataset.json``, or ``lazy`` is none of the above.
        """
        from churnlab.lazy import lazy_rows, row_count

        folder = Path(folder)
        meta_file = folder / "dataset.json"
        if not meta_file.is_file():
            raise DataSourceError(f"{folder}: no dataset.json; expected a folder written by Dataset.save")
        if lazy not in ("auto", True, False):
            raise DataSourceError(f"Dataset.load: lazy must be 'auto', True or False; got {lazy!r}")
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        tables: dict[str, pd.DataFrame | Path] = {}
        threshold = lazy_rows()
        for t in meta["tables"]:
            path = folder / f"{t}.parquet"
            if not path.is_file():
                raise DataSourceError(f"{folder}: dataset.json lists table {t!r} but {path.name} is not there")
            dimension = t in ("customers", "subscriptions")
            stays = not dimension and (lazy is True or (lazy == "auto"
                                                     and row_count(path) > threshold))
            tables[t] = path if stays else pd.read_parquet(path)
        stored = (meta["fingerprint"], meta["files"]) if "files" in meta and "fingerprint" in meta else None
        return cls(
            name=meta["name"],
            tables=tables,
            as_of=pd.Timestamp(meta["as_of"]),
            source=meta["source"],
            kind=meta.get("kind", "events"),
            description=meta.get("description", ""),
            metadata=meta.get("metadata", {}),
            _stored=stored,
        )


def fingerprint(tables: dict[str, pd.DataFrame]) -> str:
    """Stable content hash of a set of tables.

    Each row is hashed with :func:`pandas.util.hash_pandas_object` (columns in name order); a
    table's digest is the row count, the column names and dtypes, and the sum of its row hashes
    modulo 2**64, so it does not depend on row or column order but changes with any value. A lazy
    table (Parquet path) is hashed batch by batch and gives the same digest as its rows in memory.

    Parameters
    ----------
    tables : dict of str to DataFrame or Parquet path
        The tables to hash, by name.

    Returns
    -------
    str
        16 hexadecimal characters.

    Examples
    --------
    >>> a = pd.DataFrame({"customer_id": ["a", "b"], "x": [1, 2]})
    >>> fingerprint({"t": a}) == fingerprint({"t": a.iloc[::-1]})
    True
    """
    from churnlab.lazy import fingerprint_of, streamed_digest

    return fingerprint_of({name: streamed_digest(table, name) for name, table in tables.items()})


def require_columns(df: pd.DataFrame, columns: Iterable[str], *, table: str) -> None:
    """Raise :class:`SchemaError` naming the first of ``columns`` missing from ``df``.

    Examples
    --------
    >>> require_columns(pd.DataFrame({"a": [1]}), ["a", "b"], table="events")
    Traceback (most recent call last):
    ...
    churnlab.errors.SchemaError: events.b: missing column; the table has a
    """
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SchemaError(f"{table}.{missing[0]}: missing column; the table has {', '.join(map(str, df.columns))}")


def __getattr__(name: str):
    """``validate`` moved to :mod:`churnlab.validation`; ``from churnlab.schema import validate`` still works."""
    if name == "validate":
        from churnlab.validation import validate

        return validate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
