"""Per-arm x metric analysis: SRM gate, effects, CUPED, corrections, guardrails, sequential, ROI."""

import importlib.util

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnlab.errors import AnalysisError, SampleRatioMismatchError
from churnlab.experiment import analysis as A
from churnlab.experiment import stats as S

PLAN = {"none": 0.1, "discount": 0.45, "bonus": 0.45}
TEN_NINETY = {"none": 0.1, "offer": 0.9}


def world(n=6000, seed=0, lift=(0.0, 0.0), rho_cov=True):
    """A toy experiment: 10/45/45 split, base retention 0.7, a pre-period covariate correlated with y."""
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    arm = np.where(u < 0.1, "none", np.where(u < 0.55, "discount", "bonus"))
    x = rng.normal(size=n)
    p = 0.7 + 0.1 * np.tanh(x) + np.where(arm == "discount", lift[0], np.where(arm == "bonus", lift[1], 0.0))
    y = (rng.random(n) < p).astype(float)
    return pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "arm": arm, "retained_90": y,
                         "retained_30": np.maximum(y, rng.random(n) < 0.5).astype(float), "pre_sessions": x})


def test_srm_gate_blocks_the_verdict_on_a_nine_ninety_one_split():
    t = pd.DataFrame({"arm": ["none"] * 9000 + ["offer"] * 91000, "y": np.tile([0.0, 1.0], 50000)})
    with pytest.raises(SampleRatioMismatchError, match="verdict is blocked"):
        A.analyze(t, ["y"], {"none": 0.1, "offer": 0.9})
    srm = A.srm_check(t, {"none": 0.1, "offer": 0.9})
    assert not srm.passed and srm.p < 1e-20  # chi2 = 111.1 on 1 df (hand: 1000^2/10000 + 1000^2/90000)


def test_srm_check_passes_a_planned_split_and_renders():
    srm = A.srm_check(world(), PLAN)
    assert srm.passed
    assert "passed" in repr(srm) and "chi-square" in srm._repr_html_()


def test_analysis_reports_every_arm_metric_and_kind_with_adjusted_p_values():
    res = A.analyze(world(lift=(0.05, 0.0)), ["retained_30", "retained_90"], PLAN, covariates=["pre_sessions"])
    s = res.summary
    assert len(s) == 2 * 2 * 3
    assert set(s["kind"]) == {"absolute", "relative", "cuped"}
    assert (s["p_adjusted"] >= s["p"] - 1e-15).all()
    assert {"estimate", "ci_lower", "ci_upper", "p", "p_adjusted"} <= set(s.columns)
    cup = res.effect("discount", "retained_90", "cuped")
    plain = res.effect("discount", "retained_90", "absolute")
    assert cup.se < plain.se and cup.variance_reduction > 0
    assert "CUPED" in cup._repr_html_() and "alpha" in res._repr_html_()
    assert res.plot() is not None


def test_the_estimate_is_treated_minus_holdout_whatever_the_row_order():
    t = world(lift=(0.05, 0.0))
    a = A.analyze(t, ["retained_90"], PLAN).effect("discount", "retained_90")
    b = A.analyze(t.iloc[::-1], ["retained_90"], PLAN).effect("discount", "retained_90")
    assert a.estimate == pytest.approx(b.estimate)
    yt = t.loc[t.arm == "discount", "retained_90"].mean()
    yc = t.loc[t.arm == "none", "retained_90"].mean()
    assert a.estimate == pytest.approx(yt - yc)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(-0.1, 0.1))
def test_swapping_arm_labels_flips_the_sign_and_the_ci_contains_the_estimate(seed, lift):
    t = world(n=1500, seed=seed, lift=(lift, 0.0))
    m = A.arm_moments(t, "retained_90", ["discount", "none"])
    for kind in ("absolute", "relative"):
        r = A.effect(m["discount"], m["none"], kind=kind)
        assert r.ci_lower <= r.estimate <= r.ci_upper
        assert 0.0 <= r.p <= 1.0
    fwd = A.effect(m["discount"], m["none"])
    back = A.effect(m["none"], m["discount"])
    assert back.estimate == pytest.approx(-fwd.estimate)
    assert back.p == pytest.approx(fwd.p)


