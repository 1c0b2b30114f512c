"""Figures of breakdowns: rates by owner or place, support speed per agent, adoption, funnel time, seasons.

Each function draws a frame returned by :mod:`churnlab.patterns` (ownership, support, adoption,
funnel, seasonality) and returns the Axes; nothing here computes a statistic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from churnlab.plots import new_axes

__all__ = ["plot_breakdown", "plot_first_response", "plot_agent_unresolved", "plot_component_lifetimes",
           "plot_stage_durations", "plot_monthly_seasonality"]


def _err(v, lo, hi) -> np.ndarray:
    v, lo, hi = (np.asarray(x, dtype=float) for x in (v, lo, hi))
    return np.nan_to_num(np.vstack([np.clip(v - lo, 0, None), np.clip(hi - v, 0, None)]))


def plot_breakdown(table: pd.DataFrame, by: str, rate: str = "rate", ax=None, title: str | None = None):
    """Horizontal rate per group with intervals; groups that stand out in red, the rest's rate dotted."""
    ax = new_axes(ax, figsize=(7.0, max(3.0, 0.3 * len(table) + 1)))
    y = np.arange(len(table))
    out = table["stands_out"].to_numpy(bool) if "stands_out" in table else np.zeros(len(table), bool)
    ax.errorbar(table[rate], y, xerr=_err(table[rate], table["ci_lower"], table["ci_upper"]), fmt="none",
                color="grey", capsize=2)
    ax.scatter(table[rate], y, c=np.where(out, "#d62728", "#3b75af"), zorder=3)
    if "enough" in table:
        small = ~table["enough"].to_numpy(bool)
        ax.scatter(table[rate][small], y[small], facecolors="white", edgecolors="#3b75af", zorder=4,
                   label="fewer than the minimum n")
        if small.any():
            ax.legend(fontsize=8)
    ax.set_yticks(y, table[by].astype(str))
    ax.invert_yaxis()
    ax.set(title=title or f"{rate.replace('_', ' ')} by {by.replace('_', ' ')}", xlabel=rate.replace("_", " "))
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    return ax


def plot_first_response(table: pd.DataFrame, by: str = "agent", ax=None):
    """Share answered within the SLA per line or agent, with intervals (:func:`first_response`)."""
    ax = new_axes(ax, figsize=(7.0, max(3.0, 0.3 * len(table) + 1)))
    y = np.arange(len(table))
    ax.errorbar(table["share_within_sla"], y, xerr=_err(table["share_within_sla"], table["ci_lower"],
                                                        table["ci_upper"]), fmt="o", capsize=2)
    labels = table[by].astype(str) + ((" (line " + table["line"].astype(str) + ")") if by == "agent" else "")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    sla = table["sla_hours"].iloc[0] if len(table) else np.nan
    ax.set(title=f"First response within {sla:g} h", xlabel="share of tickets", xlim=(0, 1.02))
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    return ax


def plot_agent_unresolved(table: pd.DataFrame, ax=None):
    """Each agent's unresolved rate against the rest of their line; flagged agents in red (:func:`agent_unresolved`)."""
    ax = new_axes(ax, figsize=(7.0, max(3.0, 0.3 * len(table) + 1)))
    y = np.arange(len(table))
    flagged = table["flagged"].to_numpy(bool)
    ax.errorbar(table["rate"], y, xerr=_err(table["rate"], table["ci_lower"], table["ci_upper"]), fmt="none",
                color="grey", capsize=2)
    ax.scatter(table["rate"], y, c=np.where(flagged, "#d62728", "#3b75af"), zorder=3, label="agent")
    ax.scatter(table["rate_rest"], y, marker="|", s=120, color="black", zorder=3, label="rest of the line")
    ax.set_yticks(y, table["agent"].astype(str) + " (line " + table["line"].astype(str) + ")")
    ax.invert_yaxis()
    ax.set(title="Tickets left unresolved per agent", xlabel="share not resolved at first contact or still open")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(fontsize=8)
    return ax


def plot_component_lifetimes(table: pd.DataFrame, ax=None):
    """Restricted-mean lifetime gain of adopters over non-adopters per component (:func:`component_lifetimes`)."""
    ax = new_axes(ax)
    y = np.arange(len(table))
    ax.errorbar(table["difference"], y, xerr=_err(table["difference"], table["difference_lower"],
                                                  table["difference_upper"]), fmt="o", capsize=3)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, table["component"].astype(str).str.replace("_", " "))
    ax.invert_yaxis()
    h = table["horizon_days"].iloc[0] if len(table) else np.nan
    ax.set(title="Adopters' extra days active (after the landmark)", xlabel=f"days gained within {h:.0f} days")
    return ax


def plot_stage_durations(table: pd.DataFrame, ax=None):
    """Median days between consecutive funnel stages with the interquartile range (:func:`stage_durations`)."""
    ax = new_axes(ax)
    x = np.arange(len(table))
    ax.bar(x, table["median_days"], color="#9ecae1",
           yerr=_err(table["median_days"], table["p25_days"], table["p75_days"]), capsize=3)
    ax.set_xticks(x, (table["from_stage"].astype(str) + " → " + table["stage"].astype(str)).str.replace("_", " "),
                  rotation=20, ha="right")
    ax.set(title="Time between funnel stages (median, 25-75%)", ylabel="days")
    return ax


def plot_monthly_seasonality(table: pd.DataFrame, ax=None):
    """Churn per calendar month, named, with intervals (:func:`monthly_seasonality`)."""
    ax = new_axes(ax)
    x = np.arange(len(table))
    ax.bar(x, table["rate"], yerr=_err(table["rate"], table["ci_lower"], table["ci_upper"]), capsize=3,
           color="#9ecae1")
    ax.set_xticks(x, table["month_name"].str[:3])
    years = table.attrs.get("full_years", "?")
    ax.set(title=f"Churn by calendar month ({years} full years)", ylabel="churn rate")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    return ax
