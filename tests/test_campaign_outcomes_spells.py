"""Campaign audiences and outcomes on customer spells: renewals are no churn, a return is a reactivation."""

from __future__ import annotations

import pandas as pd
import pytest

from churnlab.errors import AnalysisError
from churnlab.experiment.campaign import campaign_outcomes, churned_customers, listed_audience, reactivation_outcomes
from churnlab.schema import Dataset

T = pd.Timestamp("2024-07-01")
D = pd.Timestamp


def shop() -> Dataset:
    """Hand-made subscriptions around the campaign date ``T``.

    a: renews exactly at T + 20 d and stays (one spell: retained); b: ends at T + 45 d (churned on day 45);
    c: ended at T - 30 d (price) and comes back at T + 10 d; d: ended at T - 200 d (other);
    e: ended at T - 10 d, renewed back to back from T - 40 d (one spell ending at T - 10 d, competitor).
    """
    rows = [("a", "a1", D("2024-01-01"), T + pd.Timedelta(days=20), None),
            ("a", "a2", T + pd.Timedelta(days=20), pd.NaT, None),
            ("b", "b1", D("2024-02-01"), T + pd.Timedelta(days=45), "product"),
            ("c", "c1", D("2024-01-15"), T - pd.Timedelta(days=30), "price"),
            ("c", "c2", T + pd.Timedelta(days=10), pd.NaT, None),
            ("d", "d1", D("2023-06-01"), T - pd.Timedelta(days=200), "other"),
            ("e", "e1", D("2024-03-01"), T - pd.Timedelta(days=40), None),
            ("e", "e2", T - pd.Timedelta(days=40), T - pd.Timedelta(days=10), "competitor")]
    subs = pd.DataFrame(rows, columns=["customer_id", "subscription_id", "start_at", "end_at", "churn_reason"])
    customers = pd.DataFrame({"customer_id": list("abcde"), "signup_at": D("2023-06-01")})
    pay = pd.DataFrame({"customer_id": ["a", "a", "b"], "payment_id": ["p1", "p2", "p3"],
                        "due_at": [T + pd.Timedelta(days=5), T + pd.Timedelta(days=95), T + pd.Timedelta(days=5)],
                        "paid_at": [T + pd.Timedelta(days=6), T + pd.Timedelta(days=96), T + pd.Timedelta(days=6)],
                        "amount": [10.0, 10.0, 30.0], "late": False})
    return Dataset("shop", {"customers": customers, "subscriptions": subs, "payments": pay},
                   as_of=T + pd.Timedelta(days=100), source="test")


def test_the_win_back_audience_is_who_had_churned_by_the_campaign_date_with_when_and_why():
    lost = churned_customers(shop(), T, within_days=180).set_index("customer_id")
    # c and e churned within 180 days (e's renewal is one spell ending at T - 10 d); d left 200 days before;
    # c's return after T is not known at T
    assert list(lost.index) == ["c", "e"]
    assert lost.loc["e", "churned_at"] == T - pd.Timedelta(days=10) and lost.loc["e", "churn_reason"] == "competitor"
    assert lost.loc["c", "churn_reason"] == "price"
    assert list(churned_customers(shop(), T, within_days=None)["customer_id"]) == ["c", "d", "e"]


def test_a_renewal_after_the_campaign_is_no_churn_and_a_cancellation_is_dated():
    out = campaign_outcomes(shop(), pd.DataFrame({"customer_id": ["a", "b"], "arm": ["none", "bonus"]}), T,
                            horizons=(30, 60, 90)).set_index("customer_id")
    # a renews at day 20 (back to back): retained at every horizon; b ends at day 45: retained at 30 only
    assert out.loc["a", ["retained_30", "retained_60", "retained_90"]].tolist() == [1.0, 1.0, 1.0]
    assert out.loc["b", ["retained_30", "retained_60", "retained_90"]].tolist() == [1.0, 0.0, 0.0]
    assert out.loc["b", "duration"] == 45 and bool(out.loc["b", "event"]) is True
    assert out.loc["a", "duration"] == 90 and bool(out.loc["a", "event"]) is False
    # revenue paid in (T, T + 90 d]: a's first invoice only (the second is paid on day 96)
    assert out.loc["a", "revenue"] == 10.0 and out.loc["b", "revenue"] == 30.0


def test_retention_outcomes_refuse_customers_who_were_not_active_at_the_campaign_date():
    with pytest.raises(AnalysisError, match="not active at the campaign date"):
        campaign_outcomes(shop(), pd.DataFrame({"customer_id": ["a", "c"], "arm": ["none", "bonus"]}), T)
    with pytest.raises(AnalysisError, match="before the last horizon"):
        campaign_outcomes(shop(), pd.DataFrame({"customer_id": ["a"], "arm": ["none"]}), T, horizons=(120,))


def test_a_new_spell_within_the_horizon_is_a_reactivation():
    won = reactivation_outcomes(shop(), pd.DataFrame({"customer_id": ["c", "d", "e"], "arm": ["bonus"] * 3}), T,
                                horizon_days=90)
    assert won.set_index("customer_id")["reactivated"].to_dict() == {"c": 1.0, "d": 0.0, "e": 0.0}
    with pytest.raises(AnalysisError, match="before the win-back horizon"):
        reactivation_outcomes(shop(), pd.DataFrame({"customer_id": ["c"], "arm": ["bonus"]}), T, horizon_days=200)


def test_an_analysts_list_keeps_only_customers_active_at_the_campaign_date(tmp_path):
    path = tmp_path / "list.csv"
    pd.DataFrame({"customer_id": ["a", "b", "c", "zz"], "risk_score": [0.2, 0.9, 0.5, 0.1]}).to_csv(path, index=False)
    aud = listed_audience(shop(), path, T)
    assert aud["customer_id"].tolist() == ["b", "a"] and aud.attrs["not_active"] == 2
    assert aud["risk_decile"].tolist() == [10, 5]
    pd.DataFrame({"id": ["a"]}).to_csv(path, index=False)
    with pytest.raises(AnalysisError, match="customer_id column"):
        listed_audience(shop(), path, T)
