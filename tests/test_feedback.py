"""NPS, CSAT and exit surveys: by hand, by simulation, against scikit-learn and the synthetic world's truth."""

import numpy as np
import pandas as pd
import pytest

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.patterns.feedback import cohen_kappa, csat_trend, exit_agreement, exit_reasons, nps_score, nps_table
from churnlab.schema import Dataset

T = pd.Timestamp


def _surveys(rows):
    return pd.DataFrame(rows, columns=["customer_id", "answered_at", "kind", "score", "reason"]).astype(
        {"reason": "string"})


def test_nps_by_month_and_segment_by_hand():
    s = _surveys([("a", T("2024-01-05"), "nps", 10, None), ("b", T("2024-01-06"), "nps", 9, None),
                  ("c", T("2024-01-07"), "nps", 8, None), ("d", T("2024-01-08"), "nps", 6, None),
                  ("a", T("2024-02-05"), "nps", 0, None), ("b", T("2024-02-06"), "nps", 10, None),
                  ("c", T("2024-03-01"), "nps", 10, None)])
    cust = pd.DataFrame({"customer_id": list("abcd"), "signup_at": T("2023-01-01"), "segment": ["B2B"] * 2 + ["B2C"] * 2})
    ds = Dataset("n", {"customers": cust, "surveys": s}, as_of="2024-03-31", source="test")
    monthly = nps_table(ds, "2024-03-01").set_index("period_start")  # the March answer is at the cutoff: not read
    # January: 2 promoters, 1 passive, 1 detractor of 4 -> 25; February: 1 and 1 of 2 -> 0
    assert monthly["nps"].tolist() == [25.0, 0.0] and monthly["n"].tolist() == [4, 2]
    # the interval: Var = (p_P + p_D - (p_P - p_D)^2) / n = (0.5 + 0.25 - 0.0625) / 4
    half = 1.959964 * np.sqrt((0.75 - 0.0625) / 4) * 100
    assert monthly["ci_upper"].iloc[0] == pytest.approx(min(25 + half, 100), rel=1e-5)
    seg = nps_table(ds, "2024-03-01", freq=None, by="segment").set_index("segment")
    # B2B: 10, 9, 0, 10 -> 3 promoters, 1 detractor of 4 = 50; B2C: 8, 6 -> 0 promoters, 1 detractor of 2 = -50
    assert seg["nps"].to_dict() == {"B2B": 50.0, "B2C": -50.0}


def test_nps_interval_covers_the_true_score_95_percent_of_the_time():
    # simulation: multinomial answers with P(promoter) 0.4, P(detractor) 0.3 -> true NPS 10; 4,000 samples of 150
    rng = np.random.default_rng(0)
    draws = rng.multinomial(150, [0.4, 0.3, 0.3], size=4000)
    _, lo, hi = nps_score(draws[:, 0], draws[:, 2], 150)
    coverage = np.mean((lo <= 10) & (10 <= hi))
    # binomial sd of the coverage at 4,000 draws is 0.0034: allow about 3 sd around 0.95
    assert 0.94 <= coverage <= 0.96


def test_csat_trend_by_hand_and_from_tickets_when_surveys_have_none():
    s = _surveys([("a", T("2024-01-05"), "csat", 5, None), ("b", T("2024-01-06"), "csat", 3, None),
                  ("a", T("2024-02-05"), "csat", 4, None), ("b", T("2024-02-06"), "csat", 4, None)])
    ds = Dataset("c", {"surveys": s}, as_of="2024-03-01", source="test")
    t = csat_trend(ds, "2024-03-01")
    assert t["csat_mean"].tolist() == [4.0, 4.0] and t["share_satisfied"].tolist() == [0.5, 1.0]
    tickets = pd.DataFrame({"customer_id": ["a", "b"], "opened_at": [T("2024-01-01"), T("2024-01-31 20:00")],
                            "hours_to_resolve": [2.0, 10.0], "csat": [2.0, 5.0]})
    t2 = csat_trend(Dataset("t", {"tickets": tickets}, as_of="2024-03-01", source="test"), "2024-03-01")
    # dated by resolution: the second rating lands on 1 February
    assert t2["period_start"].dt.month.tolist() == [1, 2] and t2["source"].iloc[0] == "tickets"
    with pytest.raises(AnalysisError):
        csat_trend(Dataset("e", {"surveys": s}, as_of="2024-03-01", source="test"), "2024-01-01")


