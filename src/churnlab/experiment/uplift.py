"""Where each offer works: propensity-aware uplift learners, Qini curves and a targeting policy.

The experiment's allocation is known (e.g. 10% holdout, 30% per offer), so the propensity is that share,
not a model. Plain class transformation assumes a 50/50 split and is not offered (at 10/90 it predicted
0.30 for a true 0.02, FIELD_NOTES). Curves and policies are evaluated on held-out customers only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churnlab.errors import AnalysisError, ModelError
from churnlab.experiment.assign import HOLDOUT
from churnlab.experiment.results import Result

__all__ = [
    "TLearner",
    "XLearner",
    "fit_uplift_by_arm",
    "CrossFitted",
    "cross_fit_uplift",
    "qini_curve",
    "uplift_at_k",
    "recommend_policy",
    "policy_value",
    "policy_value_dr",
    "policy_gain_se_floor",
    "PolicyComparison",
    "compare_policies",
]

#: XGBoost settings of the uplift learners: shallow trees with large leaves (min_child_weight 50 is about 260
#: customers per leaf of a retention classifier at p = 0.75, 50 per leaf of a stage-2 regressor). At a 10%
#: holdout the control model sees few customers and an effect of a few points needs thousands of them per group,
#: so deeper trees fit noise that the policy then pays for (OPINIONS.md "Uplift learners' regularisation").
_XGB_DEFAULTS = {"n_estimators": 100, "max_depth": 2, "min_child_weight": 50, "learning_rate": 0.05,
                 "subsample": 0.8, "n_jobs": 1, "tree_method": "hist"}


def _xgb(kind: str, params: Mapping[str, object] | None, seed: int):
    from xgboost import XGBClassifier, XGBRegressor

    p = {**_XGB_DEFAULTS, **(params or {}), "random_state": seed}
    return XGBClassifier(**p) if kind == "clf" else XGBRegressor(**p)


def _check_xy(X, treatment, y):
    X = np.asarray(X, dtype=float)
    w = np.asarray(treatment).astype(bool)
    y = np.asarray(y, dtype=float)
    if len(X) != len(w) or len(w) != len(y):
        raise ModelError("X, treatment and y must have the same number of rows")
    for name, mask in (("treated", w), ("control", ~w)):
        if mask.sum() < 2:
            raise ModelError(f"the {name} group has fewer than 2 customers")
        if np.unique(y[mask]).size < 2:
            raise ModelError(f"the {name} group has a single outcome class: no uplift can be learned")
    return X, w, y


class TLearner:
    """Two-model uplift: ``tau(x) = mu_1(x) - mu_0(x)`` with XGBoost classifiers.

    Parameters
    ----------
    params : dict, optional
        XGBoost parameters (``n_jobs=1`` by default).
    random_state : int
        Seed of both models.

    References
    ----------
    .. [1] Kunzel SR, Sekhon JS, Bickel PJ, Yu B (2019) Metalearners for estimating heterogeneous
       treatment effects using machine learning. PNAS 116(10).
    """

    def __init__(self, params: Mapping[str, object] | None = None, random_state: int = 0):
        self.params = params
        self.random_state = random_state

    def fit(self, X, treatment, y) -> TLearner:
        """Fit one outcome model per group; return self."""
        X, w, y = _check_xy(X, treatment, y)
        self.mu0_ = _xgb("clf", self.params, self.random_state).fit(X[~w], y[~w])
        self.mu1_ = _xgb("clf", self.params, self.random_state).fit(X[w], y[w])
        return self

    def predict_uplift(self, X) -> np.ndarray:
        """Return the predicted effect on the outcome probability per row."""
        if not hasattr(self, "mu1_"):
            raise ModelError("TLearner is not fitted: call fit first")
        X = np.asarray(X, dtype=float)
        return self.mu1_.predict_proba(X)[:, 1] - self.mu0_.predict_proba(X)[:, 1]


class XLearner:
    """X-learner with the known propensity of the design.

    Parameters
    ----------
    propensity : float
        Probability of treatment given the customer is in this arm or the holdout (e.g. 0.75 for a 30%
        arm against a 10% holdout). Used as the weight ``g`` in ``tau = g tau_0 + (1 - g) tau_1``.
    params : dict, optional
        XGBoost parameters.
    random_state : int
        Seed.

    Notes
    -----
    Stage 1 fits ``mu_0, mu_1`` (kept as ``mu0_, mu1_``: outcome models for doubly robust evaluation);
    imputed effects ``D_1 = y - mu_0(x)`` on treated and ``D_0 = mu_1(x) - y`` on
    control; stage 2 regresses them into ``tau_1, tau_0`` [1]_. With few controls, ``g`` near 1 leans on
    ``tau_0``, which is learned from the small group but uses ``mu_1`` from the large one.

    References
    ----------
    .. [1] Kunzel SR, Sekhon JS, Bickel PJ, Yu B (2019) Metalearners for estimating heterogeneous
       treatment effects using machine learning. PNAS 116(10), eq. 6-9.
    """

    def __init__(self, propensity: float, params: Mapping[str, object] | None = None, random_state: int = 0):
        self.propensity = propensity
        self.params = params
        self.random_state = random_state

    def fit(self, X, treatment, y) -> XLearner:
        """Fit both stages; return self."""
        if not 0 < self.propensity < 1:
            raise ModelError(f"propensity must lie in (0, 1), got {self.propensity}")
        X, w, y = _check_xy(X, treatment, y)
        s = self.random_state
        self.mu0_ = _xgb("clf", self.params, s).fit(X[~w], y[~w])
        self.mu1_ = _xgb("clf", self.params, s).fit(X[w], y[w])
        d1 = y[w] - self.mu0_.predict_proba(X[w])[:, 1]
        d0 = self.mu1_.predict_proba(X[~w])[:, 1] - y[~w]
        self.tau1_ = _xgb("reg", self.params, s).fit(X[w], d1)
        self.tau0_ = _xgb("reg", self.params, s).fit(X[~w], d0)
        return self

    def predict_uplift(self, X) -> np.ndarray:
        """Return ``g tau_0(x) + (1 - g) tau_1(x)`` per row."""
        if not hasattr(self, "tau1_"):
            raise ModelError("XLearner is not fitted: call fit first")
        X = np.asarray(X, dtype=float)
        g = self.propensity
        return g * self.tau0_.predict(X) + (1 - g) * self.tau1_.predict(X)


def fit_uplift_by_arm(
    train: pd.DataFrame,
    features: Sequence[str],
    outcome: str,
    planned: Mapping[str, float],
    *,
    learner: str = "x",
    arm_col: str = "arm",
    control: str = HOLDOUT,
    params: Mapping[str, object] | None = None,
    random_state: int = 0,
) -> dict[str, TLearner | XLearner]:
    """Fit one uplift learner per offer arm against the holdout.

    Parameters
    ----------
    train : DataFrame
        Training customers: ``arm_col``, ``outcome`` and ``features``.
    features : sequence of str
        Pre-campaign feature columns.
    outcome : str
        Binary outcome (e.g. ``retained_90``).
    planned : mapping of str to float
        Planned shares; the propensity of arm ``a`` against the holdout is ``s_a / (s_a + s_holdout)``.
    learner : {"x", "t"}
        X-learner (default) or T-learner.
    arm_col, control : str
        Arm column and holdout arm.
    params : dict, optional
        XGBoost parameters.
    random_state : int
        Seed.

    Returns
    -------
    dict of str to learner
        Arm name to fitted learner.
    """
    missing = [c for c in [arm_col, outcome, *features] if c not in train.columns]
    if missing:
        raise AnalysisError(f"uplift training table lacks columns: {missing}")
    out = {}
    for arm, share in planned.items():
        if arm == control:
            continue
        part = train[train[arm_col].isin([arm, control])]
        w = (part[arm_col] == arm).to_numpy()
        if learner == "x":
            model = XLearner(share / (share + planned[control]), params, random_state)
        elif learner == "t":
            model = TLearner(params, random_state)
        else:
            raise AnalysisError(f"unknown learner {learner!r}; expected 'x' or 't'")
        out[arm] = model.fit(part[list(features)].to_numpy(dtype=float), w, part[outcome].to_numpy(dtype=float))
    return out


@dataclass(frozen=True, repr=False)
class CrossFitted:
    """Out-of-fold predictions of a cross-fitted uplift model: every customer scored by learners that never saw them.

    Attributes
    ----------
    uplift : DataFrame
        One column per offer arm: predicted gain in the outcome probability, index of the input table.
    outcome : DataFrame
        One column per arm including the holdout: predicted outcome probability under that arm (the
        learners' stage-1 models), for doubly robust policy evaluation.
    fold : numpy.ndarray
        Fold of each row.
    """

    uplift: pd.DataFrame
    outcome: pd.DataFrame
    fold: np.ndarray

    def __repr__(self) -> str:
        return (f"CrossFitted({len(self.uplift):,} customers, {int(self.fold.max()) + 1} folds, "
                f"arms={list(self.uplift.columns)})")


def cross_fit_uplift(
    table: pd.DataFrame,
    features: Sequence[str],
    outcome: str,
    planned: Mapping[str, float],
    *,
    n_folds: int = 5,
    learner: str = "x",
    arm_col: str = "arm",
    control: str = HOLDOUT,
    params: Mapping[str, object] | None = None,
    random_state: int = 0,
) -> CrossFitted:
    """Fit the uplift learners ``n_folds`` times, each time predicting the fold left out.

    Parameters
    ----------
    table : DataFrame
        Experimental customers: ``arm_col``, ``outcome`` and ``features``.
    features, outcome, planned, learner, arm_col, control, params, random_state
        As in :func:`fit_uplift_by_arm`.
    n_folds : int
        Folds, at least 2; folds are drawn within each arm so every fold keeps the allocation.

    Returns
    -------
    CrossFitted
        Out-of-fold uplift per offer arm and outcome probability per arm, index of ``table``.

    Raises
    ------
    AnalysisError
        When ``n_folds < 2`` or a fold's training part lacks an arm (raised by the learners as ModelError).

    Notes
    -----
    Cross-fitting uses every customer both to train (in ``K - 1`` fits) and to evaluate (once, out of fold),
    instead of one held-out half; a policy evaluated on these predictions is the policy the learning
    procedure would produce, and since no customer's own outcome enters its prediction, inverse-propensity
    and doubly robust estimates of its value stay unbiased [1]_, [2]_.

    References
    ----------
    .. [1] Chernozhukov V et al. (2018) Double/debiased machine learning for treatment and structural
       parameters. The Econometrics Journal 21(1), sec. 3 (cross-fitting).
    .. [2] Athey S, Wager S (2021) Policy Learning With Observational Data. Econometrica 89(1), sec. 2.
    """
    if n_folds < 2:
        raise AnalysisError(f"cross-fitting needs at least 2 folds, got {n_folds}")
    missing = [c for c in [arm_col, outcome, *features] if c not in table.columns]
    if missing:
        raise AnalysisError(f"uplift training table lacks columns: {missing}")
    rng = np.random.default_rng(random_state)
    arm = table[arm_col].to_numpy()
    fold = np.empty(len(table), dtype=int)
    for a in pd.unique(arm):
        rows = np.flatnonzero(arm == a)
        fold[rng.permutation(rows)] = np.arange(len(rows)) % n_folds
    offers = [a for a in planned if a != control]
    uplift = pd.DataFrame(np.nan, index=table.index, columns=offers)
    mu = pd.DataFrame(np.nan, index=table.index, columns=[*offers, control])
    for k in range(n_folds):
        out = fold == k
        models = fit_uplift_by_arm(table[~out], features, outcome, planned, learner=learner, arm_col=arm_col,
                                   control=control, params=params, random_state=random_state)
        X = table.loc[out, list(features)].to_numpy(dtype=float)
        for a, m in models.items():
            uplift.loc[out, a] = m.predict_uplift(X)
            mu.loc[out, a] = m.mu1_.predict_proba(X)[:, 1]
            mu.loc[out, control] = m.mu0_.predict_proba(X)[:, 1]
    return CrossFitted(uplift, mu, fold)


def _qini_points(score, w, y, grid):
    order = np.argsort(-score, kind="stable")
    w, y = w[order], y[order]
    nt, nc = np.cumsum(w), np.cumsum(~w)
    yt, yc = np.cumsum(y * w), np.cumsum(y * ~w)
    idx = np.clip((grid * len(y)).astype(int) - 1, 0, len(y) - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = yt[idx] - yc[idx] * np.where(nc[idx] > 0, nt[idx] / nc[idx], 0.0)
    q = np.where(grid == 0, 0.0, q)
    # scale to "incremental customers if everyone in the top share were treated"
    scale = len(y) / max(nt[-1], 1)
    return q * scale


def qini_curve(
    score: Sequence[float], treatment: Sequence[bool], y: Sequence[float], *, n_boot: int = 200, alpha: float = 0.05,
    grid: Sequence[float] | None = None, seed: int = 0,
) -> pd.DataFrame:
    """Return the Qini curve of held-out customers ranked by predicted uplift, with a bootstrap band.

    Parameters
    ----------
    score : array-like
        Predicted uplift per held-out customer.
    treatment : array-like of bool
        Whether the customer got the offer (else holdout).
    y : array-like
        Binary outcome.
    n_boot : int
        Bootstrap resamples of customers (scores fixed).
    alpha : float
        Level of the pointwise band.
    grid : array-like, optional
        Shares targeted (default 0, 0.05, ..., 1).
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    DataFrame
        ``share, qini, qini_lower, qini_upper, random``: incremental outcomes among the top ``share`` if all of
        them were treated (``Y_t - Y_c N_t / N_c``, scaled to the whole group), and the random-targeting line.

    References
    ----------
    .. [1] Radcliffe NJ (2007) Using control groups to target on predicted lift. Direct Marketing
       Analytics Journal 1.
    """
    s = np.asarray(score, dtype=float)
    w = np.asarray(treatment).astype(bool)
    yy = np.asarray(y, dtype=float)
    g = np.linspace(0, 1, 21) if grid is None else np.asarray(grid, dtype=float)
    q = _qini_points(s, w, yy, g)
    rng = np.random.default_rng(seed)
    boots = np.empty((n_boot, len(g)))
    for b in range(n_boot):
        i = rng.integers(0, len(s), len(s))
        boots[b] = _qini_points(s[i], w[i], yy[i], g)
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2], axis=0)
    return pd.DataFrame({"share": g, "qini": q, "qini_lower": lo, "qini_upper": hi, "random": g * q[-1]})


def uplift_at_k(score: Sequence[float], treatment: Sequence[bool], y: Sequence[float], k: float) -> float:
    """Return the observed effect (treated mean - control mean) among the top ``k`` share by predicted uplift.

    Raises
    ------
    AnalysisError
        When the top share has no treated or no control customer.
    """
    s = np.asarray(score, dtype=float)
    w = np.asarray(treatment).astype(bool)
    yy = np.asarray(y, dtype=float)
    top = np.argsort(-s, kind="stable")[: max(int(round(k * len(s))), 1)]
    wt, yt = w[top], yy[top]
    if wt.all() or not wt.any():
        raise AnalysisError(f"the top {k:.0%} has no {'control' if wt.all() else 'treated'} customer")
    return float(yt[wt].mean() - yt[~wt].mean())


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
