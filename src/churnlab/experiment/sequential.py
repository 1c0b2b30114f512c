"""Peeking at a running experiment: the always-valid mSPRT on effects and on the log-rank statistic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churnlab.errors import AnalysisError
from churnlab.experiment import stats as S
from churnlab.experiment.assign import HOLDOUT
from churnlab.experiment.checks import DEFAULT_ALPHA, DEFAULT_SRM_ALPHA, check_alpha, check_outcomes, require_columns
from churnlab.experiment.effects import effect
from churnlab.experiment.results import Result
from churnlab.experiment.srm import srm_gate

__all__ = ["DEFAULT_LOGRANK_TAU2", "SequentialResult", "sequential_test", "sequential_looks", "sequential_logrank"]

# OPINIONS.md, "Sequential test": mixture scale of the mSPRT on the log hazard ratio (hazard ratios ~0.8-1.2).
DEFAULT_LOGRANK_TAU2 = 0.2**2


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
    check_alpha(alpha)
    est = np.asarray(estimate, dtype=float)
    s = np.asarray(se, dtype=float)
    if not (np.isfinite(tau2) and tau2 > 0):
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
    planned: Mapping[str, float] | None = None,
    srm_alpha: float = DEFAULT_SRM_ALPHA,
    check_srm: bool = True,
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
    planned : mapping of str to float, optional
        Planned share per arm for the SRM gate (default ``outcomes.attrs["planned_shares"]``).
    srm_alpha : float
        SRM gate threshold.
    check_srm : bool
        False skips the SRM gate (an explicit override).

    Returns
    -------
    SequentialResult

    Raises
    ------
    SampleRatioMismatchError
        When the arm sizes contradict the plan.
    AnalysisError
        When a column is missing, no plan is known for the SRM gate, a row has no arm, a customer appears
        twice, or a parameter is out of range.
    """
    require_columns(outcomes, [arm_col, metric, order_col], "columns")
    check_alpha(alpha)
    if not (isinstance(n_looks, int) and n_looks >= 1):
        raise AnalysisError(f"n_looks must be a positive integer, got {n_looks!r}")
    check_outcomes(outcomes, arm_col)
    srm_gate(outcomes, planned, arm_col=arm_col, alpha=srm_alpha, check=check_srm, caller="sequential_looks")
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
    planned: Mapping[str, float] | None = None,
    srm_alpha: float = DEFAULT_SRM_ALPHA,
    check_srm: bool = True,
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
    planned : mapping of str to float, optional
        Planned share per arm for the SRM gate (default ``outcomes.attrs["planned_shares"]``).
    srm_alpha : float
        SRM gate threshold.
    check_srm : bool
        False skips the SRM gate (an explicit override).

    Returns
    -------
    SequentialResult
        Looks with ``day``; ``estimate`` is ``U / V`` (the one-step log hazard ratio of treated vs holdout,
        negative when the offer lowers churn), ``se = 1 / sqrt(V)``; ``naive_p`` is the log-rank p-value as if
        the look were the only one, ``always_valid_p`` the mSPRT p-value that may be checked at every look.

    Raises
    ------
    SampleRatioMismatchError
        When the arm sizes contradict the plan.
    AnalysisError
        When a column is missing, no plan is known for the SRM gate, a row has no arm, a customer appears twice,
        an arm has no customer, a look lies beyond the follow-up, or no churn has happened by the first look
        (no information).

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
    require_columns(outcomes, [arm_col, duration_col, event_col], "columns")
    check_alpha(alpha)
    check_outcomes(outcomes, arm_col)
    srm_gate(outcomes, planned, arm_col=arm_col, alpha=srm_alpha, check=check_srm, caller="sequential_logrank")
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
