"""How well a ranking by predicted uplift finds responders: the Qini curve and the effect in the top k%.

Both are computed on held-out (or cross-fitted) customers only; a curve on the customers the learners were
fitted on flatters them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from churnlab.errors import AnalysisError

__all__ = ["qini_curve", "uplift_at_k"]


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

