"""From a simulated chunk to the canonical tables.

Two stages: :func:`chunk_records` turns the population and the :class:`~.world.Recorder` of one
chunk into numeric records (codes, global customer numbers, nanosecond timestamps), which
concatenate cheaply across chunks; :func:`records_to_frames` decodes records into the canonical
pandas tables (one decode per column, through Arrow dictionaries).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from churnlab import config as C
from churnlab.data.synthetic.agents import AGENT_NAMES, draw_agents
from churnlab.data.synthetic.knobs import MECHANISM_NAMES, REASON_OF
from churnlab.data.synthetic.population import CHANNELS, REGIONS, VISIT_TO_SIGNUP_BY_CHANNEL
from churnlab.data.synthetic.world import Recorder

__all__ = ["chunk_records", "concat_records", "customer_ids", "records_to_frames", "DAY_NS", "SEC_NS", "EXIT_TRUTHFUL"]

SEC_NS = 1_000_000_000
DAY_NS = 86_400 * SEC_NS
ACTIVE_END_SEC = 82_800  # activity happens before 23:00; cancellations after
REASON_CODE = {r: i for i, r in enumerate(C.CHURN_REASONS)}
MECH_REASON = np.array([REASON_CODE[REASON_OF[m]] for m in MECHANISM_NAMES], np.int8)
#: Share of exit-survey answers that state the true churn reason; the others name a reason drawn uniformly
#: from config.CHURN_REASONS (the true one included), so a stated reason agrees with the truth with probability
#: EXIT_TRUTHFUL + (1 - EXIT_TRUTHFUL) / len(CHURN_REASONS) = 0.7917.
EXIT_TRUTHFUL = 0.75
#: The world bills every plan monthly: an invoice every 30 days (world._payments), the first one 14 days after
#: signup (the trial; population.draw_population) and the day after a return (world.step).
BILLING_PERIOD_DAYS = 30
FIRST_INVOICE_DAYS = 14


def _clock(t: np.ndarray, sec: np.ndarray, i: np.ndarray, pop: dict, start_ns: int) -> np.ndarray:
    """Nanosecond timestamps of day ``t`` at second ``sec``, never before the customer's signup."""
    sd = pop["signup_day"][i]
    lo = pop["signup_sec"][i].astype(np.float64) + 1.0
    same = t == sd
    sec = np.where(same, lo + (sec / 86_400.0) * (ACTIVE_END_SEC - lo), sec)
    return start_ns + t.astype(np.int64) * DAY_NS + sec.astype(np.int64) * SEC_NS


