"""Effects of each arm against the holdout: absolute, relative, CUPED; the full analysis with Holm; by group.

Input is an outcomes table with one row per assigned customer: ``customer_id, arm`` and one column per
metric (e.g. ``retained_30``, ``retained_60``, ``retained_90``, ``revenue``), plus optional pre-period
covariates for CUPED. One :class:`EffectResult` is produced per arm x metric x kind (absolute,
relative, cuped) against the named holdout arm; :class:`ExperimentResult` collects them with the SRM
gate and the multiple-testing correction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from churnlab.errors import AnalysisError
from churnlab.experiment import stats as S
from churnlab.experiment.assign import HOLDOUT
from churnlab.experiment.checks import (
    DEFAULT_ALPHA,
    DEFAULT_CAP_QUANTILE,
    DEFAULT_SRM_ALPHA,
    check_alpha,
    check_outcomes,
    check_probability,
    check_sides,
    require_columns,
)
from churnlab.experiment.results import Result
from churnlab.experiment.srm import SrmResult, srm_check, srm_gate

__all__ = ["KINDS", "EffectResult", "ExperimentResult", "metric_cap", "arm_moments", "effect", "analyze", "effects_by"]

KINDS = ("absolute", "relative", "cuped")


@dataclass(frozen=True, repr=False)
class EffectResult(Result):
    """Effect of one arm on one metric against the holdout.

    Attributes
    ----------
    arm, control, metric : str
        Treated arm, holdout arm and metric name.
    kind : {"absolute", "relative", "cuped"}
        Absolute difference of means, relative lift (log-ratio interval; MOVER-R for a binary metric), or
        CUPED-adjusted absolute difference.
    estimate, se, ci_lower, ci_upper, p : float
        Effect, standard error, confidence interval at ``1 - alpha`` and p-value. A binary metric gets the
        score test (``se`` under the null) and score intervals; other metrics Welch's z on the capped values.
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
    var_treatment, var_control : float
        Sample variance of the outcome in each arm (CUPED-adjusted for ``kind="cuped"``, capped when capped).
    binary : bool
        Whether the metric is 0/1 (score methods) rather than continuous (Welch z).
    cap : float or None
        Value at which the metric was capped before the analysis (None: not capped).
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
    var_treatment: float = float("nan")
    var_control: float = float("nan")
    binary: bool = False
    cap: float | None = None

    @property
    def test(self) -> str:
        """Name of the test."""
        if self.binary:
            name = {
                "absolute": "score z, Newcombe hybrid score interval (difference of proportions)",
                "relative": "score z, MOVER-R Wilson interval (ratio of proportions)",
                "cuped": f"CUPED z on {', '.join(self.covariates)}, variance under the null",
            }[self.kind]
        else:
            name = {
                "absolute": "Welch z (difference of means)",
                "relative": "log-ratio z, delta method (ratio of means)",
                "cuped": f"CUPED z on {', '.join(self.covariates)}",
            }[self.kind]
        return name + (f", capped at {self.cap:.4g}" if self.cap is not None else "")

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
                    "cap": np.nan if self.cap is None else self.cap,
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


def metric_cap(
    outcomes: pd.DataFrame, metric: str, arms: Sequence[str], *, arm_col: str = "arm",
    quantile: float | None = DEFAULT_CAP_QUANTILE,
) -> float | None:
    """Return the value at which ``metric`` is capped in the analysis of ``arms`` (None: binary or no capping).

    The cap is :func:`churnlab.experiment.stats.upper_cap` of the metric pooled over the analysed arms, so it
    is the same in every arm (OPINIONS.md "Heavy-tailed metrics").

    Examples
    --------
    >>> t = pd.DataFrame({"arm": ["none", "offer"] * 50, "revenue": np.arange(100.0)})
    >>> metric_cap(t, "revenue", ["none", "offer"])
    98.01
    """
    if quantile is None:
        return None
    q = check_probability(quantile, "cap_quantile")
    require_columns(outcomes, [arm_col, metric], "metric")
    y = outcomes.loc[outcomes[arm_col].isin(list(arms)), metric].to_numpy(dtype=float)
    y = y[~np.isnan(y)]
    return S.upper_cap(y, q) if len(y) else None