def test_aa_false_positive_rate_of_absolute_and_relative_effects_is_inside_the_binomial_band():
    # 4,000 vectorised A/A experiments (seed 0), n=20,000 at 10/90, base 70%: the 99% binomial band
    # around 5% for 4,000 draws is 4.1%-5.9% (scipy binom.ppf).
    rng = np.random.default_rng(0)
    sims, n = 4000, 20000
    n_c = rng.binomial(n, 0.1, sims)
    n_t = n - n_c
    x_c, x_t = rng.binomial(n_c, 0.7), rng.binomial(n_t, 0.7)
    m_c, m_t = x_c / n_c, x_t / n_t
    v_c, v_t = m_c * (1 - m_c) * n_c / (n_c - 1), m_t * (1 - m_t) * n_t / (n_t - 1)
    lo, hi = S.binomial_band(sims, 0.05, 0.99)
    for formula in (S.absolute_effect, S.relative_effect):
        est, se = formula(m_t, v_t, n_t, m_c, v_c, n_c)
        rate = float((S.p_value_from_z(est / se) < 0.05).mean())
        assert lo <= rate <= hi, (formula.__name__, rate, (lo, hi))


def test_aa_false_positive_rate_of_the_full_cuped_analysis_is_near_five_percent():
    # 300 A/A experiments through analyze() (seeds 0..299), n=10,000 at 10/90 with a covariate
    # (rho about 0.2); 99% binomial band around 5% for 300 draws (2.3%-8.0%).
    lo, hi = S.binomial_band(300, 0.05, 0.99)
    plan = {"none": 0.1, "offer": 0.9}
    rejections = {"absolute": 0, "cuped": 0}
    for seed in range(300):
        rng = np.random.default_rng(seed)
        n = 10000
        x = rng.normal(size=n)
        y = (rng.random(n) < 0.7 + 0.1 * np.tanh(x)).astype(float)
        arm = np.where(rng.random(n) < 0.1, "none", "offer")
        res = A.analyze(pd.DataFrame({"arm": arm, "y": y, "x": x}), ["y"], plan, covariates=["x"],
                        kinds=["absolute", "cuped"], srm_alpha=1e-12)
        for e in res.effects:
            rejections[e.kind] += e.p < 0.05
    for kind, r in rejections.items():
        assert lo <= r / 300 <= hi, (kind, r / 300, (lo, hi))


def test_an_arm_with_no_customers_raises_a_named_error():
    t = world()
    t = t[t.arm != "bonus"]
    with pytest.raises(AnalysisError, match="'bonus' has no customers"):
        A.analyze(t, ["retained_90"], PLAN)


def test_identical_outcomes_everywhere_raise_instead_of_a_neutral_result():
    t = world().assign(retained_90=1.0)
    with pytest.raises(AnalysisError, match="identical outcomes"):
        A.analyze(t, ["retained_90"], PLAN)


def test_missing_pre_period_data_raises_a_named_error():
    t = world()
    with pytest.raises(AnalysisError, match="pre-period covariates missing"):
        A.analyze(t, ["retained_90"], PLAN, covariates=["pre_payments"])
    t.loc[t.index[:5], "pre_sessions"] = np.nan
    with pytest.raises(AnalysisError, match="'pre_sessions' has 5 missing"):
        A.analyze(t, ["retained_90"], PLAN, covariates=["pre_sessions"])


def test_unknown_correction_and_kind_raise():
    with pytest.raises(AnalysisError, match="correction"):
        A.analyze(world(), ["retained_90"], PLAN, correction="bonferroni-ish")
    with pytest.raises(AnalysisError, match="CUPED"):
        A.analyze(world(), ["retained_90"], PLAN, kinds=["cuped"])


