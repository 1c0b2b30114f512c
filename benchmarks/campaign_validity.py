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
from scipy import stats

from churnlab.config import OFFERS
from churnlab.data.synthetic import generate, run_campaign
from churnlab.errors import SampleRatioMismatchError
from churnlab.experiment import analyze, assign, plan_power
from churnlab.experiment.campaign import PRE_COVARIATES, at_risk_audience, churned_customers, pre_period_covariates
from churnlab.experiment.crm import assignments_table
from churnlab.experiment.plan import make_plan
from churnlab.experiment.planning import planning_values
from churnlab.experiment.program import PROGRAM_METRICS, ProgramHoldout, program_outcomes, program_waves
from churnlab.experiment.program_timeline import program_timeline, timeline_effects, timeline_ends
from churnlab.experiment.stats import binomial_band
from churnlab.schema import Dataset

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
START, END = "<!-- campaign_validity:start -->", "<!-- campaign_validity:end -->"
HORIZON = 90
METRIC = f"retained_{HORIZON}"
PROGRAMME_DAYS = 180  # six monthly waves
RETENTION_SHARE, TIER2_SHARE = 0.6, 0.2  # riskiest 60% of active customers dealt over the waves; the next 20%


def machine() -> str:
    """One line on the machine, threads and load."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    return (f"{platform.node()} · {platform.processor() or platform.machine()} · {os.cpu_count()} cores · "
            f"OMP_NUM_THREADS={threads} (numpy simulation, no XGBoost) · load average "
            f"{load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f} · {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · "
            f"Python {platform.python_version()}")


def programme_plan(ds: Dataset, date: pd.Timestamp) -> pd.DataFrame:
    """The six-month programme's monthly waves for every customer (nobody held out yet: the benchmark plays the
    holdout's world apart)."""
    ranked = at_risk_audience(ds, date, share=RETENTION_SHARE)["customer_id"]
    tier = at_risk_audience(ds, date, share=RETENTION_SHARE + TIER2_SHARE)["customer_id"]
    tier2 = tier[~tier.isin(ranked)]
    lost = churned_customers(ds, date, within_days=180)["customer_id"]
    return program_waves(ranked, date, waves=PROGRAMME_DAYS // 30, every_days=30, second_tier=tier2, winback=lost,
                         program=None, program_id="bench")


def neyman_power(y_arm: np.ndarray, y_none: np.ndarray, n_arm: int, n_none: int, alpha: float) -> float:
    """Power of the two-sided z-test of one arm against the holdout from the audience's own potential outcomes.

    The estimate's randomisation variance is ``S_a^2/n_a + S_0^2/n_0 - S_tau^2/N`` (Neyman 1923; for two arms of
    a completely randomised multi-arm design, Li & Ding 2017, Theorem 3), the test's variance estimate targets the
    first two terms only; ``tau`` is the audience's own average effect.
    """
    n = len(y_arm)
    tau = float(np.mean(y_arm - y_none))
    v_test = np.var(y_arm, ddof=1) / n_arm + np.var(y_none, ddof=1) / n_none
    v_true = v_test - np.var(y_arm - y_none, ddof=1) / n
    z = stats.norm.ppf(1 - alpha / 2)
    crit, sd = z * np.sqrt(v_test), np.sqrt(v_true)
    return float(stats.norm.sf((crit - tau) / sd) + stats.norm.cdf((-crit - tau) / sd))


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
        xs = x.to_numpy(dtype=float) - x.to_numpy(dtype=float).mean(axis=0)
        theta = np.linalg.lstsq(xs, y["none"].to_numpy() - y["none"].mean(), rcond=None)[0]
        n_arm, n_none = round(len(ids) * arm_share), round(len(ids) * 0.1)
        own_base = float(y["none"].mean())
        for a in OFFERS:
            plan = make_plan(experiment_id="power-bench", campaign_date=date, hypothesis="", primary_metric=METRIC,
                             arms=OFFERS, n_audience=len(ids), base_rate=values.base_rate, rho=values.rho,
                             effect=true_ate[a], alpha=alpha)
            own = make_plan(experiment_id="power-bench", campaign_date=date, hypothesis="", primary_metric=METRIC,
                            arms=OFFERS, n_audience=len(ids), base_rate=own_base, rho=values.rho,
                            effect=true_ate[a], alpha=alpha)
            ya, y0 = y[a].to_numpy(), y["none"].to_numpy()
            rows.append({"audience": len(ids), "offer": a, "true_effect": true_ate[a], "own_base": own_base,
                         "own_plan_power_cuped": own.power_cuped,
                         "neyman_plain": neyman_power(ya, y0, n_arm, n_none, alpha),
                         "neyman_cuped": neyman_power(ya - xs @ theta, y0 - xs @ theta, n_arm, n_none, alpha),
                         "plan_power_cuped": plan.power_cuped, "sim_power_cuped": hits[a]["cuped"] / done,
                         "plan_power_plain": plan.power, "sim_power_plain": hits[a]["absolute"] / done,
                         "wald_power_cuped": plan_power(
                             round(len(ids) * (arm_share + 0.1)), arm_share / (arm_share + 0.1), values.base_rate,
                             true_ate[a], rho=values.rho, alpha=alpha, test="wald").power_cuped,
                         "sims": done, "base_rate": values.base_rate, "rho": values.rho})
    return pd.DataFrame(rows)


