"""Calibration: a map from a fitted model's scores to probabilities, learnt on held-out rows.

:func:`calibrate` returns a :class:`Calibrated` wrapper (a frozen record of the model and its map, not a
scikit-learn estimator: it is never refitted, only applied). OPINIONS.md, "Calibration method".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from churnlab.errors import ModelError
from churnlab.modeling._checks import check_y

__all__ = ["Calibrated", "calibrate"]

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
    y = check_y(y_cal, where="calibrate")
    s = model.predict_proba(X_cal)[:, 1]
    if method == "isotonic":
        mapper = IsotonicRegression(out_of_bounds="clip", y_min=1e-4, y_max=1 - 1e-4).fit(s, y)
    elif method == "sigmoid":
        mapper = LogisticRegression(C=1e6).fit(_logit(s).reshape(-1, 1), y)
    else:
        raise ModelError(f"calibrate: method {method!r}; expected 'isotonic' or 'sigmoid'")
    return Calibrated(model=model, method=method, mapper=mapper, n_calibration=len(y))

