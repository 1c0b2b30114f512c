"""Does the campaign plan tell the truth? The plan's power figure and the programme holdout's interval, measured.

Two checks on one synthetic world, written to benchmarks/RESULTS.md between ``<!-- campaign_validity:start -->``
and ``<!-- campaign_validity:end -->``:

1. **Power.** The plan notebook's figure (:func:`churnlab.experiment.plan.make_plan`: planning values from the
   backtest of :func:`~churnlab.experiment.planning.planning_values`, power of one offer against the holdout at the
   planned split, CUPED) against simulated power: the world's potential outcomes of every audience customer under
   every offer (one continuation, common random numbers) are split again with fresh salts, and each split is
   analysed with CUPED as the analysis notebook does (uncorrected two-sided test at alpha, the quantity the plan
   reports). The plan is evaluated at each offer's true average effect on the audience. Target: within 3 points.
2. **Programme holdout coverage.** A programme of three campaigns over 90 days (retention offers to the riskiest
   half on day 0, win-back offers to the recently churned on day 0, a bonus to the next risk tier on day 30) is
   played twice by the world: as planned for everyone, and with no offer at all. For each fresh programme salt,
   the held-out customers' data come from the second world and everyone else's from the first; the interval of
   :func:`churnlab.experiment.program.program_effect` is compared with the programme's true effect on the
   customers it reached (per customer difference of the two worlds, averaged over the programme group).
   Target: the nominal 95%, inside the 99% binomial band of the number of salts.

The plan's power is that of the score test the analysis runs on the binary primary metric
(:func:`churnlab.experiment.plan_power`, ``test="score"``); the Wald z-test's power is printed next to it.

Run: ``python benchmarks/campaign_validity.py`` (about 10 minutes on 2 shared cores; ``--quick`` for a smoke run;
``--power-only`` re-measures the power table and keeps the coverage table already in RESULTS.md, about 2 minutes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd

from churnlab.config import OFFERS
from churnlab.data.synthetic import generate, run_campaign
from churnlab.errors import SampleRatioMismatchError
from churnlab.experiment import analyze, assign, plan_power
from churnlab.experiment.campaign import PRE_COVARIATES, at_risk_audience, churned_customers, pre_period_covariates
from churnlab.experiment.crm import assignments_table
from churnlab.experiment.plan import make_plan
from churnlab.experiment.planning import planning_values
from churnlab.experiment.program import PROGRAM_METRICS, ProgramHoldout, program_effect, program_outcomes
from churnlab.experiment.stats import binomial_band
from churnlab.schema import Dataset

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
START, END = "<!-- campaign_validity:start -->", "<!-- campaign_validity:end -->"
HORIZON = 90
METRIC = f"retained_{HORIZON}"


def machine() -> str:
    """One line on the machine, threads and load."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    return (f"{platform.node()} · {platform.processor() or platform.machine()} · {os.cpu_count()} cores · "
            f"OMP_NUM_THREADS={threads} (numpy simulation, no XGBoost) · load average "
            f"{load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f} · {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · "
            f"Python {platform.python_version()}")


