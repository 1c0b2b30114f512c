"""CRM signals the feature engine does not compute: email reactions, renewal dates, days of use, idle days.

Each is point-in-time like :mod:`churnlab.features`: a row (``customer_id``, ``cutoff``) reads only data
stamped before the cutoff. They feed the CRM views of :mod:`churnlab.monitor.views`:

- ``days_since_last_email_reaction``: days since the last email the customer opened or clicked (its
  ``sent_at``: the reaction is stored on the sent row); never reacted: days since signup. Emails sent in
  the last :data:`churnlab.features.OPEN_SETTLE_DAYS` are not judged yet.
- ``emails_since_last_reaction``: settled emails sent after that reaction (so "no reaction" means the
  customer was written to and stayed silent, not that nobody wrote).
- ``days_to_renewal``: days from the cutoff to the next ``subscriptions.renewal_at`` of the running
  subscription (a contract date, known in advance); with ``billing_period_days`` the renewal date is one
  term end of a schedule and is moved by whole periods to the first one on or after the cutoff (so a
  snapshot's renewal date serves earlier cutoffs without reading the future); missing when the table has
  no renewal dates.
- ``days_of_use``: days since the start of the customer's current spell (the check-in call).
- ``idle_days``: ``days_since_last_session`` minus the days of known breaks (holidays, an announced
  outage) between the last session and the cutoff: a quiet week over Christmas is not a warning.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import SpecError
from churnlab.features import OPEN_SETTLE_DAYS
from churnlab.labels import customer_spells
from churnlab.schema import Dataset, require_columns

__all__ = ["CRM_SIGNALS", "email_reactions", "renewal_days", "days_of_use", "idle_days", "parse_breaks",
           "add_crm_signals"]

#: Signal name -> plain words (as :data:`churnlab.features.FEATURE_DESCRIPTIONS`).
CRM_SIGNALS = {
    "days_since_last_email_reaction": "no reaction to emails for {value:.0f} days",
    "emails_since_last_reaction": "{value:.0f} emails without a reaction",
    "days_to_renewal": "subscription renews in {value:.0f} days",
    "days_of_use": "{value:.0f} days since the subscription started",
    "idle_days": "{value:.0f} days without use (known breaks excluded)",
}

_DAY = pd.Timedelta(days=1)


def _rows(rows: pd.DataFrame) -> pd.DataFrame:
    require_columns(rows, [C.CUSTOMER_ID, C.CUTOFF], table="rows")
    out = rows[[C.CUSTOMER_ID, C.CUTOFF]].copy()
    out[C.CUSTOMER_ID] = out[C.CUSTOMER_ID].astype(str)
    out[C.CUTOFF] = pd.to_datetime(out[C.CUTOFF]).astype("datetime64[ns]")
    return out.reset_index(drop=True)


def _asof(rows: pd.DataFrame, events: pd.DataFrame, on: str, key: pd.Series, include: bool) -> pd.DataFrame:
    """Last ``events`` row per customer stamped before ``key`` (at or before it when ``include``), row order kept."""
    left = rows.assign(_key=key.to_numpy(), _row=np.arange(len(rows))).sort_values("_key", kind="stable")
    right = events.sort_values(on, kind="stable")
    merged = pd.merge_asof(left, right, left_on="_key", right_on=on, by=C.CUSTOMER_ID,
                           allow_exact_matches=include, direction="backward")
    return merged.sort_values("_row").reset_index(drop=True)


def email_reactions(dataset: Dataset, rows: pd.DataFrame, *, include_cutoff: bool = False) -> pd.DataFrame:
    """Days since each customer last opened or clicked an email, and emails sent since, as of each cutoff.

    Parameters
    ----------
    dataset : Dataset
        ``messages`` (``customer_id, sent_at, channel, opened[, clicked]``) and ``customers`` (``signup_at``).
    rows : DataFrame
        ``customer_id, cutoff``.
    include_cutoff : bool, default False
        Whether an email sent exactly at the settled cutoff counts.

    Returns
    -------
    DataFrame
        ``customer_id, cutoff, days_since_last_email_reaction, emails_since_last_reaction``, in the rows' order.

    Raises
    ------
    MissingTableError
        Without ``messages``.

    Notes
    -----
    Only emails sent before ``cutoff - OPEN_SETTLE_DAYS`` are read (their reaction may come days later).
    ``days_since_last_email_reaction = cutoff - sent_at`` of the last reacted email, else ``cutoff - signup_at``.
    """
    msgs = dataset.require("messages", by="email_reactions")["messages"]
    require_columns(msgs, [C.CUSTOMER_ID, "sent_at", "channel", "opened"], table="messages")
    out = _rows(rows)
    email = msgs[msgs["channel"].astype(str) == "email"]
    reacted = email["opened"].fillna(False).astype(bool)
    if "clicked" in email.columns:
        reacted = reacted | email["clicked"].fillna(False).astype(bool)
    base = pd.DataFrame({C.CUSTOMER_ID: email[C.CUSTOMER_ID].astype(str).to_numpy(),
                         "sent_at": pd.to_datetime(email["sent_at"]).astype("datetime64[ns]").to_numpy(),
                         "reacted": reacted.to_numpy()}).sort_values([C.CUSTOMER_ID, "sent_at"], kind="stable")
    base["n_sent"] = base.groupby(C.CUSTOMER_ID).cumcount() + 1
    settled = out[C.CUTOFF] - pd.Timedelta(days=OPEN_SETTLE_DAYS)
    last_any = _asof(out, base[[C.CUSTOMER_ID, "sent_at", "n_sent"]], "sent_at", settled, include_cutoff)
    hits = base.loc[base["reacted"], [C.CUSTOMER_ID, "sent_at", "n_sent"]].rename(
        columns={"sent_at": "reacted_at", "n_sent": "n_at_reaction"})
    last_hit = _asof(out, hits, "reacted_at", settled, include_cutoff)
    signup = dataset["customers"].assign(**{C.CUSTOMER_ID: lambda d: d[C.CUSTOMER_ID].astype(str)}).drop_duplicates(
        C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)[C.SIGNUP_AT]
    since = last_hit["reacted_at"].fillna(pd.to_datetime(out[C.CUSTOMER_ID].map(signup)).astype("datetime64[ns]"))
    out["days_since_last_email_reaction"] = ((out[C.CUTOFF] - since) / _DAY).astype("float64")
    sent = last_any["n_sent"].fillna(0).to_numpy(float)
    out["emails_since_last_reaction"] = sent - last_hit["n_at_reaction"].fillna(0).to_numpy(float)
    return out


def renewal_days(dataset: Dataset, rows: pd.DataFrame) -> pd.DataFrame:
    """Days from each cutoff to the next renewal date of the customer's running subscription.

    Parameters
    ----------
    dataset : Dataset
        ``subscriptions`` with ``customer_id, start_at, end_at, renewal_at`` and optionally
        ``billing_period_days`` (renewal dates then repeat every period: the first on or after the cutoff counts).
    rows : DataFrame
        ``customer_id, cutoff``.

    Returns
    -------
    DataFrame
        ``customer_id, cutoff, days_to_renewal``: the smallest ``renewal_at - cutoff >= 0`` over subscriptions
        started before the cutoff and not ended by it (``renewal_at`` first moved by whole billing periods to the
        first renewal on or after the cutoff when ``billing_period_days`` is given); missing when none has a
        renewal date ahead.

    Raises
    ------
    MissingTableError
        Without ``subscriptions``.
    SchemaError
        When ``subscriptions`` has no ``renewal_at`` column.
    """
    subs = dataset.require("subscriptions", by="renewal_days")["subscriptions"]
    require_columns(subs, [C.CUSTOMER_ID, "start_at", "end_at", "renewal_at"], table="subscriptions")
    out = _rows(rows)
    period = (pd.to_numeric(subs["billing_period_days"], errors="coerce") if "billing_period_days" in subs.columns
              else pd.Series(np.nan, index=subs.index))
    s = pd.DataFrame({C.CUSTOMER_ID: subs[C.CUSTOMER_ID].astype(str).to_numpy(),
                      "start_at": pd.to_datetime(subs["start_at"]).astype("datetime64[ns]").to_numpy(),
                      "end_at": pd.to_datetime(subs["end_at"]).astype("datetime64[ns]").to_numpy(),
                      "renewal_at": pd.to_datetime(subs["renewal_at"]).astype("datetime64[ns]").to_numpy(),
                      "period": period.astype("float64").to_numpy()})
    j = out.reset_index().merge(s, on=C.CUSTOMER_ID, how="inner")
    running = (j["start_at"] < j[C.CUTOFF]) & (j["end_at"].isna() | (j["end_at"] > j[C.CUTOFF]))
    # a billing schedule (renewal_at + k periods) gives the renewal ahead of any cutoff, before or after the
    # snapshot the renewal date was read at: the term ends of a contract are known in advance
    known = j["period"].notna() & (j["period"] > 0) & j["renewal_at"].notna()
    step = pd.to_timedelta(j["period"].where(known, 1.0), unit="D")
    k = np.ceil((j[C.CUTOFF] - j["renewal_at"]) / step)
    rolled = j["renewal_at"] + step * k.where(known, 0.0).fillna(0.0)
    j["renewal_at"] = rolled.where(known, j["renewal_at"])
    ahead = j["renewal_at"] >= j[C.CUTOFF]
    j = j[running & ahead]
    days = ((j["renewal_at"] - j[C.CUTOFF]) / _DAY).groupby(j["index"]).min()
    out["days_to_renewal"] = days.reindex(range(len(out))).astype("float64").to_numpy()
    return out


def days_of_use(dataset: Dataset, rows: pd.DataFrame) -> pd.DataFrame:
    """Days since the start of each customer's current spell (merged subscriptions), as of each cutoff.

    Returns
    -------
    DataFrame
        ``customer_id, cutoff, days_of_use``; missing for a customer not active at the cutoff.
    """
    subs = dataset.require("subscriptions", by="days_of_use")["subscriptions"]
    out = _rows(rows)
    values = np.full(len(out), np.nan)
    for cutoff, idx in out.groupby(C.CUTOFF).groups.items():
        spells = customer_spells(subs, cutoff)
        running = spells[spells["end_at"].isna()].drop_duplicates(C.CUSTOMER_ID, keep="last")
        start = running.assign(**{C.CUSTOMER_ID: running[C.CUSTOMER_ID].astype(str)}).set_index(C.CUSTOMER_ID)[
            "start_at"]
        ids = out.loc[idx, C.CUSTOMER_ID]
        values[np.asarray(idx)] = ((pd.Timestamp(cutoff) - pd.to_datetime(ids.map(start))) / _DAY).to_numpy(float)
    out["days_of_use"] = values
    return out


def parse_breaks(items: Sequence[dict] | None) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Read known breaks ``[{start, end[, name]}]`` (dates, end exclusive) into sorted pairs.

    Raises
    ------
    SpecError
        A break without ``start``/``end``, an unreadable date, or an end not after its start.

    Examples
    --------
    >>> parse_breaks([{"start": "2024-12-24", "end": "2025-01-02", "name": "holidays"}])[0][1].date()
    datetime.date(2025, 1, 2)
    """
    out = []
    for i, item in enumerate(items or []):
        if not isinstance(item, dict) or not {"start", "end"} <= set(item):
            raise SpecError(f"known break #{i + 1}: expected a mapping with start and end dates, got {item!r}")
        try:
            a, b = pd.Timestamp(item["start"]), pd.Timestamp(item["end"])
        except (ValueError, TypeError):
            raise SpecError(f"known break #{i + 1}: cannot read {item['start']!r}..{item['end']!r} as dates") from None
        if not b > a:
            raise SpecError(f"known break #{i + 1}: end {b.date()} must come after start {a.date()}")
        out.append((a, b))
    return sorted(out)


