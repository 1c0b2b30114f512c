"""The risk list a retention team reads: reasons in words for any feature name, and its overlap with the rule zones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab.errors import ModelError
from churnlab.explain import Explanation, feature_label, reason_codes, reason_text, risk_list
from churnlab.risk import zone_overlap, zones_vs_model


def test_a_users_own_columns_read_as_words_with_their_value():
    # a snapshot's own columns (data/samples/telecom) have no wording of their own: name in words, value rounded
    assert reason_text("SupportCalls", 3) == "Support calls: 3"
    assert reason_text("MonthlyCharge", 34.3412) == "Monthly charge: 34.3"
    assert reason_text("Contract", "Month-to-month") == "Contract: Month-to-month"
    assert reason_text("DataGB", 14.1) == "Data GB: 14.1"
    assert reason_text("has_partner", True) == "Has partner: yes"
    assert reason_text("MonthsActive", np.nan) == "Months active unknown"


def test_the_workbench_features_keep_their_wording_with_one_in_the_singular():
    assert reason_text("days_since_last_session", 24.0) == "no session for 24 days"
    assert reason_text("days_since_last_export", 1.0) == "last data export 1 day ago"
    assert reason_text("unresolved_tickets", 1) == "1 unresolved ticket"
    assert reason_text("exports_30d", 1.0) == "1 data export in the last 30 days"
    assert reason_text("exports_30d", 11.0) == "11 data exports in the last 30 days"  # 11 is not one


def test_feature_labels_split_snake_and_camel_case():
    assert [feature_label(n) for n in ("MonthlyCharge", "NPSScore", "support_calls_30d", "tenure_days")] == [
        "Monthly charge", "NPS score", "Support calls (30 days)", "Tenure (days)"]


def test_reason_codes_and_the_risk_list_work_for_any_feature_names():
    values = pd.DataFrame({"SupportCalls": [0.9, -0.2], "Contract": [0.4, 0.3], "MonthlyCharge": [-0.1, 0.2]})
    data = pd.DataFrame({"SupportCalls": [4, 0], "Contract": ["Monthly", "Annual"], "MonthlyCharge": [20.0, 99.5]})
    keys = pd.DataFrame({"customer_id": ["007", "010"], "cutoff": pd.Timestamp("2024-03-31")})
    reasons = reason_codes(Explanation(values=values, base_value=-1.0, data=data, keys=keys))
    # row 1: positive contributions only, largest first (SupportCalls 0.9, Contract 0.4; the fee lowers the risk)
    assert reasons.loc[0, "reasons"] == "Support calls: 4; Contract: Monthly"
    assert reasons.loc[1, "reasons"] == "Contract: Annual; Monthly charge: 99.5"
    out = risk_list(keys, np.array([0.8, 0.3]), np.array([0.6, 0.2]), reasons)
    assert out["customer_id"].tolist() == ["007", "010"]  # ids as given, leading zeros kept
    assert out.loc[0, "driver_1"] == "SupportCalls" and out.loc[1, "driver_1"] == "Contract"
    assert {"reason_1", "reason_2", "reason_3", "reasons", "driver_1", "driver_2", "driver_3"} <= set(out.columns)


def test_zone_overlap_counts_each_zone_and_the_share_on_the_list():
    risk = pd.DataFrame({"customer_id": ["a", "b", "c", "z"]})
    zones = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e"], "zone": ["red", "red", "none", "amber", "none"]})
    out = zone_overlap(risk, zones).set_index("zone")
    # by hand: red {a, b} both listed; amber {d} not; none {c, e}: c listed; z has no zone row
    assert out.loc["red", "customers"] == 2 and out.loc["red", "on_risk_list"] == 2
    assert out.loc["amber", "on_risk_list"] == 0 and out.loc["none", "share_of_zone"] == 0.5
    assert out.loc["not scored", "on_risk_list"] == 1 and out.loc["red", "share_of_list"] == 0.5


def test_zones_vs_model_compares_lists_of_the_same_size():
    zones = pd.DataFrame({"zone": ["red", "amber", "amber", "none", "none", "none"]})
    labels = pd.DataFrame({"label": [1, 0, 0, 1, 1, 0]})
    score = np.array([0.2, 0.1, 0.3, 0.9, 0.8, 0.05])
    out = zones_vs_model(zones, labels, score).set_index("list")
    # by hand: 3 churners. red = row 0 (churned): precision 1, recall 1/3; the model's top 1 is row 3 (churned).
    assert out.loc["red", "customers"] == 1 and out.loc["red", "precision"] == 1.0
    assert out.loc["red", "recall"] == pytest.approx(1 / 3) and out.loc["red", "model_recall"] == pytest.approx(1 / 3)
    # red+amber = rows 0-2 (one churner); the model's top 3 = rows 3, 4, 2 (two churners)
    assert out.loc["red+amber", "share"] == 0.5 and out.loc["red+amber", "recall"] == pytest.approx(1 / 3)
    assert out.loc["red+amber", "model_precision"] == pytest.approx(2 / 3)
    assert out.loc["red+amber", "model_recall"] == pytest.approx(2 / 3)


def test_zones_vs_model_refuses_mismatched_rows_and_a_window_without_churners():
    zones = pd.DataFrame({"zone": ["red", "none"]})
    with pytest.raises(ModelError, match="2 zone rows, 2 labels and 3 scores"):
        zones_vs_model(zones, pd.DataFrame({"label": [1, 0]}), np.array([0.1, 0.2, 0.3]))
    with pytest.raises(ModelError, match="no labelled row churned"):
        zones_vs_model(zones, pd.DataFrame({"label": [0, 0]}), np.array([0.1, 0.2]))
