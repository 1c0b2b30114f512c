"""Point-in-time features: what was known about each customer at each cutoff.

Every feature of a row (``customer_id``, ``cutoff``) is computed from data stamped strictly before the
cutoff (``<=`` when ``include_cutoff``). Event-level work is written once as ibis expressions and runs
on DuckDB by default (``ibis.duckdb.connect()``); the same expressions run on another ibis backend
(PySpark) when passed as ``backend``. Events are joined to cutoffs with an equality on the customer
and a range condition on time inside the engine, never by materialising all pairs (FIELD_NOTES,
"Point-in-time features").

Each family is computed only when its table exists; the columns are listed in
:data:`FEATURE_DESCRIPTIONS` (a plain-word template per feature, used by reason codes and by the
risk rules of :mod:`churnlab.patterns`, which share these names).

Windows: a ``w``-day window is ``cutoff - w days <= timestamp < cutoff``. "Days since" features of a
customer who never had the event count from signup (they equal ``tenure_days``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.labels import LabelTimes, population
from churnlab.schema import SCHEMAS, Dataset, require_columns

__all__ = ["build_features", "feature_families", "describe_feature", "FEATURE_DESCRIPTIONS", "KEY_COLUMNS",
           "CATEGORICAL_FEATURES"]

#: The grain of every feature frame.
KEY_COLUMNS = (C.CUSTOMER_ID, C.CUTOFF)

#: Customer attributes returned as strings (a model treats them as categories).
CATEGORICAL_FEATURES = ("plan", "segment", "region", "channel")

_DAY = 86400.0

#: A ticket resolved after more than this many hours is slow; a CSAT at or below LOW_CSAT is low.
#: With "not solved at first contact" they define a bad support experience (``bad_tickets_90d``).
SLOW_TICKET_HOURS, LOW_CSAT = 24.0, 2.0
#: Onboarding: a customer is activated when the activation stage follows signup within this many days.
ACTIVATION_DAYS = 14

#: Feature name -> plain-word template formatted with ``value`` (reason codes, risk rules).
#: Windowed count templates exist for every window; the defaults (7, 30, 90) are listed.
FEATURE_DESCRIPTIONS: dict[str, str] = {
    # events: sessions (logins)
    "days_since_last_session": "no session for {value:.0f} days",
    "sessions_7d": "{value:.0f} sessions in the last 7 days",
    "sessions_30d": "{value:.0f} sessions in the last 30 days",
    "sessions_90d": "{value:.0f} sessions in the last 90 days",
    "session_trend_30d": "{value:+.0f} sessions vs the previous 30 days",
    "session_ratio_7d_90d": "last week's sessions at {value:.0%} of the 90-day pace",
    "recency_vs_rhythm": "{value:.1f} usual sessions missed since the last one",
    "sessions_30d_vs_segment": "{value:.1f}x the segment's typical sessions in 30 days",
    "sessions_per_active_day_30d": "{value:.1f} sessions per active day in 30 days",
    # events: purchases (non-contractual data such as CDNOW)
    "days_since_last_purchase": "no purchase for {value:.0f} days",
    "purchases_7d": "{value:.0f} purchases in the last 7 days",
    "purchases_30d": "{value:.0f} purchases in the last 30 days",
    "purchases_90d": "{value:.0f} purchases in the last 90 days",
    "purchases_total": "{value:.0f} purchases so far",
    "purchase_amount_total": "spent {value:,.0f} so far",
    "purchase_amount_mean": "average purchase of {value:,.2f}",
    # events: exports and components
    "exports_7d": "{value:.0f} data exports in the last 7 days",
    "exports_30d": "{value:.0f} data exports in the last 30 days",
    "exports_90d": "{value:.0f} data exports in the last 90 days",
    "days_since_last_export": "last data export {value:.0f} days ago",
    "components_adopted": "uses {value:.0f} product components",
    "components_stopped": "stopped using {value:.0f} components (idle 30+ days)",
    # tickets
    "tickets_90d": "{value:.0f} support tickets in 90 days",
    "tickets_technical_90d": "{value:.0f} technical tickets in 90 days",
    "tickets_financial_90d": "{value:.0f} financial tickets in 90 days",
    "tickets_emotional_90d": "{value:.0f} complaints (emotional tickets) in 90 days",
    "tickets_financial_30d": "{value:.0f} billing (financial) tickets in 30 days",
    "tickets_no_fcr_90d": "{value:.0f} tickets not solved at first contact in 90 days",
    "bad_tickets_90d": "{value:.0f} bad support experiences in 90 days",
    "bad_tickets_30d": "{value:.0f} bad support experiences in 30 days",
    "unresolved_tickets": "{value:.0f} unresolved tickets",
    "ticket_csat_mean": "ticket CSAT of {value:.1f}",
    # messages
    "email_open_rate_30d": "opened {value:.0%} of emails in 30 days",
    "email_open_rate_14d": "opened {value:.0%} of emails in 14 days",
    "email_open_rate_90d": "opened {value:.0%} of emails in 90 days",
    "email_open_rate_drop": "email open rate down {value:.0%} points",
    "push_open_rate_30d": "opened {value:.0%} of push messages in 30 days",
    "promo_redeem_rate_90d": "redeemed {value:.0%} of promotions in 90 days",
    "unsubscribed": "unsubscribed from messages",
    "unsubscribed_30d": "unsubscribed in the last 30 days",
    # payments
    "late_payments_90d": "{value:.0f} late payments in 90 days",
    "overdue_invoices": "{value:.0f} unpaid invoices past their due date",
    "days_overdue": "an invoice unpaid {value:.0f} days past its due date",
    # contacts
    "days_since_last_contact": "no reached contact for {value:.0f} days",
    "reached_contacts_90d": "{value:.0f} reached contacts in 90 days",
    "manager_calls_30d": "{value:.0f} account-manager calls in 30 days",
    # surveys
    "last_nps": "last NPS score {value:.0f}",
    "days_since_last_nps": "no NPS answer for {value:.0f} days",
    "last_csat": "last CSAT score {value:.0f}",
    # funnel
    "activated_14d": "activated within 14 days of signup",
    # customers
    "tenure_days": "customer for {value:.0f} days",
    "monthly_fee": "monthly fee {value:,.2f}",
    "do_not_disturb": "asked not to be contacted",
    "plan": "plan {value}",
    "segment": "segment {value}",
    "region": "region {value}",
    "channel": "acquired via {value}",
}

_GENERIC_WINDOWED = {"sessions": "sessions", "purchases": "purchases", "exports": "data exports"}
_FLAGS = frozenset({"unsubscribed", "unsubscribed_30d", "do_not_disturb", "activated_14d"})

#: Emails sent less than this many days before the cutoff are left out of open rates: their
#: ``opened`` flag sits on the ``sent_at`` row but the opening may come after the cutoff.
OPEN_SETTLE_DAYS = 2
#: Promotions sent less than this many days before the cutoff are left out of redemption rates: a
#: redemption may come days after the promotion (its ``redeemed`` flag sits on the ``sent_at`` row).
REDEEM_SETTLE_DAYS = 14


def describe_feature(name: str, value: object) -> str:
    """Say a feature value in plain words, e.g. ``no session for 24 days``.

    Unknown features (snapshot columns, extra windows) fall back to ``name = value``; a windowed count
    such as ``sessions_14d`` is worded from its family.

    Examples
    --------
    >>> describe_feature("days_since_last_session", 24.0)
    'no session for 24 days'
    >>> describe_feature("unresolved_tickets", 2)
    '2 unresolved tickets'
    >>> describe_feature("contract", "Month-to-month")
    'contract = Month-to-month'
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return f"{name.replace('_', ' ')} unknown"
    template = FEATURE_DESCRIPTIONS.get(name)
    if template is None:
        stem, _, window = name.rpartition("_")
        if stem in _GENERIC_WINDOWED and window.endswith("d") and window[:-1].isdigit():
            template = f"{{value:.0f}} {_GENERIC_WINDOWED[stem]} in the last {window[:-1]} days"
    if template is None:
        shown = f"{value:.4g}" if isinstance(value, (float, np.floating)) else str(value)
        return f"{name} = {shown}"
    if name in _FLAGS and not value:
        return "not " + template.format(value=value)
    try:
        return template.format(value=value)
    except (ValueError, TypeError):
        return template.replace(":.0f", "").replace(":,.2f", "").replace(":.1f", "").format(value=value)


