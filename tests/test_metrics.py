"""Churn metrics on tiny hand-made frames, with hand-computed answers, and their properties."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnlab import metrics as M
from churnlab.errors import AnalysisError, MissingTableError
from churnlab.intervals import newcombe_difference_interval, two_proportion_z_test, wilson_interval
from churnlab.schema import Dataset


def _dataset(subs: pd.DataFrame, as_of="2024-06-30", fees=None) -> Dataset:
    ids = sorted(subs["customer_id"].unique())
    customers = pd.DataFrame({"customer_id": ids,
                              "signup_at": subs.groupby("customer_id")["start_at"].min().reindex(ids).to_numpy(),
                              "segment": ["B2B" if i % 2 else "B2C" for i in range(len(ids))]})
    if fees is not None:
        customers["monthly_fee"] = fees
    subs = subs.assign(subscription_id=[f"s{i}" for i in range(len(subs))])
    if "churn_reason" not in subs:
        subs["churn_reason"] = None
    return Dataset("tiny", {"customers": customers, "subscriptions": subs}, as_of=as_of, source="test")


def _subs(rows):
    return pd.DataFrame(rows, columns=["customer_id", "start_at", "end_at"]).assign(
        start_at=lambda d: pd.to_datetime(d["start_at"]), end_at=lambda d: pd.to_datetime(d["end_at"]))


def test_first_formula_gives_20_percent_for_1000_to_800():
    # DOMAIN.md: (1000 - 800) / 1000 = 0.20
    assert M.churn_rate_net(1000, 800) == pytest.approx(0.20)


def test_second_formula_gives_70_percent_with_500_new():
    # DOMAIN.md: (1000 + 500 - 800) / 1000 = 0.70
    assert M.churn_rate_gross(1000, 800, 500) == pytest.approx(0.70)


def test_retention_reactivation_and_revenue_churn_by_hand():
    assert M.retention_rate(1000, 800, 500) == pytest.approx(0.30)  # (800 - 500) / 1000
    assert M.reactivation_rate(15, 300) == pytest.approx(0.05)  # 15 / 300
    assert M.revenue_churn_rate(250.0, 5000.0) == pytest.approx(0.05)  # 250 / 5000
    assert np.isnan(M.churn_rate_net(0, 0))


def test_period_counts_on_a_hand_built_month():
    # March 2024: a, b, c active on 1 March; c leaves 10 March; d joins 5 March; e returns 20 March after
    # an earlier spell that ended in January. C_start=3 (a,b,c), C_new=2 (d,e), C_end=4 (a,b,d,e).
    subs = _subs([("a", "2024-01-01", None), ("b", "2024-01-15", None), ("c", "2024-02-01", "2024-03-10"),
                  ("d", "2024-03-05", None), ("e", "2024-01-02", "2024-01-20"), ("e", "2024-03-20", None)])
    ds = _dataset(subs, fees=[10.0, 20.0, 30.0, 40.0, 50.0])
    table = M.churn_over_time(ds, "2024-04-01")
    march = table[table["period_start"] == pd.Timestamp("2024-03-01")].iloc[0]
    assert (march.c_start, march.c_new, march.c_end, march.churned) == (3, 2, 4, 1)
    assert march.churn_rate_net == pytest.approx((3 - 4) / 3)
    assert march.churn_rate_gross == pytest.approx((3 + 2 - 4) / 3)
    assert march.churn_rate == pytest.approx(1 / 3)
    assert march.retention_rate == pytest.approx((4 - 2) / 3)
    assert (march.lapsed, march.reactivated, march.reactivation_rate) == (1, 1, 1.0)  # e lapsed and came back
    assert march.revenue_churn_rate == pytest.approx(30.0 / (10 + 20 + 30))  # c's fee over a+b+c's


def test_back_to_back_renewals_are_one_spell_not_a_churn():
    subs = _subs([("a", "2024-01-01", "2024-02-01"), ("a", "2024-02-01", "2024-03-01"), ("a", "2024-03-01", None)])
    spells = M.customer_spells(subs)
    assert len(spells) == 1 and pd.isna(spells["end_at"].iloc[0])


def test_an_end_after_the_cutoff_is_unknown_at_the_cutoff():
    subs = _subs([("a", "2024-01-01", "2024-05-01")])
    assert pd.isna(M.customer_spells(subs, "2024-04-01")["end_at"].iloc[0])
    assert M.customer_spells(subs, "2024-06-01")["end_at"].iloc[0] == pd.Timestamp("2024-05-01")


def test_churn_outcome_labels_only_churn_inside_the_horizon():
    subs = _subs([("a", "2024-01-01", "2024-04-10"), ("b", "2024-01-01", "2024-05-15"), ("c", "2024-01-01", None),
                  ("d", "2024-04-02", None)])
    out = M.churn_outcome(_dataset(subs), "2024-04-01", horizon_days=30).set_index("customer_id")["label"]
    assert out.to_dict() == {"a": 1, "b": 0, "c": 0}  # d started after the cutoff


def test_churn_outcome_refuses_a_window_past_as_of():
    subs = _subs([("a", "2024-01-01", None)])
    with pytest.raises(AnalysisError, match="as_of"):
        M.churn_outcome(_dataset(subs, as_of="2024-04-15"), "2024-04-01", horizon_days=30)


def test_cohort_matrix_leaves_unobservable_cells_empty_not_zero():
    subs = _subs([("a", "2024-01-05", "2024-02-20"), ("b", "2024-01-10", None), ("c", "2024-03-03", "2024-03-20")])
    m = M.cohort_retention(_dataset(subs), "2024-04-15")
    # January cohort (a, b): end of Jan both active; end of Feb only b; end of Mar b.
    assert m.loc[pd.Timestamp("2024-01-01")].tolist() == [1.0, 0.5, 0.5]
    # March cohort (c): end of March c gone -> 0.0 observed; April end (May 1) is after the cutoff -> NaN.
    march = m.loc[pd.Timestamp("2024-03-01")]
    assert march[0] == 0.0 and march[1:].isna().all()


def test_kaplan_meier_matches_a_hand_computation():
    # times 2, 3(censored), 4, 4, 6 ; S(2)=4/5, S(4)=4/5*(1-2/3)=4/15, S(6)=0
    km = M.kaplan_meier([2, 3, 4, 4, 6], [True, False, True, True, True])
    s = km.set_index("time")["survival"]
    assert s[2.0] == pytest.approx(0.8) and s[3.0] == pytest.approx(0.8)
    assert s[4.0] == pytest.approx(4 / 15) and s[6.0] == pytest.approx(0.0)
    # Greenwood at t=2: V = 1/(5*4) = 0.05; log-log lower = 0.8 ** exp(1.96 * sqrt(0.05) / |log 0.8|)
    se = np.sqrt(0.05) / abs(np.log(0.8))
    assert km.set_index("time").loc[2.0, "ci_lower"] == pytest.approx(0.8 ** np.exp(1.959964 * se), rel=1e-6)


def test_median_lifetime_per_segment_is_where_survival_reaches_one_half():
    lifetimes = pd.DataFrame({"duration_days": [10, 20, 30, 40, 5, 50, 60, 70],
                              "observed": [True, True, True, True, True, False, False, False],
                              "segment": ["B2B"] * 4 + ["B2C"] * 4})
    med = M.median_lifetime(M.survival_by(lifetimes, "segment")).set_index("group")
    assert med.loc["B2B", "median_days"] == 20.0  # S: .75, .5 at 20
    assert np.isnan(med.loc["B2C", "median_days"])  # only 1 of 4 churned: never reaches 0.5


def test_churn_rate_by_and_reasons_count_by_hand():
    subs = _subs([("a", "2024-01-01", "2024-02-01"), ("b", "2024-01-01", "2024-02-10"), ("c", "2024-01-01", None)])
    subs["churn_reason"] = ["price", "price", None]
    reasons = M.churn_reasons(_dataset(subs)).set_index("churn_reason")
    assert reasons.loc["price", "n"] == 2 and reasons.loc["price", "share"] == 1.0


def test_missing_subscriptions_is_a_named_error():
    ds = Dataset("x", {"customers": pd.DataFrame({"customer_id": ["a"], "signup_at": pd.to_datetime(["2024-01-01"])})},
                 as_of="2024-02-01", source="test")
    with pytest.raises(MissingTableError, match="subscriptions"):
        M.churn_over_time(ds)


def test_wilson_and_newcombe_reproduce_newcombe_1998():
    lo, hi = wilson_interval(81, 263)  # Newcombe (1998a) Table I: 0.2553, 0.3662
    assert (float(lo), float(hi)) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    lo, hi = newcombe_difference_interval(56, 70, 48, 80)  # Newcombe (1998b) method 10: 0.0524, 0.3339
    assert (float(lo), float(hi)) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    z, p = two_proportion_z_test(56, 70, 48, 80)  # chi-square without correction: X2 = 7.0234
    assert float(z) ** 2 == pytest.approx(7.0234, abs=1e-3)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 150), st.integers(1, 120), st.booleans()), min_size=1, max_size=12))
def test_rates_stay_in_bounds_and_km_is_monotone(rows):
    start = pd.Timestamp("2024-01-01")
    subs = _subs([(f"c{i}", start + pd.Timedelta(days=s), (start + pd.Timedelta(days=s + d)) if ended else None)
                  for i, (s, d, ended) in enumerate(rows)])
    ds = _dataset(subs, as_of="2024-10-31")
    table = M.churn_over_time(ds, "2024-10-31")
    # retention_rate = (C_end - C_new) / C_start is left out: it goes negative when new customers leave.
    for col in ["churn_rate", "reactivation_rate", "revenue_churn_rate", "ci_lower", "ci_upper"]:
        v = table[col].dropna()
        assert ((v >= 0) & (v <= 1)).all(), col
    m = M.cohort_retention(ds, "2024-10-31")
    assert m.shape[0] == subs["start_at"].dt.to_period("M").nunique()
    vals = m.to_numpy()[~np.isnan(m.to_numpy())]
    assert ((vals >= 0) & (vals <= 1)).all()
    for c0, row in m.iterrows():  # every cell after the cutoff is NaN, every earlier one is a number
        for k, v in row.items():
            observable = c0 + pd.DateOffset(months=k + 1) <= pd.Timestamp("2024-10-31")
            assert np.isnan(v) != observable
    km = M.customer_lifetimes(ds, "2024-10-31")
    s = M.kaplan_meier(km["duration_days"], km["observed"])["survival"].to_numpy()
    assert (np.diff(s) <= 1e-12).all() and (s >= 0).all() and (s <= 1).all()
