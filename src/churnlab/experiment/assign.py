"""Deterministic hash assignment of customers to a holdout and one or more offer arms.

A customer's arm is a function of (customer id, experiment id, salt) only: it never depends on who
else is in the table, on row order, or on how many customers there are. The holdout arm is named, so
an effect's direction never depends on which arm appears first.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError

__all__ = ["HOLDOUT", "DEFAULT_HOLDOUT_SHARE", "hash_unit", "planned_shares", "assign"]

HOLDOUT = "none"
# OPINIONS.md, "Holdout share": 10% holdout, 90% treated.
DEFAULT_HOLDOUT_SHARE = 0.1


def _escape(text: str) -> str:
    """Escape backslashes and colons so ``experiment_id:salt:`` splits back into its two parts."""
    return text.replace("\\", "\\\\").replace(":", "\\:")


def hash_unit(customer_ids: Iterable[object], experiment_id: str, salt: str = "") -> np.ndarray:
    r"""Return a uniform number in [0, 1) per customer from a SHA-256 hash.

    Parameters
    ----------
    customer_ids : iterable
        Customer ids (converted with ``str``).
    experiment_id : str
        Name of the experiment; another experiment reshuffles everyone independently.
    salt : str
        Extra text to re-randomise the same experiment.

    Returns
    -------
    numpy.ndarray of float
        ``int(sha256("{e}:{s}:{id}")[:8]) / 2^64`` per id, where ``e`` and ``s`` are the experiment id and salt
        with every backslash and colon escaped by a backslash.

    Notes
    -----
    The escaping makes the prefix decodable: id ``"a:b"`` without salt hashes ``"a\:b::"`` and id ``"a"`` with
    salt ``"b:"`` hashes ``"a:b\::"``, so the two never assign alike. Ids and salts without ``:`` or ``\``
    (every one in this project so far) hash exactly as before the escaping was introduced.

    Examples
    --------
    >>> u = hash_unit(["c1", "c2"], "exp")
    >>> bool(((u >= 0) & (u < 1)).all()), bool(hash_unit(["c2"], "exp")[0] == u[1])
    (True, True)
    """
    prefix = f"{_escape(str(experiment_id))}:{_escape(str(salt))}:".encode()
    out = [
        int.from_bytes(hashlib.sha256(prefix + str(cid).encode()).digest()[:8], "big") / 2.0**64
        for cid in customer_ids
    ]
    return np.asarray(out, dtype=float)


def planned_shares(
    arms: Sequence[str] | Mapping[str, float],
    holdout_share: float = DEFAULT_HOLDOUT_SHARE,
    holdout: str = HOLDOUT,
) -> dict[str, float]:
    """Return the planned share of each arm, holdout first.

    Parameters
    ----------
    arms : sequence of str or mapping of str to float
        Treated arms; a mapping gives relative weights, a sequence splits the treated share equally.
    holdout_share : float
        Share of customers kept out of every offer, strictly between 0 and 1.
    holdout : str
        Name of the holdout arm.

    Returns
    -------
    dict of str to float
        Arm name to planned share; the shares sum to 1.

    Raises
    ------
    AnalysisError
        When the holdout share is outside (0, 1), there is no treated arm, an arm is named like the
        holdout or appears twice, or a weight is not positive.

    Examples
    --------
    >>> planned_shares(["a", "b"], 0.1)
    {'none': 0.1, 'a': 0.45, 'b': 0.45}
    """
    if isinstance(holdout_share, bool) or not (isinstance(holdout_share, numbers.Real)
                                                and math.isfinite(holdout_share) and 0 < holdout_share < 1):
        raise AnalysisError(f"holdout share must be a number strictly between 0 and 1, got {holdout_share!r}")
    holdout_share = float(holdout_share)
    weights = dict(arms) if isinstance(arms, Mapping) else {a: 1.0 for a in arms}
    names = list(arms.keys()) if isinstance(arms, Mapping) else list(arms)
    if not names:
        raise AnalysisError("an experiment needs at least one treated arm")
    if len(set(names)) != len(names):
        raise AnalysisError(f"arm names must be unique, got {names}")
    if holdout in weights:
        raise AnalysisError(f"treated arm {holdout!r} has the holdout's name")
    bad = [a for a, w in weights.items() if not w > 0]
    if bad:
        raise AnalysisError(f"arm weights must be positive: {bad}")
    total = float(sum(weights.values()))
    shares = {holdout: float(holdout_share)}
    shares.update({a: (1 - holdout_share) * weights[a] / total for a in names})
    return shares


def assign(
    customers: pd.DataFrame | Iterable[object],
    experiment_id: str,
    arms: Sequence[str] | Mapping[str, float] = C.OFFERS,
    holdout_share: float = DEFAULT_HOLDOUT_SHARE,
    *,
    holdout: str = HOLDOUT,
    salt: str = "",
    customer_col: str = C.CUSTOMER_ID,
) -> pd.DataFrame:
    """Assign each customer to the holdout or an offer arm by a deterministic hash.

    Parameters
    ----------
    customers : DataFrame with ``customer_col`` or an iterable of customer ids
        Customers to assign; duplicate ids are assigned once.
    experiment_id : str
        Name of the experiment (part of the hash).
    arms : sequence of str or mapping of str to float
        Treated arms, or arm to weight; default the three offers of :data:`churnlab.config.OFFERS`.
    holdout_share : float
        Share kept out of every offer. ``0.1`` is a 10% holdout; ``0.9`` is "try the change on 10% first".
    holdout : str
        Name of the holdout arm (default ``"none"``).
    salt : str
        Extra text to draw a fresh randomisation for the same experiment id.
    customer_col : str
        Id column when ``customers`` is a DataFrame.

    Returns
    -------
    DataFrame
        One row per customer: ``customer_id, arm, bucket`` (``bucket`` is the hash unit in [0, 1)),
        in the input's order. ``attrs["planned_shares"]`` and ``attrs["experiment_id"]`` record the plan.

    Raises
    ------
    AnalysisError
        From :func:`planned_shares`, or when there is no customer or an id is missing.

    Notes
    -----
    The unit ``u`` is compared with cumulative planned shares (holdout first, then arms in the given
    order): the arm of one customer depends only on its own hash and the plan.

    Examples
    --------
    >>> table = assign([f"c{i}" for i in range(1000)], "exp-1", ["discount"], 0.1)
    >>> sorted(table["arm"].unique())
    ['discount', 'none']
    >>> bool(abs((table["arm"] == "none").mean() - 0.1) < 0.03)
    True
    """
    shares = planned_shares(arms, holdout_share, holdout)
    if isinstance(customers, pd.DataFrame):
        if customer_col not in customers.columns:
            raise AnalysisError(f"customers table has no {customer_col!r} column")
        ids = customers[customer_col]
    else:
        ids = pd.Series(list(customers))
    if ids.isna().any():
        raise AnalysisError(f"{int(ids.isna().sum())} customer ids are missing")
    ids = ids.drop_duplicates().reset_index(drop=True)
    if len(ids) == 0:
        raise AnalysisError("no customers to assign")
    u = hash_unit(ids, experiment_id, salt)
    names = list(shares)
    edges = np.cumsum([shares[a] for a in names])
    edges[-1] = 1.0 + 1e-12
    idx = np.searchsorted(edges, u, side="right")
    out = pd.DataFrame({customer_col: ids, "arm": np.asarray(names, dtype=object)[idx], "bucket": u})
    out.attrs["planned_shares"] = shares
    out.attrs["experiment_id"] = experiment_id
    out.attrs["holdout"] = holdout
    return out
