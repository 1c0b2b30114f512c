"""The pre-registered plan of a campaign: what is tested, on whom, at which split and with what power.

A campaign has two moments weeks apart. Before anything is sent, the plan fixes the hypothesis, the primary
metric and the guardrails, the arms and the holdout share, the hash salt, the campaign date and the level of
every test, and reports the power and minimum detectable effect (MDE) at the planned audience, with planning
values (base rate, CUPED correlation) estimated from the data before the campaign. The plan is logged to
MLflow and written next to the assignments; the analysis, weeks later, reads it back and refuses to analyse
anything else (:func:`check_against_plan`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.errors import AnalysisError, DataSourceError
from churnlab.experiment.analysis import plan_power
from churnlab.experiment.assign import DEFAULT_HOLDOUT_SHARE, HOLDOUT, planned_shares
from churnlab.experiment.planning import PlanningValues, audience_for_effect, planning_values
from churnlab.experiment.results import Result

__all__ = [
    "PLAN_FILE",
    "DEFAULT_PLANNING_EFFECT",
    "PlanningValues",
    "CampaignPlan",
    "planning_values",
    "audience_for_effect",
    "make_plan",
    "save_plan",
    "load_plan",
    "check_against_plan",
    "resolve_path",
]

#: File name the plan notebook writes in its run folder (and logs to MLflow).
PLAN_FILE = "campaign_plan.json"
#: Effect the plan reports power for when the analyst gives none: +3 points of retention
#: (OPINIONS.md, "Planning effect and planning values").
DEFAULT_PLANNING_EFFECT = 0.03


@dataclass(frozen=True, repr=False)
class CampaignPlan(Result):
    """A campaign as pre-registered before anything is sent.

    Attributes
    ----------
    experiment_id : str
        Name of the experiment (part of the assignment hash).
    campaign_date : Timestamp
        Day the offers go out.
    hypothesis : str
        What the campaign is expected to do, in words.
    primary_metric : str
        The one metric the verdict rests on (``retained_<d>`` or ``reactivated``).
    guardrails : tuple of str
        Metrics that must not get worse (non-inferiority), e.g. ``revenue``.
    arms : tuple of str
        Treated arms (offers).
    holdout_share : float
        Share kept out of every offer of this campaign.
    salt : str
        Salt of the hash split.
    horizon_days : int
        Days the campaign is followed.
    alpha, srm_alpha : float
        Level of every test and of the SRM gate.
    sides : int
        Sidedness of the tests.
    n_audience : int
        Customers assigned (holdout included).
    base_rate, rho : float
        Planning values of the primary metric (holdout rate, CUPED correlation).
    effect : float
        Effect the power refers to.
    power, power_cuped, mde, mde_cuped : float
        At the planned split for one arm against the holdout.
    audience_needed : int
        Audience one arm against the holdout needs to detect ``effect`` at ``target_power`` with CUPED.
    target_power : float
        Power the MDE and ``audience_needed`` refer to.
    audience_source : str
        How the audience was chosen.
    ni_margin : float
        Non-inferiority margin of the guardrails.
    program_id : str
        Programme whose persistent holdout was removed from the audience first ("" for none).
    program_share : float
        Its share.
    program_days : int
        How long the programme holdout lasts from the campaign date.
    planning : str
        Where the planning values come from.
    offer_costs : dict of str to float
        Cost per treated customer of each offer (for ROI and the targeting policy).
    holdout : str
        Name of the holdout arm.
    extra : dict
        Anything else worth recording (JSON-ready).
    """

    experiment_id: str
    campaign_date: pd.Timestamp
    hypothesis: str
    primary_metric: str
    guardrails: tuple[str, ...]
    arms: tuple[str, ...]
    holdout_share: float
    salt: str
    horizon_days: int
    alpha: float
    srm_alpha: float
    sides: int
    n_audience: int
    base_rate: float
    rho: float
    effect: float
    power: float
    power_cuped: float
    mde: float
    mde_cuped: float
    audience_needed: int
    target_power: float = 0.8
    audience_source: str = ""
    ni_margin: float = 0.0
    program_id: str = ""
    program_share: float = 0.0
    program_days: int = 0
    planning: str = ""
    offer_costs: dict = field(default_factory=dict)
    holdout: str = HOLDOUT
    extra: dict = field(default_factory=dict)

    @property
    def planned_shares(self) -> dict[str, float]:
        """Planned share of every arm, holdout first (:func:`churnlab.experiment.assign.planned_shares`)."""
        return planned_shares(list(self.arms), self.holdout_share, self.holdout)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict of every field (the campaign date in ISO format)."""
        out = asdict(self)
        out["campaign_date"] = pd.Timestamp(self.campaign_date).isoformat()
        out["guardrails"], out["arms"] = list(self.guardrails), list(self.arms)
        return out

    @classmethod
    def from_dict(cls, data: Mapping) -> CampaignPlan:
        """Rebuild a plan from :meth:`to_dict`'s output.

        Raises
        ------
        DataSourceError
            When a field is missing or unknown.
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise DataSourceError(f"campaign plan: unknown field(s) {unknown}; expected {sorted(names)}")
        missing = [f.name for f in fields(cls) if _is_required(f) and f.name not in data]
        if missing:
            raise DataSourceError(f"campaign plan: missing field(s) {missing}")
        values = dict(data)
        values["campaign_date"] = pd.Timestamp(values["campaign_date"])
        values["guardrails"] = tuple(values.get("guardrails", ()))
        values["arms"] = tuple(values["arms"])
        return cls(**values)

    def log_params(self, prefix: str = "plan") -> dict[str, str]:
        """Log the plan to the current MLflow run as ``<prefix>.<field>`` parameters (before any outcome exists)."""
        from churnlab import tracking

        return tracking.log_params({f"{prefix}.{k}": v for k, v in self.to_dict().items()})

    @property
    def summary(self) -> pd.DataFrame:
        """One row per setting: ``setting, value`` (what the analysis is held to)."""
        d = self.to_dict()
        d.pop("extra", None)
        return pd.DataFrame({"setting": list(d), "value": [str(v) for v in d.values()]})

    def _headline(self) -> str:
        return (f"{self.experiment_id} on {pd.Timestamp(self.campaign_date).date()}: {self.primary_metric}, "
                f"{len(self.arms)} arms vs {self.holdout_share:.0%} holdout, n={self.n_audience:,}, "
                f"MDE {self.mde_cuped:.3f} (CUPED)")

    def _settings(self) -> dict[str, object]:
        return {"alpha": self.alpha, "sides": self.sides, "srm_alpha": self.srm_alpha, "n": self.n_audience}


def _is_required(f) -> bool:
    """Whether a dataclass field has no default."""
    return f.default is MISSING and f.default_factory is MISSING


def make_plan(
    *,
    experiment_id: str,
    campaign_date,
    hypothesis: str,
    primary_metric: str,
    arms: Sequence[str],
    n_audience: int,
    base_rate: float,
    rho: float = 0.0,
    effect: float = DEFAULT_PLANNING_EFFECT,
    holdout_share: float = DEFAULT_HOLDOUT_SHARE,
    guardrails: Sequence[str] = ("revenue",),
    salt: str = "",
    horizon_days: int = 90,
    alpha: float = 0.05,
    srm_alpha: float = 0.001,
    sides: int = 2,
    target_power: float = 0.8,
    **details,
) -> CampaignPlan:
    """Build the plan and compute its power, MDE and the audience a given effect would need.

    Parameters
    ----------
    experiment_id, campaign_date, hypothesis, primary_metric : str, timestamp, str, str
        What is tested, when, why, and on which metric.
    arms : sequence of str
        Treated arms; the treated share is split equally (:func:`planned_shares`).
    n_audience : int
        Customers to assign (holdout included).
    base_rate, rho : float
        Planning values (:func:`planning_values`).
    effect : float
        Effect to report power for.
    holdout_share, guardrails, salt, horizon_days, alpha, srm_alpha, sides, target_power
        As in :class:`CampaignPlan`.
    **details
        ``audience_source``, ``ni_margin``, ``program_id``, ``program_share``, ``program_days``, ``planning``,
        ``offer_costs`` and ``extra``.

    Returns
    -------
    CampaignPlan
        Power and MDE of the first arm against the holdout (the arms have equal shares) from
        :func:`churnlab.experiment.plan_power`: the power of the score test the analysis runs on the binary
        primary metric.

    Raises
    ------
    AnalysisError
        When the audience is empty, a share or level is out of range, or the planning values are impossible.

    Examples
    --------
    >>> p = make_plan(experiment_id="e", campaign_date="2024-12-31", hypothesis="h", primary_metric="retained_90",
    ...               arms=["discount"], n_audience=20000, base_rate=0.70, effect=0.02, rho=0.5)
    >>> round(p.power, 3), round(p.power_cuped, 3)
    (0.471, 0.585)
    """
    if not (isinstance(n_audience, (int, np.integer)) and n_audience >= 2):
        raise AnalysisError(f"n_audience: expected at least 2 customers, got {n_audience!r}")
    if not (np.isfinite(base_rate) and 0 < base_rate < 1):
        raise AnalysisError(f"base_rate: expected a rate strictly between 0 and 1, got {base_rate!r}")
    if not (np.isfinite(rho) and 0 <= rho < 1):
        raise AnalysisError(f"rho: expected a correlation in [0, 1), got {rho!r}")
    if not (np.isfinite(alpha) and 0 < alpha < 1) or not (np.isfinite(srm_alpha) and 0 < srm_alpha < 1):
        raise AnalysisError(f"alpha / srm_alpha: expected levels strictly between 0 and 1, got {alpha!r} / "
                            f"{srm_alpha!r}")
    if not (primary_metric == "reactivated" or str(primary_metric).startswith("retained_")):
        raise AnalysisError(f"primary_metric: expected retained_<days> or reactivated, got {primary_metric!r}")
    shares = planned_shares(list(arms), float(holdout_share))
    first = list(arms)[0]
    pair = shares[first] + shares[HOLDOUT]
    n_pair = int(round(n_audience * pair))
    power = plan_power(max(n_pair, 2), shares[first] / pair, float(base_rate), float(effect), rho=float(rho),
                       alpha=float(alpha), target_power=float(target_power), sides=int(sides))
    needed = audience_for_effect(float(effect), float(base_rate), shares[first], shares[HOLDOUT], rho=float(rho),
                                 alpha=float(alpha), target_power=float(target_power), sides=int(sides))
    return CampaignPlan(
        experiment_id=str(experiment_id), campaign_date=pd.Timestamp(campaign_date), hypothesis=str(hypothesis),
        primary_metric=str(primary_metric), guardrails=tuple(guardrails), arms=tuple(arms),
        holdout_share=float(holdout_share), salt=str(salt), horizon_days=int(horizon_days), alpha=float(alpha),
        srm_alpha=float(srm_alpha), sides=int(sides), n_audience=int(n_audience), base_rate=float(base_rate),
        rho=float(rho), effect=float(effect), power=float(power.power), power_cuped=float(power.power_cuped),
        mde=float(power.mde), mde_cuped=float(power.mde_cuped), audience_needed=int(needed),
        target_power=float(target_power), **details,
    )


def resolve_path(path: str | Path) -> Path:
    """Return ``path`` when it exists as given, else the same relative path under the project root.

    A run folder's own files (the working directory of a notebook under ``churnlab run``) come first, then the
    project's committed ones (:func:`churnlab.config.project_root`).

    Raises
    ------
    DataSourceError
        When neither exists.
    """
    p = Path(path).expanduser()
    if p.exists():
        return p
    under_root = C.project_root() / p
    if not p.is_absolute() and under_root.exists():
        return under_root
    raise DataSourceError(f"{path}: file not found (looked in {Path.cwd()} and {C.project_root()})")


def save_plan(plan: CampaignPlan, path: str | Path = PLAN_FILE) -> Path:
    """Write the plan as JSON (folders are created) and return the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(plan.to_dict(), indent=2, default=str), encoding="utf-8")
    return p


