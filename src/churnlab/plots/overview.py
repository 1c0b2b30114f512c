"""Figures of the data overview: table sizes, missing values, churn over time, by tenure and by segment.

Each function takes the DataFrame a :mod:`churnlab.data.summary`, :mod:`churnlab.data.overview` or
:mod:`churnlab.metrics` function returned, draws it on ``ax`` (a new figure otherwise) and returns the
Axes. Nothing here computes a statistic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from churnlab.plots import month_axis, new_axes

__all__ = ["plot_table_rows", "plot_missing", "plot_churn_over_time", "plot_churn_by_tenure", "plot_segment_mix"]


def plot_table_rows(summary: pd.DataFrame, ax=None):
    """Horizontal bars of rows per table, log scale (``table, rows`` from ``summarize``)."""
    ax = new_axes(ax)
    ax.barh(summary["table"], summary["rows"], color="#3b75af")
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("rows (log scale)")
    ax.set_title("Rows per table")
    return ax


def plot_missing(missing: pd.DataFrame, ax=None, *, top: int = 15):
    """Bars of the missing share of the ``top`` columns (``table, column, share`` from ``missing_values``)."""
    ax = new_axes(ax)
    shown = missing.head(top)
    ax.barh(shown["table"] + "." + shown["column"], shown["share"], color="#d9822b")
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("share of rows empty")
    ax.set_title("Missing values")
    return ax


def plot_churn_over_time(over_time: pd.DataFrame, ax=None):
    """Monthly churn rate with its interval (``period_start, churn_rate, ci_lower, ci_upper``)."""
    ax = new_axes(ax)
    x = over_time["period_start"]
    ax.fill_between(x, over_time["ci_lower"], over_time["ci_upper"], color="#3b75af", alpha=0.2, label="95% interval")
    ax.plot(x, over_time["churn_rate"], marker="o", color="#3b75af", label="churn rate")
    ax.set_ylabel("churned / active at month start")
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    month_axis(ax)
    ax.set_title("Churn per month")
    ax.legend()
    return ax


def plot_churn_by_tenure(by_tenure: pd.DataFrame, ax=None):
    """Bars of churn rate per tenure band with interval whiskers (``band, churn_rate, ci_lower, ci_upper``)."""
    ax = new_axes(ax)
    rate = by_tenure["churn_rate"].to_numpy(dtype=float)
    err = np.vstack([rate - by_tenure["ci_lower"].to_numpy(float), by_tenure["ci_upper"].to_numpy(float) - rate])
    ax.bar(by_tenure["band"], rate, yerr=np.nan_to_num(err), capsize=4, color="#3b75af")
    ax.set_xlabel("tenure at snapshot")
    ax.set_ylabel("churn rate")
    ax.set_title("Churn by tenure band")
    return ax


def plot_segment_mix(mix: pd.DataFrame, by: str, ax=None):
    """Bars of each value's share of customers, with its churn rate as text (``<by>, share, churn_rate``)."""
    ax = new_axes(ax)
    bars = ax.bar(mix[by].astype(str), mix["share"], color="#6a9f58")
    for bar, rate in zip(bars, mix["churn_rate"]):
        if pd.notna(rate):
            ax.annotate(
                f"{rate:.0%} no longer active",
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
            )
    ax.set_ylabel("share of customers")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_title(f"Customers by {by}")
    return ax


def plot_metric_trends(trend: pd.DataFrame, *, title: str = ""):
    """Small multiples of key metrics across runs: one panel per metric, run start time on x.

    Parameters
    ----------
    trend : DataFrame
        ``started, metric, label, format, value`` (see :func:`churnlab.report.trend_table`).
    title : str
        Figure title.

    Returns
    -------
    Figure
    """
    import matplotlib.pyplot as plt

    metrics = list(dict.fromkeys(trend["metric"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.4 * len(metrics), 2.6), squeeze=False)
    for ax, name in zip(axes[0], metrics, strict=True):
        rows = trend[trend["metric"] == name].sort_values("started")
        ax.plot(rows["started"], rows["value"], marker="o", lw=1.5)
        ax.set_title(str(rows["label"].iloc[0]), fontsize=9)
        if rows["format"].iloc[0] in ("percent", "points"):
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        ax.tick_params(axis="y", labelsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
