"""The programme's cumulative effect month by month, and the plan of its monthly waves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.errors import AnalysisError, SampleRatioMismatchError
from churnlab.experiment.program import (
    ProgramHoldout,
    holdout_breaches,
    program_effect,
    program_outcomes,
    program_waves,
)
from churnlab.experiment.program_timeline import program_timeline, timeline_ends
from churnlab.schema import Dataset

T = pd.Timestamp("2024-07-01")
END = T + pd.Timedelta(days=180)
PROGRAM = ProgramHoldout("prog", T, END, share=0.1)


def six_month_world(n: int = 6000, seed: int = 0) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """``n`` customers active at ``T``; days to churn exponential, mean 200 in the holdout, 300 in the programme.

    Each customer pays 10 on day 1, 31, 61, ... while active. Returns the dataset, the churn day per customer and
    whether the customer is held out.
    """
    rng = np.random.default_rng(seed)
    ids = np.array([f"c{i:05d}" for i in range(n)])
    held = np.isin(ids, PROGRAM.members(ids))
    day = np.ceil(rng.exponential(np.where(held, 200.0, 300.0))).astype(int)
    end = T + pd.to_timedelta(day, unit="D")
    subs = pd.DataFrame({"customer_id": ids, "subscription_id": [f"s{i}" for i in range(n)],
                         "start_at": pd.Timestamp("2024-01-01"),
                         "end_at": pd.Series(end).where(day <= 180).to_numpy(), "churn_reason": None})
    pays = [(c, T + pd.Timedelta(days=d)) for c, last in zip(ids, day) for d in range(1, 181, 30) if d < last]
    pay = pd.DataFrame(pays, columns=["customer_id", "paid_at"])
    pay = pay.assign(payment_id=[f"p{i}" for i in range(len(pay))], due_at=pay["paid_at"], amount=10.0, late=False)
    customers = pd.DataFrame({"customer_id": ids, "signup_at": pd.Timestamp("2024-01-01")})
    return (Dataset("p", {"customers": customers, "subscriptions": subs, "payments": pay}, as_of=END, source="test"),
            day, held)


@pytest.fixture(scope="module")
def world():
    return six_month_world()


def test_the_cumulative_effect_is_measured_at_the_end_of_every_month_and_the_last_is_the_whole_period(world):
    ds, day, held = world
    res = program_timeline(ds, PROGRAM)
    assert res.rows["days"].unique().tolist() == [30, 60, 90, 120, 150, 180]
    churn = res.metric("churned")
    for r in churn.itertuples():
        # hand computation: share churned by that day, programme minus holdout
        expected = (day[~held] <= r.days).mean() - (day[held] <= r.days).mean()
        assert r.estimate == pytest.approx(expected)
    # the last step is the whole period's programme_effect
    final = program_effect(ds, PROGRAM).effect("churned")
    assert churn["estimate"].iloc[-1] == pytest.approx(final.estimate)
    assert churn["ci_lower"].iloc[-1] == pytest.approx(final.ci_lower)
    # the true effect on churn by day d is exp(-d/300) - exp(-d/200) (survival curves): -0.13 at 180 days; the
    # interval at 180 days covers it (n_holdout ~ 600: se ~ 0.02)
    truth = np.exp(-180 / 200) - np.exp(-180 / 300)
    assert churn["ci_lower"].iloc[-1] < truth < churn["ci_upper"].iloc[-1]
    # the effect on churn grows in size month by month, and so does the revenue gain (payments add up)
    assert (np.diff(churn["estimate"]) < 0).all()
    revenue = res.metric("revenue")
    assert (np.diff(revenue["estimate"]) > 0).all() and (revenue["mean_holdout"].diff().dropna() > 0).all()


def test_the_timeline_result_shows_its_settings_and_draws_each_metric(world):
    import matplotlib

    matplotlib.use("Agg")
    ds, _, _ = world
    res = program_timeline(ds, PROGRAM, every_days=60)
    assert res.rows["days"].unique().tolist() == [60, 120, 180]
    assert "after 180 days" in repr(res) and "pointwise" in res._repr_html_()
    ax = res.plot("revenue")
    assert ax.get_xlabel() == "months since the programme started" and len(ax.lines) == 2


def test_timeline_steps_must_be_whole_days_and_the_data_must_reach_every_step(world):
    ds, _, _ = world
    assert [t.day for t in timeline_ends(ProgramHoldout("p", "2025-01-01", "2025-02-10"), 30)] == [31, 10]
    with pytest.raises(AnalysisError, match="every_days"):
        timeline_ends(PROGRAM, 0)
    with pytest.raises(AnalysisError, match="before the programme period ends"):
        program_outcomes(ds, PROGRAM, ends=[END + pd.Timedelta(days=1)])
    with pytest.raises(AnalysisError, match="must come after start"):
        program_outcomes(ds, PROGRAM, ends=[T])


def test_a_broken_holdout_split_stops_the_whole_timeline(world):
    ds, _, held = world
    subs = ds["subscriptions"]
    ids = subs["customer_id"].to_numpy()
    drop = np.isin(ids, ids[held][::2])  # half the holdout lost from the export: 5% instead of 10%
    broken = Dataset("p", {**ds.tables, "subscriptions": subs[~drop]}, as_of=END, source="test")
    with pytest.raises(SampleRatioMismatchError):
        program_timeline(broken, PROGRAM)


def test_monthly_waves_reach_the_riskiest_first_once_each_and_never_the_holdout():
    ranked = [f"c{i:05d}" for i in range(3000)]  # riskiest first
    tier2 = [f"c{i:05d}" for i in range(3000, 4000)]
    lost = [f"c{i:05d}" for i in range(9000, 9500)]
    plan = program_waves(ranked, T, waves=6, second_tier=tier2, winback=lost, program=PROGRAM, program_id="prog")
    assert holdout_breaches(plan, PROGRAM).empty
    held = set(PROGRAM.members(ranked + tier2 + lost))
    assert held and not held & set(plan["customer_id"])
    # six retention waves 30 days apart, the first to the riskiest slice; a customer gets one retention wave
    ret = plan[plan["experiment_id"].str.endswith("-retention")]
    days = ret.groupby("experiment_id")["assigned_at"].first().sort_values()
    assert [(d - T).days for d in days] == [0, 30, 60, 90, 120, 150]
    first = ret[ret["experiment_id"] == "prog-m1-retention"]["customer_id"]
    kept = [c for c in ranked if c not in held]
    assert set(first) == set(kept[:len(first)]) and abs(len(first) - len(kept) / 6) <= 1
    assert not ret["customer_id"].duplicated().any()
    # each wave has its own holdout near 10%; the second tier gets the bonus, win-back goes out in the first wave
    assert 0.05 < (ret["arm"] == "none").mean() < 0.15
    t2 = plan[plan["experiment_id"].str.endswith("-tier2")]
    assert set(t2["arm"]) == {"bonus", "none"}
    wb = plan[plan["experiment_id"] == "prog-m1-winback"]
    assert set(wb["customer_id"]) == set(lost) - held and (wb["assigned_at"] == T).all()
    # customers of a campaign still being measured are left out of every later wave
    later = program_waves(ranked, T, waves=5, exclude=ranked[:100], first_wave=2, program_id="prog")
    assert not set(later["customer_id"]) & set(ranked[:100]) and later["experiment_id"].iloc[0] == "prog-m2-retention"
    with pytest.raises(AnalysisError, match="waves"):
        program_waves(ranked, T, waves=0)
