"""The weekly job's formulas on hand-made data: holdout hash, expected churn, PSI, AUC error, window metrics, alerts."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from churnlab.errors import AnalysisError, SpecError
from churnlab.intervals import newcombe_difference_interval, wilson_interval
from churnlab.monitor.alerts import EXIT_ALERT, alert_message, evaluate_alerts, load_alerts, parse_alerts
from churnlab.monitor.drift import auc_standard_error, feature_drift, psi, training_figures, window_quality
from churnlab.monitor.expected import expected_churn, realised_churn, reconcile
from churnlab.monitor.holdout import drop_holdout, holdout_flags
from churnlab.monitor.metrics import average_lifetime_months, metric_rows, run_dates, window_metrics
from churnlab.schema import Dataset

# --- persistent holdout ------------------------------------------------------------------------------------


def test_holdout_membership_is_the_campaign_hash_of_the_id_alone():
    ids = [f"c{i:05d}" for i in range(20_000)]
    flags = holdout_flags(ids, program_id="retention", share=0.05, salt="2025")
    # by hand: int(sha256("program\\:retention:2025:<id>")[:8 bytes]) / 2^64 < share (experiment.assign.hash_unit;
    # the colon inside the experiment id "program:retention" is escaped so that no id/salt pair can collide)
    by_hand = [int.from_bytes(hashlib.sha256(f"program\\:retention:2025:{c}".encode()).digest()[:8], "big") / 2**64 < 0.05
               for c in ids[:200]]
    assert flags[:200].tolist() == by_hand
    # binomial(20000, 0.05): sd 0.0015; 0.005 is over three of them
    assert abs(flags.mean() - 0.05) < 0.005
    assert (holdout_flags(ids[::-1], program_id="retention", share=0.05, salt="2025") == flags[::-1]).all()
    assert not (holdout_flags(ids, share=0.05, salt="other") == flags).all()


def test_drop_holdout_removes_exactly_the_flagged_customers_and_a_bad_share_is_named():
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(2000)]})
    kept = drop_holdout(frame)
    assert len(kept) + kept.attrs["held_out"] == 2000
    assert not holdout_flags(kept["customer_id"]).any()
    with pytest.raises(AnalysisError, match="share"):
        holdout_flags(["a"], share=1.5)


# --- expected churn ----------------------------------------------------------------------------------------


def test_expected_churn_is_the_poisson_binomial_mean_and_variance():
    e = expected_churn([0.5, 0.5, 0.1, 0.9])
    # by hand: mean 0.5+0.5+0.1+0.9 = 2; variance 0.25+0.25+0.09+0.09 = 0.68; 1.959964 * sqrt(0.68) = 1.61623
    assert e.expected == pytest.approx(2.0) and e.variance == pytest.approx(0.68)
    assert (e.lower, e.upper) == pytest.approx((2 - 1.61623, 2 + 1.61623), abs=1e-5)
    assert e.rate == pytest.approx(0.5) and e.summary.loc[0, "rate_upper"] == pytest.approx(e.upper / 4)
    # the calibration's own uncertainty: a level fitted on 10 churners adds 2^2 / 10 = 0.4 to the variance
    assert expected_churn([0.5, 0.5, 0.1, 0.9], calibration_events=10).variance == pytest.approx(1.08)
    with pytest.raises(AnalysisError, match="calibration_events"):
        expected_churn([0.5], calibration_events=0)
    with pytest.raises(AnalysisError, match=r"\[0, 1\]"):
        expected_churn([0.2, 1.2])
    with pytest.raises(AnalysisError, match="no probabilities"):
        expected_churn([])


def test_the_expected_churn_interval_covers_simulated_churn_at_its_level():
    rng = np.random.default_rng(0)
    covered = []
    for _ in range(2000):
        p = rng.beta(0.6, 9.0, size=1500)  # mean churn 6%, skewed like a churn score
        e = expected_churn(p)
        covered.append(e.lower <= rng.binomial(1, p).sum() <= e.upper)
    # 95% nominal; the coverage estimate's sd over 2000 runs is 0.005, so [0.93, 0.97] is four of them
    assert 0.93 <= np.mean(covered) <= 0.97


def _subs_world() -> Dataset:
    """Six customers, one monthly fee each; the hand counts of the tests below come from these rows."""
    t = pd.Timestamp
    customers = pd.DataFrame({"customer_id": list("abcdef"), "signup_at": [t("2024-01-01")] * 6,
                              "segment": ["B2B", "B2B", "B2C", "B2C", "B2C", "B2C"],
                              "monthly_fee": [100.0, 50.0, 10.0, 10.0, 20.0, 20.0]})
    subs = pd.DataFrame({
        "customer_id": list("abcdef") + ["c"],
        "start_at": [t("2024-01-01")] * 6 + [t("2024-03-05")],
        # a leaves 2024-03-03 (in the week 03-01..03-08), c leaves 03-02 and returns 03-05, e leaves 03-20
        "end_at": [t("2024-03-03"), pd.NaT, t("2024-03-02"), pd.NaT, t("2024-03-20"), pd.NaT, pd.NaT],
    })
    return Dataset(name="hand", tables={"customers": customers, "subscriptions": subs}, as_of=t("2024-04-30"),
                   source="test")


def test_realised_churn_and_reconcile_count_the_window_by_hand():
    ds = _subs_world()
    # active at 03-01: all six; churned in (03-01, 03-31]: a (03-03), c (03-02; comes back 03-05 but a new spell), e
    r = realised_churn(ds, "2024-03-01", 30)
    assert (r["n"], r["realised"]) == (6, 3)
    exp = pd.DataFrame([{"cutoff": pd.Timestamp("2024-03-01"), **expected_churn([0.5] * 6).to_dict()},
                        {"cutoff": pd.Timestamp("2024-04-15"), **expected_churn([0.5] * 4).to_dict()}])
    table = reconcile(exp, ds, horizon_days=30)
    assert table["matured"].tolist() == [True, False]
    assert table.loc[0, "gap"] == pytest.approx(0.0) and table.loc[0, "covered"]
    assert np.isnan(table.loc[1, "realised"])


# --- drift and quality -------------------------------------------------------------------------------------


def test_psi_matches_the_formula_on_two_bins():
    reference = np.arange(100.0)  # median 49.5 splits it in halves
    current = np.r_[np.zeros(75), np.full(25, 99.0)]
    # by hand: (0.75-0.5) ln(0.75/0.5) + (0.25-0.5) ln(0.25/0.5) = 0.101366 + 0.173287 = 0.274653
    out = psi(reference, current, bins=2, n_boot=500)
    assert out["psi"] == pytest.approx(0.274653, abs=1e-6)
    assert out["psi_lower"] < out["psi"] < out["psi_upper"] and out["bins"] == 2
    with pytest.raises(AnalysisError, match="empty"):
        psi([], [1.0])


def test_feature_drift_ranks_the_shifted_feature_first():
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"stable": rng.normal(size=3000), "shifted": rng.normal(size=3000)})
    cur = pd.DataFrame({"stable": rng.normal(size=3000), "shifted": rng.normal(1.0, 1.0, size=3000)})
    table = feature_drift(ref, cur, n_boot=20)
    assert table["feature"].tolist() == ["shifted", "stable"]
    assert table.loc[0, "psi"] > 0.25 > 0.02 > table.loc[1, "psi"]


def test_auc_standard_error_and_window_quality():
    # Hanley & McNeil (1982) eq. 2 by hand for A=0.8, 50 positives, 950 negatives: sqrt(68.95/47500) = 0.03810
    assert auc_standard_error(0.8, 50, 950) == pytest.approx(0.03810, abs=5e-5)
    y = np.r_[np.ones(20), np.zeros(80)]
    q = window_quality(y, np.r_[np.full(20, 0.9), np.full(80, 0.1)], training={"roc_auc": 0.8, "brier": 0.05})
    assert q["roc_auc"] == 1.0 and q["auc_drop"] == pytest.approx(-0.2)
    # Brier by hand: (0.1^2 * 100) / 100 = 0.01; observed 0.2 vs predicted 0.26 -> gap -0.06
    assert q["brier"] == pytest.approx(0.01) and q["calibration_gap"] == pytest.approx(-0.06)
    with pytest.raises(AnalysisError, match="single class"):
        window_quality(np.zeros(10), np.full(10, 0.1))
    assert training_figures({"roc_auc_test": 0.7, "xgboost_out_of_time_roc_auc": 0.8}) == {
        "roc_auc": 0.8, "brier": pytest.approx(float("nan"), nan_ok=True)}


# --- window metrics ------------------------------------------------------------------------------------------


def test_window_metrics_count_the_week_by_hand():
    ds = _subs_world()
    m = window_metrics(ds, [pd.Timestamp("2024-03-08")], every_days=7)
    v = m.set_index(["metric", "segment"])["value"]
    # week [03-01, 03-08): six active at the start; a and c left (c came back on 03-05 as a returning customer)
    assert v[("churn_rate", "all")] == pytest.approx(1 / 6)  # active at the start and not at the end: a only
    assert v[("churn_rate", "B2B")] == pytest.approx(1 / 2)
    assert v[("churn_rate_net", "all")] == pytest.approx(1 / 6)
    # revenue churn: a's 100 of the starters' 210
    assert v[("revenue_churn_rate", "all")] == pytest.approx(100 / 210)
    # lifetime: monthly-equivalent churn (1/6 * 30.44/7 = 0.725) -> 1 / 0.725 = 1.38 months
    assert v[("average_lifetime_months", "all")] == pytest.approx(1 / (1 / 6 * (365.25 / 12) / 7))
    lo, hi = wilson_interval(1, 6, 0.05)
    row = m[(m["metric"] == "churn_rate") & (m["segment"] == "all")].iloc[0]
    assert (row["lower"], row["upper"]) == pytest.approx((float(lo), float(hi)))
    assert [d.date().isoformat() for d in run_dates("2024-03-15", 1)] == ["2024-03-08", "2024-03-15"]
    assert float(average_lifetime_months(0.05)) == 20.0


# --- alerts --------------------------------------------------------------------------------------------------


def _table(now_x: int, history_x: list[int], n: int = 1000) -> pd.DataFrame:
    dates = run_dates("2025-03-31", len(history_x))
    rows = [metric_rows(d, d, d, "churn_rate", "B2C", n, x, x / n, np.nan, np.nan)
            for d, x in zip(dates, [*history_x, now_x])]
    return pd.DataFrame(rows)


def test_a_change_alert_fires_only_when_newcombe_s_interval_clears_the_threshold():
    rules = parse_alerts([{"name": "up", "metric": "churn_rate", "kind": "change", "threshold": 0.01,
                           "direction": "above", "segment": "B2C", "min_n": 500, "baseline_runs": 4}])
    out = evaluate_alerts(_table(60, [20, 20, 20, 20]), rules)
    # MOVER with Wilson intervals is Newcombe's method 10: same bounds as churnlab.intervals at alpha 0.01
    lo, hi = newcombe_difference_interval(60, 1000, 80, 4000, alpha=0.01)
    assert (out.loc[0, "change_lower"], out.loc[0, "change_upper"]) == pytest.approx((float(lo), float(hi)))
    assert out.loc[0, "fired"] and out.loc[0, "status"] == "fired"
    assert not evaluate_alerts(_table(30, [20, 20, 20, 20]), rules).loc[0, "fired"]  # +1 point: interval includes it
    small = evaluate_alerts(_table(60, [20, 20, 20, 20], n=300), rules)
    assert small.loc[0, "status"] == "small n" and not small.loc[0, "fired"]
    assert evaluate_alerts(_table(60, []), rules).loc[0, "status"] == "no baseline"


def test_a_threshold_alert_reads_the_interval_not_the_point():
    table = _table(100, [])
    lo, _ = wilson_interval(100, 1000, 0.01)  # 0.0781
    fire = parse_alerts([{"name": "hi", "metric": "churn_rate", "kind": "threshold", "threshold": float(lo) - 0.001,
                          "direction": "above"}])
    hold = parse_alerts([{"name": "hi", "metric": "churn_rate", "kind": "threshold", "threshold": float(lo) + 0.001,
                          "direction": "above"}])
    assert evaluate_alerts(table, fire).loc[0, "fired"] and not evaluate_alerts(table, hold).loc[0, "fired"]
    below = parse_alerts([{"name": "lo", "metric": "churn_rate", "kind": "threshold", "threshold": 0.2,
                           "direction": "below", "segment": "each"}])
    assert evaluate_alerts(table, below).loc[0, "fired"]
    assert evaluate_alerts(table, parse_alerts([{"name": "x", "metric": "nothing", "kind": "threshold",
                                                 "threshold": 0, "direction": "above"}])).loc[0, "status"] == "no data"
    title, body = alert_message(evaluate_alerts(table, fire))
    assert title.endswith("1 alert(s) fired") and body.startswith(f"hi (B2C): churn_rate; churn_rate 0.1 [{lo:.3g}, ")
    assert EXIT_ALERT == 3


@pytest.mark.parametrize("item, message", [
    ({"name": "a", "metric": "m", "kind": "spike", "threshold": 1, "direction": "above"}, "kind 'spike'"),
    ({"name": "a", "metric": "m", "kind": "change", "threshold": "x", "direction": "above"}, "threshold must be"),
    ({"name": "a", "metric": "m", "kind": "change", "threshold": 1, "direction": "up"}, "direction 'up'"),
    ({"name": "a", "metric": "m", "kind": "change", "threshold": 1}, r"missing key\(s\) \['direction'\]"),
    ({"name": "a", "metric": "m", "kind": "change", "threshold": 1, "direction": "above", "when": 1}, "unknown key"),
    ({"name": "a", "metric": "m", "kind": "change", "threshold": 1, "direction": "above", "min_n": 0}, "at least 1"),
])
def test_a_malformed_alert_rule_is_named_on_one_line(item, message):
    with pytest.raises(SpecError, match=message):
        parse_alerts([item])


def test_the_packaged_alert_rules_load():
    names = [r.name for r in load_alerts()]
    assert {"weekly_churn_up", "unsubscribes_up", "realised_above_expected", "score_drift", "auc_dropped"} <= set(names)
    with pytest.raises(SpecError, match="does not exist"):
        load_alerts("/nonexistent/alerts.yaml")
