"""Baselines every churn model must beat: the prior (the floor), a single-signal rule, a logistic regression.

:func:`default_models` is the comparison every notebook runs. The signal rule picks its one signal from
the rows it is fitted on (OPINIONS.md, "Signal-rule baseline"), so it works on any dataset's columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils.validation import _num_samples, check_is_fitted

from churnlab.errors import ModelError
from churnlab.modeling._checks import (
    ChurnClassifierMixin,
    categorical_columns,
    check_columns,
    check_X,
    check_Xy,
    check_y,
)
from churnlab.modeling.estimators import ChurnXGBClassifier

__all__ = ["SignalRule", "logistic_baseline", "prior_baseline", "default_models"]

class SignalRule(ChurnClassifierMixin, ClassifierMixin, BaseEstimator):
    """Single-signal rule: rank customers by one feature, mapped monotonically to a churn probability.

    Parameters
    ----------
    feature : str, optional
        Column to rank by. Default: the numeric (or boolean) feature whose univariate ROC-AUC on the
        training rows is furthest from 0.5, in either direction (OPINIONS.md, "Signal-rule baseline").

    Attributes
    ----------
    feature_ : str
        The signal used.
    direction_ : {1, -1}
        +1 when larger values mean more churn on the training data.
    signal_auc_ : float
        Training ROC-AUC of the signed signal (>= 0.5).
    feature_aucs_ : dict of str to float
        Training ROC-AUC of every candidate feature (missing values at the median), larger = more churn;
        only the given ``feature`` when one is given.
    fill_ : float
        Training median that stands in for a missing value.
    calibrator_ : IsotonicRegression
        Monotone map from the signed signal to the churn probability.

    Notes
    -----
    The rule is the analyst's "one number" view (days since the last session, calls to support) that a
    model must beat. Picking it on the training rows only keeps the comparison honest; ties go to the
    first column. Categories are not candidates (a rule ranks by one number).

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"noise": [3, 1, 2, 4, 2, 3], "idle_days": [1, 2, 3, 30, 40, 50]})
    >>> rule = SignalRule().fit(X, [0, 0, 0, 1, 1, 1])
    >>> rule.feature_, rule.direction_, rule.signal_auc_
    ('idle_days', 1, 1.0)
    """

    def __init__(self, feature: str | None = None):
        self.feature = feature

    def fit(self, X: pd.DataFrame, y):
        """Pick the signal and its direction on these rows; fit the isotonic map; return self.

        Raises
        ------
        ModelError
            Bad features or labels (as :class:`~churnlab.modeling.ChurnXGBClassifier`), ``feature`` missing
            or not numeric, or no numeric feature to rank by.
        """
        X, y = check_Xy(X, y, where="SignalRule.fit")
        numeric = [c for c in X.columns if c not in categorical_columns(X)]
        if self.feature is not None:
            if self.feature not in X.columns:
                raise ModelError(f"SignalRule.fit: feature {self.feature!r} is not a column of X")
            if self.feature not in numeric:
                raise ModelError(f"SignalRule.fit: feature {self.feature!r} is not numeric; a rule ranks by a number")
            candidates = [self.feature]
        else:
            candidates = numeric
        if not candidates:
            raise ModelError("SignalRule.fit: X has no numeric or boolean feature to rank by")
        filled = {c: _filled(X[c]) for c in candidates}
        self.feature_aucs_ = {c: float(roc_auc_score(y, x)) for c, (x, _) in filled.items()}
        feature = max(candidates, key=lambda c: abs(self.feature_aucs_[c] - 0.5))  # first of ties
        x, fill = filled[feature]
        self.feature_, self.fill_ = feature, fill
        self.direction_ = 1 if self.feature_aucs_[feature] >= 0.5 else -1
        self.signal_auc_ = max(self.feature_aucs_[feature], 1 - self.feature_aucs_[feature])
        self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4).fit(
            self.direction_ * x, y)
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def decision_function(self, X) -> np.ndarray:
        """Return the signed signal (larger = more churn)."""
        check_is_fitted(self, "calibrator_")
        where = "SignalRule.predict"
        X = check_X(X, where=where, numeric=[self.feature_])
        X = check_columns(X, [self.feature_], where, numeric=[self.feature_])
        return self.direction_ * pd.to_numeric(X[self.feature_], errors="coerce").astype(float).fillna(
            self.fill_).to_numpy()

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of (stay, churn)."""
        check_is_fitted(self, "calibrator_")
        p = self.calibrator_.predict(self.decision_function(X))
        return np.column_stack([1 - p, p])




