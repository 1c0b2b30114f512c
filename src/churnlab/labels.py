"""Customer spells (the one "active at t") and label times: who is scored at each cutoff, and who churned after it.

Spells: a customer's overlapping or back-to-back subscriptions merge into one spell
(:func:`customer_spells`); :func:`active_at`, :func:`active_customers_at` and :func:`churned_by` are the
only definition of "active at t" and "churned by t" in the package (metrics, patterns, the campaign
audience and the data overview all call them). A spell is the half-open interval ``[start, end)``:
active at ``t`` means ``start < t < end`` (``start <= t`` with ``include_cutoff``); churned by ``t``
means every spell started before ``t`` ended at or before it. OPINIONS.md, "Active at t: which edge
is closed".

A label time is a row (``customer_id``, ``cutoff``, ``label``): the customer was active at the cutoff,
and ``label`` says whether they churned in the window ``(cutoff + gap, cutoff + gap + horizon]``.
Features for the row may only use data stamped strictly before the cutoff (or at it, when
``include_cutoff``); see :mod:`churnlab.features`. The settings that change what a label means are
stored with the table in :class:`LabelTimes`.

Three churn definitions:

- ``subscription`` (contractual): churn = all the customer's subscriptions have ended. A customer is
  in the population when a spell is active at the cutoff (:func:`active_at`); the churn time is the
  end of that spell.
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

__all__ = [
    "LabelTimes", "make_label_times", "monthly_cutoffs", "population", "default_definition", "DEFINITIONS",
    "customer_spells", "active_at", "active_customers_at", "churned_by",
]

#: Churn definitions understood by :func:`make_label_times`.
DEFINITIONS = ("subscription", "inactivity", "snapshot")


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


# --- customer spells: the one "active at t" --------------------------------------------------------

#: Stand-in end of a running spell inside the merge only (pandas' last representable day is 2262-04-11).
_OPEN_END = pd.Timestamp("2262-04-01")


def customer_spells(subscriptions: pd.DataFrame, cutoff=None, *, include_cutoff: bool = False) -> pd.DataFrame:
    """Merge each customer's overlapping or back-to-back subscriptions into spells, as of ``cutoff``.

    A subscription is the half-open interval ``[start_at, end_at)``; a customer's intervals that
    overlap or touch (a renewal starting the instant the previous one ends) form one spell, so
    renewals never count as churn. OPINIONS.md, "Active at t: which edge is closed".

    Parameters
    ----------
    subscriptions : DataFrame
        ``customer_id, start_at, end_at[, churn_reason]`` (canonical ``subscriptions``).
    cutoff : timestamp, optional
        Only subscriptions started at or before it are read, and only spells that began strictly
        before it are returned (at or before it with ``include_cutoff``): a renewal starting exactly
        at the cutoff continues its spell, a spell beginning there is not observed yet. An ``end_at``
        after the cutoff is unknown then and becomes missing (the spell is still running). None
        reads everything.
    include_cutoff : bool, default False
        Whether a spell beginning exactly at ``cutoff`` is returned.

    Returns
    -------
    DataFrame
        One row per customer and spell, sorted by customer and start: ``customer_id, spell`` (0 for
        the first), ``start_at``, ``end_at`` (NaT while running), ``churn_reason`` (of the spell's
        last subscription; missing while running).

    Raises
    ------
    SchemaError
        When a column is missing.

    Examples
    --------
    >>> subs = pd.DataFrame({"customer_id": ["a", "a"], "start_at": pd.to_datetime(["2024-01-01", "2024-02-01"]),
    ...                      "end_at": pd.to_datetime(["2024-02-01", "2024-03-01"])})
    >>> customer_spells(subs)[["spell", "start_at", "end_at"]].astype(str).values.tolist()
    [['0', '2024-01-01', '2024-03-01']]
    """
    require_columns(subscriptions, [C.CUSTOMER_ID, "start_at", "end_at"], table="subscriptions")
    keep = [c for c in [C.CUSTOMER_ID, "start_at", "end_at", "churn_reason"] if c in subscriptions]
    subs = subscriptions[keep].copy()
    subs["start_at"] = subs["start_at"].astype("datetime64[ns]")
    subs["end_at"] = subs["end_at"].astype("datetime64[ns]")
    if "churn_reason" not in subs:
        subs["churn_reason"] = pd.NA
    if cutoff is not None:
        cutoff = pd.Timestamp(cutoff)
        subs = subs[subs["start_at"] <= cutoff]
        unknown = subs["end_at"] > cutoff
        subs.loc[unknown, "end_at"] = pd.NaT
        subs.loc[unknown, "churn_reason"] = pd.NA
    subs = subs.sort_values([C.CUSTOMER_ID, "start_at"], kind="mergesort").reset_index(drop=True)
    end = subs["end_at"].fillna(_OPEN_END)
    prev_end = end.groupby(subs[C.CUSTOMER_ID]).cummax().groupby(subs[C.CUSTOMER_ID]).shift()
    new_spell = prev_end.isna() | (subs["start_at"] > prev_end)
    subs["spell"] = new_spell.astype(int).groupby(subs[C.CUSTOMER_ID]).cumsum() - 1
    subs["_end"] = end
    out = subs.groupby([C.CUSTOMER_ID, "spell"], sort=True).agg(
        start_at=("start_at", "min"), end_at=("_end", "max"), churn_reason=("churn_reason", "last")).reset_index()
    out["end_at"] = out["end_at"].where(out["end_at"] < _OPEN_END)
    out.loc[out["end_at"].isna(), "churn_reason"] = pd.NA
    if cutoff is not None and not include_cutoff:
        # A renewal starting at the cutoff continues its spell (merged above); a spell that only begins
        # there is not observed yet.
        out = out[out["start_at"] < cutoff].reset_index(drop=True)
    return out


def active_at(spells: pd.DataFrame, t, *, include_cutoff: bool = False) -> pd.Series:
    """Flag the spells that make their customer active at ``t``.

    Parameters
    ----------
    spells : DataFrame or mapping of arrays
        From :func:`customer_spells` (``start_at``, ``end_at`` with NaT while running), read as of
        ``t`` or later; a dict of datetime64 arrays works too (for loops over many instants).
    t : timestamp
        The instant.
    include_cutoff : bool, default False
        Whether a spell starting exactly at ``t`` counts (the ``include_cutoff`` of the labels).

    Returns
    -------
    Series or ndarray of bool
        Aligned with ``spells``: ``start_at < t < end_at`` (``start_at <= t`` with ``include_cutoff``);
        a missing ``end_at`` is a spell still running.

    Notes
    -----
    A spell is ``[start_at, end_at)``: one that ends exactly at ``t`` has churned by ``t``
    (:func:`churned_by`). By default a spell starting exactly at ``t`` is not yet active: nothing of the
    customer is observed before ``t``, as features read only rows stamped strictly before the cutoff.
    OPINIONS.md, "Active at t: which edge is closed".

    Examples
    --------
    >>> s = pd.DataFrame({"start_at": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-02-01"]),
    ...                   "end_at": pd.to_datetime(["2024-03-01", None, None])})
    >>> active_at(s, "2024-03-01").tolist(), active_at(s, "2024-03-01", include_cutoff=True).tolist()
    ([False, False, True], [False, True, True])
    """
    if isinstance(spells, pd.DataFrame):
        require_columns(spells, ["start_at", "end_at"], table="spells")
    t = pd.Timestamp(t)
    start, end = spells["start_at"], spells["end_at"]
    started = start <= t if include_cutoff else start < t
    return started & (pd.isna(end) | (end > t))


def active_customers_at(subscriptions: pd.DataFrame, t, *, include_cutoff: bool = False) -> pd.Index:
    """Return the ids of the customers active at ``t`` (a spell covers ``t``, see :func:`active_at`).

    Parameters
    ----------
    subscriptions : DataFrame
        ``customer_id, start_at, end_at``; rows started after ``t`` are never read.
    t : timestamp
        The instant.
    include_cutoff : bool, default False
        Whether a subscription starting exactly at ``t`` makes its customer active.

    Returns
    -------
    pandas.Index
        Sorted customer ids, named ``customer_id``.
    """
    spells = customer_spells(subscriptions, t, include_cutoff=include_cutoff)
    ids = spells.loc[active_at(spells, t, include_cutoff=include_cutoff), C.CUSTOMER_ID]
    return pd.Index(sorted(ids.unique()), name=C.CUSTOMER_ID)


def churned_by(subscriptions: pd.DataFrame, t, *, include_cutoff: bool = False) -> pd.Series:
    """Flag, for every customer with a spell started before ``t``, whether they have churned by ``t``.

    Parameters
    ----------
    subscriptions : DataFrame
        ``customer_id, start_at, end_at``.
    t : timestamp
        The instant.
    include_cutoff : bool, default False
        Whether a subscription starting exactly at ``t`` is observed (and makes its customer active).

    Returns
    -------
    Series of bool
        Indexed by ``customer_id`` (sorted): True when the customer is not active at ``t``, i.e. every
        spell started before ``t`` ended at or before it. Customers whose first subscription starts
        after ``t`` are absent (neither active nor churned).
    """
    spells = customer_spells(subscriptions, t, include_cutoff=include_cutoff)
    active = active_at(spells, t, include_cutoff=include_cutoff).groupby(spells[C.CUSTOMER_ID]).any()
    return (~active).rename("churned")


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
        source = dataset.tables.get(table)
        if source is None:
            continue
        from churnlab.lazy import ibis_backend_of, is_ibis_table

        if is_ibis_table(source):
            # one aggregate in the table's own backend (Spark, a warehouse)
            first = ibis_backend_of(source).execute(source[col].min())
            if first is not None and not pd.isna(first) and table == "events":
                return pd.Timestamp(first)
        elif not isinstance(source, pd.DataFrame):
            from churnlab.engine import Tables, connect

            tables = Tables(connect(relations=[source]))
            first = tables.con.execute(f"SELECT min({col}) FROM {tables.view(table, source)}").fetchone()[0]
            if first is not None and table == "events":
                return pd.Timestamp(first)
        elif len(source):
            first = pd.Timestamp(source[col].min())
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


def _subscription_labels(dataset: Dataset, cutoffs: Sequence[pd.Timestamp], horizon: pd.Timedelta,
                         gap: pd.Timedelta, include_cutoff: bool, backend=None) -> pd.DataFrame:
    subs = dataset.require("subscriptions", by="make_label_times(definition='subscription')")["subscriptions"]
    from churnlab.lazy import is_ibis_table, read_frame

    if is_ibis_table(subs):
        # a dimension table (a few rows per customer): its needed columns come back from the backend whole
        subs = read_frame(subs, "subscriptions", columns=[c for c in (C.CUSTOMER_ID, "start_at", "end_at")
                                                          if c in subs.columns])
    require_columns(subs, [C.CUSTOMER_ID, "start_at", "end_at"], table="subscriptions")
    spells = customer_spells(subs)
    rows = []
    for cutoff in cutoffs:
        active = spells[active_at(spells, cutoff, include_cutoff=include_cutoff)]
        # Churned during the gap: already lost when the action window opens, so not scored.
        active = active[active["end_at"].isna() | (active["end_at"] > cutoff + gap)]
        label = active["end_at"].notna() & (active["end_at"] <= cutoff + gap + horizon)
        rows.append(pd.DataFrame({C.CUSTOMER_ID: active[C.CUSTOMER_ID].to_numpy(), C.CUTOFF: cutoff,
                                  C.LABEL: label.to_numpy()}))
    return pd.concat(rows, ignore_index=True)


def _inactivity_labels(dataset: Dataset, cutoffs: Sequence[pd.Timestamp], horizon: pd.Timedelta,
                       gap: pd.Timedelta, include_cutoff: bool, backend=None) -> pd.DataFrame:
    events = dataset.require("events", by="make_label_times(definition='inactivity')").tables["events"]
    customers = dataset["customers"]
    require_columns(customers, [C.CUSTOMER_ID, C.SIGNUP_AT], table="customers")
    ids = customers[C.CUSTOMER_ID].astype(str)
    known = pd.Index(pd.unique(ids.to_numpy()))
    signup = customers[C.SIGNUP_AT].astype("datetime64[ns]").to_numpy()
    cust_code = known.get_indexer(ids.to_numpy())
    active = _active_in_windows(events, known, cutoffs, horizon, gap, backend=backend)
    rows = []
    for i, cutoff in enumerate(cutoffs):
        seen = signup <= np.datetime64(cutoff) if include_cutoff else signup < np.datetime64(cutoff)
        rows.append(pd.DataFrame({C.CUSTOMER_ID: ids.to_numpy()[seen], C.CUTOFF: cutoff,
                                  C.LABEL: ~active[i, cust_code[seen]]}))
    return pd.concat(rows, ignore_index=True)


def _active_in_windows(events, known: pd.Index, cutoffs: Sequence[pd.Timestamp], horizon: pd.Timedelta,
                       gap: pd.Timedelta, backend=None) -> np.ndarray:
    """Flag, per cutoff and customer of ``known``, an event in ``(cutoff + gap, cutoff + gap + horizon]``.

    A pandas ``events`` frame is read in one pass per cutoff over integer customer codes (O(events)
    per cutoff); a Parquet path or DuckDB relation is read by DuckDB where it lies (one range join of
    the events with the windows, returning only the distinct (cutoff, customer) pairs). An ibis table
    (Spark, a warehouse), or any table with an ibis ``backend``, runs the same join as an ibis expression
    there (:func:`_active_pairs_ibis`).

    Returns
    -------
    ndarray of bool, shape (len(cutoffs), len(known))
    """
    from churnlab.engine import is_lazy

    lo = np.array([np.datetime64(c + gap, "ns") for c in cutoffs])
    hi = np.array([np.datetime64(c + gap + horizon, "ns") for c in cutoffs])
    active = np.zeros((len(cutoffs), len(known)), dtype=bool)
    from churnlab.lazy import is_ibis_table

    on_ibis = is_ibis_table(events) or (backend is not None and type(backend).__name__ != "DuckDBPyConnection")
    if on_ibis:
        w, ids = _active_pairs_ibis(events, lo, hi, backend)
        code = known.get_indexer(ids)
        keep = code >= 0
        active[w[keep], code[keep]] = True
        return active
    if is_lazy(events):
        from churnlab.engine import Tables, connect

        con = backend if backend is not None else connect(relations=[events])
        tables = Tables(con)
        tables.require("events", events, [C.CUSTOMER_ID, C.TIMESTAMP])
        windows = tables.view("windows", pd.DataFrame({"w": np.arange(len(cutoffs), dtype=np.int32), "lo": lo,
                                                       "hi": hi}))
        view = tables.view("events", events)
        sql = (f"SELECT DISTINCT w.w, CAST(e.{C.CUSTOMER_ID} AS VARCHAR) AS customer_id FROM {view} e "
               f"JOIN {windows} w ON e.{C.TIMESTAMP} > w.lo AND e.{C.TIMESTAMP} <= w.hi")
        pairs = tables.con.execute(sql).fetchnumpy()
        code = known.get_indexer(np.asarray(pairs["customer_id"], dtype=object))
        keep = code >= 0
        active[np.asarray(pairs["w"])[keep], code[keep]] = True
        return active
    require_columns(events, [C.CUSTOMER_ID, C.TIMESTAMP], table="events")
    ts = events[C.TIMESTAMP].astype("datetime64[ns]").to_numpy()
    code = known.get_indexer(events[C.CUSTOMER_ID].astype(str).to_numpy())
    inside = code >= 0
    ts, code = ts[inside], code[inside]
    for i in range(len(cutoffs)):
        active[i, code[(ts > lo[i]) & (ts <= hi[i])]] = True
    return active


def _active_pairs_ibis(events, lo: np.ndarray, hi: np.ndarray, backend) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (window, customer_id) pairs with an event in ``(lo, hi]``, computed on an ibis backend.

    ``events`` is an ibis table (its own backend unless ``backend`` is given), a Parquet path (read by
    ``backend.read_parquet``) or a pandas frame (uploaded). The windows go up as a memtable of a few rows;
    only the pairs come back.
    """
    import ibis

    from churnlab.errors import AnalysisError
    from churnlab.feature_exprs import ibis_columns, resolve_table
    from churnlab.lazy import ibis_backend_of, is_ibis_table

    if backend is None:
        backend = ibis_backend_of(events)
    if is_ibis_table(events) and ibis_backend_of(events) is not backend:
        raise AnalysisError("make_label_times: the events table lives on another ibis backend than backend=")
    source = resolve_table(events, "events", backend)
    require_columns(source, [C.CUSTOMER_ID, C.TIMESTAMP], table="events")
    t = ibis_columns(source, [C.CUSTOMER_ID, C.TIMESTAMP], [C.TIMESTAMP], "events")
    windows = ibis.memtable(pd.DataFrame({"w": np.arange(len(lo), dtype=np.int32), "lo": lo.astype("datetime64[us]"),
                                          "hi": hi.astype("datetime64[us]")}))
    joined = t.join(windows, [t[C.TIMESTAMP] > windows.lo, t[C.TIMESTAMP] <= windows.hi])
    pairs = backend.to_pyarrow(joined.select(joined.w, joined[C.CUSTOMER_ID]).distinct())
    return (pairs.column("w").to_numpy().astype(np.int64),
            np.asarray(pairs.column(C.CUSTOMER_ID).to_pylist(), dtype=object))


