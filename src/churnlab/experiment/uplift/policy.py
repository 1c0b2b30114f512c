"""Targeting policies: which offer each customer should get, and what a policy is worth.

Profit-based recommendation, inverse-propensity and doubly robust policy value, the standard-error floor
and the paired policy comparison.

The propensities are the experiment's planned shares (known by design), so the estimates need no
propensity model; they are evaluated on held-out or cross-fitted customers only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churnlab.errors import AnalysisError
from churnlab.experiment.assign import HOLDOUT
from churnlab.experiment.results import Result

__all__ = ["recommend_policy", "policy_value", "policy_value_dr", "policy_gain_se_floor", "PolicyComparison",
           "compare_policies"]


def recommend_policy(
    uplift: pd.DataFrame, costs: Mapping[str, float], value_per_retained: float | Sequence[float], *,
    control: str = HOLDOUT,
) -> pd.Series:
    """Return the offer with the highest expected profit per customer, or the holdout when none pays.

    Parameters
    ----------
    uplift : DataFrame
        One column per offer arm with the predicted uplift in retention probability, one row per customer.
    costs : mapping of str to float
        Offer cost per treated customer.
    value_per_retained : float or array-like
        Value of one retained customer (a number, or one per row such as fee x months).
    control : str
        Label of "no offer".

    Returns
    -------
    Series
        Arm per row (index of ``uplift``).

    Notes
    -----
    Expected profit of offer ``a`` for customer ``i``: ``tau_a(x_i) value_i - cost_a``; no offer has profit 0.
    """
    v = np.asarray(value_per_retained, dtype=float)
    profit = uplift.mul(v, axis=0) - pd.Series({a: costs.get(a, 0.0) for a in uplift.columns})
    best = profit.idxmax(axis=1)
    return best.where(profit.max(axis=1) > 0, control)


def policy_value(
    test: pd.DataFrame, policy: Sequence[str], planned: Mapping[str, float], costs: Mapping[str, float],
    value_per_retained: float | Sequence[float], *, outcome: str, arm_col: str = "arm", control: str = HOLDOUT,
) -> np.ndarray:
    """Return per-customer inverse-propensity contributions to a policy's profit on held-out customers.

    Parameters
    ----------
    test : DataFrame
        Held-out experimental customers: ``arm_col`` and ``outcome``.
    policy : sequence of str
        Recommended arm per row of ``test``.
    planned : mapping of str to float
        Planned shares (the known propensities).
    costs : mapping of str to float
        Cost per treated customer per offer.
    value_per_retained : float or array-like
        Value of a retained customer (per row or a number).
    outcome : str
        Binary retention outcome.
    arm_col, control : str
        Arm column and holdout.

    Returns
    -------
    numpy.ndarray
        ``1[a_i = pi(x_i)] / e(a_i) (value_i y_i - cost(a_i))`` minus the same for "no offer"; its mean is the
        expected profit per customer of the policy over treating no one.

    References
    ----------
    .. [1] Dudik M, Langford J, Li L (2011) Doubly Robust Policy Evaluation and Learning. ICML 2011, eq. (1)
       (the inverse-propensity term).
    """
    a = test[arm_col].to_numpy()
    pi = np.asarray(policy)
    y = test[outcome].to_numpy(dtype=float)
    v = np.broadcast_to(np.asarray(value_per_retained, dtype=float), y.shape)
    e = np.array([planned[x] for x in a])
    cost = np.array([costs.get(x, 0.0) if x != control else 0.0 for x in a])
    gain = v * y - cost
    follow = (a == pi) / e * gain
    base = (a == control) / planned[control] * (v * y)
    return follow - base


def policy_value_dr(
    test: pd.DataFrame, policy: Sequence[str], planned: Mapping[str, float], costs: Mapping[str, float],
    value_per_retained: float | Sequence[float], outcome_model: pd.DataFrame, *, outcome: str, arm_col: str = "arm",
    control: str = HOLDOUT,
) -> np.ndarray:
    """Return per-customer doubly robust contributions to a policy's profit over treating no one.

    Parameters
    ----------
    test, policy, planned, costs, value_per_retained, outcome, arm_col, control
        As in :func:`policy_value`.
    outcome_model : DataFrame
        Predicted outcome probability per row of ``test`` under each arm (one column per arm including
        ``control``), fitted without the row's own outcome (e.g. :attr:`CrossFitted.outcome`).

    Returns
    -------
    numpy.ndarray
        ``Gamma_i(pi(x_i)) - Gamma_i(control)`` with the augmented score
        ``Gamma_i(a) = g(x_i, a) + 1[a_i = a] / e(a) (gain_i - g(x_i, a))``, where ``g(x, a) = value mu(x, a) -
        cost(a)`` and ``gain_i = value_i y_i - cost(a_i)``; its mean estimates the policy's profit per customer.

    Notes
    -----
    The allocation is known, so the estimate is unbiased whatever the outcome model, as long as it never saw
    the customer's outcome; a good outcome model removes most of the inverse-propensity noise, which at a
    10% holdout is large (each holdout customer weighs 10).

    References
    ----------
    .. [1] Dudik M, Langford J, Li L (2011) Doubly Robust Policy Evaluation and Learning. ICML 2011, sec. 2
       (the doubly robust estimator).
    .. [2] Athey S, Wager S (2021) Policy Learning With Observational Data. Econometrica 89(1), eq. (9).
    """
    a = test[arm_col].to_numpy()
    pi = np.asarray(policy)
    y = test[outcome].to_numpy(dtype=float)
    v = np.broadcast_to(np.asarray(value_per_retained, dtype=float), y.shape)
    missing = sorted({*pd.unique(pi), control} - set(outcome_model.columns))
    if missing:
        raise AnalysisError(f"the outcome model has no prediction for arms {missing}")
    if len(outcome_model) != len(test) or outcome_model.isna().to_numpy().any():
        raise AnalysisError("the outcome model needs one complete row of predictions per customer")
    mu = outcome_model.to_numpy(dtype=float)
    col = {c: j for j, c in enumerate(outcome_model.columns)}
    rows = np.arange(len(y))
    cost_of = np.vectorize(lambda x: 0.0 if x == control else float(costs.get(x, 0.0)), otypes=[float])
    e = np.array([planned[x] for x in a])

    observed = np.array([col.get(x, -1) for x in a])
    # the correction term needs mu at the arm received only where that arm is the target (so it is a column)
    residual = np.where(observed >= 0, v * (y - mu[rows, np.maximum(observed, 0)]), 0.0)

    def gamma(target: np.ndarray) -> np.ndarray:
        g = v * mu[rows, [col[x] for x in target]] - cost_of(target)
        return g + (a == target) / e * residual

    return gamma(pi) - gamma(np.full(len(y), control, dtype=object))


def policy_gain_se_floor(
    test: pd.DataFrame, policy: Sequence[str], baseline: Sequence[str], planned: Mapping[str, float],
    value_per_retained: float | Sequence[float], outcome_model: pd.DataFrame, *, n_audience: int | None = None,
    arm_col: str = "arm",
) -> float:
    """Return the standard error of a policy's gain over a baseline that no outcome model can remove.

    Parameters
    ----------
    test : DataFrame
        Experimental customers with ``arm_col`` (the arm received).
    policy, baseline : sequence of str
        Recommended arm per row under the policy and under the baseline.
    planned : mapping of str to float
        Planned shares (the known propensities).
    value_per_retained : float or array-like
        Value of a retained customer (per row or a number).
    outcome_model : DataFrame
        Retention probability per row under each arm received (one column per arm): the world's true
        probabilities give the exact floor; a fitted model's (:attr:`CrossFitted.outcome`) estimate it.
    n_audience : int, optional
        Audience size the total gain is scaled to (default ``len(test)``), as in :func:`compare_policies`.
    arm_col : str
        Arm column.

    Returns
    -------
    float
        ``n_audience / n * sqrt(sum_i w_i^2 value_i^2 mu_i (1 - mu_i))`` with ``w_i = (1[a_i = pi(x_i)] -
        1[a_i = b(x_i)]) / e(a_i)`` and ``mu_i`` the retention probability under the arm received.

    Notes
    -----
    The doubly robust contribution (:func:`policy_value_dr`) of customer ``i`` is linear in the outcome with
    coefficient ``w_i value_i``, whatever the outcome model; even the true model leaves this Bernoulli noise,
    so the estimate's standard error never falls below the floor [1]_. At a 10% holdout ``w_i = 10`` for a
    holdout customer the two policies treat differently: when the floor is of the size of the gain, the gain
    cannot be told from zero at this audience size. The floor grows like ``sqrt(n)`` and the total gain like
    ``n``, so an interval of half-width ``z`` floors excludes zero once ``n >= n_now (z floor / gain)^2``.

    References
    ----------
    .. [1] Hahn J (1998) On the role of the propensity score in efficient semiparametric estimation of average
       treatment effects. Econometrica 66(2), theorem 1 (the ``sigma^2(x) / e`` terms of the bound).

    Examples
    --------
    >>> import pandas as pd
    >>> test = pd.DataFrame({"arm": ["none", "offer"]})
    >>> mu = pd.DataFrame({"offer": [0.5, 0.5], "none": [0.5, 0.5]})
    >>> policy_gain_se_floor(test, ["none", "none"], ["offer", "offer"], {"none": 0.1, "offer": 0.9}, 1.0, mu)
    5.03...
    """
    a = test[arm_col].to_numpy()
    pi, b = np.asarray(policy), np.asarray(baseline)
    missing = sorted(set(pd.unique(a)) - set(outcome_model.columns))
    if missing:
        raise AnalysisError(f"the outcome model has no prediction for arms {missing}")
    if len(outcome_model) != len(test):
        raise AnalysisError("the outcome model needs one row of predictions per customer")
    e = np.array([planned[x] for x in a])
    v = np.broadcast_to(np.asarray(value_per_retained, dtype=float), a.shape)
    col = {c: j for j, c in enumerate(outcome_model.columns)}
    mu = outcome_model.to_numpy(dtype=float)[np.arange(len(a)), [col[x] for x in a]]
    w = ((a == pi).astype(float) - (a == b)) / e
    scale = (n_audience or len(test)) / len(test)
    return float(scale * np.sqrt(np.sum((w * v) ** 2 * mu * (1 - mu))))


@dataclass(frozen=True, repr=False)
class PolicyComparison(Result):
    """Expected profit of targeting policies over treating no one, on held-out customers.

    Attributes
    ----------
    table : DataFrame
        One row per policy: ``policy, share_treated, profit, profit_se, profit_lower, profit_upper`` (total over
        the audience of ``n_audience`` customers) and ``gain_vs_baseline, gain_se, gain_lower, gain_upper``
        (paired bootstrap; ``_se`` is the bootstrap standard deviation).
    n_audience : int
        Customers the profit is scaled to.
    alpha : float
        Level of the bootstrap intervals.
    estimator : str
        ``inverse propensity`` or ``doubly robust``.
    """

    table: pd.DataFrame = field(repr=False)
    n_audience: int
    alpha: float = 0.05
    estimator: str = "inverse propensity"

    @property
    def summary(self) -> pd.DataFrame:
        """The policy table."""
        return self.table.copy()

    def _headline(self) -> str:
        best = self.table.loc[self.table["profit"].idxmax()]
        return f"{len(self.table)} policies, best {best['policy']} profit {best['profit']:.0f}"

    def _settings(self) -> dict[str, object]:
        return {"alpha": self.alpha, "n": self.n_audience, "estimator": f"{self.estimator}, paired bootstrap CI"}

    def plot(self, ax=None):
        """Bars of expected profit per policy with intervals."""
        from churnlab.plots.experiment import plot_policy_profit

        return plot_policy_profit(self.table, ax=ax)


def compare_policies(
    test: pd.DataFrame, policies: Mapping[str, Sequence[str]], planned: Mapping[str, float],
    costs: Mapping[str, float], value_per_retained: float | Sequence[float], *, outcome: str,
    n_audience: int | None = None, baseline: str = "treat-all", arm_col: str = "arm", control: str = HOLDOUT,
    n_boot: int = 500, alpha: float = 0.05, seed: int = 0, outcome_model: pd.DataFrame | None = None,
) -> PolicyComparison:
    """Compare policies' expected profit with paired bootstrap intervals and gains vs a baseline.

    Parameters
    ----------
    test : DataFrame
        Held-out experimental customers.
    policies : mapping of str to sequence of str
        Policy name to recommended arm per row of ``test``.
    planned, costs, value_per_retained, outcome, arm_col, control
        As in :func:`policy_value`.
    n_audience : int, optional
        Audience size the per-customer profit is scaled to (default ``len(test)``).
    baseline : str
        Policy the gains are measured against.
    n_boot : int
        Bootstrap resamples of customers (paired across policies).
    alpha : float
        Level of intervals.
    seed : int
        Seed of the bootstrap.
    outcome_model : DataFrame, optional
        Out-of-fold outcome probabilities per arm (:attr:`CrossFitted.outcome`): the estimate becomes doubly
        robust (:func:`policy_value_dr`); without it, inverse propensity (:func:`policy_value`).

    Returns
    -------
    PolicyComparison

    Notes
    -----
    Every policy's contributions are resampled with the same customers, so the gain over the baseline has a
    paired interval: customers both policies treat alike contribute exactly zero to it.

    What the interval covers: the policy's true profit over customers like these, across re-randomisations of
    the assignment and of the outcomes (the bootstrap resamples customers, who each carry their own arm). It is
    not an interval conditional on the one assignment realised: given the assignment, the doubly robust
    estimate is off by a fixed amount, the outcome model's misfit ``value_i (p_i(a) - mu(x_i, a))`` (``p`` the
    true retention probability) weighted by ``1[a_i = a] / e(a) - 1``, which averages to zero only over
    assignments. Checked on the synthetic world in
    ``benchmarks/ab_validity.py`` (coverage of the true gain under re-randomised assignment and outcomes).
    Where the gain is small, :func:`policy_gain_se_floor` tells whether any outcome model could make it
    distinguishable from zero at this audience size.

    References
    ----------
    .. [1] Efron B, Tibshirani RJ (1993) An Introduction to the Bootstrap. Chapman & Hall, ch. 13 (percentile
       interval).
    """
    if baseline not in policies:
        raise AnalysisError(f"baseline policy {baseline!r} is not among {list(policies)}")
    n_aud = int(n_audience or len(test))
    if outcome_model is None:
        contrib = {k: policy_value(test, p, planned, costs, value_per_retained, outcome=outcome, arm_col=arm_col,
                                   control=control) for k, p in policies.items()}
    else:
        contrib = {k: policy_value_dr(test, p, planned, costs, value_per_retained, outcome_model.reset_index(drop=True),
                                      outcome=outcome, arm_col=arm_col, control=control) for k, p in policies.items()}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(test), (n_boot, len(test)))
    rows = []
    base_boot = contrib[baseline][idx].mean(axis=1)
    for k, c in contrib.items():
        boot = c[idx].mean(axis=1)
        gain = boot - base_boot
        q = [alpha / 2, 1 - alpha / 2]
        rows.append({
            "policy": k,
            "share_treated": float(np.mean(np.asarray(policies[k]) != control)),
            "profit": float(c.mean() * n_aud),
            "profit_se": float(boot.std(ddof=1) * n_aud),
            "profit_lower": float(np.quantile(boot, q[0]) * n_aud),
            "profit_upper": float(np.quantile(boot, q[1]) * n_aud),
            "gain_vs_baseline": float((c.mean() - contrib[baseline].mean()) * n_aud),
            "gain_se": float(gain.std(ddof=1) * n_aud),
            "gain_lower": float(np.quantile(gain, q[0]) * n_aud),
            "gain_upper": float(np.quantile(gain, q[1]) * n_aud),
        })
    estimator = "inverse propensity" if outcome_model is None else "doubly robust"
    return PolicyComparison(pd.DataFrame(rows), n_aud, alpha, estimator)
