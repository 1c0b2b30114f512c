"""Churn models: baselines, XGBoost, calibration, splits and evaluation.

Estimators follow scikit-learn's rules: ``__init__`` stores keyword parameters unchanged, ``fit``
validates and returns ``self``, learned attributes end in ``_``, ``random_state`` is resolved in
``fit``. Every comparison includes ``DummyClassifier(strategy="prior")`` as the floor, a single-signal
rule and a logistic regression.

Inputs are the frames of :func:`churnlab.features.build_features` without the key columns
(:func:`training_data` splits them off). Non-numeric columns are categories: XGBoost uses them
natively (so SHAP gives one contribution per original column), logistic regression one-hot encodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from churnlab import config as C
from churnlab.errors import ModelError
from churnlab.labels import LabelTimes

__all__ = [
    "training_data",
    "TrainingData",
    "time_split",
    "holdout_split",
    "grouped_folds",
    "stratified_folds",
    "ChurnXGBClassifier",
    "SignalRule",
    "logistic_baseline",
    "prior_baseline",
    "default_models",
    "Calibrated",
    "calibrate",
    "evaluate",
    "lift_table",
    "profit_curve",
    "best_operating_point",
    "ModelComparison",
    "compare_models",
    "cross_validated_auc",
    "log_model",
    "METRICS",
]

#: Metric columns of :func:`evaluate` and :class:`ModelComparison`.
METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "lift_at_k", "capture_at_k")

_KEYS = (C.CUSTOMER_ID, C.CUTOFF, C.LABEL)


# ------------------------------------------------------------------------------------------------
# data preparation and splits


@dataclass(frozen=True)
class TrainingData:
    """Features, labels and keys aligned row by row.

    Attributes
    ----------
    X : DataFrame
        Feature columns only.
    y : ndarray of int
        1 = churned in the window.
    keys : DataFrame
        ``customer_id, cutoff`` of each row.
    """

    X: pd.DataFrame
    y: np.ndarray
    keys: pd.DataFrame

    def subset(self, mask: np.ndarray) -> TrainingData:
        """Rows where ``mask`` is True."""
        mask = np.asarray(mask, dtype=bool)
        return TrainingData(self.X.loc[mask].reset_index(drop=True), self.y[mask],
                            self.keys.loc[mask].reset_index(drop=True))

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        rate = float(self.y.mean()) if len(self.y) else float("nan")
        return f"TrainingData({len(self.y):,} rows, {self.X.shape[1]} features, churn rate={rate:.1%})"


def training_data(features: pd.DataFrame, label_times: LabelTimes | pd.DataFrame) -> TrainingData:
    """Align features with their labels on (customer_id, cutoff).

    Parameters
    ----------
    features : DataFrame
        ``customer_id, cutoff`` plus feature columns (from :func:`~churnlab.features.build_features`).
    label_times : LabelTimes or DataFrame
        ``customer_id, cutoff, label``.

    Returns
    -------
    TrainingData

    Raises
    ------
    ModelError
        When a label row has no features.
    """
    table = label_times.table if isinstance(label_times, LabelTimes) else label_times
    for col in (C.CUSTOMER_ID, C.CUTOFF):
        if col not in features.columns:
            raise ModelError(f"training_data: features.{col}: missing column")
    lab = table[[C.CUSTOMER_ID, C.CUTOFF, C.LABEL]].copy()
    f = features.copy()
    for df in (lab, f):
        df[C.CUSTOMER_ID] = df[C.CUSTOMER_ID].astype(str)
        df[C.CUTOFF] = pd.to_datetime(df[C.CUTOFF]).astype("datetime64[ns]")
    merged = lab.merge(f.drop(columns=[C.LABEL], errors="ignore"), on=[C.CUSTOMER_ID, C.CUTOFF], how="left",
                       indicator=True, validate="one_to_one")
    if (merged["_merge"] != "both").any():
        n = int((merged["_merge"] != "both").sum())
        raise ModelError(f"training_data: {n} label rows have no features; build features from the same label times")
    X = merged.drop(columns=[*_KEYS, "_merge"])
    return TrainingData(X=X, y=merged[C.LABEL].astype(int).to_numpy(), keys=merged[[C.CUSTOMER_ID, C.CUTOFF]])


def time_split(keys: pd.DataFrame, *, n_test_cutoffs: int = 1, n_valid_cutoffs: int = 1) -> dict[str, np.ndarray]:
    """Split rows by cutoff: train on the earliest, validate on the next, test out of time on the latest.

    Parameters
    ----------
    keys : DataFrame
        ``cutoff`` per row.
    n_test_cutoffs, n_valid_cutoffs : int
        How many of the latest cutoffs form the out-of-time test and the validation windows.

    Returns
    -------
    dict of str to ndarray of bool
        Masks ``train``, ``valid``, ``test``.

    Raises
    ------
    ModelError
        Fewer than ``n_test_cutoffs + n_valid_cutoffs + 1`` distinct cutoffs.

    Notes
    -----
    The label windows of the training cutoffs must end before the test cutoff for a truly
    out-of-time test; with monthly cutoffs and a 30-day horizon they do, up to a day or so.
    """
    cutoffs = np.sort(pd.to_datetime(keys[C.CUTOFF]).unique())
    need = n_test_cutoffs + n_valid_cutoffs + 1
    if len(cutoffs) < need:
        raise ModelError(f"time_split: {len(cutoffs)} cutoffs; need at least {need} (train, validation, test)")
    test_from = cutoffs[-n_test_cutoffs]
    valid_from = cutoffs[-(n_test_cutoffs + n_valid_cutoffs)]
    c = pd.to_datetime(keys[C.CUTOFF]).to_numpy()
    return {"train": c < valid_from, "valid": (c >= valid_from) & (c < test_from), "test": c >= test_from}


def holdout_split(keys: pd.DataFrame, y, *, valid_share: float = 0.2, test_share: float = 0.2,
                  random_state: int = 0) -> dict[str, np.ndarray]:
    """Train / validation / test masks: by time when there are 3+ cutoffs, else stratified by customer.

    Parameters
    ----------
    keys : DataFrame
        ``customer_id, cutoff`` per row.
    y : array of 0/1
        Labels (for stratification).
    valid_share, test_share : float, default 0.2
        Shares of customers in validation and test for the random split (snapshots).
    random_state : int, default 0
        Seed of the random split.

    Returns
    -------
    dict of str to ndarray of bool
        Masks ``train``, ``valid``, ``test`` (see :func:`time_split`).
    """
    if pd.to_datetime(keys[C.CUTOFF]).nunique() >= 3:
        return time_split(keys)
    y = _check_y(y)
    groups = keys[C.CUSTOMER_ID].astype(str).to_numpy()
    n_test = max(2, round(1 / test_share))
    tr_va, te = next(iter(StratifiedGroupKFold(n_splits=n_test, shuffle=True, random_state=random_state).split(
        np.zeros(len(y)), y, groups)))
    inner = max(2, round((1 - test_share) / valid_share))
    tr, va = next(iter(StratifiedGroupKFold(n_splits=inner, shuffle=True, random_state=random_state).split(
        np.zeros(len(tr_va)), y[tr_va], groups[tr_va])))
    masks = {k: np.zeros(len(y), dtype=bool) for k in ("train", "valid", "test")}
    masks["train"][tr_va[tr]] = True
    masks["valid"][tr_va[va]] = True
    masks["test"][te] = True
    return masks


def grouped_folds(y: np.ndarray, groups: Sequence, *, n_splits: int = 5, random_state: int = 0):
    """Stratified K-fold that keeps each customer's rows in one fold (StratifiedGroupKFold)."""
    return list(StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=random_state).split(
        np.zeros(len(y)), y, groups))


