"""Retention campaigns in the synthetic world: give offers at the world's end, let it run on.

Each offer multiplies components of the customer's churn hazard (and the pace at which a customer
who has decided to leave actually cancels) for the whole campaign horizon:

- ``discount``: price, late-payment and competitor hazards fall by ``discount_effect * s_i`` with
  ``s_i = min(price_sensitivity_i / 1.5, 1)``: it helps the price-sensitive;
- ``exclusive_content``: disengagement, recency, component-stop, onboarding and dissatisfaction
  hazards fall by ``exclusive_effect * e_i`` with ``e_i = sigmoid(2 engagement_i)`` for B2B and a
  tenth of that for B2C: it helps engaged B2B customers;
- ``bonus``: every behavioural hazard falls by ``bonus_effect``: small and broad;
- any offer: customers who react badly to being contacted (``backlash_share``, three times more
  among do-not-disturb customers) see every behavioural hazard rise by ``backlash_effect``.

Both potential outcomes of every customer come from the same random numbers (see :mod:`.world`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from churnlab import config as C
from churnlab.data.synthetic.spec import CAMPAIGN, CHUNK_SIZE, EXPAND
from churnlab.data.synthetic.tables import chunk_records, records_to_frames
from churnlab.data.synthetic.truth import Truth, monte_carlo_churn
from churnlab.data.synthetic.world import MECH_INDEX, Recorder, Treatment, simulate, take_state
from churnlab.errors import AnalysisError, SchemaError
from churnlab.schema import Dataset, require_columns

__all__ = ["CampaignTruth", "run_campaign", "offer_treatment", "ARMS"]

ARMS = ("none", *C.OFFERS)
PRICE_MECHS = ("price", "late_payment", "competitor")
PRODUCT_MECHS = ("disengagement", "recency", "component_stop", "onboarding", "dissatisfaction")


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
    """

    effects: pd.DataFrame
    effects_by_offer: pd.DataFrame
    average_effect: pd.DataFrame
    costs: dict
    campaign_date: pd.Timestamp
    horizon_days: int

    def __repr__(self) -> str:
        ate = ", ".join(f"{r.offer}={r.ate_prob:+.3f}" for r in self.average_effect.itertuples())
        return (
            f"CampaignTruth({len(self.effects):,} customers, {self.campaign_date.date()} + {self.horizon_days} d, "
            f"true effect on retention: {ate})"
        )


def offer_treatment(st: dict, offer_code: np.ndarray, knobs) -> Treatment:
    """Hazard multipliers of the offers given to the customers of ``st``.

    Parameters
    ----------
    st : dict of ndarray
        Customers' state at the campaign date.
    offer_code : ndarray of int
        Per customer, index into :data:`ARMS` (0 = none).
    knobs : Knobs
        Effect sizes (``discount_effect``, ``bonus_effect``, ``exclusive_effect``, ``backlash_*``).

    Returns
    -------
    Treatment
        ``mult`` of shape (mechanisms, customers) and ``treated`` flags.
    """
    n = offer_code.size
    mult = np.ones((len(MECH_INDEX), n))
    offer = np.asarray(ARMS, dtype=object)[offer_code]
    behavioural = [i for m, i in MECH_INDEX.items() if m != "moved"]
    s = np.minimum(st["ps"] / 1.5, 1.0)
    d = offer == "discount"
    for m in PRICE_MECHS:
        mult[MECH_INDEX[m], d] *= 1.0 - knobs.discount_effect * s[d]
    e = 1.0 / (1.0 + np.exp(-2.0 * st["eng"])) * np.where(st["b2b"], 1.0, 0.1)
    x = offer == "exclusive_content"
    for m in PRODUCT_MECHS:
        mult[MECH_INDEX[m], x] *= 1.0 - knobs.exclusive_effect * e[x]
    b = offer == "bonus"
    mult[np.ix_(behavioural, np.flatnonzero(b))] *= 1.0 - knobs.bonus_effect
    treated = offer_code > 0
    bad = treated & st["backlash"]
    mult[np.ix_(behavioural, np.flatnonzero(bad))] *= 1.0 + knobs.backlash_effect
    return Treatment(mult=np.clip(mult, 0.0, None), treated=treated)


def _offer_codes(offers: pd.DataFrame, width: int, n_customers: int) -> tuple[np.ndarray, np.ndarray]:
    require_columns(offers, [C.CUSTOMER_ID, "offer"], table="offers")
    o = offers[[C.CUSTOMER_ID, "offer"]].copy()
    o["offer"] = o["offer"].fillna("none").astype(str).replace({"holdout": "none", "control": "none"})
    bad = ~o["offer"].isin(ARMS)
    if bad.any():
        raise SchemaError(
            f"offers.offer: expected one of {list(ARMS)} or holdout; found {o.loc[bad, 'offer'].iloc[0]!r}"
        )
    if o[C.CUSTOMER_ID].duplicated().any():
        raise SchemaError(
            f"offers.customer_id: expected one row per customer; "
            f"{o.loc[o[C.CUSTOMER_ID].duplicated(), C.CUSTOMER_ID].iloc[0]} repeats"
        )
    ids = o[C.CUSTOMER_ID].astype(str)
    ok = ids.str.fullmatch(rf"c\d{{{width}}}")
    gid = pd.to_numeric(ids.str[1:].where(ok), errors="coerce")
    unknown = gid.isna() | (gid >= n_customers)
    if unknown.any():
        raise SchemaError(f"offers.customer_id: {ids[unknown].iloc[0]!r} is not a customer of this world")
    code = o["offer"].map({a: i for i, a in enumerate(ARMS)}).to_numpy(np.int64)
    return gid.to_numpy(np.int64), code


