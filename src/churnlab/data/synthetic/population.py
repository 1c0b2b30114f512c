"""Who the customers are: static attributes and the initial latent state of one chunk of customers.

Grain: one entry per customer of the chunk (arrays whose last axis is the customer). Categorical
attributes are small integer codes into the vocabularies below; :mod:`.tables` decodes them.
"""

from __future__ import annotations

import numpy as np

from churnlab import config as C

__all__ = [
    "REGIONS", "CHANNELS", "PLAN_FEES", "N_COMPONENTS", "ADOPTION", "USE_PER_SESSION",
    "ACTIVATION_BY_CHANNEL", "VISIT_TO_SIGNUP_BY_CHANNEL", "draw_population",
]

REGIONS = ("north", "south", "east", "west", "central")
CHANNELS = ("organic", "paid_search", "social", "referral", "partner", "sales")
# channel mix by segment (B2B, B2C)
CHANNEL_MIX = (
    np.array([0.20, 0.20, 0.05, 0.15, 0.15, 0.25]),
    np.array([0.30, 0.25, 0.25, 0.15, 0.05, 0.00]),
)
PLAN_MIX = (np.array([0.20, 0.50, 0.30]), np.array([0.60, 0.35, 0.05]))
PLAN_FEES = np.array([19.0, 49.0, 199.0])
N_COMPONENTS = len(C.COMPONENTS)
# probability a customer ever adopts each component, by segment (B2B, B2C); order of config.COMPONENTS
ADOPTION = (
    np.array([0.95, 0.75, 0.55, 0.45, 0.60, 0.30]),
    np.array([0.90, 0.45, 0.15, 0.20, 0.20, 0.65]),
)
USE_PER_SESSION = np.array([0.55, 0.30, 0.25, 0.25, 0.30, 0.40])
# onboarding success (activation within 14 days) by channel; B2C is 5 points lower
ACTIVATION_BY_CHANNEL = np.array([0.80, 0.72, 0.62, 0.86, 0.82, 0.90])
# share of visits that become signups, by channel (the rest are prospects in the funnel table)
VISIT_TO_SIGNUP_BY_CHANNEL = np.array([0.35, 0.20, 0.15, 0.50, 0.45, 0.60])
N_ACCOUNT_MANAGERS = 25
FRAILTY_ENG = 1.0  # engagement level lost per unit of log frailty


def _choice(u: np.ndarray, probs_by_row: np.ndarray) -> np.ndarray:
    """Inverse-CDF categorical draw: ``u`` (n,) uniforms, ``probs_by_row`` (n, k) probabilities."""
    cdf = np.cumsum(probs_by_row, axis=1)
    cdf /= cdf[:, -1:]
    return (u[:, None] > cdf).sum(axis=1).astype(np.int8)


