"""Planning values of a campaign before it is sent: base rate and CUPED correlation, and the audience an effect needs.

The numbers a power calculation needs are measured on the campaign's own data: :func:`planning_values` moves
the campaign back by one horizon and measures, on the audience the same rule would have picked then, how
often the outcome happened and how much of it the pre-period covariates explain. :func:`audience_for_effect`
turns them into the audience a given effect needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as _st

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.experiment.assign import HOLDOUT
from churnlab.experiment.campaign import (
    PRE_COVARIATES,
    at_risk_audience,
    campaign_outcomes,
    churned_customers,
    pre_period_covariates,
    reactivation_outcomes,
)
from churnlab.experiment.results import Result
from churnlab.experiment.stats.power import score_sample_size
from churnlab.schema import Dataset

__all__ = ["PlanningValues", "planning_values", "audience_for_effect"]


@dataclass(frozen=True, repr=False)
class PlanningValues(Result):
    """Base rate and CUPED correlation of the primary metric, measured on a backtest before the campaign.

    Attributes
    ----------
    metric : str
        ``retained_<d>`` or ``reactivated``.
    backtest_date : Timestamp
        The campaign date moved back by the horizon: the backtest's outcome window ends at the campaign date.
    n : int
        Customers in the backtest audience.
    base_rate : float
        Share with the outcome (retained, or reactivated) in the backtest.
    r2 : float
        Share of the outcome's variance the pre-period covariates explain (OLS R², the CUPED variance cut);
        ``rho = sqrt(r2)``.
    covariates : tuple of str
        The pre-period covariates.
    audience : str
        How the backtest audience was chosen.
    """

    metric: str
    backtest_date: pd.Timestamp
    n: int
    base_rate: float
    r2: float
    covariates: tuple[str, ...] = ()
    audience: str = ""

    @property
    def rho(self) -> float:
        """Multiple correlation of the outcome with the covariates, ``sqrt(r2)``."""
        return float(np.sqrt(max(self.r2, 0.0)))

    @property
    def summary(self) -> pd.DataFrame:
        """One row: ``metric, backtest_date, n, base_rate, rho, variance_ratio``."""
        return pd.DataFrame({"metric": [self.metric], "backtest_date": [self.backtest_date], "n": [self.n],
                             "base_rate": [self.base_rate], "rho": [self.rho], "variance_ratio": [1 - self.r2]})

    def _headline(self) -> str:
        return f"{self.metric} base {self.base_rate:.3f}, rho {self.rho:.2f} on {self.n:,} customers"

    def _settings(self) -> dict[str, object]:
        return {"backtest": str(pd.Timestamp(self.backtest_date).date()), "audience": self.audience}


def _r_squared(y: np.ndarray, x: np.ndarray) -> float:
    """OLS R² of ``y`` on ``x`` with an intercept (0 when ``y`` or every column of ``x`` is constant).

    Notes
    -----
    CUPED with several covariates and theta fitted by least squares cuts the variance of the outcome by this
    share (Deng et al. 2013, sec. 3.3: ``Var(Y_cv) = Var(Y)(1 - R^2)``).
    """
    keep = np.nanstd(x, axis=0) > 0
    if y.std() == 0 or not keep.any():
        return 0.0
    design = np.column_stack([np.ones(len(y)), x[:, keep]])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    return float(max(0.0, 1 - resid.var() / y.var()))


def planning_values(
    dataset: Dataset,
    campaign_date,
    *,
    horizon_days: int = 90,
    metric: str | None = None,
    target_share: float = 0.5,
    winback_days: int | None = None,
    covariates: Sequence[str] = PRE_COVARIATES,
) -> PlanningValues:
    """Estimate the primary metric's base rate and CUPED correlation from the data before the campaign.

    The backtest moves the campaign back by one horizon, ``t0 = campaign_date - horizon_days``, takes the
    audience the campaign's rule would have picked then (the riskiest ``target_share`` of the customers active
    at ``t0`` by days since the last session; or, for win-back, those who had churned in the ``winback_days``
    before ``t0``), and measures the outcome over ``(t0, campaign_date]`` and its covariates before ``t0``:
    everything it reads is observed by the campaign date.

    Parameters
    ----------
    dataset : Dataset
        Needs ``customers``, ``subscriptions``, ``events`` and ``payments`` from at least ``horizon_days``
        before the campaign (plus 90 days for the covariates).
    campaign_date : timestamp
        The planned campaign date; data after it are never read.
    horizon_days : int
        Horizon of the primary metric.
    metric : str, optional
        ``retained_<horizon_days>`` (default) or ``reactivated``.
    target_share : float
        Share of the active customers the retention audience takes.
    winback_days : int, optional
        Win-back: churned within this many days (``reactivated`` only; default 180).
    covariates : sequence of str
        Pre-period covariates of CUPED.

    Returns
    -------
    PlanningValues

    Raises
    ------
    AnalysisError
        When the horizon is not positive, the metric is not a binary campaign metric, or the data hold no
        customer for the backtest (too little history before the campaign).

    References
    ----------
    .. [1] Deng A, Xu Y, Kohavi R, Walker T (2013) Improving the Sensitivity of Online Controlled Experiments
       by Utilizing Pre-Experiment Data. WSDM 2013.
    """
    if not (isinstance(horizon_days, (int, np.integer)) and horizon_days > 0):
        raise AnalysisError(f"horizon_days: expected a positive whole number of days, got {horizon_days!r}")
    metric = metric or f"retained_{horizon_days}"
    t = pd.Timestamp(campaign_date)
    t0 = t - pd.Timedelta(days=int(horizon_days))
    past = Dataset(dataset.name, {k: v for k, v in dataset.tables.items()}, as_of=t, source=dataset.source,
                   kind=dataset.kind)
    try:
        if metric == "reactivated":
            lost = churned_customers(past, t0, within_days=winback_days or 180)
            if lost.empty:
                raise AnalysisError("no churned customer")
            table = reactivation_outcomes(past, lost.assign(arm=HOLDOUT), t0, horizon_days=int(horizon_days))
            how = f"churned in the {winback_days or 180} days before {t0.date()}"
        elif metric.startswith("retained_"):
            audience = at_risk_audience(past, t0, share=target_share)
            table = campaign_outcomes(past, audience.assign(arm=HOLDOUT), t0, horizons=[int(metric.split("_")[1])])
            how = f"riskiest {target_share:.0%} at {t0.date()} by days since the last session"
        else:
            raise AnalysisError(f"metric: expected retained_<days> or reactivated, got {metric!r}")
    except AnalysisError as exc:
        if str(exc).startswith("metric:"):
            raise
        raise AnalysisError(f"planning values: no backtest audience at {t0.date()} ({exc}); give base_rate and "
                            "rho by hand") from exc
    cov = pre_period_covariates(past, table[C.CUSTOMER_ID], t0)
    x = cov[list(covariates)].to_numpy(dtype=float)
    y = table[metric].to_numpy(dtype=float)
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x) if len(x) else x
    return PlanningValues(metric, t0, int(len(table)), float(y.mean()), _r_squared(y, np.nan_to_num(x)),
                          tuple(covariates), how)


def audience_for_effect(
    effect: float,
    base_rate: float,
    arm_share: float,
    holdout_share: float,
    *,
    rho: float = 0.0,
    alpha: float = 0.05,
    target_power: float = 0.8,
    sides: int = 2,
    test: str = "score",
) -> int:
    """Return the audience size at which one arm against the holdout detects ``effect`` with ``target_power``.

    Parameters
    ----------
    effect : float
        Absolute effect on the binary primary metric (e.g. 0.03 for +3 points).
    base_rate : float
        Rate in the holdout, strictly between 0 and 1.
    arm_share, holdout_share : float
        Planned shares of the whole audience in the arm and in the holdout.
    rho : float
        CUPED correlation (variance ratio ``1 - rho^2``).
    alpha, target_power : float
        Level and power.
    sides : {1, 2}
        Sidedness.
    test : {"score", "wald"}
        The test the analysis runs (the score test on a binary metric, as :func:`churnlab.experiment.plan_power`)
        or the Wald z-test.

    Returns
    -------
    int
        Score test: ``N = (1 - rho^2) (z_{1-alpha/sides} sigma0 + z_{power} sigma1)^2 / effect^2`` rounded up
        (:func:`~churnlab.experiment.stats.power.score_sample_size`); Wald:
        ``N = (z_{1-alpha/sides} + z_{power})^2 (1 - rho^2) (v_t / s_t + v_c / s_c) / effect^2``, with
        ``v = p (1 - p)`` at ``p_c = base_rate`` and ``p_t = base_rate + effect`` and ``s`` the shares.

    Raises
    ------
    AnalysisError
        When a share, the base rate, ``rho``, ``alpha`` or the power is outside its range or the effect is zero
        or leaves [0, 1].

    References
    ----------
    .. [1] Chow SC, Shao J, Wang H (2008) Sample Size Calculations in Clinical Research, 2nd ed., sec. 4.2.
    .. [2] Fleiss JL, Levin B, Paik MC (2003) Statistical Methods for Rates and Proportions, 3rd ed., eq. 4.14.

    Examples
    --------
    +2 points on 70% at 10/90 with one arm (20,000 customers give 47% power; 80% needs more):

    >>> n = audience_for_effect(0.02, 0.70, 0.9, 0.1)
    >>> from churnlab.experiment import plan_power
    >>> n, round(plan_power(n, 0.9, 0.70, 0.02).power, 3)
    (44581, 0.8)
    >>> audience_for_effect(0.02, 0.70, 0.9, 0.1, test="wald")
    45602
    """
    checks = [("arm_share", arm_share, 0, 1), ("holdout_share", holdout_share, 0, 1), ("base_rate", base_rate, 0, 1),
              ("alpha", alpha, 0, 1), ("target_power", target_power, 0, 1)]
    for name, value, lo, hi in checks:
        if not (np.isfinite(value) and lo < value < hi):
            raise AnalysisError(f"{name}: expected a number strictly between {lo} and {hi}, got {value!r}")
    if not (np.isfinite(rho) and 0 <= abs(rho) < 1):
        raise AnalysisError(f"rho: expected a correlation in [0, 1), got {rho!r}")
    if sides not in (1, 2):
        raise AnalysisError(f"sides: expected 1 or 2, got {sides!r}")
    p_t = base_rate + effect
    if not (np.isfinite(effect) and effect != 0 and 0 <= p_t <= 1):
        raise AnalysisError(f"effect: expected a non-zero effect keeping {base_rate} + effect in [0, 1], "
                            f"got {effect!r}")
    if test == "score":
        return score_sample_size(base_rate, effect, arm_share, holdout_share, alpha, target_power, sides,
                                 variance_ratio=1 - rho**2)
    if test != "wald":
        raise AnalysisError(f"test: expected 'score' or 'wald', got {test!r}")
    z = _st.norm.ppf(1 - alpha / sides) + _st.norm.ppf(target_power)
    v = p_t * (1 - p_t) / arm_share + base_rate * (1 - base_rate) / holdout_share
    return int(np.ceil(z**2 * (1 - rho**2) * v / effect**2))