def arm_moments(
    outcomes: pd.DataFrame, metric: str, arms: Sequence[str], *, arm_col: str = "arm", covariates: Sequence[str] = (),
    cap: float | None = None,
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
    cap : float, optional
        Cap the outcome at this value first (:func:`metric_cap`).

    Returns
    -------
    dict of str to Moments

    Raises
    ------
    AnalysisError
        When an arm has no customers, a column is missing, an outcome or covariate is missing (NaN), a row has
        no arm or a customer appears twice.
    """
    check_outcomes(outcomes, arm_col)
    require_columns(outcomes, [arm_col, metric], "metric")
    require_columns(outcomes, list(covariates), "pre-period covariates")
    cols = [metric, *covariates]
    values = outcomes[cols].to_numpy(dtype=float, copy=True)
    if np.isnan(values[:, 0]).any():
        raise AnalysisError(f"metric {metric!r} has {int(np.isnan(values[:, 0]).sum())} missing values")
    for j, c in enumerate(covariates, start=1):
        if np.isnan(values[:, j]).any():
            raise AnalysisError(f"pre-period covariate {c!r} has {int(np.isnan(values[:, j]).sum())} missing values")
    if cap is not None:
        values[:, 0] = np.minimum(values[:, 0], cap)
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


def _is_binary(m: S.Moments) -> bool:
    """Whether an arm's outcome is 0/1: its sum equals its sum of squares and its mean lies in [0, 1]."""
    return bool(m.sums[0] == m.cross[0, 0] and 0 <= m.sums[0] <= m.n)


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
    binary: bool | None = None,
    cap: float | None = None,
) -> EffectResult:
    """Return the effect of treated moments ``t`` against control moments ``c``.

    Parameters
    ----------
    t, c : Moments
        Sufficient statistics of the treated and the control arm (outcome first, then covariates).
    kind : {"absolute", "relative", "cuped"}
        Difference of means; relative lift; CUPED-adjusted difference with theta from the pooled moments.
    arm, control, metric : str
        Labels for the result.
    alpha : float
        Level of the interval and test, in (0, 1).
    sides : {1, 2}
        Two-sided, or one-sided (``H1: effect > 0``).
    covariates : sequence of str
        Names of the covariates in the moments (required for ``kind="cuped"``).
    binary : bool, optional
        Whether the outcome is 0/1; default inferred from the moments (sum equal to the sum of squares in
        both arms).
    cap : float, optional
        The value the outcome was capped at before the moments were taken (recorded in the result).

    Returns
    -------
    EffectResult

    Raises
    ------
    AnalysisError
        When alpha or sides is out of range, an arm has fewer than 2 customers, every outcome is identical, a
        mean is not positive (relative effect of a continuous metric) or CUPED has no usable covariate.

    Notes
    -----
    A binary metric gets methods made for small counts: the score (pooled) z-test, Newcombe's hybrid score
    interval for the difference and the MOVER-R interval for the ratio (:mod:`~churnlab.experiment.stats.counts`),
    and for CUPED the adjusted variance under the null (pooled over arms). With a 10% holdout of 100 customers
    and a 5% base rate they hold the 5% level where Wald's test rejects 8% of A/A tests (benchmarks/RESULTS.md).
    A continuous metric gets Welch's z; its relative effect is interval-estimated on the log scale
    (:func:`~churnlab.experiment.stats.log_ratio_effect`) so the interval never passes -100%.

    Examples
    --------
    >>> t = S.moments([1.0] * 72 + [0.0] * 28)
    >>> c = S.moments([1.0] * 70 + [0.0] * 30)
    >>> round(effect(t, c).estimate, 2)
    0.02
    """
    alpha, sides = check_alpha(alpha), check_sides(sides)
    if kind not in KINDS:
        raise AnalysisError(f"unknown effect kind {kind!r}; expected one of {KINDS}")
    if binary is None:
        binary = _is_binary(t) and _is_binary(c)
    var_raw = t.var_y / t.n + c.var_y / c.n
    reduction = 0.0
    mt, mc, vt, vc = t.mean_y, c.mean_y, t.var_y, c.var_y
    if kind == "absolute" and binary:
        est, se, lo, hi, p = S.score_difference(t.sums[0], t.n, c.sums[0], c.n, alpha, sides)
    elif kind == "absolute":
        est, se = S.absolute_effect(mt, vt, t.n, mc, vc, c.n)
        lo, hi, p = _interval(est, se, alpha, sides)
    elif kind == "relative" and binary:
        est, se, lo, hi, p = S.score_ratio(t.sums[0], t.n, c.sums[0], c.n, alpha, sides)
    elif kind == "relative":
        log_ratio, log_se = S.log_ratio_effect(mt, vt, t.n, mc, vc, c.n)
        z = S.z_critical(alpha, sides)
        est, se = float(np.expm1(log_ratio)), float(np.exp(log_ratio) * log_se)
        lo = float(np.expm1(log_ratio - z * log_se))
        hi = float(np.expm1(log_ratio + z * log_se)) if sides == 2 else float("inf")
        p = S.p_value_from_z(log_ratio / log_se, sides)
    else:
        if not covariates:
            raise AnalysisError("CUPED needs at least one pre-period covariate")
        pooled = t + c
        theta = S.cuped_theta(pooled)
        xbar = pooled.mean[1:]
        mt, vt = S.cuped_adjusted(t, theta, xbar)
        mc, vc = S.cuped_adjusted(c, theta, xbar)
        if binary:
            # variance under the null: the adjusted outcome pooled over both arms (as the score test does)
            v0 = S.cuped_adjusted(pooled, theta, xbar)[1]
            est, se = S.absolute_effect(mt, v0, t.n, mc, v0, c.n)
        else:
            est, se = S.absolute_effect(mt, vt, t.n, mc, vc, c.n)
        reduction = 1 - se**2 / var_raw if var_raw > 0 else 0.0
        lo, hi, p = _interval(est, se, alpha, sides)
    return EffectResult(arm, control, metric, kind, float(est), float(se), float(lo), float(hi), float(p), alpha,
                        sides, int(t.n), int(c.n), float(mt), float(mc), tuple(covariates), float(reduction),
                        var_treatment=float(vt), var_control=float(vc), binary=bool(binary),
                        cap=None if cap is None else float(cap))


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
    cap_quantile: float | None = DEFAULT_CAP_QUANTILE,
    check_srm: bool = True,
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
    cap_quantile : float or None
        Non-binary metrics are capped at this pooled quantile before the analysis (default 0.99, OPINIONS.md
        "Heavy-tailed metrics"); None analyses the raw values.
    check_srm : bool
        False records the SRM check without blocking on it (an explicit override; the default blocks).

    Returns
    -------
    ExperimentResult

    Raises
    ------
    SampleRatioMismatchError
        When the arm sizes contradict the plan: no verdict is given on a broken allocation.
    AnalysisError
        When an arm has no customers, the control arm is not in the plan, every outcome is identical, a
        metric or pre-period covariate is missing, a row has no arm, a customer appears twice, or alpha,
        sides, srm_alpha or cap_quantile is out of range.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> arm = np.where(rng.random(4000) < 0.1, "none", "discount")
    >>> t = pd.DataFrame({"arm": arm, "retained_90": (rng.random(4000) < 0.7).astype(float)})
    >>> res = analyze(t, ["retained_90"], {"none": 0.1, "discount": 0.9})
    >>> res.summary[["arm", "kind"]].values.tolist()
    [['discount', 'absolute'], ['discount', 'relative']]
    """
    check_alpha(alpha)
    check_sides(sides)
    if control not in planned:
        raise AnalysisError(f"control arm {control!r} is not in the plan {list(planned)}")
    check_outcomes(outcomes, arm_col)
    present = set(pd.unique(outcomes[arm_col]))
    for a in planned:
        if a not in present:
            raise AnalysisError(f"arm {a!r} has no customers")
    srm = srm_check(outcomes, planned, arm_col=arm_col, alpha=srm_alpha)
    if check_srm:
        srm.raise_if_failed()
    if kinds is None:
        kinds = ("absolute", "relative", "cuped") if covariates else ("absolute", "relative")
    if "cuped" in kinds and not covariates:
        raise AnalysisError("CUPED requested without pre-period covariates")
    arms = [a for a in planned if a != control]
    effects: list[EffectResult] = []
    for metric in metrics:
        cap = metric_cap(outcomes, metric, list(planned), arm_col=arm_col, quantile=cap_quantile)
        mom = arm_moments(outcomes, metric, list(planned), arm_col=arm_col,
                          covariates=covariates if "cuped" in kinds else (), cap=cap)
        for a in arms:
            for k in kinds:
                effects.append(effect(mom[a], mom[control], kind=k, arm=a, control=control, metric=metric,
                                      alpha=alpha, sides=sides, covariates=covariates if k == "cuped" else (),
                                      cap=cap))
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
    planned: Mapping[str, float] | None = None,
    srm_alpha: float = DEFAULT_SRM_ALPHA,
    check_srm: bool = True,
    cap_quantile: float | None = DEFAULT_CAP_QUANTILE,
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

    planned : mapping of str to float, optional
        Planned share per arm for the SRM gate on the whole table (default ``outcomes.attrs["planned_shares"]``).
    srm_alpha : float
        SRM gate threshold.
    check_srm : bool
        False skips the SRM gate (an explicit override).
    cap_quantile : float or None
        Pooled quantile at which a non-binary metric is capped, the same cap in every group (None: raw values).

    Returns
    -------
    DataFrame
        One row per group x arm: ``group, arm, n_treatment, n_control, estimate, ci_lower, ci_upper, p, note``.

    Raises
    ------
    SampleRatioMismatchError
        When the arm sizes contradict the plan.
    AnalysisError
        When a column is missing, no plan is known for the SRM gate, a row has no arm or a customer appears twice.
    """
    require_columns(outcomes, [arm_col, metric, by], "columns")
    check_alpha(alpha)
    check_outcomes(outcomes, arm_col)
    srm_gate(outcomes, planned, arm_col=arm_col, alpha=srm_alpha, check=check_srm, caller="effects_by")
    arms = [a for a in pd.unique(outcomes[arm_col]) if a != control]
    arms = sorted(arms, key=str)
    cap = metric_cap(outcomes, metric, [*arms, control], arm_col=arm_col, quantile=cap_quantile)
    rows = []
    for g, part in outcomes.groupby(by, sort=True, observed=True):
        labels = part[arm_col].to_numpy()
        y = part[metric].to_numpy(dtype=float)
        if cap is not None:
            y = np.minimum(y, cap)
        yc = y[labels == control]
        for a in arms:
            yt = y[labels == a]
            row = {"group": g, "arm": a, "n_treatment": len(yt), "n_control": len(yc), "estimate": np.nan,
                   "ci_lower": np.nan, "ci_upper": np.nan, "p": np.nan, "note": ""}
            if len(yt) < min_per_arm or len(yc) < min_per_arm:
                row["note"] = f"fewer than {min_per_arm} customers in an arm"
            else:
                try:
                    r = effect(S.moments(yt), S.moments(yc), arm=a, control=control, metric=metric, alpha=alpha,
                               cap=cap)
                    row.update(estimate=r.estimate, ci_lower=r.ci_lower, ci_upper=r.ci_upper, p=r.p)
                except AnalysisError as exc:
                    row["note"] = str(exc)
            rows.append(row)
    return pd.DataFrame(rows, columns=["group", "arm", "n_treatment", "n_control", "estimate", "ci_lower",
                                       "ci_upper", "p", "note"])
