"""The persistent programme holdout on the weekly lists: who is never put on an action list.

Membership is a deterministic function of the customer id, the programme id and a salt: the hash unit
of :func:`churnlab.experiment.assign.hash_unit` for experiment ``"program:<program id>"`` below the share.
It is the same hash the campaign's programme holdout uses (``experiment.program.ProgramHoldout.members``),
so a customer held out of campaigns is held out of the weekly CRM lists too, whoever else is scored.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.experiment.assign import hash_unit

__all__ = ["DEFAULT_PROGRAM_ID", "DEFAULT_PROGRAM_SHARE", "holdout_flags", "drop_holdout"]

#: Programme id of the retention programme's holdout (part of the hash).
DEFAULT_PROGRAM_ID = "retention"
#: Share of customers kept out of every offer (OPINIONS.md, "Programme holdout": the campaign's 5%).
DEFAULT_PROGRAM_SHARE = 0.05


def _check_share(share: float) -> float:
    if isinstance(share, bool) or not isinstance(share, (int, float, np.floating)) or not 0 < float(share) < 1:
        raise AnalysisError(f"programme holdout share: expected a number strictly between 0 and 1, got {share!r}")
    return float(share)


def holdout_flags(customer_ids: Iterable[object], *, program_id: str = DEFAULT_PROGRAM_ID,
                  share: float = DEFAULT_PROGRAM_SHARE, salt: str = "") -> np.ndarray:
    """Flag the customers in the persistent programme holdout.

    Parameters
    ----------
    customer_ids : iterable
        Customer ids (compared as strings).
    program_id : str, default "retention"
        The programme; another id draws an independent holdout.
    share : float, default 0.05
        Share held out, strictly between 0 and 1.
    salt : str, default ""
        A new salt draws a new holdout for a new period.

    Returns
    -------
    ndarray of bool
        Aligned with ``customer_ids``: ``hash_unit(id, "program:" + program_id, salt) < share``.

    Raises
    ------
    AnalysisError
        When the share is outside (0, 1).

    Examples
    --------
    >>> ids = [f"c{i}" for i in range(20_000)]
    >>> flags = holdout_flags(ids)
    >>> bool(abs(flags.mean() - 0.05) < 0.005), bool((holdout_flags(ids[:50]) == flags[:50]).all())
    (True, True)
    """
    share = _check_share(share)
    ids = [str(c) for c in customer_ids]
    if not ids:
        return np.zeros(0, dtype=bool)
    return hash_unit(ids, f"program:{program_id}", salt) < share


def drop_holdout(frame: pd.DataFrame, *, program_id: str = DEFAULT_PROGRAM_ID, share: float = DEFAULT_PROGRAM_SHARE,
                 salt: str = "", customer_col: str = C.CUSTOMER_ID) -> pd.DataFrame:
    """Return ``frame`` without its holdout customers (a copy); ``attrs["held_out"]`` counts those removed.

    Raises
    ------
    SchemaError
        When ``customer_col`` is missing.
    """
    from churnlab.schema import require_columns

    require_columns(frame, [customer_col], table="action list")
    held = holdout_flags(frame[customer_col], program_id=program_id, share=share, salt=salt)
    out = frame.loc[~held].reset_index(drop=True)
    out.attrs["held_out"] = int(held.sum())
    return out
