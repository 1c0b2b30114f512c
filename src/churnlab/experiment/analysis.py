"""Analysis of an offer experiment against its holdout: SRM gate, effects, CUPED, power, corrections.

Input is an outcomes table with one row per assigned customer: ``customer_id, arm`` and one column per
metric (e.g. ``retained_30``, ``retained_60``, ``retained_90``, ``revenue``), plus optional pre-period
covariates for CUPED. One :class:`EffectResult` is produced per arm x metric x kind (absolute,
relative, cuped) against the named holdout arm; :class:`ExperimentResult` collects them with the SRM
gate and the multiple-testing correction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from churnlab.errors import AnalysisError, SampleRatioMismatchError
from churnlab.experiment import stats as S
from churnlab.experiment.assign import HOLDOUT
from churnlab.experiment.results import Result

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_SRM_ALPHA",
    "SrmResult",
    "EffectResult",
    "ExperimentResult",
    "PowerResult",
    "NonInferiorityResult",
    "SequentialResult",
    "RoiResult",
    "srm_check",
    "arm_moments",
    "effect",
    "analyze",
    "effects_by",
    "plan_power",
    "observed_power",
    "non_inferiority_test",
    "sequential_test",
    "sequential_looks",
    "sequential_logrank",
    "roi",
]

# OPINIONS.md, "Alpha" and "SRM threshold".
DEFAULT_ALPHA = 0.05
DEFAULT_SRM_ALPHA = 0.001
# OPINIONS.md, "Sequential test": mixture scale of the mSPRT on the log hazard ratio (hazard ratios ~0.8-1.2).
DEFAULT_LOGRANK_TAU2 = 0.2**2
KINDS = ("absolute", "relative", "cuped")


# ------------------------------------------------------------------------------------------------
# result objects
# ------------------------------------------------------------------------------------------------
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


@dataclass(frozen=True, repr=False)
class EffectResult(Result):
    """Effect of one arm on one metric against the holdout.

    Attributes
    ----------
    arm, control, metric : str
        Treated arm, holdout arm and metric name.
    kind : {"absolute", "relative", "cuped"}
        Absolute difference of means, relative lift (delta method), or CUPED-adjusted absolute difference.
    estimate, se, ci_lower, ci_upper, p : float
        Effect, standard error, confidence interval at ``1 - alpha`` and p-value (normal approximation).
    alpha : float
        Significance level of the interval and test.
    sides : int
        1 or 2.
    n_treatment, n_control : int
        Customers in each arm.
    mean_treatment, mean_control : float
        Arm means (CUPED-adjusted for ``kind="cuped"``).
    covariates : tuple of str
        Pre-period covariates used by CUPED.
    variance_reduction : float
        ``1 - var(adjusted) / var(raw)`` of the effect (0 without CUPED).
    p_adjusted : float
        p-value after the multiple-testing correction (NaN until a correction is applied).
    """

    arm: str
    control: str
    metric: str
    kind: str
    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    p: float
    alpha: float
    sides: int
    n_treatment: int
    n_control: int
    mean_treatment: float
    mean_control: float
    covariates: tuple[str, ...] = ()
    variance_reduction: float = 0.0
    p_adjusted: float = float("nan")

    @property
    def test(self) -> str:
        """Name of the test."""
        return {
            "absolute": "Welch z (difference of means)",
            "relative": "delta-method z (ratio of means)",
            "cuped": f"CUPED z on {', '.join(self.covariates)}",
        }[self.kind]

    @property
    def summary(self) -> pd.DataFrame:
        """One row: ``arm, control, metric, kind, estimate, ci_lower, ci_upper, se, p, p_adjusted, ...``."""
        return pd.DataFrame(
            [
                {
                    "arm": self.arm,
                    "control": self.control,
                    "metric": self.metric,
                    "kind": self.kind,
                    "estimate": self.estimate,
                    "ci_lower": self.ci_lower,
                    "ci_upper": self.ci_upper,
                    "se": self.se,
                    "p": self.p,
                    "p_adjusted": self.p_adjusted,
                    "n_treatment": self.n_treatment,
                    "n_control": self.n_control,
                    "mean_treatment": self.mean_treatment,
                    "mean_control": self.mean_control,
                    "variance_reduction": self.variance_reduction,
                }
            ]
        )

    def _headline(self) -> str:
        return (
            f"{self.metric} {self.arm} vs {self.control} ({self.kind}): {self.estimate:+.4g} "
            f"[{self.ci_lower:+.4g}, {self.ci_upper:+.4g}] p={self.p:.3g}"
        )

    def _settings(self) -> dict[str, object]:
        return {
            "test": self.test,
            "alpha": self.alpha,
            "sides": self.sides,
            "n": f"{self.n_treatment}/{self.n_control}",
        }

    def plot(self, ax=None):
        """Forest plot of the effect with its interval."""
        from churnlab.plots.experiment import plot_effects

        return plot_effects(self.summary, ax=ax)


@dataclass(frozen=True, repr=False)
class ExperimentResult(Result):
    """All effects of an experiment (arms x metrics x kinds) with the SRM gate and the correction.

    Attributes
    ----------
    srm : SrmResult
        The passed sample-ratio-mismatch check.
    effects : tuple of EffectResult
        One per arm x metric x kind, ``p_adjusted`` filled within each kind's family.
    correction : {"holm", "bh", "none"}
        Multiple-testing correction across arms x metrics.
    alpha : float
        Significance level.
    """

    srm: SrmResult
    effects: tuple[EffectResult, ...]
    correction: str
    alpha: float

    @property
    def summary(self) -> pd.DataFrame:
        """One row per arm x metric x kind with ``significant`` (``p_adjusted < alpha``)."""
        out = pd.concat([e.summary for e in self.effects], ignore_index=True)
        out["significant"] = out["p_adjusted"] < self.alpha
        return out

    def effect(self, arm: str, metric: str, kind: str = "absolute") -> EffectResult:
        """Return one effect; raise :class:`KeyError` naming what is missing."""
        for e in self.effects:
            if (e.arm, e.metric, e.kind) == (arm, metric, kind):
                return e
        raise KeyError(f"no effect for arm={arm!r}, metric={metric!r}, kind={kind!r}")

    def _headline(self) -> str:
        arms = sorted({e.arm for e in self.effects})
        metrics = sorted({e.metric for e in self.effects})
        return f"{len(arms)} arms x {len(metrics)} metrics, correction={self.correction}, srm p={self.srm.p:.3g}"

    def _settings(self) -> dict[str, object]:
        return {"alpha": self.alpha, "correction": self.correction, "n": self.srm.n, "srm_p": round(self.srm.p, 4)}

    def plot(self, ax=None, kind: str = "absolute"):
        """Forest plot of every arm x metric effect of one kind."""
        from churnlab.plots.experiment import plot_effects

        table = self.summary
        return plot_effects(table[table["kind"] == kind], ax=ax)


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

    @property
    def power(self) -> float:
        """Power without variance reduction."""
        return S.power(self.effect, self.var_treatment, self.n_treatment, self.var_control, self.n_control,
                       self.alpha, self.sides)

    @property
    def power_cuped(self) -> float:
        """Power with CUPED."""
        r = self.variance_ratio
        return S.power(self.effect, r * self.var_treatment, self.n_treatment, r * self.var_control,
                       self.n_control, self.alpha, self.sides)

    @property
    def mde(self) -> float:
        """Minimum detectable effect at ``target_power`` without variance reduction."""
        return S.minimum_detectable_effect(self.var_treatment, self.n_treatment, self.var_control, self.n_control,
                                           self.alpha, self.target_power, self.sides)

    @property
    def mde_cuped(self) -> float:
        """Minimum detectable effect at ``target_power`` with CUPED."""
        r = self.variance_ratio
        return S.minimum_detectable_effect(r * self.var_treatment, self.n_treatment, r * self.var_control,
                                           self.n_control, self.alpha, self.target_power, self.sides)

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
        rows = [PowerResult(self.n_treatment, self.n_control, self.var_treatment, self.var_control, float(e),
                            self.variance_ratio, self.alpha, self.target_power, self.sides) for e in effects]
        return pd.DataFrame({"effect": list(effects), "power": [r.power for r in rows],
                             "power_cuped": [r.power_cuped for r in rows]})

    def _headline(self) -> str:
        return (f"n={self.n_treatment}/{self.n_control} effect={self.effect:+.4g} power={self.power:.3f} "
                f"(cuped {self.power_cuped:.3f}) mde={self.mde:.4g} (cuped {self.mde_cuped:.4g})")

    def _settings(self) -> dict[str, object]:
        return {"test": "z", "alpha": self.alpha, "sides": self.sides, "target_power": self.target_power,
                "n": f"{self.n_treatment}/{self.n_control}"}

    def plot(self, ax=None):
        """Power curve over effects up to twice the MDE, plain and CUPED."""
        from churnlab.plots.experiment import plot_power_curve

        grid = np.linspace(0, 2 * self.mde, 41)
        return plot_power_curve(self.curve(grid), target_power=self.target_power, ax=ax)


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
        return {"test": "non-inferiority z", "alpha": self.alpha, "sides": 1,
                "n": f"{self.n_treatment}/{self.n_control}"}

    def plot(self, ax=None):
        """Effect, its one-sided bound and the margin."""
        from churnlab.plots.experiment import plot_non_inferiority

        return plot_non_inferiority(self.summary, ax=ax)


@dataclass(frozen=True, repr=False)
class SequentialResult(Result):
    """Always-valid sequential test (mSPRT) over looks, next to the naive fixed-horizon p-values.

    Attributes
    ----------
    looks : DataFrame
        One row per look: ``look, n_treatment, n_control, estimate, se, naive_p, always_valid_p``.
    tau2 : float
        Mixture variance of the mSPRT.
    alpha : float
        Level; the test rejects at the first look with ``always_valid_p < alpha``.
    """

    looks: pd.DataFrame = field(repr=False)
    tau2: float
    alpha: float = DEFAULT_ALPHA

    @property
    def rejected_at(self) -> int | None:
        """First look where the always-valid p-value falls below alpha (``None`` if never)."""
        hit = self.looks.index[self.looks["always_valid_p"] < self.alpha]
        return int(self.looks.loc[hit[0], "look"]) if len(hit) else None

    @property
    def naive_rejected_at(self) -> int | None:
        """First look where a naive fixed-horizon p-value falls below alpha (peeking)."""
        hit = self.looks.index[self.looks["naive_p"] < self.alpha]
        return int(self.looks.loc[hit[0], "look"]) if len(hit) else None

    @property
    def summary(self) -> pd.DataFrame:
        """The looks table."""
        return self.looks.copy()

    def _when(self, look: int | None) -> str:
        if look is None:
            return "never"
        row = self.looks.loc[self.looks["look"] == look].iloc[0]
        return f"at look {look}" + (f" (day {row['day']:g})" if "day" in self.looks.columns else "")

    def message(self) -> str:
        """Return one sentence: when the naive and the always-valid tests first reject, and the final p-values."""
        last = self.looks.iloc[-1]
        return (f"over {len(self.looks)} looks the naive test at each look rejects {self._when(self.naive_rejected_at)}"
                f" and the always-valid test {self._when(self.rejected_at)}; at the last look naive p = "
                f"{last['naive_p']:.3g}, always-valid p = {last['always_valid_p']:.3g} (alpha {self.alpha})")

    def _headline(self) -> str:
        return f"{len(self.looks)} looks, rejected_at={self.rejected_at}, naive_rejected_at={self.naive_rejected_at}"

    def _settings(self) -> dict[str, object]:
        return {"test": "mSPRT (normal mixture)", "alpha": self.alpha, "sides": 2, "tau2": self.tau2,
                "n": int(self.looks["n_treatment"].iloc[-1] + self.looks["n_control"].iloc[-1])}

    def plot(self, ax=None):
        """Naive and always-valid p-values by look."""
        from churnlab.plots.experiment import plot_sequential

        return plot_sequential(self.looks, alpha=self.alpha, ax=ax)


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


# ------------------------------------------------------------------------------------------------
# computations
# ------------------------------------------------------------------------------------------------
def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AnalysisError(f"{what} missing from the outcomes table: {missing}")


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
    _require(outcomes, [arm_col], "arm column")
    counts = outcomes[arm_col].value_counts()
    extra = sorted(set(counts.index) - set(planned))
    if extra:
        raise AnalysisError(f"arms not in the plan: {extra}")
    arms = tuple(planned)
    observed = tuple(int(counts.get(a, 0)) for a in arms)
    chi2, p = S.srm_chi_square(observed, [planned[a] for a in arms])
    total = sum(planned.values())
    return SrmResult(arms, observed, tuple(float(planned[a] / total) for a in arms), chi2, p, alpha)


def arm_moments(
    outcomes: pd.DataFrame, metric: str, arms: Sequence[str], *, arm_col: str = "arm", covariates: Sequence[str] = ()
) -> dict[str, S.Moments]:
    """Return the sufficient statistics of ``metric`` (and covariates) in each arm.

    Parameters
    ----------
    outcomes : DataFrame
        ``arm_col``, ``metric`` and the ``covariates`` columns, one row per customer.
    metric : str
        Outcome column.
    arms : sequence of str
        Arms to summarise.
    arm_col : str
        Arm column.
    covariates : sequence of str
        Pre-period covariates.

    Returns
    -------
    dict of str to Moments

    Raises
    ------
    AnalysisError
        When an arm has no customers, a column is missing, or an outcome or covariate is missing (NaN).
    """
    _require(outcomes, [arm_col, metric], "metric")
    _require(outcomes, list(covariates), "pre-period covariates")
    cols = [metric, *covariates]
    values = outcomes[cols].to_numpy(dtype=float)
    if np.isnan(values[:, 0]).any():
        raise AnalysisError(f"metric {metric!r} has {int(np.isnan(values[:, 0]).sum())} missing values")
    for j, c in enumerate(covariates, start=1):
        if np.isnan(values[:, j]).any():
            raise AnalysisError(f"pre-period covariate {c!r} has {int(np.isnan(values[:, j]).sum())} missing values")
    labels = outcomes[arm_col].to_numpy()
    out = {}
    for a in arms:
        z = values[labels == a]
        if len(z) == 0:
            raise AnalysisError(f"arm {a!r} has no customers")
        out[a] = S.Moments(len(z), z.sum(axis=0), z.T @ z)
    return out


def _interval(estimate: float, se: float, alpha: float, sides: int) -> tuple[float, float, float]:
    z = S.z_critical(alpha, sides)
    p = S.p_value_from_z(estimate / se, sides)
    if sides == 2:
        return estimate - z * se, estimate + z * se, p
    return estimate - z * se, float("inf"), p


def effect(
    t: S.Moments,
    c: S.Moments,
    *,
    kind: str = "absolute",
    arm: str = "treatment",
    control: str = HOLDOUT,
    metric: str = "metric",
    alpha: float = DEFAULT_ALPHA,
    sides: int = 2,
    covariates: Sequence[str] = (),
) -> EffectResult:
    """Return the effect of treated moments ``t`` against control moments ``c``.

    Parameters
    ----------
    t, c : Moments
        Sufficient statistics of the treated and the control arm (outcome first, then covariates).
    kind : {"absolute", "relative", "cuped"}
        Difference of means; relative lift with the delta method; CUPED-adjusted difference with theta
        from the pooled moments.
    arm, control, metric : str
        Labels for the result.
    alpha : float
        Level of the interval and test.
    sides : {1, 2}
        Two-sided, or one-sided (``H1: effect > 0``).
    covariates : sequence of str
        Names of the covariates in the moments (required for ``kind="cuped"``).

    Returns
    -------
    EffectResult

    Raises
    ------
    AnalysisError
        When an arm has fewer than 2 customers, every outcome is identical, the control mean is zero
        (relative) or CUPED has no usable covariate.

    Examples
    --------
    >>> t = S.moments([1.0] * 72 + [0.0] * 28)
    >>> c = S.moments([1.0] * 70 + [0.0] * 30)
    >>> round(effect(t, c).estimate, 2)
    0.02
    """
    var_raw = t.var_y / t.n + c.var_y / c.n
    reduction = 0.0
    if kind == "absolute":
        est, se = S.absolute_effect(t.mean_y, t.var_y, t.n, c.mean_y, c.var_y, c.n)
        mt, mc = t.mean_y, c.mean_y
    elif kind == "relative":
        est, se = S.relative_effect(t.mean_y, t.var_y, t.n, c.mean_y, c.var_y, c.n)
        mt, mc = t.mean_y, c.mean_y
    elif kind == "cuped":
        if not covariates:
            raise AnalysisError("CUPED needs at least one pre-period covariate")
        pooled = t + c
        theta = S.cuped_theta(pooled)
        xbar = pooled.mean[1:]
        mt, vt = S.cuped_adjusted(t, theta, xbar)
        mc, vc = S.cuped_adjusted(c, theta, xbar)
        est, se = S.absolute_effect(mt, vt, t.n, mc, vc, c.n)
        reduction = 1 - se**2 / var_raw if var_raw > 0 else 0.0
    else:
        raise AnalysisError(f"unknown effect kind {kind!r}; expected one of {KINDS}")
    lo, hi, p = _interval(est, se, alpha, sides)
    return EffectResult(arm, control, metric, kind, est, se, lo, hi, p, alpha, sides, int(t.n), int(c.n),
                        float(mt), float(mc), tuple(covariates), float(reduction))


def _adjust(p: Sequence[float], correction: str) -> np.ndarray:
    if correction == "holm":
        return S.holm(p)
    if correction == "bh":
        return S.benjamini_hochberg(p)
    if correction == "none":
        return np.asarray(p, dtype=float)
    raise AnalysisError(f"unknown correction {correction!r}; expected 'holm', 'bh' or 'none'")


def analyze(
    outcomes: pd.DataFrame,
    metrics: Sequence[str],
    planned: Mapping[str, float],
    *,
    arm_col: str = "arm",
    control: str = HOLDOUT,
    covariates: Sequence[str] = (),
    kinds: Sequence[str] | None = None,
    alpha: float = DEFAULT_ALPHA,
    srm_alpha: float = DEFAULT_SRM_ALPHA,
    correction: str = "holm",
    sides: int = 2,
) -> ExperimentResult:
    """Analyse every arm x metric against the holdout, behind the SRM gate.

    Parameters
    ----------
    outcomes : DataFrame
        One row per assigned customer: ``arm_col``, the ``metrics`` columns and the ``covariates`` columns.
    metrics : sequence of str
        Outcome columns (e.g. ``retained_30, retained_60, retained_90``).
    planned : mapping of str to float
        Planned share per arm, holdout included (``assign(...).attrs["planned_shares"]``).
    arm_col : str
        Arm column.
    control : str
        Holdout arm every other arm is compared with.
    covariates : sequence of str
        Pre-period covariates for CUPED; with none, no ``cuped`` effects are computed.
    kinds : sequence of str, optional
        Which of ``absolute, relative, cuped`` to compute; default all that apply.
    alpha : float
        Level of intervals and tests (default 0.05).
    srm_alpha : float
        SRM gate threshold (default 0.001).
    correction : {"holm", "bh", "none"}
        Correction across arms x metrics, applied within each kind.
    sides : {1, 2}
        Sidedness of every test.

    Returns
    -------
    ExperimentResult

    Raises
    ------
    SampleRatioMismatchError
        When the arm sizes contradict the plan: no verdict is given on a broken allocation.
    AnalysisError
        When an arm has no customers, the control arm is not in the plan, every outcome is identical, or a
        metric or pre-period covariate is missing.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> arm = np.where(rng.random(4000) < 0.1, "none", "discount")
    >>> t = pd.DataFrame({"arm": arm, "retained_90": (rng.random(4000) < 0.7).astype(float)})
    >>> res = analyze(t, ["retained_90"], {"none": 0.1, "discount": 0.9})
    >>> res.summary[["arm", "kind"]].values.tolist()
    [['discount', 'absolute'], ['discount', 'relative']]
    """
    if control not in planned:
        raise AnalysisError(f"control arm {control!r} is not in the plan {list(planned)}")
    _require(outcomes, [arm_col], "arm column")
    present = set(pd.unique(outcomes[arm_col]))
    for a in planned:
        if a not in present:
            raise AnalysisError(f"arm {a!r} has no customers")
    srm = srm_check(outcomes, planned, arm_col=arm_col, alpha=srm_alpha).raise_if_failed()
    if kinds is None:
        kinds = ("absolute", "relative", "cuped") if covariates else ("absolute", "relative")
    if "cuped" in kinds and not covariates:
        raise AnalysisError("CUPED requested without pre-period covariates")
    arms = [a for a in planned if a != control]
    effects: list[EffectResult] = []
    for metric in metrics:
        mom = arm_moments(outcomes, metric, list(planned), arm_col=arm_col,
                          covariates=covariates if "cuped" in kinds else ())
        for a in arms:
            for k in kinds:
                effects.append(effect(mom[a], mom[control], kind=k, arm=a, control=control, metric=metric,
                                      alpha=alpha, sides=sides, covariates=covariates if k == "cuped" else ()))
    p_adj: dict[int, float] = {}
    for k in kinds:
        idx = [i for i, e in enumerate(effects) if e.kind == k]
        for i, q in zip(idx, _adjust([effects[i].p for i in idx], correction)):
            p_adj[i] = float(q)
    adjusted = [replace(e, p_adjusted=p_adj[i]) for i, e in enumerate(effects)]
    return ExperimentResult(srm, tuple(adjusted), correction, alpha)


def effects_by(
    outcomes: pd.DataFrame,
    metric: str,
    by: str,
    *,
    arm_col: str = "arm",
    control: str = HOLDOUT,
    alpha: float = DEFAULT_ALPHA,
    min_per_arm: int = 2,
) -> pd.DataFrame:
    """Absolute effect of every arm on ``metric`` within each group of ``by`` (segment, risk decile).

    Parameters
    ----------
    outcomes : DataFrame
        ``arm_col``, ``metric`` and ``by``, one row per customer.
    metric : str
        Outcome column.
    by : str
        Grouping column.
    arm_col, control : str
        Arm column and holdout arm.
    alpha : float
        Level of the intervals (per group; not corrected for the number of groups).
    min_per_arm : int
        Groups with fewer customers in an arm get NaN estimates and a ``note`` saying why.

    Returns
    -------
    DataFrame
        One row per group x arm: ``group, arm, n_treatment, n_control, estimate, ci_lower, ci_upper, p, note``.

    Raises
    ------
    AnalysisError
        When a column is missing.
    """
    _require(outcomes, [arm_col, metric, by], "columns")
    arms = [a for a in pd.unique(outcomes[arm_col]) if a != control]
    arms = sorted(arms, key=str)
    rows = []
    for g, part in outcomes.groupby(by, sort=True, observed=True):
        labels = part[arm_col].to_numpy()
        y = part[metric].to_numpy(dtype=float)
        yc = y[labels == control]
        for a in arms:
            yt = y[labels == a]
            row = {"group": g, "arm": a, "n_treatment": len(yt), "n_control": len(yc), "estimate": np.nan,
                   "ci_lower": np.nan, "ci_upper": np.nan, "p": np.nan, "note": ""}
            if len(yt) < min_per_arm or len(yc) < min_per_arm:
                row["note"] = f"fewer than {min_per_arm} customers in an arm"
            else:
                try:
                    r = effect(S.moments(yt), S.moments(yc), arm=a, control=control, metric=metric, alpha=alpha)
                    row.update(estimate=r.estimate, ci_lower=r.ci_lower, ci_upper=r.ci_upper, p=r.p)
                except AnalysisError as exc:
                    row["note"] = str(exc)
            rows.append(row)
    return pd.DataFrame(rows, columns=["group", "arm", "n_treatment", "n_control", "estimate", "ci_lower",
                                       "ci_upper", "p", "note"])


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

    Returns
    -------
    PowerResult

    Examples
    --------
    FIELD_NOTES reference: n = 20,000 at 10/90, base 70%, +2 points, rho 0.5.

    >>> r = plan_power(20000, 0.9, 0.70, 0.02, rho=0.5)
    >>> round(r.power, 3), round(r.power_cuped, 3)
    (0.458, 0.572)
    """
    if not 0 < treated_share < 1:
        raise AnalysisError(f"treated share must lie strictly between 0 and 1, got {treated_share}")
    n_t = int(round(n_total * treated_share))
    p_t = min(max(base_rate + effect, 0.0), 1.0)
    return PowerResult(n_t, n_total - n_t, p_t * (1 - p_t), base_rate * (1 - base_rate), effect,
                       1 - rho**2, alpha, target_power, sides)


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
    # var of each arm recovered from se is not separable; use the binomial-style per-arm variances
    # computed from the arm means when the metric is binary, else the pooled se split by n.
    mt, mc = a.mean_treatment, a.mean_control
    if 0 <= mt <= 1 and 0 <= mc <= 1:
        vt, vc = mt * (1 - mt), mc * (1 - mc)
    else:
        v = a.se**2 / (1 / a.n_treatment + 1 / a.n_control)
        vt = vc = v
    return PowerResult(a.n_treatment, a.n_control, vt, vc, effect, ratio, a.alpha, target_power, a.sides)


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

    Returns
    -------
    NonInferiorityResult

    Raises
    ------
    AnalysisError
        When the margin is not positive or the comparison is impossible.
    """
    mom = arm_moments(outcomes, metric, [arm, control], arm_col=arm_col)
    t, c = mom[arm], mom[control]
    est, se = S.absolute_effect(t.mean_y, t.var_y, t.n, c.mean_y, c.var_y, c.n)
    z, p = S.non_inferiority(est, se, margin, higher_is_better)
    zc = S.z_critical(alpha, 1)
    bound = est - zc * se if higher_is_better else est + zc * se
    return NonInferiorityResult(arm, control, metric, est, se, margin, bound, z, p, alpha, higher_is_better,
                                int(t.n), int(c.n))


def sequential_test(
    n_treatment: Sequence[float],
    n_control: Sequence[float],
    estimate: Sequence[float],
    se: Sequence[float],
    *,
    tau2: float,
    alpha: float = DEFAULT_ALPHA,
) -> SequentialResult:
    """Always-valid mSPRT over a sequence of looks, with the naive z-test p-value at each look.

    Parameters
    ----------
    n_treatment, n_control : sequence of float
        Cumulative arm sizes at each look.
    estimate, se : sequence of float
        Cumulative effect estimate and its standard error at each look.
    tau2 : float
        Mixture variance: the squared size of effects the test is tuned to find (e.g. ``0.02**2``).
    alpha : float
        Level.

    Returns
    -------
    SequentialResult

    References
    ----------
    .. [1] Johari R, Koomen P, Pekelis L, Walsh D (2017) Peeking at A/B Tests: Why it matters, and what
       to do about it. KDD 2017.
    """
    est = np.asarray(estimate, dtype=float)
    s = np.asarray(se, dtype=float)
    if tau2 <= 0:
        raise AnalysisError(f"tau2 must be positive, got {tau2}")
    if np.any(~(s > 0)):
        raise AnalysisError("a look has zero or missing standard error")
    lr = S.msprt_likelihood_ratio(est, s**2, tau2)
    looks = pd.DataFrame({
        "look": np.arange(1, len(est) + 1),
        "n_treatment": np.asarray(n_treatment, dtype=int),
        "n_control": np.asarray(n_control, dtype=int),
        "estimate": est,
        "se": s,
        "naive_p": [S.p_value_from_z(e / v) for e, v in zip(est, s)],
        "always_valid_p": S.always_valid_p(lr),
    })
    return SequentialResult(looks, float(tau2), alpha)


def sequential_looks(
    outcomes: pd.DataFrame,
    metric: str,
    arm: str,
    *,
    order_col: str,
    n_looks: int = 10,
    tau2: float = 0.02**2,
    arm_col: str = "arm",
    control: str = HOLDOUT,
    alpha: float = DEFAULT_ALPHA,
) -> SequentialResult:
    """Run :func:`sequential_test` on cumulative slices of the outcomes ordered by ``order_col``.

    Parameters
    ----------
    outcomes : DataFrame
        ``arm_col``, ``metric`` and ``order_col`` (enrolment time or order), one row per customer.
    metric, arm : str
        Outcome and treated arm.
    order_col : str
        Column giving the order in which customers' outcomes became known.
    n_looks : int
        Equally spaced looks.
    tau2 : float
        Mixture variance of the mSPRT.
    arm_col, control : str
        Arm column and holdout arm.
    alpha : float
        Level.

    Returns
    -------
    SequentialResult
    """
    _require(outcomes, [arm_col, metric, order_col], "columns")
    part = outcomes.loc[outcomes[arm_col].isin([arm, control])].sort_values(order_col, kind="stable")
    is_t = (part[arm_col] == arm).to_numpy()
    y = part[metric].to_numpy(dtype=float)
    cut = np.linspace(0, len(y), n_looks + 1).astype(int)[1:]
    nt, nc, est, se = [], [], [], []
    for k in cut:
        t, c = y[:k][is_t[:k]], y[:k][~is_t[:k]]
        r = effect(S.moments(t), S.moments(c), arm=arm, control=control, metric=metric, alpha=alpha)
        nt.append(len(t))
        nc.append(len(c))
        est.append(r.estimate)
        se.append(r.se)
    return sequential_test(nt, nc, est, se, tau2=tau2, alpha=alpha)


def sequential_logrank(
    outcomes: pd.DataFrame,
    arm: str,
    *,
    look_days: Sequence[float],
    tau2: float = DEFAULT_LOGRANK_TAU2,
    duration_col: str = "duration",
    event_col: str = "event",
    arm_col: str = "arm",
    control: str = HOLDOUT,
    alpha: float = DEFAULT_ALPHA,
) -> SequentialResult:
    """Peek at a running campaign: the log-rank test at each look day, naive and always valid.

    Parameters
    ----------
    outcomes : DataFrame
        ``arm_col, duration_col, event_col``, one row per customer: days from the campaign to churn, or to the
        end of follow-up when ``event`` is False (from :func:`churnlab.experiment.campaign.campaign_outcomes`).
    arm : str
        Offer arm compared with ``control``.
    look_days : sequence of float
        Days after the campaign at which the analyst looks (e.g. weekly: 7, 14, ..., 91); none may exceed the
        follow-up.
    tau2 : float
        Mixture variance of the mSPRT on the log hazard ratio scale (OPINIONS.md "Sequential test").
    duration_col, event_col, arm_col, control : str
        Column names and holdout arm.
    alpha : float
        Level.

    Returns
    -------
    SequentialResult
        Looks with ``day``; ``estimate`` is ``U / V`` (the one-step log hazard ratio of treated vs holdout,
        negative when the offer lowers churn), ``se = 1 / sqrt(V)``; ``naive_p`` is the log-rank p-value as if
        the look were the only one, ``always_valid_p`` the mSPRT p-value that may be checked at every look.

    Raises
    ------
    AnalysisError
        When a column is missing, an arm has no customer, a look lies beyond the follow-up, or no churn has
        happened by the first look (no information).

    Notes
    -----
    At look day ``s`` every customer is censored at ``s``; ``U(s), V(s)`` are the cumulative sums of
    :func:`churnlab.experiment.stats.logrank_increments` over event times up to ``s``.

    References
    ----------
    .. [1] Tsiatis AA (1982) Repeated significance testing for a general class of statistics used in censored
       survival analysis. JASA 77(380).
    .. [2] Johari R, Koomen P, Pekelis L, Walsh D (2017) Peeking at A/B Tests. KDD 2017, eq. (7).
    """
    _require(outcomes, [arm_col, duration_col, event_col], "columns")
    part = outcomes.loc[outcomes[arm_col].isin([arm, control])]
    is_t = (part[arm_col] == arm).to_numpy()
    for name, mask in ((arm, is_t), (control, ~is_t)):
        if not mask.any():
            raise AnalysisError(f"arm {name!r} has no customer: no sequential test")
    days = np.asarray(look_days, dtype=float)
    time = part[duration_col].to_numpy(dtype=float)
    event = part[event_col].to_numpy(dtype=bool)
    follow = float(time[~event].max()) if (~event).any() else float(time.max())
    if (days > follow).any():
        raise AnalysisError(f"looks after day {follow:g} lie beyond the follow-up")
    times = np.unique(time[event])
    idx = np.searchsorted(times, time)
    n_t = np.bincount(idx[is_t], minlength=len(times) + 1)
    n_c = np.bincount(idx[~is_t], minlength=len(times) + 1)
    # customers at risk just before each event time: those whose duration is at least that time
    at_t = is_t.sum() - np.concatenate([[0], np.cumsum(n_t)[:-1]])[: len(times)]
    at_c = (~is_t).sum() - np.concatenate([[0], np.cumsum(n_c)[:-1]])[: len(times)]
    d_t = np.bincount(idx[is_t & event], minlength=len(times))[: len(times)]
    d_c = np.bincount(idx[~is_t & event], minlength=len(times))[: len(times)]
    u, v = S.logrank_increments(at_t, at_c, d_t, d_c)
    upto = np.searchsorted(times, days, side="right")
    U = np.concatenate([[0.0], np.cumsum(u)])[upto]
    V = np.concatenate([[0.0], np.cumsum(v)])[upto]
    if not V[0] > 0:
        raise AnalysisError(f"no churn by day {days[0]:g}: the first look has no information")
    res = sequential_test(np.full(len(days), is_t.sum()), np.full(len(days), (~is_t).sum()), U / V,
                          1 / np.sqrt(V), tau2=tau2, alpha=alpha)
    looks = res.looks
    looks.insert(1, "day", days)
    return SequentialResult(looks, res.tau2, alpha)


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
    return RoiResult(result.arm, result.metric, int(n_treated), result.estimate, result.ci_lower, result.ci_upper,
                     float(value_per_retained), float(cost_per_treated), result.alpha)
