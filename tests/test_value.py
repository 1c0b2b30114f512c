"""Customer value: survival with delayed entry, restricted means, LTV, concentration, churn cuts, benchmarks."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from churnlab.errors import AnalysisError
from churnlab.metrics import kaplan_meier
from churnlab.patterns.lifetime import DAYS_PER_MONTH, km_with_entry, remaining_lifetime, restricted_mean
from churnlab.patterns.value import (
    INDUSTRY_MONTHLY_CHURN,
    add_value,
    churn_cut_value,
    churn_vs_benchmarks,
    customer_values,
    lifetime_value,
    revenue_churn,
    revenue_concentration,
    top_share,
)
from churnlab.schema import Dataset

T = pd.Timestamp
M = pd.Timedelta(days=DAYS_PER_MONTH)


def test_km_with_no_delayed_entry_is_the_ordinary_kaplan_meier_and_matches_scipy():
    rng = np.random.default_rng(3)
    t = np.round(rng.exponential(100, 300), 1)
    e = rng.random(300) < 0.7
    ours = km_with_entry(t, e)
    pd.testing.assert_frame_equal(ours, kaplan_meier(t, e))
    # scipy.stats.ecdf on right-censored data is the Kaplan-Meier estimator (lifelines needs pandas < 3)
    ref = stats.ecdf(stats.CensoredData(uncensored=t[e], right=t[~e]))
    grid = ours["time"].to_numpy()[1:]
    assert np.allclose(ours["survival"].to_numpy()[1:], ref.sf.evaluate(grid), atol=1e-12)


def test_restricted_mean_and_its_greenwood_variance_by_hand():
    # S = 1 on [0,1), 0.75 on [1,2), 0.5 on [2,3), 0 after: area to 3 = 1 + 0.75 + 0.5 = 2.25.
    # Var = A1^2 d1/(n1(n1-d1)) + A2^2 d2/(n2(n2-d2)) = 1.25^2/12 + 0.5^2/6 = 0.171875 (the t=3 term has n = d).
    r = restricted_mean(kaplan_meier([1, 2, 2, 3], [True, True, False, True]), 3.0)
    assert r["rmst"] == pytest.approx(2.25)
    assert r["se"] == pytest.approx(np.sqrt(0.171875))
    assert not r["extrapolated"]
    assert restricted_mean(kaplan_meier([1, 2], [True, False]), 5.0)["extrapolated"]


def test_restricted_mean_equals_the_area_under_scipys_survival_function():
    rng = np.random.default_rng(5)
    t = rng.exponential(50, 400)
    e = rng.random(400) < 0.8
    ref = stats.ecdf(stats.CensoredData(uncensored=t[e], right=t[~e]))
    grid = np.linspace(0, 60, 600_001)
    area = np.sum(ref.sf.evaluate(grid[:-1]) * np.diff(grid))  # left Riemann sum of a right-continuous step
    assert restricted_mean(kaplan_meier(t, e), 60.0)["rmst"] == pytest.approx(area, abs=1e-3)


def test_delayed_entry_recovers_the_true_survival_that_naive_kaplan_meier_overstates():
    # exponential lifetimes (mean 365 d), customers start up to 3 years before observation begins; those who left
    # before it are never seen. True S(180) = exp(-180/365) = 0.6107.
    rng = np.random.default_rng(11)
    n = 20_000
    start = -rng.uniform(0, 3 * 365, n)
    life = rng.exponential(365, n)
    seen = start + life > 0
    entry = np.clip(-start[seen], 0, None)
    dur = np.minimum(life[seen], entry + 365)
    obs = life[seen] <= entry + 365
    truth = np.exp(-180 / 365)
    with_entry = km_with_entry(dur, obs, entry)
    s180 = with_entry.loc[with_entry["time"] <= 180, "survival"].iloc[-1]
    naive = kaplan_meier(dur, obs)
    n180 = naive.loc[naive["time"] <= 180, "survival"].iloc[-1]
    assert s180 == pytest.approx(truth, abs=0.02)
    assert n180 > truth + 0.1


def test_an_entry_after_the_duration_is_refused():
    with pytest.raises(AnalysisError, match="after their duration"):
        km_with_entry([5.0], [True], [6.0])


def _value_world():
    """Two churned customers of 1 and 3 months (fees 10, 30), one active for half a month (fee 20)."""
    s0 = T("2024-01-01")
    customers = pd.DataFrame({"customer_id": list("abc"), "signup_at": [s0, s0, s0 + 4 * M],
                              "segment": "B2B", "monthly_fee": [10.0, 30.0, 20.0]})
    subs = pd.DataFrame({"customer_id": list("abc"), "subscription_id": ["s1", "s2", "s3"],
                         "start_at": [s0, s0, s0 + 4 * M], "end_at": [s0 + M, s0 + 3 * M, pd.NaT],
                         "churn_reason": pd.Series(["price", "other", None], dtype="string")})
    return Dataset("v", {"customers": customers, "subscriptions": subs}, as_of=s0 + 4.5 * M, source="test",
                   metadata={"world": {"start": "2024-01-01"}})


def test_lifetime_value_is_mean_revenue_times_the_restricted_mean_by_hand():
    # c is censored at 0.5 months, so at 1 month a and b are at risk: S = 0.5 on [1, 3), 0 after;
    # expected lifetime = 1 + 0.5 * 2 = 2 months; mean fee (10 + 30 + 20) / 3 = 20; LTV = 40.
    ltv = lifetime_value(_value_world()).iloc[0]
    assert ltv["lifetime_months"] == pytest.approx(2.0)
    assert ltv["monthly_revenue"] == pytest.approx(20.0)
    assert ltv["ltv"] == pytest.approx(40.0)
    assert ltv["ltv_lower"] <= 40.0 <= ltv["ltv_upper"]


def test_customer_value_conditions_on_tenure_by_hand():
    # c (tenure 0.5 months): int_0.5^12.5 S / S(0.5) = 0.5 * 1 + 2 * 0.5 = 1.5 months; value 20 * 1.5 = 30.
    v = customer_values(_value_world()).set_index("customer_id")
    assert list(v.index) == ["c"]
    assert v.loc["c", "expected_months"] == pytest.approx(1.5)
    assert v.loc["c", "value"] == pytest.approx(30.0)


def test_a_churn_cut_raises_survival_to_the_power_one_minus_the_cut_by_hand():
    # S' = 0.5 ** 0.95 = 0.517632 on [1, 3): lifetime 1 + 2 * 0.517632 = 2.035265 months, LTV 40.7053.
    out = churn_cut_value(_value_world(), cut=0.05).iloc[0]
    assert out["lifetime_months_after"] == pytest.approx(1 + 2 * 0.5**0.95)
    assert out["ltv_after"] == pytest.approx(20 * (1 + 2 * 0.5**0.95))
    assert out["ltv_gain_pct"] == pytest.approx((1 + 2 * 0.5**0.95) / 2 - 1)
    with pytest.raises(AnalysisError, match="cut must lie"):
        churn_cut_value(_value_world(), cut=1.5)


def test_remaining_lifetime_is_flat_past_the_curve_and_missing_once_nobody_survives():
    # S = 0.5 from t = 1, last time 2 (censored): at tenure 5 the next 2 units are all expected (0.5 * 2 / 0.5)
    assert remaining_lifetime(kaplan_meier([1, 2], [True, False]), [5.0], 2.0).tolist() == [2.0]
    assert np.isnan(remaining_lifetime(kaplan_meier([1, 2, 2, 3], [True, True, False, True]), [5.0], 2.0)[0])


def test_pareto_curve_top_share_and_gini_by_hand():
    c = revenue_concentration(pd.DataFrame({"monthly_revenue": [5.0, 50.0, 10.0, 30.0, 5.0]}))
    assert c["revenue"].tolist() == [50.0, 30.0, 10.0, 5.0, 5.0]
    assert top_share(c, 0.2) == pytest.approx(0.5) and top_share(c, 0.4) == pytest.approx(0.8)
    # Gini = sum (2i - n - 1) x_(i) / (n sum x) over ascending x: (-20 - 10 + 0 + 60 + 200) / 500 = 0.46
    assert c.attrs["gini"] == pytest.approx(0.46)
    with pytest.raises(AnalysisError):
        revenue_concentration(pd.DataFrame({"monthly_revenue": [0.0, 0.0]}))


def test_add_value_keeps_the_risk_list_and_adds_expected_loss():
    risk = pd.DataFrame({"customer_id": ["b", "a", "z"], "p": [0.2, 0.5, 0.9]})
    vals = pd.DataFrame({"customer_id": ["a", "b"], "monthly_revenue": [10.0, 20.0], "value": [100.0, 50.0]})
    out = add_value(risk, vals, probability="p")
    assert out["customer_id"].tolist() == ["b", "a", "z"] and "value" not in risk
    assert out["expected_loss"].tolist()[:2] == [10.0, 50.0] and np.isnan(out["expected_loss"].iloc[2])


def test_revenue_churn_shows_money_lost_and_whether_the_lost_were_worth_more():
    ot = pd.DataFrame({"period_start": [T("2024-01-01")], "c_start": [100], "churned": [10], "churn_rate": [0.1],
                       "mrr_start": [5000.0], "mrr_lost": [1000.0], "revenue_churn_rate": [0.2]})
    r = revenue_churn(ot).iloc[0]
    assert (r["fee_start"], r["fee_lost"], r["value_ratio"]) == (50.0, 100.0, 2.0)


@pytest.fixture(scope="module")
def world():
    synthetic = pytest.importorskip("churnlab.data.synthetic")
    return synthetic.generate(2000, seed=0)


def test_monthly_churn_of_the_world_sits_at_its_knobs_and_next_to_the_published_figures(world):
    ds, truth = world
    table = churn_vs_benchmarks(ds).set_index("benchmark")
    # the world's knobs are the published B2B / B2C figures (5% and 7%, DOMAIN.md); calibrate.py measured the
    # realised rate within about a point of them
    assert table.loc["this dataset: B2B", "monthly_churn"] == pytest.approx(truth.knobs.monthly_churn_b2b, abs=0.012)
    assert table.loc["this dataset: B2C", "monthly_churn"] == pytest.approx(truth.knobs.monthly_churn_b2c, abs=0.012)
    assert table.loc["software", "monthly_churn"] == 0.0475 and len(INDUSTRY_MONTHLY_CHURN) == 8
    assert table.loc["this dataset", "n_months"] == 11


def test_world_ltv_is_close_to_the_geometric_lifetime_of_its_own_monthly_churn(world):
    # with a constant monthly churn c the expected lifetime within 36 months is (1 - (1 - c)^36) / c;
    # the world's hazard is not constant (early churn is higher), so within 15%
    ds, _ = world
    ltv = lifetime_value(ds).set_index("group")
    rates = churn_vs_benchmarks(ds).set_index("benchmark")["monthly_churn"]
    for seg in ("B2B", "B2C"):
        c = rates[f"this dataset: {seg}"]
        assert ltv.loc[seg, "lifetime_months"] == pytest.approx((1 - (1 - c) ** 36) / c, rel=0.15)
        assert not ltv.loc[seg, "extrapolated"]


def test_observation_starts_where_the_source_says_else_at_the_first_subscription():
    from churnlab.patterns.lifetime import observation_start

    ds = _value_world()
    assert observation_start(ds) == T("2024-01-01")  # the world's start
    full = Dataset("f", dict(ds.tables), as_of=ds.as_of, source="test")
    assert observation_start(full) == T("2024-01-01")  # the earliest subscription start
    extract = Dataset("e", dict(ds.tables), as_of=ds.as_of, source="test", metadata={"observed_from": "2024-02-01"})
    assert observation_start(extract) == T("2024-02-01")
