"""Models: metric values on known inputs, estimator rules, determinism and clear errors."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churnlab import model as M
from churnlab.errors import ModelError


def toy(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Churn driven by recency and a plan category, plus noise columns."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "days_since_last_session": rng.exponential(10, n),
        "sessions_30d": rng.poisson(8, n).astype(float),
        "plan": pd.Series(rng.choice(["basic", "pro"], n), dtype="string"),
        "noise": rng.normal(size=n),
    })
    logit = -2 + 0.15 * X["days_since_last_session"] + 1.0 * (X["plan"] == "basic").astype(float) - 0.1 * X["sessions_30d"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_lift_and_capture_match_a_hand_computation():
    # 10 customers, 3 churners; top 20% = 2 highest scores: one churner among them.
    y = np.array([1, 0, 0, 1, 0, 0, 0, 1, 0, 0])
    s = np.array([.9, .8, .1, .3, .2, .1, .1, .05, .01, 0])
    row = M.lift_table(y, s, k_pcts=[20]).iloc[0]
    assert row["n_targeted"] == 2 and row["churners_targeted"] == 1
    assert row["precision"] == pytest.approx(0.5)
    assert row["lift"] == pytest.approx(0.5 / 0.3)  # precision / base rate 3/10
    assert row["capture"] == pytest.approx(1 / 3)


def test_profit_curve_matches_a_hand_computation_and_picks_the_best_threshold():
    # offer 10, saved value 100, success 50%: each targeted churner is worth 50 - 10 = 40, a stayer -10.
    y = np.array([1, 1, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    curve = M.profit_curve(y, p, offer_cost=10, saved_value=100, success_rate=0.5)
    assert curve["profit"].tolist() == pytest.approx([0, 40, 80, 70, 60, 100])  # 3 churners x 50 - 5 x 10 = 100 at the end
    best = M.best_operating_point(curve)
    assert best["n_targeted"] == 5 and best["threshold"] == pytest.approx(0.1)


def test_profit_curve_keeps_tied_scores_together():
    curve = M.profit_curve([1, 0, 1], [0.5, 0.5, 0.1], offer_cost=1, saved_value=10, success_rate=1)
    assert curve["n_targeted"].tolist() == [0, 2, 3]


def test_evaluate_agrees_with_sklearn_and_hand_values():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    m = M.evaluate(y, p, top_k_pct=50)
    assert m["roc_auc"] == pytest.approx(0.75)  # 3 of 4 churner/stayer pairs ordered right
    assert m["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    assert m["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.6, 0.35, 0.8])))
    assert m["lift_at_k"] == pytest.approx(1.0)  # top 2: 0.8 (churner), 0.4 (stayer) -> 0.5 / 0.5


def test_single_class_labels_raise_a_clear_error():
    X, _ = toy(50)
    for est in M.default_models().values():
        with pytest.raises(ModelError, match="single class"):
            est.fit(X, np.zeros(50, dtype=int))
    with pytest.raises(ModelError, match="single class"):
        M.evaluate(np.ones(4), np.full(4, 0.5))


def test_a_feature_missing_at_scoring_time_raises_naming_it():
    X, y = toy(300)
    m = M.ChurnXGBClassifier(max_depth=2, n_estimators=50).fit(X, y)
    with pytest.raises(ModelError, match="sessions_30d.*missing at scoring"):
        m.predict_proba(X.drop(columns=["sessions_30d"]))
    lr = M.logistic_baseline().fit(X, y)
    with pytest.raises(ModelError, match="missing at scoring"):
        lr.predict_proba(X.drop(columns=["plan"]))


def test_xgboost_is_deterministic_under_a_seed_and_learns_the_signal():
    X, y = toy(800, seed=1)
    Xt, yt = toy(800, seed=2)
    a = M.ChurnXGBClassifier(random_state=3).fit(X, y).predict_proba(Xt)[:, 1]
    b = M.ChurnXGBClassifier(random_state=3).fit(X, y).predict_proba(Xt)[:, 1]
    np.testing.assert_array_equal(a, b)
    # the toy world's own logit orders customers with AUC ~0.8; the model must beat the floor clearly
    assert roc_auc_score(yt, a) > 0.7


def test_estimators_store_params_unchanged_and_learn_attributes_ending_in_underscore():
    est = M.ChurnXGBClassifier(max_depth=2, learning_rate=0.1)
    assert est.get_params()["max_depth"] == 2 and not hasattr(est, "booster_")
    X, y = toy(300)
    fitted = est.fit(X, y)
    assert fitted is est and est.max_depth_ == 2 and est.n_trees_ >= 1
    assert list(est.feature_names_in_) == list(X.columns) and est.categories_ == {"plan": ["basic", "pro"]}


def test_unseen_categories_at_scoring_become_missing_without_warnings():
    X, y = toy(300)
    m = M.ChurnXGBClassifier(max_depth=2, n_estimators=50).fit(X, y)
    X2 = X.head(5).copy()
    X2["plan"] = pd.Series(["enterprise", None, "pro", "enterprise", "basic"], dtype="string")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pandas deprecates Categorical(values not in categories)
        encoded = m._encode(X2)
        p = m.predict_proba(X2)
    assert encoded["plan"].isna().tolist() == [True, True, False, True, False]
    assert np.isfinite(p).all()
    # an unseen category scores exactly like a missing one
    missing = X2.assign(plan=pd.Series([None] * 5, dtype="string"))
    np.testing.assert_allclose(p[0], m.predict_proba(missing)[0])


def test_xgboost_picks_depth_and_trees_by_inner_cross_validation():
    X, y = toy(600)
    m = M.ChurnXGBClassifier(n_estimators=300, learning_rate=0.1).fit(X, y)
    assert set(m.depth_scores_) == set(M.ChurnXGBClassifier.AUTO_DEPTHS)
    assert m.max_depth_ == min(m.depth_scores_, key=m.depth_scores_.get)
    assert m.validation_log_loss_ == m.depth_scores_[m.max_depth_]
    assert 1 <= m.n_trees_ == m.booster_.num_boosted_rounds() <= 300
    single = M.ChurnXGBClassifier(n_estimators=300, learning_rate=0.1, tuning_folds=None).fit(X, y)
    assert single.n_trees_ >= 1
    grouped = M.ChurnXGBClassifier(max_depth=2, n_estimators=50).fit(X, y, groups=np.arange(600) // 3)
    assert grouped.n_trees_ >= 1
    with pytest.raises(ModelError, match="tuning_folds"):
        M.ChurnXGBClassifier(tuning_folds=1).fit(X, y)


def test_logistic_adds_logs_of_non_negative_counts_only():
    X, y = toy(400)
    lr = M.logistic_baseline().fit(X.assign(flag=(X["noise"] > 0).astype(float)), y)
    # noise can be negative and flag has two values: neither is logged
    assert lr.log_columns_ == ["days_since_last_session", "sessions_30d"]
    scored = X.head(3).assign(flag=1.0, sessions_30d=[-1.0, 0.0, 2.0])  # a negative count at scoring is clipped
    assert np.isfinite(lr.predict_proba(scored)).all()
    assert M.logistic_baseline(log_counts=False).fit(X, y).log_columns_ == []


def test_signal_rule_orders_by_recency_and_learns_the_direction():
    X, y = toy(500)
    rule = M.SignalRule().fit(X, y)
    assert rule.feature_ == "days_since_last_session" and rule.direction_ == 1
    flipped = M.SignalRule(feature="days_since_last_session").fit(X.assign(days_since_last_session=-X[
        "days_since_last_session"]), y)
    assert flipped.direction_ == -1


def test_calibration_maps_scores_to_observed_rates():
    X, y = toy(1500, seed=4)
    m = M.ChurnXGBClassifier(max_depth=2, n_estimators=80).fit(X.iloc[:800], y[:800])
    cal = M.calibrate(m, X.iloc[800:], y[800:], method="isotonic")
    p = cal.predict_proba(X.iloc[800:])[:, 1]
    # isotonic regression preserves the mean on its own data (up to float32 scores)
    assert p.mean() == pytest.approx(y[800:].mean(), abs=1e-4)
    platt = M.calibrate(m, X.iloc[800:], y[800:], method="sigmoid")
    assert 0 < platt.predict_proba(X.head(3))[:, 1].min()
    with pytest.raises(ModelError, match="method"):
        M.calibrate(m, X.iloc[800:], y[800:], method="beta")


def test_time_split_trains_on_earlier_cutoffs_and_tests_on_the_latest():
    keys = pd.DataFrame({"customer_id": list("abcabcabc"),
                         "cutoff": pd.to_datetime(["2024-01-01"] * 3 + ["2024-02-01"] * 3 + ["2024-03-01"] * 3)})
    s = M.time_split(keys)
    assert s["train"].sum() == 3 and s["valid"].sum() == 3 and s["test"].sum() == 3
    assert keys.loc[s["test"], "cutoff"].min() > keys.loc[s["train"], "cutoff"].max()
    with pytest.raises(ModelError, match="cutoffs"):
        M.time_split(keys.iloc[:6])


def test_grouped_folds_keep_each_customer_in_one_fold():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(50), 4)
    y = rng.integers(0, 2, 200)
    for tr, te in M.grouped_folds(y, groups, n_splits=5):
        assert not set(groups[tr]) & set(groups[te])


def test_compare_models_reports_every_model_on_every_window():
    X, y = toy(600)
    td = M.TrainingData(X, y, pd.DataFrame({"customer_id": np.arange(600).astype(str),
                                            "cutoff": pd.Timestamp("2024-01-01")}))
    tr, te = td.subset(np.arange(600) < 400), td.subset(np.arange(600) >= 400)
    cmp = M.compare_models(M.default_models(), tr, {"validation": te})
    assert set(cmp.summary["model"]) == {"prior", "signal_rule", "logistic", "xgboost"}
    auc = cmp.metric("roc_auc")["validation"]
    assert auc["prior"] == 0.5 and auc["xgboost"] > auc["prior"] + 0.15
    assert "ModelComparison" in repr(cmp) and "<table" in cmp._repr_html_()


def test_log_model_registers_a_model_that_loads_back_and_scores_identically(project, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    from churnlab import tracking

    X, y = toy(300)
    m = M.ChurnXGBClassifier(max_depth=2, n_estimators=30).fit(X, y)
    assert M.log_model(m, X) is None  # no run: nothing logged
    run = tracking.client().create_run(tracking.experiment_id("models"))
    monkeypatch.setenv("MLFLOW_RUN_ID", run.info.run_id)
    seen: list[str] = []
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = lambda record: seen.append(record.getMessage())
    logging.getLogger("mlflow").addHandler(handler)
    try:
        uri = M.log_model(m, X, registered_model_name="churn-test")
    finally:
        logging.getLogger("mlflow").removeHandler(handler)
        mlflow.end_run()
    assert uri.startswith("models:/")
    assert not [w for w in seen if "input example" in w], seen  # the example validates as a serving input
    expected = m.predict_proba(X.head(20))
    by_run = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model").predict(X.head(20))
    np.testing.assert_allclose(np.asarray(by_run), expected, rtol=1e-6)
    registered = mlflow.sklearn.load_model("models:/churn-test/1")
    assert isinstance(registered, M.ChurnXGBClassifier)
    np.testing.assert_array_equal(registered.predict_proba(X.head(20)), expected)
    inputs = {c.name: c.type.name for c in mlflow.models.get_model_info(uri).signature.inputs.inputs}
    assert inputs["plan"] == "string" and inputs["sessions_30d"] == "double"
