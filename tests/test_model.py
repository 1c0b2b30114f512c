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
from churnlab.modeling import capture_curve, reliability_table, roc_points


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


def _bad_fits():
    """(case, X, y, words the one-line error must contain): the bad inputs of issue 12, item 3."""
    X, y = toy(60)
    mixed = X.assign(fee=pd.Series([12.5, "n/a"] * 30, dtype=object))
    dated = X.assign(signup_at=pd.date_range("2024-01-01", periods=60, freq="D"))
    with_inf = X.assign(ratio=np.r_[np.inf, np.ones(59)])
    null_label = y.astype(float)
    null_label[7] = np.nan
    return [
        ("text mixed with numbers", mixed, y, "X.fee.*text categories"),
        ("a timestamp column", dated, y, "X.signup_at.*datetime64"),
        ("an infinite value", with_inf, y, "X.ratio.*infinite"),
        ("a null label", X, null_label, "missing label.*row 7"),
        ("a None label", X, pd.Series(y, dtype=object).where(np.arange(60) != 3, None), "missing label.*row 3"),
        ("Yes/No labels", X, np.where(y == 1, "Yes", "No"), "0/1 or bool.*'(Yes|No)'"),
        ("labels 1/2", X, y + 1, "0/1 or bool"),
        ("an empty frame", X.iloc[:0], y[:0], "no rows"),
        ("only key columns", pd.DataFrame({"customer_id": ["a", "b"]}), np.array([0, 1]), "no feature columns"),
        ("X and y of different lengths", X, y[:50], "60 rows, y has 50"),
        ("a numpy array", X.to_numpy(), y, "DataFrame of named features"),
    ]


@pytest.mark.parametrize("case,X,y,words", _bad_fits(), ids=[c[0] for c in _bad_fits()])
@pytest.mark.parametrize("name", ["signal_rule", "logistic", "xgboost"])
def test_fitting_on_bad_data_raises_one_model_error_naming_the_column_or_parameter(name, case, X, y, words):
    est = M.default_models()[name]
    with pytest.raises(ModelError, match=words) as err:
        est.fit(X, y)
    assert "\n" not in str(err.value)  # one line


def test_the_prior_floor_refuses_bad_labels_and_misaligned_rows_too():
    X, y = toy(40)
    with pytest.raises(ModelError, match="0/1 or bool"):
        M.prior_baseline().fit(X, np.where(y == 1, "churned", "active"))
    with pytest.raises(ModelError, match="40 rows, y has 30"):
        M.prior_baseline().fit(X, y[:30])


@pytest.mark.parametrize("name", ["signal_rule", "logistic", "xgboost"])
def test_scoring_text_in_a_numeric_feature_raises_instead_of_turning_it_into_missing(name):
    X, y = toy(200)
    est = M.default_models()[name]
    est = (est.set_params(n_estimators=30, tuning_folds=None) if name == "xgboost" else est).fit(X, y)
    scored = X.head(3).astype({"days_since_last_session": object})
    scored.loc[1, "days_since_last_session"] = "ten"
    with pytest.raises(ModelError, match="X.days_since_last_session was numeric in training but holds 'ten'"):
        est.predict_proba(scored)
    # numbers written as text still score as the numbers they are
    as_text = X.head(3).astype({"days_since_last_session": str})
    np.testing.assert_allclose(est.predict_proba(as_text), est.predict_proba(X.head(3)))


def test_xgboost_refuses_too_few_churners_for_its_tuning_folds_naming_the_parameter():
    X, y = toy(100)
    y = np.zeros(100, dtype=int)
    y[:2] = 1  # two churners cannot fill three stratified tuning folds
    with pytest.raises(ModelError, match="only 2 row.*tuning_folds=3"):
        M.ChurnXGBClassifier(n_estimators=10).fit(X, y)
    assert M.ChurnXGBClassifier(n_estimators=10, tuning_folds=2).fit(X, y).n_trees_ >= 1


def test_device_is_passed_through_to_every_xgboost_model(monkeypatch):
    import xgboost

    seen: list[str] = []

    class Recording(xgboost.XGBClassifier):
        def __init__(self, **kwargs):
            seen.append(kwargs["device"])
            super().__init__(**{**kwargs, "device": "cpu"})  # no GPU here: record the request, train on CPU

    monkeypatch.setattr(xgboost, "XGBClassifier", Recording)
    X, y = toy(200)
    M.ChurnXGBClassifier(n_estimators=20, device="cuda:1").fit(X, y)
    # 3 depths x 3 tuning folds, then the refit on all rows: every model asked for the device
    assert seen == ["cuda:1"] * 10
    assert M.default_models(device="cuda")["xgboost"].get_params()["device"] == "cuda"


