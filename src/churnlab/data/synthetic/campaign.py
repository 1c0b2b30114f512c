"""Retention and win-back campaigns in the synthetic world: it takes a planned assignment and plays the weeks after.

The world is one data source among others: a plan made on its tables (assignments of customers to offers and
holdouts, as a CRM would receive them) goes into :func:`run_campaign`, which continues the world from its end
for the campaign's horizon and returns the tables that follow (with the ``assignments`` table a CRM keeps)
and the truth: what each offer really did to each customer. Offers may start on later days of the horizon
(waves of a retention programme); an offer stays in force to the end of the horizon and a later offer to the
same customer replaces it.

An offer has a strength ``k_i`` for each customer (see :func:`offer_treatment`):

- ``discount``: ``discount_effect * s_i`` with ``s_i = min(price_sensitivity_i / 1.5, 1)``; it lowers
  the price, late-payment and competitor hazards: it helps the price-sensitive;
- ``exclusive_content``: ``exclusive_effect * e_i`` with ``e_i = sigmoid(2 mu_i)`` (usual engagement)
  for B2B and a tenth of that for B2C; it lowers the product and satisfaction hazards: it helps
  engaged B2B customers;
- ``bonus``: ``bonus_effect`` for everyone, on every behavioural hazard: small and broad;
- any offer: customers who react badly to being contacted (``backlash_share``, three times more
  among do-not-disturb customers) see every behavioural hazard rise by ``backlash_effect``.

While the offer is in force, a customer who has already decided to leave changes their mind with a
share ``k_i`` (before cancelling), and a customer who has already churned comes back at
``1 + winback_effect * k_i`` times the usual rate when the offer answers the reason they left
(win-back). Both potential outcomes of every customer come from the same random numbers (see
:mod:`.world`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.data.synthetic.knobs import MECHANISM_NAMES as MECH_NAMES
from churnlab.data.synthetic.knobs import REASON_OF
from churnlab.data.synthetic.spec import CAMPAIGN, CHUNK_SIZE, EXPAND
from churnlab.data.synthetic.tables import chunk_records, customer_ids, records_to_frames
from churnlab.data.synthetic.truth import Truth, monte_carlo_churn
from churnlab.data.synthetic.world import MECH_INDEX, Recorder, Treatment, reactivation_rate, simulate, take_state
from churnlab.errors import AnalysisError, SchemaError
from churnlab.schema import Dataset, require_columns

__all__ = ["CampaignTruth", "run_campaign", "offer_treatment", "ARMS"]

ARMS = ("none", *C.OFFERS)
PRICE_MECHS = ("price", "late_payment", "competitor")
PRODUCT_MECHS = ("disengagement", "recency", "component_stop", "onboarding", "dissatisfaction", "ui_change")
WINBACK_OFF_REASON = 0.3  # win-back strength of an offer that does not answer the reason the customer left


@dataclass(frozen=True)
class CampaignTruth:
    """What a campaign really did.

    Parameters
    ----------
    effects : DataFrame
        One row per listed customer: ``customer_id, offer`` (as assigned), ``retained_if_treated,
        retained_if_control`` (realised potential outcomes over the horizon, common random numbers;
        equal for ``none``), ``p_retain_treated, p_retain_control`` (their probabilities).
    effects_by_offer : DataFrame
        One row per listed customer and offer of ``config.OFFERS`` with the same columns plus
        ``assigned`` (whether this is the offer they got): the true uplift of every offer.
    average_effect : DataFrame
        One row per offer: ``offer, ate, ate_prob`` (mean over all listed customers of the realised and
        the probability difference in retention), ``n_assigned`` and ``ate_assigned`` (among those
        who got it).
    costs : dict of str to float
        Cost per treated customer of each offer.
    campaign_date : Timestamp
    horizon_days : int
    reactivation : DataFrame
        Win-back: one row per listed customer who had churned by the campaign date and per offer of
        ``config.OFFERS``: ``customer_id, offer, assigned, churn_reason, reactivated_if_treated,
        reactivated_if_control`` (a new subscription within the horizon, common random numbers) and
        ``p_reactivate_treated, p_reactivate_control`` (exact probabilities).
    reactivation_effect : DataFrame
        One row per offer: ``offer, n_churned, p_reactivate_control, p_reactivate_treated, effect``
        (means over all listed churned customers), ``n_assigned`` and ``effect_assigned``.
    programme : DataFrame
        One row per listed customer over the whole continuation (``programme_days``, which may outlast the
        truth's ``horizon_days``): ``customer_id, offer`` (in force at the end), ``retained_if_treated`` (no
        cancellation under every planned offer of every wave) and ``retained_if_control`` (without any offer),
        common random numbers: the truth of a programme of many campaigns.
    programme_days : int
        Days the world played after the campaign date.
    """

    effects: pd.DataFrame
    effects_by_offer: pd.DataFrame
    average_effect: pd.DataFrame
    costs: dict
    campaign_date: pd.Timestamp
    horizon_days: int
    reactivation: pd.DataFrame = field(default_factory=pd.DataFrame)
    reactivation_effect: pd.DataFrame = field(default_factory=pd.DataFrame)
    programme: pd.DataFrame = field(default_factory=pd.DataFrame)
    programme_days: int = 0

    def __repr__(self) -> str:
        ate = ", ".join(f"{r.offer}={r.ate_prob:+.3f}" for r in self.average_effect.itertuples())
        return (
            f"CampaignTruth({len(self.effects):,} customers, {self.campaign_date.date()} + {self.horizon_days} d, "
            f"true effect on retention: {ate})"
        )


def offer_treatment(st: dict, offer_code: np.ndarray, knobs) -> Treatment:
    """Effects of the offers given to the customers of ``st``: hazard multipliers, persuasion, win-back.

    Parameters
    ----------
    st : dict of ndarray
        Customers' state at the campaign date.
    offer_code : ndarray of int
        Per customer, index into :data:`ARMS` (0 = none).
    knobs : Knobs
        Effect sizes (``discount_effect``, ``bonus_effect``, ``exclusive_effect``, ``backlash_*``,
        ``winback_effect``).

    Returns
    -------
    Treatment
        ``mult`` of shape (mechanisms, customers), ``treated`` flags, ``save`` (extra daily chance that a
        customer who decided to leave changes their mind) and ``react`` (multiplier of a churned
        customer's daily chance to come back).

    Notes
    -----
    Each offer has a strength ``k_i`` for customer ``i``: ``discount_effect * s_i`` with
    ``s_i = min(price_sensitivity_i / 1.5, 1)``; ``exclusive_effect * e_i`` with ``e_i = sigmoid(2 mu_i)``
    for B2B and a tenth of that for B2C (``mu_i``: the customer's usual engagement); ``bonus_effect``
    for everyone. ``k_i`` is (1) the relative fall of the hazard components the offer addresses (price,
    late payment and competitor for a discount; product and satisfaction ones for exclusive content;
    every behavioural one for a bonus), (2) about the share of customers who had decided to leave and change
    their mind before cancelling (extra daily rate ``k / (1 - k) / intent_days``; more when the offer also
    slows cancelling, less with the usual abandonment ignored), and (3) through
    ``1 + winback_effect * k_i * affinity`` the rise of a churned customer's chance to come back, with
    affinity 1 when the offer answers the reason they left (discount: price or competitor; exclusive
    content: product or satisfaction; bonus: any), 0.3 otherwise and 0 for customers who moved away.
    Customers who react badly to being contacted (``backlash``) get every behavioural hazard raised by
    ``backlash_effect``, are not persuaded and come back less.
    """
    n = offer_code.size
    mult = np.ones((len(MECH_INDEX), n))
    offer = np.asarray(ARMS, dtype=object)[offer_code]
    behavioural = [i for m, i in MECH_INDEX.items() if m != "moved"]
    s = np.minimum(st["ps"] / 1.5, 1.0)
    e = 1.0 / (1.0 + np.exp(-2.0 * st["mu"])) * np.where(st["b2b"], 1.0, 0.1)
    d, x, b = offer == "discount", offer == "exclusive_content", offer == "bonus"
    k = np.zeros(n)
    k[d] = knobs.discount_effect * s[d]
    k[x] = knobs.exclusive_effect * e[x]
    k[b] = knobs.bonus_effect
    k = np.clip(k, 0.0, 0.95)
    for m in PRICE_MECHS:
        mult[MECH_INDEX[m], d] *= 1.0 - k[d]
    for m in PRODUCT_MECHS:
        mult[MECH_INDEX[m], x] *= 1.0 - k[x]
    mult[np.ix_(behavioural, np.flatnonzero(b))] *= 1.0 - k[b]
    treated = offer_code > 0
    bad = treated & st["backlash"]
    mult[np.ix_(behavioural, np.flatnonzero(bad))] *= 1.0 + knobs.backlash_effect
    save = np.where(bad, 0.0, k / (1.0 - k) / knobs.intent_days)
    mech = np.asarray(MECH_NAMES, dtype=object)[np.maximum(st["churn_mech"], 0)]
    answers = np.where(d, np.isin(mech, PRICE_MECHS), np.where(x, np.isin(mech, PRODUCT_MECHS), b))
    affinity = np.where(answers, 1.0, WINBACK_OFF_REASON) * (mech != "moved")
    react = np.where(bad, 1.0 / (1.0 + knobs.backlash_effect), 1.0 + knobs.winback_effect * k * affinity)
    return Treatment(mult=np.clip(mult, 0.0, None), treated=treated, save=np.where(treated, save, 0.0),
                     react=np.where(treated, react, 1.0))


def _planned_rows(plan: pd.DataFrame, width: int, n_customers: int, date: pd.Timestamp, horizon: int
                  ) -> pd.DataFrame:
    """Check a planned assignment and return one row per assignment: gid, code, start day offset, ids."""
    table = "assignment" if "arm" in plan.columns else "offers"
    col = "arm" if "arm" in plan.columns else "offer"
    require_columns(plan, [C.CUSTOMER_ID, col], table=table)
    o = pd.DataFrame({C.CUSTOMER_ID: plan[C.CUSTOMER_ID].astype(str).to_numpy(),
                      "offer": plan[col].astype(object).where(plan[col].notna(), "none").astype(str).to_numpy()})
    o["offer"] = o["offer"].replace({"holdout": "none", "control": "none"})
    o["experiment_id"] = plan["experiment_id"].astype(str).to_numpy() if "experiment_id" in plan.columns else ""
    bad = ~o["offer"].isin(ARMS)
    if bad.any():
        found = o.loc[bad, "offer"].iloc[0]
        raise SchemaError(f"{table}.{col}: expected one of {list(ARMS)} or holdout; found {found!r}")
    dup = o.duplicated([C.CUSTOMER_ID, "experiment_id"])
    if dup.any():
        what = "one row per customer" if table == "offers" else "one row per experiment and customer"
        raise SchemaError(f"{table}.customer_id: expected {what}; {o.loc[dup, C.CUSTOMER_ID].iloc[0]} repeats")
    ids = o[C.CUSTOMER_ID]
    ok = ids.str.fullmatch(rf"c\d{{{width}}}")
    gid = pd.to_numeric(ids.str[1:].where(ok), errors="coerce")
    unknown = gid.isna() | (gid >= n_customers)
    if unknown.any():
        raise SchemaError(f"{table}.customer_id: {ids[unknown].iloc[0]!r} is not a customer of this world")
    o["gid"] = gid.to_numpy(np.int64)
    o["code"] = o["offer"].map({a: i for i, a in enumerate(ARMS)}).to_numpy(np.int64)
    if "assigned_at" in plan.columns:
        at = pd.to_datetime(plan["assigned_at"]).to_numpy()
        o["assigned_at"] = at
        day = ((pd.Series(at) - date.normalize()).dt.days).to_numpy()
        late = pd.isna(at) | (day < 0) | (day >= horizon)
        if late.any():
            raise SchemaError(f"{table}.assigned_at: expected a time in the campaign's horizon [{date.date()}, "
                              f"{(date + pd.Timedelta(days=horizon - 1)).date()}]; found {at[late][0]}")
        o["start"] = day.astype(np.int64)
    else:
        o["assigned_at"] = date
        o["start"] = 0
    return o


def _codes_in_force(rows: pd.DataFrame, listed: np.ndarray, t: int) -> np.ndarray:
    """Per listed customer (global ids ``listed``), the offer code in force on day offset ``t``.

    The latest treated assignment started by ``t`` wins; holdout rows never cancel an earlier offer.
    """
    on = rows[(rows["start"] <= t) & (rows["code"] > 0)].sort_values(["start"], kind="stable")
    latest = on.groupby("gid")["code"].last()
    return pd.Series(listed).map(latest).fillna(0).to_numpy(np.int64)


def run_campaign(
    dataset: Dataset,
    truth: Truth,
    assignment: pd.DataFrame,
    campaign_date=None,
    horizon_days: int = 90,
    seed: int = 0,
    n_sims: int = 30,
    truth_days: int | None = None,
) -> tuple[Dataset, CampaignTruth]:
    """Play the weeks after a planned campaign: give the planned offers and continue the world for ``horizon_days``.

    Parameters
    ----------
    dataset : Dataset
        The world's tables as generated (``as_of`` = the world's end = the campaign date).
    truth : Truth
        Its truth (from :func:`generate` or :func:`load_world`).
    assignment : DataFrame
        The planned assignment, as the plan notebook writes it: ``customer_id, arm`` with arm in
        ``config.OFFERS`` or ``none``/``holdout`` and optionally ``experiment_id`` (several experiments may
        list the same customer, one row each) and ``assigned_at`` (the day the offer goes out, within the
        horizon; default the campaign date). The older form ``customer_id, offer`` (one row per customer)
        is read the same way. Customers not listed get nothing.
    campaign_date : str or Timestamp, optional
        Must be the world's end (the default).
    horizon_days : int
        Days the world runs on; retention is "no cancellation in the horizon".
    seed : int
        Seed of the continuation and of the Monte Carlo.
    n_sims : int
        Monte Carlo paths per customer for ``p_retain_*``.
    truth_days : int, optional
        Days over which the per-offer truth (``effects``, ``effects_by_offer``, ``average_effect``, win-back) is
        measured, between 1 and ``horizon_days`` (default the horizon): a campaign's own horizon inside a longer
        programme. Offers dated from ``truth_days`` on do not enter it; ``CampaignTruth.programme`` covers the
        whole horizon.

    Returns
    -------
    Dataset
        The tables extended to ``as_of = campaign_date + horizon_days`` (each offer appears as a promo
        message on its day; cancellations close subscriptions; returns open new ones). When the assignment
        names its experiments, it is added as the canonical ``assignments`` table (``experiment_id,
        customer_id, arm, assigned_at``), as the CRM would keep it.
    CampaignTruth
        Potential outcomes, true average effects and costs; for listed customers who had already
        churned, potential reactivations and the true win-back effect of each offer.

    Raises
    ------
    AnalysisError
        When the campaign date is not the world's end or the dataset is not the truth's world.
    SchemaError
        When the assignment lacks a column, names an unknown offer or customer, repeats a customer within an
        experiment, or dates an offer outside the horizon.

    Notes
    -----
    ``effects`` describes what happened: ``retained_if_treated`` is each customer's realised retention under
    the offers they were actually given (on their days), ``retained_if_control`` without any offer (common
    random numbers); ``p_retain_treated`` is the Monte Carlo probability for customers whose offer starts on
    the campaign date and NaN for later waves. ``effects_by_offer``, ``average_effect`` and the win-back truth
    answer "what if every listed customer got offer k on the campaign date".

    The continuation is simulated once per arm (control and each offer) over all customers with the
    same random streams, so each customer's outcomes differ only through the offer (common random
    numbers). ``ate`` for offer k is ``mean_i(retained_i(k) - retained_i(none))`` over all listed
    customers; ``ate_prob`` the same with probabilities, computed by :func:`.truth.monte_carlo_churn`.
    Listing churned customers makes a win-back campaign: their retention outcomes are 0 under every
    offer and their reactivation (a new subscription within the horizon) is recorded instead, with its
    exact probability (a churned customer's daily chance to return is constant over the horizon).
    """
    spec = truth.spec
    date = pd.Timestamp(campaign_date) if campaign_date is not None else spec.end
    if date.normalize() != spec.end or dataset.as_of != spec.end:
        raise AnalysisError(
            f"campaign date {date.date()}: campaigns start at the world's end {spec.end.date()} (and on the "
            f"dataset as generated, as_of {dataset.as_of.date()}); generate a world that ends on the campaign date"
        )
    if horizon_days < 1:
        raise AnalysisError(f"horizon_days must be positive, got {horizon_days}")
    day, H = spec.n_days, int(horizon_days)
    T = H if truth_days is None else truth_days
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or not 1 <= T <= H:
        raise AnalysisError(f"truth_days: expected a whole number of days from 1 to horizon_days={H}, got {T!r}")
    T = int(T)
    rows = _planned_rows(assignment, spec.id_width, spec.n_customers, date, H)
    # one entry per listed customer: the offer in force at the end of the truth's window (what the customer got),
    # and whether it all started on the campaign date (then the per-offer truth and its probabilities describe
    # what happened); the programme's truth runs to the end of the horizon
    firsts = rows.drop_duplicates("gid")
    gid = firsts["gid"].to_numpy(np.int64)
    window = rows[rows["start"] < T]
    code = _codes_in_force(window, gid, T)
    code_end = _codes_in_force(rows, gid, H)
    on = window[window["code"] > 0].sort_values("start", kind="stable")
    day0 = pd.Series(gid).map(on.groupby("gid")["start"].last()).fillna(0).to_numpy() == 0
    starts = sorted((set(rows["start"].tolist()) | {0, T}) - {H})
    env = spec.env()
    new_as_of = spec.end + pd.Timedelta(days=H)
    retained = {a: np.zeros(gid.size, bool) for a in ARMS}
    p_retain = {a: np.zeros(gid.size) for a in ARMS}
    back = {a: np.zeros(gid.size, bool) for a in ARMS}
    p_back = {a: np.zeros(gid.size) for a in ARMS}
    realised = np.zeros(gid.size, bool)
    realised_end = np.zeros(gid.size, bool)
    retained_end = np.zeros(gid.size, bool)
    churned = np.zeros(gid.size, bool)
    reason = np.full(gid.size, "", dtype=object)
    records = []
    for c in range(spec.n_chunks):
        lo = c * CHUNK_SIZE
        mine = np.flatnonzero((gid >= lo) & (gid < lo + CHUNK_SIZE))
        st0 = truth.chunk_state(c, day)
        n = st0["gid"].size
        # realised world: the planned offers from their days on, recorded (a churn in the horizon sets churn_day)
        st = take_state(st0, np.arange(n))
        rec = Recorder(n, day, H)
        rng = spec.rng(c, CAMPAIGN, seed)
        for a_, b_ in zip(starts, [*starts[1:], H]):
            assigned = np.zeros(n, np.int64)
            assigned[gid[mine] - lo] = _codes_in_force(rows, gid[mine], a_)
            treat = offer_treatment(st0, assigned, spec.knobs) if (assigned > 0).any() else None
            simulate(st, day + a_, day + b_, rng, env, rec, treat)
            if b_ == T:  # the end of the truth's window: retention so far (churn_day keeps the latest churn)
                realised[mine] = ~(st["churn_day"][gid[mine] - lo] >= day) & st0["alive"][gid[mine] - lo]
        records.append(chunk_records(st, rec, spec.start, new_as_of, spec.rng(c, EXPAND, seed + 1)))
        listed = gid[mine] - lo
        realised_end[mine] = ~(st["churn_day"][listed] >= day) & st0["alive"][listed]
        sent = rows[rows["gid"].isin(gid[mine]) & (rows["code"] > 0)]
        records[-1]["campaign"] = {"gid": sent["gid"].to_numpy(np.int64), "code": sent["code"].to_numpy(np.int64),
                                   "start": sent["start"].to_numpy(np.int64),
                                   "eng": st0["eng"][sent["gid"].to_numpy(np.int64) - lo]}
        # every arm for the listed customers: realised outcome and probability, common random numbers
        sub0 = take_state(st0, listed)
        lost = ~sub0["alive"] & (sub0["sub_no"] >= 1)
        churned[mine] = lost
        reason[mine] = np.where(lost, [REASON_OF[MECH_NAMES[m]] for m in np.maximum(sub0["churn_mech"], 0)], "")
        # days of the horizon on which a churned customer may come back (a week after leaving)
        eligible = np.clip(day + T - np.maximum(day, sub0["churn_day"] + 7), 0, T)
        for a, arm in enumerate(ARMS):
            arm_codes = np.zeros(n, np.int64)
            arm_codes[listed] = a
            st = take_state(st0, np.arange(n))
            rng = spec.rng(c, CAMPAIGN, seed)
            simulate(st, day, day + T, rng, env, None, offer_treatment(st0, arm_codes, spec.knobs) if a else None)
            retained[arm][mine] = ~(st["churn_day"][listed] >= day) & st0["alive"][listed]
            back[arm][mine] = lost & (st["sub_no"][listed] > sub0["sub_no"])
            if not a:  # without any offer to the end of the horizon: the programme's counterfactual
                simulate(st, day + T, day + H, rng, env, None, None)
                retained_end[mine] = ~(st["churn_day"][listed] >= day) & st0["alive"][listed]
            tr = offer_treatment(sub0, np.full(listed.size, a, np.int64), spec.knobs) if a else None
            p = monte_carlo_churn(sub0, day, T, n_sims, env, lambda b, c=c: spec.rng(c, CAMPAIGN, seed, 1, b), tr)
            p_retain[arm][mine] = np.where(sub0["alive"], 1.0 - p, 0.0)
            # a churned customer's daily chance to return is constant over the horizon: exact probability
            p_back[arm][mine] = np.where(lost, -np.expm1(eligible * np.log1p(-reactivation_rate(sub0, env, tr))), 0.0)
    extended = _extend(dataset, records, spec, new_as_of, date, rows if "experiment_id" in assignment else None)
    truth_ = _campaign_truth(gid, code, retained, p_retain, spec, date, T, realised, day0)
    react, react_effect = _reactivation_truth(gid, code, churned, reason, back, p_back, spec)
    programme = pd.DataFrame({C.CUSTOMER_ID: customer_ids(gid, spec.id_width),
                              "offer": pd.Series(np.asarray(ARMS, dtype=object)[code_end], dtype="string"),
                              "retained_if_treated": realised_end, "retained_if_control": retained_end})
    return extended, dataclasses.replace(truth_, reactivation=react, reactivation_effect=react_effect,
                                         programme=programme, programme_days=H)


def _reactivation_truth(gid, code, churned, reason, back, p_back, spec) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Win-back truth: potential reactivations of the listed churned customers under every offer."""
    w = spec.id_width
    arms = np.asarray(ARMS, dtype=object)
    idx = np.flatnonzero(churned)
    ids = customer_ids(gid[idx], w)
    frames, rows = [], []
    for o in C.OFFERS:
        got = arms[code[idx]] == o
        frames.append(pd.DataFrame({
            C.CUSTOMER_ID: ids, "offer": pd.Series([o] * idx.size, dtype="string"), "assigned": got,
            "churn_reason": pd.Series(reason[idx], dtype="string"),
            "reactivated_if_treated": back[o][idx], "reactivated_if_control": back["none"][idx],
            "p_reactivate_treated": p_back[o][idx], "p_reactivate_control": p_back["none"][idx],
        }))
        diff = p_back[o][idx] - p_back["none"][idx]
        rows.append({"offer": o, "n_churned": int(idx.size),
                     "p_reactivate_control": float(p_back["none"][idx].mean()) if idx.size else np.nan,
                     "p_reactivate_treated": float(p_back[o][idx].mean()) if idx.size else np.nan,
                     "effect": float(diff.mean()) if idx.size else np.nan, "n_assigned": int(got.sum()),
                     "effect_assigned": float(diff[got].mean()) if got.any() else np.nan})
    return pd.concat(frames, ignore_index=True), pd.DataFrame(rows)


def _campaign_truth(gid, code, retained, p_retain, spec, date, H, realised, day0) -> CampaignTruth:
    w = spec.id_width
    ids = customer_ids(gid, w)
    arms = np.asarray(ARMS, dtype=object)
    # what happened under the plan; for offers on the campaign date this is the per-arm outcome of the offer
    own_r = np.where(day0, np.choose(code, [retained[a] for a in ARMS]), realised)
    own_p = np.where(day0, np.choose(code, [p_retain[a] for a in ARMS]), np.nan)
    effects = pd.DataFrame(
        {
            C.CUSTOMER_ID: ids,
            "offer": pd.Series(arms[code], dtype="string"),
            "retained_if_treated": own_r,
            "retained_if_control": retained["none"],
            "p_retain_treated": own_p,
            "p_retain_control": p_retain["none"],
        }
    )
    by_offer = pd.concat(
        [
            pd.DataFrame(
                {
                    C.CUSTOMER_ID: ids,
                    "offer": pd.Series([o] * gid.size, dtype="string"),
                    "assigned": arms[code] == o,
                    "retained_if_treated": retained[o],
                    "retained_if_control": retained["none"],
                    "p_retain_treated": p_retain[o],
                    "p_retain_control": p_retain["none"],
                }
            )
            for o in C.OFFERS
        ],
        ignore_index=True,
    )
    rows = []
    for o in C.OFFERS:
        got = arms[code] == o
        diff_r = retained[o].astype(float) - retained["none"]
        diff_p = p_retain[o] - p_retain["none"]
        rows.append(
            {
                "offer": o,
                "ate": float(diff_r.mean()) if gid.size else np.nan,
                "ate_prob": float(diff_p.mean()) if gid.size else np.nan,
                "n_assigned": int(got.sum()),
                "ate_assigned": float(diff_p[got].mean()) if got.any() else np.nan,
            }
        )
    return CampaignTruth(
        effects=effects,
        effects_by_offer=by_offer,
        average_effect=pd.DataFrame(rows),
        costs=spec.knobs.costs(),
        campaign_date=date,
        horizon_days=H,
    )


def _extend(dataset: Dataset, records: list[dict], spec, new_as_of: pd.Timestamp, date: pd.Timestamp,
            rows: pd.DataFrame | None = None) -> Dataset:
    """Append the continuation's rows to the tables; close and open subscriptions; keep the assignments."""
    from churnlab.data.synthetic.tables import concat_records

    rec = concat_records(records)
    new = records_to_frames({k: v for k, v in rec.items() if k not in ("sub_starts", "sub_ends")}, spec.id_width)
    tables = {k: v for k, v in dataset.tables.items()}
    for name in ("events", "tickets", "messages", "contacts", "surveys", "payments"):
        if name not in new:
            continue
        add = new[name]
        if name in ("payments", "tickets"):
            key = "payment_id" if name == "payments" else "ticket_id"
            prefix = "pay-" if name == "payments" else "tk-"
            before = tables[name][C.CUSTOMER_ID].value_counts()
            seq = (
                add.groupby(C.CUSTOMER_ID, sort=False).cumcount()
                + 1
                + add[C.CUSTOMER_ID].map(before).fillna(0).astype(int)
            )
            add = add.assign(**{key: (prefix + add[C.CUSTOMER_ID] + "-" + seq.astype(str)).astype("string")})
        tables[name] = pd.concat([tables[name], add], ignore_index=True)
    # the offers themselves, as promo messages on the campaign date
    cp = rec["campaign"]
    treated = cp["code"] > 0
    if treated.any():
        rng = np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(10**6, CAMPAIGN)))
        u = rng.random((3, int(treated.sum())))
        opened = u[0] < 1.0 / (1.0 + np.exp(0.6 - 0.9 * cp["eng"][treated]))
        clicked = opened & (u[1] < 0.5)
        w = spec.id_width
        msg = pd.DataFrame(
            {
                C.CUSTOMER_ID: customer_ids(cp["gid"][treated], w),
                "sent_at": (date.normalize() + pd.to_timedelta(cp["start"][treated], unit="D")
                            + pd.Timedelta(hours=9)).to_numpy(),
                "channel": pd.Series(["email"] * int(treated.sum()), dtype="string"),
                "kind": pd.Series(["promo"] * int(treated.sum()), dtype="string"),
                "offer": pd.Series(np.asarray(ARMS, dtype=object)[cp["code"][treated]], dtype="string"),
                "opened": opened,
                "clicked": clicked,
                "unsubscribed": np.zeros(int(treated.sum()), bool),
                "redeemed": clicked & (u[2] < 0.6),
            }
        )
        tables["messages"] = pd.concat(
            [tables["messages"], msg.astype(tables["messages"].dtypes.to_dict())], ignore_index=True
        )
    tables["subscriptions"] = _extend_subscriptions(tables["subscriptions"], rec, spec, new_as_of)
    if rows is not None:
        kept = pd.DataFrame({
            "experiment_id": pd.Series(rows["experiment_id"].to_numpy(), dtype="string"),
            C.CUSTOMER_ID: pd.Series(rows[C.CUSTOMER_ID].to_numpy(), dtype="string"),
            "arm": pd.Series(rows["offer"].to_numpy(), dtype="string"),
            "assigned_at": pd.to_datetime(rows["assigned_at"]).astype("datetime64[ns]").to_numpy(),
        })
        if "assignments" in tables:
            kept = pd.concat([tables["assignments"], kept], ignore_index=True)
        tables["assignments"] = kept
    return Dataset(
        name=dataset.name,
        tables=tables,
        as_of=new_as_of,
        source=dataset.source + f" + campaign {date.date()}",
        kind=dataset.kind,
        description=dataset.description,
        metadata={**dataset.metadata, "campaign": {"date": date.isoformat(), "as_of": new_as_of.isoformat()}},
    )


