"""The synthetic world plays a programme longer than a campaign: the campaign's truth over its own horizon."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.data.synthetic import generate, run_campaign
from churnlab.errors import AnalysisError
from churnlab.experiment import assign
from churnlab.experiment.crm import assignments_table

N, END = 1500, "2024-04-01"


@pytest.fixture(scope="module")
def world():
    ds, truth = generate(N, start="2024-01-01", end=END, seed=3)
    ids = ds["customers"]["customer_id"]
    first = assignments_table(assign(ids[:600], "m1", ["discount", "bonus"], 0.2), "m1", ds.as_of)
    later = assignments_table(assign(ids[600:900], "m2", ["exclusive_content"], 0.2), "m2",
                              ds.as_of + pd.Timedelta(days=30))
    return ds, truth, first, pd.concat([first, later], ignore_index=True)


def test_a_campaigns_truth_inside_a_longer_programme_is_the_truth_of_the_campaign_played_alone(world):
    ds, truth, first, programme = world
    _, alone = run_campaign(ds, truth, first, horizon_days=30, n_sims=2)
    after, inside = run_campaign(ds, truth, programme, horizon_days=60, truth_days=30, n_sims=2)
    assert after.as_of == ds.as_of + pd.Timedelta(days=60) and inside.horizon_days == 30
    # common random numbers: the first 30 days are the same days whatever is played after them
    a = alone.effects_by_offer.set_index(["customer_id", "offer"])
    b = inside.effects_by_offer.set_index(["customer_id", "offer"]).loc[a.index]
    for col in ("retained_if_treated", "retained_if_control"):
        assert np.array_equal(a[col].to_numpy(), b[col].to_numpy()), col
    # the probabilities are Monte Carlo estimates whose draws depend on who else is listed (900 customers here,
    # 600 alone): they agree to the Monte Carlo noise, far below the 0.02-0.05 differences between offers
    for col in ("p_retain_treated", "p_retain_control"):
        assert np.abs(a[col].to_numpy() - b[col].to_numpy()).mean() < 0.005, col
    # the second wave starts on day 30, after the truth's window: its customers had no offer in it
    e = inside.effects.set_index("customer_id")
    m2 = programme.loc[programme["experiment_id"] == "m2", "customer_id"]
    assert (e.loc[m2, "offer"] == "none").all()
    assert (e.loc[m2, "retained_if_treated"] == e.loc[m2, "retained_if_control"]).all()


def test_the_programme_truth_runs_to_the_end_against_a_world_with_no_offer_at_all(world):
    ds, truth, _, programme = world
    _, played = run_campaign(ds, truth, programme, horizon_days=60, truth_days=30, n_sims=1)
    nothing = programme.drop_duplicates("customer_id").assign(arm="none")
    _, none = run_campaign(ds, truth, nothing, horizon_days=60, truth_days=30, n_sims=1)
    p = played.programme.set_index("customer_id")
    q = none.programme.set_index("customer_id").loc[p.index]
    assert played.programme_days == 60 and len(p) == programme["customer_id"].nunique()
    # the counterfactual "no offer to the end" is what a world with no offer realised, customer by customer
    assert np.array_equal(p["retained_if_control"].to_numpy(), q["retained_if_treated"].to_numpy())
    # the second wave's offers are in force at the end, and some customers' 60-day retention differs by them
    m2 = programme[(programme["experiment_id"] == "m2") & (programme["arm"] != "none")]["customer_id"]
    assert (p.loc[m2, "offer"] == "exclusive_content").all()
    assert (p["retained_if_treated"] != p["retained_if_control"]).any()
    untouched = p["offer"] == "none"
    assert (p.loc[untouched, "retained_if_treated"] == p.loc[untouched, "retained_if_control"]).all()


def test_the_truth_window_must_fit_in_the_horizon(world):
    ds, truth, first, _ = world
    for bad in (0, 31, 2.5, True):
        with pytest.raises(AnalysisError, match="truth_days"):
            run_campaign(ds, truth, first.head(5), horizon_days=30, truth_days=bad, n_sims=1)
