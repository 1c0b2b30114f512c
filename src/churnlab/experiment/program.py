"""A persistent programme holdout: a share of customers kept out of every retention offer for a period.

Each campaign has its own holdout, which measures that campaign. The programme holdout measures the whole
retention programme: a hash of (customer, programme id, salt) keeps the same customers out of every offer of
every campaign from ``start`` to ``end``, so the difference between the rest and them is the cumulative effect
of all the campaigns together (and of their interactions: fatigue, offers that cannibalise each other) on
churn and revenue over the period.

Who is measured: every customer active at ``start`` or churned in the ``reach_days`` before it (the
programme retains the first and wins back the second). The split is a hash, independent of every
campaign's split, so the comparison is a randomised experiment; its SRM gate and an audit that no holdout
customer received an offer come first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError
from churnlab.experiment.analysis import SrmResult, effect, srm_check
from churnlab.experiment.assign import HOLDOUT, hash_unit
from churnlab.experiment.checks import DEFAULT_CAP_QUANTILE
from churnlab.experiment.effects import metric_cap
from churnlab.experiment.results import Result
from churnlab.experiment.stats import moments
from churnlab.labels import active_at, churned_by, customer_spells
from churnlab.schema import Dataset, require_columns

__all__ = [
    "DEFAULT_PROGRAM_ID",
    "DEFAULT_PROGRAM_SHARE",
    "in_program_holdout",
    "PROGRAM_METRICS",
    "ProgramHoldout",
    "ProgramEffectResult",
    "program_outcomes",
    "holdout_breaches",
    "program_effect",
    "program_comparison",
    "program_waves",
    "true_program_churn_effect",
]

#: Share of customers kept out of every retention offer (OPINIONS.md, "Programme holdout").
DEFAULT_PROGRAM_SHARE = 0.05
#: The retention programme's id: the campaigns' holdout and the weekly lists' holdout are the same customers.
DEFAULT_PROGRAM_ID = "retention-programme"


def in_program_holdout(customer_ids: Iterable[object], program_id: str = DEFAULT_PROGRAM_ID,
                       share: float = DEFAULT_PROGRAM_SHARE, salt: str = "") -> np.ndarray:
    """Flag the customers of a programme's persistent holdout: the one membership rule campaigns and CRM lists use.

    Parameters
    ----------
    customer_ids : iterable
        Customer ids (compared as strings).
    program_id : str
        The programme (part of the hash; another id draws an independent holdout).
    share : float
        Share held out, strictly between 0 and 1.
    salt : str
        A new salt draws a new holdout for a new period.

    Returns
    -------
    ndarray of bool
        Aligned with ``customer_ids``: ``hash_unit(id, "program:" + program_id, salt) < share`` — it depends on the
        customer alone, never on who else is listed.

    Raises
    ------
    AnalysisError
        When the share is outside (0, 1).
    """
    if isinstance(share, bool) or not (isinstance(share, (int, float, np.floating)) and np.isfinite(share)
                                       and 0 < float(share) < 1):
        raise AnalysisError(f"programme holdout share: expected a number strictly between 0 and 1, got {share!r}")
    ids = [str(c) for c in customer_ids]
    if not ids:
        return np.zeros(0, dtype=bool)
    return hash_unit(ids, f"program:{program_id}", salt) < float(share)
#: Outcomes of the programme: churn among customers active at the start, being a customer at the end, revenue.
PROGRAM_METRICS = ("churned", "active_at_end", "revenue")
IN_PROGRAM, HELD_OUT = "program", "holdout"


@dataclass(frozen=True)
class ProgramHoldout:
    """Who the retention programme leaves alone, and for how long.

    Parameters
    ----------
    program_id : str
        Name of the programme (part of the hash; unrelated to any campaign's experiment id).
    start, end : timestamp
        The period the holdout lasts: no offer of any campaign in ``[start, end)`` may reach its customers.
    share : float
        Share of customers held out, strictly between 0 and 1 (default 5%).
    salt : str
        Salt of the hash (a new salt draws a new holdout for a new period).
    """

    program_id: str
    start: pd.Timestamp
    end: pd.Timestamp
    share: float = DEFAULT_PROGRAM_SHARE
    salt: str = ""

    def check(self) -> ProgramHoldout:
        """Return self after checking the share and the period.

        Raises
        ------
        AnalysisError
            When the share is outside (0, 1) or the period does not end after it starts.
        """
        share = self.share
        if not (isinstance(share, (int, float, np.floating)) and np.isfinite(share) and 0 < float(share) < 1):
            raise AnalysisError(f"programme holdout share: expected a number strictly between 0 and 1, got {share!r}")
        if not pd.Timestamp(self.end) > pd.Timestamp(self.start):
            raise AnalysisError(f"programme period: end {self.end} must come after start {self.start}")
        return self

    def members(self, customer_ids: Iterable[object]) -> pd.Index:
        """Return the ids among ``customer_ids`` that are in the holdout (sorted, unique).

        The hash unit of ``("program:" + program_id, salt, customer)`` below ``share``: membership depends on
        the customer alone, never on who else is listed.

        Examples
        --------
        >>> p = ProgramHoldout("retention-2025", "2025-01-01", "2025-07-01", share=0.05)
        >>> ids = [f"c{i}" for i in range(10_000)]
        >>> held = p.members(ids)
        >>> bool(abs(len(held) / 10_000 - 0.05) < 0.01)
        True
        >>> set(p.members(ids[:100])) == set(held) & set(ids[:100])  # the same customers, whoever else is listed
        True
        """
        self.check()
        ids = pd.Index(pd.unique(pd.Series(list(customer_ids), dtype=str)))
        if len(ids) == 0:
            return pd.Index([], dtype=str, name=C.CUSTOMER_ID)
        held = in_program_holdout(ids, self.program_id, self.share, self.salt)
        return pd.Index(sorted(ids[held]), name=C.CUSTOMER_ID)

    def exclude(self, audience: pd.DataFrame, customer_col: str = C.CUSTOMER_ID) -> pd.DataFrame:
        """Return ``audience`` without the holdout's customers (a copy; ``attrs["program_held_out"]`` counts them).

        Raises
        ------
        SchemaError
            When ``customer_col`` is missing.
        """
        require_columns(audience, [customer_col], table="audience")
        held = self.members(audience[customer_col])
        keep = ~audience[customer_col].astype(str).isin(held)
        out = audience[keep].reset_index(drop=True)
        out.attrs = {**audience.attrs, "program_held_out": int((~keep).sum()), "program_id": self.program_id}
        return out

    @property
    def planned(self) -> dict[str, float]:
        """Planned shares of the two groups, holdout first."""
        return {HELD_OUT: float(self.share), IN_PROGRAM: 1.0 - float(self.share)}


def program_outcomes(dataset: Dataset, program: ProgramHoldout, *, reach_days: int | None = 180,
                     ends: Sequence[object] | None = None) -> pd.DataFrame:
    """Return each customer's outcome over the programme's period (or up to each of several ends) and group.

    Parameters
    ----------
    dataset : Dataset
        Needs ``subscriptions`` and ``payments``, observed to ``program.end`` at least.
    program : ProgramHoldout
        The holdout and its period.
    reach_days : int, optional
        Customers who churned at most this many days before ``start`` are in the programme's reach (win-back);
        None for every churned customer, 0 for none.
    ends : sequence of timestamps, optional
        Measure the outcomes from ``start`` to each of these times (cumulative, e.g. month by month), each after
        ``start`` and at most ``as_of``; default ``program.end`` alone. Who is in reach and in which group depends
        on ``start`` only, so every end has the same customers.

    Returns
    -------
    DataFrame
        One row per customer in reach (and per end, in a ``period_end`` column, when ``ends`` is given):
        ``customer_id, group`` (``holdout`` / ``program``), ``active_at_start``,
        ``churned`` (1.0 when the spell running at ``start`` ended by ``end``; NaN for customers not active at
        ``start``), ``active_at_end`` (1.0 when a spell covers ``end``: kept or won back) and ``revenue`` (paid in
        ``(start, end]``).

    Raises
    ------
    AnalysisError
        When the data end before the period does, or nobody is in reach.
    """
    program.check()
    dataset.require("subscriptions", "payments", by="program_outcomes")
    start = pd.Timestamp(program.start)
    times = [pd.Timestamp(program.end)] if ends is None else [pd.Timestamp(t) for t in ends]
    for end in times:
        if pd.Timestamp(dataset.as_of) < end:
            raise AnalysisError(f"the data end at {pd.Timestamp(dataset.as_of).date()}, before the programme "
                                f"period ends ({end.date()})")
        if not end > start:
            raise AnalysisError(f"programme period: end {end.date()} must come after start {start.date()}")
    subs = dataset["subscriptions"]
    spells = customer_spells(subs)
    running = spells[active_at(spells, start)].drop_duplicates(C.CUSTOMER_ID).set_index(C.CUSTOMER_ID)
    gone = churned_by(subs, start)
    before = customer_spells(subs, start)
    last_end = before.groupby(C.CUSTOMER_ID)["end_at"].max()
    lost = gone.index[gone.to_numpy()]
    if reach_days is not None:
        lost = lost[(last_end.reindex(lost) > start - pd.Timedelta(days=reach_days)).to_numpy()]
    ids = pd.Index(sorted(set(running.index) | set(lost)), name=C.CUSTOMER_ID)
    if len(ids) == 0:
        raise AnalysisError(f"no customer is active at {start.date()} or churned shortly before: nobody in reach")
    held = set(program.members(ids))
    out = pd.DataFrame({C.CUSTOMER_ID: ids.astype(str)})
    out["group"] = np.where(out[C.CUSTOMER_ID].isin(held), HELD_OUT, IN_PROGRAM)
    out["active_at_start"] = out[C.CUSTOMER_ID].isin(running.index).to_numpy()
    spell_end = out[C.CUSTOMER_ID].map(running["end_at"])
    pay = dataset["payments"]
    pay = pay[pay["paid_at"].notna() & (pay["paid_at"] > start)]
    frames = []
    for end in times:
        part = out.copy()
        part["churned"] = np.where(part["active_at_start"], (spell_end.notna() & (spell_end <= end)).astype(float),
                                   np.nan)
        at_end = active_at(spells, end)
        part["active_at_end"] = part[C.CUSTOMER_ID].isin(spells.loc[at_end, C.CUSTOMER_ID]).astype(float).to_numpy()
        revenue = pay[pay["paid_at"] <= end].groupby(C.CUSTOMER_ID)["amount"].sum()
        part["revenue"] = part[C.CUSTOMER_ID].map(revenue).fillna(0.0).astype(float).to_numpy()
        frames.append(part if ends is None else part.assign(period_end=end))
    return frames[0] if ends is None else pd.concat(frames, ignore_index=True)


def holdout_breaches(assignments: pd.DataFrame, program: ProgramHoldout, *, holdout: str = HOLDOUT) -> pd.DataFrame:
    """Return the assignments that gave an offer to a programme-holdout customer during the period.

    Parameters
    ----------
    assignments : DataFrame
        Canonical ``assignments``: ``experiment_id, customer_id, arm, assigned_at`` of every campaign.
    program : ProgramHoldout
        The holdout and its period.
    holdout : str
        Name of the campaigns' holdout arm (not an offer).

    Returns
    -------
    DataFrame
        The offending rows (empty when the holdout was respected).
    """
    require_columns(assignments, ["experiment_id", C.CUSTOMER_ID, "arm", "assigned_at"], table="assignments")
    at = pd.to_datetime(assignments["assigned_at"])
    during = (at >= pd.Timestamp(program.start)) & (at < pd.Timestamp(program.end))
    offered = during & (assignments["arm"].astype(str) != holdout)
    held = set(program.members(assignments.loc[offered, C.CUSTOMER_ID]))
    return assignments[offered & assignments[C.CUSTOMER_ID].astype(str).isin(held)].reset_index(drop=True)


@dataclass(frozen=True, repr=False)
class ProgramEffectResult(Result):
    """The retention programme's cumulative effect over its period: everyone else against the persistent holdout.

    Attributes
    ----------
    program : ProgramHoldout
        The holdout and its period.
    effects : tuple of EffectResult
        One per metric of :data:`PROGRAM_METRICS`: ``program - holdout``, absolute.
    srm : SrmResult
        The gate on the holdout's share.
    n_campaigns : int
        Experiments in the assignments during the period (0 when none were given).
    share_offered : float
        Share of the programme group that received at least one offer (NaN without assignments).
    alpha : float
        Level of the intervals.
    table : DataFrame
        The per-customer outcomes (:func:`program_outcomes`).
    """

    program: ProgramHoldout
    effects: tuple
    srm: SrmResult
    n_campaigns: int = 0
    share_offered: float = float("nan")
    alpha: float = 0.05
    table: pd.DataFrame | None = None

    @property
    def summary(self) -> pd.DataFrame:
        """One row per metric: ``metric, estimate, ci_lower, ci_upper, p, n_program, n_holdout, ...``.

        ``estimate`` is the programme group's mean minus the holdout's; ``mean_program, mean_holdout`` follow.
        """
        return pd.DataFrame([{"metric": e.metric, "estimate": e.estimate, "ci_lower": e.ci_lower,
                              "ci_upper": e.ci_upper, "p": e.p, "n_program": e.n_treatment, "n_holdout": e.n_control,
                              "mean_program": e.mean_treatment, "mean_holdout": e.mean_control}
                             for e in self.effects],
                            columns=["metric", "estimate", "ci_lower", "ci_upper", "p", "n_program", "n_holdout",
                                     "mean_program", "mean_holdout"])

    def effect(self, metric: str):
        """Return the :class:`~churnlab.experiment.EffectResult` of ``metric``."""
        for e in self.effects:
            if e.metric == metric:
                return e
        raise KeyError(metric)

    def _headline(self) -> str:
        parts = [f"{e.metric} {e.estimate:+.4g} [{e.ci_lower:+.4g}, {e.ci_upper:+.4g}]" for e in self.effects]
        return f"{self.program.program_id}: " + "; ".join(parts)

    def _settings(self) -> dict[str, object]:
        p = self.program
        return {"period": f"{pd.Timestamp(p.start).date()}..{pd.Timestamp(p.end).date()}", "holdout": p.share,
                "alpha": self.alpha, "campaigns": self.n_campaigns, "test": "score (rates), Welch z on capped revenue"}

    def plot(self, ax=None):
        """Forest plot of the programme's effect on each metric, relative to the holdout's mean.

        Revenue is shown per currency unit of the holdout's mean so all metrics share one axis.
        """
        from churnlab.plots.experiment import plot_effects

        rows = self.summary.copy()
        scale = rows["mean_holdout"].where(rows["metric"] == "revenue", 1.0).replace(0, 1.0)
        for c in ("estimate", "ci_lower", "ci_upper"):
            rows[c] = rows[c] / scale
        rows["arm"] = "programme"
        rows["metric"] = np.where(rows["metric"] == "revenue", "revenue (relative)", rows["metric"])
        rows["kind"] = "absolute"
        ax = plot_effects(rows, ax=ax)
        ax.set_title(f"Programme {self.program.program_id}: everyone else vs the persistent holdout")
        return ax


def program_effect(
    dataset: Dataset,
    program: ProgramHoldout,
    *,
    assignments: pd.DataFrame | None = None,
    metrics: Sequence[str] = PROGRAM_METRICS,
    reach_days: int | None = 180,
    alpha: float = 0.05,
    srm_alpha: float = 0.001,
    cap_quantile: float | None = DEFAULT_CAP_QUANTILE,
) -> ProgramEffectResult:
    """Estimate the cumulative effect of the whole retention programme over its period, with its interval.

    Parameters
    ----------
    dataset : Dataset
        Needs ``subscriptions`` and ``payments`` observed to the period's end.
    program : ProgramHoldout
        The persistent holdout and its period.
    assignments : DataFrame, optional
        Canonical ``assignments`` of every campaign (default the dataset's table when it has one): audited for
        offers to holdout customers and counted.
    metrics : sequence of str
        Among :data:`PROGRAM_METRICS`.
    reach_days : int, optional
        See :func:`program_outcomes`.
    alpha, srm_alpha : float
        Level of the intervals and of the SRM gate.
    cap_quantile : float or None
        Pooled quantile at which revenue (any non-binary metric) is capped first, as every campaign analysis
        does (OPINIONS.md "Heavy-tailed metrics"); None for raw values.

    Returns
    -------
    ProgramEffectResult

    Raises
    ------
    SampleRatioMismatchError
        When the holdout's share contradicts the plan.
    AnalysisError
        When an assignment gave an offer to a holdout customer during the period (the holdout is broken),
        ``alpha`` is outside (0, 1), a metric is unknown, or a group has fewer than 2 customers.

    Notes
    -----
    ``estimate = mean(program) - mean(holdout)`` with the unpooled (Welch) standard error
    ``sqrt(s_p^2 / n_p + s_h^2 / n_h)`` and a normal interval; ``churned`` is measured on the customers active
    at the start, the others on everyone in reach. The estimand is the programme's average effect on the
    customers it reaches, everything it did over the period included (every campaign, re-contacts, fatigue).
    It is the same whatever the campaigns' own holdouts: a campaign holdout customer is in the programme group.
    Revenue is capped at the pooled ``cap_quantile`` of both groups before the comparison (the estimand is then
    the effect on capped revenue): with a 5% holdout a few large payers in it would otherwise swing the
    estimate and inflate false positives, as they do in a campaign's 10% holdout (benchmarks/RESULTS.md).
    The interval is a large-sample one (OPINIONS.md, "Programme holdout").

    References
    ----------
    .. [1] Kohavi R, Tang D, Xu Y (2020) Trustworthy Online Controlled Experiments, ch. 23 (long-term holdouts).
    """
    if not (np.isfinite(alpha) and 0 < alpha < 1):
        raise AnalysisError(f"alpha: expected a level strictly between 0 and 1, got {alpha!r}")
    unknown = [m for m in metrics if m not in PROGRAM_METRICS]
    if unknown:
        raise AnalysisError(f"metrics: {unknown} are not programme metrics {list(PROGRAM_METRICS)}")
    if assignments is None and "assignments" in dataset:
        assignments = dataset["assignments"]
    n_campaigns, share_offered = 0, float("nan")
    table = program_outcomes(dataset, program, reach_days=reach_days)
    if assignments is not None:
        breaches = holdout_breaches(assignments, program)
        if len(breaches):
            eg = breaches[[C.CUSTOMER_ID, "experiment_id"]].astype(str).agg(" in ".join, axis=1).head(3).tolist()
            raise AnalysisError(f"programme holdout broken: {len(breaches)} offers went to held-out customers "
                                f"during the period (e.g. {eg}); the cumulative effect cannot be measured")
        at = pd.to_datetime(assignments["assigned_at"])
        during = assignments[(at >= pd.Timestamp(program.start)) & (at < pd.Timestamp(program.end))]
        n_campaigns = int(during["experiment_id"].nunique())
        offered = set(during.loc[during["arm"].astype(str) != HOLDOUT, C.CUSTOMER_ID].astype(str))
        group = table[table["group"] == IN_PROGRAM]
        share_offered = float(group[C.CUSTOMER_ID].isin(offered).mean()) if len(group) else float("nan")
    srm, effects = program_comparison(table, program, metrics=metrics, alpha=alpha, srm_alpha=srm_alpha,
                                      cap_quantile=cap_quantile)
    return ProgramEffectResult(program, effects, srm, n_campaigns, share_offered, float(alpha), table)


def program_comparison(table: pd.DataFrame, program: ProgramHoldout, *, metrics: Sequence[str] = PROGRAM_METRICS,
                       alpha: float = 0.05, srm_alpha: float = 0.001,
                       cap_quantile: float | None = DEFAULT_CAP_QUANTILE) -> tuple[SrmResult, tuple]:
    """Compare the programme group with the holdout on per-customer outcomes: the SRM gate, then one effect per metric.

    Parameters
    ----------
    table : DataFrame
        :func:`program_outcomes` at one end: ``group`` and one column per metric (NaN rows are left out).
    program : ProgramHoldout
        Its planned shares feed the SRM gate.
    metrics, alpha, srm_alpha, cap_quantile
        See :func:`program_effect`.

    Returns
    -------
    SrmResult, tuple of EffectResult
        The gate and ``program - holdout`` per metric.

    Raises
    ------
    SampleRatioMismatchError
        When the holdout's share contradicts the plan.
    AnalysisError
        When a group has fewer than 2 customers with the metric.
    """
    srm = srm_check(table, program.planned, arm_col="group", alpha=srm_alpha).raise_if_failed()
    effects = []
    for metric in metrics:
        part = table.dropna(subset=[metric])
        cap = metric_cap(part, metric, [IN_PROGRAM, HELD_OUT], arm_col="group", quantile=cap_quantile)
        y_p = part.loc[part["group"] == IN_PROGRAM, metric].to_numpy(dtype=float)
        y_h = part.loc[part["group"] == HELD_OUT, metric].to_numpy(dtype=float)
        if cap is not None:
            y_p, y_h = np.minimum(y_p, cap), np.minimum(y_h, cap)
        if len(y_p) < 2 or len(y_h) < 2:
            raise AnalysisError(f"{metric}: the programme needs at least 2 customers in each group, got "
                                f"{len(y_p)} / {len(y_h)}")
        effects.append(effect(moments(y_p), moments(y_h), arm=IN_PROGRAM, control=HELD_OUT, metric=metric,
                              alpha=alpha, cap=cap))
    return srm, tuple(effects)


def true_program_churn_effect(effects: pd.DataFrame, outcomes: pd.DataFrame) -> float:
    """Return the programme's true effect on churn over the customers it reached (synthetic world only).

    Parameters
    ----------
    effects : DataFrame
        Per customer the programme listed: ``customer_id, retained_if_treated, retained_if_control`` (realised
        potential outcomes under what they were given and under nothing, e.g. ``CampaignTruth.effects``).
    outcomes : DataFrame
        :func:`program_outcomes`: ``customer_id, group, active_at_start``.

    Returns
    -------
    float
        ``-mean(retained_if_treated - retained_if_control)`` over the programme group's customers active at the
        start, counting 0 for those no campaign listed: the estimand of the ``churned`` effect (the average
        effect on the customers the programme reached, which the holdout comparison estimates).
    """
    require_columns(effects, [C.CUSTOMER_ID, "retained_if_treated", "retained_if_control"], table="effects")
    group = outcomes[(outcomes["group"] == IN_PROGRAM) & outcomes["active_at_start"]]
    diff = (effects["retained_if_treated"].astype(float) - effects["retained_if_control"].astype(float))
    per = pd.Series(diff.to_numpy(), index=effects[C.CUSTOMER_ID].astype(str).to_numpy())
    per = per[~per.index.duplicated()]
    return float(-group[C.CUSTOMER_ID].astype(str).map(per).fillna(0.0).mean())


def program_waves(
    ranked: Iterable[object],
    start,
    *,
    waves: int = 6,
    every_days: int = 30,
    offers: Sequence[str] = C.OFFERS,
    holdout_share: float = 0.1,
    second_tier: Iterable[object] = (),
    second_tier_offers: Sequence[str] = ("bonus",),
    winback: Iterable[object] = (),
    program: ProgramHoldout | None = None,
    program_id: str = DEFAULT_PROGRAM_ID,
    first_wave: int = 1,
    exclude: Iterable[object] = (),
) -> pd.DataFrame:
    """Plan a retention programme's campaign waves: the canonical assignments of every wave, holdout kept out.

    Parameters
    ----------
    ranked : iterable
        Customer ids, riskiest first (e.g. ``at_risk_audience(...)["customer_id"]``): dealt out in ``waves``
        consecutive slices, so wave ``w`` offers ``offers`` to the ``w``-th riskiest slice.
    start : timestamp
        The first wave's day; wave ``w`` goes out ``w * every_days`` days later.
    waves : int
        Number of waves.
    every_days : int
        Days between two waves (30: monthly).
    offers : sequence of str
        Offers of each retention wave (each wave is its own experiment with its own holdout).
    holdout_share : float
        Each wave's own holdout share.
    second_tier, second_tier_offers
        The next risk tier, dealt out over the waves the same way, each slice offered ``second_tier_offers``.
    winback : iterable
        Recently churned customers, offered ``offers`` in the first wave.
    program : ProgramHoldout, optional
        Its members get nothing from any wave (None: nobody is left out, e.g. when a simulation plays the
        holdout's world apart).
    program_id : str
        Prefix of the experiment ids: ``{program_id}-m{wave}-retention`` / ``-tier2`` / ``-winback``.
    first_wave : int
        Number of the first wave in the ids (a programme whose first campaign was planned on its own starts
        the rest at 2).
    exclude : iterable
        Customers no wave may list (e.g. those of a campaign still being measured).

    Returns
    -------
    DataFrame
        Canonical ``assignments``: ``experiment_id, customer_id, arm, assigned_at``, one row per customer of
        each wave (its holdout rows included).

    Raises
    ------
    AnalysisError
        When ``waves`` or ``every_days`` is not a positive whole number.

    Notes
    -----
    The waves are planned on what is known at ``start`` (one risk ranking dealt out riskiest first), so a
    customer gets at most one retention wave and nobody is offered twice; a re-scored list per wave would
    serve the same plan in a live programme.
    """
    from churnlab.experiment.assign import assign
    from churnlab.experiment.crm import assignments_table

    for name, v in (("waves", waves), ("every_days", every_days)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise AnalysisError(f"programme waves: {name} expected a positive whole number, got {v!r}")
    start = pd.Timestamp(start)

    busy = {str(c) for c in exclude}

    def held(ids: list[str]) -> list[str]:
        out = (set(program.members(ids)) if program is not None and ids else set()) | busy
        return [c for c in ids if c not in out]

    def slices(ids: Iterable[object]) -> list[list[str]]:
        ids = held([str(c) for c in pd.unique(pd.Series(list(ids), dtype=object).astype(str))])
        return [list(part) for part in np.array_split(np.asarray(ids, dtype=object), waves)]

    rows = []
    for kind, ids, arms in (("retention", ranked, offers), ("tier2", second_tier, second_tier_offers)):
        for w, part in enumerate(slices(ids)):
            if part:
                eid = f"{program_id}-m{first_wave + w}-{kind}"
                day = start + pd.Timedelta(days=w * every_days)
                rows.append(assignments_table(assign(part, eid, list(arms), holdout_share), eid, day))
    lost = held([str(c) for c in winback])
    if lost:
        eid = f"{program_id}-m{first_wave}-winback"
        rows.append(assignments_table(assign(lost, eid, list(offers), holdout_share), eid, start))
    if not rows:
        return pd.DataFrame(columns=["experiment_id", C.CUSTOMER_ID, "arm", "assigned_at"])
    return pd.concat(rows, ignore_index=True)