def feature_families(dataset: Dataset) -> dict[str, list[str]]:
    """Which feature families :func:`build_features` computes for ``dataset`` and from which tables.

    Returns
    -------
    dict of str to list of str
        Family name -> tables it reads; a family appears only when all its tables exist.
    """
    if dataset.kind == "snapshot":
        return {"snapshot": ["customers"]}
    families = {"customers": ["customers"]}
    for fam, table in [("events", "events"), ("tickets", "tickets"), ("messages", "messages"),
                       ("payments", "payments"), ("contacts", "contacts"), ("surveys", "surveys"),
                       ("funnel", "funnel")]:
        if table in dataset:
            families[fam] = [table]
    return families


# ----------------------------------------------------------------------------------------------
# helpers that build ibis expressions


def _ns(df: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """Copy of ``df`` with ``cols`` as microsecond datetimes and customer_id as str."""
    out = df.copy()
    for c in cols:
        out[c] = pd.to_datetime(out[c]).astype("datetime64[us]")
    out[C.CUSTOMER_ID] = out[C.CUSTOMER_ID].astype(str)
    return out


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
    return (cutoff.epoch_seconds() - last.epoch_seconds()) / _DAY


def _event_family(keys, dataset: Dataset, windows: Sequence[int], include_cutoff: bool):
    events = dataset["events"]
    require_columns(events, [C.CUSTOMER_ID, C.TIMESTAMP, "event_type"], table="events")
    types = set(events["event_type"].dropna().astype(str).unique())
    cols = [C.CUSTOMER_ID, C.TIMESTAMP, "event_type"] + [c for c in ("component", "amount") if c in events.columns]
    import ibis

    t = ibis.memtable(_ns(events[cols], [C.TIMESTAMP]))
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


def _ticket_family(keys, dataset: Dataset, include_cutoff: bool):
    tickets = dataset["tickets"]
    require_columns(tickets, [C.CUSTOMER_ID, "opened_at", "category", "hours_to_resolve", "csat"], table="tickets")
    import ibis

    cols = [C.CUSTOMER_ID, "opened_at", "category", "hours_to_resolve", "csat"]
    frame = _ns(tickets[cols + [c for c in ("first_contact_resolution",) if c in tickets.columns]], ["opened_at"])
    if "first_contact_resolution" in frame.columns:
        frame["first_contact_resolution"] = frame["first_contact_resolution"].astype("float64")
    t = ibis.memtable(frame)
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
        **{f"tickets_{cat}_90d": _count(w90 & (j.category == cat)) for cat in C.TICKET_CATEGORIES},
        "tickets_financial_30d": _count(_in_window(j, "opened_at", 30) & (j.category == "financial")),
        "unresolved_tickets": _count(~resolved),
        "ticket_csat_mean": j.csat.mean(where=w90 & resolved & j.csat.notnull()).cast("float64"),
    }
    if "first_contact_resolution" in tickets.columns:
        no_fcr = j.first_contact_resolution == 0.0
        slow = j.hours_to_resolve > SLOW_TICKET_HOURS
        low = j.csat.notnull() & (j.csat <= LOW_CSAT)
        aggs["tickets_no_fcr_90d"] = _count(resolved90 & no_fcr)
        bad = (no_fcr & slow) | low
        aggs["bad_tickets_90d"] = _count(resolved90 & bad)
        aggs["bad_tickets_30d"] = _count(resolved & (resolved_ts >= j[C.CUTOFF].epoch_seconds() - 30 * _DAY) & bad)
    return j.group_by([C.CUSTOMER_ID, C.CUTOFF]).aggregate(**aggs)