def stratified_folds(y: np.ndarray, *, n_splits: int = 5, random_state: int = 0):
    """Stratified K-fold for snapshot data (one row per customer)."""
    return list(StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state).split(np.zeros(len(y)), y))


# ------------------------------------------------------------------------------------------------
# input checks shared by the estimators


def _check_y(y) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ModelError(f"labels must be one-dimensional; got shape {y.shape}")
    uniq = np.unique(y)
    if len(uniq) < 2:
        raise ModelError(f"labels have a single class ({uniq.tolist()}); a churn model needs churners and stayers")
    if not set(uniq.tolist()) <= {0, 1}:
        raise ModelError(f"labels must be 0/1 or bool; got {uniq[:5].tolist()}")
    return y.astype(int)


def _check_X(X, *, where: str) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise ModelError(f"{where}: X must be a DataFrame of named features; got {type(X).__name__}")
    if len(X) == 0:
        raise ModelError(f"{where}: X has no rows")
    keys = [c for c in _KEYS if c in X.columns]
    return X.drop(columns=keys)


def _categorical_columns(X: pd.DataFrame) -> list[str]:
    return [c for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))]


def _check_columns(X: pd.DataFrame, expected: Sequence[str], where: str) -> pd.DataFrame:
    missing = [c for c in expected if c not in X.columns]
    if missing:
        raise ModelError(f"{where}: feature {missing[0]!r} missing at scoring time ({len(missing)} missing); "
                         "build features with the same tables and windows as in training")
    return X[list(expected)]


# ------------------------------------------------------------------------------------------------
# XGBoost