def load_plan(path: str | Path = PLAN_FILE) -> CampaignPlan:
    """Read a plan written by :func:`save_plan` (path resolved by :func:`resolve_path`).

    Raises
    ------
    DataSourceError
        When the file is missing, not JSON, or not a plan.
    """
    p = resolve_path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataSourceError(f"{p}: not a JSON campaign plan ({type(exc).__name__})") from exc
    if not isinstance(data, dict):
        raise DataSourceError(f"{p}: expected a JSON object with the plan's fields")
    return CampaignPlan.from_dict(data)


def check_against_plan(
    plan: CampaignPlan,
    assignments: pd.DataFrame,
    *,
    metric: str,
    alpha: float,
    experiment_id: str | None = None,
    campaign_date=None,
) -> dict[str, object]:
    """Check that what is about to be analysed is what was pre-registered, and say so.

    Parameters
    ----------
    plan : CampaignPlan
        The plan logged before the campaign.
    assignments : DataFrame
        ``customer_id, arm`` (canonical ``assignments`` rows of this experiment).
    metric : str
        The primary metric the analysis will report.
    alpha : float
        The level the analysis will use.
    experiment_id : str, optional
        The experiment the assignments belong to (default the plan's).
    campaign_date : timestamp, optional
        The campaign date the analysis will use (default the plan's).

    Returns
    -------
    dict
        ``experiment_id, primary_metric, alpha, arms, planned_shares, campaign_date`` as checked.

    Raises
    ------
    AnalysisError
        Naming the first difference: another experiment, metric, level, date, or arms that are not the plan's.
    """
    if experiment_id is not None and experiment_id != plan.experiment_id:
        raise AnalysisError(f"experiment_id: the plan is for {plan.experiment_id!r}, the analysis for "
                            f"{experiment_id!r}")
    if metric != plan.primary_metric:
        raise AnalysisError(f"primary metric: pre-registered {plan.primary_metric!r}, analysis asks for {metric!r}; "
                            "report other metrics as secondary")
    if not np.isclose(float(alpha), plan.alpha):
        raise AnalysisError(f"alpha: pre-registered {plan.alpha}, analysis asks for {alpha}")
    if campaign_date is not None and pd.Timestamp(campaign_date) != pd.Timestamp(plan.campaign_date):
        raise AnalysisError(f"campaign date: pre-registered {pd.Timestamp(plan.campaign_date).date()}, analysis uses "
                            f"{pd.Timestamp(campaign_date).date()}")
    if "arm" not in assignments.columns:
        raise AnalysisError("assignments.arm: missing column; the assignments need the arm of every customer")
    arms = set(pd.unique(assignments["arm"].dropna().astype(str)))
    planned = set(plan.planned_shares)
    if arms - planned:
        raise AnalysisError(f"assignments.arm: arms {sorted(arms - planned)} are not in the plan {sorted(planned)}")
    return {"experiment_id": plan.experiment_id, "primary_metric": plan.primary_metric, "alpha": plan.alpha,
            "arms": list(plan.arms), "planned_shares": plan.planned_shares,
            "campaign_date": pd.Timestamp(plan.campaign_date)}
