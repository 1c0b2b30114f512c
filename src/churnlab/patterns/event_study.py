"""Event study: churners aligned on their churn date vs matched stayers on a pseudo-date.

Each churner whose spell ended in the lookback before the cutoff is paired with a stayer of the same
segment and tenure band who was active on the churner's churn date and did not churn in the horizon
after it (the pseudo-date). Weekly activity in weeks ``-W .. 0`` before the (pseudo-)date is compared
pair by pair; a signal *diverges* from the earliest week after which the paired difference stays
significant, with the same sign, until week 0 (OPINIONS.md, "Matching in the event study").

Week ``k`` covers ``[anchor + 7 (k - 1) days, anchor + 7 k days)``: week 0 is the last 7 days before
the churn date.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.labels import active_at, customer_spells
from churnlab.patterns.population import rows_before
from churnlab.schema import Dataset

__all__ = ["match_stayers", "weekly_activity", "summarise_weeks", "divergence", "EventStudy", "event_study",
           "SIGNALS"]

#: Weekly signals: name -> (table, time column, row filter description).
SIGNALS = {
    "sessions": ("events", C.TIMESTAMP, "event_type == 'session'"),
    "exports": ("events", C.TIMESTAMP, "event_type == 'export'"),
    "tickets": ("tickets", "opened_at", "every ticket opened"),
    "email_opens": ("messages", "sent_at", "opened, on an email-like channel (the dataset's email_channels)"),
    "late_payments": ("payments", "due_at", "late"),
    "payments": ("payments", "due_at", "every payment due"),
}


def match_stayers(dataset: Dataset, cutoff, *, lookback_days: int = 365, horizon_days: int = 30,
                  tenure_bin_days: int = 90, segment_column: str = C.SEGMENT, seed: int = 0) -> pd.DataFrame:
    """Pair each recent churner with a random stayer of the same segment and tenure band.

    Parameters
    ----------
    dataset : Dataset
        Needs ``subscriptions``; ``customers`` with ``segment_column`` when matching on segment.
    cutoff : timestamp
        Churn dates in ``[cutoff - lookback, cutoff - horizon)`` are used (stayers need a horizon of
        observed survival after the pseudo-date).
    lookback_days : int
        How far back churners are taken.
    horizon_days : int
        A stayer must still be active ``horizon_days`` after the pseudo-date.
    tenure_bin_days : int
        Width of the tenure bands matched exactly (tenure at the churn date, from the first spell).
    segment_column : str
        Matched exactly when present in ``customers``.
    seed : int
        Seed of the random choice among candidates (with replacement across churners).

    Returns
    -------
    DataFrame
        Two rows per matched pair: ``pair_id, group`` (``churner`` / ``stayer``), ``customer_id,
        anchor`` (churn date, the same pseudo-date for the stayer), ``segment_column, tenure_days``.
        Churners without a candidate are dropped; ``attrs["unmatched"]`` counts them.

    Raises
    ------
    AnalysisError
        When no churner falls in the window.
    """
    dataset.require("subscriptions", by="match_stayers")
    cutoff = pd.Timestamp(cutoff)
    spells = customer_spells(dataset["subscriptions"], cutoff)
    first_start = spells.groupby(C.CUSTOMER_ID)["start_at"].min()
    seg = pd.Series("all", index=first_start.index)
    customers = dataset.tables.get("customers")
    if customers is not None and segment_column in customers:
        seg = customers.drop_duplicates(C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)[segment_column].reindex(
            first_start.index).astype("object").fillna("(missing)")
    lo, hi = cutoff - pd.Timedelta(days=lookback_days), cutoff - pd.Timedelta(days=horizon_days)
    churners = spells[spells["end_at"].notna() & (spells["end_at"] >= lo) & (spells["end_at"] < hi)]
    if churners.empty:
        raise AnalysisError(f"match_stayers: no churn between {lo.date()} and {hi.date()}")
    rng = np.random.default_rng(seed)
    s_id = spells[C.CUSTOMER_ID].to_numpy()
    s_spells = {"start_at": spells["start_at"].to_numpy(), "end_at": spells["end_at"].to_numpy()}
    s_seg = seg.reindex(s_id).to_numpy()
    s_first = first_start.reindex(s_id).to_numpy()
    horizon = np.timedelta64(horizon_days, "D")
    bin_ns = np.timedelta64(tenure_bin_days, "D")
    rows, unmatched = [], 0
    for pair, ch in enumerate(churners.itertuples(index=False)):
        cid, d = getattr(ch, C.CUSTOMER_ID), np.datetime64(ch.end_at)
        band = (d - first_start[cid]) // bin_ns
        # a stayer's spell is active on the churn date and still active horizon days later
        ok = (active_at(s_spells, d) & active_at(s_spells, d + horizon) & (s_seg == seg[cid]) & (s_id != cid)
              & ((d - s_first) // bin_ns == band))
        candidates = np.unique(s_id[ok])
        if candidates.size == 0:
            unmatched += 1
            continue
        stayer = candidates[rng.integers(candidates.size)]
        for group, who in (("churner", cid), ("stayer", stayer)):
            rows.append({"pair_id": pair, "group": group, C.CUSTOMER_ID: who, "anchor": pd.Timestamp(d),
                         segment_column: seg[who],
                         "tenure_days": (pd.Timestamp(d) - first_start[who]).total_seconds() / 86400.0})
    out = pd.DataFrame(rows, columns=["pair_id", "group", C.CUSTOMER_ID, "anchor", segment_column, "tenure_days"])
    out.attrs["unmatched"] = unmatched
    return out


def _signal_rows(dataset: Dataset, signal: str, cutoff: pd.Timestamp) -> pd.DataFrame | None:
    table, col, _ = SIGNALS[signal]
    if table not in dataset:
        return None
    df = rows_before(dataset[table], col, cutoff, name=table)
    if signal in ("sessions", "exports"):
        df = df[df["event_type"] == signal[:-1]]
    elif signal == "email_opens":
        df = df[df["channel"].isin(dataset.vocabulary("email_channels")) & df["opened"].astype(bool)]
    elif signal == "late_payments":
        df = df[df["late"].astype(bool)]
    return pd.DataFrame({C.CUSTOMER_ID: df[C.CUSTOMER_ID].astype(str).to_numpy(), "t": df[col].to_numpy()})


def weekly_activity(dataset: Dataset, anchors: pd.DataFrame, cutoff, *, weeks: int = 12,
                    signals: tuple[str, ...] | None = None) -> pd.DataFrame:
    """Count each anchored customer's activity per week before the anchor, for each signal.

    Parameters
    ----------
    dataset : Dataset
        The tables of the signals (a signal whose table is missing is left out).
    anchors : DataFrame
        From :func:`match_stayers`: ``pair_id, group, customer_id, anchor``.
    cutoff : timestamp
        Rows at or after it are never read.
    weeks : int
        Weeks ``-weeks .. 0``.
    signals : tuple of str, optional
        Names from :data:`SIGNALS`; default all whose table exists.

    Returns
    -------
    DataFrame
        One row per pair, group, signal and week (zeros included): ``pair_id, group, customer_id,
        signal, week, value``.
    """
    cutoff = pd.Timestamp(cutoff)
    unknown = [s for s in (signals or ()) if s not in SIGNALS]
    if unknown:
        raise AnalysisError(f"weekly_activity: unknown signal {unknown[0]!r}; known: {', '.join(SIGNALS)}")
    names = [s for s in (signals or tuple(SIGNALS)) if SIGNALS[s][0] in dataset]
    if not names:
        raise AnalysisError("weekly_activity: the dataset has none of the signals' tables")
    keys = anchors[["pair_id", "group", C.CUSTOMER_ID, "anchor"]].assign(
        **{C.CUSTOMER_ID: anchors[C.CUSTOMER_ID].astype(str)})
    week_range = np.arange(-weeks, 1)
    parts = []
    for name in names:
        rows = _signal_rows(dataset, name, cutoff)
        rows = rows[rows[C.CUSTOMER_ID].isin(keys[C.CUSTOMER_ID])]
        j = keys.merge(rows, on=C.CUSTOMER_ID, how="inner")
        days = (j["t"] - j["anchor"]).dt.total_seconds() / 86400.0
        j = j.assign(week=np.floor(days / 7.0).astype(int) + 1)
        j = j[(j["week"] >= -weeks) & (j["week"] <= 0)]
        counts = j.groupby(["pair_id", "group", "week"]).size()
        grid = pd.MultiIndex.from_product([keys.set_index(["pair_id", "group"]).index.unique(), week_range])
        full = pd.MultiIndex.from_tuples([(p, g, w) for (p, g), w in grid], names=["pair_id", "group", "week"])
        value = counts.reindex(full, fill_value=0).rename("value").reset_index()
        parts.append(value.assign(signal=name))
    out = pd.concat(parts, ignore_index=True)
    out = out.merge(keys[["pair_id", "group", C.CUSTOMER_ID]], on=["pair_id", "group"], how="left")
    return out[["pair_id", "group", C.CUSTOMER_ID, "signal", "week", "value"]]


def summarise_weeks(activity: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Average each group's weekly activity and the paired churner-minus-stayer difference, with CIs.

    Returns
    -------
    DataFrame
        One row per signal, week and ``group`` (``churner``, ``stayer``, ``difference``): ``n, mean,
        ci_lower, ci_upper`` (Student t), and for ``difference`` the paired t-test ``p_value``.
    """
    rows = []
    wide = activity.pivot_table(index=["signal", "week", "pair_id"], columns="group", values="value")
    for (signal, week), g in wide.groupby(level=["signal", "week"]):
        series = {"churner": g["churner"], "stayer": g["stayer"], "difference": g["churner"] - g["stayer"]}
        for group, v in series.items():
            v = v.dropna().to_numpy(dtype=float)
            n = v.size
            m = float(v.mean()) if n else np.nan
            if n > 1 and v.std(ddof=1) > 0:
                half = float(stats.t.ppf(1 - alpha / 2, n - 1) * v.std(ddof=1) / np.sqrt(n))
                p = float(stats.ttest_1samp(v, 0.0).pvalue) if group == "difference" else np.nan
            else:
                half, p = (0.0, (1.0 if group == "difference" else np.nan)) if n > 1 else (np.nan, np.nan)
            rows.append({"signal": signal, "week": int(week), "group": group, "n": n, "mean": m,
                         "ci_lower": m - half, "ci_upper": m + half, "p_value": p})
    return pd.DataFrame(rows)


