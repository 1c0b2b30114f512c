"""The XGBoost churn classifier: native categories, depth and trees chosen by inner cross-validation.

On a large training set the depth is compared on a capped subsample of whole customers and the number
of trees is then early-stopped once on all rows (``tuning_rows``), so the tuning cost stops growing with
the rows: OPINIONS.md, "XGBoost tuning on large training sets".

It follows scikit-learn's estimator rules: ``__init__`` stores keyword parameters unchanged, ``fit``
validates and returns ``self``, learned attributes end in ``_``, ``predict*`` checks the model is fitted
and ``random_state`` is resolved in ``fit``. Inputs are frames of named features (see
:mod:`churnlab.modeling._checks`); non-numeric columns are categories that XGBoost uses natively, so
SHAP gives one contribution per original column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GroupShuffleSplit, StratifiedGroupKFold, StratifiedKFold, train_test_split
from sklearn.utils.validation import check_is_fitted

from churnlab.errors import ModelError
from churnlab.modeling._checks import ChurnClassifierMixin, categorical_columns, check_columns, check_X, check_Xy

__all__ = ["ChurnXGBClassifier"]


class ChurnXGBClassifier(ChurnClassifierMixin, ClassifierMixin, BaseEstimator):
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
        Share of training rows held out for early stopping when ``tuning_folds`` is None, or for the
        number of trees when the rows exceed ``tuning_rows``, and no ``eval_set`` is passed.
    tuning_rows : int or None, default 50_000
        Row cap of the depth choice. With more training rows, the depths are compared (by
        ``tuning_folds`` folds, as above) on a random subsample of at most this many rows (whole
        customers when ``groups`` are given, stratified by label otherwise); the number of trees is
        then early-stopped once at the chosen depth on all rows but a ``validation_fraction`` split,
        and the final model refit on all rows with it: 9 small fits and 2 full ones instead of 10 on
        (nearly) all rows. ``None`` compares the depths on every row, however many.
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
    tuning_rows_ : int
        Rows the depths were compared on (all training rows unless ``tuning_rows`` capped them).
    classes_ : ndarray

    Notes
    -----
    Defaults are shallow, slow-learning and regularised (OPINIONS.md, "XGBoost defaults"): on
    small churn tables (Telco, 7k rows) the library's defaults (depth 6, eta 0.3) overfit.
    """

    def __init__(self, n_estimators: int = 1000, learning_rate: float = 0.03, max_depth: int | str = "auto",
                 min_child_weight: float = 5.0, subsample: float = 0.8, colsample_bytree: float = 0.8,
                 reg_lambda: float = 5.0, early_stopping_rounds: int = 50, tuning_folds: int | None = 3,
                 validation_fraction: float = 0.2, tuning_rows: int | None = 50_000, refit: bool = True,
                 n_jobs: int = 1, device: str = "cpu", random_state: int | None = 0):
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
        self.tuning_rows = tuning_rows
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

    def _tuning_splits(self, y: np.ndarray, groups, seed: int, folds: int | None
                       ) -> list[tuple[np.ndarray, np.ndarray]]:
        """(train, validation) row indices: ``folds`` folds, or one split of ``validation_fraction`` (None)."""
        if folds is not None and (not isinstance(folds, (int, np.integer)) or folds < 2):
            raise ModelError(f"ChurnXGBClassifier: tuning_folds {folds!r}; expected an int >= 2 or None")
        if folds is None and not 0 < self.validation_fraction < 1:
            raise ModelError(f"ChurnXGBClassifier: validation_fraction {self.validation_fraction!r}; expected a "
                             "share in (0, 1)")
        need = folds or 2
        smallest = int(np.bincount(y, minlength=2).min())
        if smallest < need:
            raise ModelError(f"ChurnXGBClassifier.fit: y has only {smallest} row(s) of its rarer class; "
                             f"{'tuning_folds=' + str(folds) if folds else 'the validation split'} needs at least "
                             f"{need} (pass eval_set, or fewer tuning_folds)")
        if groups is not None:
            groups = np.asarray(groups)
            if len(groups) != len(y):
                raise ModelError(f"ChurnXGBClassifier.fit: groups has {len(groups)} values, y has {len(y)}")
            if len(pd.unique(groups)) < need:
                raise ModelError(f"ChurnXGBClassifier.fit: groups has {len(pd.unique(groups))} distinct customer(s); "
                                 f"the tuning splits need at least {need}")
            if folds is None:
                return [next(GroupShuffleSplit(n_splits=1, test_size=self.validation_fraction,
                                               random_state=seed).split(y, y, groups))]
            return list(StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(y, y, groups))
        if folds is None:
            idx = np.arange(len(y))
            tr, va = train_test_split(idx, test_size=self.validation_fraction, stratify=y, random_state=seed)
            return [(tr, va)]
        return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(y, y))

    def _tuning_subsample(self, y: np.ndarray, groups, seed: int) -> np.ndarray | None:
        """Sorted row indices of the depth choice's subsample, or None when every row is used.

        At most ``tuning_rows`` rows: whole customers drawn in random order while they fit under the cap
        when ``groups`` are given, else a sample stratified by label.
        """
        cap = self.tuning_rows
        if cap is None:
            return None
        if isinstance(cap, (bool, np.bool_)) or not isinstance(cap, (int, np.integer)) or cap < 100:
            raise ModelError(f"ChurnXGBClassifier: tuning_rows {cap!r}; expected an int >= 100 or None")
        if len(y) <= cap:
            return None
        if groups is None:
            idx, _ = train_test_split(np.arange(len(y)), train_size=int(cap), stratify=y, random_state=seed)
            return np.sort(idx)
        groups = np.asarray(groups)
        if len(groups) != len(y):
            raise ModelError(f"ChurnXGBClassifier.fit: groups has {len(groups)} values, y has {len(y)}")
        codes = np.unique(groups, return_inverse=True)[1]
        sizes = np.bincount(codes)
        order = np.random.RandomState(seed).permutation(len(sizes))
        keep = np.zeros(len(sizes), dtype=bool)
        keep[order[np.cumsum(sizes[order]) <= cap]] = True
        return np.flatnonzero(keep[codes])

    def _seeds(self) -> tuple[int, int]:
        """Seed of the tuning splits and of XGBoost, resolved from ``random_state`` (None means 0)."""
        rs = self.random_state
        if rs is None:
            return 0, 0
        if isinstance(rs, (int, np.integer)):
            return int(rs), int(np.random.RandomState(rs).randint(2**31 - 1))
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(2**31 - 1)), int(rs.randint(2**31 - 1))
        raise ModelError(f"ChurnXGBClassifier: random_state {rs!r}; expected None, an int or a RandomState")

    def _xgb(self, n_estimators: int, early: bool, max_depth: int, seed: int):
        import xgboost as xgb

        return xgb.XGBClassifier(
            n_estimators=n_estimators, learning_rate=self.learning_rate, max_depth=max_depth,
            min_child_weight=self.min_child_weight, subsample=self.subsample, colsample_bytree=self.colsample_bytree,
            reg_lambda=self.reg_lambda, n_jobs=self.n_jobs, device=self.device, random_state=seed,
            tree_method="hist", enable_categorical=True, max_cat_to_onehot=8, eval_metric="logloss",
            early_stopping_rounds=self.early_stopping_rounds if early else None,
        )

    def _early_stopped(self, Xtr, ytr, Xva, yva, max_depth: int, seed: int):
        """Fit an XGBoost model of ``max_depth`` early-stopped on the validation rows."""
        return self._xgb(self.n_estimators, early=True, max_depth=max_depth, seed=seed).fit(
            Xtr, ytr, eval_set=[(Xva, yva)], verbose=False)

    def fit(self, X: pd.DataFrame, y, *, groups=None, eval_set: tuple[pd.DataFrame, np.ndarray] | None = None):
        """Choose depth and trees on the tuning folds (or ``eval_set``), refit; return self.

        With more rows than ``tuning_rows`` (and no ``eval_set``), the depth is chosen on a subsample
        and the trees by one early-stopped fit on all rows (see ``tuning_rows``).

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
            Bad features or labels (:func:`~churnlab.modeling._checks.check_Xy`: not a DataFrame, empty,
            a column neither numeric nor text, missing or non-0/1 labels, a single class, X and y of
            different lengths), too few rows of a class for the tuning folds, or a bad parameter.
        """
        X, y = check_Xy(X, y, where="ChurnXGBClassifier.fit")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.categories_ = {c: sorted(X[c].dropna().astype(str).unique().tolist()) for c in categorical_columns(X)}
        self.classes_ = np.array([0, 1])
        Xe = self._encode(X)
        seed, xgb_seed = self._seeds()
        if isinstance(self.max_depth, str):
            if self.max_depth != "auto":
                raise ModelError(f"ChurnXGBClassifier: max_depth {self.max_depth!r}; expected an int or 'auto'")
            depths = self.AUTO_DEPTHS
        else:
            depths = (int(self.max_depth),)
        if eval_set is not None:
            if not isinstance(eval_set, (tuple, list)) or len(eval_set) != 2:
                raise ModelError("ChurnXGBClassifier.fit: eval_set must be a pair (X_valid, y_valid)")
            where = "ChurnXGBClassifier.fit(eval_set)"
            Xva, yva = check_Xy(eval_set[0], eval_set[1], where=where)
            Xva = self._encode(check_columns(Xva, self.feature_names_in_, where, numeric=self._numeric()))
            splits = [(Xe, y, Xva, yva)]
        sub = None
        if eval_set is None:
            sub = self._tuning_subsample(y, groups, seed)
            rows = np.arange(len(y)) if sub is None else sub
            g = None if groups is None else np.asarray(groups)[rows]
            # one depth and a capped set: nothing to compare on the subsample, only the trees to stop
            folds = [] if sub is not None and len(depths) == 1 else self._tuning_splits(y[rows], g, seed,
                                                                                           self.tuning_folds)
            splits = [(Xe.iloc[rows[tr]], y[rows[tr]], Xe.iloc[rows[va]], y[rows[va]]) for tr, va in folds]
        self.tuning_rows_ = len(y) if sub is None else len(sub)
        scores: dict[int, list[float]] = {d: [] for d in depths}
        trees: dict[int, list[int]] = {d: [] for d in depths}
        first: dict[int, object] = {}
        for Xtr, ytr, Xva_, yva_ in splits:
            for d in depths:
                m = self._early_stopped(Xtr, ytr, Xva_, yva_, d, xgb_seed)
                scores[d].append(float(m.best_score))
                trees[d].append(int(m.best_iteration) + 1)
                first.setdefault(d, m)
        if sub is not None:
            # trees: early-stopped once on all rows at the chosen depth (more rows support more trees)
            depth = depths[0] if len(depths) == 1 else min(depths, key=lambda d: (np.mean(scores[d]), d))
            tr, va = self._tuning_splits(y, groups, seed, None)[0]
            first[depth] = m = self._early_stopped(Xe.iloc[tr], y[tr], Xe.iloc[va], y[va], depth, xgb_seed)
            trees[depth] = [int(m.best_iteration) + 1]
            if len(depths) == 1:
                scores[depth] = [float(m.best_score)]
        self.depth_scores_ = {d: float(np.mean(v)) for d, v in scores.items()}
        self.max_depth_ = min(self.depth_scores_, key=lambda d: (self.depth_scores_[d], d))
        self.n_trees_ = max(1, round(float(np.mean(trees[self.max_depth_]))))
        self.validation_log_loss_ = self.depth_scores_[self.max_depth_]
        if not self.refit:
            final = first[self.max_depth_]
            self.n_trees_ = int(final.best_iteration) + 1
        elif eval_set is None:
            final = self._xgb(self.n_trees_, early=False, max_depth=self.max_depth_, seed=xgb_seed).fit(
                Xe, y, verbose=False)
        else:
            final = self._xgb(self.n_trees_, early=False, max_depth=self.max_depth_, seed=xgb_seed).fit(
                pd.concat([Xe, splits[0][2]], ignore_index=True), np.concatenate([y, splits[0][3]]), verbose=False)
        self.model_ = final
        self.booster_ = final.get_booster()
        return self

    def _prepare(self, X) -> pd.DataFrame:
        check_is_fitted(self, "booster_")
        X = check_X(X, where="ChurnXGBClassifier.predict", numeric=self._numeric())
        return self._encode(check_columns(X, self.feature_names_in_, "ChurnXGBClassifier.predict",
                                          numeric=self._numeric()))

    def _numeric(self) -> list[str]:
        """Features that were numeric (or boolean) in fit."""
        return [c for c in self.feature_names_in_ if c not in self.categories_]

    def _dmatrix(self, X):
        import xgboost as xgb

        return xgb.DMatrix(self._prepare(X), enable_categorical=True)

    def decision_function(self, X) -> np.ndarray:
        """Margin (log-odds) of churn."""
        check_is_fitted(self, "booster_")
        return self.booster_.predict(self._dmatrix(X), output_margin=True, iteration_range=self._range())

    def _range(self) -> tuple[int, int]:
        return (0, self.booster_.num_boosted_rounds())

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of (stay, churn), shape (n, 2)."""
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1 - p, p])


    def contributions(self, X) -> pd.DataFrame:
        """SHAP values of every feature (XGBoost ``pred_contribs``, exact TreeSHAP) plus ``base_value``.

        Returns
        -------
        DataFrame
            One row per row of X (same index order), one column per feature and ``base_value``;
            each row sums to the margin (log-odds).
        """
        check_is_fitted(self, "booster_")
        contrib = self.booster_.predict(self._dmatrix(X), pred_contribs=True, iteration_range=self._range())
        cols = [*self.feature_names_in_, "base_value"]
        return pd.DataFrame(contrib, columns=cols, index=pd.RangeIndex(len(contrib)))


