"""Power and minimum detectable effect, before the test (planned allocation) and after it (observed).

The power is that of the test the analysis runs: on a binary metric the score (pooled) test of two
proportions (:func:`~churnlab.experiment.stats.power.score_power`), on any other metric Welch's z-test
(:func:`~churnlab.experiment.stats.power.power`). ``test="wald"`` gives the Wald z-test's power for a binary
metric too (the FIELD_NOTES reference values).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from churnlab.errors import AnalysisError
from churnlab.experiment import stats as S
from churnlab.experiment.checks import DEFAULT_ALPHA, check_alpha, check_probability, check_sides
from churnlab.experiment.effects import ExperimentResult
from churnlab.experiment.results import Result
from churnlab.experiment.stats.power import score_minimum_detectable_effect, score_power

__all__ = ["PowerResult", "plan_power", "observed_power"]


@dataclass(frozen=True, repr=False)
class PowerResult(Result):
    """Power and minimum detectable effect at the actual allocation, with and without CUPED.

    Attributes
    ----------
    n_treatment, n_control : int
        Arm sizes.
    var_treatment, var_control : float
        Outcome variances used.
    effect : float
        Absolute effect the power refers to.
    variance_ratio : float
        ``var(CUPED-adjusted) / var(raw)`` (``1 - rho^2`` for one covariate).
    alpha, target_power : float
        Test level and the power the MDE refers to.
    sides : int
        1 or 2.
    base_rate : float
        Control rate of a binary metric (needed by ``test="score"``).
    test : {"wald", "score"}
        Whose power: the z-test with each arm's variance, or the score test of two proportions (what the
        analysis runs on a binary metric).
    """

    n_treatment: int
    n_control: int
    var_treatment: float
    var_control: float
    effect: float
    variance_ratio: float = 1.0
    alpha: float = DEFAULT_ALPHA
    target_power: float = 0.8
    sides: int = 2
    base_rate: float = float("nan")
    test: str = "wald"

    def _power(self, r: float) -> float:
        if self.test == "score":
            return score_power(self.base_rate, self.effect, self.n_treatment, self.n_control, self.alpha,
                               self.sides, variance_ratio=r)
        return S.power(self.effect, r * self.var_treatment, self.n_treatment, r * self.var_control,
                       self.n_control, self.alpha, self.sides)

    def _mde(self, r: float) -> float:
        if self.test == "score":
            return score_minimum_detectable_effect(self.base_rate, self.n_treatment, self.n_control, self.alpha,
                                                   self.target_power, self.sides, variance_ratio=r)
        return S.minimum_detectable_effect(r * self.var_treatment, self.n_treatment, r * self.var_control,
                                           self.n_control, self.alpha, self.target_power, self.sides)

    @property
    def power(self) -> float:
        """Power without variance reduction."""
        return self._power(1.0)

    @property
    def power_cuped(self) -> float:
        """Power with CUPED."""
        return self._power(self.variance_ratio)

    @property
    def mde(self) -> float:
        """Minimum detectable (positive) effect at ``target_power`` without variance reduction (inf: none)."""
        return self._mde(1.0)

    @property
    def mde_cuped(self) -> float:
        """Minimum detectable (positive) effect at ``target_power`` with CUPED (inf: none)."""
        return self._mde(self.variance_ratio)

    @property
    def summary(self) -> pd.DataFrame:
        """Two rows (plain, cuped): ``analysis, n_treatment, n_control, effect, power, mde``."""
        return pd.DataFrame(
            {
                "analysis": ["plain", "cuped"],
                "n_treatment": self.n_treatment,
                "n_control": self.n_control,
                "effect": self.effect,
                "variance_ratio": [1.0, self.variance_ratio],
                "power": [self.power, self.power_cuped],
                "mde": [self.mde, self.mde_cuped],
            }
        )

    def curve(self, effects: Sequence[float]) -> pd.DataFrame:
        """Return ``effect, power, power_cuped`` over a grid of effects."""
        rows = [replace(self, effect=float(e)) for e in effects]
        return pd.DataFrame({"effect": list(effects), "power": [r.power for r in rows],
                             "power_cuped": [r.power_cuped for r in rows]})

    def _headline(self) -> str:
        return (f"n={self.n_treatment}/{self.n_control} effect={self.effect:+.4g} power={self.power:.3f} "
                f"(cuped {self.power_cuped:.3f}) mde={self.mde:.4g} (cuped {self.mde_cuped:.4g})")

    def _settings(self) -> dict[str, object]:
        return {"test": "score" if self.test == "score" else "z", "alpha": self.alpha, "sides": self.sides,
                "target_power": self.target_power,
                "n": f"{self.n_treatment}/{self.n_control}"}

    def plot(self, ax=None):
        """Power curve over effects up to twice the MDE, plain and CUPED."""
        from churnlab.plots.experiment import plot_power_curve

        top = 2 * self.mde if np.isfinite(self.mde) else 1.0
        if self.test == "score":
            top = min(top, 1.0 - self.base_rate)
        grid = np.linspace(0, top, 41)
        return plot_power_curve(self.curve(grid), target_power=self.target_power, ax=ax,
                               points=bool(np.isfinite(self.base_rate)))


def plan_power(
    n_total: int,
    treated_share: float,
    base_rate: float,
    effect: float,
    *,
    rho: float = 0.0,
    alpha: float = DEFAULT_ALPHA,
    target_power: float = 0.8,
    sides: int = 2,
    test: str = "score",
) -> PowerResult:
    """Power and MDE before the test for a binary metric at a planned allocation.

    Parameters
    ----------
    n_total : int
        Customers in the treated arm plus the holdout.
    treated_share : float
        Share of them in the treated arm (0.9 at a 10% holdout; one arm of several gets its own share).
    base_rate : float
        Expected rate in the holdout (e.g. 0.70 retained).
    effect : float
        Absolute effect to detect (e.g. 0.02).
    rho : float
        Correlation of the outcome with the pre-period covariate (CUPED variance ratio ``1 - rho^2``).
    alpha, target_power : float
        Test level and power for the MDE.
    sides : {1, 2}
        Sidedness.
    test : {"score", "wald"}
        ``"score"`` (default): the power of the test the analysis runs on a binary metric, the score (pooled)
        test, and with CUPED its adjusted-variance version; ``"wald"``: the z-test with each arm's own variance.

    Returns
    -------
    PowerResult

    Raises
    ------
    AnalysisError
        When a share, rate, alpha, sides, target power, rho or test is out of range, or the effect would take
        the rate outside [0, 1] (an impossible effect).

    Notes
    -----
    Score test: ``Phi((|d| - z sigma0) / sigma1)`` (plus the far tail), ``sigma0`` the null standard error at
    the pooled rate, ``sigma1`` the alternative's, both times ``1 - rho^2`` with CUPED (Fleiss, Levin & Paik
    2003, eq. 4.14; :func:`~churnlab.experiment.stats.power.score_power`). At a 10% holdout and a rate above
    one half it is higher than the Wald power for a positive effect (benchmarks/campaign_validity.py).

    Examples
    --------
    n = 20,000 at 10/90, base 70%, +2 points, rho 0.5; the Wald variant gives the FIELD_NOTES reference.

    >>> r = plan_power(20000, 0.9, 0.70, 0.02, rho=0.5)
    >>> round(r.power, 3), round(r.power_cuped, 3)
    (0.471, 0.585)
    >>> w = plan_power(20000, 0.9, 0.70, 0.02, rho=0.5, test="wald")
    >>> round(w.power, 3), round(w.power_cuped, 3)
    (0.458, 0.572)
    """
    treated_share = check_probability(treated_share, "treated share")
    base_rate = check_probability(base_rate, "base rate")
    check_alpha(alpha)
    check_sides(sides)
    check_probability(target_power, "target_power")
    if not (isinstance(rho, numbers.Real) and -1 < rho < 1):
        raise AnalysisError(f"rho (outcome-covariate correlation) must lie strictly between -1 and 1, got {rho!r}")
    if not (isinstance(effect, numbers.Real) and np.isfinite(effect)):
        raise AnalysisError(f"effect must be a finite number, got {effect!r}")
    if not 0 <= base_rate + effect <= 1:
        raise AnalysisError(f"effect {effect:+g} on a base rate of {base_rate:g} gives a rate of "
                            f"{base_rate + effect:g}: a rate must lie in [0, 1]")
    n_t = int(round(n_total * treated_share))
    if n_t < 2 or n_total - n_t < 2:
        raise AnalysisError(f"n_total={n_total} at treated share {treated_share:g} leaves an arm with fewer than 2 "
                            "customers")
    if test not in ("score", "wald"):
        raise AnalysisError(f"test: expected 'score' or 'wald', got {test!r}")
    p_t = base_rate + effect
    return PowerResult(n_t, n_total - n_t, p_t * (1 - p_t), base_rate * (1 - base_rate), effect,
                       1 - rho**2, alpha, target_power, sides, base_rate=float(base_rate), test=test)


def observed_power(
    result: ExperimentResult, arm: str, metric: str, effect: float, *, target_power: float = 0.8
) -> PowerResult:
    """Power and MDE after the test, from the observed arm sizes, variances and CUPED variance reduction.

    Parameters
    ----------
    result : ExperimentResult
        Output of :func:`analyze`.
    arm, metric : str
        Which comparison.
    effect : float
        Absolute effect of interest (a planning value, not the observed estimate: power at the observed
        estimate is a restatement of the p-value).
    target_power : float
        Power the MDE refers to.

    Returns
    -------
    PowerResult
    """
    a = result.effect(arm, metric, "absolute")
    ratio = 1.0
    try:
        ratio = 1 - result.effect(arm, metric, "cuped").variance_reduction
    except KeyError:
        pass
    # A binary metric (known from its values, not from where its mean lies) has variance p (1 - p) per arm;
    # any other metric uses the arms' sample variances recorded by the analysis.
    mt, mc = a.mean_treatment, a.mean_control
    if a.binary and 0 < mc < 1 and 0 <= mc + effect <= 1:
        # the analysis ran the score test: its power at the holdout's observed rate
        return PowerResult(a.n_treatment, a.n_control, mt * (1 - mt), mc * (1 - mc), effect, ratio, a.alpha,
                           target_power, a.sides, base_rate=float(mc), test="score")
    if a.binary:
        vt, vc = mt * (1 - mt), mc * (1 - mc)
    elif np.isfinite(a.var_treatment) and np.isfinite(a.var_control):
        vt, vc = a.var_treatment, a.var_control
    else:
        v = a.se**2 / (1 / a.n_treatment + 1 / a.n_control)
        vt = vc = v
    return PowerResult(a.n_treatment, a.n_control, vt, vc, effect, ratio, a.alpha, target_power, a.sides)
