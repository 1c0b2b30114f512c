"""Notebooks 01 and 02 on a lazy dataset: every event table a Parquet path (``CHURNLAB_LAZY_ROWS=0``).

The same tiny synthetic world runs once in memory and once with its event tables left on disk; the figures that
use everyone (the cutoff population, its churn, the risk zones; label times, features and the model) must not
move, and the pattern sections say how many customers they read.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from test_notebook_helpers import artifact, run_notebook

WORLD = {"source": "synthetic", "customers": 600, "seed": 0}


@pytest.mark.slow
def test_notebook_01_on_lazy_tables_keeps_the_population_and_samples_the_patterns(project, monkeypatch):
    # CHURNLAB_LAZY_ROWS=0: every event table of the loaded world stays a Parquet path (the kernel inherits it).
    _, eager = run_notebook(project, "01_explore_patterns", WORLD, {"seed": 0})
    monkeypatch.setenv("CHURNLAB_LAZY_ROWS", "0")
    _, lazy = run_notebook(project, "01_explore_patterns", WORLD, {"seed": 0, "pattern_customers": 300})
    e, m = eager.metrics, lazy.metrics
    # The population is label times + features in the engine over everyone: the same customers and churn as in memory.
    assert m["customers_at_cutoff"] == e["customers_at_cutoff"]
    assert m["churn_rate_horizon"] == pytest.approx(e["churn_rate_horizon"], abs=1e-12)
    # The risk zones are evaluated on the full population's features, so they match the in-memory run exactly.
    for name in ("red_zone_precision", "red_zone_recall", "red_zone_lift", "at_risk_customers", "best_signal_lift"):
        assert m[name] == pytest.approx(e[name], abs=1e-12), name
    # Subscription-based sections (churn per month, value from fees) use everyone too.
    assert m["monthly_churn_observed"] == pytest.approx(e["monthly_churn_observed"], abs=1e-12)
    assert m["ltv"] == pytest.approx(e["ltv"], rel=1e-9)
    # The pattern sections read the requested sample (300 of the world's 600 customers); in memory, everyone.
    assert m["pattern_sample_customers"] == 300 and e["pattern_sample_customers"] == 600
    assert 0 < m["pattern_sample_at_cutoff"] < m["customers_at_cutoff"]
    assert e["pattern_sample_at_cutoff"] == e["customers_at_cutoff"]


@pytest.mark.slow
def test_notebook_02_on_lazy_tables_builds_labels_in_the_engine_and_trains_on_a_sample(project, monkeypatch, tmp_path):
    world = {"source": "synthetic", "customers": 800, "seed": 1}
    common = {"seed": 1, "sample_size": 300, "registered_model_name": None}
    _, eager = run_notebook(project, "02_train_explain", world, common)
    monkeypatch.setenv("CHURNLAB_LAZY_ROWS", "0")
    _, lazy = run_notebook(project, "02_train_explain", world, {**common, "max_train_rows": 3000})
    e, m = eager.metrics, lazy.metrics
    # Label times and the scoring population come from the engine over everyone: the same rows as in memory.
    assert m["label_rows"] == e["label_rows"] and m["n_scored"] == e["n_scored"]
    # 800 customers give ~4,000+ label rows, under the default max_train_rows (1,000,000): all are used in memory.
    assert e["train_rows"] == e["label_rows"]
    # With max_train_rows=3000 the lazy run trains on whole customers drawn at random: at most 3,000 rows.
    assert 0 < m["train_rows"] <= 3000 < m["label_rows"]
    # The model on the sample is still a model: a number above the prior's 0.5 (about 25 churners out of time, so
    # only a loose bound).
    assert math.isfinite(m["xgboost_out_of_time_roc_auc"]) and m["xgboost_out_of_time_roc_auc"] > 0.55
    risk = pd.read_csv(artifact(lazy, "risk_list.csv", tmp_path), dtype={"customer_id": str})
    assert len(risk) == m["n_at_risk"] > 0
    # Every listed customer was explained (SHAP for the list only): each has at least a first driver or says none.
    assert risk["reasons"].notna().all() and risk["driver_1"].notna().all()


def test_sample_label_times_keeps_whole_customers_within_the_row_budget():
    from churnlab.labels import LabelTimes
    from churnlab.modeling import sample_label_times

    # 300 customers with 1 to 3 cutoffs each (hand-built: customer i has i % 3 + 1 rows), 600 rows in all.
    rows = [(f"c{i}", pd.Timestamp("2024-01-01") + pd.DateOffset(months=k), k == 0 and i % 7 == 0)
            for i in range(300) for k in range(i % 3 + 1)]
    lt = LabelTimes(pd.DataFrame(rows, columns=["customer_id", "cutoff", "label"]), "subscription", 30)
    assert len(lt) == 600
    small = sample_label_times(lt, 250, seed=3)
    assert 0 < len(small) <= 250 and small.settings == lt.settings
    counts = lt.table["customer_id"].value_counts()
    kept = small.table["customer_id"].value_counts()
    assert (kept == counts[kept.index]).all()  # every kept customer keeps all their rows
    assert sample_label_times(lt, 250, seed=3).table.equals(small.table)  # seeded
    assert sample_label_times(lt, None) is lt and sample_label_times(lt, 600) is lt
