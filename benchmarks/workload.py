"""The 5M-event feature workload of issue 15: 100k customer ids with skewed activity, 12 monthly cutoffs.

Customers sign up over 2020-01-01 .. 2024-12-01; one in fifty leaves at a random time during 2024
(after signing up). Each customer's activity rate is log-normal (sigma 1.2), so a few customers produce
most events, as in real usage logs. Events are sessions (70%), component uses (20%, one of six
components), purchases (6%, with an amount) and data exports (4%), stamped uniformly at random
over the customer's active life within 2023-01-01 .. 2024-12-31 (two years of history). Label rows are every customer
signed up before and not yet gone at each month start of 2024 (``customer_id, cutoff``); with
the default sizes there are about 1.08M of them.

The tables use the canonical types (string ids, ``datetime64`` timestamps), so churnlab reads them
like any dataset; ``write_parquet`` stores them where the benchmark reads them.

Usage: ``python benchmarks/workload.py [--customers 100000] [--events 5000000] [--out DIR]``
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SIGNUP_FROM, START, END = pd.Timestamp("2020-01-01"), pd.Timestamp("2023-01-01"), pd.Timestamp("2024-12-31")
LEAVE_SHARE, LEAVE_FROM = 0.02, pd.Timestamp("2024-01-01")
CUTOFFS = pd.date_range("2024-01-01", periods=12, freq="MS")
COMPONENTS = np.array(["dashboard", "reports", "alerts", "api", "mobile", "integrations"])
TYPES = np.array(["session", "component_use", "purchase", "export"])
TYPE_SHARES = np.array([0.70, 0.20, 0.06, 0.04])


@dataclass(frozen=True)
class Workload:
    """The workload's tables: ``customers``, ``events`` and the label rows ``keys``."""

    customers: pd.DataFrame
    events: pd.DataFrame
    keys: pd.DataFrame

    def write_parquet(self, folder: str | Path) -> dict[str, Path]:
        """Write each table to ``folder/<name>.parquet`` and return the paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name in ("customers", "events", "keys"):
            paths[name] = folder / f"{name}.parquet"
            getattr(self, name).to_parquet(paths[name], index=False)
        return paths


def make_workload(n_customers: int = 100_000, n_events: int = 5_000_000, seed: int = 0) -> Workload:
    """Generate the workload (deterministic for a seed).

    Returns
    -------
    Workload
        ``customers``: ``customer_id, signup_at``; ``events``: ``customer_id, timestamp, event_type,
        component, amount`` sorted by time; ``keys``: ``customer_id, cutoff`` sorted by cutoff then id.
    """
    rng = np.random.default_rng(seed)
    span = (END - START).total_seconds()
    # seconds relative to START (signups before it are negative)
    signup_s = rng.uniform((SIGNUP_FROM - START).total_seconds(), (pd.Timestamp("2024-12-01") - START).total_seconds(),
                           n_customers)
    leave_lo = np.maximum(signup_s, (LEAVE_FROM - START).total_seconds())
    leaves = rng.random(n_customers) < LEAVE_SHARE
    end_s = np.where(leaves, leave_lo + rng.random(n_customers) * (span - leave_lo), span)
    first_s = np.maximum(signup_s, 0.0)
    ids = np.array([f"C{i:06d}" for i in range(n_customers)], dtype=object)
    signup = START + pd.to_timedelta(np.round(signup_s), unit="s")
    # skewed activity: events proportional to a log-normal rate times the length of the active life
    weight = rng.lognormal(0.0, 1.2, n_customers) * (end_s - first_s)
    counts = rng.multinomial(n_events, weight / weight.sum())
    owner = np.repeat(np.arange(n_customers), counts)
    ts_s = first_s[owner] + rng.random(owner.size) * (end_s[owner] - first_s[owner])
    kind = rng.choice(len(TYPES), size=owner.size, p=TYPE_SHARES)
    component = np.where(kind == 1, COMPONENTS[rng.integers(0, len(COMPONENTS), owner.size)], None)
    amount = np.where(kind == 2, np.round(rng.lognormal(3.0, 0.8, owner.size), 2), np.nan)
    order = np.argsort(ts_s, kind="stable")
    events = pd.DataFrame({
        "customer_id": pd.array(ids[owner[order]], dtype="string"),
        "timestamp": (START + pd.to_timedelta(np.round(ts_s[order] * 1e3), unit="ms")).astype("datetime64[ns]"),
        "event_type": pd.array(TYPES[kind[order]], dtype="string"),
        "component": pd.array(component[order], dtype="string"),
        "amount": amount[order],
    })
    customers = pd.DataFrame({"customer_id": pd.array(ids, dtype="string"),
                              "signup_at": signup.astype("datetime64[ns]")})
    end = START + pd.to_timedelta(np.round(end_s), unit="s")
    keys = []
    for cutoff in CUTOFFS:
        alive = (signup < cutoff) & (end > cutoff)
        keys.append(pd.DataFrame({"customer_id": pd.array(ids[alive], dtype="string"), "cutoff": cutoff}))
    key_frame = pd.concat(keys, ignore_index=True)
    key_frame["cutoff"] = key_frame["cutoff"].astype("datetime64[ns]")
    return Workload(customers=customers, events=events, keys=key_frame)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--out", default="data/generated/workload")
    args = ap.parse_args()
    w = make_workload(args.customers, args.events)
    paths = w.write_parquet(args.out)
    print(f"{len(w.customers):,} customers, {len(w.events):,} events, {len(w.keys):,} label rows -> "
          f"{', '.join(map(str, paths.values()))}")


if __name__ == "__main__":
    main()
