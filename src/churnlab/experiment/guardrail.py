"""Guardrail metrics: a one-sided non-inferiority test that an offer harms a metric by less than a margin."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from churnlab.experiment import stats as S
from churnlab.experiment.assign import HOLDOUT
from churnlab.experiment.checks import (
    DEFAULT_ALPHA,
    DEFAULT_CAP_QUANTILE,
    DEFAULT_SRM_ALPHA,
    check_alpha,
    check_outcomes,
)
from churnlab.experiment.effects import arm_moments, metric_cap
from churnlab.experiment.results import Result
from churnlab.experiment.srm import srm_gate

__all__ = ["NonInferiorityResult", "non_inferiority_test"]


@dataclass(frozen=True, repr=False)
class NonInferiorityResult(Result):
    """Guardrail test: the arm's harm on a metric is smaller than a margin.

    Attributes
    ----------
    arm, control, metric : str
        Arms and metric.
    estimate, se : float
        Effect (treated - control) and its standard error.
    margin : float
        Largest acceptable harm (positive).
    bound : float
        One-sided ``1 - alpha`` confidence bound on the effect (lower when higher is better).
    z, p : float
        Statistic and one-sided p-value of ``H0: harm >= margin``.
    alpha : float
        One-sided level.
    higher_is_better : bool
        Direction of the metric.
    n_treatment, n_control : int
        Arm sizes.
    cap : float or None
        Value the metric was capped at before the test (None: not capped).
    """

    arm: str
    control: str
    metric: str
    estimate: float
    se: float
    margin: float
    bound: float
    z: float
    p: float
    alpha: float
    higher_is_better: bool
    n_treatment: int
    n_control: int
    cap: float | None = None

    @property
    def non_inferior(self) -> bool:
        """Whether non-inferiority is shown (``p < alpha``)."""
        return bool(self.p < self.alpha)

    @property
    def summary(self) -> pd.DataFrame:
        """One row: ``arm, metric, estimate, bound, margin, z, p, non_inferior``."""
        return pd.DataFrame([{"arm": self.arm, "control": self.control, "metric": self.metric,
                              "estimate": self.estimate, "bound": self.bound, "margin": self.margin,
                              "se": self.se, "z": self.z, "p": self.p, "non_inferior": self.non_inferior,
                              "n_treatment": self.n_treatment, "n_control": self.n_control}])

    def _headline(self) -> str:
        return (f"{self.metric} {self.arm}: {self.estimate:+.4g} bound {self.bound:+.4g} margin {self.margin} "
                f"p={self.p:.3g} {'non-inferior' if self.non_inferior else 'not shown'}")

    def _settings(self) -> dict[str, object]:
        out = {"test": "non-inferiority z", "alpha": self.alpha, "sides": 1,
               "n": f"{self.n_treatment}/{self.n_control}"}
        if self.cap is not None:
            out["capped_at"] = round(self.cap, 4)
        return out

    def plot(self, ax=None):
        """Effect, its one-sided bound and the margin."""
        from churnlab.plots.experiment import plot_non_inferiority

        return plot_non_inferiority(self.summary, ax=ax)


def non_inferiority_test(
    outcomes: pd.DataFrame,
    metric: str,
    arm: str,
    margin: float,
    *,
    arm_col: str = "arm",
    control: str = HOLDOUT,
    higher_is_better: bool = True,
    alpha: float = DEFAULT_ALPHA,
    planned: Mapping[str, float] | None = None,
    srm_alpha: float = DEFAULT_SRM_ALPHA,
    check_srm: bool = True,
    cap_quantile: float | None = DEFAULT_CAP_QUANTILE,
) -> NonInferiorityResult:
    """Guardrail: test that ``arm`` harms ``metric`` by less than ``margin`` (one-sided z).

    Parameters
    ----------
    outcomes : DataFrame
        ``arm_col`` and ``metric``, one row per customer.
    metric : str
        Guardrail metric (e.g. revenue per customer, or support tickets with ``higher_is_better=False``).
    arm : str
        Treated arm.
    margin : float
        Largest acceptable harm on the metric's scale (positive).
    arm_col, control : str
        Arm column and holdout arm.
    higher_is_better : bool
        Direction of the metric.
    alpha : float
        One-sided level.
    planned : mapping of str to float, optional
        Planned share per arm for the SRM gate (default ``outcomes.attrs["planned_shares"]``).
    srm_alpha : float
        SRM gate threshold.
    check_srm : bool
        False skips the SRM gate (an explicit override).
    cap_quantile : float or None
        Pooled quantile at which a non-binary metric is capped first (OPINIONS.md "Heavy-tailed metrics"); the
        margin then refers to the capped metric. None: raw values.

    Returns
    -------
    NonInferiorityResult

    Raises
    ------
    SampleRatioMismatchError
        When the arm sizes contradict the plan: no verdict on a broken allocation.
    AnalysisError
        When the margin is not positive, alpha is out of range, no plan is known for the SRM gate, or the
        comparison is impossible.
    """
    check_alpha(alpha)
    check_outcomes(outcomes, arm_col)
    srm_gate(outcomes, planned, arm_col=arm_col, alpha=srm_alpha, check=check_srm, caller="non_inferiority_test")
    cap = metric_cap(outcomes, metric, [arm, control], arm_col=arm_col, quantile=cap_quantile)
    mom = arm_moments(outcomes, metric, [arm, control], arm_col=arm_col, cap=cap)
    t, c = mom[arm], mom[control]
    est, se = S.absolute_effect(t.mean_y, t.var_y, t.n, c.mean_y, c.var_y, c.n)
    z, p = S.non_inferiority(est, se, margin, higher_is_better)
    zc = S.z_critical(alpha, 1)
    bound = est - zc * se if higher_is_better else est + zc * se
    return NonInferiorityResult(arm, control, metric, est, se, margin, bound, z, p, alpha, higher_is_better,
                                int(t.n), int(c.n), cap)
