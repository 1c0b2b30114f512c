"""The point-in-time feature families as ibis expressions: the path for other ibis backends (PySpark).

:func:`churnlab.features.build_features` runs the hand-written DuckDB SQL of
:mod:`churnlab.feature_sql` by default; when it is given an ibis backend (``backend=``), the same
families are built here as ibis expressions and run on that backend. Each table is read where it
lives: an ibis table (``con.table("events")`` on Spark or a warehouse, ``con.read_parquet(path)``) is
used as it is, a Parquet path is read by the backend itself (``backend.read_parquet``), and only a
pandas frame is uploaded (``ibis.memtable``). The label-row keys go up as one small memtable and only
the feature columns come back. Both give the same values (``tests/test_features.py`` runs both on DuckDB;
``tests/test_spark_features.py`` runs these on local PySpark). On Spark, ``epoch_seconds`` is
``UNIX_TIMESTAMP`` (whole seconds): days-since features of timestamps with fractions of a second differ
from DuckDB's by less than a second.
OPINIONS.md, "Feature engine: hand-written DuckDB SQL, ibis for other backends".
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError, SchemaError
from churnlab.features import (
    ACTIVATION_DAYS,
    LOW_CSAT,
    OPEN_SETTLE_DAYS,
    REDEEM_SETTLE_DAYS,
    SLOW_TICKET_HOURS,
    FeatureVocabulary,
    feature_vocabulary,
)
from churnlab.lazy import ibis_backend_of, is_ibis_table, parquet_files
from churnlab.schema import require_columns

__all__ = ["build_ibis_features", "resolve_table", "ibis_columns"]

_DAY = 86400.0


def _ns(df: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """Copy of ``df`` with ``cols`` as microsecond datetimes and customer_id as str."""
    out = df.copy()
    for c in cols:
        out[c] = pd.to_datetime(out[c]).astype("datetime64[us]")
    out[C.CUSTOMER_ID] = out[C.CUSTOMER_ID].astype(str)
    return out


def resolve_table(table: object, name: str, backend):
    """Return ``table`` as the families read it, never loading an event table through pandas.

    A pandas frame is returned as is, an ibis table is used where it lives, and a Parquet path is read by
    ``backend`` itself (``backend.read_parquet``).

    Raises
    ------
    AnalysisError
        A DuckDB relation (it lives on a DuckDB connection, not on ``backend``), or an ibis table of
        another backend.
    """
    if isinstance(table, pd.DataFrame):
        return table
    if is_ibis_table(table):
        if ibis_backend_of(table) is not backend:
            raise AnalysisError(f"build_features: table {name!r} lives on another ibis backend than backend=; "
                                "pass the connection the tables were made on")
        return table
    if isinstance(table, (str, os.PathLike)):
        if getattr(backend, "name", "") == "duckdb":
            # ibis's DuckDB backend takes the list of files behind a folder or a glob
            return backend.read_parquet([str(f) for f in parquet_files(table)])
        # Spark (and the warehouses) read a file, a folder of part files or a glob by themselves
        return backend.read_parquet(str(table))
    raise AnalysisError(f"build_features: table {name!r} is a {type(table).__name__}; the ibis backend path reads "
                        "pandas frames, Parquet paths and ibis tables (leave backend=None to read a DuckDB relation)")


def ibis_columns(source, cols: Sequence[str], timestamps: Sequence[str], name: str,
                 casts: Mapping[str, str] | None = None):
    """Return ``cols`` of ``source`` as an ibis table: ids as strings, stamps as timestamps, ``casts`` applied.

    A pandas frame is converted in pandas and uploaded as an ``ibis.memtable``; an ibis table is converted
    with expressions where it lives. ``casts`` maps a column to ``"flag"`` (missing is False, as 0.0/1.0),
    ``"float"`` or ``"bool"``.
    """
    import ibis

    casts = dict(casts or {})
    if isinstance(source, pd.DataFrame):
        frame = _ns(source[list(cols)], timestamps)
        for c, kind in casts.items():
            if kind == "flag":
                frame[c] = frame[c].fillna(False).astype(bool).astype("float64")
            else:
                frame[c] = frame[c].astype("float64" if kind == "float" else bool)
        return ibis.memtable(frame)
    t = source.select(*cols)
    changes = {C.CUSTOMER_ID: t[C.CUSTOMER_ID].cast("string")}
    for c in timestamps:
        kind = t[c].type()
        if kind.is_integer():
            raise SchemaError(f"{name}.{c}: {kind} in the backend; expected a timestamp (Spark reads nanosecond "
                              "Parquet timestamps only as integers: write the files with microsecond timestamps)")
        if not kind.is_timestamp():
            changes[c] = t[c].cast("timestamp")
    for c, kind in casts.items():
        if kind == "flag":
            changes[c] = t[c].cast("boolean").fill_null(False).cast("float64")
        else:
            changes[c] = t[c].cast("float64" if kind == "float" else "boolean")
    return t.mutate(**changes)


def _distinct(source, column: str) -> set[str]:
    """Distinct non-missing values of ``column`` (computed in the backend for an ibis table)."""
    if isinstance(source, pd.DataFrame):
        return set(source[column].dropna().astype(str).unique())
    values = ibis_backend_of(source).to_pandas(source.select(column).distinct())[column]
    return set(values.dropna().astype(str))


def _any_equal(source, column: str, value: str) -> bool:
    """Whether any row of ``source`` has ``column == value`` (one aggregate in the backend for an ibis table)."""
    if isinstance(source, pd.DataFrame):
        return bool((source[column] == value).any())
    return bool(ibis_backend_of(source).execute((source[column] == value).any()))


def _joined(keys, table, ts: str, include_cutoff: bool, lookback_days: int | None = None):
    """Range-join ``table`` rows stamped before each cutoff to the keys (inside the engine)."""
    preds = [keys[C.CUSTOMER_ID] == table[C.CUSTOMER_ID],
             table[ts] <= keys[C.CUTOFF] if include_cutoff else table[ts] < keys[C.CUTOFF]]
    if lookback_days is not None:
        import ibis

        preds.append(table[ts] >= keys[C.CUTOFF] - ibis.interval(days=lookback_days))
    return keys.join(table, preds, how="inner")


def _in_window(j, ts: str, days: int):
    import ibis

    return j[ts] >= j[C.CUTOFF] - ibis.interval(days=days)


def _count(cond):
    return cond.ifelse(1, 0).sum().cast("float64")


def _rate(numerator, denominator):
    """``numerator / denominator``, null where the denominator is 0 (no opportunity: no rate)."""
    import ibis

    return (denominator > 0).ifelse(numerator / denominator, ibis.null("float64"))


def _days_since(last, cutoff):
    # as a double before dividing: Spark SQL reads the literal 86400.0 as a DECIMAL and would round
    return (cutoff.epoch_seconds() - last.epoch_seconds()).cast("float64") / _DAY


def _event_family(keys, tables: Mapping[str, pd.DataFrame], windows: Sequence[int], include_cutoff: bool):
    events = tables["events"]
    require_columns(events, [C.CUSTOMER_ID, C.TIMESTAMP, "event_type"], table="events")
    types = _distinct(events, "event_type")
    cols = [C.CUSTOMER_ID, C.TIMESTAMP, "event_type"] + [c for c in ("component", "amount") if c in events.columns]
    import ibis

    t = ibis_columns(events, cols, [C.TIMESTAMP], "events")
    j = _joined(keys, t, C.TIMESTAMP, include_cutoff)
    aggs, lasts = {}, {}
    for etype, plural in [("session", "sessions"), ("purchase", "purchases"), ("export", "exports")]:
        if etype not in types:
            continue
        is_type = j.event_type == etype
        for w in windows:
            aggs[f"{plural}_{w}d"] = _count(is_type & _in_window(j, C.TIMESTAMP, w))
        lasts[f"days_since_last_{etype}"] = j[C.TIMESTAMP].max(where=is_type)
        if etype == "session":
            aggs["_sessions_last30"] = _count(is_type & _in_window(j, C.TIMESTAMP, 30))
            prev30 = _in_window(j, C.TIMESTAMP, 60) & ~_in_window(j, C.TIMESTAMP, 30)
            aggs["_sessions_prev30"] = _count(is_type & prev30)
            aggs["_sessions_last7"] = _count(is_type & _in_window(j, C.TIMESTAMP, 7))
            aggs["_sessions_last90"] = _count(is_type & _in_window(j, C.TIMESTAMP, 90))
            aggs["_session_days30"] = j[C.TIMESTAMP].date().nunique(
                where=is_type & _in_window(j, C.TIMESTAMP, 30)).cast("float64")
        if etype == "purchase":
            aggs["purchases_total"] = _count(is_type)
            if "amount" in events.columns:
                aggs["purchase_amount_total"] = j.amount.sum(where=is_type).cast("float64")
                aggs["purchase_amount_mean"] = j.amount.mean(where=is_type).cast("float64")
    if "component_use" in types and "component" in events.columns:
        is_comp = (j.event_type == "component_use") & j.component.notnull()
        aggs["components_adopted"] = j.component.nunique(where=is_comp).cast("float64")
        aggs["_components_recent"] = j.component.nunique(where=is_comp & _in_window(j, C.TIMESTAMP, 30)).cast("float64")
    if not aggs and not lasts:
        return None
    g = j.group_by([C.CUSTOMER_ID, C.CUTOFF]).aggregate(**aggs, **{f"_last_{k}": v for k, v in lasts.items()})
    g = g.mutate(**{k: _days_since(g[f"_last_{k}"], g[C.CUTOFF]) for k in lasts})
    if "_sessions_last30" in aggs:
        pace = g._sessions_last90 * (7.0 / 90.0)
        g = g.mutate(session_trend_30d=g._sessions_last30 - g._sessions_prev30,
                     session_ratio_7d_90d=_rate(g._sessions_last7, pace),
                     recency_vs_rhythm=(g._sessions_last90 > 0).ifelse(
                         g.days_since_last_session * g._sessions_last90 / 90.0, ibis.null("float64")),
                     sessions_per_active_day_30d=_rate(g._sessions_last30, g._session_days30))
    if "components_adopted" in aggs:
        g = g.mutate(components_stopped=g.components_adopted - g._components_recent)
    return g.drop(*[c for c in g.columns if c.startswith("_")])


def _ticket_family(keys, tables: Mapping[str, pd.DataFrame], include_cutoff: bool, vocab: FeatureVocabulary):
    tickets = tables["tickets"]
    require_columns(tickets, [C.CUSTOMER_ID, "opened_at", "category", "hours_to_resolve", "csat"], table="tickets")
    cols = [C.CUSTOMER_ID, "opened_at", "category", "hours_to_resolve", "csat"]
    fcr = "first_contact_resolution" in tickets.columns
    t = ibis_columns(tickets, cols + (["first_contact_resolution"] if fcr else []), ["opened_at"], "tickets",
                {"first_contact_resolution": "float"} if fcr else None)
    j = _joined(keys, t, "opened_at", include_cutoff)
    resolved = j.hours_to_resolve.notnull() & (
        j.opened_at.epoch_seconds() + j.hours_to_resolve * 3600.0 <= j[C.CUTOFF].epoch_seconds()
    )
    w90 = _in_window(j, "opened_at", 90)
    # quality is known once the ticket is resolved: resolved in the last 90 days
    resolved_ts = j.opened_at.epoch_seconds() + j.hours_to_resolve * 3600.0
    resolved90 = resolved & (resolved_ts >= j[C.CUTOFF].epoch_seconds() - 90 * _DAY)
    aggs = {
        "tickets_90d": _count(w90),
        **{f"tickets_{slug}_90d": _count(w90 & (j.category == cat)) for slug, cat in vocab.ticket_categories},
    }
    if vocab.billing_category is not None:
        slug, cat = vocab.billing_category
        aggs[f"tickets_{slug}_30d"] = _count(_in_window(j, "opened_at", 30) & (j.category == cat))
    aggs["unresolved_tickets"] = _count(~resolved)
    aggs["ticket_csat_mean"] = j.csat.mean(where=w90 & resolved & j.csat.notnull()).cast("float64")
    if "first_contact_resolution" in tickets.columns:
        no_fcr = j.first_contact_resolution == 0.0
        slow = j.hours_to_resolve > SLOW_TICKET_HOURS
        low = j.csat.notnull() & (j.csat <= LOW_CSAT)
        aggs["tickets_no_fcr_90d"] = _count(resolved90 & no_fcr)
        bad = (no_fcr & slow) | low
        aggs["bad_tickets_90d"] = _count(resolved90 & bad)
        aggs["bad_tickets_30d"] = _count(resolved & (resolved_ts >= j[C.CUTOFF].epoch_seconds() - 30 * _DAY) & bad)
    return j.group_by([C.CUSTOMER_ID, C.CUTOFF]).aggregate(**aggs)


def _message_family(keys, tables: Mapping[str, pd.DataFrame], include_cutoff: bool, vocab: FeatureVocabulary):
    messages = tables["messages"]
    require_columns(messages, [C.CUSTOMER_ID, "sent_at", "channel", "kind", "opened", "unsubscribed"], table="messages")
    cols = [C.CUSTOMER_ID, "sent_at", "channel", "kind", "opened", "unsubscribed"]
    has_redeemed = "redeemed" in messages.columns
    if has_redeemed:
        cols.append("redeemed")
    flags = {c: "flag" for c in ("opened", "unsubscribed", "redeemed") if c in cols}
    t = ibis_columns(messages, cols, ["sent_at"], "messages", flags)
    j = _joined(keys, t, "sent_at", include_cutoff)
    # opens of emails sent in the last OPEN_SETTLE_DAYS are not known yet
    settled = ~_in_window(j, "sent_at", OPEN_SETTLE_DAYS)
    # email-like channels are pooled into the email rates; every other channel gets its own open rate
    email = j.channel.isin(list(vocab.email_channels)) & settled
    others = {slug: (j.channel == channel) & settled for slug, channel in vocab.other_channels}
    w14, w30, w90, w120 = (_in_window(j, "sent_at", d) for d in (14, 30, 90, 120))
    prev = w120 & ~w30
    aggs = {}
    if vocab.email_channels:
        aggs.update({"_sent14": _count(email & w14), "_open14": j.opened.sum(where=email & w14),
                     "_sent30": _count(email & w30), "_open30": j.opened.sum(where=email & w30),
                     "_sent90": _count(email & w90), "_open90": j.opened.sum(where=email & w90),
                     "_sentprev": _count(email & prev), "_openprev": j.opened.sum(where=email & prev)})
    for i, cond in enumerate(others.values()):
        aggs[f"_other{i}"] = _count(cond & w30)
        aggs[f"_otheropen{i}"] = j.opened.sum(where=cond & w30)
    aggs["unsubscribed"] = j.unsubscribed.max().cast("float64")
    aggs["unsubscribed_30d"] = j.unsubscribed.max(where=w30).cast("float64")
    if has_redeemed:
        promo90 = (j.kind == "promo") & _in_window(j, "sent_at", 90) & ~_in_window(j, "sent_at", REDEEM_SETTLE_DAYS)
        aggs["_promo90"] = _count(promo90)
        aggs["_redeem90"] = j.redeemed.sum(where=promo90)
    g = j.group_by([C.CUSTOMER_ID, C.CUTOFF]).aggregate(**aggs)
    if vocab.email_channels:
        rate30 = _rate(g._open30, g._sent30)
        g = g.mutate(email_open_rate_14d=_rate(g._open14, g._sent14), email_open_rate_30d=rate30,
                     email_open_rate_drop=_rate(g._openprev, g._sentprev) - rate30,
                     email_open_rate_90d=_rate(g._open90, g._sent90))
    if others:
        g = g.mutate(**{f"{slug}_open_rate_30d": _rate(g[f"_otheropen{i}"], g[f"_other{i}"])
                        for i, slug in enumerate(others)})
    if has_redeemed:
        g = g.mutate(promo_redeem_rate_90d=_rate(g._redeem90, g._promo90))
    return g.drop(*[c for c in g.columns if c.startswith("_")])


def _payment_family(keys, tables: Mapping[str, pd.DataFrame], include_cutoff: bool):
    payments = tables["payments"]
    require_columns(payments, [C.CUSTOMER_ID, "due_at", "late"], table="payments")
    cols = [C.CUSTOMER_ID, "due_at", "late"] + (["paid_at"] if "paid_at" in payments.columns else [])
    stamps = ["due_at"] + (["paid_at"] if "paid_at" in cols else [])
    t = ibis_columns(payments, cols, stamps, "payments", {"late": "bool"})
    j = _joined(keys, t, "due_at", include_cutoff)
    w90 = _in_window(j, "due_at", 90)
    if "paid_at" not in cols:
        return j.group_by([C.CUSTOMER_ID, C.CUTOFF]).aggregate(late_payments_90d=_count(w90 & j.late))
    # a late payment is known once paid; an invoice still unpaid at the cutoff is overdue
    paid = j.paid_at.notnull() & (j.paid_at <= j[C.CUTOFF] if include_cutoff else j.paid_at < j[C.CUTOFF])
    g = j.group_by([C.CUSTOMER_ID, C.CUTOFF]).aggregate(late_payments_90d=_count(w90 & j.late & paid),
                                                        overdue_invoices=_count(~paid),
                                                        _oldest_unpaid=j.due_at.min(where=~paid))
    # how long the oldest unpaid invoice has been due (0 when everything is paid)
    return g.mutate(days_overdue=_days_since(g._oldest_unpaid, g[C.CUTOFF]).fill_null(0.0)).drop("_oldest_unpaid")


def _contact_family(keys, tables: Mapping[str, pd.DataFrame], include_cutoff: bool):
    contacts = tables["contacts"]
    require_columns(contacts, [C.CUSTOMER_ID, "contacted_at", "reached"], table="contacts")
    has_kind = "kind" in contacts.columns
    t = ibis_columns(contacts, [C.CUSTOMER_ID, "contacted_at", "reached"] + (["kind"] if has_kind else []),
                ["contacted_at"], "contacts", {"reached": "bool"})
    j = _joined(keys, t, "contacted_at", include_cutoff)
    # only reached contacts count as contacts; an unanswered call is an attempt
    aggs = {"_last": j.contacted_at.max(where=j.reached),
            "reached_contacts_90d": _count(j.reached & _in_window(j, "contacted_at", 90))}
    if has_kind:
        # calls the account manager placed, answered or not: managers call customers they worry about
        aggs["manager_calls_30d"] = _count((j.kind == "call") & _in_window(j, "contacted_at", 30))
    g = j.group_by([C.CUSTOMER_ID, C.CUTOFF]).aggregate(**aggs)
    return g.mutate(days_since_last_contact=_days_since(g._last, g[C.CUTOFF])).drop("_last")


def _survey_family(keys, tables: Mapping[str, pd.DataFrame], include_cutoff: bool):
    surveys = tables["surveys"]
    require_columns(surveys, [C.CUSTOMER_ID, "answered_at", "kind", "score"], table="surveys")
    if not _any_equal(surveys, "kind", "nps"):
        return None
    t = ibis_columns(surveys, [C.CUSTOMER_ID, "answered_at", "kind", "score"], ["answered_at"], "surveys",
                {"score": "float"})
    j = _joined(keys, t, "answered_at", include_cutoff)
    is_nps = (j.kind == "nps") & j.score.notnull()
    is_csat = (j.kind == "csat") & j.score.notnull()
    g = j.group_by([C.CUSTOMER_ID, C.CUTOFF]).aggregate(
        last_nps=j.score.argmax(j.answered_at, where=is_nps),
        last_csat=j.score.argmax(j.answered_at, where=is_csat),
        _last_nps_at=j.answered_at.max(where=is_nps),
    )
    return g.mutate(days_since_last_nps=_days_since(g._last_nps_at, g[C.CUTOFF])).drop("_last_nps_at")


def _funnel_family(keys, tables: Mapping[str, pd.DataFrame], include_cutoff: bool, vocab: FeatureVocabulary):
    funnel = tables["funnel"]
    require_columns(funnel, [C.CUSTOMER_ID, "stage", "reached_at"], table="funnel")
    if vocab.funnel is None:
        return None
    start, activation = vocab.funnel
    if not _any_equal(funnel, "stage", activation):
        return None
    t = ibis_columns(funnel, [C.CUSTOMER_ID, "stage", "reached_at"], ["reached_at"], "funnel")
    j = _joined(keys, t, "reached_at", include_cutoff)
    g = j.group_by([C.CUSTOMER_ID, C.CUTOFF]).aggregate(
        _signup=j.reached_at.min(where=j.stage == start), _act=j.reached_at.min(where=j.stage == activation))
    quick = g._act.notnull() & g._signup.notnull() & (
        g._act.epoch_seconds() - g._signup.epoch_seconds() <= ACTIVATION_DAYS * _DAY)
    return g.mutate(activated_14d=quick.ifelse(1.0, 0.0)).drop("_signup", "_act")



#: Families that read the dataset's vocabulary (ticket categories, message channels, funnel stages).
_FAMILIES = (("tickets", _ticket_family, True), ("messages", _message_family, True),
             ("payments", _payment_family, False), ("contacts", _contact_family, False),
             ("surveys", _survey_family, False), ("funnel", _funnel_family, True))


def build_ibis_features(tables: Mapping[str, pd.DataFrame], rows: pd.DataFrame, windows: Sequence[int],
                        include_cutoff: bool, backend,
                        vocabulary: FeatureVocabulary | None = None) -> dict[str, np.ndarray]:
    """Compute every event-level feature family the tables allow as ibis expressions on ``backend``.

    Parameters
    ----------
    tables : mapping of str to DataFrame, Parquet path or ibis table
        Canonical event-level tables: an ibis table of ``backend`` is used where it lives, a Parquet path
        (file, folder or glob) is read by ``backend.read_parquet``, a pandas frame is uploaded as a memtable.
    rows : DataFrame
        The label rows ``customer_id`` (string), ``cutoff`` (datetime64[ns]), index 0..n-1.
    windows : sequence of int
        Day windows of the event counts.
    include_cutoff : bool
        Whether rows stamped exactly at the cutoff are observed.
    backend : ibis backend
        Where the expressions run (``ibis.duckdb.connect()``, ``ibis.pyspark.connect(session)``).
    vocabulary : FeatureVocabulary, optional
        Ticket categories, message channels and funnel stages (default the synthetic world's).

    Returns
    -------
    dict of str to ndarray
        Feature name -> float64 values aligned with ``rows`` (see :func:`churnlab.feature_sql.build_sql_features`).

    Raises
    ------
    AnalysisError
        A DuckDB relation (read it with the default DuckDB engine) or an ibis table of another backend.
    SchemaError
        A table lacks a column its family needs, or stores a timestamp as an integer.
    """
    import ibis

    tables = {name: resolve_table(t, name, backend) for name, t in tables.items()}
    keys_frame = rows.assign(**{C.CUSTOMER_ID: rows[C.CUSTOMER_ID].astype(str),
                                C.CUTOFF: rows[C.CUTOFF].astype("datetime64[us]")})
    keys = ibis.memtable(keys_frame)
    exprs = []
    if "events" in tables:
        exprs.append(_event_family(keys, tables, windows, include_cutoff))
    vocab = vocabulary if vocabulary is not None else feature_vocabulary()
    for table, fn, reads_vocabulary in _FAMILIES:
        if table in tables:
            args = (keys, tables, include_cutoff) + ((vocab,) if reads_vocabulary else ())
            exprs.append(fn(*args))
    join_keys = keys_frame[[C.CUSTOMER_ID, C.CUTOFF]]
    out: dict[str, np.ndarray] = {}
    for expr in exprs:
        if expr is None:
            continue
        part = backend.to_pandas(expr)
        part[C.CUTOFF] = pd.to_datetime(part[C.CUTOFF]).astype("datetime64[us]")
        part[C.CUSTOMER_ID] = part[C.CUSTOMER_ID].astype(str)
        merged = join_keys.merge(part, on=[C.CUSTOMER_ID, C.CUTOFF], how="left", validate="one_to_one")
        for col in merged.columns.drop([C.CUSTOMER_ID, C.CUTOFF]):
            out[col] = pd.to_numeric(merged[col], errors="coerce").astype("float64").to_numpy()
    return out
