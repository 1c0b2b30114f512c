"""churnlab.truth: the ground-truth checks notebooks 02 and 03 show, on hand-made truths with hand-computed answers."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from churnlab.errors import AnalysisError
from churnlab.truth import drivers_vs_shap, estimates_vs_truth, oracle_comparison, true_driver_shares

JAN, FEB = pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")


class _Oracle:
    """A truth whose oracle knows the probabilities of c1..c4 at every cutoff (c5 is not active)."""

    def __init__(self):
        self.calls = []

    def churn_probability(self, cutoff, horizon_days=30, seed=0):
        self.calls.append((pd.Timestamp(cutoff), horizon_days, seed))
        return pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4"], "p_churn": [0.1, 0.4, 0.35, 0.8]})


def test_the_oracle_comparison_gives_both_aucs_on_the_rows_the_oracle_scores():
    truth = _Oracle()
    keys = pd.DataFrame({"customer_id": ["c1", "c2", "c3", "c4", "c5"], "cutoff": [JAN] * 5})
    result = oracle_comparison(truth, keys, [0, 0, 1, 1, 1], [0.1, 0.2, 0.3, 0.4, 0.0], horizon_days=30, seed=7)
    # By hand: churners c3, c4 against stayers c1, c2. The oracle orders 3 of the 4 pairs right (0.35 < 0.4),
    # AUC 0.75; the model orders all 4, AUC 1.0; c5 has no oracle probability and is left out.
    assert result.n == 4
    assert result.oracle_auc == pytest.approx(0.75) and result.model_auc == pytest.approx(1.0)
    assert result.ratio == pytest.approx(1 / 0.75)
    assert truth.calls == [(JAN, 30, 7)]  # the oracle is asked for the label window and seed given


def test_the_oracle_comparison_refuses_misaligned_or_one_class_rows():
    keys = pd.DataFrame({"customer_id": ["c1", "c2"], "cutoff": [JAN, JAN]})
    with pytest.raises(AnalysisError, match="must have the same length"):
        oracle_comparison(_Oracle(), keys, [0, 1], [0.5], horizon_days=30)
    with pytest.raises(AnalysisError, match="1 label class"):
        oracle_comparison(_Oracle(), keys, [0, 0], [0.1, 0.2], horizon_days=30)


def _drivers_truth():
    # Three churns: c1 on Jan 1 (the window's open edge, outside), c2 on Jan 15 and c3 on Feb 1 (the closed edge, inside).
    rows = [("c1", JAN, "price", 1.0),
            ("c2", JAN + pd.Timedelta(days=14), "recency", 0.6), ("c2", JAN + pd.Timedelta(days=14), "decision", 0.4),
            ("c3", FEB, "recency", 0.2), ("c3", FEB, "disengagement", 0.5), ("c3", FEB, "decision", 0.3)]
    return SimpleNamespace(drivers=pd.DataFrame(rows, columns=["customer_id", "churned_at", "mechanism", "hazard_share"]))


def test_true_driver_shares_average_each_mechanism_over_the_churns_in_the_window():
    shares, n_churns = true_driver_shares(_drivers_truth(), JAN, FEB)
    # By hand over c2 and c3: recency (0.6 + 0.2) / 2, disengagement 0.5 / 2, decision (0.4 + 0.3) / 2; price is outside.
    assert n_churns == 2
    assert shares.to_dict() == pytest.approx({"recency": 0.4, "decision": 0.35, "disengagement": 0.25})
    assert list(shares.index) == ["recency", "decision", "disengagement"]


def test_drivers_vs_shap_looks_for_the_largest_observable_drivers_and_the_decision():
    importance = pd.DataFrame({"feature": ["exports_30d", "days_since_last_session", "segment"]})
    mapping = {"recency": ["days_since_last_session"], "disengagement": ["email_open_rate_30d"],
               "decision": ["exports_30d"], "price": ["monthly_fee"]}
    check = drivers_vs_shap(_drivers_truth(), importance, JAN, FEB, n_main=2, top_k=2, mapping=mapping)
    # The decision is not a main driver (it is looked for on its own); recency is ranked 2nd, disengagement absent.
    assert check.main_drivers == ("recency", "disengagement")
    assert check.table["mechanism"].tolist() == ["recency", "disengagement", "decision"]
    assert check.n_found == 1 and check.decision_found
    assert check.share("recency") == pytest.approx(0.4) and check.n_churns == 2


def test_estimates_vs_truth_marks_which_intervals_cover_the_true_effect():
    estimates = pd.DataFrame({"arm": ["bonus", "discount"], "estimate": [0.05, 0.0],
                              "ci_lower": [0.01, -0.02], "ci_upper": [0.09, 0.02]})
    truth = pd.DataFrame({"arm": ["discount", "bonus"], "truth_ate": [0.03, 0.09]})
    coverage = estimates_vs_truth(estimates, truth, truth_column="truth_ate")
    # bonus: 0.09 lies on the interval's upper edge (covered); discount: 0.03 is above 0.02 (missed by 0.03).
    assert coverage.table.set_index("arm")["covered"].to_dict() == {"bonus": True, "discount": False}
    assert coverage.n_covered == 1 and coverage.n == 2
    assert coverage.largest_miss == pytest.approx(0.04)  # |0.05 - 0.09|
    assert coverage.truly_best == "bonus" and coverage.truth_of("discount") == pytest.approx(0.03)
    assert coverage.below(0.05) == ["discount"]  # a test with an MDE of 0.05 cannot be expected to see 0.03


def test_estimates_vs_truth_names_a_missing_column():
    with pytest.raises(AnalysisError, match=r"missing column\(s\) \['ci_upper', 'truth.truth'\]"):
        estimates_vs_truth(pd.DataFrame({"arm": ["a"], "estimate": [0.1], "ci_lower": [0.0]}),
                           pd.DataFrame({"arm": ["a"], "effect": [0.1]}))


def test_past_max_customers_the_oracle_replays_a_seeded_subset_of_chunks_with_the_same_probabilities(monkeypatch):
    import numpy as np

    import churnlab.data.synthetic.spec as world_spec
    from churnlab.data.synthetic import generate

    monkeypatch.setattr(world_spec, "CHUNK_SIZE", 200)  # 600 customers in 3 chunks, as 1M are in 50
    dataset, truth = generate(600, start="2024-01-01", end="2024-04-30", seed=4)
    cut = pd.Timestamp("2024-03-01")
    everyone = truth.churn_probability(cut, horizon_days=30, n_sims=20, seed=1)
    second = truth.churn_probability(cut, horizon_days=30, n_sims=20, seed=1, chunks=[1])
    # one chunk's customers, with exactly the probabilities the full replay gives them (common random numbers)
    assert 0 < len(second) < len(everyone)
    numbers = second["customer_id"].str[1:].astype(int)
    assert numbers.between(200, 399).all()
    pd.testing.assert_frame_equal(second.reset_index(drop=True),
                                  everyone[everyone["customer_id"].isin(second["customer_id"])].reset_index(drop=True))
    keys = everyone[["customer_id"]].assign(cutoff=cut)
    rng = np.random.default_rng(0)
    labels, scores = rng.integers(0, 2, len(keys)), rng.random(len(keys))
    full = oracle_comparison(truth, keys, labels, scores, horizon_days=30, seed=1, max_customers=None)
    part = oracle_comparison(truth, keys, labels, scores, horizon_days=30, seed=1, max_customers=200)
    assert full.n == len(keys) and 0 < part.n < full.n  # one chunk of three
    with pytest.raises(AnalysisError, match="max_customers must be a positive int or None; got 0"):
        oracle_comparison(truth, keys, labels, scores, horizon_days=30, max_customers=0)
    with pytest.raises(AnalysisError, match=r"chunks must lie in 0\.\.2"):
        truth.churn_probability(cut, chunks=[3])