def _message_family(keys, dataset: Dataset, include_cutoff: bool):
    messages = dataset["messages"]
    require_columns(messages, [C.CUSTOMER_ID, "sent_at", "channel", "kind", "opened", "unsubscribed"], table="messages")
    cols = [C.CUSTOMER_ID, "sent_at", "channel", "kind", "opened", "unsubscribed"]
    has_redeemed = "redeemed" in messages.columns
    if has_redeemed:
        cols.append("redeemed")
    import ibis

    frame = _ns(messages[cols], ["sent_at"])
    for c in ("opened", "unsubscribed", "redeemed"):
        if c in frame.columns:
            frame[c] = frame[c].fillna(False).astype(bool).astype("float64")
    t = ibis.memtable(frame)
    j = _joined(keys, t, "sent_at", include_cutoff)
    # opens of emails sent in the last OPEN_SETTLE_DAYS are not known yet
    settled = ~_in_window(j, "sent_at", OPEN_SETTLE_DAYS)
    email = (j.channel == "email") & settled
    push = (j.channel == "push") & settled
    w14, w30, w90, w120 = (_in_window(j, "sent_at", d) for d in (14, 30, 90, 120))
    prev = w120 & ~w30
    aggs = {
        "_sent14": _count(email & w14),
        "_open14": j.opened.sum(where=email & w14),
        "_sent30": _count(email & w30),
        "_open30": j.opened.sum(where=email & w30),
        "_sent90": _count(email & w90),
        "_open90": j.opened.sum(where=email & w90),
        "_push30": _count(push & w30),
        "_pushopen30": j.opened.sum(where=push & w30),
        "_sentprev": _count(email & prev),
        "_openprev": j.opened.sum(where=email & prev),
        "unsubscribed": j.unsubscribed.max().cast("float64"),
        "unsubscribed_30d": j.unsubscribed.max(where=w30).cast("float64"),
    }
    if has_redeemed:
        promo90 = (j.kind == "promo") & _in_window(j, "sent_at", 90) & ~_in_window(j, "sent_at", REDEEM_SETTLE_DAYS)
        aggs["_promo90"] = _count(promo90)
        aggs["_redeem90"] = j.redeemed.sum(where=promo90)
    g = j.group_by([C.CUSTOMER_ID, C.CUTOFF]).aggregate(**aggs)
    rate30 = _rate(g._open30, g._sent30)
    g = g.mutate(email_open_rate_14d=_rate(g._open14, g._sent14), email_open_rate_30d=rate30,
                 email_open_rate_drop=_rate(g._openprev, g._sentprev) - rate30,
                 email_open_rate_90d=_rate(g._open90, g._sent90), push_open_rate_30d=_rate(g._pushopen30, g._push30))
    if has_redeemed:
        g = g.mutate(promo_redeem_rate_90d=_rate(g._redeem90, g._promo90))
    return g.drop(*[c for c in g.columns if c.startswith("_")])


