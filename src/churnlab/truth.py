"""Ground-truth checks: the workbench's estimates against what really happened in the synthetic world.

The synthetic world (:mod:`churnlab.data.synthetic`) knows each customer's true churn probability,
what drove each churn and what each offer really did. These functions put an estimate next to that
truth, so notebooks (and their tests) can say how close the workbench comes:

- :func:`oracle_comparison`: a model's ROC-AUC against the oracle's (the true probabilities), the
  physical limit of any model on the same rows.
- :func:`true_driver_shares` and :func:`drivers_vs_shap`: the world's largest true drivers of the
  churns in a window, and whether SHAP ranks the features that observe them among its top features.
- :func:`estimates_vs_truth`: experiment estimates with intervals against the true effects, and
  which intervals cover them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from churnlab.config import CUSTOMER_ID, CUTOFF
from churnlab.errors import AnalysisError
from churnlab.explain import MECHANISM_FEATURES, drivers_found

__all__ = [
    "OracleComparison",
    "oracle_comparison",
    "DriverCheck",
    "true_driver_shares",
    "drivers_vs_shap",
    "TruthCoverage",
    "estimates_vs_truth",
    "DECISION",
]

#: The mechanism every churn passes through (the decision to leave: data exports, billing tickets).
DECISION = "decision"


# --- the oracle -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OracleComparison:
    """A model's ROC-AUC next to the oracle's on the same rows.

    ``scored`` has one row per customer and cutoff: ``customer_id, cutoff, label, model, p_churn``
    (the model's score and the world's true probability).
    """

    scored: pd.DataFrame
    model_auc: float
    oracle_auc: float

    @property
    def ratio(self) -> float:
        """Model AUC over oracle AUC: the share of the physical limit the model reaches."""
        return self.model_auc / self.oracle_auc

    @property
    def n(self) -> int:
        """Rows compared."""
        return len(self.scored)

    def __repr__(self) -> str:
        return (f"OracleComparison(n={self.n:,}, model_auc={self.model_auc:.3f}, oracle_auc={self.oracle_auc:.3f}, "
                f"ratio={self.ratio:.1%})")


#: Customers the oracle replays at most: past it, a seeded subset of the world's chunks (each an independent
#: draw of the population) is replayed, so the comparison costs the same at 1M customers as at 100k.
ORACLE_CUSTOMERS = 100_000


def oracle_comparison(truth, keys: pd.DataFrame, labels, scores, *, horizon_days: int,
                      seed: int = 0, max_customers: int | None = ORACLE_CUSTOMERS) -> OracleComparison:
    """Compare a model's ranking with the oracle's, the world's true churn probabilities.

    Parameters
    ----------
    truth : churnlab.data.synthetic.Truth
        The world's truth.
    keys : DataFrame
        ``customer_id, cutoff`` of the rows scored (a later, out-of-time window).
    labels : array-like of int
        Observed churn in ``(cutoff, cutoff + horizon_days]``, aligned with ``keys``.
    scores : array-like of float
        The model's scores, aligned with ``keys``.
    horizon_days : int
        The label window; the oracle's probability is for the same window.
    seed : int, default 0
        Seed of the oracle's Monte Carlo (:meth:`Truth.churn_probability`) and of the chunks drawn.
    max_customers : int or None, default :data:`ORACLE_CUSTOMERS`
        When the world has more customers, the oracle replays a seeded random subset of its chunks
        holding about this many, and both AUCs are computed on those customers' rows
        (``OracleComparison.n`` says how many). ``None``: every customer.

    Returns
    -------
    OracleComparison
        ROC-AUC of the model and of the oracle on the rows the oracle scores (customers active at
        each cutoff).

    Raises
    ------
    AnalysisError
        When the lengths differ, no row has an oracle probability, or the rows hold one class only.

    Notes
    -----
    The oracle knows each customer's full state at the cutoff (latent engagement, satisfaction,
    intent), so its AUC bounds what any model of the observable data can reach on these rows.
    """
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=float)
    if not len(keys) == len(labels) == len(scores):
        raise AnalysisError(f"oracle_comparison: keys ({len(keys)}), labels ({len(labels)}) and scores "
                            f"({len(scores)}) must have the same length")
    if max_customers is not None and (isinstance(max_customers, bool) or not isinstance(max_customers, int)
                                      or max_customers < 1):
        raise AnalysisError(f"oracle_comparison: max_customers must be a positive int or None; got {max_customers!r}")
    subset = {}
    spec = getattr(truth, "spec", None)  # a world's truth; a stand-in oracle may have none
    if max_customers is not None and spec is not None and spec.n_customers > max_customers:
        k = max(1, min(spec.n_chunks, round(max_customers / (spec.n_customers / spec.n_chunks))))
        subset = {"chunks": np.random.default_rng(seed).choice(spec.n_chunks, size=k, replace=False)}
    cutoffs = sorted(pd.to_datetime(keys[CUTOFF]).unique())
    oracle = pd.concat([truth.churn_probability(c, horizon_days=horizon_days, seed=seed, **subset)
                        .assign(**{CUTOFF: c})
                        for c in cutoffs]) if cutoffs else pd.DataFrame(columns=[CUSTOMER_ID, "p_churn", CUTOFF])
    scored = keys[[CUSTOMER_ID, CUTOFF]].assign(label=labels, model=scores).merge(
        oracle, on=[CUSTOMER_ID, CUTOFF], how="inner")
    if scored.empty or scored["label"].nunique() < 2:
        raise AnalysisError(f"oracle_comparison: {len(scored)} row(s) with an oracle probability and "
                            f"{scored['label'].nunique()} label class(es); expected both classes")
    return OracleComparison(scored=scored, model_auc=float(roc_auc_score(scored["label"], scored["model"])),
                            oracle_auc=float(roc_auc_score(scored["label"], scored["p_churn"])))


# --- true drivers -------------------------------------------------------------------------------------


def true_driver_shares(truth, start, end) -> tuple[pd.Series, int]:
    """Return each mechanism's average share of the churn hazard over the churns in ``(start, end]``.

    Parameters
    ----------
    truth : churnlab.data.synthetic.Truth
        Its ``drivers`` table: ``customer_id, churned_at, mechanism, hazard_share`` (one row per churn
        and mechanism with a positive share).
    start, end : Timestamp
        The window; a churn on ``start`` is outside it, one on ``end`` inside.

    Returns
    -------
    tuple of (Series, int)
        Share per mechanism (sum of ``hazard_share`` over the churns, divided by their number), largest
        first; and the number of churns in the window.
    """
    drivers = truth.drivers
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    churned = drivers[(drivers["churned_at"] > start) & (drivers["churned_at"] <= end)]
    n_churns = len(churned[[CUSTOMER_ID, "churned_at"]].drop_duplicates())
    shares = (churned.groupby("mechanism")["hazard_share"].sum() / max(n_churns, 1)).sort_values(ascending=False)
    return shares, n_churns


@dataclass(frozen=True)
class DriverCheck:
    """The world's main true drivers in a window and whether SHAP's top features observe them.

    ``table`` has one row per mechanism looked for (the main drivers, then the decision to leave):
    ``mechanism, true_share, found, best_rank, best_feature, features``.
    """

    table: pd.DataFrame
    main_drivers: tuple[str, ...]
    n_churns: int
    top_k: int

    @property
    def n_found(self) -> int:
        """How many of the main drivers show among the top ``top_k`` features."""
        return int(self.table["found"].head(len(self.main_drivers)).sum())

    @property
    def decision_found(self) -> bool:
        """Whether the decision to leave shows among the top ``top_k`` features."""
        row = self.table[self.table["mechanism"] == DECISION]
        return bool(len(row) and row["found"].iloc[0])

    def share(self, mechanism: str) -> float:
        """Return the true share of ``mechanism`` (NaN when it drove no churn in the window)."""
        row = self.table.loc[self.table["mechanism"] == mechanism, "true_share"]
        return float(row.iloc[0]) if len(row) else float("nan")

    def __repr__(self) -> str:
        return (f"DriverCheck({self.n_found} of {len(self.main_drivers)} main drivers in the top {self.top_k}, "
                f"decision {'found' if self.decision_found else 'not found'}, churns={self.n_churns:,})")


def drivers_vs_shap(truth, importance: pd.DataFrame, start, end, *, n_main: int = 3, top_k: int = 10,
                    mapping: Mapping[str, Sequence[str]] = MECHANISM_FEATURES) -> DriverCheck:
    """Check that SHAP's most important features observe the world's largest true drivers.

    Parameters
    ----------
    truth : churnlab.data.synthetic.Truth
        The world's truth.
    importance : DataFrame
        From :func:`churnlab.explain.global_importance` (``feature`` ranked, most important first).
    start, end : Timestamp
        The churns compared: those in ``(start, end]`` (the test window and its horizon).
    n_main : int, default 3
        How many of the largest *observable* drivers (mechanisms with features in ``mapping``, other
        than the decision to leave, which is always looked for on its own) to look for.
    top_k : int, default 10
        How many top features count as found.
    mapping : mapping of str to sequence of str, default :data:`~churnlab.explain.MECHANISM_FEATURES`
        The features that observe each mechanism.

    Returns
    -------
    DriverCheck
        The main drivers with their true shares, and the decision to leave, each found or not.
    """
    shares, n_churns = true_driver_shares(truth, start, end)
    main = [m for m in shares.index if mapping.get(m) and m != DECISION][:n_main]
    found = drivers_found(importance, main + [DECISION], top_k=top_k, mapping=mapping)
    found.insert(1, "true_share", found["mechanism"].map(shares))
    return DriverCheck(table=found, main_drivers=tuple(main), n_churns=n_churns, top_k=top_k)


# --- experiment estimates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TruthCoverage:
    """Estimates with intervals next to the true effects: ``arm, estimate, ci_lower, ci_upper, ..., truth, covered``."""

    table: pd.DataFrame

    @property
    def n(self) -> int:
        """Estimates compared."""
        return len(self.table)

    @property
    def n_covered(self) -> int:
        """Intervals that contain the true effect."""
        return int(self.table["covered"].sum())

    @property
    def largest_miss(self) -> float:
        """Largest absolute distance between an estimate and its true effect."""
        return float((self.table["estimate"] - self.table["truth"]).abs().max())

    @property
    def truly_best(self) -> str:
        """The arm with the largest true effect."""
        return str(self.table.loc[self.table["truth"].idxmax(), "arm"])

    def truth_of(self, arm: str) -> float:
        """Return the true effect of ``arm``."""
        return float(self.table.set_index("arm").loc[arm, "truth"])

    def below(self, effect: float) -> list[str]:
        """Return the arms whose true effect is smaller in size than ``effect`` (e.g. the test's MDE).

        A test that misses such an effect is no evidence that the arm does nothing.
        """
        return self.table.loc[self.table["truth"].abs() < effect, "arm"].astype(str).tolist()

    def __repr__(self) -> str:
        return (f"TruthCoverage({self.n_covered} of {self.n} intervals cover the truth, "
                f"largest miss {self.largest_miss:.3f})")


def estimates_vs_truth(estimates: pd.DataFrame, truth: pd.DataFrame, *, truth_column: str = "truth",
                       on: str = "arm") -> TruthCoverage:
    """Put each estimate next to its true effect and say whether its interval covers it.

    Parameters
    ----------
    estimates : DataFrame
        ``arm, estimate, ci_lower, ci_upper`` and any other columns (one row per arm).
    truth : DataFrame
        ``arm`` and ``truth_column``: the world's true effect per arm
        (:func:`churnlab.experiment.campaign.true_effects` gives ``truth_ate``).
    truth_column : str, default "truth"
        Column of ``truth`` holding the true effect; copied to ``truth`` in the result.
    on : str, default "arm"
        Key shared by both tables.

    Returns
    -------
    TruthCoverage
        The estimates (their order kept) with the truth's columns, ``truth`` and
        ``covered = ci_lower <= truth <= ci_upper``.

    Raises
    ------
    AnalysisError
        When a column is missing or no arm has a true effect.

    Examples
    --------
    >>> est = pd.DataFrame({"arm": ["a", "b"], "estimate": [0.05, 0.0],
    ...                     "ci_lower": [0.01, -0.02], "ci_upper": [0.09, 0.02]})
    >>> estimates_vs_truth(est, pd.DataFrame({"arm": ["a", "b"], "truth": [0.04, 0.03]})).table["covered"].tolist()
    [True, False]
    """
    missing = [c for c in (on, "estimate", "ci_lower", "ci_upper") if c not in estimates.columns]
    missing += [f"truth.{c}" for c in (on, truth_column) if c not in truth.columns]
    if missing:
        raise AnalysisError(f"estimates_vs_truth: missing column(s) {missing}")
    table = estimates.merge(truth, on=on)
    if table.empty:
        raise AnalysisError(f"estimates_vs_truth: no {on} has both an estimate and a true effect")
    table["truth"] = table[truth_column]
    table["covered"] = table["ci_lower"].le(table["truth"]) & table["ci_upper"].ge(table["truth"])
    return TruthCoverage(table=table)
