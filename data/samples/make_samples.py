"""Write the made-up sample datasets under data/samples/ (seeded: the same files on every run).

- ``telecom/accounts.csv``: a churn snapshot of 600 accounts with its own column names, ids with
  leading zeros (``000123``), a ``Yes``/``No`` flag, tenure in months and its own plans and segments.
- ``streaming/``: an event log of 300 subscribers of a video service with its own column names,
  ids with leading zeros, Europe/Berlin timestamps with UTC offsets (+01:00 in winter, +02:00 in
  summer), an SMS and a messenger channel next to email, and a funnel with a demo-call stage.

Nothing here is real: churn follows a simple rule of the columns (written below) plus noise, so a
model has something to find. Run from the project root::

    python data/samples/make_samples.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SEED = 20240630


def telecom(rng: np.random.Generator, n: int = 600) -> pd.DataFrame:
    """One row per account; churn is more likely on monthly contracts, with support calls and late bills."""
    contract = rng.choice(["Monthly", "Annual", "Two year"], size=n, p=[0.55, 0.3, 0.15])
    months = np.where(contract == "Monthly", rng.integers(1, 40, n), rng.integers(6, 72, n))
    plan = rng.choice(["Bronze", "Silver", "Gold"], size=n, p=[0.5, 0.35, 0.15])
    charge = np.round(np.select([plan == "Bronze", plan == "Silver"], [25.0, 45.0], 80.0) + rng.normal(0, 6, n), 2)
    calls = rng.poisson(np.where(rng.random(n) < 0.25, 3.5, 0.8))
    late = rng.poisson(0.4, n)
    data_gb = np.round(rng.gamma(2.0, 6.0, n), 1)
    logit = (
        -2.4
        + 1.5 * (contract == "Monthly")
        - 0.8 * (contract == "Two year")
        + 0.45 * calls
        + 0.5 * late
        - 0.025 * months
        - 0.03 * data_gb
        + 0.01 * (charge - 40)
    )
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    ids = rng.choice(np.arange(1, 10_000), size=n, replace=False)
    return pd.DataFrame(
        {
            "AccountNo": [f"{i:06d}" for i in ids],
            "CustomerType": rng.choice(["Consumer", "SMB", "Enterprise"], size=n, p=[0.7, 0.22, 0.08]),
            "PlanName": plan,
            "Contract": contract,
            "MonthsActive": months,
            "MonthlyCharge": charge,
            "SupportCalls": calls,
            "LateBills": late,
            "DataGB": data_gb,
            "Churned": np.where(churned, "Yes", "No"),
        }
    )


def _berlin(ts: pd.Series) -> pd.Series:
    """ISO text in Europe/Berlin local time with its UTC offset, as a CRM export writes it."""
    local = pd.to_datetime(ts).dt.tz_localize("UTC").dt.tz_convert("Europe/Berlin")
    return local.dt.strftime("%Y-%m-%dT%H:%M:%S%z").str.replace(r"(\d{2})(\d{2})$", r"\1:\2", regex=True)


def streaming(rng: np.random.Generator, n: int = 300) -> dict[str, pd.DataFrame]:
    """Subscribers, subscriptions, viewing events, messages and funnel of a video service.

    Each subscriber has a weekly viewing rate; a subscriber who is about to cancel views less and
    less over the last six weeks (the signal), and a low rate raises the monthly cancellation chance.
    """
    start, end = pd.Timestamp("2023-07-01"), pd.Timestamp("2024-06-30")
    ids = [f"{i:05d}" for i in rng.choice(np.arange(1, 20_000), size=n, replace=False)]
    signup = start + pd.to_timedelta(rng.integers(0, 180, n), unit="D") + pd.to_timedelta(rng.integers(8, 22, n), "h")
    tier = rng.choice(["Lite", "Family", "Premium"], size=n, p=[0.45, 0.4, 0.15])
    segment = rng.choice(["Private", "SMB"], size=n, p=[0.85, 0.15])
    rate = rng.gamma(2.0, 0.6, n)  # sessions per week when engaged
    monthly_churn = 0.04 + 0.25 / (1 + 2.5 * rate)
    days_kept = rng.exponential(30.4 / monthly_churn)
    cancel = signup + pd.to_timedelta(days_kept, unit="D")
    ended = cancel < end
    rows, msgs, funnel = [], [], []
    for i in range(n):
        last = min(cancel[i], end)
        days = max((last - signup[i]).days, 1)
        t = np.sort(rng.uniform(0, days, rng.poisson(rate[i] / 7 * days) + 1))
        if ended[i]:  # fading out over the last six weeks before cancelling
            keep = rng.random(len(t)) < np.clip((days - t) / 42, 0.05, 1)
            t = t[keep]
        stamps = signup[i] + pd.to_timedelta(t, unit="D")
        show = rng.choice(["series", "movies", "kids", "live"], size=len(t), p=[0.5, 0.3, 0.12, 0.08])
        rows.append(pd.DataFrame({"member": ids[i], "at": stamps, "what": "session", "section": show}))
        for m in range(int(days // 28)):
            channel = rng.choice(["email", "sms", "messenger"], p=[0.6, 0.25, 0.15])
            opened = rng.random() < (0.45 if channel == "email" else 0.7) * (0.4 if ended[i] and days - 28 * m < 45 else 1)
            msgs.append((ids[i], signup[i] + pd.Timedelta(days=28 * m + 3), channel, "newsletter", opened,
                         opened and rng.random() < 0.2, False))
        stages = ["visit", "demo_call", "signup", "activation", "first_payment"]
        activated = 1 if rng.random() < 0.4 + 0.5 * (rate[i] > 1) else None
        offsets = [-9, -4, 0, activated, 3] if rng.random() < 0.5 else [-3, None, 0, activated, 3]
        funnel += [(ids[i], s, signup[i] + pd.Timedelta(days=d)) for s, d in zip(stages, offsets) if d is not None]
    events = pd.concat(rows, ignore_index=True)
    events = events[events["at"] < end].sort_values(["at", "member"], kind="stable")
    events["at"] = _berlin(events["at"])
    messages = pd.DataFrame(msgs, columns=["member", "sent", "via", "type", "opened", "clicked", "unsubscribed"])
    messages = messages[messages["sent"] < end]
    subs = pd.DataFrame(
        {
            "member": ids,
            "contract_no": [f"K{i:04d}" for i in range(1, n + 1)],
            "since": signup.strftime("%Y-%m-%dT%H:%M"),
            "until": pd.Series(cancel.strftime("%Y-%m-%d")).where(ended, ""),
            "why": pd.Series(rng.choice(["too expensive", "not enough content", "switched", "other"], n)).where(ended, ""),
        }
    )
    members = pd.DataFrame(
        {
            "member": ids,
            "joined": signup.strftime("%d/%m/%Y %H:%M"),
            "tier": tier,
            "kind": segment,
            "price_eur": np.select([tier == "Lite", tier == "Family"], [7.99, 13.99], 17.99),
        }
    )
    stages = pd.DataFrame(funnel, columns=["member", "step", "when"])
    stages["when"] = stages["when"].dt.strftime("%Y-%m-%d %H:%M:%S")
    messages["sent"] = messages["sent"].dt.strftime("%Y-%m-%d %H:%M:%S")
    return {"members": members, "contracts": subs, "views": events, "newsletters": messages, "funnel": stages}


def main(out: Path = HERE) -> None:
    """Write both samples under ``out`` (by default over the committed copies, with identical files)."""
    rng = np.random.default_rng(SEED)
    (out / "telecom").mkdir(parents=True, exist_ok=True)
    telecom(rng).to_csv(out / "telecom" / "accounts.csv", index=False)
    (out / "streaming").mkdir(parents=True, exist_ok=True)
    for name, df in streaming(rng).items():
        df.to_csv(out / "streaming" / f"{name}.csv", index=False, sep=";" if name == "views" else ",")
    print(f"wrote {out / 'telecom'} and {out / 'streaming'}")


if __name__ == "__main__":
    main()