def _seq(i: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """1-based rank of each row among the rows of the same customer, ordered by time."""
    if not i.size:
        return np.zeros(0, np.int64)
    order = np.lexsort((ts, i))
    si = i[order]
    first = np.r_[True, si[1:] != si[:-1]]
    starts = np.flatnonzero(first)
    rank = np.arange(si.size) - np.repeat(starts, np.diff(np.r_[starts, si.size]))
    out = np.empty(si.size, np.int64)
    out[order] = rank + 1
    return out


def chunk_records(pop: dict, rec: Recorder, start: pd.Timestamp, as_of: pd.Timestamp,
                  rng: np.random.Generator, detail_rng: np.random.Generator | None = None
                  ) -> dict[str, dict[str, np.ndarray]]:
    """Numeric records of every canonical table for one simulated chunk.

    Parameters
    ----------
    pop : dict of ndarray
        Population and final state of the chunk (see :func:`.population.draw_population`).
    rec : Recorder
        What happened during the run; its days are ``rec.t0 .. rec.t0 + rec.n_days - 1``.
    start, as_of : Timestamp
        Day 0 of the world and the observation time (nothing is stamped after it).
    rng : numpy Generator
        The chunk's expansion stream (times of day and other details that drive nothing).
    detail_rng : numpy Generator, optional
        A separate stream for the details added later (ticket agents and first-response times), so
        the draws of ``rng`` stay where they were; default a child of ``rng``'s seed sequence.

    Returns
    -------
    dict of str to dict of ndarray
        Per table, columns as arrays; ``gid`` is the global customer number, ``*_ns`` are
        nanoseconds since the epoch, ``*_code`` index into the vocabularies.
    """
    start_ns = pd.Timestamp(start).value
    as_of_ns = pd.Timestamp(as_of).value
    gid = pop["gid"]
    out: dict[str, dict[str, np.ndarray]] = {}
    t0 = rec.t0
    first_run = t0 == 0

    # events: expand daily counts
    parts = []
    for code, counts in ((0, rec.sessions), (2, rec.exports)):
        d, i = np.nonzero(counts)
        c = counts[d, i]
        parts.append((np.repeat(d, c), np.repeat(i, c), np.full(int(c.sum()), code, np.int8),
                      np.full(int(c.sum()), -1, np.int8)))
    d, k, i = np.nonzero(rec.comps)
    c = rec.comps[d, k, i]
    parts.append((np.repeat(d, c), np.repeat(i, c), np.full(int(c.sum()), 1, np.int8), np.repeat(k, c).astype(np.int8)))
    ed = np.concatenate([p[0] for p in parts]).astype(np.int32) + t0
    ei = np.concatenate([p[1] for p in parts])
    sec = 60.0 + rng.random(ed.size) * (ACTIVE_END_SEC - 60.0)
    out["events"] = {
        "gid": gid[ei], "ts_ns": _clock(ed, sec, ei, pop, start_ns),
        "type_code": np.concatenate([p[2] for p in parts]), "component_code": np.concatenate([p[3] for p in parts]),
    }

    # tickets
    tk = rec.table("tickets")
    if tk:
        ti = tk["i"]
        opened = _clock(tk["t"], 28_800.0 + rng.random(ti.size) * 36_000.0, ti, pop, start_ns)
        if detail_rng is None:
            detail_rng = np.random.Generator(np.random.PCG64(rng.bit_generator.seed_seq.spawn(1)[0]))
        agent, first_response = draw_agents(tk["line"], tk["bot"], tk["fcr"], np.round(tk["hours"], 2), detail_rng)
        out["tickets"] = {"gid": gid[ti], "opened_ns": opened, "line": tk["line"].astype(np.int64),
                          "cat_code": tk["cat"], "bot": tk["bot"], "fcr": tk["fcr"], "hours": tk["hours"],
                          "csat": tk["csat"], "agent_code": agent, "first_response": first_response}
    # payments
    pm = rec.table("payments")
    if pm:
        due = start_ns + pm["t"].astype(np.int64) * DAY_NS
        paid = due + (pm["delay"] * 86_400).astype(np.int64) * SEC_NS
        paid = np.where(paid <= as_of_ns, paid, np.iinfo(np.int64).min)
        out["payments"] = {"gid": gid[pm["i"]], "due_ns": due, "paid_ns": paid, "amount": pm["amount"],
                           "late": pm["late"], "first": pm["first"] & (pm["sub_no"] == 1)}
    # contacts
    ct = rec.table("contacts")
    if ct:
        out["contacts"] = {"gid": gid[ct["i"]],
                           "ts_ns": _clock(ct["t"], 36_000.0 + rng.random(ct["i"].size) * 25_200.0, ct["i"], pop,
                                           start_ns),
                           "kind_code": ct["kind"], "reached": ct["reached"]}
    # churns and starts -> subscriptions
    ch = rec.table("churns")
    st_ = rec.table("starts")
    churn_i = ch["i"] if ch else np.zeros(0, np.int64)
    end_ns = (start_ns + ch["t"].astype(np.int64) * DAY_NS
              + (ACTIVE_END_SEC + 1 + rng.random(churn_i.size) * 3_500.0).astype(np.int64) * SEC_NS) if ch else \
        np.zeros(0, np.int64)
    subs = {"gid": [], "sub_no": [], "start_ns": [], "anchor_ns": []}
    if first_run:
        first = pop["signup_day"] < t0 + rec.n_days
        fi = np.flatnonzero(first)
        subs["gid"].append(gid[fi])
        subs["sub_no"].append(np.ones(fi.size, np.int64))
        subs["start_ns"].append(start_ns + pop["signup_day"][fi].astype(np.int64) * DAY_NS
                                + pop["signup_sec"][fi].astype(np.int64) * SEC_NS)
        # the billing schedule: first invoice FIRST_INVOICE_DAYS after signup (the trial), then every period
        subs["anchor_ns"].append(start_ns + (pop["signup_day"][fi].astype(np.int64) + FIRST_INVOICE_DAYS) * DAY_NS)
    if st_:
        subs["gid"].append(gid[st_["i"]])
        subs["sub_no"].append(st_["sub_no"].astype(np.int64))
        subs["start_ns"].append(_clock(st_["t"], 28_800.0 + rng.random(st_["i"].size) * 3_600.0, st_["i"], pop,
                                       start_ns))
        # a returning customer is invoiced the day after they come back (world.step: next_due = t + 1)
        subs["anchor_ns"].append(start_ns + (st_["t"].astype(np.int64) + 1) * DAY_NS)
    out["sub_starts"] = {k: (np.concatenate(v) if v else np.zeros(0, np.int64)) for k, v in subs.items()}
    out["sub_starts"]["as_of_ns"] = np.full(out["sub_starts"]["gid"].size, as_of_ns, np.int64)
    out["sub_ends"] = {"gid": gid[churn_i], "sub_no": ch["sub_no"].astype(np.int64) if ch else np.zeros(0, np.int64),
                       "end_ns": end_ns,
                       "reason_code": MECH_REASON[ch["mech"]] if ch else np.zeros(0, np.int8)}
    # churn truth (drivers)
    if ch:
        out["churn_truth"] = {"gid": gid[churn_i], "end_ns": end_ns, "mech": ch["mech"],
                              "decided_ns": start_ns + ch["decision_day"].astype(np.int64) * DAY_NS,
                              "shares": ch["shares"]}
    # surveys: NPS, CSAT after tickets, exit surveys
    sv = rec.table("surveys")
    sg, sts, skind, sscore, sreason = [], [], [], [], []
    if sv:
        sg.append(gid[sv["i"]])
        sts.append(_clock(sv["t"], 32_400.0 + rng.random(sv["i"].size) * 43_200.0, sv["i"], pop, start_ns))
        skind.append(np.zeros(sv["i"].size, np.int8))
        sscore.append(sv["score"])
        sreason.append(np.full(sv["i"].size, -1, np.int8))
    if tk:
        answered = ~np.isnan(tk["csat"])
        at = out["tickets"]["opened_ns"] + (tk["hours"] * 3600).astype(np.int64) * SEC_NS
        keep = answered & (at <= as_of_ns)
        sg.append(gid[tk["i"][keep]])
        sts.append(at[keep])
        skind.append(np.ones(int(keep.sum()), np.int8))
        sscore.append(tk["csat"][keep])
        sreason.append(np.full(int(keep.sum()), -1, np.int8))
    if ch:
        ex = ch["exit"]
        true_reason = MECH_REASON[ch["mech"][ex]]
        u = ch["u_exit"][ex]
        other = np.minimum(((u - EXIT_TRUTHFUL) / (1 - EXIT_TRUTHFUL) * len(C.CHURN_REASONS)).astype(np.int8),
                           len(C.CHURN_REASONS) - 1)
        sg.append(gid[churn_i[ex]])
        sts.append(end_ns[ex])
        skind.append(np.full(int(ex.sum()), 2, np.int8))
        sscore.append(np.full(int(ex.sum()), np.nan))
        sreason.append(np.where(u < EXIT_TRUTHFUL, true_reason, np.maximum(other, 0)).astype(np.int8))
    if sg:
        out["surveys"] = {"gid": np.concatenate(sg), "ts_ns": np.concatenate(sts),
                          "kind_code": np.concatenate(skind), "score": np.concatenate(sscore).astype(float),
                          "reason_code": np.concatenate(sreason)}
    # messages
    ms = rec.table("messages")
    if ms:
        sec = np.where(ms["channel"] == 0, 32_400.0, 64_800.0) + rng.random(ms["i"].size) * 1_800.0
        out["messages"] = {"gid": gid[ms["i"]], "ts_ns": _clock(ms["t"], sec, ms["i"], pop, start_ns),
                           "channel_code": ms["channel"], "kind_code": ms["kind"], "offer_code": ms["offer"],
                           "opened": ms["opened"], "clicked": ms["clicked"], "unsub": ms["unsub"],
                           "redeemed": ms["redeemed"]}
    if first_run:
        out.update(_customer_records(pop, rec, start_ns, as_of_ns, rng, out.get("payments")))
    return out


def _customer_records(pop, rec, start_ns, as_of_ns, rng, payments) -> dict[str, dict[str, np.ndarray]]:
    """Build customers and funnel records (visit, signup, activation, first payment; prospects who never signed up)."""
    gid = pop["gid"]
    keep = pop["signup_day"] < rec.t0 + rec.n_days
    ki = np.flatnonzero(keep)
    signup_ns = start_ns + pop["signup_day"].astype(np.int64) * DAY_NS + pop["signup_sec"].astype(np.int64) * SEC_NS
    customers = {
        "gid": gid[ki], "signup_ns": signup_ns[ki], "b2b": pop["b2b"][ki], "plan_code": pop["plan"][ki],
        "region_code": pop["region"][ki], "channel_code": pop["channel"][ki], "fee": pop["fee"][ki],
        "dnd": pop["dnd"][ki], "manager": pop["manager"][ki],
    }
    n = ki.size
    visit_ns = signup_ns[ki] - (rng.random(n) * 10 * DAY_NS).astype(np.int64) - 60 * SEC_NS
    act_ns = signup_ns[ki] + pop["act_offset"][ki].astype(np.int64) * DAY_NS
    act_ok = pop["activated"][ki] & (act_ns <= as_of_ns)
    # first payment: from the records, or before the start for long-standing customers
    fp = np.full(gid.size, np.iinfo(np.int64).min, np.int64)
    early = pop["signup_day"] + 14 < 0
    fp[early] = (signup_ns[early] + 14 * DAY_NS + (rng.random(int(early.sum())) * 3 * DAY_NS).astype(np.int64))
    if payments is not None:
        f = payments["first"] & (payments["paid_ns"] != np.iinfo(np.int64).min)
        local = payments["gid"][f] - gid[0]
        # long-standing customers paid their first invoice before the world began: their first invoice in
        # the world is not their first payment (it used to overwrite it, stamping first_payment years late)
        mine = ~early[local]
        fp[local[mine]] = payments["paid_ns"][f][mine]
    fp = fp[ki]
    fp_ok = fp != np.iinfo(np.int64).min
    # prospects: visits of the same channel that never signed up
    conv = VISIT_TO_SIGNUP_BY_CHANNEL[pop["channel"][ki]] - np.where(pop["b2b"][ki], 0.0, 0.05)
    n_pros = np.floor(-np.log(rng.random(n)) * (1 - conv) / conv * 1.0 + rng.random(n)).astype(np.int64)
    pg = np.repeat(gid[ki], n_pros)
    pk = _seq(pg, np.zeros(pg.size, np.int64))
    pts = np.repeat(signup_ns[ki], n_pros) - (rng.random(pg.size) * 20 * DAY_NS).astype(np.int64)
    pts = np.minimum(pts, as_of_ns)
    stage_parts = [
        (gid[ki], np.zeros(n, np.int64), visit_ns, ki),
        (gid[ki], np.full(n, 1, np.int64), signup_ns[ki], ki),
        (gid[ki][act_ok], np.full(int(act_ok.sum()), 2, np.int64), act_ns[act_ok], ki[act_ok]),
        (gid[ki][fp_ok], np.full(int(fp_ok.sum()), 3, np.int64), fp[fp_ok], ki[fp_ok]),
    ]
    pidx = np.repeat(ki, n_pros)
    funnel = {
        "gid": np.concatenate([p[0] for p in stage_parts] + [pg]),
        "prospect": np.concatenate([np.zeros(sum(p[0].size for p in stage_parts), np.int64), pk]),
        "stage_code": np.concatenate([p[1] for p in stage_parts] + [np.zeros(pg.size, np.int64)]),
        "ts_ns": np.concatenate([p[2] for p in stage_parts] + [pts]),
        "b2b": np.concatenate([pop["b2b"][p[3]] for p in stage_parts] + [pop["b2b"][pidx]]),
        "channel_code": np.concatenate([pop["channel"][p[3]] for p in stage_parts] + [pop["channel"][pidx]]),
    }
    return {"customers": customers, "funnel": funnel}


def concat_records(parts: list[dict[str, dict[str, np.ndarray]]]) -> dict[str, dict[str, np.ndarray]]:
    """Concatenate the records of several chunks table by table."""
    out: dict[str, dict[str, np.ndarray]] = {}
    names = {t for p in parts for t in p}
    for t in names:
        have = [p[t] for p in parts if t in p]
        out[t] = {c: np.concatenate([h[c] for h in have]) for c in have[0]}
    return out


def _decode(codes: np.ndarray, vocab: tuple | list) -> pd.Series:
    """Strings from integer codes (negative code = missing) as a pandas string column."""
    codes = np.asarray(codes)
    mask = codes < 0
    arr = pa.DictionaryArray.from_arrays(
        pa.array(np.where(mask, 0, codes).astype(np.int32), mask=mask), pa.array(list(vocab), pa.string())
    ).dictionary_decode()
    return pd.Series(arr.to_pandas(), dtype="string")


def customer_ids(gid: np.ndarray, width: int, prefix: str = "c", suffix: np.ndarray | None = None) -> pd.Series:
    """Decode customer ids ``c000123`` (or ``<prefix><number>-<suffix>``) from global customer numbers."""
    gid = np.asarray(gid, np.int64)
    lo = int(gid.min()) if gid.size else 0
    hi = int(gid.max()) if gid.size else -1
    if hi - lo + 1 <= 4 * max(gid.size, 1):
        uniq, inv = np.arange(lo, hi + 1), gid - lo
    else:
        uniq, inv = np.unique(gid, return_inverse=True)
    vocab = [f"{prefix}{g:0{width}d}" for g in uniq.tolist()]
    ids = _decode(inv, vocab)
    if suffix is not None:
        ids = ids + "-" + pd.Series(suffix, dtype="string").astype("string")
    return ids


def _ts(ns: np.ndarray) -> np.ndarray:
    out = np.asarray(ns, np.int64).view("datetime64[ns]").copy()
    out[np.asarray(ns) == np.iinfo(np.int64).min] = np.datetime64("NaT")
    return out


def records_to_frames(rec: dict[str, dict[str, np.ndarray]], width: int) -> dict[str, pd.DataFrame]:
    """Decode numeric records into the canonical tables (see :data:`churnlab.schema.SCHEMAS`).

    Parameters
    ----------
    rec : dict
        Output of :func:`chunk_records` (or :func:`concat_records` of several).
    width : int
        Digits of the customer number in ids (``c`` + ``width`` digits).

    Returns
    -------
    dict of str to DataFrame
        ``customers, subscriptions, payments, events, tickets, messages, contacts, surveys, funnel``
        (tables with no rows in ``rec`` are omitted). Rows are sorted by customer and time.
    """
    out: dict[str, pd.DataFrame] = {}
    if "customers" in rec:
        c = rec["customers"]
        order = np.argsort(c["gid"], kind="stable")
        c = {k: v[order] for k, v in c.items()}
        out["customers"] = pd.DataFrame({
            C.CUSTOMER_ID: customer_ids(c["gid"], width), C.SIGNUP_AT: _ts(c["signup_ns"]),
            C.SEGMENT: _decode(np.where(c["b2b"], 0, 1), C.SEGMENTS),
            "plan": _decode(c["plan_code"], C.PLANS), "region": _decode(c["region_code"], REGIONS),
            "channel": _decode(c["channel_code"], CHANNELS), "monthly_fee": c["fee"].astype(float),
            "do_not_disturb": c["dnd"].astype(bool),
            "account_manager": _decode(c["manager"], [f"am{i:02d}" for i in range(1, 26)]),
        })
    if "sub_starts" in rec:
        out["subscriptions"] = _subscriptions(rec, width)
    if "payments" in rec:
        p = _sorted(rec["payments"], "due_ns")
        seq = _seq(p["gid"], p["due_ns"])
        out["payments"] = pd.DataFrame({
            C.CUSTOMER_ID: customer_ids(p["gid"], width), "payment_id": customer_ids(p["gid"], width, "c", seq),
            "due_at": _ts(p["due_ns"]), "paid_at": _ts(p["paid_ns"]), "amount": p["amount"].astype(float),
            "late": p["late"].astype(bool),
        })
        out["payments"]["payment_id"] = ("pay-" + out["payments"]["payment_id"]).astype("string")
    if "events" in rec:
        e = _sorted(rec["events"], "ts_ns")
        out["events"] = pd.DataFrame({
            C.CUSTOMER_ID: customer_ids(e["gid"], width), C.TIMESTAMP: _ts(e["ts_ns"]),
            "event_type": _decode(e["type_code"], C.EVENT_TYPES), "component": _decode(e["component_code"],
                                                                                         C.COMPONENTS),
        })
    if "tickets" in rec:
        k = _sorted(rec["tickets"], "opened_ns")
        seq = _seq(k["gid"], k["opened_ns"])
        out["tickets"] = pd.DataFrame({
            C.CUSTOMER_ID: customer_ids(k["gid"], width),
            "ticket_id": ("tk-" + customer_ids(k["gid"], width, "c", seq)).astype("string"),
            "opened_at": _ts(k["opened_ns"]), "line": k["line"].astype(np.int64),
            "category": _decode(k["cat_code"], C.TICKET_CATEGORIES), "resolved_by_bot": k["bot"].astype(bool),
            "first_contact_resolution": k["fcr"].astype(bool), "hours_to_resolve": np.round(k["hours"], 2),
            "csat": k["csat"].astype(float),
        })
        if "agent_code" in k:
            out["tickets"]["agent"] = _decode(k["agent_code"], AGENT_NAMES)
            out["tickets"]["first_response_hours"] = np.round(k["first_response"], 2)
    if "messages" in rec:
        m = _sorted(rec["messages"], "ts_ns")
        out["messages"] = pd.DataFrame({
            C.CUSTOMER_ID: customer_ids(m["gid"], width), "sent_at": _ts(m["ts_ns"]),
            "channel": _decode(m["channel_code"], C.MESSAGE_CHANNELS), "kind": _decode(m["kind_code"], C.MESSAGE_KINDS),
            "offer": _decode(m["offer_code"], C.OFFERS), "opened": m["opened"].astype(bool),
            "clicked": m["clicked"].astype(bool), "unsubscribed": m["unsub"].astype(bool),
            "redeemed": m["redeemed"].astype(bool),
        })
    if "contacts" in rec:
        k = _sorted(rec["contacts"], "ts_ns")
        out["contacts"] = pd.DataFrame({
            C.CUSTOMER_ID: customer_ids(k["gid"], width), "contacted_at": _ts(k["ts_ns"]),
            "kind": _decode(k["kind_code"], C.CONTACT_KINDS), "reached": k["reached"].astype(bool),
        })
    if "surveys" in rec:
        s = _sorted(rec["surveys"], "ts_ns")
        out["surveys"] = pd.DataFrame({
            C.CUSTOMER_ID: customer_ids(s["gid"], width), "answered_at": _ts(s["ts_ns"]),
            "kind": _decode(s["kind_code"], C.SURVEY_KINDS), "score": s["score"].astype(float),
            "reason": _decode(s["reason_code"], C.CHURN_REASONS),
        })
    if "funnel" in rec:
        f = _sorted(rec["funnel"], "ts_ns")
        ids = customer_ids(f["gid"], width)
        pids = customer_ids(f["gid"], width, "p", f["prospect"])
        is_p = f["prospect"] > 0
        out["funnel"] = pd.DataFrame({
            C.CUSTOMER_ID: pd.Series(np.where(is_p, pids.to_numpy(object), ids.to_numpy(object)), dtype="string"),
            "stage": _decode(f["stage_code"], C.FUNNEL_STAGES), "reached_at": _ts(f["ts_ns"]),
            C.SEGMENT: _decode(np.where(f["b2b"], 0, 1), C.SEGMENTS), "channel": _decode(f["channel_code"], CHANNELS),
        })
    return out


def _sorted(cols: dict[str, np.ndarray], ts: str) -> dict[str, np.ndarray]:
    t = cols[ts].astype(np.int64)
    span = int(t.max() - t.min()) // SEC_NS + 1 if t.size else 1
    if t.size and int(cols["gid"].max()) < (2**62) // span:
        order = np.argsort(cols["gid"].astype(np.int64) * span + (t - t.min()) // SEC_NS, kind="stable")
    else:
        order = np.lexsort((t, cols["gid"]))
    return {k: v[order] for k, v in cols.items()}


def _subscriptions(rec: dict, width: int) -> pd.DataFrame:
    s = rec["sub_starts"]
    e = rec["sub_ends"]
    key_s = s["gid"] * 10_000 + s["sub_no"]
    key_e = e["gid"] * 10_000 + e["sub_no"]
    order = np.argsort(key_s, kind="stable")
    key_s = key_s[order]
    s = {k: v[order] for k, v in s.items()}
    end = np.full(key_s.size, np.iinfo(np.int64).min, np.int64)
    reason = np.full(key_s.size, -1, np.int8)
    pos = np.searchsorted(key_s, key_e)
    ok = (pos < key_s.size) & (key_s[np.minimum(pos, key_s.size - 1)] == key_e)
    end[pos[ok]] = e["end_ns"][ok]
    reason[pos[ok]] = e["reason_code"][ok]
    return pd.DataFrame({
        C.CUSTOMER_ID: customer_ids(s["gid"], width),
        "subscription_id": ("sub-" + customer_ids(s["gid"], width, "c", s["sub_no"])).astype("string"),
        "start_at": _ts(s["start_ns"]), "end_at": _ts(end),
        "renewal_at": _ts(renewal_ns(s["anchor_ns"], np.where(end == np.iinfo(np.int64).min, s["as_of_ns"], end))),
        "billing_period_days": np.full(key_s.size, BILLING_PERIOD_DAYS, np.int64),
        "churn_reason": _decode(reason, C.CHURN_REASONS),
    })


def renewal_ns(anchor_ns: np.ndarray, at_ns: np.ndarray, period_days: int = BILLING_PERIOD_DAYS) -> np.ndarray:
    """End of the paid term running at ``at_ns``: the first invoice day of the schedule on or after its day.

    The schedule is ``anchor + k * period`` (``k >= 0``; before the first invoice the term is the trial, which
    ends at the anchor). ``at_ns`` is the subscription's end, or the observation time while it runs: the
    subscription's ``renewal_at`` is the date a CRM shows for it at the data's ``as_of`` (Stripe's
    ``current_period_end``).

    Examples
    --------
    >>> days = renewal_ns(np.array([10 * DAY_NS]), np.array([5, 10, 11, 40, 41]) * DAY_NS + 3_600 * SEC_NS)
    >>> (days // DAY_NS).tolist()  # trial until day 10; then terms end on days 40, 70, ...
    [10, 10, 40, 40, 70]
    """
    anchor = np.asarray(anchor_ns, np.int64) // DAY_NS
    day = np.asarray(at_ns, np.int64) // DAY_NS
    k = np.maximum(0, -((anchor - day) // period_days))  # ceil((day - anchor) / period), at least 0
    return (anchor + k * period_days) * DAY_NS
