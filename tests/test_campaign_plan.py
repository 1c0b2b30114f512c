"""The pre-registered plan: power and audience figures, planning values by backtest, the plan file and its checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.errors import AnalysisError, DataSourceError
from churnlab.experiment import plan_power
from churnlab.experiment.plan import CampaignPlan, check_against_plan, load_plan, make_plan, resolve_path, save_plan
from churnlab.experiment.planning import _r_squared, audience_for_effect, planning_values
from churnlab.schema import Dataset

T = pd.Timestamp("2024-07-01")


def _plan(**kw) -> CampaignPlan:
    args = dict(experiment_id="exp", campaign_date=T, hypothesis="offers keep customers", primary_metric="retained_90",
                arms=["discount", "bonus"], n_audience=20000, base_rate=0.70, rho=0.5, effect=0.02)
    return make_plan(**{**args, **kw})


def test_the_plan_reports_the_power_of_one_arm_against_the_holdout_at_the_planned_split():
    # two arms at a 10% holdout: each arm is 45%, so one arm vs the holdout is 11,000 customers at 45/55 of them
    # -> plan_power(11000, 0.45 / 0.55, ...) is the reference (FIELD_NOTES' formula, chow 2008 sec 3.2)
    p = _plan()
    ref = plan_power(11000, 0.45 / 0.55, 0.70, 0.02, rho=0.5)
    assert p.power == pytest.approx(ref.power) and p.power_cuped == pytest.approx(ref.power_cuped)
    assert p.mde_cuped == pytest.approx(ref.mde_cuped) and p.mde_cuped < p.mde
    assert p.planned_shares == {"none": 0.1, "discount": 0.45, "bonus": 0.45}


def test_the_audience_an_effect_needs_gives_the_target_power_and_no_customer_less_does():
    # inverting plan_power: at N the power reaches 80% (up to the rounding of the arm sizes, 1e-4), at 0.95 N it
    # does not
    n = audience_for_effect(0.03, 0.72, 0.3, 0.1, rho=0.3)
    power_at = lambda m: plan_power(round(m * 0.4), 0.75, 0.72, 0.03, rho=0.3).power_cuped  # noqa: E731
    assert power_at(n) == pytest.approx(0.8, abs=1e-3)
    assert power_at(0.95 * n) < 0.78
    assert _plan(effect=0.03, rho=0.3, base_rate=0.72, arms=["a", "b", "c"]).audience_needed == n


@pytest.mark.parametrize("kw, where", [
    (dict(effect=0.0), "effect"), (dict(effect=0.5), "effect"), (dict(base_rate=1.2), "base_rate"),
    (dict(rho=1.0), "rho"), (dict(alpha=1.5), "alpha"), (dict(arm_share=0.0), "arm_share"),
    (dict(sides=3), "sides"), (dict(target_power=np.nan), "target_power")])
def test_impossible_planning_inputs_raise_an_error_naming_the_parameter(kw, where):
    args = dict(effect=0.03, base_rate=0.7, arm_share=0.3, holdout_share=0.1)
    with pytest.raises(AnalysisError, match=where):
        audience_for_effect(**{**args, **kw})


@pytest.mark.parametrize("kw, where", [(dict(n_audience=1), "n_audience"), (dict(base_rate=0.0), "base_rate"),
                                       (dict(alpha=0.0), "alpha"), (dict(primary_metric="revenue"), "primary_metric")])
def test_a_plan_with_impossible_settings_is_refused(kw, where):
    with pytest.raises(AnalysisError, match=where):
        _plan(**kw)


def test_the_plan_file_round_trips_and_is_found_under_the_project_root(project, tmp_path, monkeypatch):
    p = _plan(offer_costs={"discount": 15.0}, extra={"winback_experiment_id": "exp-winback"})
    save_plan(p, project / "plans" / "p.json")
    monkeypatch.chdir(tmp_path)  # a run folder without the file: the project root's copy is read
    back = load_plan("plans/p.json")
    assert back == p
    assert resolve_path("plans/p.json") == project / "plans" / "p.json"
    with pytest.raises(DataSourceError, match="not found"):
        load_plan("plans/missing.json")


def test_a_plan_file_with_a_missing_or_unknown_field_is_refused(tmp_path):
    d = _plan().to_dict()
    (tmp_path / "a.json").write_text(pd.Series(d).drop("primary_metric").to_json(), encoding="utf-8")
    with pytest.raises(DataSourceError, match="missing field"):
        load_plan(tmp_path / "a.json")
    with pytest.raises(DataSourceError, match="unknown field"):
        CampaignPlan.from_dict({**d, "colour": "blue"})


def test_the_analysis_is_held_to_the_pre_registered_metric_level_date_and_arms():
    p = _plan()
    table = pd.DataFrame({"customer_id": ["a", "b", "c"], "arm": ["none", "discount", "bonus"]})
    ok = check_against_plan(p, table, metric="retained_90", alpha=0.05, campaign_date=T)
    assert ok["planned_shares"] == p.planned_shares
    with pytest.raises(AnalysisError, match="primary metric"):
        check_against_plan(p, table, metric="retained_30", alpha=0.05)
    with pytest.raises(AnalysisError, match="alpha"):
        check_against_plan(p, table, metric="retained_90", alpha=0.1)
    with pytest.raises(AnalysisError, match="campaign date"):
        check_against_plan(p, table, metric="retained_90", alpha=0.05, campaign_date="2024-08-01")
    with pytest.raises(AnalysisError, match="not in the plan"):
        check_against_plan(p, table.assign(arm=["none", "discount", "free_pony"]), metric="retained_90", alpha=0.05)
    with pytest.raises(AnalysisError, match="experiment_id"):
        check_against_plan(p, table, metric="retained_90", alpha=0.05, experiment_id="other")


def test_r_squared_is_the_share_of_variance_a_least_squares_fit_explains():
    # y = 2x + noise with var(noise) = var(2x): R^2 is one half (up to sampling, 0.02 at n = 20,000)
    rng = np.random.default_rng(0)
    x = rng.normal(size=20000)
    y = 2 * x + rng.normal(scale=2, size=20000)
    assert _r_squared(y, x[:, None]) == pytest.approx(0.5, abs=0.02)
    assert _r_squared(y, np.ones((20000, 1))) == 0.0  # a constant covariate explains nothing


def backtest_world() -> Dataset:
    """Ten customers active at the backtest date 2024-04-02 (T - 90 days); three of them leave before T."""
    ids = [f"c{i}" for i in range(10)]
    customers = pd.DataFrame({"customer_id": ids, "signup_at": pd.Timestamp("2023-06-01")})
    end = [pd.NaT] * 7 + [pd.Timestamp("2024-05-01"), pd.Timestamp("2024-06-01"), pd.Timestamp("2024-06-20")]
    subs = pd.DataFrame({"customer_id": ids, "subscription_id": [f"s{i}" for i in range(10)],
                         "start_at": pd.Timestamp("2023-06-01"), "end_at": end, "churn_reason": [None] * 7 + ["price"] * 3})
    # customer i last logged in i days before the backtest date: every one is in the audience at target share 1
    events = pd.DataFrame({"customer_id": ids, "timestamp": [pd.Timestamp("2024-04-01") - pd.Timedelta(days=i)
                                                             for i in range(10)], "event_type": "session"})
    payments = pd.DataFrame({"customer_id": ids, "payment_id": [f"p{i}" for i in range(10)],
                             "due_at": pd.Timestamp("2024-03-01"), "paid_at": pd.Timestamp("2024-03-02"),
                             "amount": 10.0, "late": False})
    return Dataset("bt", {"customers": customers, "subscriptions": subs, "events": events, "payments": payments},
                   as_of=T, source="test")


def test_planning_values_come_from_a_backtest_one_horizon_before_the_campaign():
    # at 2024-04-02 ten customers are active; 3 of them end by 2024-07-01: base retention 7/10
    v = planning_values(backtest_world(), T, horizon_days=90, target_share=1.0)
    assert v.backtest_date == pd.Timestamp("2024-04-02")
    assert (v.n, v.base_rate) == (10, pytest.approx(0.7))
    assert 0 <= v.rho < 1
    # the riskiest half: days since the last session 9..5 -> customers c5..c9, of whom c7, c8, c9 leave: 2/5
    half = planning_values(backtest_world(), T, horizon_days=90, target_share=0.5)
    assert (half.n, half.base_rate) == (5, pytest.approx(0.4))


def test_planning_values_without_history_say_how_to_proceed():
    with pytest.raises(AnalysisError, match="give base_rate and rho by hand"):
        planning_values(backtest_world(), "2023-07-01", horizon_days=90)
    with pytest.raises(AnalysisError, match="metric"):
        planning_values(backtest_world(), T, metric="revenue")


def test_plan_power_is_the_simulated_power_of_the_score_test_the_analysis_runs():
    # 20,000 simulated campaigns of 2,000 customers at 10/90, base 70%, +4 points, each analysed by the analysis's
    # own score test (S.score_difference); the simulated rejection rate has a standard error of about 0.0035, so
    # 3 se (0.011) is the tolerance. The Wald formula (test="wald") is the FIELD_NOTES one and plans lower.
    from churnlab.experiment import stats as S

    rng = np.random.default_rng(7)
    sims, n_t, n_c = 20000, 1800, 200
    x_t, x_c = rng.binomial(n_t, 0.74, sims), rng.binomial(n_c, 0.70, sims)
    simulated = np.mean([S.score_difference(a, n_t, b, n_c)[4] < 0.05 for a, b in zip(x_t, x_c)])
    planned = plan_power(2000, 0.9, 0.70, 0.04)
    assert planned.power == pytest.approx(simulated, abs=0.011)
    assert plan_power(2000, 0.9, 0.70, 0.04, test="wald").power < planned.power


def test_an_audience_too_small_for_any_effect_has_no_detectable_effect_rather_than_a_number():
    # 20 customers at 10/90 (2 in the holdout): +10 points on 50% has 6% power (score_power) and no effect up to
    # +50 points reaches 80%, so the smallest detectable effect does not exist: inf, written "none" in the notebook
    r = plan_power(20, 0.9, 0.5, 0.1)
    assert r.mde == float("inf") and r.power < 0.1
    assert plan_power(20000, 0.9, 0.5, 0.1).mde < 0.05


def test_the_wald_variant_keeps_the_field_notes_reference_values():
    # FIELD_NOTES: n = 20,000 at 10/90, base 70%, +2 points, rho 0.5 -> analytic 45.8% plain / 57.2% CUPED
    w = plan_power(20000, 0.9, 0.70, 0.02, rho=0.5, test="wald")
    assert (round(w.power, 3), round(w.power_cuped, 3)) == (0.458, 0.572)
    assert audience_for_effect(0.02, 0.70, 0.9, 0.1, test="wald") == 45602
    with pytest.raises(AnalysisError, match="test"):
        plan_power(20000, 0.9, 0.70, 0.02, test="t")
