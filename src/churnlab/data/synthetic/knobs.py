"""The knobs of the synthetic world and the churn mechanisms it knows.

Every number that shapes the world lives in :class:`Knobs`; defaults come from
``shared/DOMAIN.md`` (average monthly churn about 5% in B2B and 7% in B2C) and from the OPINIONS
entry "Synthetic world: mechanism weights and default knobs".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import pandas as pd

from churnlab.errors import DataSourceError

__all__ = ["Knobs", "MECHANISMS", "MECHANISM_NAMES", "REASON_OF", "make_knobs", "mechanisms_table"]

# name, description, observable signal, churn reason recorded when the mechanism causes the churn
MECHANISMS: tuple[tuple[str, str, str, str], ...] = (
    ("baseline", "residual churn not tied to any behaviour (individual frailty)", "none (noise)", "other"),
    ("moved", "exogenous: the customer moves away or closes the business; no warning",
     "none: moved (exogenous), unpredictable from behaviour", "moved"),
    ("disengagement", "latent need/engagement drifts down, so sessions thin out",
     "falling activity: sessions per week vs the customer's own past; email disengagement (opens fade)", "product"),
    ("recency", "long time since the last session relative to the customer's own rhythm",
     "recency: days since last session, relative to the segment's rhythm (daily vs monthly users)", "product"),
    ("onboarding", "not activated: key onboarding actions not done within 14 days of signup",
     "funnel: no activation stage within 14 days; low usage in the first weeks", "product"),
    ("component_stop", "the customer stopped using product components they had adopted",
     "component_stop: a previously used component idle beyond 30 days", "product"),
    ("price", "price sensitivity times the fee paid",
     "plan / monthly_fee; discount promo redemption (price-sensitive customers redeem more)", "price"),
    ("late_payment", "recent late payments (financial stress)", "late_payment: late invoices in the last months",
     "price"),
    ("service", "bad support experiences: no first-contact resolution, slow resolution, low CSAT",
     "ticket_quality: tickets without FCR, long hours_to_resolve, low ticket CSAT", "service"),
    ("dissatisfaction", "latent satisfaction drifts down", "low NPS / CSAT survey scores", "other"),
    ("ui_change", "a dated interface change hurts one segment",
     "ui_change: unsubscribes and NPS drop after the change date in the hit segment", "product"),
    ("competitor", "a competitor's offer on a given date lures the price-sensitive",
     "competitor: timing (after the competitor date) among price-sensitive customers", "competitor"),
    ("account_sharing", "shared accounts (abnormally high usage) get cancelled or split",
     "account_sharing: sessions per day far above the segment norm", "other"),
)
MECHANISM_NAMES: tuple[str, ...] = tuple(m[0] for m in MECHANISMS)
REASON_OF: dict[str, str] = {m[0]: m[3] for m in MECHANISMS}


def mechanisms_table() -> pd.DataFrame:
    """One row per churn mechanism: ``mechanism, description, observable_signal, churn_reason``."""
    return pd.DataFrame(
        MECHANISMS, columns=["mechanism", "description", "observable_signal", "churn_reason"]
    ).astype("string")


@dataclass(frozen=True)
class Knobs:
    """Settings of the synthetic world; every field has a default.

    Parameters
    ----------
    monthly_churn_b2b, monthly_churn_b2c : float
        Target average monthly churn of an active customer (DOMAIN.md: about 5% B2B, 7% B2C).
        The hazard is scaled so that a world at default strengths lands near these rates.
    share_b2b : float
        Share of customers who are businesses.
    share_tenured : float
        Share of customers who signed up before ``start`` (the rest sign up during the period).
    noise : float
        Standard deviation of the log individual frailty (unobserved heterogeneity).
    exogenous_share : float
        Share of the base hazard that is exogenous (``moved``): unpredictable from behaviour.
    disengagement, recency, onboarding, component_stop, price, late_payment, service,
    dissatisfaction, ui_change, competitor, account_sharing : float
        Strength of each mechanism (1 = default weight, 0 = switched off).
    ui_change_date : str or None
        Date of the interface change (default: 40% into the period).
    ui_change_segment : {"B2B", "B2C"}
        Segment the interface change hurts.
    competitor_date : str or None
        Date of the competitor's offer (default: 70% into the period).
    reactivation_rate : float
        Share of churned customers who come back within 180 days.
    intent_days : float
        Mean days between the decision to leave and the cancellation (activity declines and
        exports rise meanwhile).
    sharer_share, dnd_share : float
        Share of accounts that are shared; share of customers with do-not-disturb.
    discount_effect : float
        Strength of a discount for the most price-sensitive customers (scaled by their price
        sensitivity): the relative fall of their price, late-payment and competitor hazards, and the
        share of those who had decided to leave that change their mind (see
        :func:`~churnlab.data.synthetic.campaign.offer_treatment`). The default 0.45 moves the 90-day
        retention of the riskiest half of a 20,000-customer world by +4.5 points on average (+5 B2C,
        +3 B2B), where retention offers usually land (OPINIONS.md "Synthetic campaigns: offer effect
        sizes"); 0.9 gave +11 points.
    bonus_effect : float
        Strength of a bonus, the same for everyone (small and broad).
    exclusive_effect : float
        Strength of exclusive content for engaged B2B customers (scaled by usual engagement; a tenth
        for B2C), on the product and satisfaction hazards.
    backlash_share, backlash_effect : float
        Share of customers who react badly to being contacted (more among do-not-disturb
        customers) and the relative hazard increase they get from any offer.
    winback_effect : float
        Win-back: a churned customer given an offer of strength k comes back at
        ``1 + winback_effect * k`` times the usual rate when the offer answers the reason they left.
    discount_cost, bonus_cost, exclusive_content_cost : float
        Cost of each offer per treated customer (currency units).
    """

    monthly_churn_b2b: float = 0.05
    monthly_churn_b2c: float = 0.07
    share_b2b: float = 0.4
    share_tenured: float = 0.5
    noise: float = 0.2
    exogenous_share: float = 0.10
    disengagement: float = 1.0
    recency: float = 1.0
    onboarding: float = 1.0
    component_stop: float = 1.0
    price: float = 1.0
    late_payment: float = 1.0
    service: float = 1.0
    dissatisfaction: float = 1.0
    ui_change: float = 1.0
    competitor: float = 1.0
    account_sharing: float = 1.0
    ui_change_date: str | None = None
    ui_change_segment: str = "B2C"
    competitor_date: str | None = None
    reactivation_rate: float = 0.15
    intent_days: float = 35.0
    sharer_share: float = 0.02
    dnd_share: float = 0.10
    discount_effect: float = 0.45
    bonus_effect: float = 0.07
    exclusive_effect: float = 0.8
    backlash_share: float = 0.03
    backlash_effect: float = 1.0
    winback_effect: float = 4.0
    discount_cost: float = 15.0
    bonus_cost: float = 5.0
    exclusive_content_cost: float = 8.0

    def strength(self, mechanism: str) -> float:
        """Strength of ``mechanism`` (``baseline`` and ``moved`` are 1)."""
        return float(getattr(self, mechanism)) if mechanism not in ("baseline", "moved") else 1.0

    def dates(self, start: pd.Timestamp, end: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
        """Return the UI-change and competitor dates, resolving the defaults against the period."""
        span = end - start
        ui = pd.Timestamp(self.ui_change_date) if self.ui_change_date else (start + 0.4 * span).normalize()
        comp = pd.Timestamp(self.competitor_date) if self.competitor_date else (start + 0.7 * span).normalize()
        return ui, comp

    def costs(self) -> dict[str, float]:
        """Cost per treated customer of each offer (``none`` costs nothing)."""
        return {"discount": self.discount_cost, "bonus": self.bonus_cost,
                "exclusive_content": self.exclusive_content_cost, "none": 0.0}

    def to_dict(self) -> dict:
        """Return the knobs as a plain dictionary (JSON-serialisable)."""
        return asdict(self)


def make_knobs(**knobs: object) -> Knobs:
    """Build :class:`Knobs` from keyword arguments, naming any unknown knob.

    Raises
    ------
    DataSourceError
        When a keyword is not a knob, or the UI-change segment is not B2B/B2C.
    """
    names = {f.name for f in fields(Knobs)}
    unknown = sorted(set(knobs) - names)
    if unknown:
        raise DataSourceError(f"synthetic world: unknown knob(s) {unknown}; knobs are {sorted(names)}")
    k = Knobs(**knobs)  # type: ignore[arg-type]
    if k.ui_change_segment not in ("B2B", "B2C"):
        raise DataSourceError(f"synthetic world: ui_change_segment must be B2B or B2C, got {k.ui_change_segment!r}")
    return k