def divergence(summary: pd.DataFrame) -> pd.DataFrame:
    """Find, per signal, the earliest week from which churners differ from stayers until week 0.

    Parameters
    ----------
    summary : DataFrame
        From :func:`summarise_weeks`.

    Returns
    -------
    DataFrame
        One row per signal, earliest divergence first: ``signal, diverges`` (the week-0 difference's
        CI excludes 0), ``first_week`` (earliest week of the unbroken run of same-sign significant
        weeks ending at week 0), ``weeks_ahead`` (``-first_week``), ``direction`` (``lower`` or
        ``higher`` for churners), ``difference_week0``, ``churner_week0``, ``stayer_week0``.
    """
    diff = summary[summary["group"] == "difference"].sort_values(["signal", "week"])
    rows = []
    for signal, g in diff.groupby("signal"):
        g = g.set_index("week")
        sig = np.sign(g["ci_lower"]).where(g["ci_lower"] > 0, 0) + np.sign(g["ci_upper"]).where(g["ci_upper"] < 0, 0)
        last = sig.get(0, 0)
        first = np.nan
        if last != 0:
            first = 0
            for w in sorted(g.index, reverse=True):
                if sig[w] != last:
                    break
                first = w
        both = summary[(summary["signal"] == signal) & (summary["week"] == 0)].set_index("group")["mean"]
        rows.append({"signal": signal, "diverges": bool(last != 0), "first_week": first,
                     "weeks_ahead": -first if last != 0 else np.nan,
                     "direction": {1: "higher", -1: "lower"}.get(int(last), "no difference"),
                     "difference_week0": g["mean"].get(0, np.nan), "churner_week0": both.get("churner", np.nan),
                     "stayer_week0": both.get("stayer", np.nan)})
    out = pd.DataFrame(rows)
    return out.sort_values(["diverges", "weeks_ahead"], ascending=[False, False], na_position="last").reset_index(
        drop=True)


