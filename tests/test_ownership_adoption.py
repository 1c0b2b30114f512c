"""Breakdowns by owner and place, and adoption depth: by hand, against scipy and the synthetic world."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from churnlab.data.synthetic.population import ACTIVATION_BY_CHANNEL, CHANNELS
from churnlab.errors import AnalysisError
from churnlab.intervals import wilson_interval
from churnlab.metrics import median_lifetime, survival_by
from churnlab.patterns.adoption import adoption_table, component_lifetimes, retention_by_depth
from churnlab.patterns.ownership import at_risk_by, breakdown, onboarding_outcomes
from churnlab.schema import Dataset

T = pd.Timestamp
D = pd.Timedelta


def test_early_churn_is_known_only_for_customers_observed_from_their_start_by_hand():
    obs = T("2024-01-01")
    start = [T("2023-06-01"), T("2024-02-01"), T("2024-02-01"), T("2024-05-20")]
    subs = pd.DataFrame({"customer_id": list("abcd"), "subscription_id": list("1234"), "start_at": start,
                         "end_at": [T("2024-03-01"), T("2024-02-20"), pd.NaT, pd.NaT],
                         "churn_reason": pd.Series(["price", "price", None, None], dtype="string")})
    cust = pd.DataFrame({"customer_id": list("abcd"), "signup_at": start, "region": ["n", "n", "s", "s"]})
    ds = Dataset("o", {"customers": cust, "subscriptions": subs}, as_of="2024-06-01", source="test",
                 metadata={"world": {"start": str(obs.date())}})
    out = onboarding_outcomes(ds).set_index("customer_id")["early_churn"]
    # a started before observation (unknown), b left after 19 days (early), c stays, d started 12 days ago (unknown)
    assert out.isna().tolist() == [True, False, False, True]
    assert (out["b"], out["c"]) == (True, False)


def test_breakdown_calls_out_a_group_only_with_enough_customers():
    o = pd.DataFrame({"am": ["x"] * 40 + ["y"] * 40 + ["z"] * 4,
                      "early_churn": [True] * 20 + [False] * 20 + [True] * 2 + [False] * 38 + [True] * 4})
    out = breakdown(o, "am", "early_churn").set_index("am")
    assert out.loc["x", "rate"] == 0.5 and out.loc["x", "rate_rest"] == pytest.approx(6 / 44)
    assert out["stands_out"].to_dict() == {"x": True, "y": True, "z": False}  # y stands out for being low
    with pytest.raises(AnalysisError):
        breakdown(o.assign(early_churn=pd.NA), "am", "early_churn")


def test_at_risk_count_by_owner_from_zones():
    zones = pd.DataFrame({"customer_id": list("abcd"), "zone": ["red", "none", "amber", "red"]})
    attrs = pd.DataFrame({"customer_id": list("abcd"), "account_manager": ["m1", "m1", "m2", "m2"]})
    out = at_risk_by(zones, attrs, "account_manager", min_n=1).set_index("account_manager")
    assert out["at_risk"].to_dict() == {"m2": 2, "m1": 1} and out.loc["m1", "share_at_risk"] == 0.5
    assert at_risk_by(zones, attrs, "account_manager", zones=("red",))["at_risk"].sum() == 2


@pytest.fixture(scope="module")
def world():
    synthetic = pytest.importorskip("churnlab.data.synthetic")
    return synthetic.generate(3000, seed=0)


def test_world_activation_by_channel_matches_the_rates_it_was_built_with(world):
    ds, _ = world
    o = onboarding_outcomes(ds)
    new = o[o["signup_at"] >= T("2024-01-01")].dropna(subset=["activated"])
    # population.py: P(activated within 14 days) = ACTIVATION_BY_CHANNEL[channel] - 0.05 for B2C
    expected = new["channel"].map(dict(zip(CHANNELS, ACTIVATION_BY_CHANNEL))) - np.where(new["segment"] == "B2C",
                                                                                           0.05, 0.0)
    table = breakdown(new, "channel", "activated", min_n=1).set_index("channel")
    lo, hi = wilson_interval(table["successes"], table["n"], 0.001 / len(table))
    want = expected.groupby(new["channel"]).mean().reindex(table.index)
    assert ((lo <= want) & (want <= hi)).all()


def test_adoption_window_leaves_out_who_it_cannot_see_by_hand():
    s0 = T("2024-01-01")
    start = {"a": s0 - D(days=400), "b": s0 + D(days=10), "c": s0 + D(days=10), "d": s0 + D(days=100),
             "e": s0 + D(days=20)}
    subs = pd.DataFrame({"customer_id": list(start), "subscription_id": list("12345"), "start_at": list(start.values()),
                         "end_at": [pd.NaT, s0 + D(days=200), pd.NaT, pd.NaT, s0 + D(days=40)],
                         "churn_reason": pd.Series([None, "price", None, None, "price"], dtype="string")})
    ev = pd.DataFrame({"customer_id": ["a", "b", "b", "b", "c"],
                       "timestamp": [s0 + D(days=1), s0 + D(days=11), s0 + D(days=12), s0 + D(days=90),
                                     s0 + D(days=11)],
                       "event_type": "component_use", "component": ["dashboard", "dashboard", "reports", "automation",
                                                                    "reports"]})
    cust = pd.DataFrame({"customer_id": list(start), "signup_at": list(start.values())})
    ds = Dataset("a", {"customers": cust, "subscriptions": subs, "events": ev}, as_of=s0 + D(days=120),
                 source="test")
    a = adoption_table(ds, landmark_days=60).set_index("customer_id")
    # a: before the log; d: landmark after the cutoff; e: gone on day 20 of its life, before the landmark
    assert list(a.index) == ["b", "c"]
    assert a.attrs["n_before_log"] == 1 and a.attrs["n_too_recent"] == 1 and a.attrs["n_gone_before_landmark"] == 1
    # b used dashboard and reports in its first 60 days (automation came on day 80): depth 2; c: 1
    assert a["depth"].to_dict() == {"b": 2, "c": 1}
    # b's end (day 200) is after the cutoff (day 120): censored at 110 days of life, 50 after the landmark
    assert a.loc["b", "duration_days"] == pytest.approx(110 - 60) and not a.loc["b", "observed"]


def test_world_retention_grows_with_adoption_depth_and_medians_match_scipy(world):
    ds, _ = world
    a = adoption_table(ds)
    curves, summary = retention_by_depth(a)
    s = summary.set_index("group")
    assert s.loc["4+", "rmst_lower"] > s.loc["0", "rmst_upper"]
    # medians against scipy.stats.ecdf (the Kaplan-Meier estimator; lifelines needs pandas < 3)
    for _, g in a.groupby("depth_group"):
        e = g["observed"].to_numpy(bool)
        sf = stats.ecdf(stats.CensoredData(uncensored=g["duration_days"][e], right=g["duration_days"][~e])).sf
        below = sf.quantiles[sf.probabilities <= 0.5]
        ref = float(below[0]) if below.size else np.nan
        ours = median_lifetime(survival_by(g, by=None))["median_days"].iloc[0]
        assert ours == pytest.approx(ref, nan_ok=True)
    comp = component_lifetimes(a)
    assert set(comp["component"]) <= {"dashboard", "reports", "integrations", "automation", "collaboration",
                                      "mobile_app"}
    assert comp["difference"].is_monotonic_decreasing
