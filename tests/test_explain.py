"""Explanations: SHAP additivity, agreement with shap's TreeExplainer, reason-code wording."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab import explain as E
from churnlab import model as M
from churnlab.errors import ModelError


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    n = 600
    X = pd.DataFrame({
        "days_since_last_session": rng.exponential(10, n),
        "unresolved_tickets": rng.poisson(0.5, n).astype(float),
        "segment": pd.Series(rng.choice(["B2B", "B2C"], n), dtype="string"),
        "noise": rng.normal(size=n),
    })
    logit = -3 + 0.2 * X["days_since_last_session"] + 1.2 * X["unresolved_tickets"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    keys = pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "cutoff": pd.Timestamp("2024-06-01")})
    return M.ChurnXGBClassifier(max_depth=3, random_state=0).fit(X, y), X, keys


def test_contributions_plus_base_value_equal_the_margin(fitted):
    model, X, keys = fitted
    e = E.explain(model, X, keys)
    np.testing.assert_allclose(e.margin, model.decision_function(X), atol=1e-4)


def test_pred_contribs_agree_with_shap_tree_explainer(fitted):
    shap = pytest.importorskip("shap")
    model, X, _ = fitted
    Xe = model._encode(X).head(50)
    import xgboost as xgb

    sv = shap.TreeExplainer(model.booster_).shap_values(xgb.DMatrix(Xe, enable_categorical=True))
    ours = E.explain(model, X.head(50)).values.to_numpy()
    np.testing.assert_allclose(ours, sv, atol=1e-4)


def test_the_true_drivers_lead_the_global_importance(fitted):
    model, X, keys = fitted
    top = E.global_importance(E.explain(model, X, keys))["feature"].head(2).tolist()
    assert set(top) == {"days_since_last_session", "unresolved_tickets"}


def test_reason_codes_name_the_top_drivers_in_plain_words(fitted):
    model, X, keys = fitted
    e = E.explain(model, X, keys)
    rc = E.reason_codes(e, top_n=3)
    # the customer with the longest silence: recency must be their first reason, worded from its value
    i = int(X["days_since_last_session"].idxmax())
    days = X.loc[i, "days_since_last_session"]
    assert rc.loc[i, "driver_1"] == "days_since_last_session"
    assert rc.loc[i, "reason_1"] == f"no session for {days:.0f} days"
    # reasons only for features that raise the risk
    assert (rc["shap_1"].dropna() > 0).all()
    j = int(X["unresolved_tickets"].idxmax())
    n = X.loc[j, "unresolved_tickets"]
    assert f"{n:.0f} unresolved tickets" in rc.loc[j, "reasons"]


def test_importance_by_segment_has_one_column_per_segment(fitted):
    model, X, keys = fitted
    t = E.importance_by_segment(E.explain(model, X, keys), X["segment"], top_n=3)
    assert list(t.columns) == ["B2B", "B2C"] and len(t) == 3


def test_risk_list_ranks_by_score_and_keeps_the_top_share(fitted):
    model, X, keys = fitted
    e = E.explain(model, X, keys)
    p = model.predict_proba(X)[:, 1]
    rl = E.risk_list(keys, p, p, E.reason_codes(e), top_k_pct=10)
    assert len(rl) == 60 and rl["rank"].tolist() == list(range(1, 61))
    assert rl["score"].is_monotonic_decreasing and {"reason_1", "reasons", "probability"} <= set(rl.columns)


def test_explaining_a_model_without_trees_raises():
    with pytest.raises(ModelError, match="tree contributions"):
        E.explain(M.logistic_baseline(), pd.DataFrame({"a": [1.0]}))


def test_reason_codes_give_one_reason_per_signal_not_one_per_window():
    import pandas as pd

    from churnlab.explain import Explanation, reason_codes

    values = pd.DataFrame({"exports_7d": [0.9], "exports_30d": [0.8], "exports_90d": [0.7],
                           "days_since_last_session": [0.5], "unresolved_tickets": [0.2]})
    data = pd.DataFrame({"exports_7d": [3], "exports_30d": [5], "exports_90d": [6],
                         "days_since_last_session": [24.0], "unresolved_tickets": [2]})
    keys = pd.DataFrame({"customer_id": ["c1"], "cutoff": [pd.Timestamp("2024-06-01")]})
    expl = Explanation(values=values, data=data, keys=keys, base_value=-2.0)
    row = reason_codes(expl).iloc[0]
    assert row["reasons"] == "3 data exports in the last 7 days; no session for 24 days; 2 unresolved tickets"


def test_drivers_found_ranks_each_mechanism_by_its_best_feature():
    imp = pd.DataFrame({"feature": ["exports_30d", "segment", "sessions_7d", "days_since_last_session",
                                    "monthly_fee"]})
    out = E.drivers_found(imp, ["decision", "recency", "price", "onboarding"], top_k=3).set_index("mechanism")
    assert out.loc["decision", "found"] and out.loc["decision", "best_rank"] == 1.0
    assert out.loc["decision", "features"] == "exports_30d" and out.loc["decision", "best_feature"] == "exports_30d"
    # recency's feature ranks 4th: used by the model, but outside the top 3
    assert not out.loc["recency", "found"] and out.loc["recency", "best_rank"] == 4.0
    assert out.loc["recency", "best_feature"] == "days_since_last_session" and out.loc["recency", "features"] == ""
    assert not out.loc["price", "found"] and out.loc["price", "best_rank"] == 5.0
    assert not out.loc["onboarding", "found"] and np.isnan(out.loc["onboarding", "best_rank"])


def test_drivers_found_rejects_an_unmapped_mechanism():
    with pytest.raises(ModelError, match="no features are mapped"):
        E.drivers_found(pd.DataFrame({"feature": ["x"]}), ["telepathy"])


def test_every_mapped_feature_is_a_feature_the_workbench_builds():
    from churnlab.features import FEATURE_DESCRIPTIONS

    mapped = {f for feats in E.MECHANISM_FEATURES.values() for f in feats}
    assert mapped <= set(FEATURE_DESCRIPTIONS), sorted(mapped - set(FEATURE_DESCRIPTIONS))


def test_a_model_of_a_small_world_finds_the_decision_to_leave_and_usage_among_its_top_drivers():
    from churnlab.data.synthetic import generate
    from churnlab.features import build_features
    from churnlab.labels import make_label_times, monthly_cutoffs

    ds, _ = generate(2000, seed=0)
    lt = make_label_times(ds, monthly_cutoffs(ds, horizon_days=30), horizon_days=30)
    td = M.training_data(build_features(ds, lt), lt)
    last = td.keys["cutoff"] == td.keys["cutoff"].max()
    train, test = td.subset(~last.to_numpy()), td.subset(last.to_numpy())
    model = M.ChurnXGBClassifier(max_depth=3, tuning_folds=None, random_state=0).fit(train.X, train.y)
    found = E.drivers_found(E.global_importance(E.explain(model, test.X, test.keys)),
                            ["decision", "disengagement", "recency"], top_k=10).set_index("mechanism")
    assert found.loc["decision", "found"]  # exports and their timing: the state every churn passes through
    assert found.loc["disengagement", "found"] or found.loc["recency", "found"]
