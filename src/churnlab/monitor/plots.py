"""Figures of the weekly job: metric trends with intervals, expected vs realised churn, score drift.

Each function draws what it is given (a monitoring table or a reconcile table) and returns the Axes.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from churnlab.monitor.metrics import ALL

__all__ = ["metric_trend", "expected_vs_realised"]


def _ax(ax, size=(7, 3.5)):
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def metric_trend(table: pd.DataFrame, metric: str, *, ax=None, title: str | None = None):
    """Draw one monitored metric per segment across runs, with its interval as a band."""
    ax = _ax(ax)
    rows = table[table["metric"] == metric].sort_values("run_at")
    for i, (seg, g) in enumerate(rows.groupby("segment", sort=True)):
        style = {"color": "black", "lw": 2} if seg == ALL else {"color": f"C{i}"}
        ax.plot(g["run_at"], g["value"], marker="o", label=str(seg), **style)
        if g["lower"].notna().any():
            ax.fill_between(g["run_at"], g["lower"], g["upper"], alpha=0.15, color=style["color"])
    ax.set(title=title or metric.replace("_", " "), ylabel=metric.replace("_", " "))
    ax.tick_params(axis="x", rotation=30)
    if len(rows):
        ax.legend(fontsize=8)
    return ax


def expected_vs_realised(reconciled: pd.DataFrame, *, ax=None):
    """Draw expected churners per window with their interval, and the realised count once matured."""
    ax = _ax(ax)
    r = reconciled.sort_values("cutoff")
    err = [r["expected"] - r["expected_lower"], r["expected_upper"] - r["expected"]]
    ax.errorbar(r["cutoff"], r["expected"], yerr=err, fmt="o", color="C0", capsize=3, label="expected (interval)")
    m = r[r["matured"]]
    ax.plot(m["cutoff"], m["realised"], "s", color="C3", label="realised")
    ax.set(title="Churners per window: expected vs realised", ylabel="customers", xlabel="window opened")
    ax.tick_params(axis="x", rotation=30)
    ax.legend(fontsize=8)
    return ax

