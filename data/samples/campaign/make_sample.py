"""Write the committed campaign sample: a made-up shop's files after a retention campaign, with its plan.

Run from the project root: ``python data/samples/campaign/make_sample.py`` (seeded: the same files every time).
It writes, next to this script, the exports a real team would have once a campaign's weeks have passed:
``customers.csv``, ``subscriptions.csv``, ``payments.csv``, ``events.csv`` (sessions of the 120 days before the
campaign), ``assignments.csv`` (the retention experiment and its win-back experiment, holdouts included, with the
audience's risk), the files config ``campaign.yaml`` and the pre-registered ``plan.json``.

Nothing here comes from the synthetic world: the outcomes follow a small made-up model (churn and reactivation
probabilities below) in which the discount helps B2C customers most, exclusive content B2B customers, the bonus a
little for everyone, and win-back offers work best when they answer the reason the customer left. 5% of the
customers are a persistent programme holdout: no offer reaches them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from churnlab.experiment import assign
from churnlab.experiment.crm import assignments_table
from churnlab.experiment.plan import make_plan, save_plan
from churnlab.experiment.program import ProgramHoldout

HERE = Path(__file__).resolve().parent
SEED = 14
CAMPAIGN = pd.Timestamp("2024-09-30")
HORIZON = 90
AS_OF = CAMPAIGN + pd.Timedelta(days=HORIZON)
N_ACTIVE, N_LOST = 1400, 500
EXPERIMENT = "sample-retention-2024q4"
PROGRAM = ProgramHoldout("sample-programme", CAMPAIGN, AS_OF, share=0.05)
OFFERS = ("discount", "bonus", "exclusive_content")
FEES = {"basic": 19.0, "pro": 49.0, "enterprise": 99.0}
# relative cut of the 90-day churn probability by offer and segment; reactivation lift by offer and reason
CHURN_CUT = {"discount": {"B2C": 0.35, "B2B": 0.10}, "bonus": {"B2C": 0.10, "B2B": 0.10},
             "exclusive_content": {"B2C": 0.05, "B2B": 0.35}}
REACT_LIFT = {"discount": {"price": 0.12, "competitor": 0.10}, "exclusive_content": {"product": 0.10, "service": 0.08},
              "bonus": {}}


def main() -> None:
    """Draw the shop, play the campaign and write every file."""
    rng = np.random.default_rng(SEED)
    n = N_ACTIVE + N_LOST
    ids = [f"s{i:05d}" for i in range(n)]
    segment = np.where(rng.random(n) < 0.3, "B2B", "B2C")
    plan_ = np.where(segment == "B2B", rng.choice(["pro", "enterprise"], n, p=[0.6, 0.4]),
                     rng.choice(["basic", "pro"], n, p=[0.75, 0.25]))
    signup = CAMPAIGN - pd.to_timedelta(rng.integers(200, 640, n), unit="D")
    engagement = rng.normal(size=n)
    active = np.arange(n) < N_ACTIVE
    customers = pd.DataFrame({"customer_id": ids, "signup_at": signup.normalize(), "segment": segment,
                              "plan": plan_, "monthly_fee": [FEES[p] for p in plan_]})

    # who churned before the campaign, when and why
    lost_end = CAMPAIGN - pd.to_timedelta(rng.integers(7, 180, n), unit="D")
    reason = rng.choice(["price", "competitor", "product", "service", "moved", "other"], n,
                        p=[0.3, 0.15, 0.2, 0.15, 0.1, 0.1])

    # the plan: programme holdout out first, then the hash split of each experiment
    held = set(PROGRAM.members(ids))
    risk = 1 / (1 + np.exp(engagement))
    audience = pd.DataFrame({"customer_id": ids, "risk_score": risk})[active & ~np.isin(ids, list(held))]
    audience["risk_decile"] = pd.qcut(audience["risk_score"].rank(method="first"), 10, labels=False) + 1
    retention = assign(audience, EXPERIMENT, OFFERS, 0.1).merge(audience, on="customer_id")
    lost_ids = [c for c, a in zip(ids, active) if not a and c not in held]
    winback = assign(lost_ids, EXPERIMENT + "-winback", OFFERS, 0.1)
    assignments = pd.concat([assignments_table(retention, EXPERIMENT, CAMPAIGN),
                             assignments_table(winback, EXPERIMENT + "-winback", CAMPAIGN)], ignore_index=True)
    arm = dict(zip(assignments["customer_id"], assignments["arm"]))

    # what happened in the 90 days after the campaign
    subs, pays, events = [], [], []
    for i, cid in enumerate(ids):
        offer = arm.get(cid, "none")
        start = customers.at[i, "signup_at"]
        fee = customers.at[i, "monthly_fee"]
        if active[i]:
            p_churn = 1 / (1 + np.exp(1.1 + 0.8 * engagement[i]))
            if offer != "none":
                p_churn *= 1 - CHURN_CUT[offer][segment[i]]
            churns = rng.random() < p_churn
            end = CAMPAIGN + pd.Timedelta(days=int(rng.integers(1, HORIZON + 1))) if churns else pd.NaT
            why = rng.choice(["price", "competitor", "product", "service", "other"]) if churns else None
            subs.append((cid, f"sub-{cid}-1", start, end, why))
            paid_until = end if churns else AS_OF
        else:
            subs.append((cid, f"sub-{cid}-1", start, lost_end[i], reason[i]))
            p_back = 0.08 + (REACT_LIFT[offer].get(reason[i], 0.02) if offer != "none" else 0.0)
            p_back *= 0.0 if reason[i] == "moved" else 1.0
            paid_until = lost_end[i]
            if rng.random() < p_back:
                back = CAMPAIGN + pd.Timedelta(days=int(rng.integers(1, HORIZON + 1)))
                subs.append((cid, f"sub-{cid}-2", back, pd.NaT, None))
                pays.extend(_invoices(cid, back, AS_OF, fee, rng, first=100))
        pays.extend(_invoices(cid, start, paid_until, fee, rng))
        if active[i] or lost_end[i] > CAMPAIGN - pd.Timedelta(days=120):
            last = CAMPAIGN if active[i] else lost_end[i]
            first = max(CAMPAIGN - pd.Timedelta(days=120), start)
            k = rng.poisson(max((last - first).days, 0) / 30 * 3 * np.exp(0.6 * engagement[i]))
            stamps = first + pd.to_timedelta(rng.uniform(0, max((last - first).days, 0) * 86400, k).round(), unit="s")
            events.extend((cid, s, "session") for s in sorted(stamps))
    tables = {
        "customers": customers.assign(signup_at=customers["signup_at"].dt.strftime("%Y-%m-%d")),
        "subscriptions": pd.DataFrame(subs, columns=["customer_id", "subscription_id", "start_at", "end_at",
                                                     "churn_reason"]),
        "payments": pd.DataFrame(pays, columns=["customer_id", "payment_id", "due_at", "paid_at", "amount", "late"]),
        "events": pd.DataFrame(events, columns=["customer_id", "timestamp", "event_type"]),
        "assignments": assignments,
    }
    for name, df in tables.items():
        df.to_csv(HERE / f"{name}.csv", index=False, date_format="%Y-%m-%d" if name != "events" else "%Y-%m-%dT%H:%M:%S")
    (HERE / "campaign.yaml").write_text(CONFIG, encoding="utf-8")
    plan = make_plan(
        experiment_id=EXPERIMENT, campaign_date=CAMPAIGN, primary_metric="retained_90", arms=OFFERS,
        hypothesis="Each retention offer raises 90-day retention of the at-risk customers against the holdout.",
        n_audience=len(retention), base_rate=0.75, rho=0.3, effect=0.05, horizon_days=HORIZON, ni_margin=5.0,
        audience_source="analyst list: the least engaged active customers", program_id=PROGRAM.program_id,
        program_share=PROGRAM.share, program_days=HORIZON, offer_costs={"discount": 10.0, "bonus": 3.0,
                                                                       "exclusive_content": 5.0},
        planning="given by the analyst (last year's campaign)",
        extra={"winback_experiment_id": EXPERIMENT + "-winback", "winback_days": 180})
    save_plan(plan, HERE / "plan.json")
    print({k: len(v) for k, v in tables.items()})


def _invoices(cid: str, start: pd.Timestamp, until: pd.Timestamp, fee: float, rng: np.random.Generator,
              first: int = 1) -> list[tuple]:
    """Monthly invoices from ``start`` while the subscription runs (before ``until``), paid 0-9 days later.

    Only invoices due in the 120 days before the campaign or after it are exported (a recent billing export).
    """
    rows, k, due = [], first, start
    while due < until and due <= AS_OF:
        delay = int(rng.integers(0, 10))
        paid = due + pd.Timedelta(days=delay)
        if due >= CAMPAIGN - pd.Timedelta(days=120):
            rows.append((cid, f"p{cid[1:]}-{k}", due, paid if paid <= AS_OF else pd.NaT, fee, delay > 5))
        due, k = due + pd.DateOffset(months=1), k + 1
    return rows


CONFIG = """# A made-up shop's exports after a retention campaign (written by make_sample.py, seeded).
# The campaign went out on 2024-09-30; the data run 90 days past it. Try:
#   churnlab run experiments/campaign_files.yaml
name: sample_campaign
as_of: 2024-12-29
description: >
  1,900 customers of a small SaaS shop after a retention campaign (discount, bonus, exclusive content against a
  10% holdout) and its win-back experiment, with a 5% persistent programme holdout; made up, not synthetic-world data.
tables:
  customers:
    file: customers.csv
  subscriptions:
    file: subscriptions.csv
  payments:
    file: payments.csv
  events:
    file: events.csv
  assignments:
    file: assignments.csv
"""

if __name__ == "__main__":
    main()
