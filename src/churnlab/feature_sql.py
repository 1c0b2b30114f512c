"""The point-in-time feature families as hand-written DuckDB SQL (the default engine of :func:`build_features`).

Each family is one query of the same shape: the label rows ``keys (rid, code, cutoff, lo<d>)`` join the
family's rows on an integer customer code with a range condition on time, and aggregate per label
row::

    SELECT k.rid, count(*) FILTER (WHERE e.ts >= k.lo30), max(e.ts), ...
    FROM keys k JOIN (SELECT i.code, ... FROM <table> t JOIN ids i ON t.customer_id = i.customer_id) e
      ON k.code = e.code AND e.ts < k.cutoff
    GROUP BY k.rid

What makes it fast (issue 15, measured in ``benchmarks/features_bench.py``): customer ids are
encoded once as integers (the string join happens once per table row, not per pair); rows are grouped
by the label row's integer ``rid`` (not by ``customer_id, cutoff``) and come back in any order,
scattered into place with numpy (no merge); window bounds ``cutoff - w days`` are columns of the keys
(not interval arithmetic per joined pair); counts are ``count(*) FILTER``; event types are one query
each, so a filter is evaluated only on its own type's rows; distinct days and distinct components are
``bit_count(bit_or(1 << offset))`` (exact for any cutoff: a day's offset from the cutoff's date is
0..30 inside a 30-day window), not ``COUNT(DISTINCT ...)``. Tables are read where they lie
(:class:`churnlab.engine.Tables`): pandas frames in place, Parquet out of core.

Values are those of the ibis expressions of :mod:`churnlab.feature_exprs` (the path for other
backends) to the last bit: epoch seconds are taken from microseconds truncated as pandas truncates
(``epoch_ns // 1000``), and the derived ratios are the same IEEE operations in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.engine import Tables, sql_string
from churnlab.features import (
    ACTIVATION_DAYS,
    LOW_CSAT,
    OPEN_SETTLE_DAYS,
    REDEEM_SETTLE_DAYS,
    SLOW_TICKET_HOURS,
    FeatureVocabulary,
    feature_vocabulary,
)

__all__ = ["build_sql_features"]

_DAY = 86400.0
_EVENT_TYPES = (("session", "sessions"), ("purchase", "purchases"), ("export", "exports"))
#: More distinct components than this fall back to COUNT(DISTINCT ...) (a bit mask holds 64).
_MAX_MASK_BITS = 64


def _epoch(col: str, sql_type: str) -> str:
    """Epoch seconds (DOUBLE) of ``col`` from its microseconds truncated toward zero, as pandas truncates."""
    if sql_type.upper().startswith("TIMESTAMP_NS"):
        return f"((epoch_ns({col}) // 1000) / 1000000.0)"
    return f"(epoch_us({col}) / 1000000.0)"


def _filled(values, n: int, rid: np.ndarray) -> np.ndarray:
    out = np.full(n, np.nan)
    arr = np.ma.asarray(values).astype("float64").filled(np.nan)
    out[rid] = arr
    return out


class _Params:
    """Named query parameters: values from the data (categories, channels, stages) are bound, never quoted.

    Examples
    --------
    >>> p = _Params()
    >>> p.any_of("e.channel", ["email", "o'mail"]), p.values
    ('e.channel IN ($p0, $p1)', {'p0': 'email', 'p1': "o'mail"})
    """

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def __call__(self, value: object) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"${name}"

    def any_of(self, col: str, values: Sequence[object]) -> str:
        """``col IN ($p.., ...)``; FALSE for no values."""
        if not values:
            return "FALSE"
        return f"{col} IN ({', '.join(self(v) for v in values)})"


def _rate(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, NaN where the denominator is 0 or missing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


class _Engine:
    """The keys and ids of one :func:`build_sql_features` call on one connection."""

    def __init__(self, tables: Tables, rows: pd.DataFrame, include_cutoff: bool, days: Sequence[int],
                 ids: tuple | None = None) -> None:
        self.t, self.con, self.n = tables, tables.con, len(rows)
        codes, uniques = ids if ids is not None else pd.factorize(rows[C.CUSTOMER_ID], sort=False)
        cutoff = rows[C.CUTOFF].to_numpy("datetime64[ns]")
        keys = pd.DataFrame({"rid": np.arange(self.n, dtype=np.int32), "code": codes.astype(np.int32),
                             "cutoff": cutoff})
        self.days = sorted(set(days))
        for d in self.days:
            keys[f"lo{d}"] = cutoff - np.timedelta64(d, "D")
        ids = pd.DataFrame({"customer_id": np.asarray(uniques, dtype=object),
                            "code": np.arange(len(uniques), dtype=np.int32)})
        self.keys, self.ids = tables.view("keys", keys), tables.view("ids", ids)
        self.before = "<=" if include_cutoff else "<"
        # the cutoff's epoch seconds from its microseconds, as EPOCH(CAST(cutoff AS TIMESTAMP)) gives them
        self.cut_s = (cutoff.astype("int64") // 1000) / 1000000.0

    def encoded(self, name: str, table, columns: Sequence[str], where: str = "") -> str:
        """``SELECT i.code, <columns> FROM <table> JOIN ids`` (customers outside the label rows drop out)."""
        view = self.t.view(name, table)
        types = self.t.types(name, table)
        cid = "t.customer_id" if types[C.CUSTOMER_ID].upper() == "VARCHAR" else "CAST(t.customer_id AS VARCHAR)"
        cols = ", ".join(f"t.{c}" for c in columns)
        cond = f" WHERE {where}" if where else ""
        return f"SELECT i.code, {cols} FROM {view} t JOIN {self.ids} i ON {cid} = i.customer_id{cond}"

    def aggregate(self, name: str, table, columns: Sequence[str], ts: str, aggs: Mapping[str, str],
                  where: str = "", source: str | None = None, since_days: int | None = None,
                  params: _Params | None = None) -> dict[str, np.ndarray]:
        """Run one family query; return each aggregate as a float array aligned with the label rows.

        ``source`` replaces the encoded table rows by another query over them (``code, <ts>, ...``);
        ``since_days`` joins only rows stamped in the last that many days (a range on both sides);
        ``params`` binds the ``$p<i>`` placeholders of ``aggs`` and ``where``.
        """
        select = ", ".join(f"CAST({expr} AS DOUBLE) AS {alias}" for alias, expr in aggs.items())
        rows = source if source is not None else self.encoded(name, table, columns, where)
        lower = f" AND e.{ts} >= k.lo{since_days}" if since_days is not None else ""
        sql = (f"SELECT k.rid, {select} FROM {self.keys} k JOIN ({rows}) e "
               f"ON k.code = e.code AND e.{ts} {self.before} k.cutoff{lower} GROUP BY k.rid")
        res = self.con.execute(sql, params.values if params is not None and params.values else None).fetchnumpy()
        rid = np.asarray(res.pop("rid"))
        return {alias: _filled(res[alias], self.n, rid) for alias in aggs}

    def epoch(self, name: str, table, col: str) -> str:
        return _epoch(f"e.{col}", self.t.types(name, table)[col])

    def cut(self) -> str:
        return _epoch("k.cutoff", "TIMESTAMP_NS")

    def last(self, name: str, table, col: str, where: str = "", agg: str = "max") -> str:
        """Epoch seconds of ``agg(col)`` over the joined rows (the last one by default)."""
        last = f"{agg}(e.{col})" + (f" FILTER (WHERE {where})" if where else "")
        return _epoch(last, self.t.types(name, table)[col])

    def days_since(self, last_s: np.ndarray) -> np.ndarray:
        """Days from ``last_s`` (epoch seconds) to each cutoff, the same double operations as the ibis path."""
        return (self.cut_s - last_s) / _DAY


def _count(cond: str | None = None) -> str:
    return "count(*)" if cond is None else f"count(*) FILTER (WHERE {cond})"


def _events(eng: _Engine, events, windows: Sequence[int]) -> dict[str, np.ndarray]:
    eng.t.require("events", events, [C.CUSTOMER_ID, C.TIMESTAMP, "event_type"])
    types_of = eng.t.types("events", events)
    view = eng.t.view("events", events)
    present = {r[0] for r in eng.con.execute(f"SELECT DISTINCT event_type FROM {view}").fetchall()}
    ts = C.TIMESTAMP
    out: dict[str, np.ndarray] = {}
    lasts: dict[str, np.ndarray] = {}
    session: dict[str, np.ndarray] = {}
    for etype, plural in _EVENT_TYPES:
        if etype not in present:
            continue
        aggs = {f"{plural}_{w}d": _count(f"e.{ts} >= k.lo{w}") for w in windows}
        aggs["_last"] = eng.last("events", events, ts)
        cols = [ts]
        if etype == "session":
            aggs.update(_s30=_count(f"e.{ts} >= k.lo30"), _prev30=_count(f"e.{ts} >= k.lo60 AND e.{ts} < k.lo30"),
                        _s7=_count(f"e.{ts} >= k.lo7"), _s90=_count(f"e.{ts} >= k.lo90"),
                        # the argument is evaluated before the FILTER: offsets past the window are clamped
                        _days30=(f"coalesce(bit_count(bit_or(CAST(1 AS UBIGINT) << CAST(least(date_diff('day', "
                                 f"CAST(e.{ts} AS DATE), CAST(k.cutoff AS DATE)), 63) AS UBIGINT)) "
                                 f"FILTER (WHERE e.{ts} >= k.lo30)), 0)"))
        if etype == "purchase":
            aggs["purchases_total"] = _count()
            if "amount" in types_of:
                cols.append("amount")
                aggs["purchase_amount_total"] = "sum(e.amount)"
                aggs["purchase_amount_mean"] = "avg(e.amount)"
        got = eng.aggregate("events", events, cols, ts, aggs, where=f"t.event_type = {sql_string(etype)}")
        lasts[f"days_since_last_{etype}"] = eng.days_since(got.pop("_last"))
        if etype == "session":
            session = {k: got.pop(k) for k in ("_s30", "_prev30", "_s7", "_s90", "_days30")}
        out.update(got)
    if "component_use" in present and "component" in types_of:
        out.update(_components(eng, events))
    adopted = out.pop("components_adopted", None)
    recent = out.pop("_components_recent", None)
    if adopted is not None:
        out["components_adopted"] = adopted
    out.update(lasts)
    if session:
        pace = session["_s90"] * (7.0 / 90.0)
        ds = lasts["days_since_last_session"]
        out["session_trend_30d"] = session["_s30"] - session["_prev30"]
        out["session_ratio_7d_90d"] = _rate(session["_s7"], pace)
        with np.errstate(invalid="ignore"):
            out["recency_vs_rhythm"] = np.where(session["_s90"] > 0, ds * session["_s90"] / 90.0, np.nan)
        out["sessions_per_active_day_30d"] = _rate(session["_s30"], session["_days30"])
    if adopted is not None:
        out["components_stopped"] = adopted - recent
    return out


def _components(eng: _Engine, events) -> dict[str, np.ndarray]:
    """Components ever used and used in the last 30 days.

    Ever used = components whose first use is before the cutoff (one row per customer and component
    joined, not every use); used lately = distinct components among the uses of the last 30 days
    (only those uses joined), as a bit mask when there are at most 64 components.
    """
    view = eng.t.view("events", events)
    names = [r[0] for r in eng.con.execute(
        f"SELECT DISTINCT component FROM {view} WHERE event_type = 'component_use' AND component IS NOT NULL "
        "ORDER BY 1").fetchall()]
    where = "t.event_type = 'component_use' AND t.component IS NOT NULL"
    ts = C.TIMESTAMP
    uses = eng.encoded("events", events, [ts, "component"], where)
    first = f"SELECT code, component, min({ts}) AS {ts} FROM ({uses}) GROUP BY code, component"
    out = eng.aggregate("events", events, [], ts, {"components_adopted": _count()}, source=first)
    params = _Params()
    if len(names) <= _MAX_MASK_BITS:
        cases = " ".join(f"WHEN {params(c)} THEN {i}" for i, c in enumerate(names))
        recent = f"bit_count(bit_or(CAST(1 AS UBIGINT) << CAST(CASE e.component {cases} END AS UBIGINT)))"
    else:
        recent = "count(DISTINCT e.component)"
    got = eng.aggregate("events", events, [ts, "component"], ts, {"_components_recent": recent}, where=where,
                        since_days=30, params=params)
    # rows with uses but none in the last 30 days used no component lately
    out["_components_recent"] = np.where(np.isnan(got["_components_recent"]) & ~np.isnan(out["components_adopted"]),
                                         0.0, got["_components_recent"])
    return out


def _tickets(eng: _Engine, tickets, vocab: FeatureVocabulary) -> dict[str, np.ndarray]:
    cols = [C.CUSTOMER_ID, "opened_at", "category", "hours_to_resolve", "csat"]
    eng.t.require("tickets", tickets, cols)
    has_fcr = "first_contact_resolution" in eng.t.types("tickets", tickets)
    opened, cut = eng.epoch("tickets", tickets, "opened_at"), eng.cut()
    done = f"({opened} + e.hours_to_resolve * 3600.0)"
    resolved = f"(e.hours_to_resolve IS NOT NULL AND {done} <= {cut})"
    resolved90 = f"({resolved} AND {done} >= {cut} - {90 * _DAY})"
    w90, w30 = "e.opened_at >= k.lo90", "e.opened_at >= k.lo30"
    p = _Params()
    aggs = {"tickets_90d": _count(w90),
            **{f"tickets_{slug}_90d": _count(f"{w90} AND e.category = {p(cat)}")
               for slug, cat in vocab.ticket_categories}}
    if vocab.billing_category is not None:
        slug, cat = vocab.billing_category
        aggs[f"tickets_{slug}_30d"] = _count(f"{w30} AND e.category = {p(cat)}")
    aggs.update({"unresolved_tickets": _count(f"NOT {resolved}"),
                 "ticket_csat_mean": f"avg(e.csat) FILTER (WHERE {w90} AND {resolved} AND e.csat IS NOT NULL)"})
    if has_fcr:
        no_fcr = "(CAST(e.first_contact_resolution AS DOUBLE) = 0.0)"
        bad = (f"(({no_fcr} AND e.hours_to_resolve > {SLOW_TICKET_HOURS}) OR "
               f"(e.csat IS NOT NULL AND e.csat <= {LOW_CSAT}))")
        aggs["tickets_no_fcr_90d"] = _count(f"{resolved90} AND {no_fcr}")
        aggs["bad_tickets_90d"] = _count(f"{resolved90} AND {bad}")
        aggs["bad_tickets_30d"] = _count(f"{resolved} AND {done} >= {cut} - {30 * _DAY} AND {bad}")
    cols = cols[1:] + (["first_contact_resolution"] if has_fcr else [])
    return eng.aggregate("tickets", tickets, cols, "opened_at", aggs, params=p)


def _messages(eng: _Engine, messages, vocab: FeatureVocabulary) -> dict[str, np.ndarray]:
    cols = [C.CUSTOMER_ID, "sent_at", "channel", "kind", "opened", "unsubscribed"]
    eng.t.require("messages", messages, cols)
    has_redeemed = "redeemed" in eng.t.types("messages", messages)
    settled = f"NOT (e.sent_at >= k.lo{OPEN_SETTLE_DAYS})"
    p = _Params()
    # email-like channels are pooled into the email rates; every other channel gets its own open rate
    email = f"{p.any_of('e.channel', vocab.email_channels)} AND {settled}"
    others = {slug: f"e.channel = {p(channel)} AND {settled}" for slug, channel in vocab.other_channels}
    w = {d: f"e.sent_at >= k.lo{d}" for d in (14, 30, 90, 120)}
    prev = f"{w[120]} AND NOT ({w[30]})"
    opened = "coalesce(e.opened, false)"
    aggs: dict[str, str] = {}
    if vocab.email_channels:
        aggs.update({"_sent14": _count(f"{email} AND {w[14]}"), "_open14": _count(f"{email} AND {w[14]} AND {opened}"),
                     "_sent30": _count(f"{email} AND {w[30]}"), "_open30": _count(f"{email} AND {w[30]} AND {opened}"),
                     "_sent90": _count(f"{email} AND {w[90]}"), "_open90": _count(f"{email} AND {w[90]} AND {opened}")})
    for i, cond in enumerate(others.values()):
        aggs[f"_other{i}"] = _count(f"{cond} AND {w[30]}")
        aggs[f"_otheropen{i}"] = _count(f"{cond} AND {w[30]} AND {opened}")
    if vocab.email_channels:
        aggs.update({"_sentprev": _count(f"{email} AND {prev}"),
                     "_openprev": _count(f"{email} AND {prev} AND {opened}")})
    aggs.update({"unsubscribed": "max(CAST(coalesce(e.unsubscribed, false) AS DOUBLE))",
                 "unsubscribed_30d": f"max(CAST(coalesce(e.unsubscribed, false) AS DOUBLE)) FILTER (WHERE {w[30]})"})
    if has_redeemed:
        promo = f"e.kind = 'promo' AND {w[90]} AND NOT (e.sent_at >= k.lo{REDEEM_SETTLE_DAYS})"
        aggs["_promo90"] = _count(promo)
        aggs["_redeem90"] = _count(f"{promo} AND coalesce(e.redeemed, false)")
    got = eng.aggregate("messages", messages, cols[1:] + (["redeemed"] if has_redeemed else []), "sent_at", aggs,
                        params=p)
    out = {"unsubscribed": got["unsubscribed"], "unsubscribed_30d": got["unsubscribed_30d"]}
    if vocab.email_channels:
        rate30 = _rate(got["_open30"], got["_sent30"])
        out.update({"email_open_rate_14d": _rate(got["_open14"], got["_sent14"]), "email_open_rate_30d": rate30,
                    "email_open_rate_drop": _rate(got["_openprev"], got["_sentprev"]) - rate30,
                    "email_open_rate_90d": _rate(got["_open90"], got["_sent90"])})
    for i, slug in enumerate(others):
        out[f"{slug}_open_rate_30d"] = _rate(got[f"_otheropen{i}"], got[f"_other{i}"])
    if has_redeemed:
        out["promo_redeem_rate_90d"] = _rate(got["_redeem90"], got["_promo90"])
    return out


def _payments(eng: _Engine, payments) -> dict[str, np.ndarray]:
    eng.t.require("payments", payments, [C.CUSTOMER_ID, "due_at", "late"])
    w90, late = "e.due_at >= k.lo90", "coalesce(e.late, false)"
    if "paid_at" not in eng.t.types("payments", payments):
        return eng.aggregate("payments", payments, ["due_at", "late"], "due_at",
                             {"late_payments_90d": _count(f"{w90} AND {late}")})
    # a late payment is known once paid; an invoice still unpaid at the cutoff is overdue
    paid = f"(e.paid_at IS NOT NULL AND e.paid_at {eng.before} k.cutoff)"
    aggs = {"late_payments_90d": _count(f"{w90} AND {late} AND {paid}"), "overdue_invoices": _count(f"NOT {paid}"),
            "_oldest_unpaid": eng.last("payments", payments, "due_at", f"NOT {paid}", agg="min")}
    got = eng.aggregate("payments", payments, ["due_at", "late", "paid_at"], "due_at", aggs)
    # how long the oldest unpaid invoice has been due (0 when everything is paid)
    oldest = got.pop("_oldest_unpaid")
    got["days_overdue"] = np.where(np.isnan(oldest), 0.0, eng.days_since(oldest))
    return got


def _contacts(eng: _Engine, contacts) -> dict[str, np.ndarray]:
    eng.t.require("contacts", contacts, [C.CUSTOMER_ID, "contacted_at", "reached"])
    has_kind = "kind" in eng.t.types("contacts", contacts)
    reached = "coalesce(e.reached, false)"
    # only reached contacts count as contacts; an unanswered call is an attempt
    aggs = {"reached_contacts_90d": _count(f"{reached} AND e.contacted_at >= k.lo90")}
    if has_kind:
        # calls the account manager placed, answered or not: managers call customers they worry about
        aggs["manager_calls_30d"] = _count("e.kind = 'call' AND e.contacted_at >= k.lo30")
    aggs["_last"] = eng.last("contacts", contacts, "contacted_at", reached)
    got = eng.aggregate("contacts", contacts, ["contacted_at", "reached"] + (["kind"] if has_kind else []),
                        "contacted_at", aggs)
    got["days_since_last_contact"] = eng.days_since(got.pop("_last"))
    return got


def _surveys(eng: _Engine, surveys) -> dict[str, np.ndarray] | None:
    eng.t.require("surveys", surveys, [C.CUSTOMER_ID, "answered_at", "kind", "score"])
    view = eng.t.view("surveys", surveys)
    if not eng.con.execute(f"SELECT coalesce(bool_or(kind = 'nps'), false) FROM {view}").fetchone()[0]:
        return None
    nps, csat = "e.kind = 'nps' AND e.score IS NOT NULL", "e.kind = 'csat' AND e.score IS NOT NULL"
    aggs = {"last_nps": f"first(CAST(e.score AS DOUBLE) ORDER BY e.answered_at DESC) FILTER (WHERE {nps})",
            "last_csat": f"first(CAST(e.score AS DOUBLE) ORDER BY e.answered_at DESC) FILTER (WHERE {csat})",
            "_last": eng.last("surveys", surveys, "answered_at", nps)}
    got = eng.aggregate("surveys", surveys, ["answered_at", "kind", "score"], "answered_at", aggs)
    got["days_since_last_nps"] = eng.days_since(got.pop("_last"))
    return got


def _funnel(eng: _Engine, funnel, vocab: FeatureVocabulary) -> dict[str, np.ndarray] | None:
    eng.t.require("funnel", funnel, [C.CUSTOMER_ID, "stage", "reached_at"])
    if vocab.funnel is None:
        return None
    start, activation = vocab.funnel
    view = eng.t.view("funnel", funnel)
    if not eng.con.execute(f"SELECT coalesce(bool_or(stage = $a), false) FROM {view}",
                           {"a": activation}).fetchone()[0]:
        return None
    p = _Params()
    sql_type = eng.t.types("funnel", funnel)["reached_at"]
    signup = _epoch(f"min(e.reached_at) FILTER (WHERE e.stage = {p(start)})", sql_type)
    act = _epoch(f"min(e.reached_at) FILTER (WHERE e.stage = {p(activation)})", sql_type)
    quick = f"CASE WHEN {act} IS NOT NULL AND {signup} IS NOT NULL AND {act} - {signup} <= {ACTIVATION_DAYS * _DAY} " \
            "THEN 1.0 ELSE 0.0 END"
    return eng.aggregate("funnel", funnel, ["stage", "reached_at"], "reached_at", {"activated_14d": quick}, params=p)


#: Families that read the dataset's vocabulary (ticket categories, message channels, funnel stages).
_FAMILIES = (("tickets", _tickets, True), ("messages", _messages, True), ("payments", _payments, False),
             ("contacts", _contacts, False), ("surveys", _surveys, False), ("funnel", _funnel, True))


def build_sql_features(tables: Mapping[str, object], rows: pd.DataFrame, windows: Sequence[int], include_cutoff: bool,
                       con, ids: tuple | None = None,
                       vocabulary: FeatureVocabulary | None = None) -> dict[str, np.ndarray]:
    """Compute every event-level feature family the tables allow, with one DuckDB query per family.

    Parameters
    ----------
    tables : mapping of str to table
        Canonical tables (``events``, ``tickets``, ``messages``, ``payments``, ``contacts``, ``surveys``,
        ``funnel``), each a pandas frame, a Parquet path or a DuckDB relation on ``con``.
    rows : DataFrame
        The label rows ``customer_id`` (string), ``cutoff`` (datetime64[ns]), index 0..n-1.
    windows : sequence of int
        Day windows of the event counts.
    include_cutoff : bool
        Whether rows stamped exactly at the cutoff are observed.
    con : duckdb.DuckDBPyConnection
        Where the queries run.
    ids : (codes, uniques), optional
        ``pd.factorize(rows.customer_id)`` when the caller has it already.
    vocabulary : FeatureVocabulary, optional
        Ticket categories, message channels and funnel stages to filter on (default the synthetic
        world's, :func:`churnlab.features.feature_vocabulary`); their values are bound as query
        parameters.

    Returns
    -------
    dict of str to ndarray
        Feature name -> float64 values aligned with ``rows``, in the column order of
        :func:`churnlab.features.build_features`; NaN where a label row had no row of the family.
    """
    days = set(windows) | {7, 14, 30, 60, 90, 120, OPEN_SETTLE_DAYS, REDEEM_SETTLE_DAYS}
    eng = _Engine(Tables(con), rows, include_cutoff, sorted(days), ids)
    out: dict[str, np.ndarray] = {}
    if "events" in tables:
        out.update(_events(eng, tables["events"], windows))
    vocab = vocabulary if vocabulary is not None else feature_vocabulary()
    for name, family, reads_vocabulary in _FAMILIES:
        if name in tables:
            got = family(eng, tables[name], vocab) if reads_vocabulary else family(eng, tables[name])
            if got:
                out.update(got)
    return out
