"""Input checks shared by the churn estimators: features, labels and their alignment.

Every problem raises :class:`~churnlab.errors.ModelError` with one line that names the caller, the
column or parameter and what was expected, never a raw pandas, numpy or XGBoost error. Features are
numbers, booleans or text categories (``category``, ``string`` or ``object`` columns holding text);
anything else (timestamps, durations, numbers mixed with text in one column) is refused, because a
silent conversion would turn it into a meaningless category or into missing values.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import ModelError

#: Key columns dropped from a feature frame when present (they identify rows, they are not features).
KEYS = (C.CUSTOMER_ID, C.CUTOFF, C.LABEL)


def check_y(y, *, where: str = "labels") -> np.ndarray:
    """Check churn labels: one-dimensional, no missing value, only 0/1 (or bool), both classes present.

    Parameters
    ----------
    y : array-like
        1 = churned, 0 = stayed.
    where : str
        Caller named in the error.

    Returns
    -------
    ndarray of int

    Raises
    ------
    ModelError
        Not one-dimensional, empty, a missing label, a value other than 0/1, or a single class.
    """
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ModelError(f"{where}: y must be one-dimensional; got shape {arr.shape}")
    if len(arr) == 0:
        raise ModelError(f"{where}: y has no rows")
    null = np.asarray(pd.isna(arr), dtype=bool)
    if null.any():
        raise ModelError(f"{where}: y has {int(null.sum())} missing label(s) (first at row {int(np.argmax(null))}); "
                         "every row needs 0 (stayed) or 1 (churned)")
    values = pd.unique(arr.ravel())
    bad = [v for v in values if not _is_binary(v)]
    if bad:
        many = " Only binary classification is supported." if len(values) > 2 else ""
        raise ModelError(f"{where}: y must be 0/1 or bool; got {bad[0]!r} among {len(values)} distinct value(s) "
                         f"(map the churn flag to 1 = churned, 0 = stayed).{many}")
    out = np.asarray([int(v) for v in arr], dtype=int) if arr.dtype == object else arr.astype(int)
    uniq = np.unique(out)
    if len(uniq) < 2:
        raise ModelError(f"{where}: labels have a single class ({uniq.tolist()}): one class cannot train a churn "
                         "model, which needs churners and stayers")
    return out


def _is_binary(v) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return True
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v) in (0.0, 1.0)
    return False


def check_X(X, *, where: str, numeric: Sequence[str] = ()) -> pd.DataFrame:
    """Check a feature frame and drop key columns.

    Parameters
    ----------
    X : DataFrame
        Feature columns: numbers, booleans or text categories; ``customer_id, cutoff, label`` are dropped.
    where : str
        Caller named in the error (``"ChurnXGBClassifier.fit"``).
    numeric : sequence of str
        At scoring, the columns numeric in training: text in them is judged by :func:`check_columns`
        (numbers written as text pass), not refused as a mixed category here.

    Returns
    -------
    DataFrame
        The feature columns (the caller's frame is not modified).

    Raises
    ------
    ModelError
        Not a DataFrame, no rows, no feature column, a repeated column name, a column that is neither
        numeric nor text, or an infinite value.
    """
    if not isinstance(X, pd.DataFrame):
        if hasattr(X, "tocsr") or hasattr(X, "nnz"):
            raise ModelError(f"{where}: X is a sparse matrix; sparse input is not supported, pass a DataFrame of "
                             "named features")
        raise ModelError(f"{where}: X must be a DataFrame of named features; got {type(X).__name__}")
    if len(X) == 0:
        raise ModelError(f"{where}: X has no rows")
    keys = [c for c in KEYS if c in X.columns]
    X = X.drop(columns=keys)
    if X.shape[1] == 0:
        raise ModelError(f"{where}: X has no feature columns (only keys {keys})")
    dup = X.columns[X.columns.duplicated()]
    if len(dup):
        raise ModelError(f"{where}: X has column {dup[0]!r} more than once")
    for c in X.columns:
        if c in numeric and (X[c].dtype == object or pd.api.types.is_string_dtype(X[c].dtype)):
            continue
        _check_column(X[c], f"{where}: X.{c}")
    return X


def _check_column(col: pd.Series, label: str) -> None:
    """Refuse a column that is neither numeric, boolean nor text, and infinite numbers."""
    dtype = col.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return
    if pd.api.types.is_complex_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype) or \
            pd.api.types.is_timedelta64_dtype(dtype) or isinstance(dtype, (pd.PeriodDtype, pd.IntervalDtype)):
        raise ModelError(f"{label}: dtype {dtype} is neither a number nor a category; convert it first "
                         "(e.g. a timestamp to days since it)")
    if pd.api.types.is_numeric_dtype(dtype):
        values = col.to_numpy(dtype=float, na_value=np.nan)
        inf = np.isinf(values)
        if inf.any():
            raise ModelError(f"{label}: {int(inf.sum())} infinite value(s); replace them with NaN (missing) or a "
                             "finite number")
        return
    if isinstance(dtype, pd.CategoricalDtype):
        return  # declared categories, whatever their values (codes of a plan, say)
    values = col.dropna()
    odd = values[~values.map(lambda v: isinstance(v, (str, bool, np.bool_)))]
    if len(odd):
        raise ModelError(f"{label}: a non-numeric column must hold text categories; found {odd.iloc[0]!r} "
                         f"({type(odd.iloc[0]).__name__}); convert the column with pd.to_numeric or astype(str)")


def check_Xy(X, y, *, where: str) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`check_X` and :func:`check_y`, and the same number of rows in both."""
    X = check_X(X, where=where)
    n_y = len(y) if hasattr(y, "__len__") else None
    if n_y is not None and n_y != len(X):
        raise ModelError(f"{where}: X has {len(X)} rows, y has {n_y}; they must be aligned row by row")
    return X, check_y(y, where=where)


def categorical_columns(X: pd.DataFrame) -> list[str]:
    """Columns that are neither numeric nor boolean (text categories after :func:`check_X`)."""
    return [c for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))]


