"""The persistent programme holdout on the weekly lists: who is never put on an action list.

Membership is a deterministic function of the customer id, the programme id and a salt: the hash unit
of :func:`churnlab.experiment.assign.hash_unit` for experiment ``"program:<program id>"`` below the share.
It is the campaign's own rule (:func:`churnlab.experiment.program.in_program_holdout`, also behind
``ProgramHoldout.members``) with the same default programme id,
so a customer held out of campaigns is held out of the weekly CRM lists too, whoever else is scored.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.experiment.program import DEFAULT_PROGRAM_ID, DEFAULT_PROGRAM_SHARE, in_program_holdout

__all__ = ["DEFAULT_PROGRAM_ID", "DEFAULT_PROGRAM_SHARE", "holdout_flags", "drop_holdout"]

def holdout_flags(customer_ids: Iterable[object], *, program_id: str = DEFAULT_PROGRAM_ID,
                  share: float = DEFAULT_PROGRAM_SHARE, salt: str = "") -> np.ndarray:
    """Flag the customers in the persistent programme holdout.

    Parameters
    ----------
    customer_ids : iterable
        Customer ids (compared as strings).
    program_id : str, default "retention-programme"
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
    return in_program_holdout(customer_ids, program_id, share, salt)


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