def _filled(col: pd.Series) -> tuple[np.ndarray, float]:
    """Return a numeric column as floats with missing values at its median (0 when all are missing)."""
    x = pd.to_numeric(col, errors="coerce").astype(float)
    fill = float(np.nanmedian(x)) if np.isfinite(x).any() else 0.0
    return x.fillna(fill).to_numpy(), fill


class _FrameLogistic(ChurnClassifierMixin, ClassifierMixin, BaseEstimator):
    """Logistic regression on named features: impute + scale numbers (and their logs), one-hot categories.

    Parameters
    ----------
    C : float, default 1.0
        Inverse L2 penalty.
    max_iter : int, default 2000
    log_counts : bool, default True
        Also give the model ``log1p`` of every numeric column that is non-negative in training and has
        more than two values (counts, amounts, days): skewed counts act on churn roughly by orders of
        magnitude; both the raw and the logged column enter, so the model chooses (OPINIONS.md,
        "Logistic baseline").

    Attributes
    ----------
    pipeline_ : Pipeline
    log_columns_ : list of str
        Columns that also enter as ``log1p`` (negative values at scoring are clipped to 0 first).
    numeric_features_ : list of str
        Columns numeric in training (scoring refuses text in them).
    """

    def __init__(self, C: float = 1.0, max_iter: int = 2000, log_counts: bool = True):
        self.C = C
        self.max_iter = max_iter
        self.log_counts = log_counts

    def fit(self, X: pd.DataFrame, y):
        X, y = check_Xy(X, y, where="logistic.fit")
        cats = categorical_columns(X)
        nums = [c for c in X.columns if c not in cats]
        self.numeric_features_ = nums
        frame = self._frame(X)
        self.log_columns_ = [c for c in nums if self.log_counts and frame[c].notna().any()
                             and frame[c].min() >= 0 and frame[c].nunique() > 2]
        pre = ColumnTransformer([
            ("num", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()), nums),
            ("log", make_pipeline(SimpleImputer(strategy="median"), FunctionTransformer(_log1p_clipped),
                                  StandardScaler()), self.log_columns_),
            ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                                  OneHotEncoder(handle_unknown="ignore")), cats),
        ])
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.pipeline_ = Pipeline([("prep", pre), ("lr", LogisticRegression(C=self.C, max_iter=self.max_iter))])
        self.pipeline_.fit(frame, y)
        self.classes_ = np.array([0, 1])
        return self

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X.copy()
        for c in categorical_columns(out):
            out[c] = out[c].astype("object").where(out[c].notna(), np.nan)
        for c in out.columns:
            if pd.api.types.is_bool_dtype(out[c]):
                out[c] = out[c].astype(float)
        return out

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "pipeline_")
        X = check_X(X, where="logistic.predict", numeric=self.numeric_features_)
        X = check_columns(X, self.feature_names_in_, "logistic.predict", numeric=self.numeric_features_)
        return self.pipeline_.predict_proba(self._frame(X))




def _log1p_clipped(x):
    """``log1p`` of values clipped at 0 (a column non-negative in training may not be at scoring)."""
    return np.log1p(np.clip(np.asarray(x, dtype=float), 0, None))


def logistic_baseline(C: float = 1.0, *, log_counts: bool = True) -> _FrameLogistic:
    """Logistic regression with median imputation, scaling, ``log1p`` of counts and one-hot categories."""
    return _FrameLogistic(C=C, log_counts=log_counts)


class _PriorOnFrames(DummyClassifier):
    """DummyClassifier(strategy="prior") that checks its labels like the other models."""

    def fit(self, X, y, sample_weight=None):
        y = check_y(y, where="prior.fit")
        if _num_samples(X) != len(y):
            raise ModelError(f"prior.fit: X has {_num_samples(X)} rows, y has {len(y)}; they must be aligned row by "
                             "row")
        return super().fit(np.zeros((len(y), 1)), y, sample_weight)

    def predict_proba(self, X):
        return super().predict_proba(np.zeros((_num_samples(X), 1)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # churn or not: labels are 0/1
        return tags


def prior_baseline() -> DummyClassifier:
    """``DummyClassifier(strategy="prior")``: everyone gets the training churn rate (the floor)."""
    return _PriorOnFrames(strategy="prior")


def default_models(*, n_jobs: int = 1, random_state: int = 0, device: str = "cpu") -> dict[str, BaseEstimator]:
    """Return the comparison every notebook runs: prior, single-signal rule, logistic, XGBoost."""
    return {
        "prior": prior_baseline(),
        "signal_rule": SignalRule(),
        "logistic": logistic_baseline(),
        "xgboost": ChurnXGBClassifier(n_jobs=n_jobs, random_state=random_state, device=device),
    }

