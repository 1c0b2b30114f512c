"""Sample-ratio-mismatch gate: observed arm sizes against the planned shares."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from churnlab.errors import AnalysisError, SampleRatioMismatchError
from churnlab.experiment import stats as S
from churnlab.experiment.checks import DEFAULT_SRM_ALPHA, require_columns
from churnlab.experiment.results import Result

__all__ = ["SrmResult", "srm_check"]


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
        When the table has arms that are not in the plan.

    References
    ----------
    .. [1] Fabijan A et al. (2019) Diagnosing Sample Ratio Mismatch in Online Controlled Experiments. KDD 2019.

    Examples
    --------
    >>> t = pd.DataFrame({"arm": ["none"] * 9000 + ["offer"] * 91000})
    >>> srm_check(t, {"none": 0.1, "offer": 0.9}).passed
    False
    """
    require_columns(outcomes, [arm_col], "arm column")
    counts = outcomes[arm_col].value_counts()
    extra = sorted(set(counts.index) - set(planned))
    if extra:
        raise AnalysisError(f"arms not in the plan: {extra}")
    arms = tuple(planned)
    observed = tuple(int(counts.get(a, 0)) for a in arms)
    chi2, p = S.srm_chi_square(observed, [planned[a] for a in arms])
    total = sum(planned.values())
    return SrmResult(arms, observed, tuple(float(planned[a] / total) for a in arms), chi2, p, alpha)
