"""Churn of customers exposed to a condition vs not: rates, difference, risk ratio, lift, with intervals.

The one comparison every pattern module ends with: a customer-level frame of boolean exposure
columns (``late_payment``, ``no_fcr``, ``stopped_reports`` ...) and the churn label, into one row per
exposure with the churn rate of each side (Wilson), their difference (Newcombe) and a two-proportion
z-test, the risk ratio (Katz) and the signal view: prevalence, precision, recall and lift.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.intervals import (
    newcombe_difference_interval,
    risk_ratio_interval,
    two_proportion_z_test,
    wilson_interval,
)
from churnlab.schema import require_columns

__all__ = ["compare_exposed", "COLUMNS"]

#: Columns of :func:`compare_exposed`, in order (after the optional ``by`` column).
COLUMNS = (
    "exposure", "n", "prevalence", "n_exposed", "churned_exposed", "churn_exposed", "churn_exposed_lower",
    "churn_exposed_upper", "n_unexposed", "churned_unexposed", "churn_unexposed", "churn_unexposed_lower",
    "churn_unexposed_upper", "difference", "difference_lower", "difference_upper", "risk_ratio",
    "risk_ratio_lower", "risk_ratio_upper", "z", "p_value", "base_rate", "precision", "recall", "recall_lower",
    "recall_upper", "lift", "lift_lower", "lift_upper",
)


def _one(flag: pd.Series, y: pd.Series, alpha: float) -> dict:
    keep = flag.notna()
    e = flag[keep].astype(bool).to_numpy()
    yy = y[keep].astype(int).to_numpy()
    n1, x1 = int(e.sum()), int(yy[e].sum())
    n0, x0 = int((~e).sum()), int(yy[~e].sum())
    n, x = n1 + n0, x1 + x0
    lo1, hi1 = wilson_interval(x1, n1, alpha)
    lo0, hi0 = wilson_interval(x0, n0, alpha)
    dlo, dhi = newcombe_difference_interval(x1, n1, x0, n0, alpha)
    rr, rlo, rhi = risk_ratio_interval(x1, n1, x0, n0, alpha)
    z, p = two_proportion_z_test(x1, n1, x0, n0)
    rec_lo, rec_hi = wilson_interval(x1, x, alpha)
    base = x / n if n else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = x1 / n1 if n1 else np.nan
        r0 = x0 / n0 if n0 else np.nan
        lift = r1 / base if base else np.nan
    return {
        "n": n, "prevalence": n1 / n if n else np.nan, "n_exposed": n1, "churned_exposed": x1, "churn_exposed": r1,
        "churn_exposed_lower": float(lo1), "churn_exposed_upper": float(hi1), "n_unexposed": n0,
        "churned_unexposed": x0, "churn_unexposed": r0, "churn_unexposed_lower": float(lo0),
        "churn_unexposed_upper": float(hi0), "difference": r1 - r0, "difference_lower": float(dlo),
        "difference_upper": float(dhi), "risk_ratio": float(rr), "risk_ratio_lower": float(rlo),
        "risk_ratio_upper": float(rhi), "z": float(z), "p_value": float(p), "base_rate": base, "precision": r1,
        "recall": x1 / x if x else np.nan, "recall_lower": float(rec_lo), "recall_upper": float(rec_hi),
        "lift": lift, "lift_lower": float(lo1) / base if base else np.nan,
        "lift_upper": float(hi1) / base if base else np.nan,
    }


def compare_exposed(frame: pd.DataFrame, exposures: str | Sequence[str], *, outcome: str = C.LABEL,
                    by: str | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Compare the churn of exposed and not-exposed customers, for each exposure column.

    Parameters
    ----------
    frame : DataFrame
        One row per customer: the ``outcome`` column (0/1) and boolean ``exposures`` columns. A
        missing exposure value means "not applicable" (no emails to judge a drop by): the customer is
        left out of that comparison only.
    exposures : str or sequence of str
        Exposure column names.
    outcome : str
        Churn label column.
    by : str, optional
        Compare within each value of this column (e.g. ``segment``) as well.
    alpha : float
        One minus the confidence level of every interval.

    Returns
    -------
    DataFrame
        One row per exposure (and ``by`` value): the columns in :data:`COLUMNS`. ``churn_exposed`` is
        the rate among exposed (Wilson bounds), ``difference`` = exposed - unexposed (Newcombe
        bounds), ``risk_ratio`` (Katz bounds), ``p_value`` of the pooled z-test; the signal view:
        ``prevalence`` = exposed share, ``precision`` = ``churn_exposed``, ``recall`` = share of
        churners who were exposed (Wilson), ``lift`` = precision / base rate (bounds: the precision's
        Wilson bounds over the base rate, taken as known).

    Raises
    ------
    SchemaError
        When a column is missing.
    AnalysisError
        When the frame is empty.

    Examples
    --------
    >>> f = pd.DataFrame({"label": [1, 1, 0, 0, 1, 0, 0, 0], "late": [1, 1, 1, 0, 0, 0, 0, 0]})
    >>> r = compare_exposed(f, "late").iloc[0]
    >>> [round(float(r[k]), 3) for k in ("churn_exposed", "churn_unexposed", "recall", "lift")]
    [0.667, 0.2, 0.667, 1.778]
    """
    cols = [exposures] if isinstance(exposures, str) else list(exposures)
    require_columns(frame, [outcome, *cols, *([by] if by else [])], table="frame")
    if frame.empty:
        raise AnalysisError("compare_exposed: no customers to compare")
    rows = []
    groups = [(None, frame)] if by is None else list(frame.groupby(by, sort=True, dropna=True))
    for key, g in groups:
        for col in cols:
            row = {"exposure": col, **_one(g[col], g[outcome], alpha)}
            if by is not None:
                row = {by: key, **row}
            rows.append(row)
    return pd.DataFrame(rows, columns=([by] if by else []) + list(COLUMNS))