def check_columns(X: pd.DataFrame, expected: Sequence[str], where: str, *,
                  numeric: Sequence[str] = ()) -> pd.DataFrame:
    """Return the training columns in training order; ``numeric`` ones must still hold numbers.

    Parameters
    ----------
    X : DataFrame
        Checked by :func:`check_X`.
    expected : sequence of str
        Feature names seen in fit.
    where : str
        Caller named in the error.
    numeric : sequence of str
        Columns numeric in training: text that is not a number is refused (it would become missing).

    Returns
    -------
    DataFrame
        The ``expected`` columns; numeric ones given as text are converted to float.

    Raises
    ------
    ModelError
        A feature is missing, or a numeric feature holds text.
    """
    missing = [c for c in expected if c not in X.columns]
    if missing:
        raise ModelError(f"{where}: feature {missing[0]!r} missing at scoring time ({len(missing)} missing); "
                         "build features with the same tables and windows as in training")
    out = X[list(expected)]
    for c in numeric:
        col = out[c]
        if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            continue
        converted = pd.to_numeric(col, errors="coerce")
        lost = converted.isna() & col.notna()
        if lost.any():
            raise ModelError(f"{where}: X.{c} was numeric in training but holds {col[lost].iloc[0]!r}; "
                             "give numbers (missing values as NaN)")
        out = out.assign(**{c: converted.astype("float64")})
    return out


class ChurnClassifierMixin:
    """What every churn classifier on feature frames shares: 0/1 at probability 0.5, and its scikit-learn tags.

    Put it before ``ClassifierMixin`` in the bases; the tags say the estimator takes missing values and
    categorical columns and that labels are 0/1 (churn or not), never several classes.
    """

    def predict(self, X) -> np.ndarray:
        """0/1 at probability 0.5 (use :func:`churnlab.modeling.best_operating_point` for a business threshold)."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.classifier_tags.multi_class = False  # churn or not: labels are 0/1
        return tags

