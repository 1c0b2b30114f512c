"""Defaults and input checks shared by the experiment's test families."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from churnlab.errors import AnalysisError

__all__ = ["DEFAULT_ALPHA", "DEFAULT_SRM_ALPHA", "require_columns"]

# OPINIONS.md, "Alpha" and "SRM threshold".
DEFAULT_ALPHA = 0.05
DEFAULT_SRM_ALPHA = 0.001


def require_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Raise :class:`~churnlab.errors.AnalysisError` naming the ``columns`` missing from ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AnalysisError(f"{what} missing from the outcomes table: {missing}")
