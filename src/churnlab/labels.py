"""Label times: which customers are scored at each cutoff, and whether they churned after it.

A label time is a row (``customer_id``, ``cutoff``, ``label``): the customer was active at the cutoff,
and ``label`` says whether they churned in the window ``(cutoff + gap, cutoff + gap + horizon]``.
Features for the row may only use data stamped strictly before the cutoff (or at it, when
``include_cutoff``); see :mod:`churnlab.features`. The settings that change what a label means are
stored with the table in :class:`LabelTimes`.

Three churn definitions:

- ``subscription`` (contractual): churn = all the customer's subscriptions have ended. A customer is
  active at the cutoff when a subscription started before it and had not ended by it; the churn
  time is the end of that run of (merged, overlapping or back-to-back) subscriptions.
- ``inactivity`` (non-contractual, e.g. CDNOW purchases): churn = no event at all in the window.
  Every customer who signed up before the cutoff is in the population.
- ``snapshot`` (Telco, MLC: one row per customer, no dates): label = ``customers.churned`` at a
  single cutoff, the dataset's ``as_of``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.schema import Dataset, require_columns

__all__ = ["LabelTimes", "make_label_times", "monthly_cutoffs", "population", "default_definition", "DEFINITIONS"]

#: Churn definitions understood by :func:`make_label_times`.
DEFINITIONS = ("subscription", "inactivity", "snapshot")

_FAR_FUTURE = pd.Timestamp("2262-04-01")


@dataclass(frozen=True)
class LabelTimes:
    """Customers to score at each cutoff with their churn label, and the settings that define it.

    Attributes
    ----------
    table : DataFrame
        One row per (customer_id, cutoff): ``customer_id`` (string), ``cutoff`` (datetime),
        ``label`` (bool, churned in the window), sorted by cutoff then customer.
    definition : {"subscription", "inactivity", "snapshot"}
    horizon_days, gap_days, min_tenure_days : int
        Window ``(cutoff + gap, cutoff + gap + horizon]``; customers with tenure below
        ``min_tenure_days`` at the cutoff are left out.
    include_cutoff : bool
        Whether data stamped exactly at the cutoff counts as observed (features use ``<=``).
    dataset : str
        Name of the dataset the labels come from.
    """

    table: pd.DataFrame
    definition: str
    horizon_days: int
    gap_days: int = 0
    min_tenure_days: int = 0
    include_cutoff: bool = False
    dataset: str = ""

    @property
    def cutoffs(self) -> list[pd.Timestamp]:
        """The distinct cutoffs, in time order."""
        return sorted(pd.to_datetime(self.table[C.CUTOFF].unique()))

    @property
    def settings(self) -> dict[str, object]:
        """The settings that change what a label means, as a flat dict (for logging)."""
        return {
            "definition": self.definition,
            "horizon_days": self.horizon_days,
            "gap_days": self.gap_days,
            "min_tenure_days": self.min_tenure_days,
            "include_cutoff": self.include_cutoff,
        }

    @property
    def summary(self) -> pd.DataFrame:
        """One row per cutoff: ``cutoff, n_customers, n_churned, churn_rate``."""
        g = self.table.groupby(C.CUTOFF)[C.LABEL]
        out = pd.DataFrame({"n_customers": g.size(), "n_churned": g.sum().astype(int)})
        out["churn_rate"] = out["n_churned"] / out["n_customers"]
        return out.reset_index()

    def to_pandas(self) -> pd.DataFrame:
        """Return a copy of :attr:`table`."""
        return self.table.copy()

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        rate = float(self.table[C.LABEL].mean()) if len(self.table) else float("nan")
        return (
            f"LabelTimes({self.dataset!r}, {self.definition}, {len(self.table):,} rows, "
            f"{len(self.cutoffs)} cutoffs, horizon={self.horizon_days}d, gap={self.gap_days}d, "
            f"include_cutoff={self.include_cutoff}, churn rate={rate:.1%})"
        )

    def _repr_html_(self) -> str:
        head = ", ".join(f"{k}={v}" for k, v in self.settings.items())
        return f"<p><b>LabelTimes</b> {self.dataset} ({head})</p>" + self.summary.to_html(index=False)


def default_definition(dataset: Dataset) -> str:
    """Pick the churn definition from what the dataset provides.

    ``snapshot`` for snapshot datasets, ``subscription`` when a ``subscriptions`` table exists,
    ``inactivity`` when only ``events`` exist.

    Raises
    ------
    MissingTableError
        When the dataset has neither subscriptions nor events.
    """
    if dataset.kind == "snapshot":
        return "snapshot"
    if "subscriptions" in dataset:
        return "subscription"
    dataset.require("events", by="make_label_times (no subscriptions table, so churn = inactivity)")
    return "inactivity"


def _first_activity(dataset: Dataset) -> pd.Timestamp:
    """Earliest time stamped in the activity tables (events first); signups when there is none."""
    for table, col in [("events", C.TIMESTAMP), ("subscriptions", "start_at")]:
        if table in dataset and len(dataset.tables[table]):
            first = pd.Timestamp(dataset.tables[table][col].min())
            if table == "events":
                return first
    return pd.Timestamp(dataset["customers"][C.SIGNUP_AT].min())


def monthly_cutoffs(dataset: Dataset, *, horizon_days: int = 30, gap_days: int = 0,
                    start: str | pd.Timestamp | None = None) -> list[pd.Timestamp]:
    """Month starts whose whole label window is observed before ``dataset.as_of``.

    Parameters
    ----------
    dataset : Dataset
        Its earliest activity (first event; else first subscription start or signup) and ``as_of``
        bound the cutoffs.
    horizon_days, gap_days : int
        The label window; a cutoff is kept when ``cutoff + gap + horizon <= as_of``.
    start : str or Timestamp, optional
        First cutoff to consider; default the first month start at least 90 days after the
        earliest activity, so the longest default feature window has history.

    Returns
    -------
    list of Timestamp
    """
    if dataset.kind == "snapshot":
        return [dataset.as_of]
    first = _first_activity(dataset)
    begin = pd.Timestamp(start) if start is not None else (first + pd.Timedelta(days=90))
    begin = begin.to_period("M").to_timestamp() if begin.day == 1 else (begin.to_period("M") + 1).to_timestamp()
    last = dataset.as_of - pd.Timedelta(days=horizon_days + gap_days)
    if last < begin:
        return []
    return list(pd.date_range(begin, last, freq="MS"))


def population(dataset: Dataset, cutoffs: Iterable[str | pd.Timestamp] | str | pd.Timestamp, *,
               include_cutoff: bool = False, definition: str | None = None) -> pd.DataFrame:
    """List the customers active at each cutoff, without labels: the rows to score.

    Parameters
    ----------
    dataset : Dataset
        Same tables as :func:`make_label_times` needs for ``definition``.
    cutoffs : list of dates
        May pass ``as_of`` (nothing after them is needed).
    include_cutoff : bool, default False
        Whether a subscription or signup stamped exactly at the cutoff counts.
    definition : {"subscription", "inactivity", "snapshot"}, optional
        Default from :func:`default_definition`.

    Returns
    -------
    DataFrame
        One row per (customer_id, cutoff): ``customer_id`` (string), ``cutoff`` (datetime).

    Raises
    ------
    AnalysisError
        Empty cutoffs.
    """
    definition = definition or default_definition(dataset)
    if definition == "snapshot":
        table = _snapshot_labels(dataset)
    else:
        build = _subscription_labels if definition == "subscription" else _inactivity_labels
        table = build(dataset, _as_cutoffs(cutoffs), pd.Timedelta(0), pd.Timedelta(0), include_cutoff)
    out = table[[C.CUSTOMER_ID, C.CUTOFF]].astype({C.CUSTOMER_ID: "string"})
    out[C.CUTOFF] = out[C.CUTOFF].astype("datetime64[ns]")
    return out.sort_values([C.CUTOFF, C.CUSTOMER_ID], kind="stable").reset_index(drop=True)


def _as_cutoffs(cutoffs: Iterable[str | pd.Timestamp] | str | pd.Timestamp) -> list[pd.Timestamp]:
    if isinstance(cutoffs, (str, pd.Timestamp)):
        cutoffs = [cutoffs]
    out = sorted({pd.Timestamp(c) for c in cutoffs})
    if not out:
        raise AnalysisError("make_label_times: cutoffs is empty; pass at least one date (see monthly_cutoffs)")
    return out


def _subscription_spells(subs: pd.DataFrame) -> pd.DataFrame:
    """Merge each customer's overlapping or back-to-back subscriptions into spells.

    Returns one row per spell: ``customer_id, spell_start, spell_end`` (``spell_end`` far in the
    future while the spell is open).
    """
    s = subs[[C.CUSTOMER_ID, "start_at", "end_at"]].copy()
    s["end_at"] = s["end_at"].astype("datetime64[ns]").fillna(_FAR_FUTURE)
    s["start_at"] = s["start_at"].astype("datetime64[ns]")
    s = s.sort_values([C.CUSTOMER_ID, "start_at"], kind="stable").reset_index(drop=True)
    prev_end = s.groupby(C.CUSTOMER_ID)["end_at"].transform(lambda e: e.cummax().shift())
    new_spell = prev_end.isna() | (s["start_at"] > prev_end)
    s["spell"] = new_spell.cumsum()
    return (
        s.groupby("spell")
        .agg(customer_id=(C.CUSTOMER_ID, "first"), spell_start=("start_at", "min"), spell_end=("end_at", "max"))
        .reset_index(drop=True)
    )


def _subscription_labels(dataset: Dataset, cutoffs: Sequence[pd.Timestamp], horizon: pd.Timedelta,
                         gap: pd.Timedelta, include_cutoff: bool) -> pd.DataFrame:
    subs = dataset.require("subscriptions", by="make_label_times(definition='subscription')")["subscriptions"]
    require_columns(subs, [C.CUSTOMER_ID, "start_at", "end_at"], table="subscriptions")
    spells = _subscription_spells(subs)
    rows = []
    for cutoff in cutoffs:
        started = spells["spell_start"] <= cutoff if include_cutoff else spells["spell_start"] < cutoff
        active = spells[started & (spells["spell_end"] > cutoff)]
        # Churned during the gap: already lost when the action window opens, so not scored.
        active = active[active["spell_end"] > cutoff + gap]
        label = active["spell_end"] <= cutoff + gap + horizon
        rows.append(pd.DataFrame({C.CUSTOMER_ID: active[C.CUSTOMER_ID].to_numpy(), C.CUTOFF: cutoff,
                                  C.LABEL: label.to_numpy()}))
    return pd.concat(rows, ignore_index=True)


def _inactivity_labels(dataset: Dataset, cutoffs: Sequence[pd.Timestamp], horizon: pd.Timedelta,
                       gap: pd.Timedelta, include_cutoff: bool) -> pd.DataFrame:
    events = dataset.require("events", by="make_label_times(definition='inactivity')")["events"]
    require_columns(events, [C.CUSTOMER_ID, C.TIMESTAMP], table="events")
    customers = dataset["customers"]
    ts = events[C.TIMESTAMP].astype("datetime64[ns]").to_numpy()
    ids = events[C.CUSTOMER_ID].astype(str).to_numpy()
    signup = customers[C.SIGNUP_AT].astype("datetime64[ns]")
    rows = []
    for cutoff in cutoffs:
        seen = signup <= cutoff if include_cutoff else signup < cutoff
        population = customers.loc[seen, C.CUSTOMER_ID].astype(str).to_numpy()
        lo, hi = np.datetime64(cutoff + gap), np.datetime64(cutoff + gap + horizon)
        in_window = (ts > lo) & (ts <= hi)
        active_later = np.isin(population, np.unique(ids[in_window]))
        rows.append(pd.DataFrame({C.CUSTOMER_ID: population, C.CUTOFF: cutoff, C.LABEL: ~active_later}))
    return pd.concat(rows, ignore_index=True)


def _snapshot_labels(dataset: Dataset) -> pd.DataFrame:
    customers = dataset["customers"]
    require_columns(customers, [C.CUSTOMER_ID, "churned"], table="customers")
    return pd.DataFrame({C.CUSTOMER_ID: customers[C.CUSTOMER_ID].astype(str).to_numpy(), C.CUTOFF: dataset.as_of,
                         C.LABEL: customers["churned"].astype(bool).to_numpy()})


def make_label_times(dataset: Dataset, cutoffs: Iterable[str | pd.Timestamp] | str | pd.Timestamp | None = None,
                     horizon_days: int = 30, gap_days: int = 0, min_tenure_days: int = 0,
                     include_cutoff: bool = False, *, definition: str | None = None) -> LabelTimes:
    """Label every customer active at each cutoff with whether they churned in the window after it.

    Parameters
    ----------
    dataset : Dataset
        Needs ``customers`` (``customer_id``, ``signup_at``) and, by definition, ``subscriptions``
        (``start_at``, ``end_at``), ``events`` (``timestamp``) or ``customers.churned``.
    cutoffs : list of dates
        When each customer is scored. Ignored for snapshots (the single cutoff is ``as_of``);
        ``None`` means :func:`monthly_cutoffs`.
    horizon_days : int, default 30
        Length of the label window (OPINIONS.md, "Churn horizon").
    gap_days : int, default 0
        Lead time between cutoff and window: customers who churn during the gap are dropped.
    min_tenure_days : int, default 0
        Leave out customers whose tenure at the cutoff is shorter.
    include_cutoff : bool, default False
        Whether data stamped exactly at the cutoff is observed (a subscription starting at the
        cutoff makes the customer active; features use ``<=``). OPINIONS.md, "Cutoff inclusion".
    definition : {"subscription", "inactivity", "snapshot"}, optional
        Default from :func:`default_definition`.

    Returns
    -------
    LabelTimes
        ``table`` has one row per (customer_id, cutoff) with ``label`` True when the customer
        churned in ``(cutoff + gap, cutoff + gap + horizon]``.

    Raises
    ------
    AnalysisError
        Empty cutoffs, a window that ends after ``dataset.as_of`` (the label would be censored),
        an unknown definition or no customer active at any cutoff.
    MissingTableError
        When the definition's table is missing.

    Notes
    -----
    Subscription churn time is the end of the customer's current spell of merged subscriptions;
    ``label = cutoff + gap < spell_end <= cutoff + gap + horizon``. Inactivity: ``label = no event with
    cutoff + gap < timestamp <= cutoff + gap + horizon``. An event stamped exactly at the cutoff is
    never inside the window.
    """
    definition = definition or default_definition(dataset)
    if definition not in DEFINITIONS:
        raise AnalysisError(f"make_label_times: definition {definition!r}; expected one of {DEFINITIONS}")
    if horizon_days <= 0 or gap_days < 0 or min_tenure_days < 0:
        raise AnalysisError(
            f"make_label_times: horizon_days must be > 0 and gap_days, min_tenure_days >= 0; got "
            f"{horizon_days}, {gap_days}, {min_tenure_days}"
        )
    horizon, gap = pd.Timedelta(days=horizon_days), pd.Timedelta(days=gap_days)
    dataset.require("customers", by="make_label_times")
    if definition == "snapshot":
        table = _snapshot_labels(dataset)
    else:
        cuts = _as_cutoffs(monthly_cutoffs(dataset, horizon_days=horizon_days, gap_days=gap_days)
                           if cutoffs is None else cutoffs)
        late = [c for c in cuts if c + gap + horizon > dataset.as_of]
        if late:
            raise AnalysisError(
                f"make_label_times: cutoff {late[0].date()} + {gap_days + horizon_days} days passes the data's "
                f"as_of {dataset.as_of.date()}; its label would be censored (score it with build_features instead)"
            )
        build = _subscription_labels if definition == "subscription" else _inactivity_labels
        table = build(dataset, cuts, horizon, gap, include_cutoff)
    if min_tenure_days:
        signup = dataset["customers"].assign(**{C.CUSTOMER_ID: lambda d: d[C.CUSTOMER_ID].astype(str)}).set_index(
            C.CUSTOMER_ID)[C.SIGNUP_AT]
        tenure = table[C.CUTOFF] - table[C.CUSTOMER_ID].map(signup)
        table = table[tenure >= pd.Timedelta(days=min_tenure_days)]
    if table.empty:
        raise AnalysisError(f"make_label_times: no customer of {dataset.name!r} is active at any cutoff given")
    table = table.astype({C.CUSTOMER_ID: "string", C.LABEL: bool})
    table[C.CUTOFF] = table[C.CUTOFF].astype("datetime64[ns]")
    table = table.sort_values([C.CUTOFF, C.CUSTOMER_ID], kind="stable").reset_index(drop=True)
    return LabelTimes(table=table, definition=definition, horizon_days=int(horizon_days), gap_days=int(gap_days),
                      min_tenure_days=int(min_tenure_days), include_cutoff=bool(include_cutoff),
                      dataset=dataset.name)
