"""Point-in-time features: what was known about each customer at each cutoff.

Every feature of a row (``customer_id``, ``cutoff``) is computed from data stamped strictly before the
cutoff (``<=`` when ``include_cutoff``). Event-level work runs as hand-written DuckDB SQL by default
(:mod:`churnlab.feature_sql`), over the tables where they lie: a pandas frame is scanned in place, a
Parquet path or DuckDB relation in ``dataset.tables`` is read out of core (:mod:`churnlab.engine`).
The same families exist as ibis expressions (:mod:`churnlab.feature_exprs`) and run on another ibis
backend (PySpark) when passed as ``backend``; a test holds the two to identical values. Events are
joined to cutoffs with an equality on the customer and a range condition on time inside the engine,
never by materialising all pairs (FIELD_NOTES, "Point-in-time features"; OPINIONS.md, "Feature engine:
hand-written DuckDB SQL, ibis for other backends").

Each family is computed only when its table exists; the columns are listed in
:data:`FEATURE_DESCRIPTIONS` (a plain-word template per feature, used by reason codes and by the
risk rules of :mod:`churnlab.patterns`, which share these names).

Windows: a ``w``-day window is ``cutoff - w days <= timestamp < cutoff``. "Days since" features of a
customer who never had the event count from signup (they equal ``tenure_days``).
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError, SchemaError
from churnlab.labels import LabelTimes, population
from churnlab.schema import Dataset, require_columns
from churnlab.vocabulary import Vocabulary

__all__ = ["build_features", "feature_families", "describe_feature", "FEATURE_DESCRIPTIONS", "KEY_COLUMNS",
           "CATEGORICAL_FEATURES", "FeatureVocabulary", "feature_vocabulary", "feature_slug"]

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
#: Windowed count templates exist for every window; the defaults (7, 30, 90) are listed. Features named
#: after a dataset's own vocabulary (``tickets_<category>_90d``, ``<channel>_open_rate_30d``) are worded
#: from their family by :func:`describe_feature`; the entries below word the synthetic world's.
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


#: Which ticket category is the billing one (``tickets_<category>_30d``): the first whose slug is one of
#: these. OPINIONS.md, "Feature columns from a dataset's own vocabulary".
BILLING_CATEGORY_SLUGS = ("financial", "billing")
#: Which funnel stage starts the onboarding clock of ``activated_14d``: the first whose slug is one of
#: these, else the first declared stage. OPINIONS.md, "Feature columns from a dataset's own vocabulary".
SIGNUP_STAGE_SLUGS = ("signup", "sign_up", "registration")

_TICKETS_RE = re.compile(r"^tickets_([a-z0-9_]+)_(\d+)d$")
_CHANNEL_RE = re.compile(r"^([a-z0-9_]+)_open_rate_(\d+)d$")


def _vocabulary_template(name: str) -> str | None:
    """Word a feature named after a vocabulary value (``tickets_billing_90d``, ``sms_open_rate_30d``)."""
    m = _TICKETS_RE.match(name)
    if m:
        return f"{{value:.0f}} {m.group(1).replace('_', ' ')} tickets in {m.group(2)} days"
    m = _CHANNEL_RE.match(name)
    if m:
        return f"opened {{value:.0%}} of {m.group(1).replace('_', ' ')} messages in {m.group(2)} days"
    return None


def feature_slug(value: object) -> str:
    """Turn a vocabulary value into the part of a feature column name it stands for.

    Lower case ASCII letters, digits and single underscores (accents are dropped, every other run of
    characters becomes ``_``), so the column is a safe identifier in SQL, Python and MLflow.

    Raises
    ------
    SchemaError
        A value with no letter or digit to keep.

    Examples
    --------
    >>> feature_slug("Billing & Payments")
    'billing_payments'
    >>> feature_slug("Réclamation")
    'reclamation'
    """
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not slug:
        raise SchemaError(f"vocabulary: value {value!r} has no letter or digit to name a feature column by; "
                          "expected a value with at least one ASCII letter or digit")
    return slug


@dataclass(frozen=True)
class FeatureVocabulary:
    """The vocabulary values the feature families filter on, with the column name part of each.

    Parameters
    ----------
    ticket_categories : tuple of (slug, value)
        One ``tickets_<slug>_90d`` column per category, in the declared order.
    billing_category : (slug, value) or None
        The category of ``tickets_<slug>_30d`` (billing tickets, a sign of a decision to leave).
    email_channels : tuple of str
        Channels pooled into the ``email_open_rate_*`` features (none: no email features).
    other_channels : tuple of (slug, value)
        One ``<slug>_open_rate_30d`` column per other message channel.
    funnel : (start stage, activation stage) or None
        The stages of ``activated_14d``; None when the funnel has no activation stage.
    """

    ticket_categories: tuple[tuple[str, str], ...]
    billing_category: tuple[str, str] | None
    email_channels: tuple[str, ...]
    other_channels: tuple[tuple[str, str], ...]
    funnel: tuple[str, str] | None


def _slugged(values: Sequence, entry: str, taken: Iterable[str] = ()) -> tuple[tuple[str, str], ...]:
    """``(slug, value)`` per value; two values with one slug (or a slug already used) raise SchemaError."""
    seen = {s: None for s in taken}
    out = []
    for v in values:
        slug = feature_slug(v)
        if slug in seen:
            other = "a built-in feature" if seen[slug] is None else repr(seen[slug])
            raise SchemaError(f"vocabulary.{entry}: {v!r} and {other} give the same feature column part {slug!r}; "
                              "expected values that differ in more than case and punctuation")
        seen[slug] = v
        out.append((slug, str(v)))
    return tuple(out)


def feature_vocabulary(vocabulary: Vocabulary | Dataset | None = None) -> FeatureVocabulary:
    """Derive the feature families' categories, channels and stages from a dataset's vocabulary.

    Parameters
    ----------
    vocabulary : Vocabulary or Dataset, optional
        Default the synthetic world's (:class:`churnlab.vocabulary.Vocabulary` defaults).

    Returns
    -------
    FeatureVocabulary

    Raises
    ------
    SchemaError
        Two values of one entry that name the same column, or a value that would name a built-in
        feature (a ticket category ``no fcr``, a channel ``email`` that is not email-like).

    Examples
    --------
    >>> fv = feature_vocabulary(Vocabulary.from_mapping({"message_channels": ["email", "SMS", "WhatsApp"],
    ...                                                  "funnel_stages": ["visit", "demo call", "activation"]}))
    >>> fv.other_channels, fv.funnel
    ((('sms', 'SMS'), ('whatsapp', 'WhatsApp')), ('visit', 'activation'))
    """
    from churnlab.patterns.usage import activation_stage

    if isinstance(vocabulary, Dataset):
        vocabulary = vocabulary.vocabularies
    vocabulary = vocabulary if vocabulary is not None else Vocabulary()
    categories = _slugged(vocabulary.ticket_categories, "ticket_categories", taken=("no_fcr",))
    billing = next((c for c in categories if c[0] in BILLING_CATEGORY_SLUGS), None)
    email = tuple(str(c) for c in vocabulary.email_channels)
    others = _slugged([c for c in vocabulary.message_channels if c not in vocabulary.email_channels],
                      "message_channels", taken=("email",))
    stages = tuple(str(s) for s in vocabulary.funnel_stages)
    activation = activation_stage(stages)
    start = next((s for s in stages if re.sub(r"[\s-]+", "_", s.strip().lower()) in SIGNUP_STAGE_SLUGS),
                 stages[0] if stages else None)
    funnel = (start, activation) if activation is not None and start is not None and start != activation else None
    return FeatureVocabulary(categories, billing, email, others, funnel)


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
        template = _vocabulary_template(name)
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



def _small_table(dataset: Dataset, name: str) -> pd.DataFrame:
    """Return a dimension table as pandas (read through DuckDB when it was given as Parquet or a relation)."""
    table = dataset[name]
    if isinstance(table, pd.DataFrame):
        return table
    from churnlab.engine import Tables, connect

    tables = Tables(connect(relations=[table]))
    return tables.con.execute(f"SELECT * FROM {tables.view(name, table)}").df()


#: The canonical customer columns :func:`_customer_family` turns into features.
_CANONICAL_ATTRIBUTES = frozenset({"plan", "segment", "region", "channel", "monthly_fee", "do_not_disturb"})


def _customer_family(rows: pd.DataFrame, dataset: Dataset, codes: np.ndarray, uniques) -> pd.DataFrame:
    """Look up customer attributes per label row; ``codes`` index ``uniques``, the distinct ids of ``rows``."""
    customers = _small_table(dataset, "customers")
    require_columns(customers, [C.CUSTOMER_ID, C.SIGNUP_AT], table="customers")
    cust = customers.drop_duplicates(C.CUSTOMER_ID)
    # look each distinct id up once, then spread to the label rows (-1: not in customers -> missing)
    pos = pd.Index(cust[C.CUSTOMER_ID].astype(str).to_numpy()).get_indexer(np.asarray(uniques, dtype=object))
    row_pos = pos[codes]

    def pick(col: str, dtype: str):
        return pd.Series(cust[col].astype(dtype).array.take(row_pos, allow_fill=True), index=rows.index)

    signup = pick(C.SIGNUP_AT, "datetime64[ns]")
    out = pd.DataFrame(index=rows.index)
    out["tenure_days"] = (rows[C.CUTOFF].astype("datetime64[ns]") - signup).dt.total_seconds() / _DAY
    for col in ("plan", "segment", "region", "channel"):
        if col in cust.columns:
            out[col] = pick(col, "string")
    if "monthly_fee" in cust.columns:
        out["monthly_fee"] = pick("monthly_fee", "float64")
    if "do_not_disturb" in cust.columns:
        out["do_not_disturb"] = pick("do_not_disturb", "float64")
    return out


#: Customer columns a snapshot's model never sees: keys, the label and ids of people.
_SNAPSHOT_EXCLUDED = frozenset({C.CUSTOMER_ID, C.SIGNUP_AT, "churned", "account_manager"})


#: Distinct values a canonical attribute needs before a monotone relation to an original column marks it
#: as a copy (:func:`_redundant_with`).
_MONOTONE_MIN_VALUES = 10


def _redundant_with(candidate: pd.Series, originals: pd.DataFrame) -> str | None:
    """Name the original column that ``candidate`` is a strictly monotone function of, if any.

    Such a column (Telco's ``monthly_charges`` for ``monthly_fee``, its ``tenure`` in months for
    ``tenure_days``) carries the same information: a tree model gains nothing from the copy and SHAP
    would split the credit between the two. Equal values always match; a monotone relation counts
    only with at least :data:`_MONOTONE_MIN_VALUES` distinct values (the chance that unrelated
    columns line up in order is then below 2 / 10!, about 6e-7). Missing values never match.
    """
    a = pd.to_numeric(candidate, errors="coerce")
    if a.isna().any():
        return None
    for col in originals.columns:
        b = originals[col]
        if pd.api.types.is_numeric_dtype(b) and not pd.api.types.is_bool_dtype(b) and b.notna().all() and \
                np.array_equal(a.to_numpy(dtype="float64"), b.to_numpy(dtype="float64")):
            return str(col)
    if a.nunique() < _MONOTONE_MIN_VALUES:
        return None
    order = np.argsort(a.to_numpy(), kind="stable")
    a_sorted = a.to_numpy()[order]
    for col in originals.columns:
        b = originals[col]
        if not (pd.api.types.is_numeric_dtype(b) and not pd.api.types.is_bool_dtype(b)) or b.isna().any():
            continue
        b_sorted = b.to_numpy(dtype="float64")[order]
        da, db = np.diff(a_sorted), np.diff(b_sorted)
        # equal candidates must have equal originals and distinct ones distinct originals, in one direction
        if np.any((da == 0) != (db == 0)):
            continue
        if np.all(db[da > 0] > 0) or np.all(db[da > 0] < 0):
            return str(col)
    return None


def _snapshot_features(rows: pd.DataFrame, dataset: Dataset, codes: np.ndarray, uniques) -> pd.DataFrame:
    """Return a snapshot's features: the canonical customer attributes, then its original columns.

    The canonical attributes are those of the event path (``tenure_days`` from ``signup_at``,
    ``segment``, ``plan``, ``region``, ``channel`` as category dtype, ``monthly_fee``,
    ``do_not_disturb``) where ``customers`` has them, so a config that renames a column to ``plan``
    keeps it in the model; one that only repeats an original column (a strictly monotone function of
    it) is left out. OPINIONS.md, "Canonical attributes in snapshot models".
    """
    customers = _small_table(dataset, "customers")
    original = [c for c in customers.columns if c not in _SNAPSHOT_EXCLUDED and c not in _CANONICAL_ATTRIBUTES]
    cust = customers.assign(**{C.CUSTOMER_ID: lambda d: d[C.CUSTOMER_ID].astype(str)}).drop_duplicates(
        C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)
    values = cust[original].reindex(rows[C.CUSTOMER_ID].astype(str).to_numpy()).reset_index(drop=True)
    for c in values.columns:
        if values[c].dtype == object:
            values[c] = values[c].astype("string")
    canonical = _customer_family(rows, dataset, codes, uniques).reset_index(drop=True)
    # the redundancy test reads the attributes as of the snapshot (tenure at as_of), one row per customer
    at_as_of = rows[[C.CUSTOMER_ID]].assign(**{C.CUTOFF: dataset.as_of}).drop_duplicates(C.CUSTOMER_ID)
    at_codes, at_uniques = pd.factorize(at_as_of[C.CUSTOMER_ID], sort=False)
    per_customer = _customer_family(at_as_of.reset_index(drop=True), dataset, at_codes, at_uniques)
    per_customer_originals = cust[original].reindex(at_uniques.astype(str))
    keep = []
    for col in canonical.columns:
        if col in CATEGORICAL_FEATURES:
            declared = {"segment": "segments", "plan": "plans"}.get(col)
            seen = canonical[col].dropna().unique()
            vocabulary = [str(v) for v in dataset.vocabulary(declared)] if declared else []
            cats = vocabulary if vocabulary and set(seen) <= set(vocabulary) else sorted(seen)
            canonical[col] = pd.Categorical(canonical[col].astype(object), categories=cats)
            keep.append(col)
        elif _redundant_with(per_customer[col].reset_index(drop=True),
                             per_customer_originals.reset_index(drop=True)) is None:
            keep.append(col)
    if not original and not keep:
        raise AnalysisError(f"build_features: snapshot dataset {dataset.name!r} has no customer attribute to use "
                            "as a feature; expected original columns or plan, segment, monthly_fee, ...")
    return pd.concat([rows.reset_index(drop=True), canonical[keep], values], axis=1)


def _keys(dataset: Dataset, label_times_or_cutoffs, include_cutoff: bool | None) -> tuple[pd.DataFrame, bool, tuple]:
    """Return the label rows (index 0..n-1), the include_cutoff setting and ``pd.factorize`` of their ids."""
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
    codes, uniques = pd.factorize(rows[C.CUSTOMER_ID], sort=False)
    cut_codes, cut_values = pd.factorize(rows[C.CUTOFF], sort=False)
    pair = codes.astype(np.int64) * max(len(cut_values), 1) + cut_codes
    if len(pd.unique(pair)) != len(rows):
        raise AnalysisError("build_features: label times repeat a (customer_id, cutoff) pair")
    return rows, inc, (codes, uniques)


def build_features(dataset: Dataset, label_times_or_cutoffs: LabelTimes | pd.DataFrame | Iterable | str,
                   *, windows: Sequence[int] = (7, 30, 90), backend=None,
                   include_cutoff: bool | None = None) -> pd.DataFrame:
    """Compute each customer's features as of each cutoff, from data stamped before it.

    Parameters
    ----------
    dataset : Dataset
        ``customers`` is required; ``events`` (``timestamp, event_type[, component, amount]``),
        ``tickets``, ``messages``, ``payments``, ``contacts``, ``surveys`` and ``funnel`` each add a family
        when present. Each event-level table may be a pandas frame, a Parquet path (file, folder or glob)
        or a DuckDB relation; those are read by DuckDB and never loaded into pandas. Snapshot datasets
        return their original customer columns.
    label_times_or_cutoffs : LabelTimes, DataFrame or list of dates
        The rows to compute: a :class:`~churnlab.labels.LabelTimes`, a frame with ``customer_id,
        cutoff``, or cutoffs (every customer active at each, see :func:`churnlab.labels.population`).
    windows : sequence of int, default (7, 30, 90)
        Day windows of the ``sessions_*d``, ``purchases_*d`` and ``exports_*d`` counts.
    backend : duckdb connection or ibis backend, optional
        Default a fresh in-memory DuckDB connection (DuckDB's default connection when a table is a
        relation made with module-level ``duckdb``; the tables' own backend when one is an ibis table). A
        ``duckdb.DuckDBPyConnection`` runs the SQL on it (its ``threads`` setting, its relations); an ibis
        backend runs the ibis expressions there (ibis tables where they live, Parquet paths read by the
        backend, pandas frames uploaded).
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
    rows, inc, ids = _keys(dataset, label_times_or_cutoffs, include_cutoff)
    if dataset.kind == "snapshot":
        return _snapshot_features(rows, dataset, *ids)
    windows = tuple(sorted({int(w) for w in windows}))
    if not windows or windows[0] <= 0:
        raise AnalysisError(f"build_features: windows must be positive day counts; got {windows}")
    with warnings.catch_warnings():
        # ibis 12 reads a pandas option that pandas 3 deprecates; nothing for us to act on.
        warnings.filterwarnings("ignore", message=".*future.infer_string.*")
        return _build_event_features(dataset, rows, windows, backend, inc, ids)


#: The event-level tables read by the engine (where they lie); ``customers`` is a small pandas frame.
EVENT_TABLES = ("events", "tickets", "messages", "payments", "contacts", "surveys", "funnel")


def _is_duckdb(backend) -> bool:
    return type(backend).__name__ == "DuckDBPyConnection"


def _build_event_features(dataset: Dataset, rows: pd.DataFrame, windows: tuple[int, ...], backend,
                          inc: bool, ids: tuple) -> pd.DataFrame:
    tables = {name: dataset.tables[name] for name in EVENT_TABLES if name in dataset.tables}
    vocabulary = feature_vocabulary(dataset)
    codes, uniques = ids
    if backend is None:
        from churnlab.lazy import ibis_backend_of, is_ibis_table

        # tables that live on an ibis backend (Spark, a warehouse) are computed there
        backend = next((ibis_backend_of(t) for t in tables.values() if is_ibis_table(t)), None)
    if backend is None or _is_duckdb(backend):
        from churnlab.engine import connect
        from churnlab.feature_sql import build_sql_features

        con = backend if backend is not None else connect(relations=tables.values())
        cols = build_sql_features(tables, rows, windows, inc, con, ids=(codes, uniques), vocabulary=vocabulary)
    else:
        from churnlab.feature_exprs import build_ibis_features

        cols = build_ibis_features(tables, rows, windows, inc, backend, vocabulary=vocabulary)
    out = pd.concat([rows, _customer_family(rows, dataset, codes, uniques), pd.DataFrame(cols, index=rows.index)],
                    axis=1)
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
        if col in KEY_COLUMNS or col in MAY_BE_MISSING or out[col].dtype != "float64" or _CHANNEL_RE.match(col):
            # an open rate of any channel is undefined (missing) when nothing was sent
            continue
        if col.startswith("days_since"):
            out[col] = out[col].fillna(out["tenure_days"])
        else:
            out[col] = out[col].fillna(0.0)
