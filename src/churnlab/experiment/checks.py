"""Defaults and input checks shared by the experiment's test families.

Every check raises :class:`~churnlab.errors.AnalysisError` with one line that names the parameter, table or
column and what was expected.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import pandas as pd

from churnlab.errors import AnalysisError

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_SRM_ALPHA",
    "DEFAULT_CAP_QUANTILE",
    "require_columns",
    "check_alpha",
    "check_sides",
    "check_probability",
    "check_outcomes",
]

# OPINIONS.md, "Alpha" and "SRM threshold".
DEFAULT_ALPHA = 0.05
DEFAULT_SRM_ALPHA = 0.001
# OPINIONS.md, "Heavy-tailed metrics": non-binary metrics are capped at the pooled 99th percentile.
DEFAULT_CAP_QUANTILE = 0.99


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise :class:`~churnlab.errors.AnalysisError` naming the ``columns`` missing from ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AnalysisError(f"{what} missing from the outcomes table: {missing}")


def _real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_probability(value: object, name: str, *, closed: bool = False) -> float:
    """Return ``value`` as a float after checking it is a finite number in (0, 1) ([0, 1] when ``closed``).

    Examples
    --------
    >>> check_probability(0.05, "alpha")
    0.05
    """
    ok = _real(value) and math.isfinite(float(value))
    if ok:
        v = float(value)
        ok = 0.0 <= v <= 1.0 if closed else 0.0 < v < 1.0
    if not ok:
        span = "[0, 1]" if closed else "strictly between 0 and 1"
        raise AnalysisError(f"{name} must be a finite number {span}, got {value!r}")
    return float(value)


def check_alpha(alpha: object, name: str = "alpha") -> float:
    """Return a significance level after checking it is finite and in (0, 1)."""
    return check_probability(alpha, name)


def check_sides(sides: object) -> int:
    """Return ``sides`` after checking it is 1 (one-sided, ``H1: effect > 0``) or 2 (two-sided)."""
    if isinstance(sides, bool) or sides not in (1, 2):
        raise AnalysisError(f"sides must be 1 (one-sided) or 2 (two-sided), got {sides!r}")
    return int(sides)


def check_outcomes(frame: pd.DataFrame, arm_col: str = "arm", customer_col: str = "customer_id") -> None:
    """Refuse an outcomes table with rows that have no arm or customers that appear twice.

    Parameters
    ----------
    frame : DataFrame
        One row per assigned customer: ``arm_col`` and, when present, ``customer_col``.
    arm_col, customer_col : str
        Arm and customer id columns (the id check is skipped when the table has no id column).

    Raises
    ------
    AnalysisError
        When ``arm_col`` is missing, a row has no arm (it would be dropped silently), or a customer appears
        on more than one row (they would be counted twice).

    Examples
    --------
    >>> check_outcomes(pd.DataFrame({"customer_id": ["a", "a"], "arm": ["none", "offer"]}))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    churnlab.errors.AnalysisError: outcomes table: customer_id appears on more than one row for 1 customers ...
    """
    require_columns(frame, [arm_col], "arm column")
    no_arm = frame[arm_col].isna()
    if no_arm.any():
        where = frame.loc[no_arm, customer_col].head(3).tolist() if customer_col in frame.columns else \
            frame.index[no_arm][:3].tolist()
        raise AnalysisError(f"outcomes table: {int(no_arm.sum())} rows have no {arm_col!r} (e.g. {where}); "
                            "assign them or drop them before the analysis")
    if customer_col in frame.columns:
        dup = frame[customer_col].duplicated(keep=False)
        if dup.any():
            ids = pd.unique(frame.loc[dup, customer_col])
            raise AnalysisError(f"outcomes table: {customer_col} appears on more than one row for {len(ids)} "
                                f"customers (e.g. {list(ids[:3])}); one row per assigned customer expected")
