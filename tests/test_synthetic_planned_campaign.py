"""The synthetic world as a source that plays the weeks after a planned campaign (experiments, offer days)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.data.synthetic import generate, run_campaign
from churnlab.errors import SchemaError
from churnlab.experiment import assign
from churnlab.experiment.crm import assignments_table, read_assignments
from churnlab.schema import validate

N, END, H = 1500, "2024-04-01", 40


@pytest.fixture(scope="module")
def world():
    return generate(N, start="2024-01-01", end=END, seed=2)


@pytest.fixture(scope="module")
def plan(world):
    ds, _ = world
    ids = ds["customers"]["customer_id"]
    first = assignments_table(assign(ids[:600], "wave-1", ["discount", "bonus"], 0.2), "wave-1", ds.as_of)
    second = assignments_table(assign(ids[400:900], "wave-2", ["exclusive_content"], 0.5), "wave-2",
                               ds.as_of + pd.Timedelta(days=14, hours=9))
    return pd.concat([first, second], ignore_index=True)


@pytest.fixture(scope="module")
def played(world, plan):
    ds, truth = world
    return run_campaign(ds, truth, plan, horizon_days=H, n_sims=2)


def test_the_world_keeps_the_planned_assignments_as_a_canonical_table(played, plan):
    after, _ = played
    assert validate(after).ok, str(validate(after))
    back = read_assignments(after, "wave-2")
    assert back["customer_id"].tolist() == plan.loc[plan["experiment_id"] == "wave-2", "customer_id"].tolist()


def test_each_offer_goes_out_on_its_own_day(world, played, plan):
    ds, _ = world
    after, _ = played
    m = after["messages"]
    new = m[(m["sent_at"] > ds.as_of) & (m["kind"] == "promo") & m["offer"].notna()
            & (m["sent_at"].dt.hour == 9) & (m["sent_at"].dt.minute == 0)]
    wave2 = plan[(plan["experiment_id"] == "wave-2") & (plan["arm"] != "none")]
    on_day_14 = new[new["sent_at"] == ds.as_of + pd.Timedelta(days=14, hours=9)]
    assert set(on_day_14["customer_id"]) == set(wave2["customer_id"])
    assert (on_day_14["offer"] == "exclusive_content").all()


def test_truth_describes_what_happened_under_the_plan(played, plan):
    _, ct = played
    e = ct.effects.set_index("customer_id")
    assert len(e) == plan["customer_id"].nunique()  # one row per listed customer
    wave2 = set(plan.loc[(plan["experiment_id"] == "wave-2") & (plan["arm"] != "none"), "customer_id"])
    late = e.index.isin(list(wave2))
    # a later wave has no campaign-date probability; the offer in force at the end is the latest one
    assert e.loc[late, "p_retain_treated"].isna().all() and (e.loc[late, "offer"] == "exclusive_content").all()
    assert e.loc[~late, "p_retain_treated"].notna().all()
    # an offer from wave 1 is not cancelled by the holdout of wave 2
    w1 = plan[plan["experiment_id"] == "wave-1"].set_index("customer_id")["arm"]
    w2 = plan[plan["experiment_id"] == "wave-2"].set_index("customer_id")["arm"]
    kept = [c for c in w1.index.intersection(w2.index) if w1[c] != "none" and w2[c] == "none"]
    assert kept and (e.loc[kept, "offer"] == w1[kept]).all()


def test_customers_without_any_offer_have_identical_potential_outcomes(played, plan):
    _, ct = played
    e = ct.effects
    none = e[e["offer"] == "none"]
    assert len(none) > 0 and (none["retained_if_treated"] == none["retained_if_control"]).all()


def test_an_offer_dated_outside_the_horizon_or_a_repeated_customer_is_refused(world, plan):
    ds, truth = world
    late = plan.assign(assigned_at=ds.as_of + pd.Timedelta(days=H + 1))
    with pytest.raises(SchemaError, match="assignment.assigned_at"):
        run_campaign(ds, truth, late, horizon_days=H, n_sims=1)
    with pytest.raises(SchemaError, match="one row per experiment and customer"):
        run_campaign(ds, truth, pd.concat([plan, plan.head(1)]), horizon_days=H, n_sims=1)
    with pytest.raises(SchemaError, match="assignment.arm"):
        run_campaign(ds, truth, plan.assign(arm="free_pony"), horizon_days=H, n_sims=1)


def test_a_plan_given_on_the_campaign_date_reproduces_the_older_offers_form(world):
    ds, truth = world
    ids = ds["customers"]["customer_id"][:300]
    arms = np.random.default_rng(0).choice(["none", "discount", "bonus"], len(ids))
    old = run_campaign(ds, truth, pd.DataFrame({"customer_id": ids, "offer": arms}), horizon_days=20, n_sims=2)
    new = run_campaign(ds, truth, pd.DataFrame({"experiment_id": "e", "customer_id": ids, "arm": arms,
                                                "assigned_at": ds.as_of}), horizon_days=20, n_sims=2)
    pd.testing.assert_frame_equal(old[1].effects, new[1].effects)
    pd.testing.assert_frame_equal(old[0]["subscriptions"], new[0]["subscriptions"])
    assert "assignments" in new[0] and "assignments" not in old[0]