def _record_fit_rows(monkeypatch) -> list[tuple[int, int | None]]:
    """Patch XGBoost so every fit records (training rows, validation rows or None)."""
    import xgboost

    seen: list[tuple[int, int | None]] = []
    fit = xgboost.XGBClassifier.fit

    def recording(self, X, y, *args, eval_set=None, **kwargs):
        seen.append((len(X), None if eval_set is None else len(eval_set[0][0])))
        return fit(self, X, y, *args, eval_set=eval_set, **kwargs)

    monkeypatch.setattr(xgboost.XGBClassifier, "fit", recording)
    return seen


def test_a_large_training_set_compares_depths_on_a_capped_subsample_and_stops_trees_on_all_rows(monkeypatch):
    X, y = toy(3000)
    groups = np.arange(3000) // 3  # 1,000 customers of 3 rows each
    seen = _record_fit_rows(monkeypatch)
    m = M.ChurnXGBClassifier(n_estimators=200, learning_rate=0.1, tuning_rows=600).fit(X, y, groups=groups)
    # 600 rows = 200 whole customers; 3 folds x 3 depths on them, then the chosen depth early-stopped on the
    # 3,000 rows (a 20% split of whole customers: 600 held out), then the refit on all 3,000
    assert m.tuning_rows_ == 600 and len(seen) == 11
    assert all(tr + va == 600 for tr, va in seen[:9])
    assert seen[9] == (2400, 600) and seen[10] == (3000, None)
    assert set(m.depth_scores_) == set(M.ChurnXGBClassifier.AUTO_DEPTHS)
    assert m.validation_log_loss_ == m.depth_scores_[m.max_depth_] == min(m.depth_scores_.values())
    assert 1 <= m.n_trees_ == m.booster_.num_boosted_rounds() <= 200
    # no cap: the behaviour before tuning_rows, 3 folds x 3 depths on every row, then the refit
    seen.clear()
    old = M.ChurnXGBClassifier(n_estimators=200, learning_rate=0.1, tuning_rows=None).fit(X, y, groups=groups)
    assert old.tuning_rows_ == 3000 and len(seen) == 10 and all(tr + va == 3000 for tr, va in seen[:9])
    # one depth: nothing to compare on the subsample, so only the early-stopped fit and the refit
    seen.clear()
    M.ChurnXGBClassifier(n_estimators=200, max_depth=2, tuning_rows=600).fit(X, y, groups=groups)
    assert seen == [(2400, 600), (3000, None)]
    # refit=False keeps the model early-stopped on all rows but the validation split
    kept = M.ChurnXGBClassifier(n_estimators=200, learning_rate=0.1, tuning_rows=600, refit=False).fit(X, y)
    assert kept.n_trees_ == kept.model_.best_iteration + 1 and kept.model_.n_features_in_ == X.shape[1]


def test_the_capped_subsample_holds_whole_customers_or_keeps_the_churn_rate():
    X, y = toy(3000, seed=5)
    est = M.ChurnXGBClassifier(tuning_rows=1000)
    groups = np.repeat(np.arange(600), 5)  # 600 customers of 5 rows
    rows = est._tuning_subsample(y, groups, seed=0)
    picked = set(groups[rows])
    assert len(rows) == 1000 and len(picked) == 200  # 200 whole customers of 5 rows fill the cap exactly
    assert np.isin(groups, list(picked)).sum() == 1000  # every row of a picked customer, no other row
    rows = est._tuning_subsample(y, None, seed=0)
    # stratified: the churn rate of the 1,000 rows is that of the 3,000 within one row (rounding)
    assert len(rows) == 1000 and abs(y[rows].sum() - y.mean() * 1000) <= 1
    assert est._tuning_subsample(y[:1000], None, seed=0) is None  # at or under the cap: every row


def test_capping_the_depth_choice_keeps_the_models_auc(monkeypatch):
    X, y = toy(6000, seed=6)
    Xt, yt = toy(3000, seed=7)
    kw = {"n_estimators": 300, "learning_rate": 0.1}
    capped = M.ChurnXGBClassifier(tuning_rows=1500, **kw).fit(X, y)
    full = M.ChurnXGBClassifier(tuning_rows=None, **kw).fit(X, y)
    a, b = (roc_auc_score(yt, m.predict_proba(Xt)[:, 1]) for m in (capped, full))
    # both fit the same toy logit; on 3,000 fresh rows an AUC has a standard error of ~0.009 (Hanley-McNeil at
    # AUC 0.8, a third churners) and the two models share those rows, so they must agree far closer than that
    # (measured when written: depth 1 both, 247 vs 167 trees, AUC 0.8048 vs 0.8061)
    assert capped.tuning_rows_ == 1500 and a == pytest.approx(b, abs=0.005)


