"""Validity of the weekly job over a simulated year: expected-vs-realised coverage, shock alerts, false alarms.

One synthetic world over two years (the champion trains on the first, the job runs every week of the
second), with the world's dated shocks placed in the monitored year: the interface change that hurts one
segment and the competitor's offer. Every week :func:`churnlab.monitor.weekly.run_weekly` runs as of that
day (point in time: features, spells, calibration and labels read only what was known then), with the
packaged alert rules. Reported:

- coverage: the share of matured windows whose realised churn falls inside the expected interval
  (sum of calibrated probabilities, Poisson-binomial variance, 95%);
- shocks: whether an alert fires in the first two weekly runs after each dated shock, and which;
- false alarms: alerts fired in the stable stretch before the first shock (runs and checks);
- the holdout: programme-holdout customers on any action list or CRM view list (must be 0).

Writes its section of benchmarks/RESULTS.md between ``<!-- monitor_validity:start -->`` and
``<!-- monitor_validity:end -->``. Usage: ``python benchmarks/monitor_validity.py [--customers 4000] [--seed 0]
[--weeks 52] [--no-write] [--early-signals]`` (``--early-signals``: only the model-free rules week by week, to
measure how large a world must be before a shock's early traces clear them; prints, never writes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from churnlab.data.synthetic import generate
from churnlab.features import build_features
from churnlab.monitor.alerts import evaluate_alerts, load_alerts
from churnlab.monitor.champion import train_model
from churnlab.monitor.drift import training_figures
from churnlab.monitor.expected import realised_churn
from churnlab.monitor.metrics import window_metrics
from churnlab.monitor.weekly import reference_cutoffs, run_weekly

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
START, END = "<!-- monitor_validity:start -->", "<!-- monitor_validity:end -->"
#: The world: 2024 trains the champion, 2025 is monitored; shocks in the monitored year (a Monday each).
WORLD = {"start": "2024-01-01", "end": "2025-12-31", "ui_change_date": "2025-04-07", "competitor_date": "2025-08-04"}
FIRST_RUN = pd.Timestamp("2025-01-06")
HORIZON = 30


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} cores, 1 thread "
            f"(XGBoost n_jobs=1), load average {load}, {dt.date.today().isoformat()}")


def early_signals(dataset, weeks: int, thresholds=(0.0025, 0.005)) -> pd.DataFrame:
    """The model-free rules (weekly churn, unsubscribes, exports) each week, also at lower export thresholds.

    How large a world must be before the early traces of a shock clear an alert: no model, so it runs on worlds
    far larger than the weekly job's benchmark. One row per run: the exports change against the previous four
    runs (all customers, with its 99% MOVER bounds), and the rules that fired.
    """
    dates = [FIRST_RUN + pd.Timedelta(days=7 * (k - 5)) for k in range(weeks + 5)]
    table = window_metrics(dataset, [d for d in dates if d <= dataset.as_of])
    base = [r for r in load_alerts() if r.metric in ("churn_rate", "unsubscribe_rate", "export_rate")]
    rules = base + [replace(r, name=f"{r.name}@{t:g}", threshold=t) for r in base if r.metric == "export_rate"
                    for t in thresholds]
    rows = []
    for d in sorted(table["run_at"].unique())[5:]:
        a = evaluate_alerts(table[table["run_at"] <= d], rules, run_at=d)
        ex = a[(a["alert"] == "exports_up") & (a["segment"] == "all")].iloc[0]
        rows.append({"as_of": pd.Timestamp(d), "n": ex["n"], "export_rate": ex["value"], "baseline": ex["baseline"],
                     "change": ex["change"], "change_lower": ex["change_lower"],
                     "fired": ", ".join(f"{r.alert}/{r.segment}" for r in a[a["fired"]].itertuples())})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--early-signals", action="store_true",
                        help="only the model-free rules each week (no model; for large worlds); prints, never writes")
    parser.add_argument("--from", dest="from_date", default=None,
                        help="first weekly run (default 2025-01-06); a later one is an evidence run and never writes")
    args = parser.parse_args()
    first_run = pd.Timestamp(args.from_date) if args.from_date else FIRST_RUN
    args.no_write = args.no_write or first_run != FIRST_RUN
    started = time.perf_counter()
    load_before = machine()
    dataset, _ = generate(args.customers, seed=args.seed, **WORLD)
    if args.early_signals:
        out = early_signals(dataset, args.weeks)
        with pd.option_context("display.width", 200, "display.max_rows", 200):
            print(out.assign(**{c: (out[c] * 100).round(2) for c in ("export_rate", "baseline", "change",
                                                                      "change_lower")}).to_string(index=False))
        print(f"{args.customers:,} customers, {(time.perf_counter() - started) / 60:.1f} min; {load_before}")
        return
    events = dataset.metadata["dated_events"]
    trained = train_model(dataset, FIRST_RUN, horizon_days=HORIZON, n_jobs=1, random_state=args.seed)
    tags = {"churnlab.training_cutoffs": ",".join(c.date().isoformat() for c in trained.cutoffs)}
    reference = build_features(dataset, reference_cutoffs(dataset, horizon_days=HORIZON, tags=tags))
    cache: dict = {}
    weeks, fired, expected, holdout_listed, view_rows = [], [], [], 0, []
    for k in range(args.weeks):
        as_of = first_run + pd.Timedelta(days=7 * k)
        if as_of > dataset.as_of:
            break
        report = run_weekly(dataset, trained.model, as_of=as_of, horizon_days=HORIZON, runs=5,
                            training=training_figures(trained.figures), reference=reference, cache=cache,
                            reasons=False)
        held = set(report.crm.loc[report.crm["holdout"], "customer_id"].astype(str))
        holdout_listed += int(report.actions["holdout"].sum())
        holdout_listed += len(held & set(report.views["customer_id"].astype(str)))
        now = report.expected[report.expected["cutoff"] == as_of].iloc[0]
        view_rows.append(report.view_performance.assign(as_of=as_of))
        expected.append(now)
        weeks.append({"as_of": as_of, "checks": len(report.alerts), "fired": len(report.fired)})
        for _, a in report.fired.iterrows():
            fired.append({"as_of": as_of, "alert": a["alert"], "segment": a["segment"]})
        watch = report.alerts[report.alerts["alert"].isin(["expected_churn_up", "exports_up"])
                              & (report.alerts["segment"] == "all")]
        moves = "; ".join(f"{r.alert} {r.change:+.4f} [{r.change_lower:+.4f}, {r.change_upper:+.4f}]"
                          for r in watch.itertuples())
        print(f"{as_of.date()}: {len(report.fired)} fired "
              f"{[f'{a}/{s}' for a, s in report.fired[['alert', 'segment']].values]}; {moves}", flush=True)
    weeks_df, fired_df = pd.DataFrame(weeks), pd.DataFrame(fired, columns=["as_of", "alert", "segment"])
    # coverage of the expected interval on every matured window
    cov = []
    for e in expected:
        if e["cutoff"] + pd.Timedelta(days=HORIZON) <= dataset.as_of:
            r = realised_churn(dataset, e["cutoff"], HORIZON)
            cov.append({"cutoff": e["cutoff"], "expected": e["expected"], "lower": e["expected_lower"],
                        "upper": e["expected_upper"], "realised": r["realised"],
                        "covered": e["expected_lower"] <= r["realised"] <= e["expected_upper"]})
    cov_df = pd.DataFrame(cov)
    # shocks: an alert in the first two runs after each dated shock
    lines = []
    for ev in events:
        day = pd.Timestamp(ev["date"])
        first_two = weeks_df[weeks_df["as_of"] > day].head(2)["as_of"]
        hits = fired_df[fired_df["as_of"].isin(first_two)]
        which = ", ".join(f"{r.alert} ({r.segment}, run {r.as_of.date()})" for r in hits.itertuples()) or "none"
        after = fired_df[fired_df["as_of"] > day].sort_values("as_of")
        first = "none"
        if len(after):
            when = after["as_of"].iloc[0]
            k = int(((weeks_df["as_of"] > day) & (weeks_df["as_of"] <= when)).sum())
            names = ", ".join(sorted(set(after.loc[after["as_of"] == when, "alert"])))
            first = f"run {when.date()} ({k} runs after): {names}"
        lines.append(f"| {ev['event']} ({ev.get('segment') or 'all segments'}) | {day.date()} | "
                     f"{'yes' if len(hits) else 'no'} | {which} | {first} |")
    first_shock = min(pd.Timestamp(ev["date"]) for ev in events)
    stable = weeks_df[weeks_df["as_of"] <= first_shock]
    stable_fired = fired_df[fired_df["as_of"].isin(stable["as_of"])]
    runs_with_alarm = stable_fired["as_of"].nunique()
    seconds = time.perf_counter() - started
    checks = int(stable["checks"].sum())
    coverage = f"{cov_df['covered'].mean():.1%} of {len(cov_df)} matured windows (target >= 90%)"
    false_alarms = (f"{runs_with_alarm} of {len(stable)} runs with an alarm; {len(stable_fired)} of {checks} checks "
                    f"fired ({len(stable_fired) / max(checks, 1):.2%})")
    views = pd.concat(view_rows, ignore_index=True)
    views = views[views["available"].astype(bool)].groupby("view", sort=False).agg(
        runs=("as_of", "nunique"), listed=("n_exposed", "mean"), precision=("precision", "mean"),
        recall=("recall", "mean"), base=("churn_unexposed", "mean"))
    view_lines = "\n".join(f"| {v} | {int(r.runs)} | {r.listed:.0f} | {r.precision:.1%} | {r.recall:.1%} |"
                           for v, r in views.iterrows())
    by_rule = ", ".join(f"{k} {v}" for k, v in fired_df["alert"].value_counts().items()) or "none"
    text = f"""
