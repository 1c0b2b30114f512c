"""Figures of model quality and explanations: ROC, lift, reliability, profit, SHAP views.

Each function draws what a :mod:`churnlab.modeling` or :mod:`churnlab.explain` function returned and
returns the Axes; where a figure takes raw scores (as the notebooks pass them), the points it draws come
from one named function of :mod:`churnlab.modeling.evaluation`, never from a formula here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab.plots import new_axes

__all__ = ["roc_curves", "lift_curves", "reliability", "profit", "importance", "beeswarm", "dependence",
           "waterfall"]


def roc_curves(scores: pd.DataFrame, ax=None, *, title: str = "ROC"):
    """ROC curve of every model column of ``scores`` (column ``y`` holds the labels).

    ``scores`` is a window of :attr:`~churnlab.modeling.ModelComparison.scores`; the curve points come from
    :func:`churnlab.modeling.roc_points`.
    """
    from churnlab.modeling.evaluation import roc_points

    ax = new_axes(ax, figsize=(5, 5))
    for name, curve in roc_points(scores).groupby("model", sort=False):
        ax.plot(curve["fpr"], curve["tpr"], label=f"{name} (AUC {curve['roc_auc'].iloc[0]:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    ax.legend(loc="lower right", fontsize=8)
    return ax


def lift_curves(scores: pd.DataFrame, ax=None, *, title: str = "Cumulative capture"):
    """Share of churners captured when targeting the top x% by each model's score.

    Points from :func:`churnlab.modeling.capture_curve`.
    """
    from churnlab.modeling.evaluation import capture_curve

    ax = new_axes(ax, figsize=(5, 5))
    for name, curve in capture_curve(scores).groupby("model", sort=False):
        ax.plot(100 * curve["share_targeted"], curve["capture"], label=name)
    ax.plot([0, 100], [0, 1], color="grey", lw=0.8, ls="--")
    ax.set(xlabel="customers targeted (%)", ylabel="churners captured", title=title)
    ax.legend(loc="lower right", fontsize=8)
    return ax


def reliability(y, probabilities: dict[str, np.ndarray], ax=None, *, n_bins: int = 10):
    """Reliability diagram: mean predicted vs observed churn rate in quantile bins.

    Bins from :func:`churnlab.modeling.reliability_table`.
    """
    from churnlab.modeling.evaluation import reliability_table

    ax = new_axes(ax, figsize=(5, 5))
    table = reliability_table(y, probabilities, n_bins=n_bins)
    for name, bins in table.groupby("model", sort=False):
        ax.plot(bins["mean_predicted"], bins["observed_rate"], marker="o", label=name)
    top = float(max(table["mean_predicted"].max(), table["observed_rate"].max(), 0.0)) if len(table) else 0.0
    ax.plot([0, top], [0, top], color="grey", lw=0.8, ls="--")
    ax.set(xlabel="predicted churn probability", ylabel="observed churn rate", title="Reliability")
    ax.legend(fontsize=8)
    return ax


def profit(curve: pd.DataFrame, ax=None, *, best: pd.Series | None = None):
    """Profit of the campaign against the share of customers targeted, best point marked."""
    ax = new_axes(ax)
    ax.plot(100 * curve["share_targeted"], curve["profit"])
    if best is not None:
        ax.axvline(100 * best["share_targeted"], color="C3", ls="--",
                   label=f"best: top {100 * best['share_targeted']:.1f}% (p ≥ {best['threshold']:.2f})")
        ax.legend(fontsize=8)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel="customers targeted (%)", ylabel="expected profit", title="Profit curve")
    return ax


def importance(table: pd.DataFrame, ax=None, *, top_n: int = 15):
    """Horizontal bars of :func:`churnlab.explain.global_importance` (mean |SHAP|)."""
    t = table.head(top_n).iloc[::-1]
    ax = new_axes(ax, figsize=(6, 0.3 * len(t) + 1))
    ax.barh(t["feature"], t["mean_abs_shap"])
    ax.set(xlabel="mean |SHAP| (log-odds)", title="Global importance")
    return ax


def beeswarm(explanation, ax=None, *, top_n: int = 12, random_state: int = 0, importance: pd.DataFrame | None = None):
    """SHAP value of each row per feature, coloured by the feature's value (low blue, high red).

    Features are drawn in the order of ``importance`` (a :func:`churnlab.explain.global_importance` table,
    its first ``top_n`` rows); without one, the plot asks :func:`~churnlab.explain.global_importance` for it.
    """
    if importance is None:
        from churnlab.explain import global_importance

        importance = global_importance(explanation)
    feats = importance["feature"].head(top_n).tolist()[::-1]
    ax = new_axes(ax, figsize=(7, 0.35 * len(feats) + 1))
    rng = np.random.default_rng(random_state)
    for i, f in enumerate(feats):
        v = explanation.values[f].to_numpy()
        x = pd.to_numeric(explanation.data[f], errors="coerce") if explanation.data[f].dtype.kind in "fiub" else (
            explanation.data[f].astype("category").cat.codes.astype(float).where(explanation.data[f].notna()))
        x = np.asarray(x, dtype=float)
        lo, hi = np.nanpercentile(x, [5, 95]) if np.isfinite(x).any() else (0, 1)
        colour = np.clip((x - lo) / (hi - lo if hi > lo else 1), 0, 1)
        ax.scatter(v, i + rng.uniform(-0.3, 0.3, len(v)), c=np.nan_to_num(colour, nan=0.5), cmap="coolwarm", s=6,
                   alpha=0.6, linewidths=0)
    ax.set_yticks(range(len(feats)), feats)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set(xlabel="SHAP value (log-odds of churn)", title="SHAP beeswarm (colour: feature value, low→high)")
    return ax


def dependence(explanation, feature: str, ax=None):
    """SHAP value of ``feature`` against its value."""
    ax = new_axes(ax, figsize=(5, 4))
    ax.scatter(explanation.data[feature].astype(str) if explanation.data[feature].dtype.kind not in "fiub"
               else explanation.data[feature], explanation.values[feature], s=6, alpha=0.5)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(xlabel=feature, ylabel="SHAP value", title=f"Dependence: {feature}")
    return ax


def waterfall(explanation, row: int, ax=None, *, top_n: int = 10):
    """One customer's contributions from the base value to their margin, largest first."""
    v = explanation.values.iloc[row]
    order = v.abs().sort_values(ascending=False).index
    shown, rest = list(order[:top_n]), v[order[top_n:]].sum()
    steps = [(f"{f} = {explanation.data.iloc[row][f]}", v[f]) for f in shown]
    if len(order) > top_n:
        steps.append((f"{len(order) - top_n} other features", rest))
    ax = new_axes(ax, figsize=(7, 0.35 * len(steps) + 1.2))
    start = explanation.base_value
    for i, (_label, delta) in enumerate(steps[::-1]):
        left = start + sum(d for _, d in steps[: len(steps) - 1 - i])
        ax.barh(i, delta, left=left, color="C3" if delta > 0 else "C0")
    ax.set_yticks(range(len(steps)), [s[0] for s in steps[::-1]], fontsize=8)
    ax.axvline(explanation.base_value, color="grey", lw=0.8, ls="--")
    ax.set(xlabel="log-odds of churn", title=f"Why this customer: base {explanation.base_value:.2f} → "
           f"{explanation.base_value + v.sum():.2f}")
    return ax