@pytest.mark.parametrize("bad", [10, 2.5e4, "many", True])
def test_a_bad_tuning_rows_raises_naming_the_parameter(bad):
    X, y = toy(200)
    with pytest.raises(ModelError, match=r"tuning_rows .*expected an int >= 100 or None"):
        M.ChurnXGBClassifier(n_estimators=10, tuning_rows=bad).fit(X, y)


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


def test_signal_rule_picks_the_strongest_training_feature_of_a_snapshot_with_its_own_column_names():
    # A snapshot nobody here named: churn falls with loyalty points and rises with complaints (weaker).
    rng = np.random.default_rng(3)
    n = 2000
    X = pd.DataFrame({"Loyalty Points": rng.exponential(100, n), "complaints_ytd": rng.poisson(1, n).astype(float),
                      "Region": pd.Series(rng.choice(["N", "S"], n), dtype="string"), "noise": rng.normal(size=n)})
    logit = 1.0 - 0.02 * X["Loyalty Points"] + 0.3 * X["complaints_ytd"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    rule = M.SignalRule().fit(X, y)
    assert rule.feature_ == "Loyalty Points" and rule.direction_ == -1
    # the pick is the candidate whose training AUC is furthest from 0.5 (sklearn's roc_auc_score, recomputed)
    aucs = {c: roc_auc_score(y, X[c]) for c in ["Loyalty Points", "complaints_ytd", "noise"]}
    assert rule.feature_aucs_ == pytest.approx(aucs) and rule.signal_auc_ == pytest.approx(1 - aucs["Loyalty Points"])
    assert roc_auc_score(y, rule.predict_proba(X)[:, 1]) == pytest.approx(rule.signal_auc_, abs=0.01)  # isotonic ties
    # chosen on the rows it is fitted on: with the strong signal removed, the complaints count wins
    assert M.SignalRule().fit(X.drop(columns=["Loyalty Points"]), y).feature_ == "complaints_ytd"
    with pytest.raises(ModelError, match="'Region' is not numeric"):
        M.SignalRule(feature="Region").fit(X, y)
    with pytest.raises(ModelError, match="'tenure' is not a column"):
        M.SignalRule(feature="tenure").fit(X, y)
    with pytest.raises(ModelError, match="no numeric or boolean feature"):
        M.SignalRule().fit(X[["Region"]], y)


def test_training_data_names_the_missing_or_bad_label_column():
    keys = pd.DataFrame({"customer_id": ["a", "b"], "cutoff": pd.to_datetime(["2024-01-01"] * 2)})
    feats = keys.assign(x=[1.0, 2.0])
    with pytest.raises(ModelError, match="label_times.label: missing column"):
        M.training_data(feats, keys)
    with pytest.raises(ModelError, match="label_times.label: 1 value.*'yes'"):
        M.training_data(feats, keys.assign(label=[1, "yes"]))
    with pytest.raises(ModelError, match="features has 1 repeated"):
        M.training_data(pd.concat([feats, feats.head(1)]), keys.assign(label=[0, 1]))
    assert len(M.training_data(feats, keys.assign(label=[0, 1]))) == 2


def test_curve_tables_match_hand_computations():
    scores = pd.DataFrame({"y": [1, 0, 1, 0], "m": [0.9, 0.8, 0.3, 0.1]})
    roc = roc_points(scores)
    # thresholds 0.9, 0.8, 0.3, 0.1: (fpr, tpr) = (0, .5), (.5, .5), (.5, 1), (1, 1); AUC = 3 of 4 pairs right
    assert roc["roc_auc"].iloc[0] == pytest.approx(0.75)
    assert (roc["fpr"].iloc[-1], roc["tpr"].iloc[-1]) == (1.0, 1.0)
    cap = capture_curve(scores)
    # targeting 1 of 4 finds 1 of 2 churners, 2 of 4 still 1, 3 of 4 both
    assert cap["share_targeted"].tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    assert cap["capture"].tolist() == [0, 0.5, 0.5, 1.0, 1.0]
    rel = reliability_table(scores["y"], {"m": scores["m"]}, n_bins=2)
    # halves by score: (0.1, 0.3) with 1 churner of 2, (0.8, 0.9) with 1 of 2
    assert rel["mean_predicted"].tolist() == pytest.approx([0.2, 0.85])
    assert rel["observed_rate"].tolist() == [0.5, 0.5] and rel["n"].tolist() == [2, 2]


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
    assert isinstance(registered, M.ChurnXGBClassifier)  # skops trusted the class at its new module path
    np.testing.assert_array_equal(registered.predict_proba(X.head(20)), expected)
    inputs = {c.name: c.type.name for c in mlflow.models.get_model_info(uri).signature.inputs.inputs}
    assert inputs["plan"] == "string" and inputs["sessions_30d"] == "double"