class ChurnXGBClassifier(ClassifierMixin, BaseEstimator):
    """XGBoost churn classifier: depth and number of trees chosen by inner cross-validation, native categories.

    Parameters
    ----------
    n_estimators : int, default 1000
        Upper bound on trees; early stopping picks the number.
    learning_rate : float, default 0.03
    max_depth : int or "auto", default "auto"
        ``"auto"`` tries depths :attr:`AUTO_DEPTHS` and keeps the one with the lowest early-stopped
        log loss averaged over the tuning folds (the "small tuning"; depth 1 = an additive model).
    min_child_weight : float, default 5
    subsample, colsample_bytree : float, default 0.8
    reg_lambda : float, default 5.0
    early_stopping_rounds : int, default 50
    tuning_folds : int or None, default 3
        Folds of the training rows (stratified; whole customers per fold when ``groups`` are given)
        on which each depth is early-stopped; the depth with the lowest mean validation log loss wins
        and the final model is refit on all rows with the mean early-stopped number of trees. Nested
        inside an outer CV this keeps the outer estimate honest. ``None`` uses one split of
        ``validation_fraction`` instead (3× faster, noisier: OPINIONS.md, "XGBoost defaults").
    validation_fraction : float, default 0.2
        Share of training rows held out for early stopping when ``tuning_folds`` is None and no
        ``eval_set`` is passed.
    refit : bool, default True
        Refit on all rows with the early-stopped number of trees; False keeps the first tuning fold's
        early-stopped model.
    n_jobs : int, default 1
        Threads; FIELD_NOTES: more threads ran slower on a shared 2-core machine.
    device : str, default "cpu"
        Passed to XGBoost (``"cuda"`` with the GPU wheel).
    random_state : int, default 0

    Attributes
    ----------
    booster_ : xgboost.Booster
    feature_names_in_ : ndarray of str
    categories_ : dict of str to list
        Categories of each non-numeric column seen in fit (others become missing at scoring).
    n_trees_ : int
    max_depth_ : int
        The depth used.
    depth_scores_ : dict of int to float
        Mean validation log loss of each depth tried.
    validation_log_loss_ : float
        That of the chosen depth.
    classes_ : ndarray

    Notes
    -----
    Defaults are shallow, slow-learning and regularised (OPINIONS.md, "XGBoost defaults"): on
    small churn tables (Telco, 7k rows) the library's defaults (depth 6, eta 0.3) overfit.
    """

    def __init__(self, n_estimators: int = 1000, learning_rate: float = 0.03, max_depth: int | str = "auto",
                 min_child_weight: float = 5.0, subsample: float = 0.8, colsample_bytree: float = 0.8,
                 reg_lambda: float = 5.0, early_stopping_rounds: int = 50, tuning_folds: int | None = 3,
                 validation_fraction: float = 0.2, refit: bool = True, n_jobs: int = 1, device: str = "cpu",
                 random_state: int | None = 0):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_child_weight = min_child_weight
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.tuning_folds = tuning_folds
        self.validation_fraction = validation_fraction
        self.refit = refit
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state

    def _encode(self, X: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame(index=X.index)
        for c in self.feature_names_in_:
            if c in self.categories_:
                # codes of unseen categories (and of missing values) are -1: missing, like in training
                categories = pd.Index(self.categories_[c], dtype="object")
                codes = categories.get_indexer(X[c].astype("string").astype("object").where(X[c].notna(), None))
                out[c] = pd.Categorical.from_codes(codes, categories=categories)
            else:
                out[c] = pd.to_numeric(X[c], errors="coerce").astype("float64")
        return out

    AUTO_DEPTHS = (1, 3, 5)

    def _tuning_splits(self, y: np.ndarray, groups, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """(train, validation) row indices: ``tuning_folds`` folds, or one split of ``validation_fraction``."""
        folds = self.tuning_folds
        if folds is not None and (not isinstance(folds, (int, np.integer)) or folds < 2):
            raise ModelError(f"ChurnXGBClassifier: tuning_folds {folds!r}; expected an int >= 2 or None")
        if groups is not None:
            groups = np.asarray(groups)
            if len(groups) != len(y):
                raise ModelError(f"ChurnXGBClassifier.fit: groups has {len(groups)} values, y has {len(y)}")
            if folds is None:
                return [next(GroupShuffleSplit(n_splits=1, test_size=self.validation_fraction,
                                               random_state=seed).split(y, y, groups))]
            return list(StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(y, y, groups))
        if folds is None:
            idx = np.arange(len(y))
            tr, va = train_test_split(idx, test_size=self.validation_fraction, stratify=y, random_state=seed)
            return [(tr, va)]
        return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(y, y))

    def _xgb(self, n_estimators: int, early: bool, max_depth: int):
        import xgboost as xgb

        seed = 0 if self.random_state is None else int(np.random.RandomState(self.random_state).randint(2**31 - 1))
        return xgb.XGBClassifier(
            n_estimators=n_estimators, learning_rate=self.learning_rate, max_depth=max_depth,
            min_child_weight=self.min_child_weight, subsample=self.subsample, colsample_bytree=self.colsample_bytree,
            reg_lambda=self.reg_lambda, n_jobs=self.n_jobs, device=self.device, random_state=seed,
            tree_method="hist", enable_categorical=True, max_cat_to_onehot=8, eval_metric="logloss",
            early_stopping_rounds=self.early_stopping_rounds if early else None,
        )

    def fit(self, X: pd.DataFrame, y, *, groups=None, eval_set: tuple[pd.DataFrame, np.ndarray] | None = None):
        """Choose depth and trees on the tuning folds (or ``eval_set``), refit; return self.

        Parameters
        ----------
        X : DataFrame
            Feature columns (key columns are dropped if present).
        y : array of 0/1
            1 = churned.
        groups : array, optional
            Customer of each row: the validation fold holds whole customers.
        eval_set : (DataFrame, array), optional
            Explicit validation data (e.g. a later cutoff) instead of the tuning folds; with ``refit``
            the final model is trained on X and the validation rows together.

        Raises
        ------
        ModelError
            Single-class labels, X not a DataFrame or empty.
        """
        X = _check_X(X, where="ChurnXGBClassifier.fit")
        y = _check_y(y)
        if len(y) != len(X):
            raise ModelError(f"ChurnXGBClassifier.fit: X has {len(X)} rows, y has {len(y)}")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.categories_ = {c: sorted(X[c].dropna().astype(str).unique().tolist()) for c in _categorical_columns(X)}
        self.classes_ = np.array([0, 1])
        Xe = self._encode(X)
        seed = self.random_state if self.random_state is not None else 0
        if isinstance(self.max_depth, str):
            if self.max_depth != "auto":
                raise ModelError(f"ChurnXGBClassifier: max_depth {self.max_depth!r}; expected an int or 'auto'")
            depths = self.AUTO_DEPTHS
        else:
            depths = (int(self.max_depth),)
        if eval_set is not None:
            Xva = self._encode(_check_columns(_check_X(eval_set[0], where="fit(eval_set)"), self.feature_names_in_,
                                              "ChurnXGBClassifier.fit(eval_set)"))
            yva = _check_y(eval_set[1])
            splits = [(Xe, y, Xva, yva)]
        else:
            splits = [(Xe.iloc[tr], y[tr], Xe.iloc[va], y[va]) for tr, va in self._tuning_splits(y, groups, seed)]
        scores: dict[int, list[float]] = {d: [] for d in depths}
        trees: dict[int, list[int]] = {d: [] for d in depths}
        first: dict[int, object] = {}
        for Xtr, ytr, Xva_, yva_ in splits:
            for d in depths:
                m = self._xgb(self.n_estimators, early=True, max_depth=d).fit(Xtr, ytr, eval_set=[(Xva_, yva_)],
                                                                             verbose=False)
                scores[d].append(float(m.best_score))
                trees[d].append(int(m.best_iteration) + 1)
                first.setdefault(d, m)
        self.depth_scores_ = {d: float(np.mean(v)) for d, v in scores.items()}
        self.max_depth_ = min(self.depth_scores_, key=lambda d: (self.depth_scores_[d], d))
        self.n_trees_ = max(1, round(float(np.mean(trees[self.max_depth_]))))
        self.validation_log_loss_ = self.depth_scores_[self.max_depth_]
        if not self.refit:
            final = first[self.max_depth_]
            self.n_trees_ = int(final.best_iteration) + 1
        elif eval_set is None:
            final = self._xgb(self.n_trees_, early=False, max_depth=self.max_depth_).fit(Xe, y, verbose=False)
        else:
            final = self._xgb(self.n_trees_, early=False, max_depth=self.max_depth_).fit(
                pd.concat([Xe, splits[0][2]], ignore_index=True), np.concatenate([y, splits[0][3]]), verbose=False)
        self.model_ = final
        self.booster_ = final.get_booster()
        return self

    def _prepare(self, X) -> pd.DataFrame:
        check_is_fitted(self, "booster_")
        X = _check_X(X, where="ChurnXGBClassifier.predict")
        return self._encode(_check_columns(X, self.feature_names_in_, "ChurnXGBClassifier.predict"))

    def _dmatrix(self, X):
        import xgboost as xgb

        return xgb.DMatrix(self._prepare(X), enable_categorical=True)

    def decision_function(self, X) -> np.ndarray:
        """Margin (log-odds) of churn."""
        return self.booster_.predict(self._dmatrix(X), output_margin=True, iteration_range=self._range())

    def _range(self) -> tuple[int, int]:
        return (0, self.booster_.num_boosted_rounds())

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of (stay, churn), shape (n, 2)."""
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        """0/1 at probability 0.5 (use :func:`best_operating_point` for a business threshold)."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def contributions(self, X) -> pd.DataFrame:
        """SHAP values of every feature (XGBoost ``pred_contribs``, exact TreeSHAP) plus ``base_value``.

        Returns
        -------
        DataFrame
            One row per row of X (same index order), one column per feature and ``base_value``;
            each row sums to the margin (log-odds).
        """
        contrib = self.booster_.predict(self._dmatrix(X), pred_contribs=True, iteration_range=self._range())
        cols = [*self.feature_names_in_, "base_value"]
        return pd.DataFrame(contrib, columns=cols, index=pd.RangeIndex(len(contrib)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        return tags


# ------------------------------------------------------------------------------------------------
# baselines


class SignalRule(ClassifierMixin, BaseEstimator):
    """Single-signal rule: rank customers by one feature (recency by default), mapped to a probability.

    Parameters
    ----------
    feature : str, optional
        Column to rank by; default the first present of :attr:`CANDIDATES`.

    Attributes
    ----------
    feature_ : str
    direction_ : {1, -1}
        +1 when larger values mean more churn on the training data.
    calibrator_ : IsotonicRegression
        Monotone map from the signed signal to the churn probability.
    """

    CANDIDATES = ("days_since_last_session", "days_since_last_purchase", "tenure_days", "tenure",
                  "number_customer_service_calls", "account_length")

    def __init__(self, feature: str | None = None):
        self.feature = feature

    def fit(self, X: pd.DataFrame, y):
        """Pick the signal and its direction; fit the isotonic map; return self."""
        X = _check_X(X, where="SignalRule.fit")
        y = _check_y(y)
        feature = self.feature or next((c for c in self.CANDIDATES if c in X.columns), None)
        if feature is None or feature not in X.columns:
            raise ModelError(f"SignalRule.fit: no signal column; give feature= (tried {self.CANDIDATES})")
        x = pd.to_numeric(X[feature], errors="coerce").astype(float)
        fill = float(np.nanmedian(x)) if np.isfinite(x).any() else 0.0
        x = x.fillna(fill).to_numpy()
        self.feature_, self.fill_ = feature, fill
        self.direction_ = 1 if roc_auc_score(y, x) >= 0.5 else -1
        self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4).fit(
            self.direction_ * x, y)
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        return self

    def decision_function(self, X) -> np.ndarray:
        """Return the signed signal (larger = more churn)."""
        check_is_fitted(self, "calibrator_")
        X = _check_columns(_check_X(X, where="SignalRule.predict"), [self.feature_], "SignalRule.predict")
        return self.direction_ * pd.to_numeric(X[self.feature_], errors="coerce").astype(float).fillna(
            self.fill_).to_numpy()

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of (stay, churn)."""
        p = self.calibrator_.predict(self.decision_function(X))
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        """0/1 at probability 0.5."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


class _FrameLogistic(ClassifierMixin, BaseEstimator):
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
    """

    def __init__(self, C: float = 1.0, max_iter: int = 2000, log_counts: bool = True):
        self.C = C
        self.max_iter = max_iter
        self.log_counts = log_counts

    def fit(self, X: pd.DataFrame, y):
        X = _check_X(X, where="logistic.fit")
        y = _check_y(y)
        cats = _categorical_columns(X)
        nums = [c for c in X.columns if c not in cats]
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
        for c in _categorical_columns(out):
            out[c] = out[c].astype("object").where(out[c].notna(), np.nan)
        for c in out.columns:
            if pd.api.types.is_bool_dtype(out[c]):
                out[c] = out[c].astype(float)
        return out

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "pipeline_")
        X = _check_columns(_check_X(X, where="logistic.predict"), self.feature_names_in_, "logistic.predict")
        return self.pipeline_.predict_proba(self._frame(X))

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def _log1p_clipped(x):
    """``log1p`` of values clipped at 0 (a column non-negative in training may not be at scoring)."""
    return np.log1p(np.clip(np.asarray(x, dtype=float), 0, None))


def logistic_baseline(C: float = 1.0, *, log_counts: bool = True) -> _FrameLogistic:
    """Logistic regression with median imputation, scaling, ``log1p`` of counts and one-hot categories."""
    return _FrameLogistic(C=C, log_counts=log_counts)


class _PriorOnFrames(DummyClassifier):
    """DummyClassifier(strategy="prior") that checks its labels like the other models."""

    def fit(self, X, y, sample_weight=None):
        return super().fit(np.zeros((len(y), 1)), _check_y(y), sample_weight)

    def predict_proba(self, X):
        return super().predict_proba(np.zeros((len(X), 1)))


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


# ------------------------------------------------------------------------------------------------
# calibration


@dataclass(frozen=True)
class Calibrated:
    """A fitted model with a probability map learnt on held-out rows.

    Attributes
    ----------
    model : estimator
        Any fitted classifier with ``predict_proba``.
    method : {"isotonic", "sigmoid"}
    mapper : IsotonicRegression or LogisticRegression
        Fitted on the model's scores of the calibration rows.
    n_calibration : int
    """

    model: object
    method: str
    mapper: object
    n_calibration: int

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probabilities of (stay, churn)."""
        s = self.model.predict_proba(X)[:, 1]
        if self.method == "isotonic":
            p = self.mapper.predict(s)
        else:
            p = self.mapper.predict_proba(_logit(s).reshape(-1, 1))[:, 1]
        return np.column_stack([1 - p, p])

    def __repr__(self) -> str:
        return f"Calibrated({type(self.model).__name__}, method={self.method}, n={self.n_calibration:,})"


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def calibrate(model, X_cal: pd.DataFrame, y_cal, *, method: str = "isotonic") -> Calibrated:
    """Learn a map from a fitted model's scores to calibrated probabilities on held-out rows.

    Parameters
    ----------
    model : fitted classifier
        Anything with ``predict_proba``.
    X_cal, y_cal : DataFrame, array of 0/1
        Rows the model was not trained on (the validation cutoff).
    method : {"isotonic", "sigmoid"}, default "isotonic"
        Isotonic (monotone, non-parametric; needs ~1,000+ rows) or Platt scaling (a logistic on the
        logit of the score). OPINIONS.md, "Calibration method".

    Returns
    -------
    Calibrated

    Raises
    ------
    ModelError
        Unknown method or single-class calibration labels.

    References
    ----------
    .. [1] Platt (1999) Probabilistic outputs for support vector machines.
    .. [2] Zadrozny & Elkan (2002) Transforming classifier scores into accurate multiclass probability estimates.
    """
    y = _check_y(y_cal)
    s = model.predict_proba(X_cal)[:, 1]
    if method == "isotonic":
        mapper = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4).fit(s, y)
    elif method == "sigmoid":
        mapper = LogisticRegression(C=1e6).fit(_logit(s).reshape(-1, 1), y)
    else:
        raise ModelError(f"calibrate: method {method!r}; expected 'isotonic' or 'sigmoid'")
    return Calibrated(model=model, method=method, mapper=mapper, n_calibration=len(y))


# ------------------------------------------------------------------------------------------------
# metrics


def _top_k_mask(score: np.ndarray, k_pct: float) -> np.ndarray:
    """Mark the ceil(k% of n) highest scores (ties broken by order, stable)."""
    n = len(score)
    k = int(np.ceil(n * k_pct / 100.0))
    order = np.argsort(-score, kind="stable")
    mask = np.zeros(n, dtype=bool)
    mask[order[:k]] = True
    return mask


def lift_table(y, score, *, k_pcts: Sequence[float] = (1, 2, 5, 10, 20, 30, 50, 100)) -> pd.DataFrame:
    """Lift and capture when targeting the top k% of scores.

    Parameters
    ----------
    y : array of 0/1
        1 = churned.
    score : array of float
        Higher = more likely to churn.
    k_pcts : sequence of float
        Percentages of customers targeted.

    Returns
    -------
    DataFrame
        One row per k: ``k_pct, n_targeted, churners_targeted, precision, lift, capture``.

    Notes
    -----
    ``precision = churners in top k / n targeted``; ``lift = precision / base rate``;
    ``capture = churners in top k / all churners``. Top k = the ceil(k% × n) highest scores.
    """
    y = np.asarray(y, dtype=int)
    score = np.asarray(score, dtype=float)
    base = y.mean()
    rows = []
    for k in k_pcts:
        m = _top_k_mask(score, k)
        tp = int(y[m].sum())
        precision = tp / max(int(m.sum()), 1)
        rows.append({"k_pct": float(k), "n_targeted": int(m.sum()), "churners_targeted": tp, "precision": precision,
                     "lift": precision / base if base > 0 else np.nan,
                     "capture": tp / y.sum() if y.sum() > 0 else np.nan})
    return pd.DataFrame(rows)


def evaluate(y, p, *, top_k_pct: float = 10.0) -> dict[str, float]:
    """ROC-AUC, PR-AUC, log loss, Brier, lift and capture at the top k% for one set of predictions.

    Parameters
    ----------
    y : array of 0/1
        1 = churned.
    p : array of float
        Predicted churn probabilities.
    top_k_pct : float, default 10
        Share of customers targeted for lift and capture.

    Returns
    -------
    dict
        ``n, prevalence`` and :data:`METRICS`.

    Raises
    ------
    ModelError
        Single-class labels (AUC undefined).
    """
    y = _check_y(y)
    p = np.clip(np.asarray(p, dtype=float), 1e-15, 1 - 1e-15)
    lt = lift_table(y, p, k_pcts=[top_k_pct]).iloc[0]
    return {
        "n": int(len(y)),
        "prevalence": float(y.mean()),
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "lift_at_k": float(lt["lift"]),
        "capture_at_k": float(lt["capture"]),
    }


def profit_curve(y, p, *, offer_cost: float, saved_value: float, success_rate: float,
                 n_points: int | None = None) -> pd.DataFrame:
    """Compute the expected campaign profit when the offer goes to everyone at or above each probability threshold.

    Parameters
    ----------
    y : array of 0/1
        Whether each customer churned (without an offer).
    p : array of float
        Churn probabilities (calibrated, so thresholds mean something).
    offer_cost : float
        Cost of one offer (every targeted customer).
    saved_value : float
        Value of keeping one customer who would have churned.
    success_rate : float
        Share of targeted churners the offer keeps.
    n_points : int, optional
        Thin the curve to at most this many thresholds (default: every distinct score).

    Returns
    -------
    DataFrame
        One row per threshold, highest first: ``threshold, n_targeted, share_targeted, churners_targeted,
        profit``.

    Notes
    -----
    ``profit(t) = success_rate * saved_value * TP(t) - offer_cost * n_targeted(t)`` where TP counts
    targeted churners. It assumes the offer has no effect on stayers and that the saved value does not
    depend on the customer; an A/B test measures ``success_rate`` (notebook 03).
    """
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    tp = np.cumsum(ys)
    n = np.arange(1, len(ys) + 1)
    last_of_tie = np.r_[ps[1:] != ps[:-1], True]  # a threshold includes every tied score
    curve = pd.DataFrame({"threshold": ps[last_of_tie], "n_targeted": n[last_of_tie],
                          "churners_targeted": tp[last_of_tie]})
    curve = pd.concat([pd.DataFrame({"threshold": [np.inf], "n_targeted": [0], "churners_targeted": [0]}), curve],
                      ignore_index=True)
    curve["share_targeted"] = curve["n_targeted"] / max(len(y), 1)
    curve["profit"] = success_rate * saved_value * curve["churners_targeted"] - offer_cost * curve["n_targeted"]
    if n_points and len(curve) > n_points:
        idx = np.unique(np.r_[np.linspace(0, len(curve) - 1, n_points).astype(int), int(curve["profit"].idxmax())])
        curve = curve.iloc[idx].reset_index(drop=True)
    return curve[["threshold", "n_targeted", "share_targeted", "churners_targeted", "profit"]]


def best_operating_point(curve: pd.DataFrame) -> pd.Series:
    """Return the row of a :func:`profit_curve` with the highest profit (the fewest offers among ties)."""
    return curve.loc[curve["profit"].idxmax()]


# ------------------------------------------------------------------------------------------------
# comparison


@dataclass(frozen=True)
class ModelComparison:
    """Metrics of several models on several windows (validation, out-of-time test, CV folds).

    Attributes
    ----------
    summary : DataFrame
        One row per (model, window): ``model, window, n, prevalence`` and :data:`METRICS`.
    scores : dict of str to DataFrame
        Per window, ``y`` and one probability column per model (for ROC and lift plots).
    models : dict of str to estimator
        The fitted models.
    top_k_pct : float
    """

    summary: pd.DataFrame
    scores: dict[str, pd.DataFrame] = field(repr=False)
    models: dict[str, object] = field(repr=False)
    top_k_pct: float = 10.0

    def metric(self, name: str = "roc_auc") -> pd.DataFrame:
        """Model × window table of one metric."""
        return self.summary.pivot(index="model", columns="window", values=name)

    def __repr__(self) -> str:
        best = self.summary.sort_values("roc_auc", ascending=False).iloc[0]
        return (f"ModelComparison({self.summary['model'].nunique()} models, windows={list(self.scores)}, "
                f"best={best['model']} AUC {best['roc_auc']:.3f} on {best['window']})")

    def _repr_html_(self) -> str:
        return (f"<p><b>ModelComparison</b> (lift/capture at top {self.top_k_pct:g}%)</p>"
                + self.summary.to_html(index=False, float_format=lambda v: f"{v:.3f}"))


def compare_models(models: Mapping[str, BaseEstimator], train: TrainingData, windows: Mapping[str, TrainingData], *,
                   top_k_pct: float = 10.0, fit_kwargs: Mapping[str, dict] | None = None) -> ModelComparison:
    """Fit each model on ``train`` and evaluate it on every window.

    Parameters
    ----------
    models : dict of str to estimator
        Unfitted estimators (e.g. :func:`default_models`).
    train : TrainingData
        Rows to fit on.
    windows : dict of str to TrainingData
        E.g. ``{"validation": ..., "out_of_time": ...}``.
    top_k_pct : float, default 10
        Share targeted for lift and capture.
    fit_kwargs : dict of str to dict, optional
        Extra fit arguments per model (``groups``, ``eval_set``).

    Returns
    -------
    ModelComparison
    """
    fit_kwargs = dict(fit_kwargs or {})
    fitted, rows = {}, []
    scores = {w: pd.DataFrame({"y": d.y}) for w, d in windows.items()}
    for name, est in models.items():
        fitted[name] = est.fit(train.X, train.y, **fit_kwargs.get(name, {}))
        for w, d in windows.items():
            p = fitted[name].predict_proba(d.X)[:, 1]
            scores[w][name] = p
            rows.append({"model": name, "window": w, **evaluate(d.y, p, top_k_pct=top_k_pct)})
    return ModelComparison(summary=pd.DataFrame(rows), scores=scores, models=fitted, top_k_pct=top_k_pct)


def cross_validated_auc(make_model, X: pd.DataFrame, y, folds) -> pd.DataFrame:
    """ROC-AUC of a fresh model per fold.

    Parameters
    ----------
    make_model : callable
        Returns an unfitted estimator.
    X : DataFrame
        Feature columns.
    y : array of 0/1
        1 = churned.
    folds : list of (train_idx, test_idx)
        From :func:`stratified_folds` or :func:`grouped_folds`.

    Returns
    -------
    DataFrame
        One row per fold: ``fold, n_test, roc_auc``; the mean is ``.roc_auc.mean()``.
    """
    y = _check_y(y)
    rows = []
    for i, (tr, te) in enumerate(folds):
        m = make_model().fit(X.iloc[tr].reset_index(drop=True), y[tr])
        p = m.predict_proba(X.iloc[te].reset_index(drop=True))[:, 1]
        rows.append({"fold": i, "n_test": len(te), "roc_auc": float(roc_auc_score(y[te], p))})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------
# MLflow


#: Packages a served model needs (passed to MLflow so it does not spend ~2 s inferring them).
PIP_REQUIREMENTS = ("xgboost>=3.0", "pandas>=2.2", "numpy>=2.0", "scikit-learn>=1.6")

#: Types in a fitted ChurnXGBClassifier that MLflow's skops serialisation must be told to trust.
_TRUSTED_TYPES = ("churnlab.model.ChurnXGBClassifier", "xgboost.core.Booster", "xgboost.sklearn.XGBClassifier")


def log_model(model: ChurnXGBClassifier, X_example: pd.DataFrame, *,
              registered_model_name: str | None = "churnlab-churn", name: str = "model") -> str | None:
    """Log the fitted churn model to the active churnlab run with signature and input example, and register it.

    The estimator itself is logged (MLflow's scikit-learn flavour), so the served model takes the raw
    feature frame, category columns as strings, and encodes it exactly as in training; its pyfunc
    ``predict`` returns :meth:`ChurnXGBClassifier.predict_proba` (columns stay, churn).

    Parameters
    ----------
    model : ChurnXGBClassifier
        Fitted.
    X_example : DataFrame
        A few feature rows (the first 5 are kept as the input example).
    registered_model_name : str, optional
        Model-registry name; ``None`` logs without registering.
    name : str, default "model"
        Name of the logged model (``runs:/<run id>/<name>`` loads it).

    Returns
    -------
    str or None
        The model URI (``models:/<id>``), or None when there is no run (nothing is logged).

    Notes
    -----
    Loading needs ``churnlab`` importable (``mlflow.sklearn.load_model`` gives the estimator back,
    ``mlflow.pyfunc.load_model`` a scorer). The booster alone (MLflow's XGBoost flavour) cannot score
    string categories: its input example failed MLflow's serving validation.
    """
    from churnlab import tracking

    run_id = tracking.active_run_id()
    if run_id is None:
        return None
    import mlflow
    from mlflow.models import infer_signature

    check_is_fitted(model, "booster_")
    example = _mlflow_example(model, X_example)
    signature = infer_signature(example, model.predict_proba(example))
    mlflow.set_tracking_uri(tracking.tracking_uri())
    active = mlflow.active_run()
    if active is None or active.info.run_id != run_id:
        # Resume the notebook's run in this process and leave it open: the orchestrator owns its status
        # (FIELD_NOTES: the kernel's exit ends it; the runner marks failures itself).
        mlflow.start_run(run_id=run_id)
    info = mlflow.sklearn.log_model(model, name=name, signature=signature, input_example=example,
                                    pip_requirements=list(PIP_REQUIREMENTS), pyfunc_predict_fn="predict_proba",
                                    skops_trusted_types=list(_TRUSTED_TYPES),
                                    registered_model_name=registered_model_name)
    return info.model_uri


def _mlflow_example(model: ChurnXGBClassifier, X: pd.DataFrame) -> pd.DataFrame:
    """First 5 rows in the model's column order: categories as plain strings, numbers as floats.

    Numbers become float64 because a feature that is whole today may be missing tomorrow (MLflow warns
    about integer columns in a signature for that reason); the model converts them to float anyway.
    """
    example = _check_columns(_check_X(X, where="log_model"), model.feature_names_in_, "log_model").head(5).copy()
    for c in example.columns:
        if c in model.categories_:
            example[c] = example[c].astype("object").where(example[c].notna(), None)
        elif not pd.api.types.is_bool_dtype(example[c]):
            example[c] = pd.to_numeric(example[c], errors="coerce").astype("float64")
    return example.reset_index(drop=True)
