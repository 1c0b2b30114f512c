"""Figures of model quality and explanations: ROC, lift, reliability, profit, SHAP views.

Each function draws what a :mod:`churnlab.modeling` or :mod:`churnlab.explain` function returned and
returns the Axes; where a figure takes raw scores (as the notebooks pass them), the points it draws come
from one named function of :mod:`churnlab.modeling.evaluation`, never from a formula here. SHAP views are
shap's own plots (beeswarm, bar, scatter, waterfall) of :attr:`churnlab.explain.Explanation.shap`, with
readable feature names and axes that say the values are on the log-odds scale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab.plots import new_axes

__all__ = ["LOG_ODDS", "roc_curves", "lift_curves", "reliability", "profit", "importance", "beeswarm", "bar",
           "dependence", "waterfall", "segment_importance", "label_rates", "score_distribution"]


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


#: What a SHAP value means, on every SHAP axis: contributions add up on the log-odds scale, not in probability.
LOG_ODDS = "change in log-odds of churn (SHAP value)"


def _sigmoid(margin: float) -> float:
    return float(1.0 / (1.0 + np.exp(-margin)))


def beeswarm(explanation, ax=None, *, top_n: int = 12):
    """Draw shap's beeswarm of a :class:`churnlab.explain.Explanation`: each row's SHAP value per feature.

    Features (readable names, :func:`churnlab.explain.feature_label`) are ordered by mean |SHAP|; colour is the
    feature's value (low blue, high red; categories by their sorted codes); the features after ``top_n`` are
    summed in one row. The x axis says it is the log-odds scale.
    """
    import shap

    ax = new_axes(ax, figsize=(8, 0.4 * top_n + 1.5))
    shap.plots.beeswarm(explanation.shap, max_display=top_n, ax=ax, show=False, plot_size=None, s=10,
                        color_bar_label="feature value")
    ax.set_xlabel(LOG_ODDS)
    ax.set_title("What drives the risk (one dot per customer)")
    return ax


def bar(explanation, ax=None, *, top_n: int = 12):
    """Draw shap's bar chart of mean |SHAP| per feature (readable names), the rest summed in one bar."""
    import shap

    ax = new_axes(ax, figsize=(7, 0.35 * top_n + 1.2))
    shap.plots.bar(explanation.shap, max_display=top_n, ax=ax, show=False)
    ax.set_xlabel("mean |SHAP value| (log-odds of churn)")
    return ax


def dependence(explanation, feature: str, ax=None, *, color: bool = True):
    """Draw shap's scatter of one feature: its SHAP value against its value.

    Parameters
    ----------
    explanation : churnlab.explain.Explanation
        The SHAP values.
    feature : str
        The feature's column name (the plot shows its readable name).
    ax : Axes, optional
        Where to draw; a new figure by default.
    color : bool, default True
        Colour the dots by the feature shap finds interacts most with it.
    """
    import shap

    from churnlab.explain import feature_label

    if feature not in explanation.values.columns:
        from churnlab.errors import ModelError

        raise ModelError(f"dependence: feature {feature!r} is not explained; expected one of "
                         f"{', '.join(map(str, explanation.values.columns[:10]))}")
    e = explanation.shap
    label = feature_label(feature)
    column = e[:, label]
    ax = new_axes(ax, figsize=(6, 4.5))
    shap.plots.scatter(column, color=e if color and e.values.shape[1] > 1 else "#1E88E5", ax=ax, show=False)
    ax.set_ylabel(f"SHAP value of {label}\n(log-odds of churn)")
    ax.set_title(f"How {label.lower() if not label[:2].isupper() else label} moves the risk")
    return ax


def waterfall(explanation, row: int, *, top_n: int = 10):
    """Draw shap's waterfall of one explained row: from the base value to that row's log-odds, largest first.

    Feature names are readable and values rounded (:meth:`churnlab.explain.Explanation.to_shap`); bars are
    contributions in log-odds, and the title gives the same two end points as probabilities.

    Returns
    -------
    Axes
        The waterfall's main axes (its figure is new: shap draws a waterfall on the current figure).
    """
    import matplotlib.pyplot as plt
    import shap

    n = len(explanation.values)
    if not 0 <= row < n:
        from churnlab.errors import ModelError

        raise ModelError(f"waterfall: row {row} is outside the {n:,} explained rows")
    fig = plt.figure()
    shap.plots.waterfall(explanation.shap[row], max_display=top_n + 1, show=False)
    ax = fig.axes[0]
    margin = float(explanation.margin[row])
    ax.set_xlabel("bars: contributions on the log-odds scale, from the base E[f(X)] to this customer's f(x)",
                  labelpad=22, fontsize=9)
    ax.set_title(f"Why this customer: churn probability {_sigmoid(explanation.base_value):.0%} at the base, "
                 f"{_sigmoid(margin):.0%} for them (uncalibrated model)", fontsize=10, pad=26)
    return ax


def segment_importance(table: pd.DataFrame, ax=None, *, label: str = "segment"):
    """Bars of :func:`churnlab.explain.importance_by_segment` (features × segments), readable feature names."""
    from churnlab.explain import feature_label

    t = table.iloc[::-1].rename(index=feature_label)
    ax = new_axes(ax, figsize=(7, 0.35 * len(t) * max(1, t.shape[1]) / 2 + 1.5))
    t.plot.barh(ax=ax)
    ax.set(xlabel="mean |SHAP value| (log-odds of churn)", ylabel="", title=f"What drives the risk, by {label}")
    ax.legend(title=label, fontsize=8)
    return ax


def label_rates(summary: pd.DataFrame, ax=None):
    """Churn rate in each cutoff's window (``label_times.summary``: ``cutoff, churn_rate``), as percent bars."""
    from matplotlib.ticker import PercentFormatter

    ax = new_axes(ax, figsize=(7, 3))
    ax.bar(pd.to_datetime(summary["cutoff"]).dt.strftime("%Y-%m-%d"), summary["churn_rate"])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(ylabel="churned in the window", title="Churn rate in the window after each cutoff")
    ax.tick_params(axis="x", rotation=60)
    return ax


def score_distribution(probability: np.ndarray, threshold: float | None = None, ax=None, *, bins: int = 40):
    """Histogram of calibrated churn probabilities, the operating threshold marked."""
    from matplotlib.ticker import PercentFormatter

    ax = new_axes(ax, figsize=(6, 3))
    ax.hist(np.asarray(probability, dtype=float), bins=bins)
    if threshold is not None and np.isfinite(threshold):
        ax.axvline(threshold, color="C3", ls="--", label=f"risk-list threshold {threshold:.0%}")
        ax.legend(fontsize=8)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(xlabel="calibrated churn probability", ylabel="customers", title="Scored customers")
    return ax
