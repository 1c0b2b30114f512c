"""Figures of the offer experiment: SRM, effects, power, sequential looks, survival, uplift and profit.

Each function takes the DataFrame a :mod:`churnlab.experiment` function or result returned, draws it on
``ax`` (a new figure otherwise) and returns the Axes. Nothing here computes a statistic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churnlab.plots import new_axes

__all__ = [
    "plot_srm",
    "plot_effects",
    "plot_effect_panels",
    "plot_power_curve",
    "plot_non_inferiority",
    "plot_sequential",
    "plot_roi",
    "plot_survival",
    "plot_effects_by",
    "plot_uplift_curve",
    "plot_policy_profit",
    "plot_estimate_vs_truth",
]


def plot_srm(summary: pd.DataFrame, ax=None):
    """Bars of observed vs planned share per arm (``arm, observed_share, planned_share``)."""
    ax = new_axes(ax)
    x = np.arange(len(summary))
    ax.bar(x - 0.2, summary["planned_share"], width=0.4, label="planned", color="#bbbbbb")
    ax.bar(x + 0.2, summary["observed_share"], width=0.4, label="observed", color="#3b75af")
    ax.set_xticks(x, summary["arm"])
    ax.set_ylabel("share of customers")
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_title("Sample ratio: observed vs planned")
    ax.legend()
    return ax


def plot_effects(summary: pd.DataFrame, ax=None):
    """Forest plot of effects (``arm, metric, kind, estimate, ci_lower, ci_upper``)."""
    ax = new_axes(ax, figsize=(7.0, 0.45 * max(len(summary), 3) + 1.2))
    labels = [f"{r.arm} · {r.metric}" for r in summary.itertuples()]
    y = np.arange(len(summary))[::-1]
    est = summary["estimate"].to_numpy(dtype=float)
    lo = est - summary["ci_lower"].to_numpy(dtype=float)
    hi = summary["ci_upper"].to_numpy(dtype=float) - est
    ax.errorbar(est, y, xerr=[lo, np.where(np.isfinite(hi), hi, 0)], fmt="o", color="#3b75af", capsize=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, labels)
    kinds = ", ".join(sorted(set(summary["kind"]))) if "kind" in summary else ""
    ax.set_xlabel(f"effect vs holdout ({kinds})")
    ax.set_title("Effects with confidence intervals")
    return ax


def _is_rate(metric: str, rows: pd.DataFrame) -> bool:
    """Whether a metric's effects are differences of shares (drawn in points): a 0/1 metric, by name or values."""
    if "binary" in rows.columns:
        return bool(rows["binary"].all())
    return str(metric).startswith(("retained", "reactivated", "churned", "active"))