def _payment_family(keys, dataset: Dataset, include_cutoff: bool):
    payments = dataset["payments"]
    require_columns(payments, [C.CUSTOMER_ID, "due_at", "late"], table="payments")
    import ibis

    cols = [C.CUSTOMER_ID, "due_at", "late"] + (["paid_at"] if "paid_at" in payments.columns else [])
    frame = _ns(payments[cols], ["due_at"] + (["paid_at"] if "paid_at" in cols else []))
    frame["late"] = frame["late"].astype(bool)
    j = _joined(keys, ibis.memtable(frame), "due_at", include_cutoff)
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


def _contact_family(keys, dataset: Dataset, include_cutoff: bool):
    contacts = dataset["contacts"]
    require_columns(contacts, [C.CUSTOMER_ID, "contacted_at", "reached"], table="contacts")
    import ibis

    has_kind = "kind" in contacts.columns
    frame = _ns(contacts[[C.CUSTOMER_ID, "contacted_at", "reached"] + (["kind"] if has_kind else [])],
                ["contacted_at"])
    frame["reached"] = frame["reached"].astype(bool)
    j = _joined(keys, ibis.memtable(frame), "contacted_at", include_cutoff)
    # only reached contacts count as contacts; an unanswered call is an attempt
    aggs = {"_last": j.contacted_at.max(where=j.reached),
            "reached_contacts_90d": _count(j.reached & _in_window(j, "contacted_at", 90))}
    if has_kind:
        # calls the account manager placed, answered or not: managers call customers they worry about
        aggs["manager_calls_30d"] = _count((j.kind == "call") & _in_window(j, "contacted_at", 30))
    g = j.group_by([C.CUSTOMER_ID, C.CUTOFF]).aggregate(**aggs)
    return g.mutate(days_since_last_contact=_days_since(g._last, g[C.CUTOFF])).drop("_last")