def run_campaign(
    dataset: Dataset,
    truth: Truth,
    offers: pd.DataFrame,
    campaign_date=None,
    horizon_days: int = 90,
    seed: int = 0,
    n_sims: int = 30,
) -> tuple[Dataset, CampaignTruth]:
    """Give ``offers`` at the campaign date and continue the world for ``horizon_days``.

    Parameters
    ----------
    dataset : Dataset
        The world's tables as generated (``as_of`` = the world's end).
    truth : Truth
        Its truth (from :func:`generate` or :func:`load_world`).
    offers : DataFrame
        ``customer_id, offer`` with offer in ``config.OFFERS`` or ``none``/``holdout``; one row per
        customer. Customers not listed get nothing.
    campaign_date : str or Timestamp, optional
        Must be the world's end (the default).
    horizon_days : int
        Days the world runs on; retention is "no cancellation in the horizon".
    seed : int
        Seed of the continuation and of the Monte Carlo.
    n_sims : int
        Monte Carlo paths per customer for ``p_retain_*``.

    Returns
    -------
    Dataset
        The tables extended to ``as_of = campaign_date + horizon_days`` (the offers appear as promo
        messages on the campaign date; cancellations close subscriptions; returns open new ones).
    CampaignTruth
        Potential outcomes, true average effects and costs.

    Raises
    ------
    AnalysisError
        When the campaign date is not the world's end or the dataset is not the truth's world.
    SchemaError
        When ``offers`` lacks a column, names an unknown offer or customer, or repeats a customer.

    Notes
    -----
    The continuation is simulated once per arm (control and each offer) over all customers with the
    same random streams, so each customer's outcomes differ only through the offer (common random
    numbers). ``ate`` for offer k is ``mean_i(retained_i(k) - retained_i(none))`` over all listed
    customers; ``ate_prob`` the same with probabilities, computed by :func:`.truth.monte_carlo_churn`.
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
    gid, code = _offer_codes(offers, spec.id_width, spec.n_customers)
    day, H = spec.n_days, int(horizon_days)
    env = spec.env()
    new_as_of = spec.end + pd.Timedelta(days=H)
    retained = {a: np.zeros(gid.size, bool) for a in ARMS}
    p_retain = {a: np.zeros(gid.size) for a in ARMS}
    records = []
    for c in range(spec.n_chunks):
        lo = c * CHUNK_SIZE
        mine = np.flatnonzero((gid >= lo) & (gid < lo + CHUNK_SIZE))
        st0 = truth.chunk_state(c, day)
        n = st0["gid"].size
        assigned = np.zeros(n, np.int64)
        assigned[gid[mine] - lo] = code[mine]
        # realised world: the assigned offers, recorded
        st = take_state(st0, np.arange(n))
        st["churn_day"][:] = -(10**6)
        rec = Recorder(n, day, H)
        simulate(st, day, day + H, spec.rng(c, CAMPAIGN, seed), env, rec, offer_treatment(st0, assigned, spec.knobs))
        records.append(chunk_records(st, rec, spec.start, new_as_of, spec.rng(c, EXPAND, seed + 1)))
        records[-1]["campaign"] = {"gid": gid[mine], "code": code[mine], "eng": st0["eng"][gid[mine] - lo]}
        # every arm for the listed customers: realised outcome and probability, common random numbers
        listed = gid[mine] - lo
        sub0 = take_state(st0, listed)
        for a, arm in enumerate(ARMS):
            arm_codes = np.zeros(n, np.int64)
            arm_codes[listed] = a
            st = take_state(st0, np.arange(n))
            st["churn_day"][:] = -(10**6)
            simulate(
                st,
                day,
                day + H,
                spec.rng(c, CAMPAIGN, seed),
                env,
                None,
                offer_treatment(st0, arm_codes, spec.knobs) if a else None,
            )
            retained[arm][mine] = ~(st["churn_day"][listed] >= day) & st0["alive"][listed]
            tr = offer_treatment(sub0, np.full(listed.size, a, np.int64), spec.knobs) if a else None
            p = monte_carlo_churn(sub0, day, H, n_sims, env, lambda b, c=c: spec.rng(c, CAMPAIGN, seed, 1, b), tr)
            p_retain[arm][mine] = np.where(sub0["alive"], 1.0 - p, 0.0)
    extended = _extend(dataset, records, spec, new_as_of, date)
    return extended, _campaign_truth(gid, code, retained, p_retain, spec, date, H)


def _campaign_truth(gid, code, retained, p_retain, spec, date, H) -> CampaignTruth:
    w = spec.id_width
    ids = pd.Series([f"c{g:0{w}d}" for g in gid.tolist()], dtype="string")
    arms = np.asarray(ARMS, dtype=object)
    own_r = np.choose(code, [retained[a] for a in ARMS])
    own_p = np.choose(code, [p_retain[a] for a in ARMS])
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


def _extend(dataset: Dataset, records: list[dict], spec, new_as_of: pd.Timestamp, date: pd.Timestamp) -> Dataset:
    """Append the continuation's rows to the tables; close and open subscriptions."""
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
                C.CUSTOMER_ID: pd.Series([f"c{g:0{w}d}" for g in cp["gid"][treated].tolist()], dtype="string"),
                "sent_at": np.full(int(treated.sum()), (date.normalize() + pd.Timedelta(hours=9)).to_datetime64()),
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
                C.CUSTOMER_ID: pd.Series([f"c{g:0{w}d}" for g in s["gid"].tolist()], dtype="string"),
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
