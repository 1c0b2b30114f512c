"""Scaffold a files config from a folder of CSV/Parquet exports (``churnlab data init FOLDER``).

Each file is matched to a canonical table by its name and its columns; each column to a canonical
column by its name (a list of common spellings below); timestamp formats, separators, encodings,
a churn flag and the vocabularies are guessed from the values. The YAML written marks every guess
with a ``# review:`` comment and lists what could not be mapped, so an analyst reads it once,
corrects it and runs ``churnlab data validate``. Nothing is guessed silently.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from churnlab import config as C
from churnlab.data.files import CHURN_VALUES
from churnlab.errors import DataSourceError
from churnlab.schema import SCHEMAS
from churnlab.vocabulary import Vocabulary

__all__ = ["TableGuess", "Scaffold", "scaffold_config", "write_config", "SYNONYMS"]

#: Column spellings (lower case, letters and digits only) that map to each canonical column.
SYNONYMS: dict[str, tuple[str, ...]] = {
    C.CUSTOMER_ID: ("customerid", "custid", "clientid", "client", "customer", "userid", "user", "accountid",
                    "accountno", "accountnumber", "account", "memberid", "member", "subscriberid", "subscriber"),
    C.SIGNUP_AT: ("signupat", "signup", "signupdate", "signedup", "created", "createdat", "createddate", "joined",
                  "joindate", "joinedat", "registered", "registeredat", "registrationdate"),
    C.SEGMENT: ("segment", "seg", "customertype", "customersegment", "businesstype"),
    "plan": ("plan", "tier", "planname", "package", "subscriptiontype", "product"),
    "region": ("region", "country", "state", "area", "market"),
    "channel": ("channel", "acquisitionchannel", "signupchannel", "via", "medium"),
    "monthly_fee": ("monthlyfee", "fee", "monthlycharge", "monthlycharges", "mrr", "monthlyprice", "price",
                    "priceeur", "priceusd"),
    "subscription_id": ("subscriptionid", "subid", "sub", "contractid", "contractno", "contractnumber"),
    "start_at": ("startat", "start", "startdate", "since", "begin", "startedat"),
    "end_at": ("endat", "end", "enddate", "until", "cancelledat", "canceledat", "canceldate", "endedat"),
    "churn_reason": ("churnreason", "reason", "cancelreason", "cancellationreason", "why"),
    "payment_id": ("paymentid", "invoiceid", "invoice", "invoiceno", "transactionid"),
    "due_at": ("dueat", "due", "duedate"),
    "paid_at": ("paidat", "paid", "paiddate", "paymentdate"),
    "amount": ("amount", "total", "value", "revenue", "sum"),
    "late": ("late", "islate", "overdue", "paidlate"),
    C.TIMESTAMP: ("timestamp", "ts", "time", "eventtime", "at", "datetime", "occurredat", "eventdate", "date"),
    "event_type": ("eventtype", "event", "type", "action", "what", "activity"),
    "component": ("component", "feature", "module", "section", "area"),
    "ticket_id": ("ticketid", "ticket", "caseid", "case", "ticketno"),
    "opened_at": ("openedat", "opened", "createdat", "created", "openeddate"),
    "line": ("line", "supportline", "level", "tier"),
    "category": ("category", "topic", "issuetype"),
    "resolved_by_bot": ("resolvedbybot", "bot", "botresolved"),
    "first_contact_resolution": ("firstcontactresolution", "fcr"),
    "hours_to_resolve": ("hourstoresolve", "resolutionhours", "hours"),
    "csat": ("csat", "satisfaction", "rating"),
    "sent_at": ("sentat", "sent", "senddate", "sentdate"),
    "kind": ("kind", "type", "messagetype", "survey", "surveytype"),
    "offer": ("offer", "promo", "promotion"),
    "opened": ("opened", "isopened", "open"),
    "clicked": ("clicked", "isclicked", "click"),
    "unsubscribed": ("unsubscribed", "unsubscribe", "optout"),
    "redeemed": ("redeemed", "isredeemed"),
    "contacted_at": ("contactedat", "contacted", "calledat", "calldate", "contactdate"),
    "reached": ("reached", "answered", "connected"),
    "answered_at": ("answeredat", "respondedat", "answered", "responsedate", "surveydate"),
    "score": ("score", "rating", "nps", "npsscore"),
    "stage": ("stage", "step", "funnelstage", "status"),
    "reached_at": ("reachedat", "reached", "when", "stagedate"),
}
#: File-name words that point at a table.
TABLE_WORDS: dict[str, tuple[str, ...]] = {
    "customers": ("customer", "client", "user", "account", "member", "subscriber", "people", "contact_list"),
    "subscriptions": ("subscription", "contract", "sub", "membership"),
    "payments": ("payment", "invoice", "billing", "bill", "transaction", "charge"),
    "events": ("event", "activity", "log", "session", "usage", "view", "click", "play"),
    "tickets": ("ticket", "support", "case", "helpdesk"),
    "messages": ("message", "email", "newsletter", "campaign", "notification", "push"),
    "contacts": ("contact", "call"),
    "surveys": ("survey", "nps", "feedback", "review"),
    "funnel": ("funnel", "stage", "lead", "onboarding"),
    "assignments": ("assignment", "experiment", "holdout", "arm"),
}
CHURN_NAMES = ("churn", "churned", "exited", "left", "attrition", "ischurned", "churnflag", "cancelled", "canceled")
TENURE_NAMES = ("tenure", "tenuremonths", "monthsactive", "months", "accountlength", "tenuredays")
DATE_FORMATS = ("%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y", "%Y%m%d", "%d.%m.%Y %H:%M", "%d/%m/%Y %H:%M",
                "%m/%d/%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S")
SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")
_VOCABULARY_OF = {("customers", C.SEGMENT): "segments", ("customers", "plan"): "plans",
                  ("funnel", "stage"): "funnel_stages", ("events", "component"): "components",
                  ("subscriptions", "churn_reason"): "churn_reasons", ("tickets", "category"): "ticket_categories",
                  ("messages", "channel"): "message_channels"}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


@dataclass
class TableGuess:
    """What one file was taken for: its table, how to read it and which column maps where (with why)."""

    table: str
    file: str
    sep: str | None = None
    encoding: str | None = None
    rename: dict[str, str] = field(default_factory=dict)
    timestamps: dict[str, tuple[str, str]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


@dataclass
class Scaffold:
    """A guessed files config: the tables, the snapshot settings and what was left unmapped."""

    name: str
    folder: Path
    tables: list[TableGuess]
    as_of: str
    as_of_note: str
    kind: str
    churn: tuple[str, str] | None = None
    tenure: str | None = None
    vocabulary: dict[str, list] = field(default_factory=dict)
    unmatched_files: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """One line per thing the scaffold could not map: files, required columns, extra columns."""
        lines = [f"{f}: no canonical table recognised; not in the config" for f in self.unmatched_files]
        for t in self.tables:
            lines += [f"{t.table}.{c}: required column not found in {t.file}; add it under rename" for c in t.missing]
            if t.unmapped:
                lines.append(f"{t.table}: columns kept as they are (not canonical): {', '.join(t.unmapped)}")
        return lines

    def to_yaml(self) -> str:
        """Return the config as YAML text, every guess followed by a ``# review:`` comment."""
        q = json.dumps
        out = [
            f"# Files config scaffolded by `churnlab data init` from {self.folder} on {dt.date.today()}.",
            "# Every mapping below is a guess: check each line marked 'review', then run",
            "#   churnlab data validate <this file>",
            f"name: {q(self.name)}",
            f"as_of: {self.as_of}   # review: {self.as_of_note}",
        ]
        if self.kind == "snapshot":
            out.append("kind: snapshot   # review: one row per customer with a churn flag and no activity tables")
        if self.churn:
            out.append(f"churn: {{column: {q(self.churn[0])}, values: {q(self.churn[1])}}}   # review: the churn flag")
        if self.tenure:
            out.append(f"tenure: {{column: {q(self.tenure)}, unit: months}}   # review: months or days?")
        if self.vocabulary:
            out.append("vocabulary:   # review: values found in the data (default: the synthetic world's)")
            out += [f"  {k}: {q(v)}" for k, v in self.vocabulary.items()]
        out.append("tables:")
        for t in self.tables:
            out += [f"  {t.table}:", f"    file: {q(t.file)}"]
            if t.sep is not None:
                out.append(f"    sep: {q(t.sep)}   # review: separator sniffed from the header")
            if t.encoding is not None:
                out.append(f"    encoding: {q(t.encoding)}   # review: the file is not UTF-8")
            if t.rename:
                out.append("    rename:")
                out += [f"      {q(src)}: {dst}   # review: {t.notes[src]}" for src, dst in t.rename.items()]
            if t.timestamps:
                out.append("    timestamps:")
                out += [f"      {col}: {q(fmt)}   # review: {why}" for col, (fmt, why) in t.timestamps.items()]
            out += [f"    # not found: {c} (required)" for c in t.missing]
            if t.unmapped:
                out.append(f"    # kept as extra columns: {', '.join(t.unmapped)}")
        out += [f"# not matched to any table: {f}" for f in self.unmatched_files]
        return "\n".join(out) + "\n"


