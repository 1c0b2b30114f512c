"""Figures of customer value: LTV by group, the Pareto curve, revenue churn, a churn cut, benchmarks.

Each function draws a frame returned by :mod:`churnlab.patterns.value` (or :mod:`~churnlab.patterns.clv`)
on ``ax`` (a new figure otherwise) and returns the Axes; nothing here computes a statistic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from churnlab.plots import month_axis, new_axes

__all__ = ["plot_ltv", "plot_pareto", "plot_revenue_churn", "plot_churn_cut", "plot_benchmarks"]


def _yerr(v, lo, hi) -> np.ndarray:
    v, lo, hi = (np.asarray(x, dtype=float) for x in (v, lo, hi))
    return np.nan_to_num(np.vstack([np.clip(v - lo, 0, None), np.clip(hi - v, 0, None)]))


def plot_ltv(ltv: pd.DataFrame, ax=None):
    """Bars of lifetime value per group with intervals (:func:`lifetime_value`)."""
    ax = new_axes(ax)
    ax.bar(ltv["group"].astype(str), ltv["ltv"], yerr=_yerr(ltv["ltv"], ltv["ltv_lower"], ltv["ltv_upper"]),
           capsize=4, color="#3b75af")
    for i, r in enumerate(ltv.itertuples()):
        top = r.ltv_upper if np.isfinite(r.ltv_upper) else r.ltv
        ax.annotate(f"{r.monthly_revenue:,.0f}/month × {r.lifetime_months:.1f} months", (i, top), ha="center",
                    va="bottom", fontsize=8, xytext=(0, 4), textcoords="offset points")
    h = ltv["horizon_months"].iloc[0] if len(ltv) else np.nan
    ax.set(title=f"Lifetime value (expected lifetime up to {h:g} months)", ylabel="revenue per customer")
    return ax


def plot_pareto(curve: pd.DataFrame, ax=None, *, mark: float = 0.2):
    """Cumulative share of revenue against the share of customers, largest first (:func:`revenue_concentration`)."""
    ax = new_axes(ax, figsize=(5.0, 5.0))
    x = np.r_[0.0, curve["customer_share"].to_numpy(float)]
    y = np.r_[0.0, curve["revenue_share"].to_numpy(float)]
    ax.plot(100 * x, 100 * y, label="customers by revenue")
    ax.plot([0, 100], [0, 100], color="grey", lw=0.8, ls="--", label="equal revenue")
    at = float(np.interp(mark, x, y))
    ax.axvline(100 * mark, color="C3", ls=":", lw=1)
    ax.annotate(f"top {mark:.0%}: {at:.0%} of revenue", (100 * mark, 100 * at), xytext=(6, -14),
                textcoords="offset points", fontsize=8)
    ax.set(title="Revenue concentration", xlabel="customers, largest revenue first (%)", ylabel="share of revenue (%)",
           xlim=(0, 100), ylim=(0, 101))
    ax.legend(fontsize=8, loc="lower right")
    return ax


def plot_revenue_churn(table: pd.DataFrame, ax=None):
    """Revenue lost per period (bars) with customer and revenue churn rates (:func:`revenue_churn`)."""
    ax = new_axes(ax)
    ax.bar(table["period_start"], table["mrr_lost"], width=20, color="#d9822b", label="monthly revenue lost")
    ax.set(ylabel="monthly revenue lost", title="Churn in money")
    twin = ax.twinx()
    twin.plot(table["period_start"], table["churn_rate"], "o-", color="#3b75af", label="customer churn")
    twin.plot(table["period_start"], table["revenue_churn_rate"], "s--", color="#6a9f58", label="revenue churn")
    twin.set_ylabel("share lost in the month")
    twin.set_ylim(bottom=0)
    twin.yaxis.set_major_formatter(PercentFormatter(1.0))
    month_axis(ax)
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper left")
    return ax


def plot_churn_cut(table: pd.DataFrame, ax=None):
    """LTV now and after the cut per group (:func:`churn_cut_value`)."""
    ax = new_axes(ax)
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["ltv"], width=0.4, label="now", color="#9ecae1")
    ax.bar(x + 0.2, table["ltv_after"], width=0.4, label=f"churn {table['cut'].iloc[0]:.0%} lower", color="#3b75af")
    for i, r in enumerate(table.itertuples()):
        ax.annotate(f"+{r.ltv_gain_pct:.1%}", (i + 0.2, r.ltv_after), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, table["group"].astype(str))
    ax.set(title="What a cut in churn is worth per customer", ylabel="lifetime value")
    ax.legend(fontsize=8)
    return ax


def plot_benchmarks(table: pd.DataFrame, ax=None):
    """Draw the dataset's monthly churn (with intervals) next to the published figures (:func:`churn_vs_benchmarks`)."""
    ax = new_axes(ax, figsize=(7.0, max(3.0, 0.35 * len(table) + 1)))
    y = np.arange(len(table))
    mine = (table["kind"] == "dataset").to_numpy()
    colors = np.where(mine, "#d62728", "#9e9e9e")
    ax.barh(y, table["monthly_churn"], color=colors)
    err = _yerr(table["monthly_churn"], table["ci_lower"].fillna(table["monthly_churn"]),
                table["ci_upper"].fillna(table["monthly_churn"]))
    ax.errorbar(table["monthly_churn"][mine], y[mine], xerr=err[:, mine], fmt="none", color="black", capsize=3)
    ax.set_yticks(y, table["benchmark"])
    ax.invert_yaxis()
    ax.set(title="Monthly churn: this dataset vs published figures", xlabel="average monthly churn")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    return ax
