"""Funnel time between stages, new vs returning, the low-start signal's coverage and seasonality."""

import numpy as np
import pandas as pd
import pytest

from churnlab.errors import AnalysisError
from churnlab.patterns.funnel import compare_new_returning, funnel_stall, stage_durations
from churnlab.patterns.seasonality import monthly_seasonality, seasonality_coverage
from churnlab.patterns.usage import first_window_coverage, usage_flags
from churnlab.schema import Dataset

T = pd.Timestamp
D = pd.Timedelta


def test_stage_durations_by_group_and_the_stall_by_hand():
    rows = [("a", "visit", 0), ("a", "signup", 2), ("a", "activation", 12), ("b", "visit", 0), ("b", "signup", 4),
            ("b", "activation", 6), ("c", "visit", 0)]
    f = pd.DataFrame([(c, s, T("2024-01-01") + D(days=d)) for c, s, d in rows], columns=["customer_id", "stage",
                                                                                          "reached_at"])
    f["segment"] = f["customer_id"].map({"a": "B2B", "b": "B2C", "c": "B2C"})
    ds = Dataset("f", {"funnel": f}, as_of="2024-03-01", source="test")
    d = stage_durations(ds, "2024-02-01", stages=("visit", "signup", "activation"))
    # visit -> signup: 2 and 4 days (median 3), c waits 31 days; signup -> activation: 10 and 2 days (median 6)
    assert d["median_days"].tolist() == [3.0, 6.0] and d["n_waiting"].tolist() == [1, 0]
    assert d.loc[0, "waiting_median_days"] == 31.0
    assert funnel_stall(d)["stage"].iloc[0] == "activation"
    by = stage_durations(ds, "2024-02-01", stages=("visit", "signup", "activation"), by="segment")
    assert by.set_index(["segment", "stage"]).loc[("B2B", "activation"), "median_days"] == 10.0


def test_world_funnel_delays_are_the_ones_it_was_built_with():
    synthetic = pytest.importorskip("churnlab.data.synthetic")
    ds, _ = synthetic.generate(2000, seed=0)
    d = stage_durations(ds, ds.as_of).set_index("stage")
    # tables.py: a visit comes uniformly 0-10 days before signup (median 5); population.py: activation
    # floor(1 + U * 13) whole days after signup (median 7); first invoice 14 days after signup, so the payment
    # follows activation by about 14 - 7 days plus payment delays
    assert d.loc["signup", "median_lower"] <= 5.0 <= d.loc["signup", "median_upper"] + 0.01
    assert d.loc["activation", "median_days"] == 7.0
    assert 5.0 < d.loc["first_payment", "median_days"] < 12.0


def test_new_and_returning_customers_compared_by_hand():
    pop = pd.DataFrame({"returning": [True] * 4 + [False] * 6, "label": [1, 1, 0, 0] + [1] + [0] * 5,
                        "tenure_days": [100.0, 200, 300, 400] + [10.0] * 6})
    out = compare_new_returning(pop, columns=["label", "tenure_days"]).set_index("column")
    assert (out.loc["label", "returning"], out.loc["label", "new"]) == (0.5, pytest.approx(1 / 6))
    assert out.loc["tenure_days", "kind"] == "mean" and out.loc["tenure_days", "difference"] == 240.0
    with pytest.raises(AnalysisError, match="both groups"):
        compare_new_returning(pop.assign(returning=False))


def test_low_start_is_missing_for_customers_who_signed_up_before_the_event_log():
    cut = T("2024-06-01")
    pop = pd.DataFrame({"customer_id": ["old", "new1", "new2", "baby"], "cutoff": cut, "label": 0,
                        "segment": "B2C", "sessions_30d": 1.0, "sessions_60d": 2.0, "days_since_last_session": 3.0,
                        "signup_at": [T("2022-01-01"), T("2024-02-01"), T("2024-03-01"), T("2024-05-20")]})
    ev = pd.DataFrame({"customer_id": ["new1"] * 4 + ["new2"], "event_type": "session",
                       "timestamp": [T("2024-02-02")] * 4 + [T("2024-03-02")]})
    ev_all = pd.concat([ev, pd.DataFrame({"customer_id": ["old"], "event_type": "session",
                                          "timestamp": [T("2024-01-01")]})])
    ds = Dataset("u", {"events": ev_all}, as_of="2024-07-01", source="test")
    f = usage_flags(pop, ds).set_index("customer_id")
    # the log begins on 2024-01-01: "old" signed up before it, "baby" is younger than 30 days
    assert f["first_window"].to_dict() == {"old": "before the event log", "new1": "observed", "new2": "observed",
                                           "baby": "not over"}
    # norm = median(4, 1) = 2.5; new2 with 1 < 0.5 * 2.5 is a low start
    assert f["low_start"].isna().tolist() == [True, False, False, True] and bool(f.loc["new2", "low_start"])
    cover = first_window_coverage(f.reset_index()).set_index("first_window")
    assert cover["n"].to_dict() == {"observed": 2, "before the event log": 1, "not over": 1}


def _months(n, spike=None):
    start = pd.date_range("2021-01-01", periods=n, freq="MS")
    churned = [30 if spike and s.month == spike else 10 for s in start]
    return pd.DataFrame({"period_start": start, "c_start": 200, "churned": churned})


def test_seasonality_needs_full_years_and_names_months():
    with pytest.raises(AnalysisError, match="11 months .0 full years."):
        monthly_seasonality(_months(11))
    assert seasonality_coverage(_months(30))["full_years"] == 2
    table = monthly_seasonality(_months(36, spike=3))
    assert table.loc[table["rate"].idxmax(), "month_name"] == "March"
    # March: 90 / 600 = 0.15; every other month 30 / 600 = 0.05; chi-square of 12 x 2 counts rejects equality
    assert table.set_index("month_name").loc["March", "rate"] == 0.15
    assert table.attrs["p_value"] < 1e-6 and table.attrs["full_years"] == 3
    flat = monthly_seasonality(_months(24))
    assert flat.attrs["p_value"] == pytest.approx(1.0) and np.allclose(flat["difference"], 0)
