"""Pre-campaign covariates for CUPED and uplift: hand-computed values, point in time, what an analyst sees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.errors import AnalysisError
from churnlab.experiment.campaign import UPLIFT_FEATURES, pre_period_covariates
from churnlab.schema import Dataset

T = pd.Timestamp("2024-07-01")


def _ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s)


def tiny() -> Dataset:
    """Two customers, a handful of sessions, payments and messages before and after ``T``."""
    customers = pd.DataFrame({
        "customer_id": ["a", "b"], "signup_at": [_ts("2024-01-01"), _ts("2024-06-01")],
        "segment": ["B2B", "B2C"], "plan": ["enterprise", "basic"], "monthly_fee": [100.0, 10.0],
        "do_not_disturb": [False, True],
    })
    events = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "b"],
        "timestamp": [_ts("2024-06-20"), _ts("2024-05-01"), _ts("2024-07-02"), _ts("2024-06-30 23:00"),
                      _ts("2024-03-01")],
        "event_type": ["session"] * 5,
    })
    payments = pd.DataFrame({
        "customer_id": ["a", "a", "b", "b", "b"],
        "due_at": [_ts("2024-06-01"), _ts("2024-05-01"), _ts("2024-06-10"), _ts("2024-06-20"), _ts("2023-06-01")],
        "paid_at": [_ts("2024-06-02"), _ts("2024-05-20"), _ts("2024-06-25"), _ts("2024-07-05"), _ts("2023-06-20")],
        "amount": [100.0, 100.0, 10.0, 10.0, 10.0],
        "late": [False, True, True, True, True],
    })
    messages = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "b", "b", "b"],
        "sent_at": [_ts("2024-06-03"), _ts("2024-06-10"), _ts("2024-02-01"), _ts("2024-03-01"), _ts("2024-04-01"),
                    _ts("2024-07-03"), _ts("2024-06-17")],
        "channel": ["email"] * 7,
        "kind": ["newsletter", "newsletter", "promo", "promo", "promo", "promo", "newsletter"],
        "offer": [None, None, "bonus", "discount", "discount", "discount", None],
        "opened": [True, False, True, True, True, True, False],
        "clicked": [False, False, True, True, True, True, False],
        "unsubscribed": [False] * 7,
        "redeemed": [False, False, False, True, False, True, False],
    })
    return Dataset("tiny", {"customers": customers, "events": events, "payments": payments, "messages": messages},
                   as_of=_ts("2024-08-01"), source="test")


def test_covariates_match_a_hand_count_of_the_days_before_the_campaign():
    cov = pre_period_covariates(tiny(), ["a", "b"], T).set_index("customer_id")
    # a: sessions on 06-20 (30 and 90 days) and 05-01 (90 days); the 07-02 session is after the campaign
    assert cov.loc["a", ["pre_sessions_30", "pre_sessions_90"]].tolist() == [1.0, 2.0]
    assert cov.loc["b", ["pre_sessions_30", "pre_sessions_90"]].tolist() == [1.0, 1.0]
    assert cov.loc["a", "pre_paid_90"] == 200.0 and cov.loc["b", "pre_paid_90"] == 10.0
    assert cov.loc["a", "tenure_days"] == (T - _ts("2024-01-01")).days
    assert cov["is_b2b"].tolist() == [1.0, 0.0]
    assert cov["plan_tier"].tolist() == [2.0, 0.0]  # enterprise, basic in config.PLANS order
    assert cov["do_not_disturb"].tolist() == [0.0, 1.0]
    # late payments counted once paid, within the year before: a's May invoice; b's June one (the July one is
    # paid after the campaign, the 2023 one is more than a year before)
    assert cov["late_payments_365"].tolist() == [1.0, 1.0]
    # promos clicked (a: one bonus; b: two discounts before, one after), discount promos redeemed
    assert cov["promo_clicks_365"].tolist() == [1.0, 2.0]
    assert cov["discount_redemptions_365"].tolist() == [0.0, 1.0]
    # newsletters opened in the 90 days: a one of two, b none of one
    assert cov["email_open_rate_90"].tolist() == [0.5, 0.0]


def test_changing_data_after_the_campaign_date_changes_no_covariate():
    ds = tiny()
    before = pre_period_covariates(ds, ["a", "b"], T)
    tables = {k: v.copy() for k, v in ds.tables.items()}
    for name, col in (("events", "timestamp"), ("payments", "paid_at"), ("messages", "sent_at")):
        after = tables[name][col] >= T
        assert after.any()
        tables[name] = pd.concat([tables[name], tables[name][after]], ignore_index=True)  # more of the future
    tables["messages"].loc[tables["messages"]["sent_at"] >= T, "redeemed"] = False
    tables["payments"].loc[tables["payments"]["paid_at"] >= T, "late"] = False
    changed = Dataset("tiny", tables, as_of=ds.as_of, source="test")
    pd.testing.assert_frame_equal(before, pre_period_covariates(changed, ["a", "b"], T))


def test_without_a_messages_table_the_message_covariates_are_missing_not_zero():
    ds = tiny()
    no_msg = Dataset("tiny", {k: v for k, v in ds.tables.items() if k != "messages"}, as_of=ds.as_of, source="t")
    cov = pre_period_covariates(no_msg, ["a", "b"], T)
    for col in ("promo_clicks_365", "discount_redemptions_365", "email_open_rate_90"):
        assert cov[col].isna().all(), col
    assert cov["late_payments_365"].tolist() == [1.0, 1.0]


def test_every_uplift_feature_is_a_numeric_covariate_or_the_risk_score():
    cov = pre_period_covariates(tiny(), ["a", "b"], T)
    for name in UPLIFT_FEATURES:
        if name != "risk_score":
            assert np.issubdtype(cov[name].dtype, np.number), name


def test_a_customer_without_a_record_raises_a_named_error():
    with pytest.raises(AnalysisError, match="no pre-period data"):
        pre_period_covariates(tiny(), ["a", "zz"], T)


def test_responses_not_settled_by_the_campaign_date_do_not_count():
    ds = tiny()
    before = pre_period_covariates(ds, ["a", "b"], T).set_index("customer_id")
    tables = {k: v.copy() for k, v in ds.tables.items()}
    # an opened newsletter a day before the campaign and a redeemed discount promo a week before: their flags sit
    # on rows sent before the campaign date, but the opening and the redemption may come after it
    late = pd.DataFrame({
        "customer_id": ["a", "b"], "sent_at": [_ts("2024-06-30"), _ts("2024-06-24")], "channel": ["email"] * 2,
        "kind": ["newsletter", "promo"], "offer": [None, "discount"], "opened": [True, True],
        "clicked": [False, True], "unsubscribed": [False, False], "redeemed": [False, True],
    })
    tables["messages"] = pd.concat([tables["messages"], late], ignore_index=True)
    after = pre_period_covariates(Dataset("tiny", tables, as_of=ds.as_of, source="test"), ["a", "b"], T)
    after = after.set_index("customer_id")
    assert after.loc["a", "email_open_rate_90"] == before.loc["a", "email_open_rate_90"] == 0.5
    assert after.loc["b", "discount_redemptions_365"] == before.loc["b", "discount_redemptions_365"] == 1.0
    # the promo is a week old: its click has settled (OPEN_SETTLE_DAYS), its redemption has not
    assert after.loc["b", "promo_clicks_365"] == before.loc["b", "promo_clicks_365"] + 1


def test_a_messages_table_without_offers_or_redemptions_leaves_those_covariates_missing():
    ds = tiny()
    tables = {k: v.copy() for k, v in ds.tables.items()}
    tables["messages"] = tables["messages"].drop(columns=["offer", "redeemed"])
    cov = pre_period_covariates(Dataset("tiny", tables, as_of=ds.as_of, source="test"), ["a", "b"], T)
    assert cov["discount_redemptions_365"].isna().all()
    assert cov["promo_clicks_365"].tolist() == [1.0, 2.0]
