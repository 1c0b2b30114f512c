"""Training rows and how to split them: features aligned with labels, out-of-time and grouped splits.

A :class:`TrainingData` holds features, labels and keys row by row (one row per customer and cutoff);
:func:`time_split` tests out of time on the latest cutoffs; :func:`holdout_split` falls back to a
stratified split by customer for snapshots; the fold helpers keep each customer in one fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from churnlab import config as C
from churnlab.errors import ModelError
from churnlab.labels import LabelTimes
from churnlab.modeling._checks import KEYS, check_y

__all__ = ["TrainingData", "training_data", "sample_label_times", "time_split", "holdout_split", "grouped_folds",
           "stratified_folds"]


@dataclass(frozen=True)
class TrainingData:
    """Features, labels and keys aligned row by row.

    Attributes
    ----------
    X : DataFrame
        Feature columns only.
    y : ndarray of int
        1 = churned in the window.
    keys : DataFrame
        ``customer_id, cutoff`` of each row.
    """

    X: pd.DataFrame
    y: np.ndarray
    keys: pd.DataFrame

    def subset(self, mask: np.ndarray) -> TrainingData:
        """Rows where ``mask`` is True."""
        mask = np.asarray(mask, dtype=bool)
        return TrainingData(self.X.loc[mask].reset_index(drop=True), self.y[mask],
                            self.keys.loc[mask].reset_index(drop=True))

    def sample(self, n: int, *, random_state: int = 0) -> TrainingData:
        """Return ``n`` rows drawn at random (all rows when fewer), in their order.

        The same rows as :meth:`churnlab.explain.Explanation.sample` of an explanation of these rows, so a plot
        sample can be explained alone instead of explaining every row and sampling afterwards.
        """
        if n >= len(self.y):
            return self
        idx = np.sort(np.random.default_rng(random_state).choice(len(self.y), size=n, replace=False))
        return self.subset(np.isin(np.arange(len(self.y)), idx))

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        rate = float(self.y.mean()) if len(self.y) else float("nan")
        return f"TrainingData({len(self.y):,} rows, {self.X.shape[1]} features, churn rate={rate:.1%})"


def training_data(features: pd.DataFrame, label_times: LabelTimes | pd.DataFrame) -> TrainingData:
    """Align features with their labels on (customer_id, cutoff).

    Parameters
    ----------
    features : DataFrame
        ``customer_id, cutoff`` plus feature columns (from :func:`~churnlab.features.build_features`).
    label_times : LabelTimes or DataFrame
        ``customer_id, cutoff, label``.

    Returns
    -------
    TrainingData

    Raises
    ------
    ModelError
        A key or label column is missing, a (customer_id, cutoff) pair repeats, a label is not 0/1, or a
        label row has no features.
    """
    table = label_times.table if isinstance(label_times, LabelTimes) else label_times
    for name, frame, cols in (("features", features, (C.CUSTOMER_ID, C.CUTOFF)),
                              ("label_times", table, (C.CUSTOMER_ID, C.CUTOFF, C.LABEL))):
        for col in cols:
            if col not in frame.columns:
                raise ModelError(f"training_data: {name}.{col}: missing column")
    lab = table[[C.CUSTOMER_ID, C.CUTOFF, C.LABEL]].copy()
    f = features.copy()
    for name, df in (("label_times", lab), ("features", f)):
        df[C.CUSTOMER_ID] = df[C.CUSTOMER_ID].astype(str)
        try:
            df[C.CUTOFF] = pd.to_datetime(df[C.CUTOFF]).astype("datetime64[ns]")
        except (TypeError, ValueError) as exc:
            raise ModelError(f"training_data: {name}.{C.CUTOFF}: not timestamps ({exc})") from None
        dup = df.duplicated([C.CUSTOMER_ID, C.CUTOFF])
        if dup.any():
            row = df.loc[dup].iloc[0]
            raise ModelError(f"training_data: {name} has {int(dup.sum())} repeated (customer_id, cutoff) rows, e.g. "
                             f"({row[C.CUSTOMER_ID]!r}, {str(row[C.CUTOFF])!r}); expected one row per pair")
    labels = lab[C.LABEL]
    bad = labels.isna() | ~labels.isin([0, 1, True, False])
    if bad.any():
        raise ModelError(f"training_data: label_times.{C.LABEL}: {int(bad.sum())} value(s) not 0/1, e.g. "
                         f"{labels[bad].iloc[0]!r}")
    merged = lab.merge(f.drop(columns=[C.LABEL], errors="ignore"), on=[C.CUSTOMER_ID, C.CUTOFF], how="left",
                       indicator=True, validate="one_to_one")
    if (merged["_merge"] != "both").any():
        n = int((merged["_merge"] != "both").sum())
        raise ModelError(f"training_data: {n} label rows have no features; build features from the same label times")
    X = merged.drop(columns=[*KEYS, "_merge"])
    return TrainingData(X=X, y=merged[C.LABEL].astype(int).to_numpy(), keys=merged[[C.CUSTOMER_ID, C.CUTOFF]])


def time_split(keys: pd.DataFrame, *, n_test_cutoffs: int = 1, n_valid_cutoffs: int = 1) -> dict[str, np.ndarray]:
    """Split rows by cutoff: train on the earliest, validate on the next, test out of time on the latest.

    Parameters
    ----------
    keys : DataFrame
        ``cutoff`` per row.
    n_test_cutoffs, n_valid_cutoffs : int
        How many of the latest cutoffs form the out-of-time test and the validation windows.

    Returns
    -------
    dict of str to ndarray of bool
        Masks ``train``, ``valid``, ``test``.

    Raises
    ------
    ModelError
        Fewer than ``n_test_cutoffs + n_valid_cutoffs + 1`` distinct cutoffs.

    Notes
    -----
    The label windows of the training cutoffs must end before the test cutoff for a truly
    out-of-time test; with monthly cutoffs and a 30-day horizon they do, up to a day or so.
    """
    cutoffs = np.sort(pd.to_datetime(keys[C.CUTOFF]).unique())
    need = n_test_cutoffs + n_valid_cutoffs + 1
    if len(cutoffs) < need:
        raise ModelError(f"time_split: {len(cutoffs)} cutoffs; need at least {need} (train, validation, test)")
    test_from = cutoffs[-n_test_cutoffs]
    valid_from = cutoffs[-(n_test_cutoffs + n_valid_cutoffs)]
    c = pd.to_datetime(keys[C.CUTOFF]).to_numpy()
    return {"train": c < valid_from, "valid": (c >= valid_from) & (c < test_from), "test": c >= test_from}


def holdout_split(keys: pd.DataFrame, y, *, valid_share: float = 0.2, test_share: float = 0.2,
                  random_state: int = 0) -> dict[str, np.ndarray]:
    """Train / validation / test masks: by time when there are 3+ cutoffs, else stratified by customer.

    Parameters
    ----------
    keys : DataFrame
        ``customer_id, cutoff`` per row.
    y : array of 0/1
        Labels (for stratification).
    valid_share, test_share : float, default 0.2
        Shares of customers in validation and test for the random split (snapshots).
    random_state : int, default 0
        Seed of the random split.

    Returns
    -------
    dict of str to ndarray of bool
        Masks ``train``, ``valid``, ``test`` (see :func:`time_split`).
    """
    if pd.to_datetime(keys[C.CUTOFF]).nunique() >= 3:
        return time_split(keys)
    y = check_y(y, where="holdout_split")
    groups = keys[C.CUSTOMER_ID].astype(str).to_numpy()
    n_test = max(2, round(1 / test_share))
    tr_va, te = next(iter(StratifiedGroupKFold(n_splits=n_test, shuffle=True, random_state=random_state).split(
        np.zeros(len(y)), y, groups)))
    inner = max(2, round((1 - test_share) / valid_share))
    tr, va = next(iter(StratifiedGroupKFold(n_splits=inner, shuffle=True, random_state=random_state).split(
        np.zeros(len(tr_va)), y[tr_va], groups[tr_va])))
    masks = {k: np.zeros(len(y), dtype=bool) for k in ("train", "valid", "test")}
    masks["train"][tr_va[tr]] = True
    masks["valid"][tr_va[va]] = True
    masks["test"][te] = True
    return masks


def grouped_folds(y: np.ndarray, groups: Sequence, *, n_splits: int = 5, random_state: int = 0):
    """Stratified K-fold that keeps each customer's rows in one fold (StratifiedGroupKFold)."""
    return list(StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=random_state).split(
        np.zeros(len(y)), y, groups))