def _snapshot_labels(dataset: Dataset) -> pd.DataFrame:
    customers = dataset["customers"]
    require_columns(customers, [C.CUSTOMER_ID, "churned"], table="customers")
    return pd.DataFrame({C.CUSTOMER_ID: customers[C.CUSTOMER_ID].astype(str).to_numpy(), C.CUTOFF: dataset.as_of,
                         C.LABEL: customers["churned"].astype(bool).to_numpy()})


def make_label_times(dataset: Dataset, cutoffs: Iterable[str | pd.Timestamp] | str | pd.Timestamp | None = None,
                     horizon_days: int = 30, gap_days: int = 0, min_tenure_days: int = 0,
                     include_cutoff: bool = False, *, definition: str | None = None,
                     backend=None) -> LabelTimes:
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
    backend : ibis backend or duckdb connection, optional
        Where the inactivity definition reads ``events``: default DuckDB for a frame or Parquet path, and
        the table's own backend for an ibis table (``con.table("events")`` on Spark or a warehouse). With an
        ibis backend a Parquet path is read by ``backend.read_parquet``. Only the (cutoff, customer) pairs
        with activity come back. The subscription definition reads the small ``subscriptions`` table in
        pandas (an ibis table's needed columns are fetched from its backend).

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
    ``label = cutoff + gap < spell end <= cutoff + gap + horizon``. Inactivity: ``label = no event with
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
        table = build(dataset, cuts, horizon, gap, include_cutoff, backend=backend)
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