def idle_days(features: pd.DataFrame, breaks: Sequence[tuple[pd.Timestamp, pd.Timestamp]] = ()) -> pd.Series:
    """Days since the last session minus the days of known breaks in between.

    Parameters
    ----------
    features : DataFrame
        ``cutoff, days_since_last_session`` (from :func:`churnlab.features.build_features`).
    breaks : sequence of (start, end)
        Known breaks (end exclusive), from :func:`parse_breaks`.

    Returns
    -------
    Series of float
        ``days_since_last_session - overlap([cutoff - days_since_last_session, cutoff), breaks)`` in days.

    Examples
    --------
    >>> f = pd.DataFrame({"cutoff": pd.to_datetime(["2025-01-10"]), "days_since_last_session": [20.0]})
    >>> idle_days(f, parse_breaks([{"start": "2024-12-24", "end": "2025-01-02"}])).tolist()
    [11.0]
    """
    require_columns(features, [C.CUTOFF, "days_since_last_session"], table="features")
    cutoff = pd.to_datetime(features[C.CUTOFF]).astype("datetime64[ns]")
    days = features["days_since_last_session"].astype("float64")
    last = cutoff - pd.to_timedelta(days, unit="D")
    out = days.copy()
    for a, b in breaks:
        lo = last.where(last > a, a)
        hi = cutoff.where(cutoff < b, b)
        overlap = ((hi - lo) / _DAY).clip(lower=0.0).fillna(0.0)
        out = out - overlap
    return out.rename("idle_days")


