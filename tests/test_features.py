"""Point-in-time features: hand-computed values, cutoff boundaries and the leakage proof."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnlab.errors import AnalysisError, SchemaError
from churnlab.features import FEATURE_DESCRIPTIONS, build_features, describe_feature
from churnlab.labels import make_label_times
from churnlab.schema import Dataset, validate

T = pd.Timestamp
CUT = T("2021-04-01")


def _s(values):
    return pd.Series(values, dtype="string")


def hand_dataset() -> Dataset:
    """Two customers with every table; as_of 2021-06-30, one cutoff 2021-04-01 in the tests."""
    customers = pd.DataFrame({
        "customer_id": _s(["a", "b"]), "signup_at": pd.to_datetime(["2021-01-01", "2021-02-01"]),
        "segment": _s(["B2B", "B2C"]), "plan": _s(["pro", "basic"]), "monthly_fee": [50.0, 10.0],
        "do_not_disturb": [False, True],
    })
    subs = pd.DataFrame({"customer_id": _s(["a", "b"]), "subscription_id": _s(["sa", "sb"]),
                         "start_at": pd.to_datetime(["2021-01-01", "2021-02-01"]),
                         "end_at": pd.to_datetime([None, "2021-04-20"]), "churn_reason": _s([None, "price"])})
    ev = [
        ("a", "2021-01-10", "session", "dashboard"), ("a", "2021-02-10", "session", None),
        ("a", "2021-02-20", "session", None), ("a", "2021-03-10", "session", None),
        ("a", "2021-03-28", "session", None),
        ("a", "2021-01-15", "component_use", "dashboard"), ("a", "2021-03-20", "component_use", "reports"),
        ("a", "2021-03-25", "export", None),
        ("a", "2021-04-01", "session", None),  # exactly at the cutoff
        ("b", "2021-02-05", "session", None),
    ]
    events = pd.DataFrame(ev, columns=["customer_id", "timestamp", "event_type", "component"])
    events = events.astype({"customer_id": "string", "event_type": "string", "component": "string"})
    events["timestamp"] = pd.to_datetime(events["timestamp"])
    tickets = pd.DataFrame({
        "customer_id": _s(["a", "a", "b", "a"]), "ticket_id": _s(["t1", "t2", "t3", "t4"]),
        "opened_at": pd.to_datetime(["2021-03-01", "2021-03-30", "2021-03-15", "2021-03-10"]),
        "line": [1, 2, 1, 3], "category": _s(["technical", "financial", "emotional", "technical"]),
        "resolved_by_bot": [True, False, False, False], "first_contact_resolution": [True, False, False, False],
        # t2 resolves 72 h after 03-30, i.e. after the cutoff: unresolved at the cutoff (its FCR and CSAT
        # are not known yet); t4 took 30 h without first-contact resolution and got CSAT 2: a bad experience
        "hours_to_resolve": [2.0, 72.0, np.nan, 30.0], "csat": [4.0, 1.0, np.nan, 2.0],
    })
    messages = pd.DataFrame({
        "customer_id": _s(["a"] * 8),
        "sent_at": pd.to_datetime(["2021-01-10", "2021-01-20", "2021-02-10", "2021-03-05", "2021-03-15",
                                   "2021-03-20", "2021-03-25", "2021-03-31"]),
        "channel": _s(["email"] * 5 + ["push"] + ["email"] * 2),
        "kind": _s(["newsletter", "promo", "newsletter", "newsletter", "promo", "promo", "newsletter", "newsletter"]),
        # the 03-31 email is opened, but a day before the cutoff its opening is not settled: left out of rates
        "opened": [True, True, True, False, True, True, False, True], "clicked": [False] * 8,
        "unsubscribed": [False, False, False, False, False, True, False, False],
        "redeemed": [False, True, False, False, False, True, False, False],
    })
    # p3 is due 03-28 and paid late on 04-10: at the 04-01 cutoff it is overdue, not yet a known late payment
    payments = pd.DataFrame({"customer_id": _s(["b", "b", "b"]), "payment_id": _s(["p1", "p2", "p3"]),
                             "due_at": pd.to_datetime(["2021-02-15", "2021-03-15", "2021-03-28"]),
                             "paid_at": pd.to_datetime(["2021-02-20", "2021-03-15", "2021-04-10"]),
                             "amount": [10.0, 10.0, 10.0], "late": [True, False, True]})
    contacts = pd.DataFrame({"customer_id": _s(["a", "a"]), "contacted_at": pd.to_datetime(["2021-02-01", "2021-03-22"]),
                             "kind": _s(["call", "call"]), "reached": [True, False]})
    surveys = pd.DataFrame({"customer_id": _s(["a", "a", "a"]),
                            "answered_at": pd.to_datetime(["2021-02-01", "2021-03-01", "2021-03-02"]),
                            "kind": _s(["nps", "nps", "csat"]), "score": [9.0, 3.0, 4.0]})
    # a activated 9 days after signup, b after 19 days (too late for "activated within 14 days")
    funnel = pd.DataFrame({"customer_id": _s(["a", "a", "b", "b"]),
                           "stage": _s(["signup", "activation", "signup", "activation"]),
                           "reached_at": pd.to_datetime(["2021-01-01", "2021-01-10", "2021-02-01", "2021-02-20"])})
    return Dataset("hand", {"customers": customers, "subscriptions": subs, "events": events, "tickets": tickets,
                            "messages": messages, "payments": payments, "contacts": contacts, "surveys": surveys,
                            "funnel": funnel},
                   as_of=T("2021-06-30"), source="test")


@pytest.fixture(scope="module")
def ds() -> Dataset:
    d = hand_dataset()
    assert validate(d).ok, str(validate(d))
    return d


@pytest.fixture(scope="module")
def feats(ds) -> pd.DataFrame:
    return build_features(ds, make_label_times(ds, [CUT])).set_index("customer_id")


def test_session_features_match_a_hand_count(feats):
    a = feats.loc["a"]
    assert a["days_since_last_session"] == 4.0  # last before the cutoff: 03-28
    assert a["sessions_7d"] == 1.0  # 03-28
    assert a["sessions_30d"] == 2.0  # 03-10, 03-28 (window starts 03-02)
    assert a["sessions_90d"] == 5.0  # 01-10 .. 03-28 (window starts 2021-01-01)
    # last 30 days: 2; days 30-60 before (01-31 .. 03-01): 02-10, 02-20 -> 2; trend 0
    assert a["session_trend_30d"] == 0.0
    assert a["exports_30d"] == 1.0
    assert a["components_adopted"] == 2.0 and a["components_stopped"] == 1.0  # dashboard idle since 01-15
    assert feats.loc["b", "days_since_last_session"] == 55.0  # 02-05 -> 04-01


def test_ticket_features_only_count_resolutions_before_the_cutoff(feats):
    a = feats.loc["a"]
    assert a["tickets_90d"] == 3.0 and a["tickets_financial_30d"] == 1.0
    assert a["unresolved_tickets"] == 1.0  # t2 resolves on 04-02
    assert a["ticket_csat_mean"] == 3.0  # t1 (4) and t4 (2) were resolved and rated by the cutoff; t2 was not
    # t2 has no first-contact resolution either, but that is only known once it is resolved
    assert a["tickets_no_fcr_90d"] == 1.0 and a["bad_tickets_90d"] == 1.0  # t4: no FCR, 30 h, CSAT 2
    b = feats.loc["b"]
    assert b["unresolved_tickets"] == 1.0 and np.isnan(b["ticket_csat_mean"]) and b["tickets_emotional_90d"] == 1.0


def test_message_payment_contact_survey_and_customer_features_match_by_hand(feats):
    a, b = feats.loc["a"], feats.loc["b"]
    # emails settled by the cutoff (sent before 03-30): 03-05 (not opened), 03-15 (opened), 03-25 (not opened)
    assert a["email_open_rate_30d"] == pytest.approx(1 / 3)
    assert a["email_open_rate_14d"] == 0.0  # 03-25 only
    # emails sent 30-120 days before (2020-12-02 .. 03-01): 01-10, 01-20, 02-10, all opened -> 1.0; drop 2/3
    assert a["email_open_rate_drop"] == pytest.approx(2 / 3)
    # promos 01-20 (redeemed) and 03-15; the 03-20 one is within REDEEM_SETTLE_DAYS of the cutoff: left out
    assert a["promo_redeem_rate_90d"] == pytest.approx(1 / 2)
    assert a["unsubscribed"] == 1.0 and a["unsubscribed_30d"] == 1.0  # the 03-20 push
    assert np.isnan(b["email_open_rate_30d"]) and b["unsubscribed"] == 0.0
    assert b["late_payments_90d"] == 1.0  # p1; p3 is still unpaid at the cutoff, so only overdue
    assert b["overdue_invoices"] == 1.0
    # only reached contacts count: the call of 03-22 was not reached, the one of 02-01 was (59 days before 04-01)
    assert a["days_since_last_contact"] == 59.0 and a["reached_contacts_90d"] == 1.0
    assert b["days_since_last_contact"] == b["tenure_days"] == 59.0  # never contacted: days since signup
    assert a["last_nps"] == 3.0 and np.isnan(b["last_nps"]) and a["days_since_last_nps"] == 31.0
    assert b["days_since_last_nps"] == 59.0 and a["last_csat"] == 4.0
    assert a["activated_14d"] == 1.0 and b["activated_14d"] == 0.0
    assert a["tenure_days"] == 90.0 and a["plan"] == "pro" and b["segment"] == "B2C" and b["monthly_fee"] == 10.0


def test_usage_against_own_past_and_segment_norm_match_by_hand(feats):
    a, b = feats.loc["a"], feats.loc["b"]
    assert a["session_ratio_7d_90d"] == pytest.approx(1 / (5 * 7 / 90))  # 1 session in 7 days vs 5 in 90
    assert a["recency_vs_rhythm"] == pytest.approx(4 * 5 / 90)  # 4 days at 5 sessions per 90 days
    assert b["session_ratio_7d_90d"] == 0.0 and b["recency_vs_rhythm"] == pytest.approx(55 / 90)
    assert a["sessions_30d_vs_segment"] == 1.0  # a is the only B2B customer: its own median
    assert np.isnan(b["sessions_30d_vs_segment"])  # the B2C median is 0 sessions


def test_an_event_exactly_at_the_cutoff_is_seen_only_with_include_cutoff(ds):
    with_it = build_features(ds, make_label_times(ds, [CUT], include_cutoff=True)).set_index("customer_id")
    assert with_it.loc["a", "days_since_last_session"] == 0.0
    assert with_it.loc["a", "sessions_7d"] == 2.0


def test_rows_come_back_in_label_time_order_with_one_row_each(ds):
    lt = make_label_times(ds, ["2021-03-01", CUT])
    f = build_features(ds, lt)
    assert f[["customer_id", "cutoff"]].astype(str).values.tolist() == lt.table[["customer_id", "cutoff"]].astype(
        str).values.tolist()


def test_plain_cutoffs_score_the_active_population(ds):
    f = build_features(ds, ["2021-06-30"])
    assert f["customer_id"].tolist() == ["a"]  # b's subscription ended 04-20


def test_empty_cutoffs_raise(ds):
    with pytest.raises(AnalysisError, match="empty"):
        build_features(ds, [])


def test_every_built_feature_has_a_plain_word_description(feats):
    described = set(FEATURE_DESCRIPTIONS)
    assert set(feats.columns) - {"cutoff"} <= described


def test_reason_wording_reads_as_plain_words():
    assert describe_feature("days_since_last_session", 24.0) == "no session for 24 days"
    assert describe_feature("unresolved_tickets", 2.0) == "2 unresolved tickets"
    assert describe_feature("email_open_rate_drop", 0.4) == "email open rate down 40% points"
    assert describe_feature("sessions_14d", 3.0) == "3 sessions in the last 14 days"
    assert describe_feature("plan", "basic") == "plan basic"
    assert describe_feature("contract", "Month-to-month") == "contract = Month-to-month"



def test_recent_signal_features_match_by_hand(feats):
    a, b = feats.loc["a"], feats.loc["b"]
    assert a["days_since_last_export"] == 7.0  # the export of 03-25
    assert b["days_since_last_export"] == b["tenure_days"]  # never exported: days since signup
    assert a["sessions_per_active_day_30d"] == 1.0  # 03-10 and 03-28: 2 sessions on 2 days
    assert np.isnan(b["sessions_per_active_day_30d"])  # no session in the last 30 days
    assert a["bad_tickets_30d"] == 1.0  # t4 resolved on 03-11, within 30 days; t2 not resolved yet
    # settled emails sent since 2021-01-01: 01-10, 01-20, 02-10, 03-15 opened; 03-05, 03-25 not -> 4/6
    assert a["email_open_rate_90d"] == pytest.approx(4 / 6)
    assert a["push_open_rate_30d"] == 1.0  # the 03-20 push was opened
    assert b["days_overdue"] == 4.0 and a["days_overdue"] == 0.0  # p3 due 03-28, unpaid at 04-01
    assert a["manager_calls_30d"] == 1.0  # the unanswered call of 03-22 counts as a call
    assert b["manager_calls_30d"] == 0.0

def _with_rows(base: Dataset, table: str, rows: list[dict]) -> Dataset:
    tables = {k: v.copy() for k, v in base.tables.items()}
    extra = pd.DataFrame(rows).astype({c: tables[table][c].dtype for c in rows[0]})
    tables[table] = pd.concat([tables[table], extra], ignore_index=True)
    return Dataset(base.name, tables, as_of=base.as_of, source="test")


def test_sessions_per_active_day_counts_sessions_over_distinct_days(ds):
    # a third session on 03-28: 3 sessions on 2 days in the 30 days before the cutoff
    more = _with_rows(ds, "events", [{"customer_id": "a", "timestamp": T("2021-03-28 18:00"),
                                      "event_type": "session", "component": None}])
    a = build_features(more, make_label_times(more, [CUT])).set_index("customer_id").loc["a"]
    assert a["sessions_per_active_day_30d"] == 1.5 and a["sessions_30d"] == 3.0


def test_bad_tickets_30d_leaves_out_bad_tickets_resolved_earlier_in_the_90_days(ds):
    # a bad ticket (no FCR, CSAT 1) resolved on 02-16: inside 90 days of the cutoff, not inside 30
    more = _with_rows(ds, "tickets", [{"customer_id": "a", "ticket_id": "t5", "opened_at": T("2021-02-15"),
                                       "line": 1, "category": "technical", "resolved_by_bot": False,
                                       "first_contact_resolution": False, "hours_to_resolve": 30.0, "csat": 1.0}])
    a = build_features(more, make_label_times(more, [CUT])).set_index("customer_id").loc["a"]
    assert a["bad_tickets_90d"] == 2.0 and a["bad_tickets_30d"] == 1.0


def test_days_overdue_is_zero_when_every_invoice_before_the_cutoff_was_paid(ds):
    more = _with_rows(ds, "payments", [{"customer_id": "a", "payment_id": "p4", "due_at": T("2021-03-01"),
                                        "paid_at": T("2021-03-01"), "amount": 50.0, "late": False}])
    f = build_features(more, make_label_times(more, [CUT])).set_index("customer_id")
    assert f.loc["a", "days_overdue"] == 0.0 and f.loc["a", "late_payments_90d"] == 0.0
    assert f.loc["b", "days_overdue"] == 4.0


# ---------------------------------------------------------------- the leakage proof

_STAMPED = {"events": "timestamp", "tickets": "opened_at", "messages": "sent_at", "payments": "due_at",
            "contacts": "contacted_at", "surveys": "answered_at", "funnel": "reached_at"}


def _future_rows(base: Dataset, table: str, seconds_after: list[int], pick: list[int], shuffle_seed: int) -> Dataset:
    """Copy ``base`` with rows of ``table`` stamped after CUT: copies of existing rows, moved and perturbed."""
    tables = {k: v.copy() for k, v in base.tables.items()}
    df = tables[table]
    ts_col = _STAMPED[table]
    new = df.iloc[[i % len(df) for i in pick]].copy()
    new[ts_col] = [CUT + pd.Timedelta(seconds=s) for s in seconds_after]
    rng = np.random.default_rng(shuffle_seed)
    for col in new.columns:
        if col in ("customer_id", ts_col):
            continue
        if new[col].dtype == bool:
            new[col] = rng.random(len(new)) < 0.5
        elif col in ("ticket_id", "payment_id"):
            new[col] = [f"{col}-new-{i}" for i in range(len(new))]
        elif new[col].dtype.kind == "f" and col != "line":
            new[col] = rng.uniform(0, 10, len(new))
    new["customer_id"] = rng.choice(["a", "b"], len(new))
    new["customer_id"] = new["customer_id"].astype("string")
    tables[table] = pd.concat([df, new], ignore_index=True)
    # also change rows already stamped after the cutoff (the tickets/events after 04-01)
    late = tables[table][ts_col] > CUT
    if table == "events":
        tables[table].loc[late, "event_type"] = "session"
    return Dataset(base.name, tables, as_of=base.as_of + pd.Timedelta(days=400), source="test")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    table=st.sampled_from(sorted(_STAMPED)),
    seconds_after=st.lists(st.integers(min_value=1, max_value=200 * 86400), min_size=1, max_size=6),
    pick=st.lists(st.integers(min_value=0, max_value=20), min_size=6, max_size=6),
    seed=st.integers(0, 10_000),
)
def test_rows_stamped_after_the_cutoff_change_no_feature_at_that_cutoff(ds, table, seconds_after, pick, seed):
    lt = make_label_times(ds, [CUT])
    before = build_features(ds, lt)
    changed = _future_rows(ds, table, seconds_after, pick[: len(seconds_after)], seed)
    after = build_features(changed, lt)
    pd.testing.assert_frame_equal(before, after)


def test_the_leakage_check_can_fail_when_a_row_lands_before_the_cutoff(ds):
    lt = make_label_times(ds, [CUT])
    before = build_features(ds, lt)
    changed = _future_rows(ds, "events", [-3600], [0], 0)  # one hour BEFORE the cutoff
    after = build_features(changed, lt)
    assert not before.equals(after)


def test_purchase_only_data_gets_purchase_features_and_no_session_ones():
    customers = pd.DataFrame({"customer_id": _s(["x"]), "signup_at": pd.to_datetime(["2021-01-01"])})
    events = pd.DataFrame({"customer_id": _s(["x", "x"]), "timestamp": pd.to_datetime(["2021-01-01", "2021-03-01"]),
                           "event_type": _s(["purchase", "purchase"]), "amount": [10.0, 30.0]})
    d = Dataset("p", {"customers": customers, "events": events}, as_of=T("2021-06-30"), source="test")
    f = build_features(d, make_label_times(d, [CUT])).iloc[0]
    assert f["purchases_total"] == 2 and f["purchase_amount_mean"] == 20.0 and f["days_since_last_purchase"] == 31
    assert "sessions_30d" not in f.index


def test_snapshot_features_are_the_canonical_attributes_then_the_original_columns():
    customers = pd.DataFrame({"customer_id": _s(["x", "y"]), "signup_at": pd.to_datetime(["2019-01-01", "2019-07-01"]),
                              "churned": [True, False], "plan": _s(["Flex", "Annual"]), "monthly_fee": [1.0, 2.0],
                              "contract": ["m", "y"], "tenure": [3, 4]})
    d = Dataset("s", {"customers": customers}, as_of=T("2020-01-01"), source="test", kind="snapshot",
                metadata={"vocabulary": {"plans": ["Flex", "Annual", "Student"]}})
    f = build_features(d, make_label_times(d))
    # the label (churned) and the keys stay out; a renamed plan and the fee reach the model
    assert list(f.columns) == ["customer_id", "cutoff", "tenure_days", "plan", "monthly_fee", "contract", "tenure"]
    # tenure by hand: 2019-01-01 -> 2020-01-01 is 365 days, 2019-07-01 -> 2020-01-01 is 184 days
    assert f["tenure_days"].tolist() == [365.0, 184.0]
    # a category with the declared plans, in the declared order (what ChurnXGBClassifier encodes)
    assert isinstance(f["plan"].dtype, pd.CategoricalDtype)
    assert list(f["plan"].cat.categories) == ["Flex", "Annual", "Student"] and f["plan"].tolist() == ["Flex", "Annual"]


def test_a_snapshot_attribute_that_copies_an_original_column_is_left_out():
    # Telco's loader sets monthly_fee = monthly_charges and signup_at = tenure months before as_of:
    # both copies carry no information the original columns lack
    n = 40
    tenure = np.arange(n) % 20 + 1  # 20 distinct month counts, more than the 10 the monotone test needs
    customers = pd.DataFrame({
        "customer_id": _s([f"c{i}" for i in range(n)]),
        "signup_at": T("2020-01-01") - pd.to_timedelta(tenure * 30.4375, unit="D").floor("D"),
        "churned": [i % 3 == 0 for i in range(n)], "monthly_fee": np.linspace(20.0, 90.0, n),
        "tenure": tenure, "monthly_charges": np.linspace(20.0, 90.0, n), "calls": (np.arange(n) * 7) % 11})
    d = Dataset("t", {"customers": customers}, as_of=T("2020-01-01"), source="test", kind="snapshot")
    f = build_features(d, make_label_times(d))
    assert list(f.columns) == ["customer_id", "cutoff", "tenure", "monthly_charges", "calls"]


# ---------------------------------------------------------------- a dataset's own vocabulary

#: The hand dataset's values renamed into a vocabulary of its own (a quote, an accent, spaces, case).
OWN_CATEGORIES = {"technical": "it's broken", "financial": "Billing", "emotional": "Réclamation"}
OWN_CHANNELS = {"email": "e-mail", "push": "SMS"}
OWN_STAGES = {"signup": "Sign up", "activation": "Activation"}
OWN_VOCABULARY = {"ticket_categories": list(OWN_CATEGORIES.values()),
                  "message_channels": ["e-mail", "SMS", "WhatsApp"], "email_channels": ["e-mail"],
                  "funnel_stages": ["visit", "demo call", "Sign up", "Activation"]}
#: Feature of the hand dataset -> the same feature under the own vocabulary's column names.
RENAMED = {"tickets_technical_90d": "tickets_it_s_broken_90d", "tickets_financial_90d": "tickets_billing_90d",
           "tickets_emotional_90d": "tickets_reclamation_90d", "tickets_financial_30d": "tickets_billing_30d",
           "push_open_rate_30d": "sms_open_rate_30d"}


def own_vocabulary_dataset(ds: Dataset) -> Dataset:
    tables = dict(ds.tables)
    tables["tickets"] = ds["tickets"].assign(category=ds["tickets"]["category"].map(OWN_CATEGORIES).astype("string"))
    tables["messages"] = ds["messages"].assign(channel=ds["messages"]["channel"].map(OWN_CHANNELS).astype("string"))
    tables["funnel"] = ds["funnel"].assign(stage=ds["funnel"]["stage"].map(OWN_STAGES).astype("string"))
    return Dataset("own", tables, as_of=ds.as_of, source="test", metadata={"vocabulary": OWN_VOCABULARY})


def test_features_follow_the_datasets_own_categories_channels_and_stages(ds, feats):
    own = own_vocabulary_dataset(ds)
    assert validate(own).ok, str(validate(own))
    got = build_features(own, make_label_times(own, [CUT])).set_index("customer_id")
    # the same events under other names give the same values (the hand counts above) under slugged names;
    # WhatsApp sent nothing: its open rate is undefined (NaN), not 0
    expected = feats.rename(columns=RENAMED)
    assert list(got.columns.drop("whatsapp_open_rate_30d")) == list(expected.columns)
    pd.testing.assert_frame_equal(got.drop(columns="whatsapp_open_rate_30d"), expected, check_exact=True)
    assert got["whatsapp_open_rate_30d"].isna().all()
    # by hand: a's billing ticket t2 opened 03-30 is within 30 days; its technical t1 (03-01) and t4 (03-10)
    assert got.loc["a", "tickets_billing_30d"] == 1 and got.loc["a", "tickets_it_s_broken_90d"] == 2
    for col in ("tickets_it_s_broken_90d", "tickets_billing_30d", "sms_open_rate_30d", "whatsapp_open_rate_30d"):
        assert describe_feature(col, 1.0) != f"{col} = 1", col


def test_the_ibis_path_reads_the_same_vocabulary_as_the_sql(ds):
    import ibis

    own = own_vocabulary_dataset(ds)
    lt = make_label_times(own, [CUT])
    pd.testing.assert_frame_equal(build_features(own, lt, backend=ibis.duckdb.connect()), build_features(own, lt),
                                  check_exact=True)


def test_vocabulary_values_that_name_one_column_are_refused():
    from churnlab.features import feature_vocabulary
    from churnlab.vocabulary import Vocabulary

    with pytest.raises(SchemaError, match=r"^vocabulary\.ticket_categories: 'Bug!' and 'bug' give the same"):
        feature_vocabulary(Vocabulary.from_mapping({"ticket_categories": ["bug", "Bug!"]}))
    with pytest.raises(SchemaError, match="'No FCR' and a built-in feature"):
        feature_vocabulary(Vocabulary.from_mapping({"ticket_categories": ["No FCR"]}))


# ---------------------------------------------------------------- engines and where tables lie


@pytest.fixture(scope="module")
def world():
    from churnlab.data.synthetic import generate

    d, _ = generate(400, seed=3)
    return d


@pytest.mark.parametrize("cutoffs, include_cutoff", [
    (["2024-06-01", "2024-09-01"], False),
    (["2024-06-01", "2024-09-01"], True),
    # cutoffs inside a day: the 30-day window then spans 31 calendar dates (the bit-mask distinct count)
    (["2024-07-15 13:30", "2024-10-02 00:00:01"], False),
])
def test_the_duckdb_sql_and_the_ibis_expressions_give_identical_features(world, cutoffs, include_cutoff):
    # the ibis path (the route to other backends) is the previous engine, kept as written; the SQL must
    # reproduce it bit for bit on a world with every table (check_exact: no tolerance)
    import ibis

    rows = build_features(world, [T(c) for c in cutoffs], include_cutoff=include_cutoff)
    by_ibis = build_features(world, rows[["customer_id", "cutoff"]], include_cutoff=include_cutoff,
                             backend=ibis.duckdb.connect())
    assert len(rows) > 300 and rows["sessions_per_active_day_30d"].notna().sum() > 100
    pd.testing.assert_frame_equal(rows, by_ibis, check_exact=True)


def test_event_tables_given_as_parquet_paths_or_duckdb_relations_give_the_same_features(world, tmp_path):
    import duckdb

    lt = make_label_times(world, ["2024-08-01"])
    in_pandas = build_features(world, lt)
    paths = {}
    for name in ("events", "tickets", "messages", "payments", "contacts", "surveys", "funnel"):
        paths[name] = tmp_path / f"{name}.parquet"
        world.tables[name].to_parquet(paths[name], index=False)
    on_disk = Dataset(world.name, {**world.tables, **{k: str(v) for k, v in paths.items()}}, as_of=world.as_of,
                      source="test")
    pd.testing.assert_frame_equal(build_features(on_disk, lt), in_pandas, check_exact=True)
    con = duckdb.connect()
    relations = {"events": con.read_parquet(str(paths["events"]))}
    as_relation = Dataset(world.name, {**world.tables, **relations}, as_of=world.as_of, source="test")
    pd.testing.assert_frame_equal(build_features(as_relation, lt, backend=con), in_pandas, check_exact=True)


def test_a_parquet_events_table_without_event_type_is_named(ds, tmp_path):
    path = tmp_path / "events.parquet"
    ds.tables["events"].drop(columns="event_type").to_parquet(path, index=False)
    broken = Dataset("hand", {**ds.tables, "events": str(path)}, as_of=ds.as_of, source="test")
    with pytest.raises(SchemaError, match=r"^events\.event_type: missing column"):
        build_features(broken, [CUT])


def test_a_relation_from_another_connection_is_refused_with_the_fix(ds, tmp_path):
    import duckdb

    path = tmp_path / "events.parquet"
    ds.tables["events"].to_parquet(path, index=False)
    other = duckdb.connect().read_parquet(str(path))
    d = Dataset("hand", {**ds.tables, "events": other}, as_of=ds.as_of, source="test")
    with pytest.raises(AnalysisError, match="events: the DuckDB relation .* pass the connection"):
        build_features(d, [CUT], backend=duckdb.connect())
