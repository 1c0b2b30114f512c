"""Sample-ratio-mismatch gate: observed arm sizes against the planned shares."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnlab.errors import AnalysisError, SampleRatioMismatchError
from churnlab.experiment import stats as S
from churnlab.experiment.checks import DEFAULT_SRM_ALPHA, check_alpha, check_outcomes
from churnlab.experiment.results import Result

__all__ = ["SrmResult", "srm_check", "srm_gate"]


@dataclass(frozen=True, repr=False)
class SrmResult(Result):
    """Sample-ratio-mismatch check: observed arm sizes against the planned shares.

    Attributes
    ----------
    arms, observed, planned_shares : tuple
        Arm names, customers per arm, planned share per arm.
    chi2, p : float
        Pearson chi-square statistic and its p-value.
    alpha : float
        Threshold below which the allocation is declared broken (default 0.001).
    """

    arms: tuple[str, ...]
    observed: tuple[int, ...]
    planned_shares: tuple[float, ...]
    chi2: float
    p: float
    alpha: float = DEFAULT_SRM_ALPHA

    @property
    def passed(self) -> bool:
        """Whether the allocation is consistent with the plan (``p >= alpha``)."""
        return bool(self.p >= self.alpha)

    @property
    def n(self) -> int:
        """Customers in all arms."""
        return int(sum(self.observed))

    @property
    def summary(self) -> pd.DataFrame:
        """One row per arm: ``arm, n, observed_share, planned_share, chi2, p, passed``."""
        n = max(self.n, 1)
        return pd.DataFrame(
            {
                "arm": list(self.arms),
                "n": list(self.observed),
                "observed_share": [o / n for o in self.observed],
                "planned_share": list(self.planned_shares),
                "chi2": self.chi2,
                "p": self.p,
                "passed": self.passed,
            }
        )

    def message(self) -> str:
        """Return the one-line verdict of the gate."""
        parts = ", ".join(
            f"{a} {o} ({o / max(self.n, 1):.2%} vs planned {s:.2%})"
            for a, o, s in zip(self.arms, self.observed, self.planned_shares)
        )
        verdict = "passed" if self.passed else "FAILED: the verdict is blocked, find the assignment or logging bug"
        return f"SRM check {verdict} (chi2={self.chi2:.2f}, p={self.p:.3g}, alpha={self.alpha}): {parts}"

    def raise_if_failed(self) -> SrmResult:
        """Raise :class:`~churnlab.errors.SampleRatioMismatchError` when the gate fails; return self otherwise."""
        if not self.passed:
            raise SampleRatioMismatchError(self.message())
        return self

    def _headline(self) -> str:
        return f"{'passed' if self.passed else 'FAILED'} chi2={self.chi2:.2f} p={self.p:.3g} n={self.n}"

    def _settings(self) -> dict[str, object]:
        return {"test": "Pearson chi-square", "alpha": self.alpha, "n": self.n}

    def plot(self, ax=None):
        """Bar chart of observed vs planned shares."""
        from churnlab.plots.experiment import plot_srm

        return plot_srm(self.summary, ax=ax)


def srm_check(
    outcomes: pd.DataFrame,
    planned: Mapping[str, float],
    *,
    arm_col: str = "arm",
    alpha: float = DEFAULT_SRM_ALPHA,
) -> SrmResult:
    """Test the observed arm sizes against the planned shares (sample-ratio-mismatch gate).

    Parameters
    ----------
    outcomes : DataFrame
        One row per assigned customer with column ``arm_col``.
    planned : mapping of str to float
        Planned share per arm (e.g. ``assign(...).attrs["planned_shares"]``).
    arm_col : str
        Arm column.
    alpha : float
        Gate threshold (default 0.001, OPINIONS.md "SRM threshold").

    Returns
    -------
    SrmResult
        Call ``raise_if_failed()`` to block a verdict.

    Raises
    ------
    AnalysisError
        When the table has arms that are not in the plan, a row has no arm, a customer appears twice, a planned
        share is not a positive finite number, or ``alpha`` is not in (0, 1).

    References
    ----------
    .. [1] Fabijan A et al. (2019) Diagnosing Sample Ratio Mismatch in Online Controlled Experiments. KDD 2019.

    Examples
    --------
    >>> t = pd.DataFrame({"arm": ["none"] * 9000 + ["offer"] * 91000})
    >>> srm_check(t, {"none": 0.1, "offer": 0.9}).passed
    False
    """
    check_alpha(alpha, "SRM threshold alpha")
    check_outcomes(outcomes, arm_col)
    bad = {a: v for a, v in planned.items()
           if isinstance(v, bool) or not (isinstance(v, numbers.Real) and np.isfinite(v) and v > 0)}
    if bad:
        raise AnalysisError(f"planned shares must be positive finite numbers, got {bad}")
    counts = outcomes[arm_col].value_counts()
    extra = sorted(set(counts.index) - set(planned))
    if extra:
        raise AnalysisError(f"arms not in the plan: {extra}")
    arms = tuple(planned)
    observed = tuple(int(counts.get(a, 0)) for a in arms)
    chi2, p = S.srm_chi_square(observed, [planned[a] for a in arms])
    total = sum(planned.values())
    return SrmResult(arms, observed, tuple(float(planned[a] / total) for a in arms), chi2, p, alpha)


def srm_gate(
    outcomes: pd.DataFrame,
    planned: Mapping[str, float] | None,
    *,
    arm_col: str = "arm",
    alpha: float = DEFAULT_SRM_ALPHA,
    check: bool = True,
    caller: str = "the analysis",
) -> SrmResult | None:
    """Block an analysis entry point on a sample-ratio mismatch; return the passed check (None when skipped).

    Parameters
    ----------
    outcomes : DataFrame
        One row per assigned customer with ``arm_col``.
    planned : mapping of str to float, optional
        Planned share per arm; default ``outcomes.attrs["planned_shares"]`` (set by :func:`assign`).
    arm_col : str
        Arm column.
    alpha : float
        Gate threshold.
    check : bool
        False skips the gate: the explicit override for a caller who has checked the allocation elsewhere.
    caller : str
        Name of the entry point, for the message.

    Returns
    -------
    SrmResult or None

    Raises
    ------
    SampleRatioMismatchError
        When the allocation contradicts the plan.
    AnalysisError
        When no plan is given or recorded on the table.

    Examples
    --------
    >>> t = pd.DataFrame({"arm": ["none"] * 100 + ["offer"] * 900})
    >>> srm_gate(t, {"none": 0.1, "offer": 0.9}).passed
    True
    """
    if not check:
        return None
    plan = planned if planned is not None else outcomes.attrs.get("planned_shares")
    if plan is None:
        raise AnalysisError(f"{caller} needs the planned shares for the SRM gate: pass "
                            "planned=assignment.attrs['planned_shares'], or check_srm=False to skip the gate knowingly")
    return srm_check(outcomes, plan, arm_col=arm_col, alpha=alpha).raise_if_failed()