def add_crm_signals(dataset: Dataset, features: pd.DataFrame, *,
                    breaks: Sequence[tuple[pd.Timestamp, pd.Timestamp]] = ()) -> pd.DataFrame:
    """Add every CRM signal the dataset's tables allow to a feature frame (a copy).

    Parameters
    ----------
    dataset : Dataset
        The tables the features came from.
    features : DataFrame
        ``customer_id, cutoff`` and the features of :func:`churnlab.features.build_features`.
    breaks : sequence of (start, end)
        Known breaks for ``idle_days``.

    Returns
    -------
    DataFrame
        ``features`` plus ``days_since_last_email_reaction, emails_since_last_reaction`` (with messages),
        ``days_to_renewal`` (with ``subscriptions.renewal_at``), ``days_of_use`` (with subscriptions) and
        ``idle_days`` (with ``days_since_last_session``); row order kept.
    """
    out = features.reset_index(drop=True).copy()
    if "messages" in dataset:
        r = email_reactions(dataset, out)
        out["days_since_last_email_reaction"] = r["days_since_last_email_reaction"].to_numpy()
        out["emails_since_last_reaction"] = r["emails_since_last_reaction"].to_numpy()
    if "subscriptions" in dataset:
        if "renewal_at" in dataset["subscriptions"].columns:
            out["days_to_renewal"] = renewal_days(dataset, out)["days_to_renewal"].to_numpy()
        out["days_of_use"] = days_of_use(dataset, out)["days_of_use"].to_numpy()
    if "days_since_last_session" in out.columns:
        out["idle_days"] = idle_days(out, breaks).to_numpy()
    return out
