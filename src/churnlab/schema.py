"""The canonical tables, the :class:`Dataset` that carries them, and their validation.

Every source (synthetic world, public datasets, a user's files) produces the same tables, all keyed
by ``customer_id`` with timezone-naive UTC timestamps. A source provides the tables it has; a
function that needs a table says so with :meth:`Dataset.require` and fails with a message naming it.

Validation never coerces: it reports every problem at once, one line each, naming the table, the
column, what was expected and a few offending keys.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.checks import Problem, ValidationReport, check_column, check_survey_scores, row_keys
from churnlab.checks import examples as _examples
from churnlab.checks import kind_of as _kind_of
from churnlab.errors import DataSourceError, MissingTableError, SchemaError
from churnlab.vocabulary import Vocabulary

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
    tables : dict of str to DataFrame
        Canonical tables by name (see :data:`SCHEMAS`); extra columns are kept as they are.
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
    tables: dict[str, pd.DataFrame]
    as_of: pd.Timestamp
    source: str
    kind: str = "events"
    description: str = ""
    metadata: dict = field(default_factory=dict)

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
        sizes = ", ".join(f"{k}={len(v):,}" for k, v in self.tables.items())
        return f"Dataset({self.name!r}, as_of={self.as_of.date()}, {sizes})"

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
        """Content hash of the tables, independent of row and column order (see :func:`fingerprint`)."""
        return fingerprint(self.tables)

    def save(self, folder: str | Path) -> Path:
        """Write each table as Parquet plus ``dataset.json`` (metadata and fingerprint)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, df in self.tables.items():
            df.to_parquet(folder / f"{name}.parquet", index=False)
        meta = {
            "name": self.name,
            "as_of": self.as_of.isoformat(),
            "source": self.source,
            "kind": self.kind,
            "description": self.description,
            "metadata": self.metadata,
            "tables": sorted(self.tables),
            "fingerprint": self.fingerprint,
        }
        (folder / "dataset.json").write_text(json.dumps(meta, indent=2, default=str), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Dataset:
        """Read a dataset written by :meth:`save`."""
        folder = Path(folder)
        meta_file = folder / "dataset.json"
        if not meta_file.is_file():
            raise DataSourceError(f"{folder}: no dataset.json; expected a folder written by Dataset.save")
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        tables = {t: pd.read_parquet(folder / f"{t}.parquet") for t in meta["tables"]}
        return cls(
            name=meta["name"],
            tables=tables,
            as_of=pd.Timestamp(meta["as_of"]),
            source=meta["source"],
            kind=meta.get("kind", "events"),
            description=meta.get("description", ""),
            metadata=meta.get("metadata", {}),
        )


def fingerprint(tables: dict[str, pd.DataFrame]) -> str:
    """Stable content hash of a set of tables.

    Each row is hashed with :func:`pandas.util.hash_pandas_object` (columns in name order); a
    table's digest is the row count, the column names and dtypes, and the sum of its row hashes
    modulo 2**64, so it does not depend on row or column order but changes with any value.

    Parameters
    ----------
    tables : dict of str to DataFrame
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
    h = hashlib.sha256()
    for name in sorted(tables):
        df = tables[name]
        cols = sorted(df.columns)
        ordered = df[cols]
        if len(ordered):
            rows = pd.util.hash_pandas_object(ordered, index=False).to_numpy(dtype=np.uint64)
            total = int(rows.sum(dtype=np.uint64))
        else:
            total = 0
        dtypes = [f"{c}:{_kind_of(df[c])}" for c in cols]
        h.update(f"{name}|{len(df)}|{','.join(dtypes)}|{total}\n".encode())
    return h.hexdigest()[:16]


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


def _check_table(
    name: str, df: pd.DataFrame, as_of: pd.Timestamp, vocabulary: Vocabulary | None = None
) -> list[Problem]:
    schema = SCHEMAS[name]
    vocabulary = vocabulary or Vocabulary()
    if len(df) == 0:
        return [Problem(name, None, "at least one row; the table is empty")]
    problems: list[Problem] = []
    keys = row_keys(df)
    for col in schema.columns:
        if col.name in df.columns:
            problems.extend(check_column(name, col, df[col.name], keys, as_of, vocabulary))
        elif col.required:
            problems.append(Problem(name, col.name, f"a column of {col.kind} values; it is missing"))
    if name == "surveys":
        problems.extend(check_survey_scores(df, keys, vocabulary))
    if schema.key and all(k in df.columns for k in schema.key):
        dup = df.duplicated(list(schema.key), keep=False)
        if dup.any():
            dup_keys = df.loc[dup, list(schema.key)].astype(str).agg("/".join, axis=1)
            key = "/".join(schema.key)
            problems.append(Problem(name, key, "unique key values", int(dup.sum()), _examples(dup_keys)))
    return problems


def _check_against_customers(name: str, df: pd.DataFrame, customers: pd.DataFrame) -> list[Problem]:
    schema = SCHEMAS[name]
    if C.CUSTOMER_ID not in df.columns or not len(df):
        return []
    signup = customers.drop_duplicates(C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)[C.SIGNUP_AT]
    their_signup = df[C.CUSTOMER_ID].map(signup)
    problems = []
    unknown = their_signup.isna() & df[C.CUSTOMER_ID].notna()
    if name != "funnel" and unknown.any():
        problems.append(
            Problem(
                name,
                C.CUSTOMER_ID,
                "ids present in customers",
                int(unknown.sum()),
                _examples(df.loc[unknown, C.CUSTOMER_ID]),
            )
        )
    for col in schema.activity:
        if col in df.columns and _kind_of(df[col]) == "datetime":
            early = df[col] < their_signup
            if early.any():
                problems.append(
                    Problem(
                        name,
                        col,
                        "no activity before the customer's signup_at",
                        int(early.sum()),
                        _examples(df.loc[early, C.CUSTOMER_ID]),
                    )
                )
    return problems


def validate(dataset: Dataset, *, needs: Sequence[str] = ()) -> ValidationReport:
    """Check every table of ``dataset`` against its canonical schema and report all problems.

    Checks: required columns present, dtype families, missing values in non-nullable columns,
    allowed values, key uniqueness, timestamps not after ``as_of``, activity not before the
    customer's signup, customer ids known to ``customers``, and that tables in ``needs`` exist.

    Parameters
    ----------
    dataset : Dataset
        The dataset to check.
    needs : sequence of str
        Tables the caller needs; each missing one is a problem.

    Returns
    -------
    ValidationReport
        ``report.ok`` is True when nothing was found; ``str(report)`` lists one problem per line.
    """
    problems: list[Problem] = []
    for t in needs:
        if t not in dataset.tables:
            problems.append(
                Problem(t, None, f"table {t!r} to be provided; the dataset has {', '.join(sorted(dataset.tables))}")
            )
    if "customers" not in dataset.tables:
        problems.append(Problem("customers", None, "a customers table; every dataset needs one"))
    vocabulary = dataset.vocabularies
    if dataset.kind == "snapshot" and "customers" in dataset.tables and "churned" not in dataset["customers"].columns:
        problems.append(Problem("customers", "churned", "a churn flag in a snapshot dataset; it is missing "
                                "(a files config declares it with churn: {column: ...})"))
    for name, df in dataset.tables.items():
        problems.extend(_check_table(name, df, dataset.as_of, vocabulary))
    customers = dataset.tables.get("customers")
    if (
        customers is not None
        and {C.CUSTOMER_ID, C.SIGNUP_AT} <= set(customers.columns)
        and (_kind_of(customers[C.SIGNUP_AT]) == "datetime")
    ):
        for name, df in dataset.tables.items():
            if name != "customers":
                problems.extend(_check_against_customers(name, df, customers))
    return ValidationReport(dataset.name, tuple(problems))
