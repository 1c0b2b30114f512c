"""Uplift learners: T- and X-learners with XGBoost outcome models, fitted per offer arm and cross-fitted.

The experiment's allocation is known (e.g. 10% holdout, 30% per offer), so the X-learner's propensity is
that share, not a model. Plain class transformation assumes a 50/50 split and is not offered (at 10/90
it predicted 0.30 for a true 0.02, FIELD_NOTES).

The learners are scikit-learn estimators (``get_params``, ``set_params``, ``clone``; ``__init__`` stores
its keyword parameters unchanged; ``fit`` validates and returns ``self``; fitted attributes end in ``_``;
predictions check the learner is fitted and raise scikit-learn's ``NotFittedError`` if not). Their ``fit``
takes ``(X, treatment, y)``, the convention of uplift libraries, so scikit-learn's ``fit(X, y)`` checks
that train a model do not apply (``tests/test_estimator_checks.py`` lists them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from churnlab.errors import AnalysisError, ModelError
from churnlab.experiment.assign import HOLDOUT

__all__ = ["TLearner", "XLearner", "fit_uplift_by_arm", "CrossFitted", "cross_fit_uplift"]

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


def _features(X, where: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Features as a 2-D float array (and their names when X is a DataFrame); NaN stays missing."""
    names = None
    if isinstance(X, pd.DataFrame):
        names = np.asarray(X.columns, dtype=object)
        for c in X.columns:
            col = X[c]
            if not (pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype)) or \
                    pd.api.types.is_complex_dtype(col.dtype):
                raise ModelError(f"{where}: X.{c} has dtype {col.dtype}; the uplift learners take numeric features")
        values = X.to_numpy(dtype=float, na_value=np.nan)
    else:
        try:
            values = np.asarray(X, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{where}: X must hold numbers ({exc})") from None
    if values.ndim == 1:
        raise ModelError(f"{where}: X must be 2-D (rows x features); got one dimension of {len(values)} values")
    if values.ndim != 2:
        raise ModelError(f"{where}: X must be 2-D (rows x features); got shape {values.shape}")
    if np.isinf(values).any():
        col = int(np.flatnonzero(np.isinf(values).any(axis=0))[0])
        raise ModelError(f"{where}: X column {names[col] if names is not None else col} has infinite values; "
                         "use NaN for missing")
    return values, names


def _binary(values, name: str, where: str) -> np.ndarray:
    """Check a 1-D 0/1 (or bool) vector without missing values; return it as floats."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ModelError(f"{where}: {name} must be one-dimensional; got shape {arr.shape}")
    null = np.asarray(pd.isna(arr), dtype=bool)
    if null.any():
        raise ModelError(f"{where}: {name} has {int(null.sum())} missing value(s) "
                         f"(first at row {int(np.argmax(null))})")
    bad = [v for v in pd.unique(arr) if not (isinstance(v, (bool, np.bool_, int, float, np.integer, np.floating))
                                             and float(v) in (0.0, 1.0))]
    if bad:
        raise ModelError(f"{where}: {name} must be 0/1 or bool; got {bad[0]!r}")
    return arr.astype(float)


def _check_xy(X, treatment, y, where: str = "uplift learner") -> tuple[np.ndarray, np.ndarray, np.ndarray, object]:
    X, names = _features(X, where)
    w = _binary(treatment, "treatment", where).astype(bool)
    y = _binary(y, "y", where)
    if len(X) != len(w) or len(w) != len(y):
        raise ModelError(f"{where}: X, treatment and y must have the same number of rows; got {len(X)}, {len(w)}, "
                         f"{len(y)}")
    for name, mask in (("treated", w), ("control", ~w)):
        if mask.sum() < 2:
            raise ModelError(f"{where}: the {name} group has fewer than 2 customers")
        if np.unique(y[mask]).size < 2:
            raise ModelError(f"{where}: the {name} group has a single outcome class: no uplift can be learned")
    return X, w, y, names


def _seed(random_state) -> int:
    """XGBoost seed from ``random_state``: an int as given (None means 0), a RandomState's next draw."""
    if random_state is None:
        return 0
    if isinstance(random_state, (int, np.integer)):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    raise ModelError(f"random_state {random_state!r}; expected None, an int or a RandomState")


class _UpliftLearner(BaseEstimator):
    """Shared behaviour of the uplift learners: input checks, the fitted check and ``predict``."""

    def _validate(self, X, treatment, y):
        X, w, y, names = _check_xy(X, treatment, y, where=f"{type(self).__name__}.fit")
        self.n_features_in_ = X.shape[1]
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return X, w, y

    def _check_predict(self, X) -> np.ndarray:
        where = f"{type(self).__name__}.predict_uplift"
        check_is_fitted(self, "mu1_")
        values, names = _features(X, where)
        if values.shape[1] != self.n_features_in_:
            raise ModelError(f"{where}: X has {values.shape[1]} features; the learner was fitted on "
                             f"{self.n_features_in_}")
        fitted = getattr(self, "feature_names_in_", None)
        if names is not None and fitted is not None and list(names) != list(fitted):
            raise ModelError(f"{where}: X's columns {list(names)[:5]} differ from those seen in fit {list(fitted)[:5]}")
        return values

    def predict(self, X) -> np.ndarray:
        """Predicted uplift per row (the same as ``predict_uplift``)."""
        return self.predict_uplift(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.requires_fit = True
        return tags


class TLearner(_UpliftLearner):
    """Two-model uplift: ``tau(x) = mu_1(x) - mu_0(x)`` with XGBoost classifiers.

    Parameters
    ----------
    params : dict, optional
        XGBoost parameters over :data:`_XGB_DEFAULTS` (``n_jobs=1`` by default).
    random_state : int, RandomState or None, default 0
        Seed of both models (None means 0), resolved in ``fit``.

    Attributes
    ----------
    mu0_, mu1_ : xgboost.XGBClassifier
        Outcome models of the control and the treated group.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X was a DataFrame.

    References
    ----------
    .. [1] Kunzel SR, Sekhon JS, Bickel PJ, Yu B (2019) Metalearners for estimating heterogeneous
       treatment effects using machine learning. PNAS 116(10).
    """

    def __init__(self, params: Mapping[str, object] | None = None, random_state: int | None = 0):
        self.params = params
        self.random_state = random_state

    def fit(self, X, treatment, y) -> TLearner:
        """Fit one outcome model per group; return self.

        Parameters
        ----------
        X : array-like or DataFrame of numbers, shape (n, p)
            Pre-treatment features (NaN = missing).
        treatment : array-like of bool or 0/1
            Whether each customer got the offer.
        y : array-like of 0/1
            Binary outcome (e.g. retained).

        Raises
        ------
        ModelError
            Non-numeric or infinite features, treatment or outcome not 0/1 or missing, lengths that differ, or
            a group with fewer than 2 customers or a single outcome class.
        """
        X, w, y = self._validate(X, treatment, y)
        seed = _seed(self.random_state)
        self.mu0_ = _xgb("clf", self.params, seed).fit(X[~w], y[~w])
        self.mu1_ = _xgb("clf", self.params, seed).fit(X[w], y[w])
        return self

    def predict_uplift(self, X) -> np.ndarray:
        """Return the predicted effect on the outcome probability per row."""
        X = self._check_predict(X)
        return self.mu1_.predict_proba(X)[:, 1] - self.mu0_.predict_proba(X)[:, 1]


class XLearner(_UpliftLearner):
    """X-learner with the known propensity of the design.

    Parameters
    ----------
    propensity : float, optional
        Probability of treatment given the customer is in this arm or the holdout (e.g. 0.75 for a 30%
        arm against a 10% holdout). Used as the weight ``g`` in ``tau = g tau_0 + (1 - g) tau_1``.
        Default: the treated share of the rows fitted on, which in a randomised experiment is the
        design's share up to sampling noise (OPINIONS.md, "X-learner propensity by default").
    params : dict, optional
        XGBoost parameters over :data:`_XGB_DEFAULTS`.
    random_state : int, RandomState or None, default 0
        Seed (None means 0), resolved in ``fit``.

    Attributes
    ----------
    propensity_ : float
        The weight ``g`` used.
    mu0_, mu1_ : xgboost.XGBClassifier
        Stage-1 outcome models (also used for doubly robust evaluation).
    tau0_, tau1_ : xgboost.XGBRegressor
        Stage-2 effect models fitted on the control and the treated group.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When X was a DataFrame.

    Notes
    -----
    Stage 1 fits ``mu_0, mu_1``; imputed effects ``D_1 = y - mu_0(x)`` on treated and ``D_0 = mu_1(x) - y`` on
    control; stage 2 regresses them into ``tau_1, tau_0`` [1]_. With few controls, ``g`` near 1 leans on
    ``tau_0``, which is learned from the small group but uses ``mu_1`` from the large one.

    References
    ----------
    .. [1] Kunzel SR, Sekhon JS, Bickel PJ, Yu B (2019) Metalearners for estimating heterogeneous
       treatment effects using machine learning. PNAS 116(10), eq. 6-9.
    """

    def __init__(self, propensity: float | None = None, params: Mapping[str, object] | None = None,
                 random_state: int | None = 0):
        self.propensity = propensity
        self.params = params
        self.random_state = random_state

    def fit(self, X, treatment, y) -> XLearner:
        """Fit both stages; return self.

        Parameters
        ----------
        X, treatment, y
            As in :meth:`TLearner.fit`.

        Raises
        ------
        ModelError
            As :meth:`TLearner.fit`, and a propensity outside (0, 1).
        """
        if self.propensity is not None and not 0 < self.propensity < 1:
            raise ModelError(f"XLearner: propensity must lie in (0, 1), got {self.propensity}")
        X, w, y = self._validate(X, treatment, y)
        self.propensity_ = float(w.mean()) if self.propensity is None else float(self.propensity)
        s = _seed(self.random_state)
        self.mu0_ = _xgb("clf", self.params, s).fit(X[~w], y[~w])
        self.mu1_ = _xgb("clf", self.params, s).fit(X[w], y[w])
        d1 = y[w] - self.mu0_.predict_proba(X[w])[:, 1]
        d0 = self.mu1_.predict_proba(X[~w])[:, 1] - y[~w]
        self.tau1_ = _xgb("reg", self.params, s).fit(X[w], d1)
        self.tau0_ = _xgb("reg", self.params, s).fit(X[~w], d0)
        return self

    def predict_uplift(self, X) -> np.ndarray:
        """Return ``g tau_0(x) + (1 - g) tau_1(x)`` per row."""
        X = self._check_predict(X)
        g = self.propensity_
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
            model = XLearner(propensity=share / (share + planned[control]), params=params, random_state=random_state)
        elif learner == "t":
            model = TLearner(params=params, random_state=random_state)
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

