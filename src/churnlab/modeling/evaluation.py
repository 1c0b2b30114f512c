"""How good a churn model is: ranking and probability metrics, lift, profit curve, model comparison, CV.

Every function takes labels (1 = churned) and scores or probabilities and returns plain numbers or a
frame; :func:`compare_models` fits several models and evaluates them on every window. The curve tables
(:func:`roc_points`, :func:`capture_curve`, :func:`reliability_table`) are what
:mod:`churnlab.plots.model` draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score, roc_curve

from churnlab.modeling._checks import check_y
from churnlab.modeling.selection import TrainingData

__all__ = ["METRICS", "evaluate", "lift_table", "profit_curve", "best_operating_point", "ModelComparison",
           "compare_models", "cross_validated_auc", "roc_points", "capture_curve", "reliability_table"]

#: Metric columns of :func:`evaluate` and :class:`ModelComparison`.
METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "lift_at_k", "capture_at_k")


def _top_k_mask(score: np.ndarray, k_pct: float) -> np.ndarray:
    """Mark the ceil(k% of n) highest scores (ties broken by order, stable)."""
    n = len(score)
    k = int(np.ceil(n * k_pct / 100.0))
    order = np.argsort(-score, kind="stable")
    mask = np.zeros(n, dtype=bool)
    mask[order[:k]] = True
    return mask


def lift_table(y, score, *, k_pcts: Sequence[float] = (1, 2, 5, 10, 20, 30, 50, 100)) -> pd.DataFrame:
    """Lift and capture when targeting the top k% of scores.

    Parameters
    ----------
    y : array of 0/1
        1 = churned.
    score : array of float
        Higher = more likely to churn.
    k_pcts : sequence of float
        Percentages of customers targeted.

    Returns
    -------
    DataFrame
        One row per k: ``k_pct, n_targeted, churners_targeted, precision, lift, capture``.

    Notes
    -----
    ``precision = churners in top k / n targeted``; ``lift = precision / base rate``;
    ``capture = churners in top k / all churners``. Top k = the ceil(k% × n) highest scores.
    """
    y = np.asarray(y, dtype=int)
    score = np.asarray(score, dtype=float)
    base = y.mean()
    rows = []
    for k in k_pcts:
        m = _top_k_mask(score, k)
        tp = int(y[m].sum())
        precision = tp / max(int(m.sum()), 1)
        rows.append({"k_pct": float(k), "n_targeted": int(m.sum()), "churners_targeted": tp, "precision": precision,
                     "lift": precision / base if base > 0 else np.nan,
                     "capture": tp / y.sum() if y.sum() > 0 else np.nan})
    return pd.DataFrame(rows)


def evaluate(y, p, *, top_k_pct: float = 10.0) -> dict[str, float]:
    """ROC-AUC, PR-AUC, log loss, Brier, lift and capture at the top k% for one set of predictions.

    Parameters
    ----------
    y : array of 0/1
        1 = churned.
    p : array of float
        Predicted churn probabilities.
    top_k_pct : float, default 10
        Share of customers targeted for lift and capture.

    Returns
    -------
    dict
        ``n, prevalence`` and :data:`METRICS`.

    Raises
    ------
    ModelError
        Single-class labels (AUC undefined).
    """
    y = check_y(y, where="evaluate")
    p = np.clip(np.asarray(p, dtype=float), 1e-15, 1 - 1e-15)
    lt = lift_table(y, p, k_pcts=[top_k_pct]).iloc[0]
    return {
        "n": int(len(y)),
        "prevalence": float(y.mean()),
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "lift_at_k": float(lt["lift"]),
        "capture_at_k": float(lt["capture"]),
    }


def profit_curve(y, p, *, offer_cost: float, saved_value: float, success_rate: float,
                 n_points: int | None = None) -> pd.DataFrame:
    """Compute the expected campaign profit when the offer goes to everyone at or above each probability threshold.

    Parameters
    ----------
    y : array of 0/1
        Whether each customer churned (without an offer).
    p : array of float
        Churn probabilities (calibrated, so thresholds mean something).
    offer_cost : float
        Cost of one offer (every targeted customer).
    saved_value : float
        Value of keeping one customer who would have churned.
    success_rate : float
        Share of targeted churners the offer keeps.
    n_points : int, optional
        Thin the curve to at most this many thresholds (default: every distinct score).

    Returns
    -------
    DataFrame
        One row per threshold, highest first: ``threshold, n_targeted, share_targeted, churners_targeted,
        profit``.

    Notes
    -----
    ``profit(t) = success_rate * saved_value * TP(t) - offer_cost * n_targeted(t)`` where TP counts
    targeted churners. It assumes the offer has no effect on stayers and that the saved value does not
    depend on the customer; an A/B test measures ``success_rate`` (notebook 03).
    """
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    tp = np.cumsum(ys)
    n = np.arange(1, len(ys) + 1)
    last_of_tie = np.r_[ps[1:] != ps[:-1], True]  # a threshold includes every tied score
    curve = pd.DataFrame({"threshold": ps[last_of_tie], "n_targeted": n[last_of_tie],
                          "churners_targeted": tp[last_of_tie]})
    curve = pd.concat([pd.DataFrame({"threshold": [np.inf], "n_targeted": [0], "churners_targeted": [0]}), curve],
                      ignore_index=True)
    curve["share_targeted"] = curve["n_targeted"] / max(len(y), 1)
    curve["profit"] = success_rate * saved_value * curve["churners_targeted"] - offer_cost * curve["n_targeted"]
    if n_points and len(curve) > n_points:
        idx = np.unique(np.r_[np.linspace(0, len(curve) - 1, n_points).astype(int), int(curve["profit"].idxmax())])
        curve = curve.iloc[idx].reset_index(drop=True)
    return curve[["threshold", "n_targeted", "share_targeted", "churners_targeted", "profit"]]


def best_operating_point(curve: pd.DataFrame) -> pd.Series:
    """Return the row of a :func:`profit_curve` with the highest profit (the fewest offers among ties)."""
    return curve.loc[curve["profit"].idxmax()]




@dataclass(frozen=True)
class ModelComparison:
    """Metrics of several models on several windows (validation, out-of-time test, CV folds).

    Attributes
    ----------
    summary : DataFrame
        One row per (model, window): ``model, window, n, prevalence`` and :data:`METRICS`.
    scores : dict of str to DataFrame
        Per window, ``y`` and one probability column per model (for ROC and lift plots).
    models : dict of str to estimator
        The fitted models.
    top_k_pct : float
    """

    summary: pd.DataFrame
    scores: dict[str, pd.DataFrame] = field(repr=False)
    models: dict[str, object] = field(repr=False)
    top_k_pct: float = 10.0

    def metric(self, name: str = "roc_auc") -> pd.DataFrame:
        """Model × window table of one metric."""
        return self.summary.pivot(index="model", columns="window", values=name)

    def __repr__(self) -> str:
        best = self.summary.sort_values("roc_auc", ascending=False).iloc[0]
        return (f"ModelComparison({self.summary['model'].nunique()} models, windows={list(self.scores)}, "
                f"best={best['model']} AUC {best['roc_auc']:.3f} on {best['window']})")

    def _repr_html_(self) -> str:
        return (f"<p><b>ModelComparison</b> (lift/capture at top {self.top_k_pct:g}%)</p>"
                + self.summary.to_html(index=False, float_format=lambda v: f"{v:.3f}"))


def compare_models(models: Mapping[str, BaseEstimator], train: TrainingData, windows: Mapping[str, TrainingData], *,
                   top_k_pct: float = 10.0, fit_kwargs: Mapping[str, dict] | None = None) -> ModelComparison:
    """Fit each model on ``train`` and evaluate it on every window.

    Parameters
    ----------
    models : dict of str to estimator
        Unfitted estimators (e.g. :func:`default_models`).
    train : TrainingData
        Rows to fit on.
    windows : dict of str to TrainingData
        E.g. ``{"validation": ..., "out_of_time": ...}``.
    top_k_pct : float, default 10
        Share targeted for lift and capture.
    fit_kwargs : dict of str to dict, optional
        Extra fit arguments per model (``groups``, ``eval_set``).

    Returns
    -------
    ModelComparison
    """
    fit_kwargs = dict(fit_kwargs or {})
    fitted, rows = {}, []
    scores = {w: pd.DataFrame({"y": d.y}) for w, d in windows.items()}
    for name, est in models.items():
        fitted[name] = est.fit(train.X, train.y, **fit_kwargs.get(name, {}))
        for w, d in windows.items():
            p = fitted[name].predict_proba(d.X)[:, 1]
            scores[w][name] = p
            rows.append({"model": name, "window": w, **evaluate(d.y, p, top_k_pct=top_k_pct)})
    return ModelComparison(summary=pd.DataFrame(rows), scores=scores, models=fitted, top_k_pct=top_k_pct)


def cross_validated_auc(make_model, X: pd.DataFrame, y, folds) -> pd.DataFrame:
    """ROC-AUC of a fresh model per fold.

    Parameters
    ----------
    make_model : callable
        Returns an unfitted estimator.
    X : DataFrame
        Feature columns.
    y : array of 0/1
        1 = churned.
    folds : list of (train_idx, test_idx)
        From :func:`stratified_folds` or :func:`grouped_folds`.

    Returns
    -------
    DataFrame
        One row per fold: ``fold, n_test, roc_auc``; the mean is ``.roc_auc.mean()``.
    """
    y = check_y(y, where="cross_validated_auc")
    rows = []
    for i, (tr, te) in enumerate(folds):
        m = make_model().fit(X.iloc[tr].reset_index(drop=True), y[tr])
        p = m.predict_proba(X.iloc[te].reset_index(drop=True))[:, 1]
        rows.append({"fold": i, "n_test": len(te), "roc_auc": float(roc_auc_score(y[te], p))})
    return pd.DataFrame(rows)



def roc_points(scores: pd.DataFrame) -> pd.DataFrame:
    """ROC curve of every model column of a score frame.

    Parameters
    ----------
    scores : DataFrame
        ``y`` (0/1 labels) and one score column per model (:attr:`ModelComparison.scores`).

    Returns
    -------
    DataFrame
        One row per model and threshold: ``model, fpr, tpr, roc_auc`` (the model's AUC on every row).
    """
    parts = []
    for col in scores.columns.drop("y"):
        fpr, tpr, _ = roc_curve(scores["y"], scores[col])
        parts.append(pd.DataFrame({"model": col, "fpr": fpr, "tpr": tpr,
                                   "roc_auc": float(roc_auc_score(scores["y"], scores[col]))}))
    return pd.concat(parts, ignore_index=True)


def capture_curve(scores: pd.DataFrame) -> pd.DataFrame:
    """Share of churners captured when targeting the top share of customers by each model's score.

    Parameters
    ----------
    scores : DataFrame
        ``y`` (0/1 labels) and one score column per model.

    Returns
    -------
    DataFrame
        ``model, share_targeted, capture``: ``n + 1`` points per model from (0, 0) to (1, 1); ties in
        score are taken in row order.
    """
    y = scores["y"].to_numpy()
    parts = []
    for col in scores.columns.drop("y"):
        order = np.argsort(-scores[col].to_numpy(), kind="stable")
        cum = np.r_[0, np.cumsum(y[order])] / max(y.sum(), 1)
        parts.append(pd.DataFrame({"model": col, "share_targeted": np.linspace(0, 1, len(cum)), "capture": cum}))
    return pd.concat(parts, ignore_index=True)


def reliability_table(y, probabilities: Mapping[str, np.ndarray], *, n_bins: int = 10) -> pd.DataFrame:
    """Mean predicted probability against the observed churn rate in quantile bins of each model's scores.

    Parameters
    ----------
    y : array of 0/1
        1 = churned.
    probabilities : dict of str to array
        Predicted churn probabilities per model (same rows as ``y``).
    n_bins : int, default 10
        Quantile bins (fewer when scores tie).

    Returns
    -------
    DataFrame
        One row per model and bin: ``model, bin, mean_predicted, observed_rate, n``.
    """
    y = np.asarray(y)
    parts = []
    for name, p in probabilities.items():
        p = np.asarray(p)
        bins = pd.qcut(p, q=n_bins, duplicates="drop", labels=False)
        means = pd.DataFrame({"p": p, "y": y, "bin": bins}).groupby("bin")
        table = means.mean().rename(columns={"p": "mean_predicted", "y": "observed_rate"})
        table["n"] = means.size()
        parts.append(table.reset_index().assign(model=name)[["model", "bin", "mean_predicted", "observed_rate", "n"]])
    return pd.concat(parts, ignore_index=True)