Measured {dt.date.today().isoformat()} with `python benchmarks/monitor_validity.py --customers {args.customers}
--seed {args.seed} --weeks {args.weeks}` ({seconds / 60:.1f} min). Machine: {load_before}; after: load average
{", ".join(f"{x:.2f}" for x in os.getloadavg())}.

World: {args.customers:,} customers, {WORLD['start']}..{WORLD['end']}, seed {args.seed}, default knobs; interface
change {WORLD['ui_change_date']} (segment {next((e.get('segment') for e in events if e['event'] == 'ui_change'), '-')}),
competitor's offer {WORLD['competitor_date']}. Champion: `train_model` as of {FIRST_RUN.date()} on
{len(trained.cutoffs)} monthly cutoffs, held-out ROC-AUC {trained.figures['training_roc_auc']:.3f}. The job ran
every Monday from {first_run.date()} ({len(weeks_df)} runs), 30-day horizon, 5 earlier runs each, packaged alert
rules (99% intervals) and CRM views.

| check | result |
|---|---|
| expected-vs-realised interval (95%) covers realised churn | {coverage} |
| mean expected vs realised churners per window | {cov_df['expected'].mean():.1f} vs {cov_df['realised'].mean():.1f} |
| stable stretch (runs up to the first shock, {first_shock.date()}) | {false_alarms} |
| programme-holdout customers on an action list or CRM view list | {holdout_listed} over {len(weeks_df)} runs |

| dated shock | date | alert within two weekly runs | alerts fired in those runs | first alert after it |
|---|---|---|---|---|
{chr(10).join(lines)}

Alerts fired over the year, by rule: {by_rule}.

CRM views on the last matured window of each run (means over the runs; precision = 30-day churn among the
listed, recall = share of the window's churners listed):

| view | runs | listed | precision | recall |
|---|---|---|---|---|
{view_lines}
"""
    print(text)
    if not args.no_write:
        body = f"{START}\n{text.strip()}\n{END}"
        old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
        if START in old and END in old:
            new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: body, old, flags=re.S)
        else:
            new = old.rstrip() + f"\n\n## Weekly job validity (`benchmarks/monitor_validity.py`)\n{body}\n"
        RESULTS.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
