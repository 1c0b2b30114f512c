"""Customer feedback as of a cutoff: NPS as a score, CSAT's trend, and what exit surveys say.

- :func:`nps_score` is the formula: % promoters minus % detractors with its interval;
  :func:`nps_table` applies it per period and / or per group of the ``surveys`` table.
- :func:`csat_trend` follows CSAT per period: its mean and the share of satisfied answers.
- :func:`exit_reasons` counts the reasons customers state when they leave, and
  :func:`exit_agreement` compares them with the churn reason recorded on the subscription.

Only answers stamped strictly before the cutoff are read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.experiment.results import Result
from churnlab.intervals import wilson_interval, z_value
from churnlab.metrics import customer_spells, rate_with_ci
from churnlab.patterns.population import rows_before
from churnlab.patterns.support import mean_with_ci
from churnlab.schema import Dataset, require_columns

__all__ = ["PROMOTER_MIN", "DETRACTOR_MAX", "SATISFIED_MIN", "nps_score", "nps_table", "csat_trend",
           "exit_reasons", "exit_agreement", "ExitComparison"]

#: NPS cut-offs on the 0-10 scale (OPINIONS.md, "NPS cut-offs"): promoters 9-10, detractors 0-6.
PROMOTER_MIN, DETRACTOR_MAX = 9, 6
#: A CSAT answer of 4 or 5 on the 1-5 scale counts as satisfied (OPINIONS.md, "CSAT: satisfied").
SATISFIED_MIN = 4


def nps_score(promoters, detractors, n, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Net Promoter Score in points with its normal-approximation interval.

    Parameters
    ----------
    promoters, detractors : int or array of int
        Answers at or above :data:`PROMOTER_MIN` and at or below :data:`DETRACTOR_MAX`.
    n : int or array of int
        All answers (passives included); NaN where 0.
    alpha : float
        One minus the confidence level.

    Returns
    -------
    (nps, lower, upper) : tuple of ndarray
        ``100 * (p_promoters - p_detractors)`` and its bounds, within [-100, 100].

    Notes
    -----
    The answers are one multinomial draw over (promoter, passive, detractor), so
    ``Var(p_P - p_D) = (p_P (1 - p_P) + p_D (1 - p_D) + 2 p_P p_D) / n
    = (p_P + p_D - (p_P - p_D)^2) / n`` (the covariance of two multinomial shares is
    ``-p_P p_D / n``); the interval is ``NPS +- z sqrt(Var)``, clipped to [-1, 1].

    References
    ----------
    .. [1] Reichheld, F. F. (2003) The one number you need to grow. Harvard Business Review 81(12).
    .. [2] Rocks, B. (2016) Interval estimation for the "net promoter score". The American
       Statistician 70(4), 365-372 (the multinomial variance above; Wald interval).

    Examples
    --------
    >>> nps, lo, hi = nps_score(50, 20, 100)
    >>> round(float(nps), 1), round(float(lo), 1), round(float(hi), 1)
    (30.0, 14.7, 45.3)
    """
    p, d, m = (np.asarray(a, dtype=float) for a in (promoters, detractors, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        pp, pd_ = p / m, d / m
        diff = pp - pd_
        se = np.sqrt(np.maximum(pp + pd_ - diff**2, 0.0) / m)
        z = z_value(alpha)
        ok = m > 0
        nps = np.where(ok, diff, np.nan)
        lower = np.where(ok, np.clip(diff - z * se, -1.0, 1.0), np.nan)
        upper = np.where(ok, np.clip(diff + z * se, -1.0, 1.0), np.nan)
    return 100.0 * nps, 100.0 * lower, 100.0 * upper


def _surveys(dataset: Dataset, cutoff, kind: str, by: str | None, attributes: pd.DataFrame | None) -> pd.DataFrame:
    dataset.require("surveys", by=f"{kind} analysis")
    s = rows_before(dataset["surveys"], "answered_at", cutoff, name="surveys")
    require_columns(s, [C.CUSTOMER_ID, "kind", "score"], table="surveys")
    s = s[s["kind"] == kind]
    if by is not None and by not in s.columns:
        attrs = attributes if attributes is not None else dataset.tables.get("customers")
        if attrs is None:
            raise AnalysisError(f"{kind}: surveys have no column {by!r} and there is no customers table to join")
        require_columns(attrs, [C.CUSTOMER_ID, by], table="customers")
        a = attrs[[C.CUSTOMER_ID, by]].drop_duplicates(C.CUSTOMER_ID)
        s = s.merge(a.astype({C.CUSTOMER_ID: s[C.CUSTOMER_ID].dtype}), on=C.CUSTOMER_ID, how="left")
        s[by] = s[by].astype("object").where(s[by].notna(), "(missing)")
    return s


def _groups(s: pd.DataFrame, time_col: str, freq: str | None, by: str | None) -> list[str]:
    keys = []
    if freq is not None:
        alias = {"MS": "M", "QS": "Q", "YS": "Y"}.get(freq, freq)
        s["period_start"] = s[time_col].dt.to_period(alias).dt.start_time
        keys.append("period_start")
    if by is not None:
        keys.append(by)
    return keys


def nps_table(dataset: Dataset, cutoff, *, freq: str | None = "MS", by: str | None = None,
              attributes: pd.DataFrame | None = None, promoter_min: float = PROMOTER_MIN,
              detractor_max: float = DETRACTOR_MAX, alpha: float = 0.05) -> pd.DataFrame:
    """NPS per period and / or per group from the ``surveys`` answers of kind ``nps``.

    Parameters
    ----------
    dataset : Dataset
        Needs ``surveys`` (``customer_id, answered_at, kind, score``) with scores on 0-10.
    cutoff : timestamp
        Answers at or after it are not read.
    freq : str, optional
        ``"MS"`` for months, ``"QS"`` quarters; None for one row per group over all history.
    by : str, optional
        A column of the surveys, else of ``attributes`` / ``customers`` (``segment``, ``plan``...).
    attributes : DataFrame, optional
        ``customer_id`` and ``by`` when the surveys lack it (default the dataset's customers).
    promoter_min, detractor_max : float
        The cut-offs (defaults 9 and 6; OPINIONS.md, "NPS cut-offs").
    alpha : float
        Interval level.

    Returns
    -------
    DataFrame
        One row per period / group: ``[period_start,] [by,] n, promoters, passives, detractors,
        share_promoters, share_detractors, nps, ci_lower, ci_upper`` (NPS in points, -100..100).
        Every answer counts (a customer who answers twice counts twice).

    Raises
    ------
    MissingTableError
        When there are no ``surveys``.
    AnalysisError
        When there is no NPS answer before the cutoff.

    Examples
    --------
    >>> s = pd.DataFrame({"customer_id": list("abcd"), "answered_at": pd.Timestamp("2024-03-05"),
    ...                   "kind": "nps", "score": [10.0, 9.0, 7.0, 3.0]})
    >>> ds = Dataset("d", {"surveys": s}, as_of="2024-04-01", source="doctest")
    >>> float(nps_table(ds, "2024-04-01")["nps"].iloc[0])
    25.0
    """
    s = _surveys(dataset, cutoff, "nps", by, attributes).dropna(subset=["score"])
    if s.empty:
        raise AnalysisError(f"nps_table: no NPS answer before {pd.Timestamp(cutoff).date()}")
    s = s.assign(_p=s["score"] >= promoter_min, _d=s["score"] <= detractor_max)
    keys = _groups(s, "answered_at", freq, by)
    g = (s.groupby(keys, sort=True) if keys else s.assign(_all=0).groupby("_all"))
    out = g.agg(n=("score", "size"), promoters=("_p", "sum"), detractors=("_d", "sum")).reset_index()
    out = out.drop(columns=["_all"], errors="ignore")
    out["passives"] = out["n"] - out["promoters"] - out["detractors"]
    out["share_promoters"] = out["promoters"] / out["n"]
    out["share_detractors"] = out["detractors"] / out["n"]
    out["nps"], out["ci_lower"], out["ci_upper"] = nps_score(out["promoters"], out["detractors"], out["n"], alpha)
    cols = [*keys, "n", "promoters", "passives", "detractors", "share_promoters", "share_detractors", "nps",
            "ci_lower", "ci_upper"]
    return out[cols]


def csat_trend(dataset: Dataset, cutoff, *, freq: str | None = "MS", by: str | None = None,
               attributes: pd.DataFrame | None = None, satisfied_min: float = SATISFIED_MIN,
               alpha: float = 0.05) -> pd.DataFrame:
    """CSAT per period (and group): the mean answer and the share satisfied, with intervals.

    Parameters
    ----------
    dataset : Dataset
        ``surveys`` of kind ``csat`` (1-5); without any, the ``tickets.csat`` ratings dated by the
        ticket's resolution (``opened_at + hours_to_resolve``).
    cutoff : timestamp
        Answers at or after it are not read.
    freq, by, attributes, alpha
        As in :func:`nps_table`.
    satisfied_min : float
        Answers at or above it are satisfied (default 4; OPINIONS.md, "CSAT: satisfied").

    Returns
    -------
    DataFrame
        One row per period / group: ``[period_start,] [by,] n, csat_mean, csat_lower, csat_upper``
        (Student t), ``satisfied, share_satisfied, ci_lower, ci_upper`` (Wilson), ``source``.

    Raises
    ------
    AnalysisError
        When there is no CSAT answer before the cutoff.
    """
    cutoff = pd.Timestamp(cutoff)
    source = "surveys"
    s = pd.DataFrame()
    if "surveys" in dataset:
        s = _surveys(dataset, cutoff, "csat", by, attributes).dropna(subset=["score"])
        s = s.rename(columns={"answered_at": "_at"})
    if s.empty and "tickets" in dataset:
        t = dataset["tickets"]
        require_columns(t, [C.CUSTOMER_ID, "opened_at", "hours_to_resolve", "csat"], table="tickets")
        at = t["opened_at"] + pd.to_timedelta(t["hours_to_resolve"], unit="h")
        s = t.assign(_at=at, score=t["csat"]).dropna(subset=["score", "_at"])
        s = s[s["_at"] < cutoff]
        if by is not None and by not in s.columns:
            attrs = attributes if attributes is not None else dataset["customers"]
            a = attrs[[C.CUSTOMER_ID, by]].drop_duplicates(C.CUSTOMER_ID)
            s = s.merge(a.astype({C.CUSTOMER_ID: s[C.CUSTOMER_ID].dtype}), on=C.CUSTOMER_ID, how="left")
        source = "tickets"
    if s.empty:
        raise AnalysisError(f"csat_trend: no CSAT answer before {cutoff.date()} in surveys or tickets")
    s = s.assign(_sat=s["score"] >= satisfied_min)
    keys = _groups(s, "_at", freq, by)
    rows = []
    for key, g in (s.groupby(keys, sort=True) if keys else [((), s)]):
        key = key if isinstance(key, tuple) else (key,)
        n, m, lo, hi = mean_with_ci(g["score"], alpha)
        rows.append({**dict(zip(keys, key)), "n": n, "csat_mean": m, "csat_lower": lo, "csat_upper": hi,
                     "satisfied": int(g["_sat"].sum())})
    out = pd.DataFrame(rows)
    ci = rate_with_ci(out["satisfied"], out["n"], alpha)
    out["share_satisfied"], out["ci_lower"], out["ci_upper"] = ci["rate"], ci["ci_lower"], ci["ci_upper"]
    out["source"] = source
    return out


def _exits(dataset: Dataset, cutoff, since) -> pd.DataFrame:
    dataset.require("surveys", by="exit surveys")
    s = rows_before(dataset["surveys"], "answered_at", cutoff, name="surveys")
    require_columns(s, [C.CUSTOMER_ID, "kind", "answered_at"], table="surveys")
    if "reason" not in s.columns:
        raise AnalysisError("exit surveys: the surveys table has no reason column (optional in the schema)")
    s = s[(s["kind"] == "exit") & s["reason"].notna()]
    if since is not None:
        s = s[s["answered_at"] >= pd.Timestamp(since)]
    if s.empty:
        raise AnalysisError(f"exit surveys: no exit answer with a reason before {pd.Timestamp(cutoff).date()}")
    return s


def exit_reasons(dataset: Dataset, cutoff, *, since=None, alpha: float = 0.05) -> pd.DataFrame:
    """Count the reasons customers state in exit surveys.

    Parameters
    ----------
    dataset : Dataset
        Needs ``surveys`` with kind ``exit`` and a ``reason`` column.
    cutoff : timestamp
        Answers at or after it are not read.
    since : timestamp, optional
        Only answers from then on.
    alpha : float
        Wilson interval level of each share.

    Returns
    -------
    DataFrame
        One row per stated reason, most frequent first: ``reason, n, share, ci_lower, ci_upper``.

    Raises
    ------
    AnalysisError
        When there is no exit answer with a reason.
    """
    s = _exits(dataset, cutoff, since)
    counts = s["reason"].astype(str).value_counts()
    ci = rate_with_ci(counts, pd.Series(counts.sum(), index=counts.index), alpha)
    return pd.DataFrame({"reason": counts.index, "n": counts.to_numpy(), "share": ci["rate"].to_numpy(),
                         "ci_lower": ci["ci_lower"].to_numpy(), "ci_upper": ci["ci_upper"].to_numpy()})


@dataclass(frozen=True, repr=False)
class ExitComparison(Result):
    """Stated exit reasons against the recorded churn reasons.

    Attributes
    ----------
    confusion : DataFrame
        Counts: index the recorded ``churn_reason``, columns the stated reason.
    by_reason : DataFrame
        One row per recorded reason: ``churn_reason, n, agree, rate, ci_lower, ci_upper`` (the share
        of its churners whose stated reason is the same, Wilson).
    n, agree : int
        Matched answers and those that agree.
    agreement, ci_lower, ci_upper : float
        Overall agreement rate with its Wilson interval.
    kappa : float
        Cohen's kappa: agreement beyond what the two marginal distributions give by chance.
    unmatched : int
        Exit answers with no recorded churn within the tolerance.
    alpha : float
    """

    confusion: pd.DataFrame
    by_reason: pd.DataFrame
    n: int
    agree: int
    agreement: float
    ci_lower: float
    ci_upper: float
    kappa: float
    unmatched: int
    alpha: float = 0.05

    @property
    def summary(self) -> pd.DataFrame:
        """One row: ``n, agree, agreement, ci_lower, ci_upper, kappa, unmatched``."""
        return pd.DataFrame([{"n": self.n, "agree": self.agree, "agreement": self.agreement,
                              "ci_lower": self.ci_lower, "ci_upper": self.ci_upper, "kappa": self.kappa,
                              "unmatched": self.unmatched}])

    def _headline(self) -> str:
        return (f"{self.agreement:.1%} of {self.n} stated reasons match the recorded one "
                f"({1 - self.alpha:.0%} CI {self.ci_lower:.1%}-{self.ci_upper:.1%}), kappa {self.kappa:.2f}")

    def _settings(self) -> dict[str, object]:
        return {"n": self.n, "alpha": self.alpha, "unmatched": self.unmatched}

    def plot(self, ax=None):
        """Heat map of the confusion table (:func:`churnlab.plots.feedback.plot_exit_confusion`)."""
        from churnlab.plots.feedback import plot_exit_confusion

        return plot_exit_confusion(self.confusion, ax=ax)


def cohen_kappa(confusion: pd.DataFrame) -> float:
    """Cohen's kappa of a square confusion table of counts.

    Notes
    -----
    ``kappa = (p_o - p_e) / (1 - p_e)`` with ``p_o`` the diagonal share and ``p_e = sum_k r_k c_k``
    the agreement expected from the row and column shares.

    References
    ----------
    .. [1] Cohen, J. (1960) A coefficient of agreement for nominal scales. Educational and
       Psychological Measurement 20, 37-46.

    Examples
    --------
    >>> round(cohen_kappa(pd.DataFrame([[20, 5], [10, 15]])), 2)
    0.4
    """
    m = confusion.to_numpy(dtype=float)
    total = m.sum()
    p_o = np.trace(m) / total
    p_e = float((m.sum(axis=1) / total) @ (m.sum(axis=0) / total))
    return float((p_o - p_e) / (1.0 - p_e)) if p_e < 1 else np.nan


def exit_agreement(dataset: Dataset, cutoff, *, since=None, tolerance_days: float = 30.0,
                   alpha: float = 0.05) -> ExitComparison:
    """Compare stated exit reasons with the churn reason recorded on the subscription that ended.

    Each exit answer is matched to the same customer's spell end (:func:`churnlab.metrics.customer_spells`)
    nearest in time within ``tolerance_days``.

    Parameters
    ----------
    dataset : Dataset
        Needs ``surveys`` (kind ``exit`` with ``reason``) and ``subscriptions`` (``churn_reason``).
    cutoff : timestamp
        Answers and churns at or after it are not read.
    since : timestamp, optional
        Only answers from then on.
    tolerance_days : float
        Largest gap between the churn and the answer.
    alpha : float
        Interval level.

    Returns
    -------
    ExitComparison
        The confusion table, agreement per recorded reason and overall, Cohen's kappa.

    Raises
    ------
    AnalysisError
        When no exit answer matches a recorded churn with a reason.
    """
    s = _exits(dataset, cutoff, since)
    dataset.require("subscriptions", by="exit_agreement")
    spells = customer_spells(dataset["subscriptions"], cutoff)
    ended = spells[spells["end_at"].notna() & spells["churn_reason"].notna()]
    left = s[[C.CUSTOMER_ID, "answered_at", "reason"]].assign(
        **{C.CUSTOMER_ID: s[C.CUSTOMER_ID].astype(str), "answered_at": s["answered_at"].astype("datetime64[ns]")})
    right = ended[[C.CUSTOMER_ID, "end_at", "churn_reason"]].assign(
        **{C.CUSTOMER_ID: ended[C.CUSTOMER_ID].astype(str), "end_at": ended["end_at"].astype("datetime64[ns]")})
    m = pd.merge_asof(left.sort_values("answered_at"), right.sort_values("end_at"), left_on="answered_at",
                      right_on="end_at", by=C.CUSTOMER_ID, direction="nearest",
                      tolerance=pd.Timedelta(days=tolerance_days))
    matched = m.dropna(subset=["churn_reason"])
    if matched.empty:
        raise AnalysisError("exit_agreement: no exit answer lies within "
                            f"{tolerance_days:g} days of a recorded churn with a reason")
    rec, stated = matched["churn_reason"].astype(str), matched["reason"].astype(str)
    labels = [r for r in dataset.vocabulary("churn_reasons") if r in set(rec) | set(stated)]
    labels += sorted((set(rec) | set(stated)) - set(labels))
    confusion = pd.crosstab(rec, stated).reindex(index=labels, columns=labels, fill_value=0)
    confusion.index.name, confusion.columns.name = "churn_reason", "stated_reason"
    agree = rec == stated
    per = agree.groupby(rec).agg(["size", "sum"]).reindex(labels).dropna()
    ci = rate_with_ci(per["sum"], per["size"], alpha)
    by_reason = pd.DataFrame({"churn_reason": per.index, "n": ci["n"].to_numpy(), "agree": ci["successes"].to_numpy(),
                              "rate": ci["rate"].to_numpy(), "ci_lower": ci["ci_lower"].to_numpy(),
                              "ci_upper": ci["ci_upper"].to_numpy()})
    n, k = len(matched), int(agree.sum())
    lo, hi = wilson_interval(k, n, alpha)
    return ExitComparison(confusion=confusion, by_reason=by_reason, n=n, agree=k, agreement=k / n,
                          ci_lower=float(lo), ci_upper=float(hi), kappa=cohen_kappa(confusion),
                          unmatched=int(len(m) - n), alpha=alpha)
