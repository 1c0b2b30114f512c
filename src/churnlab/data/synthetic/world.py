"""The daily simulation loop of the synthetic world.

One call of :func:`step` moves every customer of a chunk through one day: births (signups),
latent drift (engagement, satisfaction), usage (sessions, components, exports), support tickets,
invoices, account-manager contacts, surveys, messages, the churn hazard, the decision to leave,
cancellation and reactivation. Everything is vectorised over customers.

Random numbers are drawn as fixed-shape blocks (``rng.random((k, n))``) whose size never depends
on the state, and every random quantity is a transform of one of those uniforms or normals
(Poisson counts by inverse CDF). So two runs from the same state with the same stream use the same
random number for the same customer, day and purpose, whatever else differs: this is what makes
replays exact and potential outcomes of a campaign share common random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from churnlab.data.synthetic.knobs import MECHANISM_NAMES, Knobs
from churnlab.data.synthetic.population import N_COMPONENTS, USE_PER_SESSION

__all__ = [
    "Env", "Recorder", "Treatment", "step", "simulate", "covariates",
    "hazard_components", "MECH_INDEX", "take_state", "tile_state",
    "concat_states", "FateChain", "reactivation_rate",
]

MECH_INDEX = {m: i for i, m in enumerate(MECHANISM_NAMES)}
M = len(MECHANISM_NAMES)
# Default weight of each mechanism in the hazard, i.e. its approximate share of all churn at default
# knobs (OPINIONS: "Synthetic world: mechanism weights and default knobs"). ``moved`` takes the knob
# ``exogenous_share``; the others share the rest in these proportions.
WEIGHTS = {
    "baseline": 0.08, "disengagement": 0.20, "recency": 0.12, "onboarding": 0.07, "component_stop": 0.07,
    "price": 0.10, "late_payment": 0.07, "service": 0.07, "dissatisfaction": 0.06, "ui_change": 0.05,
    "competitor": 0.05, "account_sharing": 0.02,
}
# Mean of each raw hazard covariate over the days of active customers who have not decided to leave, at
# default knobs (measured by calibrate.py on a 20,000-customer world, seed 0), so that each weight above
# is the mechanism's share.
NORMS = {
    "baseline": 1.0, "moved": 1.0, "disengagement": 0.3585, "recency": 1.3865, "onboarding": 0.0428,
    "component_stop": 0.6702, "price": 0.9966, "late_payment": 0.0719, "service": 0.0464, "dissatisfaction": 0.8556,
    "ui_change": 0.0629, "competitor": 0.1317, "account_sharing": 0.0163,
}
# Overall scale that turns the knob's monthly churn into the daily hazard actually realised
# (selection of frail customers lowers the realised rate below the naive one); measured by calibrate.py.
CALIBRATION_B2B, CALIBRATION_B2C = 1.292, 1.272
# Shape of the disengagement covariate (a logistic curve in engagement: the risk of a disengaged
# customer saturates) and of the recency covariate (usual gaps missed, capped, to a power).
DISENGAGEMENT_SLOPE, DISENGAGEMENT_CENTER = 2.5, -0.5
RECENCY_CAP, RECENCY_POWER = 5.0, 2.0
INTENT_ABANDON = 0.005  # daily chance a customer who decided to leave changes their mind
# How a decision to leave shows (OPINIONS: "Synthetic world: what the decision to leave looks like"):
# engagement falls towards mu - INTENT_ENG_DROP within days, data exports at INTENT_EXPORTS a day,
# email opens fall by INTENT_OPEN_DROP on the logit scale, billing (financial) tickets appear.
INTENT_ENG_DROP, INTENT_EXPORTS, INTENT_OPEN_DROP, INTENT_EXPORT_BURST = 2.5, 0.3, 2.5, 1.0
ENG_NOISE = 0.08  # daily shock of engagement around the customer's level mu (stationary sd ~0.26)
SAT_PERSIST = 0.985  # daily persistence of satisfaction (stationary sd 1)
NPS_RATE = 1.0 / 120.0  # daily chance an active customer (tenure > 30 days) answers the NPS survey
FRAILTY_NPS = 1.5  # NPS points lost per unit of log frailty (weakly attached customers recommend less)
OPEN_ENG = 1.4  # logit of an email or push opening per unit of engagement
NU, NZ, NMSG = 28, 5, 4


@dataclass
class Env:
    """What every step needs besides the state: knobs, calendar and derived rates."""

    knobs: Knobs
    weekday0: int
    ui_day: int
    comp_day: int
    base_b2b: float = 0.0
    base_b2c: float = 0.0
    weights: np.ndarray = field(default_factory=lambda: np.zeros(M))
    react_p: float = 0.0
    norms: dict | None = None
    calibration: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        k = self.knobs
        norms = NORMS if self.norms is None else self.norms
        cal_b2b, cal_b2c = (CALIBRATION_B2B, CALIBRATION_B2C) if self.calibration is None else self.calibration
        self.base_b2b = -np.log1p(-k.monthly_churn_b2b) / 30.0 * cal_b2b
        self.base_b2c = -np.log1p(-k.monthly_churn_b2c) / 30.0 * cal_b2c
        rest = 1.0 - k.exogenous_share
        total = sum(WEIGHTS.values())
        w = np.zeros(M)
        for name, i in MECH_INDEX.items():
            if name == "moved":
                w[i] = k.exogenous_share
            else:
                w[i] = rest * WEIGHTS[name] / total * k.strength(name) / norms[name]
        self.weights = w
        self.react_p = 1.0 - (1.0 - k.reactivation_rate) ** (1.0 / 180.0)


@dataclass
class Treatment:
    """An offer in force.

    ``mult`` has shape (mechanisms, customers): the multiplier of each hazard component (1 = no
    effect). ``treated`` marks the customers who actually received an offer (not ``none``).
    ``save`` (optional, per customer) is the extra daily chance that a customer who has decided to
    leave changes their mind while the offer is in force; ``react`` (optional, per customer) multiplies
    the daily chance that a churned customer comes back (win-back).
    """

    mult: np.ndarray
    treated: np.ndarray
    save: np.ndarray | None = None
    react: np.ndarray | None = None

    def tile(self, k: int) -> Treatment:
        """``k`` copies side by side (as :func:`tile_state`)."""
        return Treatment(mult=np.tile(self.mult, (1, k)), treated=np.tile(self.treated, k),
                         save=None if self.save is None else np.tile(self.save, k),
                         react=None if self.react is None else np.tile(self.react, k))


class Recorder:
    """Collects what happens during a run: daily counts of usage and the rows of the other tables."""

    def __init__(self, n: int, t0: int, n_days: int) -> None:
        self.t0 = t0
        self.n_days = n_days
        self.sessions = np.zeros((n_days, n), np.uint8)
        self.comps = np.zeros((n_days, N_COMPONENTS, n), np.uint8)
        self.exports = np.zeros((n_days, n), np.uint8)
        self.rows: dict[str, list[dict[str, np.ndarray]]] = {
            k: [] for k in ("tickets", "payments", "contacts", "surveys", "messages", "churns", "starts")
        }

    def add(self, table: str, **cols: np.ndarray) -> None:
        """Append a batch of rows (equal-length arrays) to ``table``."""
        self.rows[table].append(cols)

    def table(self, name: str) -> dict[str, np.ndarray]:
        """All rows of ``name`` concatenated, as a dict of arrays (empty arrays when none)."""
        parts = self.rows[name]
        if not parts:
            return {}
        return {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}


def poisson_inv(u: np.ndarray, lam: np.ndarray, kmax: int = 60) -> np.ndarray:
    """Poisson counts by inverse CDF: the smallest k with F(k; lam) >= u (elementwise).

    One uniform per draw, so the stream position never depends on ``lam`` (common random numbers).
    """
    shape = u.shape
    u = u.ravel()
    lam = np.broadcast_to(lam, shape).ravel()
    k = np.zeros(u.size, np.int32)
    p = np.exp(-lam)
    cdf = p.copy()
    idx = np.flatnonzero(u > cdf)
    j = 0
    while idx.size and j < kmax:
        j += 1
        p[idx] *= lam[idx] / j
        cdf[idx] += p[idx]
        k[idx] = j
        idx = idx[u[idx] > cdf[idx]]
    return k.reshape(shape)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def satisfaction(st: dict) -> np.ndarray:
    """Observed satisfaction: latent drift minus bad service, the UI change and late payments."""
    return st["sat"] - 0.8 * st["serv_mem"] - 1.5 * st["ui_mem"] * st["ui_susc"] - 0.3 * st["late_mem"]


def covariates(st: dict, t: int, env: Env) -> np.ndarray:
    """Raw hazard covariate of each mechanism on day ``t``: array (mechanisms, customers).

    ``x_ik`` is 1 for baseline and moved, sigmoid(-2.5 (engagement + 0.5)), (days since the last
    session in units of the customer's usual gap, capped at 5)^2, not activated within 14 days (from
    day 14 to day 120 of the subscription), number of stopped components idle beyond 30 days, price
    sensitivity times relative fee, recent late payments, recent bad tickets, exp(-satisfaction - 0.5),
    the UI shock, the competitor shock times price sensitivity, account sharing. :data:`NORMS` holds
    their means over the days of active customers who have not decided to leave, at default knobs.
    """
    n = st["gid"].size
    X = np.empty((M, n))
    X[0] = 1.0
    X[1] = 1.0
    X[2] = _sigmoid(-DISENGAGEMENT_SLOPE * (st["eng"] - DISENGAGEMENT_CENTER))
    # days since the last session in units of the customer's usual gap between sessions
    X[3] = np.clip((t - st["last_session"]) * st["rate"] * np.exp(st["mu"]) * 0.8, 0.0, RECENCY_CAP) ** RECENCY_POWER
    # not activated within 14 days of signup (known from day 14), during the first 120 days
    X[4] = (~st["activated"]) & (t - st["signup_day"] >= 14) & (t - st["sub_start"] < 120)
    # components stopped and idle beyond 30 days
    X[5] = (st["stopped"] & (t - st["last_use"] > 30)).sum(axis=0)
    X[6] = st["ps"] * st["fee_norm"]
    X[7] = st["late_mem"]
    X[8] = st["serv_mem"]
    X[9] = np.exp(-st["sat"] - 0.5)
    X[10] = st["ui_mem"] * st["ui_susc"]
    X[11] = (0.98 ** (t - env.comp_day) if t >= env.comp_day else 0.0) * st["ps"]
    X[12] = st["sharer"]
    return X


def hazard_components(st: dict, t: int, env: Env) -> np.ndarray:
    """Daily hazard of deciding to leave, split by mechanism: array (mechanisms, customers).

    Notes
    -----
    Additive competing risks: ``h_i = base_seg * (w_moved + frailty_i * sum_k w_k * x_ik)`` where
    ``x_ik`` is the covariate of mechanism k (see :func:`covariates`). The cause of a decision is
    drawn with probability ``w_k x_ik / sum_j w_j x_ij``, which is also the recorded ``hazard_share``.
    """
    X = covariates(st, t, env)
    base = np.where(st["b2b"], env.base_b2b, env.base_b2c)
    out = X * env.weights[:, None] * (base * st["frailty"])[None, :]
    out[1] = env.weights[1] * base  # moving away does not depend on the customer's frailty
    return out


def step(st: dict, t: int, rng: np.random.Generator, env: Env, rec: Recorder | None = None,
         treat: Treatment | None = None, chain: FateChain | None = None) -> None:
    """Advance the chunk ``st`` (modified in place) through day ``t`` (0 = the world's start).

    With ``chain``, nobody decides, cancels or returns: the covariates evolve and ``chain`` carries
    each customer's exact probabilities of the fate states along that covariate path instead.
    """
    n = st["gid"].size
    U = rng.random((NU, n))
    Z = rng.standard_normal((NZ, n))
    wd = (env.weekday0 + t) % 7
    # births
    born = st["signup_day"] == t
    if born.any():
        st["alive"] |= born
        st["sub_no"][born] = 1
        st["sub_start"][born] = t
    # decisions, cancellations and returns first: a decision shows in the same day's behaviour
    if chain is None:
        _churn(st, t, U, env, st["alive"], rec, treat)
    else:
        chain.advance(st, t, env, treat)
    alive = st["alive"]
    b2b = st["b2b"]
    intent = st["intent"]
    # latent drift
    st["mu"] = np.where(st["decliner"] & alive, np.maximum(st["mu"] - 0.004, -2.5), st["mu"])
    target = st["mu"] - INTENT_ENG_DROP * intent
    st["eng"] += np.where(intent, 0.3, 0.05) * (target - st["eng"]) + ENG_NOISE * Z[0]
    st["sat"] = SAT_PERSIST * st["sat"] + np.sqrt(1.0 - SAT_PERSIST**2) * Z[1]
    st["late_mem"] *= 0.985
    st["serv_mem"] *= 0.98
    st["ui_mem"] *= 0.985
    if t == env.ui_day:
        st["ui_mem"] += (st["ui_susc"] > 0).astype(float)
    sat = satisfaction(st)
    # sessions: rhythm x weekday x engagement; shared accounts use far more
    if wd >= 5:
        wk = np.where(b2b, 0.2, 1.25)
    else:
        wk = np.where(b2b, 1.0, 0.9)
    lam = st["rate"] * wk * np.exp(st["eng"]) * (1.0 + 4.0 * st["sharer"]) * alive
    sess = poisson_inv(U[0], lam)
    st["last_session"] = np.where(sess > 0, t, st["last_session"])
    # components: used in sessions once adopted, unless stopped
    active_c = (st["adopt_day"] <= t) & ~st["stopped"] & alive[None, :]
    uses = poisson_inv(U[1:7], sess[None, :] * USE_PER_SESSION[:, None] * active_c)
    st["last_use"] = np.where(uses > 0, t, st["last_use"])
    which = np.minimum((U[7] * N_COMPONENTS).astype(np.int64), N_COMPONENTS - 1)
    p_stop = 0.012 * np.exp(-st["eng"]) * (1.0 + 4.0 * intent)
    stop = (U[8] < p_stop) & active_c[which, np.arange(n)]
    if stop.any():
        ii = np.flatnonzero(stop)
        st["stopped"][which[ii], ii] = True
    # data exports rise once the customer has decided to leave
    fresh = intent & (t - st["decision_day"] < 3)  # the days right after deciding: export everything
    lam_e = (np.where(b2b, 0.01, 0.004) + INTENT_EXPORTS * intent + INTENT_EXPORT_BURST * fresh) * alive
    exports = poisson_inv(U[9], lam_e)
    if rec is not None and 0 <= t - rec.t0 < rec.n_days:
        d = t - rec.t0
        rec.sessions[d] = np.minimum(sess, 255)
        rec.comps[d] = np.minimum(uses, 255)
        rec.exports[d] = np.minimum(exports, 255)
    _tickets(st, t, U, Z, sat, alive, rec)
    _payments(st, t, U, alive, rec)
    _contacts_and_surveys(st, t, U, Z, sat, alive, rec)
    _messages(st, t, rng, wd, sat, alive, rec)


def _tickets(st, t, U, Z, sat, alive, rec) -> None:
    """Support tickets; a bad experience weighs on the customer once the ticket is resolved.

    Customers who decided to leave open billing (financial) tickets: how to cancel, final invoice.
    """
    b2b = st["b2b"]
    intent = st["intent"]
    # bad experiences land when their ticket is resolved
    due = alive & (st["serv_pend"] > 0) & (st["serv_due"] <= t)
    st["serv_mem"] += np.where(due, st["serv_pend"], 0.0)
    st["serv_pend"][due] = 0.0
    new = (t - st["sub_start"] < 30) & alive
    p = np.where(b2b, 0.010, 0.005) * np.exp(-0.5 * sat) * (1.0 + 2.0 * new + 3.0 * intent) * alive
    idx = np.flatnonzero(U[10] < p)
    if not idx.size:
        return
    late = np.minimum(st["late_mem"][idx], 1.0)
    p_fin = 0.2 + 0.3 * late + 0.5 * intent[idx]
    p_emo = 0.15 + 0.2 * (sat[idx] < -0.5)
    u = U[11, idx]
    cat = np.where(u < p_fin, 1, np.where(u < p_fin + p_emo, 2, 0)).astype(np.int8)  # technical 0
    ul = U[12, idx]
    line = np.where(cat == 0, np.where(ul < 0.45, 1, np.where(ul < 0.75, 2, 3)),
                    np.where(ul < 0.6, 1, np.where(ul < 0.95, 2, 3))).astype(np.int8)
    bot = (line == 1) & (U[13, idx] < 0.45)
    fcr = bot | (U[14, idx] < np.where(line == 1, 0.6, np.where(line == 2, 0.7, 0.5)))
    hours = np.where(bot, 0.1, np.exp(np.log(np.where(line == 1, 2.0, np.where(line == 2, 8.0, 48.0)))
                                     + 0.8 * Z[2, idx])) * np.where(fcr, 1.0, 2.0)
    csat_latent = 3.6 + 0.9 * fcr - 0.35 * np.log(hours / 8.0) + 0.4 * sat[idx] + 0.7 * Z[3, idx]
    csat = np.clip(np.round(csat_latent), 1, 5)
    answered = U[15, idx] < 0.4
    bad = (~fcr & (hours > 24)) | (csat_latent < 2.5)
    st["serv_pend"][idx] += bad
    st["serv_due"][idx] = np.where(bad, np.maximum(st["serv_due"][idx], t + np.ceil(hours / 24.0)), st["serv_due"][idx])
    if rec is not None:
        rec.add("tickets", i=idx, t=np.full(idx.size, t, np.int32), line=line, cat=cat, bot=bot, fcr=fcr,
                hours=hours, csat=np.where(answered, csat, np.nan))


def _payments(st, t, U, alive, rec) -> None:
    idx = np.flatnonzero(alive & (st["next_due"] == t))
    if not idx.size:
        return
    p_late = _sigmoid(st["late_prop"][idx] + 0.5 * st["late_mem"][idx])
    late = U[16, idx] < p_late
    delay = np.where(late, 4.0 + U[17, idx] * 26.0, U[17, idx] * 3.0)
    st["late_mem"][idx] += late
    st["next_due"][idx] += 30
    st["n_paid"][idx] += 1
    if rec is not None:
        rec.add("payments", i=idx, t=np.full(idx.size, t, np.int32), amount=st["fee"][idx], delay=delay,
                late=late, sub_no=st["sub_no"][idx].copy(), first=st["n_paid"][idx] == 1)


def _contacts_and_surveys(st, t, U, Z, sat, alive, rec) -> None:
    am = alive & st["b2b"] & ~st["dnd"]
    call = am & (U[18] < (1.0 / 30.0) * (1.0 + 2.0 * (sat < -0.5)))
    reached = call & (U[19] < 0.55)
    mail = am & ~call & (U[20] < 1.0 / 20.0)
    mail_reached = mail & (U[19] < 0.4)
    st["sat"] += 0.3 * reached
    nps = alive & (t - st["sub_start"] > 30) & (U[21] < NPS_RATE)
    if rec is None:
        return
    ci = np.flatnonzero(call | mail)
    if ci.size:
        rec.add("contacts", i=ci, t=np.full(ci.size, t, np.int32), kind=mail[ci].astype(np.int8),
                reached=(reached | mail_reached)[ci])
    ni = np.flatnonzero(nps)
    if ni.size:
        # likelihood to recommend: satisfaction, engagement and the customer's attachment (frailty)
        score = np.clip(np.round(7.0 + 2.2 * sat[ni] + 0.5 * st["eng"][ni] - FRAILTY_NPS * np.log(st["frailty"][ni])
                                 + 1.2 * Z[4, ni]), 0, 10)
        rec.add("surveys", i=ni, t=np.full(ni.size, t, np.int32), kind=np.zeros(ni.size, np.int8), score=score,
                reason=np.full(ni.size, -1, np.int8))


def _messages(st, t, rng, wd, sat, alive, rec) -> None:
    """Weekly email newsletter (Monday), weekly push (Thursday, app users), promo email every 4 weeks."""
    if wd not in (0, 2, 3):
        return
    n = st["gid"].size
    Um = rng.random((NMSG + 2, n))
    eng, intent = st["eng"], st["intent"]
    hit = st["ui_mem"] * st["ui_susc"]
    unsub_p = 0.002 * np.exp(-0.5 * sat) * (1.0 + 10.0 * hit + 4.0 * intent)
    if wd == 0 or wd == 3:
        channel = 0 if wd == 0 else 1
        col = "email_unsub" if channel == 0 else "push_unsub"
        to = alive & ~st[col]
        if channel == 1:
            to &= st["adopt_day"][5] <= t
        p_open = _sigmoid((-0.6 if channel == 0 else -1.1) + OPEN_ENG * eng - INTENT_OPEN_DROP * intent + 0.3 * sat)
        opened = to & (Um[0] < p_open)
        clicked = opened & (Um[1] < _sigmoid(-1.0 + 0.5 * eng - intent))
        unsub = to & (Um[2] < unsub_p)
        st[col] |= unsub
        kind, offer, redeemed = 0, None, None
    else:
        if (t // 7) % 4 != 2:
            return
        channel = 0
        to = alive & ~st["email_unsub"]
        offer = np.where(Um[4] < 0.5, 0, np.where(Um[4] < 0.8, 1, 2)).astype(np.int8)
        opened = to & (Um[0] < _sigmoid(-0.6 + OPEN_ENG * eng - INTENT_OPEN_DROP * intent + 0.3 * sat))
        clicked = opened & (Um[1] < _sigmoid(-0.5 + 0.5 * eng - intent))
        unsub = to & (Um[2] < unsub_p)
        st["email_unsub"] |= unsub
        p_red = _sigmoid(-1.6 + np.where(offer == 0, 1.2, 0.3) * np.log(st["ps"]) + 0.4 * eng - 2.5 * intent)
        redeemed = clicked & (Um[3] < p_red)
        kind = 1
    if rec is None:
        return
    idx = np.flatnonzero(to)
    rec.add("messages", i=idx, t=np.full(idx.size, t, np.int32), channel=np.full(idx.size, channel, np.int8),
            kind=np.full(idx.size, kind, np.int8),
            offer=offer[idx] if offer is not None else np.full(idx.size, -1, np.int8),
            opened=opened[idx], clicked=clicked[idx], unsub=unsub[idx],
            redeemed=redeemed[idx] if redeemed is not None else np.zeros(idx.size, bool))


class FateChain:
    """Exact probabilities of (deciding, in intent, cancelled) along one simulated covariate path.

    Parameters
    ----------
    intent : ndarray of bool
        Who is in intent (has decided to leave) at the start.

    Notes
    -----
    Rao-Blackwellised Monte Carlo: given the path of the covariates, the daily transitions are
    ``none -> intent`` with probability ``q (1 - m)``, ``none -> cancelled`` with ``q m`` (``moved``
    leaves at once; ``q = 1 - exp(-h)``, ``m`` its share of ``h``), ``intent -> cancelled`` with
    ``p_c = ratio / intent_days`` (``ratio``: an offer's effect on the hazard) and ``intent -> none``
    with :data:`INTENT_ABANDON` plus an offer's persuasion (``Treatment.save``). The covariate path itself
    is simulated with the intent state frozen.
    """

    def __init__(self, intent: np.ndarray) -> None:
        self.p_intent = intent.astype(float)
        self.p_none = 1.0 - self.p_intent
        self.p_gone = np.zeros(intent.size)

    def advance(self, st: dict, t: int, env: Env, treat: Treatment | None) -> None:
        """Apply one day's transition probabilities."""
        comp = hazard_components(st, t, env)
        p_c = np.full(comp.shape[1], 1.0 / env.knobs.intent_days)
        if treat is not None:
            h_ctrl = comp.sum(axis=0)
            comp = comp * treat.mult
            h = comp.sum(axis=0)
            ratio = np.where(treat.treated, h / np.maximum(h_ctrl, 1e-12), 1.0)
            p_c = np.minimum(p_c * ratio, 1.0)
        else:
            h = comp.sum(axis=0)
        q = -np.expm1(-h)
        m = comp[MECH_INDEX["moved"]] / np.maximum(h, 1e-300)
        a = _abandon_rate(p_c, treat)
        none, intent = self.p_none, self.p_intent
        self.p_gone = self.p_gone + intent * p_c + none * q * m
        self.p_intent = intent * (1.0 - p_c - a) + none * q * (1.0 - m)
        self.p_none = none * (1.0 - q) + intent * a


def _abandon_rate(p_cancel, treat: Treatment | None):
    """Daily chance that a customer in intent changes their mind (never above ``1 - p_cancel``)."""
    a = INTENT_ABANDON if treat is None or treat.save is None else INTENT_ABANDON + treat.save
    return np.minimum(a, 1.0 - p_cancel)


def reactivation_rate(st: dict, env: Env, treat: Treatment | None = None) -> np.ndarray:
    """Daily chance that each churned customer comes back (customers who moved away: a fifth of it)."""
    p = env.react_p * np.where(st["churn_mech"] == MECH_INDEX["moved"], 0.2, 1.0)
    if treat is not None and treat.react is not None:
        p = np.minimum(p * treat.react, 1.0)
    return p


def _churn(st, t, U, env, alive, rec, treat) -> None:
    comp = hazard_components(st, t, env)
    if treat is not None:
        treated = comp * treat.mult
        h_ctrl = comp.sum(axis=0)
        comp = treated
        h = comp.sum(axis=0)
        ratio = np.where(treat.treated, h / np.maximum(h_ctrl, 1e-12), 1.0)
    else:
        h = comp.sum(axis=0)
        ratio = None
    intent = st["intent"]
    deciding = alive & ~intent
    decide = deciding & (U[22] < -np.expm1(-h))
    # customers already in intent: cancel (slowed or sped by an offer) or change their mind (an offer
    # may persuade them)
    p_cancel = 1.0 / env.knobs.intent_days
    if ratio is not None:
        p_cancel = np.minimum(p_cancel * ratio, 1.0)
    p_abandon = _abandon_rate(p_cancel, treat)
    cancel = intent & alive & (U[24] < p_cancel)
    abandon = intent & alive & ~cancel & (U[24] > 1.0 - p_abandon)
    st["intent"] = (intent & ~abandon) & ~cancel
    di = np.flatnonzero(decide)
    moved_now = np.zeros(0, np.int64)
    if di.size:
        c = comp[:, di]
        cum = np.cumsum(c, axis=0)
        mech = (U[23, di][None, :] * cum[-1] > cum).sum(axis=0).astype(np.int8)
        mech = np.minimum(mech, M - 1)
        st["churn_mech"][di] = mech
        st["decision_day"][di] = t
        st["shares"][:, di] = (c / np.maximum(cum[-1], 1e-300)).astype(np.float32)
        is_moved = mech == MECH_INDEX["moved"]
        moved_now = di[is_moved]
        st["intent"][di[~is_moved]] = True
    leave = np.concatenate([np.flatnonzero(cancel), moved_now])
    if leave.size:
        st["alive"][leave] = False
        st["intent"][leave] = False
        st["churn_day"][leave] = t
        if rec is not None:
            answered = U[25, leave] < 0.35
            rec.add("churns", i=leave, t=np.full(leave.size, t, np.int32), mech=st["churn_mech"][leave].copy(),
                    decision_day=st["decision_day"][leave].copy(), shares=st["shares"][:, leave].T.copy(),
                    sub_no=st["sub_no"][leave].copy(), exit=answered, u_exit=U[26, leave].copy())
    # reactivation of customers who left at least a week ago
    gone = ~st["alive"] & (st["sub_no"] >= 1) & (t - st["churn_day"] >= 7)
    p = reactivation_rate(st, env, treat)
    back = np.flatnonzero(gone & (U[27] < p))
    if back.size:
        st["alive"][back] = True
        st["sub_no"][back] += 1
        st["sub_start"][back] = t
        st["next_due"][back] = t + 1
        st["mu"][back] = np.maximum(st["mu"][back], 0.0) - 0.2
        st["eng"][back] = st["mu"][back]
        st["stopped"][:, back] = False
        st["last_use"][:, back] = t
        st["last_session"][back] = t
        for key in ("late_mem", "serv_mem", "ui_mem", "serv_pend"):
            st[key][back] = 0.0
        st["intent"][back] = False
        if rec is not None:
            rec.add("starts", i=back, t=np.full(back.size, t, np.int32), sub_no=st["sub_no"][back].copy())


def simulate(st: dict, t0: int, t1: int, rng: np.random.Generator, env: Env, rec: Recorder | None = None,
             treat: Treatment | None = None, bar=None, chain: FateChain | None = None) -> dict:
    """Run days ``t0 <= t < t1`` on the chunk state ``st`` (in place) and return it."""
    for t in range(t0, t1):
        step(st, t, rng, env, rec, treat, chain)
        if bar is not None:
            bar.update(1)
    return st


def take_state(st: dict, idx: np.ndarray) -> dict:
    """Return the state of the customers ``idx`` only (a copy; the customer is the last axis)."""
    return {k: v[..., idx].copy() for k, v in st.items()}


def tile_state(st: dict, k: int) -> dict:
    """``k`` copies of every customer side by side (copy j of customer i at ``j * n + i``)."""
    return {key: np.tile(v, (1,) * (v.ndim - 1) + (k,)) for key, v in st.items()}


def concat_states(states: list[dict]) -> dict:
    """States of several chunks joined along the customer axis."""
    return {k: np.concatenate([s[k] for s in states], axis=-1) for k in states[0]}