def _survey_family(keys, dataset: Dataset, include_cutoff: bool):
    surveys = dataset["surveys"]
    require_columns(surveys, [C.CUSTOMER_ID, "answered_at", "kind", "score"], table="surveys")
    if not (surveys["kind"] == "nps").any():
        return None
    import ibis

    frame = _ns(surveys[[C.CUSTOMER_ID, "answered_at", "kind", "score"]], ["answered_at"])
    frame["score"] = frame["score"].astype("float64")
    j = _joined(keys, ibis.memtable(frame), "answered_at", include_cutoff)
    is_nps = (j.kind == "nps") & j.score.notnull()
    is_csat = (j.kind == "csat") & j.score.notnull()
    g = j.group_by([C.CUSTOMER_ID, C.CUTOFF]).aggregate(
        last_nps=j.score.argmax(j.answered_at, where=is_nps),
        last_csat=j.score.argmax(j.answered_at, where=is_csat),
        _last_nps_at=j.answered_at.max(where=is_nps),
    )
    return g.mutate(days_since_last_nps=_days_since(g._last_nps_at, g[C.CUTOFF])).drop("_last_nps_at")


def _funnel_family(keys, dataset: Dataset, include_cutoff: bool):
    funnel = dataset["funnel"]
    require_columns(funnel, [C.CUSTOMER_ID, "stage", "reached_at"], table="funnel")
    if not (funnel["stage"] == "activation").any():
        return None
    import ibis

    frame = _ns(funnel[[C.CUSTOMER_ID, "stage", "reached_at"]], ["reached_at"])
    j = _joined(keys, ibis.memtable(frame), "reached_at", include_cutoff)
    g = j.group_by([C.CUSTOMER_ID, C.CUTOFF]).aggregate(
        _signup=j.reached_at.min(where=j.stage == "signup"), _act=j.reached_at.min(where=j.stage == "activation"))
    quick = g._act.notnull() & g._signup.notnull() & (
        g._act.epoch_seconds() - g._signup.epoch_seconds() <= ACTIVATION_DAYS * _DAY)
    return g.mutate(activated_14d=quick.ifelse(1.0, 0.0)).drop("_signup", "_act")


def _customer_family(rows: pd.DataFrame, dataset: Dataset) -> pd.DataFrame:
    customers = dataset["customers"]
    require_columns(customers, [C.CUSTOMER_ID, C.SIGNUP_AT], table="customers")
    cust = customers.drop_duplicates(C.CUSTOMER_ID).assign(
        **{C.CUSTOMER_ID: lambda d: d[C.CUSTOMER_ID].astype(str)}).set_index(C.CUSTOMER_ID)
    ids = rows[C.CUSTOMER_ID].astype(str)
    signup = pd.to_datetime(ids.map(cust[C.SIGNUP_AT])).astype("datetime64[ns]")
    out = pd.DataFrame(index=rows.index)
    out["tenure_days"] = (rows[C.CUTOFF].astype("datetime64[ns]") - signup).dt.total_seconds() / _DAY
    for col in ("plan", "segment", "region", "channel"):
        if col in cust.columns:
            out[col] = ids.map(cust[col]).astype("string")
    if "monthly_fee" in cust.columns:
        out["monthly_fee"] = ids.map(cust["monthly_fee"]).astype("float64")
    if "do_not_disturb" in cust.columns:
        out["do_not_disturb"] = ids.map(cust["do_not_disturb"]).astype("float64")
    return out


def _snapshot_features(rows: pd.DataFrame, dataset: Dataset) -> pd.DataFrame:
    customers = dataset["customers"]
    canonical = {c.name for c in SCHEMAS["customers"].columns}
    original = [c for c in customers.columns if c not in canonical]
    if not original:
        raise AnalysisError(f"build_features: snapshot dataset {dataset.name!r} has no original customer columns")
    cust = customers.assign(**{C.CUSTOMER_ID: lambda d: d[C.CUSTOMER_ID].astype(str)}).drop_duplicates(
        C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)[original]
    values = cust.reindex(rows[C.CUSTOMER_ID].astype(str).to_numpy()).reset_index(drop=True)
    for c in values.columns:
        if values[c].dtype == object:
            values[c] = values[c].astype("string")
    return pd.concat([rows.reset_index(drop=True), values], axis=1)