def draw_population(
    rng: np.random.Generator, gid: np.ndarray, n_days: int, knobs, ui_hit_b2b: bool
) -> dict[str, np.ndarray]:
    """Draw static attributes and initial state for the customers ``gid`` of one chunk.

    Parameters
    ----------
    rng : numpy Generator
        The chunk's simulation stream.
    gid : ndarray of int64
        Global customer numbers (``c000123`` is number 123).
    n_days : int
        Length of the simulated period in days (signups of new customers fall in it).
    knobs : Knobs
        The world's settings (segment mix, noise, shares).
    ui_hit_b2b : bool
        Whether the UI change hits B2B (else B2C).

    Returns
    -------
    dict of str to ndarray
        One array per attribute, last axis = customer.
    """
    n = len(gid)
    U = rng.random((24, n))
    Z = rng.standard_normal((8, n))
    b2b = U[0] < knobs.share_b2b
    s = (~b2b).astype(int)  # 0 = B2B row of the mix tables, 1 = B2C
    channel = _choice(U[1], np.stack([CHANNEL_MIX[0], CHANNEL_MIX[1]])[s])
    plan = _choice(U[2], np.stack([PLAN_MIX[0], PLAN_MIX[1]])[s])
    fee = PLAN_FEES[plan] * np.where(b2b, 2.0, 1.0) * np.exp(0.15 * Z[0])
    fee = np.round(fee, 2)
    region = (U[3] * len(REGIONS)).astype(np.int8)
    dnd = U[4] < knobs.dnd_share
    manager = np.where(b2b, (U[5] * N_ACCOUNT_MANAGERS).astype(np.int16), -1).astype(np.int16)
    tenured = U[6] < knobs.share_tenured
    signup_day = np.where(tenured, -np.floor(30 + U[7] * 1065), np.floor(U[7] * n_days)).astype(np.int32)
    signup_sec = (21600 + U[8] * 14400).astype(np.int32)  # 06:00-10:00
    # rhythm: B2B mostly daily users; B2C weekly or monthly users
    daily = np.where(b2b, U[9] < 0.85, U[9] < 0.15)
    weekly = ~daily & np.where(b2b, True, U[9] < 0.55)
    rate = np.where(daily, 1.0, np.where(weekly, 0.25, 0.06))
    sharer = U[10] < knobs.sharer_share
    frailty = np.exp(knobs.noise * Z[1] - 0.5 * knobs.noise**2)
    ps = np.exp(0.55 * Z[2] - 0.15 + np.where(b2b, -0.2, 0.15) + np.where(plan == 0, 0.15, 0.0))
    # weakly attached (frail) customers use the product less: frailty shows in their usage
    mu = 0.55 * Z[3] - FRAILTY_ENG * np.log(frailty)
    decliner = U[11] < 0.2
    p_act = ACTIVATION_BY_CHANNEL[channel] - np.where(b2b, 0.0, 0.05)
    activated = np.where(tenured, U[12] < 0.95, U[12] < p_act)
    act_offset = np.floor(1 + U[13] * 13).astype(np.int16)
    mu = mu - np.where(activated, 0.0, 0.8)
    # component adoption: ever adopted and when (days after signup)
    adopt_p = np.stack([ADOPTION[0], ADOPTION[1]])[s].T  # (6, n)
    ever = rng.random((N_COMPONENTS, n)) < adopt_p * np.where(activated, 1.0, 0.5)
    delay = np.floor(-np.log(rng.random((N_COMPONENTS, n))) * 20).astype(np.int32)
    adopt_day = np.where(ever, signup_day[None, :] + delay, np.iinfo(np.int32).max // 2).astype(np.int32)
    late_prop = -3.4 + 0.9 * Z[4] + 0.6 * np.log(ps)
    backlash = U[14] < knobs.backlash_share * np.where(dnd, 3.0, 1.0)
    hit = b2b if ui_hit_b2b else ~b2b
    ui_susc = np.where(hit & (U[15] < 0.6), np.exp(0.5 * Z[5]), 0.0)
    # first invoice 14 days after signup (trial), then every 30 days
    first_due = signup_day + 14
    next_due = np.where(first_due >= 0, first_due, first_due + 30 * np.ceil(-first_due / 30)).astype(np.int32)
    eng = mu + 0.26 * Z[6]
    fee_norm = fee / np.where(b2b, fee[b2b].mean() if b2b.any() else 1.0, fee[~b2b].mean() if (~b2b).any() else 1.0)
    return {
        "gid": gid.astype(np.int64),
        "b2b": b2b, "channel": channel, "plan": plan, "fee": fee, "fee_norm": fee_norm, "region": region,
        "dnd": dnd, "manager": manager, "tenured": tenured, "signup_day": signup_day, "signup_sec": signup_sec,
        "rate": rate, "sharer": sharer, "frailty": frailty, "ps": ps, "mu": mu, "decliner": decliner,
        "activated": activated, "act_offset": act_offset, "adopt_day": adopt_day, "late_prop": late_prop,
        "backlash": backlash, "ui_susc": ui_susc,
        # dynamic state
        "alive": tenured.copy(), "eng": eng, "sat": Z[7],
        "last_session": np.where(tenured, -1 - np.floor(U[16] / rate), signup_day).astype(np.int32),
        "stopped": np.zeros((N_COMPONENTS, n), bool),
        "last_use": np.tile(np.where(tenured, -1, signup_day), (N_COMPONENTS, 1)).astype(np.int32),
        "late_mem": np.zeros(n), "serv_mem": np.zeros(n), "ui_mem": np.zeros(n),
        "serv_pend": np.zeros(n), "serv_due": np.zeros(n, np.int32),
        "intent": np.zeros(n, bool), "next_due": next_due, "sub_no": tenured.astype(np.int16),
        "sub_start": signup_day.copy(), "churn_day": np.full(n, -(10**6), np.int32),
        "churn_mech": np.full(n, -1, np.int8), "decision_day": np.full(n, -(10**6), np.int32),
        "shares": np.zeros((13, n), np.float32), "email_unsub": np.zeros(n, bool), "push_unsub": np.zeros(n, bool),
        "n_paid": np.zeros(n, np.int32),
    }
