"""Score and feature drift against the training window, and the model's quality on each matured window.

:func:`psi` is the population stability index of one variable between a reference sample (the training
window) and the current one, with a bootstrap interval; :func:`feature_drift` applies it to every numeric
feature; :func:`window_quality` measures ROC-AUC, Brier score and calibration-in-the-large on a window
whose labels have matured, next to the figures the model had when it was trained.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score

from churnlab.errors import AnalysisError
from churnlab.intervals import wilson_interval, z_value

__all__ = ["PSI_BINS", "psi", "feature_drift", "window_quality", "training_figures", "auc_standard_error"]

#: Quantile bins of the reference sample (OPINIONS.md, "Drift: PSI").
PSI_BINS = 10
_EPS = 1e-4


def _edges(reference: np.ndarray, bins: int) -> np.ndarray:
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    return edges


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1).astype(float)
    return np.clip(counts / max(values.size, 1), _EPS, None)


def _psi(ref_share: np.ndarray, cur_share: np.ndarray) -> float:
    return float(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))


def psi(reference, current, *, bins: int = PSI_BINS, n_boot: int = 200, alpha: float = 0.05,
        random_state: int = 0) -> dict:
    """Compute the population stability index of ``current`` against ``reference``, with a bootstrap interval.

    Parameters
    ----------
    reference, current : array of float
        Samples of one variable (missing values are left out).
    bins : int, default 10
        Quantile bins of the reference (fewer when it has ties).
    n_boot : int, default 200
        Bootstrap resamples of both samples for the interval (0: none).
    alpha : float, default 0.05
        One minus the interval's level.
    random_state : int, default 0
        Seed of the resampling.

    Returns
    -------
    dict
        ``psi, psi_lower, psi_upper, n_reference, n_current, bins``.

    Raises
    ------
    AnalysisError
        When either sample is empty.

    Notes
    -----
    ``PSI = sum_b (c_b - r_b) ln(c_b / r_b)`` over the bins, with shares floored at 1e-4 (Siddiqi 2006,
    ch. 8); common reading: below 0.1 stable, 0.1-0.25 a shift worth a look, above 0.25 a major shift.
    Even identical populations give a positive PSI from sampling alone (about ``(bins - 1)(1/n_r + 1/n_c)``),
    which the percentile interval shows.

    References
    ----------
    .. [1] Siddiqi, N. (2006) Credit Risk Scorecards. Wiley.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> round(psi(rng.normal(size=5000), rng.normal(size=5000), n_boot=0)["psi"], 3) < 0.01
    True
    """
    r = np.asarray(reference, dtype=float)
    c = np.asarray(current, dtype=float)
    r, c = r[~np.isnan(r)], c[~np.isnan(c)]
    if r.size == 0 or c.size == 0:
        raise AnalysisError(f"psi: empty sample (reference {r.size}, current {c.size}); expected values in both")
    edges = _edges(r, bins)
    ref_share, cur_share = _shares(r, edges), _shares(c, edges)
    value = _psi(ref_share, cur_share)
    lo = hi = np.nan
    if n_boot:
        # PSI depends on the bin counts only: resampling values = multinomial draws of the counts
        rng = np.random.default_rng(random_state)
        rb = np.clip(rng.multinomial(r.size, ref_share / ref_share.sum(), size=int(n_boot)) / r.size, _EPS, None)
        cb = np.clip(rng.multinomial(c.size, cur_share / cur_share.sum(), size=int(n_boot)) / c.size, _EPS, None)
        boots = np.sum((cb - rb) * np.log(cb / rb), axis=1)
        lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return {"psi": value, "psi_lower": float(lo), "psi_upper": float(hi), "n_reference": int(r.size),
            "n_current": int(c.size), "bins": int(edges.size + 1)}


def feature_drift(reference: pd.DataFrame, current: pd.DataFrame, columns: Sequence[str] | None = None, *,
                  bins: int = PSI_BINS, n_boot: int = 100, alpha: float = 0.05) -> pd.DataFrame:
    """Compute the PSI of every numeric column shared by the two frames, largest first.

    Parameters
    ----------
    reference, current : DataFrame
        Feature frames (the training window, this week).
    columns : sequence of str, optional
        Default every numeric column present in both.
    bins, n_boot, alpha
        As in :func:`psi`.

    Returns
    -------
    DataFrame
        ``feature, psi, psi_lower, psi_upper, n_reference, n_current, bins, mean_reference, mean_current``.
    """
    cols = columns or [c for c in reference.columns if c in current.columns
                       and pd.api.types.is_numeric_dtype(reference[c]) and not pd.api.types.is_bool_dtype(reference[c])]
    rows = []
    for col in cols:
        a, b = reference[col].astype("float64"), current[col].astype("float64")
        if a.notna().sum() == 0 or b.notna().sum() == 0:
            continue
        rows.append({"feature": col, **psi(a, b, bins=bins, n_boot=n_boot, alpha=alpha),
                     "mean_reference": float(a.mean()), "mean_current": float(b.mean())})
    out = pd.DataFrame(rows, columns=["feature", "psi", "psi_lower", "psi_upper", "n_reference", "n_current", "bins",
                                      "mean_reference", "mean_current"])
    return out.sort_values("psi", ascending=False, kind="stable").reset_index(drop=True)


def auc_standard_error(auc: float, n_pos: int, n_neg: int) -> float:
    """Return the standard error of a ROC-AUC (Hanley & McNeil 1982, eq. 2).

    Examples
    --------
    >>> round(auc_standard_error(0.8, 50, 950), 4)
    0.0381
    """
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg)
    return float(np.sqrt(max(var, 0.0)))


#: Training-run metric names that carry a model's training figures, first found wins: notebook 02's
#: out-of-time test window, then the weekly job's own training (:func:`churnlab.monitor.champion.train_model`).
TRAINING_METRICS = {"roc_auc": ("xgboost_out_of_time_roc_auc", "roc_auc_test", "training_roc_auc",
                                "xgboost_test_roc_auc"),
                    "brier": ("brier_calibrated", "training_brier")}


def training_figures(metrics: Mapping[str, float]) -> dict[str, float]:
    """Pick the model's training ROC-AUC and Brier score from its training run's metrics (NaN when absent).

    Examples
    --------
    >>> training_figures({"xgboost_out_of_time_roc_auc": 0.81, "brier_calibrated": 0.05})
    {'roc_auc': 0.81, 'brier': 0.05}
    """
    out = {}
    for key, names in TRAINING_METRICS.items():
        out[key] = next((float(metrics[n]) for n in names if n in metrics), float("nan"))
    return out


def window_quality(y, probability, *, training: Mapping[str, float] | None = None, alpha: float = 0.05) -> dict:
    """Measure ROC-AUC, Brier score and calibration of one matured window, next to the training figures.

    Parameters
    ----------
    y : array of 0/1
        Realised labels of the window.
    probability : array of float
        The calibrated probabilities the customers had at the window's cutoff.
    training : mapping, optional
        ``roc_auc, brier`` of the model when trained (:func:`training_figures`).
    alpha : float, default 0.05
        One minus the intervals' level.

    Returns
    -------
    dict
        ``n, churners, roc_auc, roc_auc_lower, roc_auc_upper`` (Hanley-McNeil), ``brier``, ``mean_predicted``,
        ``observed_rate`` (Wilson ``observed_lower/upper``), ``calibration_gap = observed - predicted``,
        ``training_roc_auc, training_brier, auc_drop = training - window``.

    Raises
    ------
    AnalysisError
        When the window has a single class or the lengths differ.
    """
    y = np.asarray(y, dtype=int)
    p = np.asarray(probability, dtype=float)
    if y.size != p.size or y.size == 0:
        raise AnalysisError(f"window_quality: {y.size} labels and {p.size} probabilities; expected the same, > 0")
    pos = int(y.sum())
    if pos == 0 or pos == y.size:
        raise AnalysisError(f"window_quality: the window has a single class ({pos} churners of {y.size})")
    auc = float(roc_auc_score(y, p))
    se = auc_standard_error(auc, pos, y.size - pos)
    z = z_value(alpha)
    lo, hi = wilson_interval(pos, y.size, alpha)
    train = dict(training or {})
    t_auc, t_brier = float(train.get("roc_auc", np.nan)), float(train.get("brier", np.nan))
    return {"n": int(y.size), "churners": pos, "roc_auc": auc, "roc_auc_lower": auc - z * se,
            "roc_auc_upper": min(auc + z * se, 1.0), "brier": float(brier_score_loss(y, p)),
            "mean_predicted": float(p.mean()), "observed_rate": pos / y.size, "observed_lower": float(lo),
            "observed_upper": float(hi), "calibration_gap": pos / y.size - float(p.mean()),
            "training_roc_auc": t_auc, "training_brier": t_brier, "auc_drop": t_auc - auc}
