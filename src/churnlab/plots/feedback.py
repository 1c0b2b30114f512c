"""Figures of customer feedback: NPS and CSAT over time, and exit reasons against recorded ones.

Each function draws a frame returned by :mod:`churnlab.patterns.feedback` and returns the Axes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from churnlab.plots import month_axis, new_axes

__all__ = ["plot_nps_trend", "plot_csat_trend", "plot_exit_confusion", "plot_exit_reasons"]


def plot_nps_trend(table: pd.DataFrame, by: str | None = None, ax=None):
    """NPS per period with its interval band, one line per group when ``by`` (:func:`nps_table`)."""
    ax = new_axes(ax)
    groups = [(None, table)] if by is None else list(table.groupby(by))
    for name, g in groups:
        line = ax.plot(g["period_start"], g["nps"], "o-", label="NPS" if name is None else str(name))[0]
        ax.fill_between(g["period_start"], g["ci_lower"], g["ci_upper"], alpha=0.15, color=line.get_color())
    ax.axhline(0, color="grey", lw=0.8)
    ax.set(title="Net Promoter Score per month", ylabel="% promoters − % detractors (points)", ylim=(-100, 100))
    month_axis(ax)
    ax.legend(fontsize=8)
    return ax


def plot_csat_trend(table: pd.DataFrame, ax=None):
    """Share of satisfied CSAT answers per period with its interval (:func:`csat_trend`)."""
    ax = new_axes(ax)
    ax.fill_between(table["period_start"], table["ci_lower"], table["ci_upper"], alpha=0.2, label="95% CI")
    ax.plot(table["period_start"], table["share_satisfied"], "o-", label="share satisfied")
    ax.set(title="CSAT: share of satisfied answers per month", ylabel="share satisfied", ylim=(0, 1))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    month_axis(ax)
    ax.legend(fontsize=8)
    return ax


def plot_exit_confusion(confusion: pd.DataFrame, ax=None):
    """Heat map of stated (columns) against recorded (rows) churn reasons, counts in the cells."""
    ax = new_axes(ax, figsize=(6.0, 5.0))
    m = confusion.to_numpy(dtype=float)
    im = ax.imshow(m, cmap="Blues")
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=8,
                color="white" if v > m.max() / 2 else "black")
    ax.set_xticks(range(m.shape[1]), confusion.columns.astype(str), rotation=30, ha="right")
    ax.set_yticks(range(m.shape[0]), confusion.index.astype(str))
    ax.set(title="Exit survey vs recorded churn reason", xlabel="stated in the exit survey", ylabel="recorded")
    ax.figure.colorbar(im, ax=ax, label="churners")
    return ax


def plot_exit_reasons(table: pd.DataFrame, ax=None):
    """Share of each stated exit reason with intervals (:func:`exit_reasons`)."""
    ax = new_axes(ax)
    x = np.arange(len(table))
    r = table["share"].to_numpy(float)
    err = np.vstack([np.clip(r - table["ci_lower"], 0, None), np.clip(table["ci_upper"] - r, 0, None)])
    ax.bar(x, r, yerr=err, capsize=3, color="#9ecae1")
    ax.set_xticks(x, table["reason"].astype(str), rotation=30, ha="right")
    ax.set(title="Reasons stated in exit surveys", ylabel="share of answers")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    return ax
