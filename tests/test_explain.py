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


@pytest.fixture(scope="module")
def small(fitted):
    """A small model (at most 20 trees of depth 3) on the same rows: few float32 additions per margin."""
    _, X, keys = fitted
    y = fitted[0].predict(X)  # the big model's decisions: a learnable, two-class target
    model = M.ChurnXGBClassifier(n_estimators=20, max_depth=3, tuning_folds=None, random_state=0).fit(X, y)
    return model, X, keys


def test_contributions_plus_base_value_equal_the_margin_within_1e_6(small):
    model, X, keys = small
    e = E.explain(model, X, keys)
    # XGBoost adds float32 leaf values; at most 20 trees keep the rounding gap below 1e-6 (measured 3e-7)
    np.testing.assert_allclose(e.margin, model.decision_function(X).astype(float), rtol=0, atol=1e-6)


def test_additivity_holds_to_float32_precision_on_a_model_with_many_trees(fitted):
    model, X, keys = fitted
    e = E.explain(model, X, keys)
    # ~160 trees: each of margin and contributions accumulates float32 rounding per tree (measured max 1.9e-6),
    # bounded by trees x float32 epsilon x (1 + |margin|)
    margin = model.decision_function(X).astype(float)
    bound = model.n_trees_ * np.finfo(np.float32).eps * (1 + np.abs(margin))
    assert (np.abs(e.margin - margin) <= bound).all()


def test_pred_contribs_agree_with_shap_tree_explainer(small):
    shap = pytest.importorskip("shap")
    import xgboost as xgb

    model, X, _ = small
    Xe = model._encode(X).head(50)
    try:
        sv = shap.TreeExplainer(model.booster_).shap_values(xgb.DMatrix(Xe, enable_categorical=True))
    except Exception as err:  # shap's own model parser lags XGBoost releases
        pytest.skip(f"shap {shap.__version__} cannot explain XGBoost {xgb.__version__}: {type(err).__name__}: {err}")
    ours = E.explain(model, X.head(50)).values.to_numpy()
    # both run TreeSHAP in float32; 1e-6 is a few float32 steps at these magnitudes
    np.testing.assert_allclose(ours, sv, rtol=0, atol=1e-6)


def test_the_shap_explanation_carries_the_same_numbers_with_readable_names(small):
    shap = pytest.importorskip("shap")
    model, X, keys = small
    e = E.explain(model, X, keys)
    s = e.shap
    assert isinstance(s, shap.Explanation) and s.values.shape == (len(X), 4)
    np.testing.assert_array_equal(s.values, e.values.to_numpy(dtype=float))
    np.testing.assert_array_equal(s.base_values, np.full(len(X), e.base_value))
    assert list(s.feature_names) == ["Days since last session", "Unresolved tickets", "Segment", "Noise"]
    # numbers stay numbers; a text column is coded in sorted order for colours and shown as given
    np.testing.assert_array_equal(s.data[:, 0], X["days_since_last_session"].to_numpy())
    np.testing.assert_array_equal(s.data[:, 2], (X["segment"] == "B2C").to_numpy(dtype=float))
    assert list(s.display_data[:3, 2]) == list(X["segment"].head(3))
    # a waterfall's end point is the row's margin
    assert s[0].base_values + s[0].values.sum() == pytest.approx(float(e.margin[0]), abs=1e-6)
    assert e.to_shap({"noise": "Random noise"}).feature_names[-1] == "Random noise"


@pytest.mark.parametrize("plot", ["beeswarm", "bar", "scatter", "waterfall"])
def test_shap_plots_draw_the_explanation(small, plot):
    shap = pytest.importorskip("shap")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model, X, keys = small
    s = E.explain(model, X, keys).sample(200).shap
    plt.close("all")
    draw = {"beeswarm": lambda: shap.plots.beeswarm(s, show=False),
            "bar": lambda: shap.plots.bar(s, show=False),
            "scatter": lambda: shap.plots.scatter(s[:, "Days since last session"], show=False),
            "waterfall": lambda: shap.plots.waterfall(s[0], show=False)}[plot]
    draw()
    fig = plt.gcf()
    drawn = [a for a in fig.axes if a.collections or a.patches or a.lines]
    assert drawn, f"shap.plots.{plot} drew nothing"
    labels = " ".join(t.get_text() for a in fig.axes for t in a.get_yticklabels() + [a.xaxis.label])
    assert "ays since last session" in labels  # the readable name, not days_since_last_session
    plt.close("all")


def test_explaining_in_batches_gives_the_values_of_one_call_with_bounded_batches(small):
    model, X, keys = small
    seen = []

    class Spy:
        def contributions(self, rows):
            seen.append(len(rows))
            return model.contributions(rows)

    whole = E.explain(model, X, keys, batch_size=None)
    batched = E.explain(Spy(), X, keys, batch_size=64)
    pd.testing.assert_frame_equal(batched.values, whole.values)
    assert batched.base_value == whole.base_value
    pd.testing.assert_frame_equal(batched.data, whole.data)
    assert seen == [64] * 9 + [24]  # 600 rows: nine full batches and the rest, never more than 64 at once


@pytest.mark.parametrize("batch_size", [0, -5, 2.5, True])
def test_a_batch_size_that_is_not_a_positive_integer_is_refused(small, batch_size):
    model, X, _ = small
    with pytest.raises(ModelError, match="batch_size must be a positive integer"):
        E.explain(model, X, batch_size=batch_size)


def test_keys_of_another_length_are_refused(small):
    model, X, keys = small
    with pytest.raises(ModelError, match="keys has 10 rows, X has 600"):
        E.explain(model, X, keys.head(10))


def test_feature_labels_read_as_words():
    assert E.feature_label("email_open_rate_30d") == "Email open rate (30 days)"
    assert E.feature_label("ticket_csat_mean") == "Ticket CSAT mean"
    assert E.feature_label("session_ratio_7d_90d") == "Sessions last 7 days vs 90-day pace"


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


def test_the_shap_display_values_are_rounded_for_people_and_the_data_kept_exact():
    values = pd.DataFrame({"days_since_last_session": [0.5, -0.1], "segment": [0.1, 0.0]})
    data = pd.DataFrame({"days_since_last_session": [6.79912, np.nan],
                         "segment": pd.Series(["B2C", pd.NA], dtype="string")})
    keys = pd.DataFrame({"customer_id": ["c1", "c2"], "cutoff": [pd.Timestamp("2024-06-01")] * 2})
    s = E.Explanation(values=values, base_value=-2.0, data=data, keys=keys).to_shap()
    assert s.display_data[0, 0] == 6.8 and s.data[0, 0] == 6.79912  # 3 significant digits shown
    assert s.display_data[0, 1] == "B2C" and s.data[0, 1] == 0.0  # the only category: code 0
    assert np.isnan(s.data[1, 0]) and np.isnan(s.data[1, 1]) and np.isnan(s.display_data[1, 1])
