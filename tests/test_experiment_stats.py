"""Formulas of churnlab.experiment.stats against textbook values and scipy."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sst

from churnlab.errors import AnalysisError
from churnlab.experiment import stats as S


def test_two_proportion_z_matches_the_pooled_formula_computed_by_hand():
    # 720/1000 vs 700/1000: pooled p = 0.71, se = sqrt(0.71*0.29*(2/1000)) = 0.0202929, z = 0.02/se.
    z = S.two_proportion_z(720, 1000, 700, 1000)
    assert z == pytest.approx(0.02 / np.sqrt(0.71 * 0.29 * 0.002), rel=1e-12)
    # statsmodels proportions_ztest([720, 700], [1000, 1000]) gives z = 0.98557 (same formula).
    assert z == pytest.approx(0.98557, abs=5e-6)


def test_two_proportion_z_squared_equals_scipy_chi_square_without_continuity_correction():
    table = np.array([[180, 20], [150, 50]])
    chi2 = sst.chi2_contingency(table, correction=False)[0]
    z = S.two_proportion_z(180, 200, 150, 200)
    assert z**2 == pytest.approx(chi2, rel=1e-10)


def test_absolute_effect_se_uses_each_arms_own_n():
    # FIELD_NOTES scenario: 0.72 on 18,000 vs 0.70 on 2,000: se = sqrt(.2016/18000 + .21/2000) = 0.010780.
    est, se = S.absolute_effect(0.72, 0.2016, 18000, 0.70, 0.21, 2000)
    assert est == pytest.approx(0.02)
    assert se == pytest.approx(np.sqrt(0.2016 / 18000 + 0.21 / 2000), rel=1e-12)


def test_relative_effect_delta_method_matches_the_hand_formula_and_a_simulation():
    # Deng et al. (2018) eq. for var(mean_t/mean_c): var_t/(n_t m_c^2) + m_t^2 var_c/(n_c m_c^4).
    est, se = S.relative_effect(0.72, 0.2016, 18000, 0.70, 0.21, 2000)
    assert est == pytest.approx(0.72 / 0.70 - 1)
    assert se == pytest.approx(np.sqrt(0.2016 / (18000 * 0.49) + 0.72**2 * 0.21 / (2000 * 0.70**4)), rel=1e-12)
    # Monte Carlo of the ratio of binomial means (seed 0, 20,000 draws): sd within 3%.
    rng = np.random.default_rng(0)
    ratio = rng.binomial(18000, 0.72, 20000) / 18000 / (rng.binomial(2000, 0.70, 20000) / 2000) - 1
    assert ratio.std() == pytest.approx(se, rel=0.03)


def test_cuped_theta_on_a_hand_example():
    # y = 2,4,6,9 and x = 1,2,3,4: cov(x,y) = 11.5/3, var(x) = 5/3, theta = 2.3; adjusted var = 0.1.
    m = S.moments([2.0, 4.0, 6.0, 9.0], [1.0, 2.0, 3.0, 4.0])
    theta = S.cuped_theta(m)
    assert theta.tolist() == pytest.approx([2.3])
    mean, var = S.cuped_adjusted(m, theta, m.mean[1:])
    assert mean == pytest.approx(5.25)
    assert var == pytest.approx(0.1)


def test_cuped_theta_with_two_covariates_equals_ols_slopes():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 2))
    y = 1.0 + 0.5 * x[:, 0] - 2.0 * x[:, 1] + rng.normal(size=500)
    ols = np.linalg.lstsq(np.column_stack([np.ones(500), x]), y, rcond=None)[0][1:]
    assert S.cuped_theta(S.moments(y, x)) == pytest.approx(ols, rel=1e-9)


def test_cuped_without_covariate_or_with_a_constant_covariate_raises():
    with pytest.raises(AnalysisError, match="covariate"):
        S.cuped_theta(S.moments([1.0, 2.0, 3.0]))
    with pytest.raises(AnalysisError, match="no variance"):
        S.cuped_theta(S.moments([1.0, 2.0, 3.0], [5.0, 5.0, 5.0]))


def test_moments_pool_by_addition():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(30, 2)), rng.normal(size=(50, 2))
    pooled = S.moments(a[:, 0], a[:, 1]) + S.moments(b[:, 0], b[:, 1])
    direct = S.moments(np.r_[a[:, 0], b[:, 0]], np.r_[a[:, 1], b[:, 1]])
    assert pooled.n == 80
    assert pooled.covariance == pytest.approx(direct.covariance)
    assert pooled.var_y == pytest.approx(np.var(np.r_[a[:, 0], b[:, 0]], ddof=1))


def test_power_reproduces_the_field_notes_analytic_values():
    # FIELD_NOTES: n=20,000 at 10/90, base 70%, +2 points: 45.8% plain, 57.2% with CUPED rho 0.5.
    assert S.power(0.02, 0.72 * 0.28, 18000, 0.21, 2000) == pytest.approx(0.458, abs=5e-4)
    assert S.power(0.02, 0.75 * 0.72 * 0.28, 18000, 0.75 * 0.21, 2000) == pytest.approx(0.572, abs=5e-4)


def test_minimum_detectable_effect_is_about_three_points_and_gives_the_target_power():
    mde = S.minimum_detectable_effect(0.21, 18000, 0.21, 2000)
    assert mde == pytest.approx(0.030, abs=5e-4)  # FIELD_NOTES: "about 3.0 points"
    # At the MDE, power is 80% up to the negligible opposite tail.
    assert S.power(mde, 0.21, 18000, 0.21, 2000) == pytest.approx(0.80, abs=1e-4)


def test_sample_size_at_an_even_split_is_twice_the_textbook_per_group_size():
    # Textbook per group: (z_.975 + z_.8)^2 (p1 q1 + p2 q2) / d^2 (Chow, Shao & Wang 2008, eq. 4.2.2).
    z = sst.norm.ppf(0.975) + sst.norm.ppf(0.8)
    per_group = z**2 * (0.72 * 0.28 + 0.70 * 0.30) / 0.02**2
    assert S.sample_size(0.72 * 0.28, 0.21, 0.02, treated_share=0.5) == int(np.ceil(2 * per_group))


def test_sample_size_at_ten_ninety_gives_eighty_percent_power():
    n = S.sample_size(0.72 * 0.28, 0.21, 0.02, treated_share=0.9)
    assert S.power(0.02, 0.72 * 0.28, 0.9 * n, 0.21, 0.1 * n) == pytest.approx(0.80, abs=1e-3)


def test_holm_and_bh_match_hand_computations():
    # Holm: sorted .01,.03,.04 times 3,2,1 = .03,.06,.04 -> cummax .03,.06,.06.
    assert S.holm([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.06, 0.06])
    # BH: .04*3/3=.04, .03*3/2=.045, .01*3/1=.03 -> cummin from the top: .04,.04,.03.
    assert S.benjamini_hochberg([0.01, 0.04, 0.03]).tolist() == pytest.approx([0.03, 0.04, 0.04])


def test_non_inferiority_p_is_one_sided_normal_tail():
    z, p = S.non_inferiority(-0.005, 0.01, 0.02)
    assert z == pytest.approx(1.5)
    assert p == pytest.approx(sst.norm.sf(1.5))
    z2, _ = S.non_inferiority(0.005, 0.01, 0.02, higher_is_better=False)
    assert z2 == pytest.approx(1.5)
    with pytest.raises(AnalysisError, match="margin"):
        S.non_inferiority(0.0, 0.01, 0.0)


def test_msprt_is_one_at_zero_tau_limit_and_grows_with_the_estimate():
    v = np.array([1e-4, 1e-4])
    lr = S.msprt_likelihood_ratio(np.array([0.0, 0.05]), v, 0.02**2)
    assert lr[0] < 1 < lr[1]
    # Johari et al. (2017) eq. (7) at est=0: sqrt(V/(V+tau2)) = sqrt(1e-4/5e-4).
    assert lr[0] == pytest.approx(np.sqrt(0.2))


def test_srm_chi_square_matches_scipy_chisquare():
    chi2, p = S.srm_chi_square([9000, 91000], [0.1, 0.9])
    ref = sst.chisquare([9000, 91000], [10000, 90000])
    assert chi2 == pytest.approx(ref.statistic)
    assert p == pytest.approx(ref.pvalue)
    assert chi2 == pytest.approx(1000**2 / 10000 + 1000**2 / 90000)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(0.05, 0.95), st.floats(0.05, 0.95), st.integers(5, 5000), st.integers(5, 5000),
)
def test_p_values_lie_in_zero_one_and_swapping_arms_flips_the_sign(pt, pc, nt, nc):
    vt, vc = pt * (1 - pt), pc * (1 - pc)
    est, se = S.absolute_effect(pt, vt, nt, pc, vc, nc)
    est2, se2 = S.absolute_effect(pc, vc, nc, pt, vt, nt)
    assert est2 == pytest.approx(-est)
    assert se2 == pytest.approx(se)
    p = S.p_value_from_z(est / se)
    assert 0.0 <= p <= 1.0
    assert 0.0 <= S.power(est, vt, nt, vc, nc) <= 1.0


def test_log_ratio_effect_matches_the_delta_method_on_the_log_scale_by_hand():
    # Deng et al. (2018): var(log mean_t - log mean_c) = var_t/(n_t m_t^2) + var_c/(n_c m_c^2).
    est, se = S.log_ratio_effect(0.72, 0.2016, 18000, 0.70, 0.21, 2000)
    assert est == pytest.approx(np.log(0.72 / 0.70))
    assert se == pytest.approx(np.sqrt(0.2016 / (18000 * 0.72**2) + 0.21 / (2000 * 0.70**2)), rel=1e-12)
    # exp(se) x ratio is the ratio's delta-method se to first order (relative_effect).
    _, se_ratio = S.relative_effect(0.72, 0.2016, 18000, 0.70, 0.21, 2000)
    assert se * 0.72 / 0.70 == pytest.approx(se_ratio, rel=1e-12)
    with pytest.raises(AnalysisError, match="positive means"):
        S.log_ratio_effect(0.0, 0.1, 100, 0.5, 0.25, 100)


def test_mover_ratio_interval_agrees_with_katz_at_large_counts_and_exists_at_zero():
    from churnlab.intervals import mover_ratio_interval, risk_ratio_interval

    # 200/1000 vs 100/1000: both intervals rest on normal approximations that agree at these counts (within 1%).
    lo, hi = mover_ratio_interval(200, 1000, 100, 1000)
    _, klo, khi = risk_ratio_interval(200, 1000, 100, 1000)
    assert float(lo) == pytest.approx(float(klo), rel=0.01) and float(hi) == pytest.approx(float(khi), rel=0.01)
    # A holdout with no success: Katz is undefined, MOVER-R has a positive lower bound and no upper bound.
    lo0, hi0 = mover_ratio_interval(45, 900, 0, 100)
    assert np.isnan(risk_ratio_interval(45, 900, 0, 100)[1]) and 0 < float(lo0) and np.isinf(hi0)


def test_score_difference_is_the_pooled_z_test_with_newcombes_interval():
    from churnlab.intervals import newcombe_difference_interval

    est, se, lo, hi, p = S.score_difference(56, 70, 48, 80)
    # Newcombe (1998) example: 0.0524 to 0.3339; scipy chi2_contingency without correction gives the same p.
    assert (lo, hi) == pytest.approx(tuple(float(v) for v in newcombe_difference_interval(56, 70, 48, 80)))
    assert p == pytest.approx(sst.chi2_contingency([[56, 14], [48, 32]], correction=False)[1], rel=1e-10)
    _, _, lo1, hi1, p1 = S.score_difference(56, 70, 48, 80, sides=1)
    assert np.isinf(hi1) and p1 == pytest.approx(p / 2) and lo1 > lo


def test_upper_cap_skips_binary_metrics_and_looks_past_a_mass_of_zeros():
    assert S.upper_cap(np.r_[np.zeros(990), np.ones(10)], 0.99) is None  # 1% rate: capping at 0 would erase it
    y = np.r_[np.zeros(995), np.arange(1.0, 6.0)]  # 99.5% zeros: the pooled p99 is 0, the minimum
    assert S.upper_cap(y, 0.99) == pytest.approx(np.quantile(np.arange(1.0, 6.0), 0.99))
    assert S.upper_cap(np.arange(101.0), 0.99) == pytest.approx(99.0)  # numpy linear quantile