def _extend_subscriptions(subs: pd.DataFrame, rec: dict, spec, new_as_of) -> pd.DataFrame:
    from churnlab.data.synthetic.tables import REASON_CODE

    w = spec.id_width
    subs = subs.copy()
    e = rec["sub_ends"]
    if e["gid"].size:
        sid = [f"sub-c{g:0{w}d}-{k}" for g, k in zip(e["gid"].tolist(), e["sub_no"].tolist())]
        pos = pd.Index(subs["subscription_id"]).get_indexer(sid)
        ok = pos >= 0
        reasons = np.asarray(list(REASON_CODE), dtype=object)[e["reason_code"][ok]]
        subs.loc[pos[ok], "end_at"] = np.asarray(e["end_ns"][ok], np.int64).view("datetime64[ns]")
        subs.loc[pos[ok], "churn_reason"] = reasons
    s = rec["sub_starts"]
    if s["gid"].size:
        add = pd.DataFrame(
            {
                C.CUSTOMER_ID: customer_ids(s["gid"], w),
                "subscription_id": pd.Series(
                    [f"sub-c{g:0{w}d}-{k}" for g, k in zip(s["gid"].tolist(), s["sub_no"].tolist())], dtype="string"
                ),
                "start_at": np.asarray(s["start_ns"], np.int64).view("datetime64[ns]"),
                "end_at": np.full(s["gid"].size, np.datetime64("NaT"), "datetime64[ns]"),
                "churn_reason": pd.Series([pd.NA] * s["gid"].size, dtype="string"),
            }
        )
        # a customer who returns and cancels again inside the horizon
        ends = {
            (g, k): (ns, r)
            for g, k, ns, r in zip(
                e["gid"].tolist(), e["sub_no"].tolist(), e["end_ns"].tolist(), e["reason_code"].tolist()
            )
        }
        for j, (g, k) in enumerate(zip(s["gid"].tolist(), s["sub_no"].tolist())):
            if (g, k) in ends:
                ns, r = ends[(g, k)]
                add.loc[j, "end_at"] = pd.Timestamp(ns)
                add.loc[j, "churn_reason"] = list(REASON_CODE)[r]
        subs = pd.concat([subs, add], ignore_index=True)
    return subs
