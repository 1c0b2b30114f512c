"""Notebook 02 under ``churnlab run``: model quality against the baselines and the oracle, a risk list with value."""

from __future__ import annotations

import nbformat
import numpy as np
import pandas as pd
import pytest
from conftest import REPO
from test_notebook_helpers import artifact, report_text, run_notebook

NOTEBOOK = REPO / "notebooks" / "02_train_explain.ipynb"


def test_the_committed_notebook_has_no_outputs_and_ids_off_by_default():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "parameters" in code[1].metadata.get("tags", []) and "\nshow_customer_ids = False" in "\n" + code[1].source
    assert not any(line.lstrip().startswith(("def ", "class ")) for c in code for line in c.source.splitlines())


@pytest.mark.slow
def test_notebook_02_beats_the_prior_comes_near_the_oracle_and_writes_a_risk_list(project, tmp_path):
    record, notebook = run_notebook(project, "02_train_explain", {"source": "synthetic", "customers": 800, "seed": 1},
                                    {"seed": 1, "sample_size": 300, "registered_model_name": None})
    m = notebook.metrics
    # The floor: DummyClassifier(strategy="prior") ranks nobody, AUC 0.5 exactly.
    assert m["prior_out_of_time_roc_auc"] == 0.5
    # About 40 churners in the out-of-time window: an AUC's standard error is about 0.04 there (Hanley & McNeil
    # 1982), so 0.65 is over three errors above the floor (measured: 0.814).
    assert m["xgboost_out_of_time_roc_auc"] > 0.65
    # The oracle (the world's true probabilities) bounds any model up to chance on ~40 churners: measured 0.964
    # here, 0.974 on the demo and 0.968-0.985 over six seeds (benchmarks/RESULTS.md); 0.85-1.05 allows that noise.
    assert 0.85 < m["model_to_oracle_auc"] < 1.05
    # Every churn passes through the decision to leave (data exports, billing tickets): in the top 10 SHAP features
    # on every seed measured (RESULTS.md); at least one of the three largest true drivers shows too (2 here, 1 on the demo).
    assert m["decision_in_top10_shap"] == 1 and m["true_drivers_in_top10_shap"] >= 1
    risk = pd.read_csv(artifact(notebook, "risk_list.csv", tmp_path), dtype={"customer_id": str})
    assert len(risk) == m["n_at_risk"] > 0
    assert {"rank", "customer_id", "score", "probability", "reason_1", "reasons", "driver_1"} <= set(risk.columns)
    assert risk["score"].is_monotonic_decreasing
    # Each customer's value (the world has fees): value at risk = probability x 12-month value, row by row, and the
    # logged totals are the list's sums.
    np.testing.assert_allclose(risk["expected_loss"], risk["probability"] * risk["value"], rtol=1e-9)
    assert m["risk_list_value"] == pytest.approx(risk["value"].sum())
    assert m["risk_list_value_at_risk"] == pytest.approx(risk["expected_loss"].sum())
    assert 0 < m["risk_list_value_at_risk"] < m["risk_list_value"]
    # Notebook 01's zones on the same customers: the overlap is a part of both lists.
    assert 0 <= m["risk_list_in_rule_zones"] <= min(m["n_at_risk"], m["rule_zone_customers"])
    assert m["rule_zone_customers"] <= m["n_scored"]
    scores = pd.read_csv(artifact(notebook, "risk_scores.csv", tmp_path), dtype={"customer_id": str})
    assert len(scores) == m["n_scored"]  # every scored customer, for the A/B notebook
    assert {"customer_id", "score", "probability", "reasons", "value"} <= set(scores.columns)
    page = report_text(record, notebook)
    assert not [c for c in scores["customer_id"] if c in page]  # lists are artifacts, not in the page
    executed = nbformat.read(f"{record.folder}/{notebook.executed}", as_version=4)
    assert "of the physical limit" in str([c.get("outputs") for c in executed.cells])  # the one wording check


@pytest.mark.slow
def test_notebook_02_runs_on_a_snapshot_with_its_own_column_names(project, tmp_path):
    # data/samples/telecom: 600 made-up accounts, a Yes/No flag, CamelCase columns, ids with leading zeros, no fees
    record, notebook = run_notebook(project, "02_train_explain",
                                    {"source": "files", "config": str(REPO / "data/samples/telecom/telecom.yaml")},
                                    {"seed": 0, "registered_model_name": None})
    m = notebook.metrics
    # The signal rule picks its own column; on 120 test rows with ~26 churners an AUC's standard error is about
    # 0.05 (Hanley & McNeil 1982): measured 0.646 for the rule and 0.714 for the model, both well above 0.5.
    assert m["signal_rule_test_roc_auc"] > 0.55 and m["xgboost_test_roc_auc"] > 0.6
    assert "risk_list_value" not in m  # no fee and no payments: the list carries no value
    assert "risk_list_in_rule_zones" not in m  # the rules' features do not exist in a snapshot
    risk = pd.read_csv(artifact(notebook, "risk_list.csv", tmp_path), dtype={"customer_id": str})
    assert len(risk) == m["n_at_risk"] > 0 and risk["customer_id"].str.len().eq(6).all()  # "009039" stays
    words = " ".join(risk["reasons"].dropna())
    assert "Support calls: " in words and "SupportCalls" not in words  # readable names, never the raw column
    # No ground truth: the oracle and true-driver sections leave no heading or metric on the page.
    assert "model_to_oracle_auc" not in m and "true_drivers_in_top10_shap" not in m
    page = report_text(record, notebook)
    assert "physical limit" not in page and "true drivers" not in page