def stratified_folds(y: np.ndarray, *, n_splits: int = 5, random_state: int = 0):
    """Stratified K-fold for snapshot data (one row per customer)."""
    return list(StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state).split(np.zeros(len(y)), y))



def sample_label_times(label_times: LabelTimes, max_rows: int | None, seed: int = 0) -> LabelTimes:
    """Keep at most ``max_rows`` label rows, whole customers drawn at random (seeded), every cutoff of each kept.

    Features and training then cost ``max_rows`` rows however large the data (OPINIONS.md, "Training rows").
    Whole customers are kept so that the grouped inner folds and the out-of-time test see each sampled
    customer's history as in the full table; every cutoff keeps its share of rows in expectation.

    Parameters
    ----------
    label_times : LabelTimes
        ``customer_id, cutoff, label`` rows and their settings.
    max_rows : int or None
        Row budget; ``None`` or a budget at least ``len(label_times)`` returns ``label_times`` unchanged.
    seed : int, default 0
        Seed of the customer draw.

    Returns
    -------
    LabelTimes
        Same settings, the rows of the sampled customers (in the original order); at most ``max_rows`` rows
        and, when it samples, the most customers whose rows fit.

    Raises
    ------
    ModelError
        When ``max_rows`` is not a positive int or no customer's rows fit in it.

    Examples
    --------
    >>> t = pd.DataFrame({"customer_id": list("aabbc"), "cutoff": pd.to_datetime(["2024-01-01", "2024-02-01"] * 2
    ...                   + ["2024-02-01"]), "label": [False, False, False, True, False]})
    >>> lt = LabelTimes(t, "subscription", 30)
    >>> len(sample_label_times(lt, 3, seed=0)) <= 3, len(sample_label_times(lt, None))
    (True, 5)
    """
    if max_rows is None:
        return label_times
    if isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer)) or max_rows < 1:
        raise ModelError(f"sample_label_times: max_rows must be a positive int or None; got {max_rows!r}")
    table = label_times.table
    if len(table) <= max_rows:
        return label_times
    per_customer = table[C.CUSTOMER_ID].astype(str).value_counts(sort=False).sort_index()
    order = np.random.default_rng(seed).permutation(len(per_customer))
    fits = np.cumsum(per_customer.to_numpy()[order]) <= max_rows
    if not fits.any():
        raise ModelError(f"sample_label_times: max_rows={max_rows} holds no customer's rows "
                         f"(the smallest customer has {int(per_customer.min())}); raise it")
    keep = set(per_customer.index[order[: int(fits.sum())]])
    rows = table[table[C.CUSTOMER_ID].astype(str).isin(keep).to_numpy()].reset_index(drop=True)
    return replace(label_times, table=rows)