def test_bh_adjusted_p_values_are_no_larger_than_holm():
    t = world(lift=(0.04, 0.02))
    holm = A.analyze(t, ["retained_30", "retained_90"], PLAN, correction="holm").summary
    bh = A.analyze(t, ["retained_30", "retained_90"], PLAN, correction="bh").summary
    assert (bh["p_adjusted"] <= holm["p_adjusted"] + 1e-12).all()


def test_non_inferiority_passes_for_no_harm_and_fails_for_a_large_harm():
    ok = A.non_inferiority_test(world(n=20000, lift=(0.0, 0.0)), "retained_90", "discount", margin=0.05,
                                 planned=PLAN)
    assert ok.non_inferior and ok.bound > -0.05
    bad = A.non_inferiority_test(world(n=20000, lift=(-0.08, 0.0)), "retained_90", "discount", margin=0.02,
                                  planned=PLAN)
    assert not bad.non_inferior
    assert "non-inferiority" in bad._repr_html_()


def test_power_result_reproduces_the_field_notes_reference_and_mde():
    # FIELD_NOTES' analytic 45.8% / 57.2% are the Wald z-test's power (plan_power's default is the score test's)
    r = A.plan_power(20000, 0.9, 0.70, 0.02, rho=0.5, test="wald")
    assert r.power == pytest.approx(0.458, abs=5e-4)
    assert r.power_cuped == pytest.approx(0.572, abs=5e-4)
    assert r.mde == pytest.approx(0.030, abs=1e-3)
    assert r.mde_cuped < r.mde
    assert list(r.summary["analysis"]) == ["plain", "cuped"]


def test_sequential_test_never_rejects_before_the_naive_test_on_the_same_looks():
    t = world(n=8000, seed=3).assign(order=lambda d: np.arange(len(d)))
    res = A.sequential_looks(t, "retained_90", "discount", order_col="order", n_looks=8, planned=PLAN)
    looks = res.looks
    assert (looks["always_valid_p"] >= looks["naive_p"] - 1e-12).all() or res.rejected_at is None
    assert looks["always_valid_p"].is_monotonic_decreasing


def test_roi_scales_the_effect_interval_and_subtracts_the_cost():
    t = S.moments([1.0] * 75 + [0.0] * 25)
    c = S.moments([1.0] * 70 + [0.0] * 30)
    e = A.effect(t, c)
    r = A.roi(e, 1000, value_per_retained=100.0, cost_per_treated=2.0)
    s = r.summary.set_index("quantity")
    # 0.05 x 1000 = 50 retained; x 100 = 5,000 revenue; minus 2,000 cost = 3,000; ROI 1.5.
    assert s.loc["incremental_retained", "estimate"] == pytest.approx(50)
    assert s.loc["net_profit", "estimate"] == pytest.approx(3000)
    assert s.loc["roi", "estimate"] == pytest.approx(1.5)
    assert s.loc["incremental_retained", "ci_lower"] == pytest.approx(e.ci_lower * 1000)


def test_effects_by_segment_names_groups_too_small_to_analyse():
    t = world(n=3000).assign(segment=lambda d: np.where(np.arange(len(d)) < 2990, "B2C", "B2B"))
    table = A.effects_by(t, "retained_90", "segment", planned=PLAN)
    assert set(table["group"]) == {"B2B", "B2C"}
    small = table[table["group"] == "B2B"]
    assert small["estimate"].isna().all() and small["note"].str.contains("fewer than").all()
    assert table[table["group"] == "B2C"]["estimate"].notna().all()