def _exit_world():
    subs = pd.DataFrame({
        "customer_id": list("abcde"), "subscription_id": list("12345"),
        "start_at": T("2023-01-01"), "end_at": [T("2024-01-10"), T("2024-01-20"), T("2024-02-01"), T("2024-02-10"),
                                                  T("2024-02-15")],
        "churn_reason": pd.Series(["price", "price", "product", "service", "moved"], dtype="string")})
    s = _surveys([("a", T("2024-01-10"), "exit", np.nan, "price"), ("b", T("2024-01-21"), "exit", np.nan, "competitor"),
                  ("c", T("2024-02-01"), "exit", np.nan, "product"), ("d", T("2024-02-10"), "exit", np.nan, "service"),
                  ("e", T("2024-06-01"), "exit", np.nan, "moved")])  # e answers months later: no match
    cust = pd.DataFrame({"customer_id": list("abcde"), "signup_at": T("2023-01-01")})
    return Dataset("x", {"customers": cust, "subscriptions": subs, "surveys": s}, as_of="2024-07-01", source="test")


def test_exit_answers_against_recorded_reasons_by_hand():
    ds = _exit_world()
    res = exit_agreement(ds, "2024-07-01")
    assert (res.n, res.agree, res.unmatched) == (4, 3, 1)
    assert res.agreement == 0.75
    assert res.confusion.loc["price", "competitor"] == 1 and res.confusion.loc["price", "price"] == 1
    assert res.by_reason.set_index("churn_reason")["rate"].to_dict() == {"price": 0.5, "product": 1.0, "service": 1.0}
    assert "75.0% of 4" in repr(res)
    reasons = exit_reasons(ds, "2024-07-01").set_index("reason")
    assert reasons["n"].sum() == 5 and reasons.loc["price", "share"] == 0.2


def test_kappa_matches_scikit_learn():
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(1)
    a = rng.integers(0, 4, 500)
    b = np.where(rng.random(500) < 0.6, a, rng.integers(0, 4, 500))
    table = pd.crosstab(a, b)
    assert cohen_kappa(table) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


def test_world_exit_answers_agree_with_the_truth_at_the_rate_it_was_built_with():
    synthetic = pytest.importorskip("churnlab.data.synthetic")
    from churnlab.data.synthetic.tables import EXIT_TRUTHFUL

    ds, truth = synthetic.generate(4000, seed=2)
    res = exit_agreement(ds, ds.as_of)
    expected = EXIT_TRUTHFUL + (1 - EXIT_TRUTHFUL) / len(C.CHURN_REASONS)  # 0.7917: a random answer can be right
    assert res.unmatched == 0 and res.n > 400
    # a 99.9% Wilson interval of the agreement covers the built-in rate
    from churnlab.intervals import wilson_interval

    lo, hi = wilson_interval(res.agree, res.n, 0.001)
    assert lo <= expected <= hi
    # the world records the true reason on the subscription, so agreement with the recorded reason is agreement
    # with the truth: join each answer to the truth's primary driver of that churn (same customer, same moment)
    prim = truth.drivers[truth.drivers["primary"]].drop_duplicates(["customer_id", "churned_at"])
    exits = ds["surveys"][ds["surveys"]["kind"] == "exit"]
    joined = exits.merge(prim, left_on=["customer_id", "answered_at"], right_on=["customer_id", "churned_at"])
    assert len(joined) == res.n
    assert (joined["reason"] == joined["churn_reason"]).sum() == res.agree