def plot_effect_panels(summary: pd.DataFrame, *, metric_labels: dict | None = None, currency: str = "",
                       title: str = "Effect of each offer against the holdout (95% intervals)"):
    """Forest plot with one panel per metric, each on its own scale (rates in points, money in its unit).

    Parameters
    ----------
    summary : DataFrame
        ``arm, metric, estimate, ci_lower, ci_upper`` (one kind, e.g. the CUPED rows of an analysis), optionally
        ``binary``.
    metric_labels : dict, optional
        A readable title per metric (``{"retained_90": "Retained at 90 days"}``).
    currency : str
        Unit shown on money panels' axes.
    title : str
        Title over the panels.

    Returns
    -------
    Figure
        One row of panels, arms on the y axis; effects on a rate in percentage points, others in their unit.
        Retention (about ±0.08) and revenue (about ±50) never share an axis.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    labels = dict(metric_labels or {})
    metrics = list(pd.unique(summary["metric"]))
    arms = list(pd.unique(summary["arm"]))
    fig, axes = plt.subplots(1, len(metrics), figsize=(min(3.0 * len(metrics) + 1.5, 13.0), 0.5 * len(arms) + 1.8),
                             sharey=True, squeeze=False)
    y = np.arange(len(arms))[::-1]
    for ax, metric in zip(axes[0], metrics):
        rows = summary[summary["metric"] == metric].set_index("arm").reindex(arms)
        rate = _is_rate(metric, rows.reset_index())
        scale = 100.0 if rate else 1.0
        est = rows["estimate"].to_numpy(dtype=float) * scale
        lo = est - rows["ci_lower"].to_numpy(dtype=float) * scale
        hi = rows["ci_upper"].to_numpy(dtype=float) * scale - est
        ax.errorbar(est, y, xerr=[lo, np.where(np.isfinite(hi), hi, 0)], fmt="o", color="#3b75af", capsize=3)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y, [str(a) for a in arms])
        ax.set_title(labels.get(metric, str(metric).replace("_", " ")), fontsize=10)
        if rate:
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+.0f}"))
            ax.set_xlabel("points vs holdout")
        else:
            ax.set_xlabel(f"{currency} per customer vs holdout".strip())
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_power_curve(curve: pd.DataFrame, target_power: float = 0.8, ax=None, *, points: bool = True):
    """Power by effect size, plain and CUPED (``effect, power, power_cuped``); ``points``: effects on a rate."""
    ax = new_axes(ax)
    ax.plot(curve["effect"], curve["power"], label="plain")
    ax.plot(curve["effect"], curve["power_cuped"], label="CUPED")
    ax.axhline(target_power, color="grey", ls="--", lw=0.8)
    ax.set_xlabel("effect (percentage points)" if points else "absolute effect")
    ax.set_ylabel("power")
    ax.set_ylim(0, 1)
    from matplotlib.ticker import FuncFormatter

    if points:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:+.0f}"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:.0f}%"))
    ax.set_title("Power at the actual allocation")
    ax.legend()
    return ax


def plot_non_inferiority(summary: pd.DataFrame, ax=None):
    """Effect, one-sided bound and margin of guardrail tests (``arm, estimate, bound, margin``)."""
    ax = new_axes(ax)
    y = np.arange(len(summary))[::-1]
    ax.scatter(summary["estimate"], y, color="#3b75af", label="estimate", zorder=3)
    ax.hlines(y, summary["bound"], summary["estimate"], color="#3b75af")
    for yi, m in zip(y, summary["margin"]):
        ax.plot([-m, -m], [yi - 0.3, yi + 0.3], color="#c0392b")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, [f"{r.arm} · {r.metric}" for r in summary.itertuples()])
    ax.set_xlabel("effect (red: -margin)")
    ax.set_title("Guardrails: non-inferiority")
    return ax


def plot_sequential(looks: pd.DataFrame, alpha: float = 0.05, ax=None):
    """Naive and always-valid p-values by look (``look [, day], naive_p, always_valid_p``); x is the day when given."""
    ax = new_axes(ax)
    x = looks["day"] if "day" in looks.columns else looks["look"]
    ax.plot(x, looks["naive_p"], marker="o", label="naive test at each look")
    ax.plot(x, looks["always_valid_p"], marker="s", label="always-valid (mSPRT)")
    ax.axhline(alpha, color="grey", ls="--", lw=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("day after the campaign" if "day" in looks.columns else "look")
    ax.set_ylabel("p-value")
    ax.set_title("Peeking: naive vs always-valid p-values")
    ax.legend()
    return ax


def plot_roi(summary: pd.DataFrame, ax=None):
    """Net profit per arm with its interval (``arm, quantity, estimate, ci_lower, ci_upper``)."""
    ax = new_axes(ax)
    t = summary[summary["quantity"] == "net_profit"]
    x = np.arange(len(t))
    ax.bar(x, t["estimate"], color="#3b75af")
    ax.errorbar(x, t["estimate"], yerr=[t["estimate"] - t["ci_lower"], t["ci_upper"] - t["estimate"]],
                fmt="none", color="black", capsize=4)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, t["arm"])
    ax.set_ylabel("net profit after offer cost")
    ax.set_title("Return on the offer")
    return ax


def plot_survival(curves: pd.DataFrame, ax=None):
    """Kaplan–Meier curves by arm (``arm, time, survival``)."""
    ax = new_axes(ax)
    for arm, part in curves.groupby("arm", sort=True):
        ax.step(part["time"], part["survival"], where="post", label=str(arm))
    ax.set_xlabel("days since campaign")
    ax.set_ylabel("share still subscribed")
    ax.set_title("Retention by arm (Kaplan–Meier)")
    ax.legend()
    return ax


def _group_label(g) -> str:
    """Return a group's tick label: whole numbers (risk deciles read back as floats) without ``.0``."""
    if isinstance(g, (int, float, np.integer, np.floating)) and float(g).is_integer():
        return str(int(g))
    return str(g)