def _keys(dataset: Dataset, label_times_or_cutoffs, include_cutoff: bool | None) -> tuple[pd.DataFrame, bool]:
    if isinstance(label_times_or_cutoffs, LabelTimes):
        rows = label_times_or_cutoffs.table[[C.CUSTOMER_ID, C.CUTOFF]]
        inc = label_times_or_cutoffs.include_cutoff if include_cutoff is None else include_cutoff
    elif isinstance(label_times_or_cutoffs, pd.DataFrame):
        require_columns(label_times_or_cutoffs, [C.CUSTOMER_ID, C.CUTOFF], table="label_times")
        rows = label_times_or_cutoffs[[C.CUSTOMER_ID, C.CUTOFF]]
        inc = bool(include_cutoff)
    else:
        cutoffs = label_times_or_cutoffs
        if isinstance(cutoffs, (str, pd.Timestamp)):
            cutoffs = [cutoffs]
        cutoffs = list(cutoffs) if isinstance(cutoffs, Iterable) else [cutoffs]
        if not cutoffs:
            raise AnalysisError("build_features: cutoffs is empty; pass label times or at least one date")
        inc = bool(include_cutoff)
        rows = population(dataset, cutoffs, include_cutoff=inc)
    if rows.empty:
        raise AnalysisError("build_features: no (customer, cutoff) rows to build features for")
    rows = rows.reset_index(drop=True).copy()
    rows[C.CUSTOMER_ID] = rows[C.CUSTOMER_ID].astype("string")
    rows[C.CUTOFF] = pd.to_datetime(rows[C.CUTOFF]).astype("datetime64[ns]")
    if rows.duplicated([C.CUSTOMER_ID, C.CUTOFF]).any():
        raise AnalysisError("build_features: label times repeat a (customer_id, cutoff) pair")
    return rows, inc


def build_features(dataset: Dataset, label_times_or_cutoffs: LabelTimes | pd.DataFrame | Iterable | str,
                   *, windows: Sequence[int] = (7, 30, 90), backend=None,
                   include_cutoff: bool | None = None) -> pd.DataFrame:
    """Compute each customer's features as of each cutoff, from data stamped before it.

    Parameters
    ----------
    dataset : Dataset
        ``customers`` is required; ``events`` (``timestamp, event_type[, component, amount]``),
        ``tickets``, ``messages``, ``payments``, ``contacts`` and ``surveys`` each add a family when
        present. Snapshot datasets return their original customer columns.
    label_times_or_cutoffs : LabelTimes, DataFrame or list of dates
        The rows to compute: a :class:`~churnlab.labels.LabelTimes`, a frame with ``customer_id,
        cutoff``, or cutoffs (every customer active at each, see :func:`churnlab.labels.population`).
    windows : sequence of int, default (7, 30, 90)
        Day windows of the ``sessions_*d``, ``purchases_*d`` and ``exports_*d`` counts.
    backend : ibis backend, optional
        Default ``ibis.duckdb.connect()`` (in-memory DuckDB).
    include_cutoff : bool, optional
        Whether data stamped exactly at the cutoff is observed; default the label times' setting
        (False for plain cutoffs).

    Returns
    -------
    DataFrame
        One row per (customer_id, cutoff), in the order of the label times, with ``customer_id,
        cutoff`` then the feature columns of :data:`FEATURE_DESCRIPTIONS` that the tables allow.
        Counts are 0 when nothing happened; rates and means are NaN when undefined (no email sent,
        no rated ticket, no survey); "days since" features of a customer who never had the event
        equal ``tenure_days``.

    Raises
    ------
    AnalysisError
        Empty cutoffs or duplicated (customer_id, cutoff) rows.
    SchemaError
        A table lacks a column its family needs.

    Notes
    -----
    ``session_trend_30d = sessions[cutoff-30d, cutoff) - sessions[cutoff-60d, cutoff-30d)``;
    ``components_stopped`` = components ever used but not in the last 30 days;
    ``unresolved_tickets`` counts tickets opened before the cutoff and not resolved by it
    (``opened_at + hours_to_resolve > cutoff``); ``ticket_csat_mean`` averages tickets of the last 90
    days resolved by the cutoff; ``email_open_rate_drop`` = open rate of emails sent 30-120 days
    before the cutoff minus the last 30 days' (positive = opening less); ``email_open_rate_90d`` and
    ``push_open_rate_30d`` are the same rate over longer or other messages (a steadier read of engagement
    than a few recent emails). ``days_since_last_export`` reads the timing of data exports (a customer who
    has decided to leave exports right away); ``sessions_per_active_day_30d`` = sessions / distinct days
    with a session in the last 30 days (several people on one account log in several times a day);
    ``bad_tickets_30d`` counts bad experiences resolved in the last 30 days; ``days_overdue`` = days since
    the due date of the oldest invoice unpaid at the cutoff (0 when all are paid), which shows a late
    payment before it is paid; ``manager_calls_30d`` counts calls the account manager placed, answered or
    not (managers call the accounts they worry about). Customer attributes
    (plan, segment, fee) are taken as they are in ``customers`` (no history is kept of them).
    An email's ``opened`` flag is stored on its ``sent_at`` row, so an email sent just before the
    cutoff may carry an opening that happened after it.
    """
    dataset.require("customers", by="build_features")
    rows, inc = _keys(dataset, label_times_or_cutoffs, include_cutoff)
    if dataset.kind == "snapshot":
        return _snapshot_features(rows, dataset)
    windows = tuple(sorted({int(w) for w in windows}))
    if not windows or windows[0] <= 0:
        raise AnalysisError(f"build_features: windows must be positive day counts; got {windows}")
    with warnings.catch_warnings():
        # ibis 12 reads a pandas option that pandas 3 deprecates; nothing for us to act on.
        warnings.filterwarnings("ignore", message=".*future.infer_string.*")
        return _build_event_features(dataset, rows, windows, backend, inc)


