"""Figures of the patterns before churn: each takes a frame returned by churnlab and returns the Axes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import PercentFormatter

from churnlab.plots import month_axis, new_axes

__all__ = ["plot_churn_over_time", "plot_cohort_matrix", "plot_survival", "plot_rate_by", "plot_funnel",
           "plot_exposures", "plot_event_effect", "plot_event_study", "plot_support_quality"]


def _errorbar(ax, x, rate, lo, hi, **kw):
    rate, lo, hi = (np.asarray(v, dtype=float) for v in (rate, lo, hi))
    fmt = "o" if kw.pop("ls", "-") == "none" else "o-"
    return ax.errorbar(x, rate, yerr=_err(rate, lo, hi), fmt=fmt, capsize=3, **kw)


def _err(rate, lo, hi) -> list[np.ndarray]:
    """Non-negative error-bar lengths (rounding can put a bound a hair past its estimate)."""
    rate, lo, hi = (np.asarray(v, dtype=float) for v in (rate, lo, hi))
    return [np.clip(rate - lo, 0, None), np.clip(hi - rate, 0, None)]


def plot_churn_over_time(table: pd.DataFrame, ax=None):
    """Churn rate per period with its Wilson band and both named formulas (:func:`churn_over_time`)."""
    ax = new_axes(ax)
    t = table.dropna(subset=["churn_rate"])
    ax.fill_between(t["period_start"], t["ci_lower"], t["ci_upper"], alpha=0.2, label="95% CI")
    ax.plot(t["period_start"], t["churn_rate"], "o-", label="churned / active at the start")
    ax.plot(t["period_start"], t["churn_rate_gross"], "--", label="formula 2: (C_start + C_new − C_end) / C_start")
    ax.plot(t["period_start"], t["churn_rate_net"], ":",
            label="formula 1: (C_start − C_end) / C_start (< 0: the base grew)")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set(title="Churn per month", ylabel="share of the customers active at the month's start")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    month_axis(ax)
    ax.legend(fontsize=8)
    return ax


def plot_cohort_matrix(matrix: pd.DataFrame, ax=None):
    """Heat map of the cohort retention matrix; unobservable cells stay blank."""
    ax = new_axes(ax, figsize=(8.0, 5.0))
    data = np.ma.masked_invalid(matrix.to_numpy(dtype=float))
    im = ax.imshow(data, aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax.set_yticks(range(len(matrix)), [pd.Timestamp(i).strftime("%b %Y") for i in matrix.index], fontsize=7)
    ax.set(title="Retention by signup cohort", xlabel="months since signup", ylabel="cohort")
    ax.figure.colorbar(im, ax=ax, label="share still active", format=PercentFormatter(1.0))
    return ax


def plot_survival(curves: pd.DataFrame, ax=None):
    """Kaplan-Meier step curves per group with their bands (:func:`survival_by`)."""
    ax = new_axes(ax)
    for name, g in curves.groupby("group"):
        line = ax.step(g["time"], g["survival"], where="post", label=str(name))[0]
        ax.fill_between(g["time"], g["ci_lower"], g["ci_upper"], step="post", alpha=0.15, color=line.get_color())
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set(title="Customer survival (Kaplan-Meier)", xlabel="days since start", ylabel="share still active",
           ylim=(0, 1.02))
    ax.legend(fontsize=8)
    return ax


def plot_rate_by(table: pd.DataFrame, by: str, rate: str = "churn_rate", ax=None, title: str | None = None):
    """Rate per group with Wilson intervals (``churn_rate_by`` and similar frames)."""
    ax = new_axes(ax)
    x = np.arange(len(table))
    ax.bar(x, table[rate], color="#9ecae1")
    _errorbar(ax, x, table[rate], table["ci_lower"], table["ci_upper"], color="black", ls="none")
    ax.set_xticks(x, table[by].astype(str), rotation=30, ha="right")
    ax.set(title=title or f"Churn rate by {by.replace('_', ' ')}", ylabel=rate.replace("_", " "))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    return ax


def plot_funnel(conversion: pd.DataFrame, by: str | None = None, ax=None):
    """Stage-to-stage conversion with intervals, one line per group when ``by`` is given."""
    ax = new_axes(ax)
    groups = [(None, conversion)] if by is None else list(conversion.groupby(by))
    for name, g in groups:
        g = g[g["step"] > 0]
        _errorbar(ax, g["stage"], g["conversion"], g["conversion_lower"], g["conversion_upper"],
                  label=str(name) if name is not None else "all")
    ax.set(title="Conversion from the previous stage", ylabel="conversion", ylim=(0, 1.05))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(fontsize=8)
    return ax


def plot_exposures(table: pd.DataFrame, ax=None, title: str = "Churn: exposed vs not"):
    """Churn of exposed and unexposed customers per exposure (:func:`compare_exposed`)."""
    ax = new_axes(ax, figsize=(8.0, max(3.0, 0.45 * len(table) + 1)))
    y = np.arange(len(table))
    for off, side, color in [(-0.15, "exposed", "#d62728"), (0.15, "unexposed", "#1f77b4")]:
        r, lo, hi = table[f"churn_{side}"], table[f"churn_{side}_lower"], table[f"churn_{side}_upper"]
        ax.errorbar(r, y + off, xerr=_err(r, lo, hi), fmt="o", capsize=3, color=color, label=side)
    ax.set_yticks(y, table["exposure"].astype(str).str.replace("_", " "))
    ax.invert_yaxis()
    ax.set(title=title, xlabel="churn rate in the horizon")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(fontsize=8)
    return ax


def plot_event_effect(effect: pd.DataFrame, metric: str = "unsubscribe", ax=None):
    """Before vs after a dated event per group, with intervals (:func:`event_effect`)."""
    ax = new_axes(ax)
    t = effect[effect["metric"] == metric].reset_index(drop=True)
    x = np.arange(len(t))
    _errorbar(ax, x - 0.1, t["rate_before"], t["before_lower"], t["before_upper"], ls="none", label="before")
    _errorbar(ax, x + 0.1, t["rate_after"], t["after_lower"], t["after_upper"], ls="none", label="after")
    ax.set_xticks(x, t["group"])
    ax.set(title=f"{metric.capitalize()} rate before vs after the event", ylabel="rate")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(fontsize=8)
    return ax


def plot_event_study(summary: pd.DataFrame, signal: str, ax=None):
    """Weekly mean of one signal for churners and matched stayers, weeks -W..0, with intervals."""
    ax = new_axes(ax)
    for group, color in [("churner", "#d62728"), ("stayer", "#1f77b4")]:
        g = summary[(summary["signal"] == signal) & (summary["group"] == group)].sort_values("week")
        ax.plot(g["week"], g["mean"], "o-", color=color, label=group)
        ax.fill_between(g["week"], g["ci_lower"], g["ci_upper"], color=color, alpha=0.15)
    ax.set(title=f"{signal.replace('_', ' ').capitalize()} per week before churn",
           xlabel="week (0 = the week before churn)", ylabel="mean per customer")
    ax.legend(fontsize=8)
    return ax


def plot_support_quality(quality: pd.DataFrame, ax=None):
    """First-contact resolution per line with intervals, and bot containment on line 1."""
    ax = new_axes(ax)
    _errorbar(ax, quality["line"].astype(str), quality["fcr"], quality["fcr_lower"], quality["fcr_upper"], label="FCR")
    bot = quality.dropna(subset=["bot_containment"])
    if len(bot):
        _errorbar(ax, bot["line"].astype(str), bot["bot_containment"], bot["bot_containment_lower"],
                  bot["bot_containment_upper"], ls="none", label="bot containment")
    ax.set(title="Support quality by line", xlabel="line", ylabel="share", ylim=(0, 1.05))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(fontsize=8)
    return ax