def _read(file: Path) -> tuple[pd.DataFrame, str | None, str | None]:
    """Read a file as text columns; return it with the separator and encoding when not the defaults."""
    if file.suffix.lower() in (".parquet", ".pq"):
        df = pd.read_parquet(file)
        text = {c: "string" for c in df.columns if not pd.api.types.is_datetime64_any_dtype(df[c])}
        return df.astype(text), None, None
    raw = file.read_bytes()
    encoding = None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        encoding = "cp1252"
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            encoding = "latin-1"
            text = raw.decode(encoding)
    header = text.splitlines()[0] if text else ""
    sep = max((",", ";", "\t", "|"), key=header.count)
    default = "\t" if file.suffix.lower() == ".tsv" else ","
    try:
        df = pd.read_csv(file, sep=sep, dtype=str, encoding=encoding or "utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataSourceError(f"{file.name}: does not read as CSV with sep {sep!r} ({first})") from exc
    return df, (None if sep == default else sep), encoding


def _guess_table(file: Path, columns: Iterable[str], taken: set[str]) -> tuple[str | None, int]:
    names = {_norm(c) for c in columns}
    stem = file.stem.lower()
    best, best_score = None, 0
    for table, schema in SCHEMAS.items():
        if table in taken:
            continue
        hits = sum(1 for c in schema.columns if _norm(c.name) in names or names & set(SYNONYMS.get(c.name, ())))
        score = hits + (3 if any(w in stem for w in TABLE_WORDS[table]) else 0)
        if score > best_score:
            best, best_score = table, score
    return (best, best_score) if best_score >= 3 else (None, best_score)


def _timestamp_format(values: pd.Series) -> tuple[str | None, str] | None:
    """Find the strptime format that parses every sampled value (None: ISO 8601), with why; None if none does."""
    sample = values.dropna().astype(str).str.strip().head(500)
    if sample.empty:
        return None
    if pd.to_datetime(sample, format="ISO8601", errors="coerce", utc=True).notna().all():
        return (None, "ISO 8601")
    fits = [f for f in DATE_FORMATS if pd.to_datetime(sample, format=f, errors="coerce").notna().all()]
    if not fits:
        return None
    why = f"all {len(sample)} sampled values parse with it"
    if any("%m/%d" in f for f in fits) and any("%d/%m" in f for f in fits):
        why += "; day and month are ambiguous, day first assumed"
        fits = [f for f in fits if "%m/%d" not in f]
    return (fits[0], why)


def _map_columns(guess: TableGuess, df: pd.DataFrame, skip: set[str], *, has_tenure: bool = False) -> None:
    schema = SCHEMAS[guess.table]
    used: set[str] = set(skip)
    for col in schema.columns:
        spellings = (_norm(col.name), *SYNONYMS.get(col.name, ()))
        if col.name == C.CUSTOMER_ID and guess.table == "customers":
            spellings = (*spellings, "id")
        source = next((c for s in spellings for c in df.columns if _norm(c) == s and c not in used), None)
        if source is None:
            if col.required and not (col.name == C.SIGNUP_AT and has_tenure):
                guess.missing.append(col.name)
            continue
        used.add(source)
        if source != col.name:
            guess.rename[source] = col.name
            guess.notes[source] = f"the name {source!r} looks like {col.name}"
        if col.kind == "datetime":
            found = _timestamp_format(df[source])
            if found is None:
                guess.timestamps[col.name] = ("ISO8601", "no known format parses these values: give the format")
            elif found[0] is not None:
                guess.timestamps[col.name] = (found[0], found[1])
    guess.unmapped = [str(c) for c in df.columns if c not in used]


def _churn_column(df: pd.DataFrame) -> tuple[str, str] | None:
    for c in df.columns:
        if _norm(c) in CHURN_NAMES:
            seen = set(df[c].dropna().astype(str).str.strip().str.lower())
            fits = [name for name, (yes, no) in CHURN_VALUES.items() if seen and seen <= {*yes, *no}]
            if fits:
                return (str(c), fits[0])
    return None


def _vocabulary(frames: dict[str, pd.DataFrame], tables: list[TableGuess]) -> dict[str, list]:
    """Vocabulary entries whose values in the data differ from the synthetic world's defaults."""
    defaults = Vocabulary()
    out: dict[str, list] = {}
    for t in tables:
        df = frames[t.table].rename(columns=t.rename)
        for (table, col), entry in _VOCABULARY_OF.items():
            if table != t.table or col not in df.columns:
                continue
            values = sorted(v for v in pd.unique(df[col].dropna().astype(str)) if v != "")
            if not 0 < len(values) <= 30 or set(values) <= set(defaults.get(entry)):
                continue
            if entry == "funnel_stages" and {C.CUSTOMER_ID, "reached_at"} <= set(df.columns):
                values = _stage_order(df)
            out[entry] = values
    return out


def _stage_order(funnel: pd.DataFrame) -> list[str]:
    """Stages by their mean rank in each customer's own sequence (first reached first)."""
    when = pd.to_datetime(funnel["reached_at"], format="ISO8601", errors="coerce", utc=True)
    f = funnel.assign(_when=when).dropna(subset=["_when"]).sort_values([C.CUSTOMER_ID, "_when"], kind="stable")
    rank = f.groupby(C.CUSTOMER_ID).cumcount()
    return list(rank.groupby(f["stage"].astype(str)).mean().sort_values(kind="stable").index)


def scaffold_config(folder: str | Path, *, name: str | None = None) -> Scaffold:
    """Guess a files config for the CSV/Parquet files of ``folder``.

    Parameters
    ----------
    folder : str or Path
        A folder of exports (``.csv``, ``.tsv``, ``.txt``, ``.parquet``); sub-folders are ignored.
    name : str, optional
        The dataset's name; default the folder's name.

    Returns
    -------
    Scaffold
        ``to_yaml()`` gives the config with every guess marked for review; ``problems()`` lists
        what could not be mapped.

    Raises
    ------
    DataSourceError
        When the folder does not exist or holds no data file, or a file cannot be read at all.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataSourceError(f"{folder}: not a folder; expected a folder of CSV or Parquet files")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not files:
        raise DataSourceError(f"{folder}: no .csv, .tsv or .parquet file found")
    read = {f: _read(f) for f in files}
    ranked = sorted(files, key=lambda f: -_guess_table(f, read[f][0].columns, set())[1])
    taken: set[str] = set()
    tables: list[TableGuess] = []
    frames: dict[str, pd.DataFrame] = {}
    unmatched: list[str] = []
    churn, tenure = None, None
    for f in ranked:
        df, sep, encoding = read[f]
        table, _ = _guess_table(f, df.columns, taken)
        if table is None:
            unmatched.append(f.name)
            continue
        taken.add(table)
        guess = TableGuess(table, f.name, sep, encoding)
        skip: set[str] = set()
        if table == "customers":
            churn = _churn_column(df)
            tenure = next((str(c) for c in df.columns if _norm(c) in TENURE_NAMES), None)
            skip = {c for c in (churn[0] if churn else None, tenure) if c}
        _map_columns(guess, df, skip, has_tenure=tenure is not None)
        if table == "customers" and C.SIGNUP_AT in {*guess.rename.values(), *df.columns}:
            tenure = None
        tables.append(guess)
        frames[table] = df
    order = list(SCHEMAS)
    tables.sort(key=lambda t: order.index(t.table))
    kind = "snapshot" if churn and set(taken) <= {"customers"} else "events"
    as_of, note = _as_of_guess(frames, tables)
    return Scaffold(name or folder.resolve().name, folder, tables, as_of, note, kind,
                    churn if kind == "snapshot" else None, tenure if kind == "snapshot" else None,
                    _vocabulary(frames, tables), unmatched)


def _as_of_guess(frames: dict[str, pd.DataFrame], tables: list[TableGuess]) -> tuple[str, str]:
    latest = []
    for t in tables:
        df = frames[t.table].rename(columns=t.rename)
        for col, (fmt, _why) in t.timestamps.items():
            if col in df.columns:
                latest.append(pd.to_datetime(df[col], format=fmt, errors="coerce").max())
        for c in SCHEMAS[t.table].columns:
            if c.kind == "datetime" and c.name in df.columns and c.name not in t.timestamps:
                latest.append(pd.to_datetime(df[c.name], format="ISO8601", errors="coerce", utc=True).max())
    latest = [pd.Timestamp(v).tz_localize(None) if pd.Timestamp(v).tzinfo else pd.Timestamp(v)
              for v in latest if pd.notna(v)]
    if latest:
        return str(max(latest).date() + dt.timedelta(days=1)), "the day after the latest timestamp found"
    return str(dt.date.today()), "no timestamp found: set the date the data was exported"


def write_config(scaffold: Scaffold, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``scaffold.to_yaml()`` to ``path`` atomically (a temporary file renamed into place).

    Raises
    ------
    DataSourceError
        When ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise DataSourceError(f"{path}: already exists; pass --force to replace it")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(scaffold.to_yaml(), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
