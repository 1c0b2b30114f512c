"""The retention programme's cumulative effect over its period, month by month, against its persistent holdout.

A programme of many campaigns runs for months; its holdout is fixed for the whole period. At the end of each
month (or any step) the same two groups are compared on what has happened since the start: churn among the
customers active at the start, being a customer at that date, revenue paid since the start. Each point is the
cumulative effect of every campaign so far, with its interval; the last point is :func:`program_effect`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnlab.errors import AnalysisError
from churnlab.experiment.checks import DEFAULT_CAP_QUANTILE
from churnlab.experiment.program import (
    PROGRAM_METRICS,
    ProgramEffectResult,
    ProgramHoldout,
    program_comparison,
    program_effect,
    program_outcomes,
)
from churnlab.experiment.results import Result
from churnlab.schema import Dataset, require_columns

__all__ = ["ProgramTimelineResult", "program_timeline", "timeline_ends", "timeline_effects"]

TIMELINE_COLUMNS = ["step", "period_end", "days", "metric", "estimate", "ci_lower", "ci_upper", "p", "n_program",
                    "n_holdout", "mean_program", "mean_holdout", "cap"]
LABELS = {"churned": "churned (active at start)", "active_at_end": "a customer at that date",
          "revenue": "revenue per customer since the start (capped)"}


def timeline_ends(program: ProgramHoldout, every_days: int = 30) -> list[pd.Timestamp]:
    """Return the dates the cumulative effect is measured at: every ``every_days`` from the start, and the end.

    Raises
    ------
    AnalysisError
        When ``every_days`` is not a positive whole number.

    Examples
    --------
    >>> p = ProgramHoldout("p", "2025-01-01", "2025-03-15")
    >>> [str(t.date()) for t in timeline_ends(p, 30)]
    ['2025-01-31', '2025-03-02', '2025-03-15']
    """
    if isinstance(every_days, bool) or not isinstance(every_days, (int, np.integer)) or every_days < 1:
        raise AnalysisError(f"every_days: expected a positive whole number of days, got {every_days!r}")
    program.check()
    start, end = pd.Timestamp(program.start), pd.Timestamp(program.end)
    ends, t = [], start + pd.Timedelta(days=int(every_days))
    while t < end:
        ends.append(t)
        t += pd.Timedelta(days=int(every_days))
    return [*ends, end]


def timeline_effects(outcomes: pd.DataFrame, program: ProgramHoldout, *, metrics: Sequence[str] = PROGRAM_METRICS,
                     alpha: float = 0.05, srm_alpha: float = 0.001,
                     cap_quantile: float | None = DEFAULT_CAP_QUANTILE) -> pd.DataFrame:
    """Compare programme and holdout at each end of a long outcomes table.

    Parameters
    ----------
    outcomes : DataFrame
        :func:`program_outcomes` with ``ends``: ``customer_id, group, period_end`` and one column per metric.
    program : ProgramHoldout
        The holdout (its start and shares).
    metrics, alpha, srm_alpha, cap_quantile
        See :func:`churnlab.experiment.program.program_effect` (revenue is capped at each end's pooled quantile).

    Returns
    -------
    DataFrame
        One row per end and metric, in time order: ``step`` (1, 2, ...), ``period_end``, ``days`` since the
        start, ``metric, estimate, ci_lower, ci_upper, p, n_program, n_holdout, mean_program, mean_holdout`` and
        ``cap`` (the value revenue was capped at; NaN for rates).

    Raises
    ------
    SchemaError
        When ``period_end`` or ``group`` is missing.
    SampleRatioMismatchError
        When the holdout's share contradicts the plan.
    """
    require_columns(outcomes, ["group", "period_end"], table="programme outcomes")
    start = pd.Timestamp(program.start)
    rows = []
    for step, (end, part) in enumerate(outcomes.groupby("period_end", sort=True), start=1):
        _, effects = program_comparison(part, program, metrics=metrics, alpha=alpha, srm_alpha=srm_alpha,
                                        cap_quantile=cap_quantile)
        for e in effects:
            rows.append({"step": step, "period_end": pd.Timestamp(end), "days": (pd.Timestamp(end) - start).days,
                         "metric": e.metric, "estimate": e.estimate, "ci_lower": e.ci_lower, "ci_upper": e.ci_upper,
                         "p": e.p, "n_program": e.n_treatment, "n_holdout": e.n_control,
                         "mean_program": e.mean_treatment, "mean_holdout": e.mean_control,
                         "cap": np.nan if e.cap is None else float(e.cap)})
    return pd.DataFrame(rows, columns=TIMELINE_COLUMNS)


@dataclass(frozen=True, repr=False)
class ProgramTimelineResult(Result):
    """The programme's cumulative effect at each step of its period (month by month by default).

    Attributes
    ----------
    program : ProgramHoldout
        The holdout and its period.
    rows : DataFrame
        :func:`timeline_effects`: one row per step and metric.
    final : ProgramEffectResult
        The effect over the whole period (audit of the holdout, campaigns counted).
    every_days : int
        Days between two steps.
    alpha : float
        Level of the intervals (pointwise: each step's interval is a 95% one on its own).
    """

    program: ProgramHoldout
    rows: pd.DataFrame
    final: ProgramEffectResult
    every_days: int = 30
    alpha: float = 0.05

    @property
    def summary(self) -> pd.DataFrame:
        """One row per step and metric: ``step, period_end, days, metric, estimate, ci_lower, ci_upper, p, ...``."""
        return self.rows[TIMELINE_COLUMNS].copy()

    def metric(self, metric: str) -> pd.DataFrame:
        """Return the rows of one metric, in time order (a copy)."""
        return self.rows[self.rows["metric"] == metric].reset_index(drop=True)

    def _headline(self) -> str:
        last = self.rows[self.rows["step"] == self.rows["step"].max()]
        parts = [f"{r.metric} {r.estimate:+.4g} [{r.ci_lower:+.4g}, {r.ci_upper:+.4g}]" for r in last.itertuples()]
        return f"{self.program.program_id} after {int(last['days'].max())} days: " + "; ".join(parts)

    def _settings(self) -> dict[str, object]:
        p = self.program
        return {"period": f"{pd.Timestamp(p.start).date()}..{pd.Timestamp(p.end).date()}", "holdout": p.share,
                "every_days": self.every_days, "alpha": self.alpha, "campaigns": self.final.n_campaigns,
                "intervals": "pointwise"}

    def plot(self, metric: str = "churned", ax=None):
        """Draw one metric's cumulative effect (programme minus holdout) by step with its interval band.

        Rates are drawn in points; revenue in the data's currency unit.
        """
        from churnlab.plots import new_axes

        ax = new_axes(ax, figsize=(7.0, 3.6))
        rows = self.metric(metric)
        scale = 100.0 if metric != "revenue" else 1.0
        x = rows["days"].to_numpy(dtype=float) / 30.0
        ax.fill_between(x, scale * rows["ci_lower"], scale * rows["ci_upper"], color="#3b75af", alpha=0.2,
                        label=f"{1 - self.alpha:.0%} interval")
        ax.plot(x, scale * rows["estimate"], "o-", color="#3b75af", label="programme - holdout")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel("months since the programme started")
        ax.set_ylabel("difference" + (" (points)" if metric != "revenue" else ""))
        ax.set_title(f"Cumulative effect on {LABELS.get(metric, metric)}")
        ax.legend(loc="best", fontsize=8)
        return ax


def program_timeline(
    dataset: Dataset,
    program: ProgramHoldout,
    *,
    every_days: int = 30,
    assignments: pd.DataFrame | None = None,
    metrics: Sequence[str] = PROGRAM_METRICS,
    reach_days: int | None = 180,
    alpha: float = 0.05,
    srm_alpha: float = 0.001,
    cap_quantile: float | None = DEFAULT_CAP_QUANTILE,
) -> ProgramTimelineResult:
    """Estimate the programme's cumulative effect at each step of its period, with pointwise intervals.

    Parameters
    ----------
    dataset : Dataset
        Needs ``subscriptions`` and ``payments`` observed to the period's end.
    program : ProgramHoldout
        The persistent holdout and its period.
    every_days : int
        Days between two measurements (30: by month of the programme); the period's end is always one.
    assignments, metrics, reach_days, alpha, srm_alpha, cap_quantile
        See :func:`churnlab.experiment.program.program_effect`.

    Returns
    -------
    ProgramTimelineResult

    Raises
    ------
    SampleRatioMismatchError
        When the holdout's share contradicts the plan.
    AnalysisError
        When the holdout was broken (an offer to a held-out customer), the data end before the period does,
        or ``every_days`` / ``alpha`` is invalid.

    Notes
    -----
    Each step is :func:`program_effect` over ``(start, step]``: the same customers (who is in reach and in which
    group depends on the start only), their outcomes so far. The intervals are pointwise; reading the curve for
    the first step that excludes zero is peeking, so the verdict rests on the period's end as planned.
    """
    final = program_effect(dataset, program, assignments=assignments, metrics=metrics, reach_days=reach_days,
                           alpha=alpha, srm_alpha=srm_alpha, cap_quantile=cap_quantile)
    outcomes = program_outcomes(dataset, program, reach_days=reach_days, ends=timeline_ends(program, every_days))
    rows = timeline_effects(outcomes, program, metrics=metrics, alpha=alpha, srm_alpha=srm_alpha,
                            cap_quantile=cap_quantile)
    return ProgramTimelineResult(program, rows, final, int(every_days), float(alpha))