def test_logrank_and_kaplan_meier_match_scipy():
    from scipy import stats as sst

    from churnlab.experiment.survival import kaplan_meier, logrank_test

    rng = np.random.default_rng(0)
    arm = np.where(rng.random(300) < 0.3, "offer", "none")
    t = rng.exponential(10, 300).round() + 2 * (arm == "offer")
    censored = rng.random(300) < 0.3
    f = pd.DataFrame({"arm": arm, "duration": t, "event": ~censored})

    def cd(mask):
        return sst.CensoredData(uncensored=t[mask & ~censored], right=t[mask & censored])

    ref = sst.logrank(cd(arm == "none"), cd(arm == "offer"))
    res = logrank_test(f)
    assert res.chi2 == pytest.approx(ref.statistic**2, rel=0.03)  # scipy's variance differs at ties by <3%
    assert res.p == pytest.approx(ref.pvalue, abs=0.01)
    km = kaplan_meier(t[arm == "none"], ~censored[arm == "none"])
    reference = sst.ecdf(cd(arm == "none")).sf.evaluate(km["time"].to_numpy())
    assert km["survival"].to_numpy() == pytest.approx(reference)
    assert res.plot() is not None


def test_logrank_needs_two_arms_and_an_event():
    from churnlab.experiment.survival import logrank_test

    f = pd.DataFrame({"arm": ["a", "b"], "duration": [1.0, 2.0], "event": [False, False]})
    with pytest.raises(AnalysisError, match="no churn event"):
        logrank_test(f)
    with pytest.raises(AnalysisError, match="two arms"):
        logrank_test(f.assign(arm="a"))


def test_the_package_name_analyze_is_the_function_and_the_module_is_analysis():
    import churnlab.experiment as E

    assert callable(E.analyze) and E.analyze is A.analyze
    assert importlib.util.find_spec("churnlab.experiment.analyze") is None


def churn_times(n, seed, hazard_ratio=1.0, daily_hazard=0.004, horizon=91):
    """10/90 campaign with exponential churn in whole days, censored at the horizon."""
    rng = np.random.default_rng(seed)
    arm = np.where(rng.random(n) < 0.1, "none", "offer")
    rate = daily_hazard * np.where(arm == "offer", hazard_ratio, 1.0)
    days = np.ceil(rng.exponential(1 / rate))
    event = days <= horizon
    return pd.DataFrame({"arm": arm, "duration": np.minimum(days, horizon), "event": event})


def test_sequential_logrank_at_the_last_look_is_the_log_rank_test():
    from churnlab.experiment.survival import logrank_test

    t = churn_times(3000, seed=0, hazard_ratio=0.7)
    seq = A.sequential_logrank(t, "offer", look_days=[7, 28, 91], planned=TEN_NINETY)
    lr = logrank_test(t)
    last = seq.looks.iloc[-1]
    # chi2 of the two-group log-rank is U^2 / V (Mantel 1966), so the last naive p equals its p-value.
    assert last["naive_p"] == pytest.approx(lr.p, rel=1e-9)
    assert last["estimate"] < 0  # the offer lowers the hazard
    assert list(seq.looks["day"]) == [7, 28, 91] and seq.looks["always_valid_p"].is_monotonic_decreasing
    with pytest.raises(AnalysisError, match="beyond the follow-up"):
        A.sequential_logrank(t, "offer", look_days=[100], planned=TEN_NINETY)


def test_weekly_peeks_inflate_the_naive_log_rank_but_not_the_always_valid_one():
    weeks = np.arange(7, 92, 7)
    naive, valid = [], []
    for seed in range(300):
        seq = A.sequential_logrank(churn_times(3000, seed=100 + seed), "offer", look_days=weeks,
                                   planned=TEN_NINETY).looks
        naive.append((seq["naive_p"] < 0.05).any())
        valid.append((seq["always_valid_p"] < 0.05).any())
    # 300 A/A campaigns, 13 weekly looks: fixed-sample theory gives 5% per look; repeated looks at 13
    # correlated z-statistics reject far more often (Armitage et al. 1969: ~20% at 10 looks). The 99%
    # binomial band around 5% for 300 draws ends at 8.3%.
    assert np.mean(naive) > 0.083
    assert np.mean(valid) <= 0.083