def coverage_check(prog_world: Dataset, none_world: Dataset, date: pd.Timestamp, salts: int, share: float,
                   alpha: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Programme-holdout intervals at every month vs the programme's true cumulative effect, over fresh salts.

    Each customer's outcomes depend on their own rows only, so for a salt the combined world's outcomes are the
    programme world's for everyone not held out and the no-programme world's for the holdout; salt 0 checks
    that this equals :func:`program_timeline` on the combined dataset, end to end.
    """
    end = date + pd.Timedelta(days=PROGRAMME_DAYS)
    anyone = ProgramHoldout("bench", date, end, share=share)
    ends = timeline_ends(anyone, 30)
    with_prog = program_outcomes(prog_world, anyone, ends=ends).set_index(["period_end", "customer_id"])
    without = program_outcomes(none_world, anyone, ends=ends).set_index(["period_end", "customer_id"])
    without = without.reindex(with_prog.index)
    ids = with_prog.index.get_level_values("customer_id")
    when = with_prog.index.get_level_values("period_end").to_numpy()
    reach = pd.Index(pd.unique(ids))
    rows, blocked, check = [], 0, {}
    for s in range(salts):
        program = ProgramHoldout("bench", date, end, share=share, salt=str(s))
        held = ids.isin(program.members(reach))
        table = with_prog.copy()
        for m in PROGRAM_METRICS:
            table[m] = np.where(held, without[m], with_prog[m])
        table["group"] = np.where(held, "holdout", "program")
        try:
            res = timeline_effects(table.reset_index(), program, alpha=alpha)
        except SampleRatioMismatchError:
            blocked += 1  # the gate stops this estimate (0.1% of fair splits): it is no test of coverage
            continue
        if s == 0:
            check = end_to_end(prog_world, none_world, program, res)
        group = ~held
        for r in res.itertuples():
            at = (when == np.datetime64(r.period_end)) & group
            y1, y0 = with_prog[r.metric].to_numpy()[at], without[r.metric].to_numpy()[at]
            truth = float(np.nanmean(y1 - y0))  # NaN rows (not active at start) drop out for churn
            truth_capped = float(np.nanmean(np.minimum(y1, r.cap) - np.minimum(y0, r.cap))) if np.isfinite(r.cap) \
                else truth
            rows.append({"salt": s, "month": r.step, "metric": r.metric, "estimate": r.estimate,
                         "ci_lower": r.ci_lower, "ci_upper": r.ci_upper, "truth": truth, "truth_capped": truth_capped,
                         "covered": r.ci_lower <= truth_capped <= r.ci_upper,
                         "covered_raw": r.ci_lower <= truth <= r.ci_upper, "n_holdout": r.n_holdout})
    out = pd.DataFrame(rows)
    summary = out.groupby(["month", "metric"], sort=False).agg(
        coverage=("covered", "mean"), coverage_raw=("covered_raw", "mean"), truth=("truth", "mean"),
        truth_capped=("truth_capped", "mean"), estimate=("estimate", "mean"), upper=("ci_upper", "mean"),
        lower=("ci_lower", "mean"), n_holdout=("n_holdout", "mean")).reset_index()
    summary["width"] = summary["upper"] - summary["lower"]
    summary["blocked"] = blocked
    return out, summary, check


def end_to_end(prog_world: Dataset, none_world: Dataset, program: ProgramHoldout, rows: pd.DataFrame) -> dict:
    """Salt 0 through the public function on the combined dataset: the largest difference from the shortcut."""
    combined = {k: v for k, v in prog_world.tables.items() if k != "assignments"}
    pool = program_outcomes(prog_world, program)["customer_id"]
    held = set(program.members(pool))
    for name in ("subscriptions", "payments"):
        a, b = prog_world[name], none_world[name]
        combined[name] = pd.concat([a[~a["customer_id"].isin(held)], b[b["customer_id"].isin(held)]],
                                   ignore_index=True)
    ds = Dataset("bench", combined, as_of=prog_world.as_of, source="bench")
    plan = prog_world["assignments"]
    public = program_timeline(ds, program, assignments=plan[~plan["customer_id"].isin(held)])
    diff = (public.rows[["estimate", "ci_lower", "ci_upper"]].to_numpy()
            - rows[["estimate", "ci_lower", "ci_upper"]].to_numpy())
    return {"max_abs_diff": float(np.abs(diff).max()), "n_campaigns": public.final.n_campaigns,
            "share_offered": public.final.share_offered}


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


def power_lines(power: pd.DataFrame, args, before: str, date, t_world: float, t_play: float,
                t_power: float) -> list[str]:
    """The power part of the section: machine, world, the plan-vs-simulated table and where the gap comes from."""
    power = power.assign(diff_cuped=power["plan_power_cuped"] - power["sim_power_cuped"],
                         diff_plain=power["plan_power_plain"] - power["sim_power_plain"],
                         mc=np.sqrt(power["sim_power_cuped"] * (1 - power["sim_power_cuped"]) / power["sims"]))
    lines = [
        f"Power: {before}",
        f"World: {args.customers:,} customers, seed {args.seed}, campaign on {date.date()}, horizon {HORIZON} days "
        f"(one campaign to the riskiest half, three offers). Seconds: world {t_world:.0f}, continuation "
        f"{t_play:.0f}, power {t_power:.0f}.",
        "",
        f"**Power** ({args.sims} fresh hash splits per row, 10% holdout, three offers, CUPED on "
        f"{', '.join(PRE_COVARIATES)}; the plan's planning values from the backtest: base rate "
        f"{power['base_rate'].iloc[0]:.3f}, rho {power['rho'].iloc[0]:.3f}; plan power is the score test's, what the "
        f"analysis runs; MC = Monte Carlo standard error of the simulated power):",
        "",
        "| audience | offer | true effect | plan power (CUPED) | simulated (CUPED) | MC | plan − simulated | "
        "plan at the audience's own base rate | Neyman power from the audience's outcomes (CUPED) | "
        "plan power (plain) | simulated (plain) | Neyman (plain) | within 3 points |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in power.itertuples():
        ok = abs(r.diff_cuped) <= 0.03 and abs(r.diff_plain) <= 0.03
        lines.append(f"| {r.audience:,} | {r.offer} | {r.true_effect:+.4f} | {r.plan_power_cuped:.1%} | "
                     f"{r.sim_power_cuped:.1%} | {100 * r.mc:.1f} | {100 * r.diff_cuped:+.1f} pts | "
                     f"{r.own_plan_power_cuped:.1%} | {r.neyman_cuped:.1%} | {r.plan_power_plain:.1%} | "
                     f"{r.sim_power_plain:.1%} | {r.neyman_plain:.1%} | {'PASS' if ok else 'FAIL'} |")
    fails = power[(power["diff_cuped"].abs() > 0.03) | (power["diff_plain"].abs() > 0.03)]
    gap = (power["neyman_cuped"] - power["sim_power_cuped"]).abs() / power["mc"]
    z_plan = (power["diff_cuped"].abs() / power["mc"]).max()
    lines += ["", f"{len(power) - len(fails)} of {len(power)} rows are within 3 points; the largest plan − simulated "
              f"gap is {z_plan:.1f} Monte Carlo errors. Where a gap could come from, measured: the next column is the "
              "plan at the audience's own base rate instead of the backtest's; the Neyman columns are the power the "
              "analysis has on this fixed audience, with the randomisation variance of the difference "
              "S_a²/n_a + S_0²/n_0 − S_τ²/N (Neyman 1923; Li & Ding 2017 for two arms of a multi-arm design) from "
              "the audience's own potential outcomes while the test's variance estimate has only the first two "
              f"terms. Neyman − simulated is at most {gap.max():.1f} Monte Carlo errors "
              f"({100 * (power['neyman_cuped'] - power['sim_power_cuped']).abs().max():.1f} points)."]
    return lines


def coverage_lines(cover: pd.DataFrame, check: dict, args, before: str, date, plan: pd.DataFrame, t_world: float,
                   t_play: float, t_cover: float) -> list[str]:
    """The programme part of the section: the final month's coverage, then coverage month by month."""
    n_cover = args.salts - int(cover["blocked"].iloc[0])
    lo, hi = binomial_band(n_cover, 0.95, 0.99)
    waves = plan["experiment_id"].nunique()
    last = cover[cover["month"] == cover["month"].max()]
    lines = [
        f"Programme: {before}",
        f"World: {args.customers:,} customers, seed {args.seed}, programme from {date.date()} for "
        f"{PROGRAMME_DAYS} days: {waves} campaigns in {PROGRAMME_DAYS // 30} monthly waves (each month a "
        f"retention campaign with the three offers to the next slice of the riskiest {RETENTION_SHARE:.0%} of "
        f"active customers, ranked at the start, riskiest first, and a bonus to the next slice of the following "
        f"{TIER2_SHARE:.0%}; win-back with the three offers to everyone churned in the 180 days before, in the "
        f"first wave; each campaign its own 10% holdout), {int((plan['arm'] != 'none').sum()):,} offers. Seconds: "
        f"world {t_world:.0f}, the two 180-day continuations {t_play:.0f}, coverage {t_cover:.0f}. "
        f"Load average after: {'/'.join(f'{v:.2f}' for v in os.getloadavg())}.",
        "",
        f"**Programme holdout over six months** ({args.salts} fresh programme salts, {int(cover['blocked'].iloc[0])} "
        f"stopped by the SRM gate and left out, {args.program_share:.0%} held out of everyone in reach: active at "
        f"the start or churned in the 180 days before; 95% intervals; 99% binomial band of {n_cover} draws "
        f"{lo:.1%}–{hi:.1%}). Cumulative effect at the end of the period (month {int(cover['month'].max())}):",
        "",
        "| metric | coverage of the true effect | mean true effect | mean estimate | mean interval width | "
        "holdout customers | verdict |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in last.itertuples():
        verdict = "PASS" if lo <= r.coverage <= hi else ("CONSERVATIVE" if r.coverage > hi else "FAIL")
        lines.append(f"| {r.metric} | {r.coverage:.1%} | {r.truth_capped:+.4f} | {r.estimate:+.4f} | "
                     f"{r.width:.4f} | {r.n_holdout:,.0f} | {verdict} |")
    rev = last[last["metric"] == "revenue"].iloc[0]
    lines += [
        "",
        "By month of the programme (cumulative from the start; coverage of the true effect, mean true effect):",
        "",
        "| month | churned: coverage | churned: true effect | active at the date: coverage | "
        "revenue (capped): coverage | revenue (capped): true effect | revenue: coverage of the uncapped effect |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m, part in cover.groupby("month", sort=True):
        g = part.set_index("metric")
        lines.append(f"| {m} | {g.loc['churned', 'coverage']:.1%} | {g.loc['churned', 'truth']:+.4f} | "
                     f"{g.loc['active_at_end', 'coverage']:.1%} | {g.loc['revenue', 'coverage']:.1%} | "
                     f"{g.loc['revenue', 'truth_capped']:+.2f} | {g.loc['revenue', 'coverage_raw']:.1%} |")
    months_ok = cover.groupby("month")["coverage"].agg(lambda c: ((c >= lo) & (c <= hi)).all())
    lines += [
        "",
        f"Every month's three intervals inside the band: {int(months_ok.sum())} of {len(months_ok)} months "
        "(pointwise intervals: each month is its own 95% statement, not a band over the curve). The true effect "
        "is the programme's average effect on the customers it reached in that draw (everyone not held out): each "
        "customer's outcome with the programme minus without it, from the world's two continuations with common "
        "random numbers; `churned` counts the customers active at the start; revenue's estimand is the effect on "
        f"revenue capped at the pooled 99th percentile, as analysed (the uncapped effect at the end is "
        f"{rev.truth:+.2f}, the capped {rev.truth_capped:+.2f}). Salt 0 through `program_timeline` on the combined "
        f"dataset (audit, SRM gate, every month) differs from the benchmark's per-customer shortcut by at most "
        f"{check.get('max_abs_diff', float('nan')):.1e}; it counts {check.get('n_campaigns', 0)} campaigns and "
        f"offers to {check.get('share_offered', float('nan')):.0%} of the programme's customers.",
    ]
    return lines


def write_power_only(lines: list[str], quick: bool) -> None:
    """Print the power part and put it in place of the one in RESULTS.md, keeping the programme part."""
    text = "\n".join(lines)
    print(text)
    if quick:
        return
    old = RESULTS.read_text(encoding="utf-8")
    start, end = old.index(START) + len(START), old.index(END)
    section = old[start:end]
    kept = section[section.index("Programme: "):]
    RESULTS.write_text(old[:start] + "\n" + text + "\n\n" + kept.lstrip("\n") + old[end:], encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--customers", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sims", type=int, default=4000, help="fresh splits per audience size (power)")
    ap.add_argument("--salts", type=int, default=500, help="fresh programme holdouts (coverage)")
    ap.add_argument("--program-share", type=float, default=0.05)
    ap.add_argument("--quick", action="store_true", help="small world and few draws; does not write RESULTS.md")
    ap.add_argument("--power-only", action="store_true",
                    help="re-measure the power table only; the programme tables in RESULTS.md are kept")
    args = ap.parse_args()
    if args.quick:
        args.customers, args.sims, args.salts = 3000, 40, 20
    before = machine()
    t0 = time.perf_counter()
    ds, truth = generate(args.customers, seed=args.seed)
    date = pd.Timestamp(ds.as_of)
    audience = at_risk_audience(ds, date, share=0.5)
    campaign = assignments_table(assign(audience, "retention", OFFERS, 0.1), "retention", date)
    t_world = time.perf_counter() - t0
    _, ct = run_campaign(ds, truth, campaign, horizon_days=HORIZON, seed=args.seed, n_sims=2)
    t_play = time.perf_counter() - t0 - t_world
    effects = ct.effects_by_offer[ct.effects_by_offer["customer_id"].isin(audience["customer_id"])]
    power = power_check(ds, date, effects, audience, args.sims, (1.0, 0.5))
    t_power = time.perf_counter() - t0 - t_world - t_play
    power_text = power_lines(power, args, before, date, t_world, t_play, t_power)
    if args.power_only:
        write_power_only(power_text, args.quick)
        return
    before = machine()
    t1 = time.perf_counter()
    plan = programme_plan(ds, date)
    t_plan = time.perf_counter() - t1
    # the per-offer truth is not needed here (truth_days=1 keeps it cheap): the two worlds are the truth
    prog_world, _ = run_campaign(ds, truth, plan, horizon_days=PROGRAMME_DAYS, seed=args.seed, n_sims=1,
                                 truth_days=1)
    nobody = plan.head(1).assign(arm="none", experiment_id="nothing")
    none_world, _ = run_campaign(ds, truth, nobody, horizon_days=PROGRAMME_DAYS, seed=args.seed, n_sims=1,
                                 truth_days=1)
    t_worlds = time.perf_counter() - t1 - t_plan
    _, cover, check = coverage_check(prog_world, none_world, date, args.salts, args.program_share)
    t_cover = time.perf_counter() - t1 - t_plan - t_worlds
    text = "\n".join([*power_text, "", *coverage_lines(cover, check, args, before, date, plan, t_world + t_plan,
                                                        t_worlds, t_cover)])
    print(text)
    if not args.quick:
        write_section(text)


if __name__ == "__main__":
    main()
