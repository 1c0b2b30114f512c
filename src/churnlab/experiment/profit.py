"""Return on an offer: incremental retained customers, revenue, net profit and ROI of rolling it out."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import pandas as pd

from churnlab.errors import AnalysisError
from churnlab.experiment import stats as S  # noqa: F401 - used by the doctest
from churnlab.experiment.checks import DEFAULT_ALPHA
from churnlab.experiment.effects import EffectResult, effect  # noqa: F401 - effect is used by the doctest
from churnlab.experiment.results import Result

__all__ = ["RoiResult", "roi"]


@dataclass(frozen=True, repr=False)
class RoiResult(Result):
    """Incremental retained customers, revenue and return on the offer's cost for one arm.

    Attributes
    ----------
    arm, metric : str
        Arm and the retention metric the effect refers to.
    n_treated : int
        Customers the offer is applied to (the roll-out audience or the arm).
    effect, effect_lower, effect_upper : float
        Effect per customer and its interval.
    value_per_retained : float
        Revenue one extra retained customer brings.
    cost_per_treated : float
        Offer cost per treated customer.
    alpha : float
        Level of the interval.
    """

    arm: str
    metric: str
    n_treated: int
    effect: float
    effect_lower: float
    effect_upper: float
    value_per_retained: float
    cost_per_treated: float
    alpha: float = DEFAULT_ALPHA

    @property
    def cost(self) -> float:
        """Total cost ``n_treated x cost_per_treated``."""
        return self.n_treated * self.cost_per_treated

    @property
    def summary(self) -> pd.DataFrame:
        """Rows ``estimate, ci_lower, ci_upper`` for incremental retained, revenue, net profit and ROI."""
        rows = []
        for name, e in (("estimate", self.effect), ("ci_lower", self.effect_lower), ("ci_upper", self.effect_upper)):
            retained = e * self.n_treated
            revenue = retained * self.value_per_retained
            net = revenue - self.cost
            roi_ = net / self.cost if self.cost > 0 else float("nan")
            rows.append((name, retained, revenue, net, roi_))
        t = pd.DataFrame(rows, columns=["bound", "incremental_retained", "incremental_revenue", "net_profit", "roi"])
        out = t.set_index("bound").T.reset_index(names="quantity")
        out.insert(0, "arm", self.arm)
        out["cost"] = self.cost
        return out[["arm", "quantity", "estimate", "ci_lower", "ci_upper", "cost"]]

    def _headline(self) -> str:
        s = self.summary.set_index("quantity")
        return (f"{self.arm}: +{s.loc['incremental_retained', 'estimate']:.1f} retained, "
                f"net {s.loc['net_profit', 'estimate']:.0f}, ROI {s.loc['roi', 'estimate']:.2f}")

    def _settings(self) -> dict[str, object]:
        return {"alpha": self.alpha, "n": self.n_treated, "value_per_retained": self.value_per_retained,
                "cost_per_treated": self.cost_per_treated}

    def plot(self, ax=None):
        """Net profit with its interval."""
        from churnlab.plots.experiment import plot_roi

        return plot_roi(self.summary, ax=ax)


def roi(
    result: EffectResult, n_treated: int, *, value_per_retained: float, cost_per_treated: float
) -> RoiResult:
    """Incremental retained customers, incremental revenue and ROI of rolling an offer out.

    Parameters
    ----------
    result : EffectResult
        Absolute (or CUPED) effect on a retention metric, per customer.
    n_treated : int
        Customers the offer goes to.
    value_per_retained : float
        Revenue of one extra retained customer over the horizon (e.g. monthly fee x months).
    cost_per_treated : float
        Offer cost per treated customer.

    Returns
    -------
    RoiResult

    Notes
    -----
    ``incremental = effect x n``; ``revenue = incremental x value``; ``net = revenue - n x cost``;
    ``ROI = net / (n x cost)``. The interval scales the effect's interval (the cost is known).

    Examples
    --------
    >>> t = S.moments([1.0] * 75 + [0.0] * 25)
    >>> c = S.moments([1.0] * 70 + [0.0] * 30)
    >>> r = roi(effect(t, c), 1000, value_per_retained=100.0, cost_per_treated=2.0)
    >>> round(float(r.summary.set_index("quantity").loc["net_profit", "estimate"]), 1)
    3000.0
    """
    if result.kind not in ("absolute", "cuped"):
        raise AnalysisError(f"ROI needs an absolute effect, got kind={result.kind!r}")
    if isinstance(n_treated, bool) or not (isinstance(n_treated, numbers.Integral) and n_treated >= 0):
        raise AnalysisError(f"n_treated must be a non-negative whole number of customers, got {n_treated!r}")
    for name, v in (("value_per_retained", value_per_retained), ("cost_per_treated", cost_per_treated)):
        if not (isinstance(v, numbers.Real) and math.isfinite(v) and v >= 0):
            raise AnalysisError(f"{name} must be a finite non-negative amount, got {v!r}")
    return RoiResult(result.arm, result.metric, int(n_treated), result.estimate, result.ci_lower, result.ci_upper,
                     float(value_per_retained), float(cost_per_treated), result.alpha)