def programme_plan(ds: Dataset, date: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The programme's three campaigns for every customer (nobody held out yet) and the retention audience."""
    audience = at_risk_audience(ds, date, share=0.5)
    ranked = at_risk_audience(ds, date, share=0.7)
    tier2 = ranked[~ranked["customer_id"].isin(audience["customer_id"])]
    lost = churned_customers(ds, date, within_days=180)
    rows = [assignments_table(assign(audience, "retention", OFFERS, 0.1), "retention", date),
            assignments_table(assign(lost, "winback", OFFERS, 0.1), "winback", date),
            assignments_table(assign(tier2, "wave-2", ["bonus"], 0.1), "wave-2", date + pd.Timedelta(days=30))]
    return pd.concat(rows, ignore_index=True), audience


def power_check(ds: Dataset, date: pd.Timestamp, effects: pd.DataFrame, audience: pd.DataFrame, sims: int,
                sizes: tuple[float, ...], alpha: float = 0.05) -> pd.DataFrame:
    """Plan power vs simulated power per offer and audience size (share of the audience kept)."""
    values = planning_values(ds, date, horizon_days=HORIZON, target_share=0.5)
    cov = pre_period_covariates(ds, audience["customer_id"], date).set_index("customer_id")
    po = effects.pivot_table(index="customer_id", columns="offer", values="retained_if_treated").astype(float)
    po["none"] = effects.groupby("customer_id")["retained_if_control"].first().astype(float)
    rows = []
    arm_share = 0.9 / len(OFFERS)
    for size in sizes:
        # the whole audience, or a random subset of it (not its riskiest part)
        ids = audience["customer_id"].sample(frac=size, random_state=1).tolist() if size < 1 else \
            audience["customer_id"].tolist()
        y = po.loc[ids]
        true_ate = {a: float((y[a] - y["none"]).mean()) for a in OFFERS}
        hits = {a: {"cuped": 0, "absolute": 0} for a in OFFERS}
        done = 0
        x = cov.loc[ids, list(PRE_COVARIATES)]
        for s in range(sims):
            split = assign(ids, "power-bench", OFFERS, 0.1, salt=str(s))
            arm = split["arm"].to_numpy()
            obs = np.choose(pd.Series(arm).map({"none": 0, **{a: i + 1 for i, a in enumerate(OFFERS)}}).to_numpy(),
                            [y["none"].to_numpy(), *(y[a].to_numpy() for a in OFFERS)])
            table = pd.DataFrame({"arm": arm, METRIC: obs}, index=ids).join(x)
            try:
                res = analyze(table.reset_index(drop=True), [METRIC], split.attrs["planned_shares"],
                              covariates=list(PRE_COVARIATES), kinds=("absolute", "cuped"), alpha=alpha,
                              correction="none")
            except SampleRatioMismatchError:
                continue  # the gate stops this analysis: it is no test of power
            done += 1
            for e in res.effects:
                hits[e.arm][e.kind] += e.p < alpha
        for a in OFFERS:
            plan = make_plan(experiment_id="power-bench", campaign_date=date, hypothesis="", primary_metric=METRIC,
                             arms=OFFERS, n_audience=len(ids), base_rate=values.base_rate, rho=values.rho,
                             effect=true_ate[a], alpha=alpha)
            rows.append({"audience": len(ids), "offer": a, "true_effect": true_ate[a],
                         "plan_power_cuped": plan.power_cuped, "sim_power_cuped": hits[a]["cuped"] / done,
                         "plan_power_plain": plan.power, "sim_power_plain": hits[a]["absolute"] / done,
                         "wald_power_cuped": plan_power(
                             round(len(ids) * (arm_share + 0.1)), arm_share / (arm_share + 0.1), values.base_rate,
                             true_ate[a], rho=values.rho, alpha=alpha, test="wald").power_cuped,
                         "sims": done, "base_rate": values.base_rate, "rho": values.rho})
    return pd.DataFrame(rows)


def coverage_check(prog_world: Dataset, none_world: Dataset, date: pd.Timestamp, salts: int, share: float,
                   alpha: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Programme-holdout interval vs the programme's true effect, over fresh salts."""
    end = date + pd.Timedelta(days=HORIZON)
    anyone = ProgramHoldout("bench", date, end, share=share)
    with_prog = program_outcomes(prog_world, anyone).set_index("customer_id")
    without = program_outcomes(none_world, anyone).set_index("customer_id")
    reach = with_prog.index.union(without.index)
    tables = {}
    for name in ("subscriptions", "payments"):
        tables[name] = (prog_world[name], none_world[name])
    rows, blocked = [], 0
    for s in range(salts):
        program = ProgramHoldout("bench", date, end, share=share, salt=str(s))
        held = set(program.members(reach))
        combined = {k: v for k, v in prog_world.tables.items() if k != "assignments"}
        for name, (a, b) in tables.items():
            combined[name] = pd.concat([a[~a["customer_id"].isin(held)], b[b["customer_id"].isin(held)]],
                                       ignore_index=True)
        ds = Dataset("bench", combined, as_of=prog_world.as_of, source="bench")
        try:
            res = program_effect(ds, program, alpha=alpha)
        except SampleRatioMismatchError:
            blocked += 1  # the gate stops this estimate (0.1% of fair splits): it is no test of coverage
            continue
        group = res.table.loc[res.table["group"] == "program", "customer_id"]
        for m in PROGRAM_METRICS:
            diff = with_prog.reindex(group)[m] - without.reindex(group)[m]
            truth = float(diff.mean())  # NaN rows (not active at start) drop out for churn
            e = res.effect(m)
            rows.append({"salt": s, "metric": m, "estimate": e.estimate, "ci_lower": e.ci_lower,
                         "ci_upper": e.ci_upper, "truth": truth,
                         "covered": e.ci_lower <= truth <= e.ci_upper, "n_holdout": e.n_control})
    out = pd.DataFrame(rows)
    summary = out.groupby("metric", sort=False).agg(coverage=("covered", "mean"), truth=("truth", "mean"),
                                                    estimate=("estimate", "mean"),
                                                    width=("ci_upper", "mean"), n_holdout=("n_holdout", "mean"))
    summary["width"] = summary["width"] - out.groupby("metric", sort=False)["ci_lower"].mean()
    summary["blocked"] = blocked
    return out, summary.reset_index()


def write_section(text: str) -> None:
    """Replace the campaign_validity section of RESULTS.md (append it when absent)."""
    body = f"{START}\n{text.strip()}\n{END}"
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if START in old and END in old:
        new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: body, old, flags=re.S)
    else:
        title = "## Campaign plan and programme holdout validity (`benchmarks/campaign_validity.py`)"
        new = old.rstrip() + f"\n\n{title}\n{body}\n"
    RESULTS.write_text(new, encoding="utf-8")


def power_lines(power: pd.DataFrame, args, before: str, date, plan, t_world: float, t_play: float,
                t_power: float) -> list[str]:
    """The power part of the section: machine, world and the plan-vs-simulated table."""
    power = power.assign(diff_cuped=power["plan_power_cuped"] - power["sim_power_cuped"],
                         diff_plain=power["plan_power_plain"] - power["sim_power_plain"])
    lines = [
        f"Power re-measured: {before}",
        f"World: {args.customers:,} customers, seed {args.seed}, campaign on {date.date()}, horizon {HORIZON} days. "
        f"Seconds: world {t_world:.0f}, continuations {t_play:.0f}, power {t_power:.0f}.",
        "",
        f"**Power** ({args.sims} fresh hash splits per row, 10% holdout, three offers, CUPED on "
        f"{', '.join(PRE_COVARIATES)}; the plan's planning values from the backtest: base rate "
        f"{power['base_rate'].iloc[0]:.3f}, rho {power['rho'].iloc[0]:.3f}; plan power is the score test's, what the "
        f"analysis runs; Monte Carlo error of a simulated power at most {50 / np.sqrt(args.sims):.1f} points):",
        "",
        "| audience | offer | true effect | plan power (CUPED, score) | simulated (CUPED) | plan − simulated | "
        "Wald formula (CUPED) | plan power (plain) | simulated (plain) | within 3 points |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in power.itertuples():
        ok = abs(r.diff_cuped) <= 0.03 and abs(r.diff_plain) <= 0.03
        lines.append(f"| {r.audience:,} | {r.offer} | {r.true_effect:+.4f} | {r.plan_power_cuped:.1%} | "
                     f"{r.sim_power_cuped:.1%} | {100 * r.diff_cuped:+.1f} pts | {r.wald_power_cuped:.1%} | "
                     f"{r.plan_power_plain:.1%} | {r.sim_power_plain:.1%} | {'PASS' if ok else 'FAIL'} |")
    return lines


def write_power_only(lines: list[str], quick: bool) -> None:
    """Print the power part and put it in place of the one in RESULTS.md, keeping the coverage part."""
    text = "\n".join(lines)
    print(text)
    if quick:
        return
    old = RESULTS.read_text(encoding="utf-8")
    start, end = old.index(START) + len(START), old.index(END)
    section = old[start:end]
    cut = section.index("**Programme holdout**")
    head = section[:section.index("**Power**")].rstrip("\n")
    RESULTS.write_text(old[:start] + "\n" + head + "\n" + text + "\n\n" + section[cut:].lstrip("\n") + old[end:],
                       encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sims", type=int, default=1000, help="fresh splits per audience size (power)")
    ap.add_argument("--salts", type=int, default=400, help="fresh programme holdouts (coverage)")
    ap.add_argument("--program-share", type=float, default=0.05)
    ap.add_argument("--quick", action="store_true", help="small world and few draws; does not write RESULTS.md")
    ap.add_argument("--power-only", action="store_true",
                    help="re-measure the power table only; the programme coverage table in RESULTS.md is kept")
    args = ap.parse_args()
    if args.quick:
        args.customers, args.sims, args.salts = 3000, 40, 20
    before = machine()
    t0 = time.perf_counter()
    ds, truth = generate(args.customers, seed=args.seed)
    date = pd.Timestamp(ds.as_of)
    plan, audience = programme_plan(ds, date)
    t_world = time.perf_counter() - t0
    prog_world, ct = run_campaign(ds, truth, plan, horizon_days=HORIZON, seed=args.seed, n_sims=2)
    nobody = plan.drop_duplicates("customer_id").head(1).assign(arm="none", experiment_id="nothing")
    none_world, _ = run_campaign(ds, truth, nobody, horizon_days=HORIZON, seed=args.seed, n_sims=1)
    t_play = time.perf_counter() - t0 - t_world
    effects = ct.effects_by_offer[ct.effects_by_offer["customer_id"].isin(audience["customer_id"])]
    power = power_check(ds, date, effects, audience, args.sims, (1.0, 0.5))
    t_power = time.perf_counter() - t0 - t_world - t_play
    if args.power_only:
        write_power_only(power_lines(power, args, before, date, plan, t_world, t_play, t_power), args.quick)
        return
    draws, cover = coverage_check(prog_world, none_world, date, args.salts, args.program_share)
    t_cover = time.perf_counter() - t0 - t_world - t_play - t_power
    power["diff_cuped"] = power["plan_power_cuped"] - power["sim_power_cuped"]
    power["diff_plain"] = power["plan_power_plain"] - power["sim_power_plain"]
    n_cover = args.salts - int(cover["blocked"].iloc[0])
    lo, hi = binomial_band(n_cover, 0.95, 0.99)
    lines = [
        f"Machine: {before}",
        f"World: {args.customers:,} customers, seed {args.seed}, campaign on {date.date()}, horizon {HORIZON} days; "
        f"programme: {plan['experiment_id'].nunique()} campaigns ({', '.join(plan['experiment_id'].unique())}), "
        f"{int((plan['arm'] != 'none').sum()):,} offers. Seconds: world {t_world:.0f}, the two continuations "
        f"{t_play:.0f}, power {t_power:.0f}, coverage {t_cover:.0f}. Load average after: "
        f"{'/'.join(f'{v:.2f}' for v in os.getloadavg())}.",
        "",
        f"**Power** ({args.sims} fresh hash splits per row, 10% holdout, three offers, CUPED on "
        f"{', '.join(PRE_COVARIATES)}; the plan's planning values from the backtest: base rate "
        f"{power['base_rate'].iloc[0]:.3f}, rho {power['rho'].iloc[0]:.3f}; Monte Carlo error of a simulated power "
        f"at most {50 / np.sqrt(args.sims):.1f} points):",
        "",
        "| audience | offer | true effect | plan power (CUPED) | simulated (CUPED) | plan − simulated | "
        "plan power (plain) | simulated (plain) | within 3 points |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in power.itertuples():
        ok = abs(r.diff_cuped) <= 0.03 and abs(r.diff_plain) <= 0.03
        lines.append(f"| {r.audience:,} | {r.offer} | {r.true_effect:+.4f} | {r.plan_power_cuped:.1%} | "
                     f"{r.sim_power_cuped:.1%} | {100 * r.diff_cuped:+.1f} pts | {r.plan_power_plain:.1%} | "
                     f"{r.sim_power_plain:.1%} | {'PASS' if ok else 'FAIL'} |")
    lines += [
        "",
        f"**Programme holdout** ({args.salts} fresh programme salts, {int(cover['blocked'].iloc[0])} stopped by the "
        f"SRM gate and left out, {args.program_share:.0%} held out of everyone in reach: active at the start or "
        f"churned in the 180 days before; 95% intervals; 99% binomial band of {n_cover} draws {lo:.1%}–{hi:.1%}):",
        "",
        "| metric | coverage of the true effect | mean true effect | mean estimate | mean interval width | "
        "holdout customers | verdict |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in cover.itertuples():
        verdict = "PASS" if lo <= r.coverage <= hi else ("CONSERVATIVE" if r.coverage > hi else "FAIL")
        lines.append(f"| {r.metric} | {r.coverage:.1%} | {r.truth:+.4f} | {r.estimate:+.4f} | {r.width:.4f} | "
                     f"{r.n_holdout:,.0f} | {verdict} |")
    lines += ["", "The true effect is the programme's average effect on the customers it reached in that draw "
              "(everyone not held out): each customer's outcome with the programme minus without it, from the "
              "world's two continuations with common random numbers; `churned` counts the customers active at the "
              "start."]
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        write_section(text)


if __name__ == "__main__":
    main()
