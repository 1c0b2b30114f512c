"""Retention campaigns in the synthetic world: valid continuation, true effects with the knobs' sign and size."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from churnlab.data.synthetic import generate, load_world, run_campaign, save_world
from churnlab.errors import AnalysisError, SchemaError
from churnlab.schema import validate

N, START, END, H = 2000, "2024-01-01", "2024-05-01", 60


def with_knobs(truth, **knobs):
    spec = dataclasses.replace(truth.spec, knobs=dataclasses.replace(truth.spec.knobs, **knobs))
    return dataclasses.replace(truth, spec=spec)


@pytest.fixture(scope="module")
def world():
    return generate(N, start=START, end=END, seed=0)


@pytest.fixture(scope="module")
def offers(world):
    ds, _ = world
    ids = ds["customers"].customer_id
    arms = np.random.default_rng(0).choice(["none", "discount", "bonus", "exclusive_content"], len(ids))
    return pd.DataFrame({"customer_id": ids, "offer": arms})


@pytest.fixture(scope="module")
def campaign(world, offers):
    ds, truth = world
    return run_campaign(ds, truth, offers, horizon_days=H, n_sims=10)


def test_the_extended_world_validates_and_moves_as_of_by_the_horizon(world, campaign, offers):
    ds, _ = world
    ext, ct = campaign
    assert validate(ext).ok, str(validate(ext))
    assert ext.as_of == ds.as_of + pd.Timedelta(days=H)
    m = ext["messages"]
    promos = m[(m.sent_at == ds.as_of + pd.Timedelta(hours=9)) & (m.kind == "promo")]
    assert len(promos) == int((offers.offer != "none").sum())
    assert len(ct.effects) == len(offers)
    assert set(ct.average_effect.offer) == {"discount", "bonus", "exclusive_content"}
    assert ct.costs["none"] == 0 and ct.costs["discount"] > 0


def test_holdout_customers_have_identical_potential_outcomes(campaign):
    _, ct = campaign
    e = ct.effects[ct.effects.offer == "none"]
    assert (e.retained_if_treated == e.retained_if_control).all()
    assert np.allclose(e.p_retain_treated, e.p_retain_control)


def test_offers_without_effect_change_nobody_thanks_to_common_random_numbers(world, offers):
    # with every effect knob at 0 the treated and control worlds use the same random numbers: ATE is exactly 0
    ds, truth = world
    null = with_knobs(truth, discount_effect=0.0, bonus_effect=0.0, exclusive_effect=0.0, backlash_effect=0.0)
    _, ct = run_campaign(ds, null, offers, horizon_days=H, n_sims=4)
    assert (ct.average_effect.ate == 0).all()
    assert np.allclose(ct.average_effect.ate_prob, 0.0)


def test_each_offer_helps_on_average_and_discount_most(campaign):
    _, ct = campaign
    ate = ct.average_effect.set_index("offer").ate_prob
    assert (ate > 0).all(), ate
    assert ate["discount"] > ate["bonus"], ate


def test_discount_helps_the_price_sensitive_and_exclusive_content_engaged_b2b(world, campaign):
    ds, truth = world
    _, ct = campaign
    e = ct.effects_by_offer.assign(uplift=lambda d: d.p_retain_treated - d.p_retain_control)
    st = truth.final_state
    ps = pd.Series(st["ps"], index=ds["customers"].customer_id.to_numpy())
    b2b = pd.Series(st["b2b"] & (st["eng"] > 0), index=ps.index)
    disc = e[e.offer == "discount"]
    sensitive = ps.reindex(disc.customer_id).to_numpy() > ps.median()
    assert disc.uplift[sensitive].mean() > 2 * disc.uplift[~sensitive].mean()
    excl = e[e.offer == "exclusive_content"]
    engaged_b2b = b2b.reindex(excl.customer_id).to_numpy()
    assert excl.uplift[engaged_b2b].mean() > 3 * excl.uplift[~engaged_b2b].mean()


def test_halving_the_discount_effect_roughly_halves_its_average_effect(world, offers):
    # the hazard reduction is linear in discount_effect; retention over 60 days is nearly linear in it. Backlash
    # (a harm of any contact, the same at every strength) is switched off: it would subtract a constant and make
    # the ratio larger than 2 (2.66 measured with it at discount_effect 0.45 vs 0.225, 2.13 without).
    ds, truth = world
    k = truth.knobs.discount_effect
    ate = {}
    for strength in (k, k / 2):
        _, ct = run_campaign(ds, with_knobs(truth, discount_effect=strength, backlash_effect=0.0), offers,
                             horizon_days=H, n_sims=10)
        ate[strength] = ct.average_effect.set_index("offer").ate_prob["discount"]
    assert 1.5 < ate[k] / ate[k / 2] < 2.6, ate


def test_a_campaign_runs_after_load_world_with_the_same_result(world, offers, campaign, tmp_path):
    ds, truth = world
    save_world(ds, truth, tmp_path)
    ds2, truth2 = load_world(tmp_path)
    some = offers.head(300)
    a = run_campaign(ds, truth, some, horizon_days=20, n_sims=2)[1].effects
    b = run_campaign(ds2, truth2, some, horizon_days=20, n_sims=2)[1].effects
    pd.testing.assert_frame_equal(a, b)


def test_bad_offers_and_dates_raise_named_errors(world):
    ds, truth = world
    with pytest.raises(SchemaError, match="offers.offer"):
        run_campaign(ds, truth, pd.DataFrame({"customer_id": ["c000001"], "offer": ["free_pony"]}))
    with pytest.raises(SchemaError, match="offers.customer_id"):
        run_campaign(ds, truth, pd.DataFrame({"customer_id": ["c999999"], "offer": ["bonus"]}))
    with pytest.raises(AnalysisError, match="world's end"):
        run_campaign(ds, truth, pd.DataFrame({"customer_id": ["c000001"], "offer": ["bonus"]}),
                     campaign_date="2024-03-01")


# ---------------------------------------------------------------- win-back: offers to churned customers


def test_offers_to_churned_customers_raise_reactivation_and_discount_wins_back_price_churners(campaign):
    _, ct = campaign
    eff = ct.reactivation_effect.set_index("offer")
    assert (eff["n_churned"] > 100).all()
    assert (eff["effect"] > 0).all(), eff
    r = ct.reactivation.assign(uplift=lambda d: d.p_reactivate_treated - d.p_reactivate_control)
    by = r.groupby(["offer", "churn_reason"]).uplift.mean()
    price = by["discount"][["price", "competitor"]].mean()
    assert price > 2 * by["discount"]["product"], by
    assert by["exclusive_content"]["product"] > 1.5 * by["exclusive_content"][["price", "competitor"]].mean(), by
    assert by.xs("moved", level="churn_reason").max() <= 0  # no offer wins back a customer who moved away


def test_realised_reactivations_match_their_probabilities_and_open_new_subscriptions(world, campaign):
    ds, _ = world
    ext, ct = campaign
    r = ct.reactivation
    own = r[r.assigned]
    # the exact probability predicts the realised count (Bernoulli sum, 4 standard errors)
    p = own.p_reactivate_treated
    assert abs(own.reactivated_if_treated.sum() - p.sum()) < 4 * np.sqrt((p * (1 - p)).sum()) + 1
    # listed churned customers in the holdout are in `reactivation` only through the control outcome
    subs = ext["subscriptions"]
    new = subs[subs.start_at > ds.as_of].customer_id
    came_back = set(own.loc[own.reactivated_if_treated, "customer_id"])
    assert came_back <= set(new)


def test_without_win_back_effect_offers_change_no_reactivation(world, offers):
    ds, truth = world
    null = with_knobs(truth, discount_effect=0.0, bonus_effect=0.0, exclusive_effect=0.0, backlash_effect=0.0,
                      winback_effect=0.0)
    _, ct = run_campaign(ds, null, offers, horizon_days=H, n_sims=2)
    r = ct.reactivation
    assert (r.reactivated_if_treated == r.reactivated_if_control).all()
    assert np.allclose(r.p_reactivate_treated, r.p_reactivate_control)