def plot_effects_by(table: pd.DataFrame, ax=None, *, points: bool = False):
    """Effect per group and arm (``group, arm, estimate, ci_lower, ci_upper``) as grouped points.

    ``points``: the effects are differences of shares, drawn in percentage points.
    """
    ax = new_axes(ax)
    scale = 100.0 if points else 1.0
    groups = list(pd.unique(table["group"]))
    arms = list(pd.unique(table["arm"]))
    width = 0.8 / max(len(arms), 1)
    for i, a in enumerate(arms):
        t = table[table["arm"] == a].set_index("group").reindex(groups)
        x = np.arange(len(groups)) + (i - (len(arms) - 1) / 2) * width
        est = t["estimate"].to_numpy(dtype=float) * scale
        ax.errorbar(x, est, yerr=[est - t["ci_lower"].to_numpy(dtype=float) * scale,
                                  t["ci_upper"].to_numpy(dtype=float) * scale - est],
                    fmt="o", capsize=2, label=str(a))
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(np.arange(len(groups)), [_group_label(g) for g in groups])
    ax.set_ylabel("effect vs holdout" + (" (points)" if points else ""))
    ax.legend()
    return ax


def plot_uplift_curve(curve: pd.DataFrame, ax=None):
    """Qini curves with bootstrap band (``model, share, qini, qini_lower, qini_upper``)."""
    ax = new_axes(ax)
    for model, part in curve.groupby("model", sort=False):
        line = ax.plot(part["share"], part["qini"], label=str(model))[0]
        if "qini_lower" in part:
            ax.fill_between(part["share"], part["qini_lower"], part["qini_upper"], alpha=0.2,
                            color=line.get_color())
    ax.set_xlabel("share of customers targeted (by predicted uplift)")
    ax.set_ylabel("incremental retained customers")
    ax.set_title("Qini curves on held-out customers")
    ax.legend()
    return ax


def plot_policy_profit(table: pd.DataFrame, ax=None):
    """Draw the expected profit per policy with its interval (``policy, profit, profit_lower, profit_upper``)."""
    ax = new_axes(ax)
    x = np.arange(len(table))
    ax.bar(x, table["profit"], color="#3b75af")
    if "profit_lower" in table:
        ax.errorbar(x, table["profit"], yerr=[table["profit"] - table["profit_lower"],
                                              table["profit_upper"] - table["profit"]],
                    fmt="none", color="black", capsize=4)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x, table["policy"], rotation=20)
    ax.set_ylabel("expected profit")
    ax.set_title("Targeting policies")
    return ax


def plot_estimate_vs_truth(table: pd.DataFrame, ax=None):
    """Estimated effect with CI next to the true effect per arm (``arm, estimate, ci_lower, ci_upper, truth``)."""
    ax = new_axes(ax)
    y = np.arange(len(table))[::-1]
    est = table["estimate"].to_numpy(dtype=float) * 100
    ax.errorbar(est, y, xerr=[est - table["ci_lower"].to_numpy(dtype=float) * 100,
                              table["ci_upper"].to_numpy(dtype=float) * 100 - est],
                fmt="o", capsize=3, label="estimate (95% CI)")
    ax.scatter(table["truth"] * 100, y, marker="x", color="#c0392b", s=60, label="true effect", zorder=3)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, table["arm"])
    ax.set_xlabel("effect on retention (percentage points)")
    ax.set_title("Estimates against the world's true effects")
    ax.legend()
    return ax