@dataclass(frozen=True)
class EventStudy:
    """Result of :func:`event_study`: the matched pairs, weekly activity, its summary and divergence."""

    anchors: pd.DataFrame
    activity: pd.DataFrame
    summary: pd.DataFrame
    divergence: pd.DataFrame
    weeks: int
    alpha: float

    def __repr__(self) -> str:
        pairs = self.anchors["pair_id"].nunique() if len(self.anchors) else 0
        lead = self.divergence.iloc[0] if len(self.divergence) else None
        first = (f", first divergence: {lead.signal} {lead.weeks_ahead:.0f} weeks ahead"
                 if lead is not None and lead.diverges else "")
        return f"EventStudy({pairs} pairs, weeks -{self.weeks}..0, alpha={self.alpha}{first})"

    def _repr_html_(self) -> str:
        return f"<p>{self!r}</p>" + self.divergence.to_html(index=False)

    def plot(self, signal: str | None = None, ax=None):
        """Plot churners vs stayers for one signal (default the first to diverge); returns the Axes."""
        from churnlab.plots.patterns import plot_event_study

        signal = signal or (self.divergence["signal"].iloc[0] if len(self.divergence) else None)
        return plot_event_study(self.summary, signal, ax=ax)


def event_study(dataset: Dataset, cutoff, *, weeks: int = 12, lookback_days: int = 365, horizon_days: int = 30,
                tenure_bin_days: int = 90, segment_column: str = C.SEGMENT, seed: int = 0,
                alpha: float = 0.05) -> EventStudy:
    """Run the whole event study: match, count weekly activity, summarise, find the divergence.

    Parameters are those of :func:`match_stayers`, :func:`weekly_activity` and
    :func:`summarise_weeks`.

    Returns
    -------
    EventStudy
    """
    anchors = match_stayers(dataset, cutoff, lookback_days=lookback_days, horizon_days=horizon_days,
                            tenure_bin_days=tenure_bin_days, segment_column=segment_column, seed=seed)
    if anchors.empty:
        raise AnalysisError("event_study: no churner could be matched with a stayer")
    activity = weekly_activity(dataset, anchors, cutoff, weeks=weeks)
    summary = summarise_weeks(activity, alpha)
    return EventStudy(anchors, activity, summary, divergence(summary), weeks, alpha)