def _build_event_features(dataset: Dataset, rows: pd.DataFrame, windows: tuple[int, ...], backend,
                          inc: bool) -> pd.DataFrame:
    import ibis

    con = backend if backend is not None else ibis.duckdb.connect()
    keys_frame = rows.assign(**{C.CUSTOMER_ID: rows[C.CUSTOMER_ID].astype(str),
                                C.CUTOFF: rows[C.CUTOFF].astype("datetime64[us]")})
    keys = ibis.memtable(keys_frame)
    exprs = []
    if "events" in dataset:
        exprs.append(_event_family(keys, dataset, windows, inc))
    for table, fn in [("tickets", _ticket_family), ("messages", _message_family), ("payments", _payment_family),
                      ("contacts", _contact_family), ("surveys", _survey_family), ("funnel", _funnel_family)]:
        if table in dataset:
            exprs.append(fn(keys, dataset, inc))
    out = rows.copy()
    out = pd.concat([out, _customer_family(rows, dataset)], axis=1)
    join_keys = keys_frame[[C.CUSTOMER_ID, C.CUTOFF]]
    for expr in exprs:
        if expr is None:
            continue
        part = con.to_pandas(expr)
        part[C.CUTOFF] = pd.to_datetime(part[C.CUTOFF]).astype("datetime64[us]")
        part[C.CUSTOMER_ID] = part[C.CUSTOMER_ID].astype(str)
        merged = join_keys.merge(part, on=[C.CUSTOMER_ID, C.CUTOFF], how="left", validate="one_to_one")
        for col in merged.columns.drop([C.CUSTOMER_ID, C.CUTOFF]):
            out[col] = pd.to_numeric(merged[col], errors="coerce").astype("float64").to_numpy()
    _fill_defaults(out)
    if "sessions_30d" in out.columns and C.SEGMENT in out.columns:
        # usage against the segment's norm at the same cutoff (median of active customers)
        norm = out.groupby([C.SEGMENT, C.CUTOFF], dropna=False)["sessions_30d"].transform("median")
        out["sessions_30d_vs_segment"] = (out["sessions_30d"] / norm.where(norm > 0)).astype("float64")
    return out


#: Features left missing when undefined (a rate with no denominator, a mean of nothing, no survey).
MAY_BE_MISSING = frozenset({"email_open_rate_14d", "email_open_rate_30d", "email_open_rate_drop",
                            "promo_redeem_rate_90d", "ticket_csat_mean", "last_nps", "last_csat",
                            "purchase_amount_mean", "monthly_fee", "do_not_disturb", "tenure_days",
                            "session_ratio_7d_90d", "recency_vs_rhythm", "sessions_30d_vs_segment",
                            "email_open_rate_90d", "push_open_rate_30d", "sessions_per_active_day_30d"})


def _fill_defaults(out: pd.DataFrame) -> None:
    """Fill counts with no rows with 0 and "days since" with no event with tenure (in place, our own frame)."""
    for col in out.columns:
        if col in KEY_COLUMNS or col in MAY_BE_MISSING or out[col].dtype != "float64":
            continue
        if col.startswith("days_since"):
            out[col] = out[col].fillna(out["tenure_days"])
        else:
            out[col] = out[col].fillna(0.0)
