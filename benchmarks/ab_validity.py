"""Validity of the A/B analysis at a 10% holdout: A/A type-I, power, SRM, peeking, coverage, uplift profit.

Vectorised simulations (numpy) through churnlab's own formulas and result objects; writes its section of
benchmarks/RESULTS.md between ``<!-- ab_validity:start -->`` and ``<!-- ab_validity:end -->``.

Usage: ``python benchmarks/ab_validity.py [--sims 2000] [--world-customers 20000] [--quick]``.
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
from scipy import stats as sst

from churnlab.experiment import stats as S
from churnlab.experiment.analyze import effect, plan_power, srm_check

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
START, END = "<!-- ab_validity:start -->", "<!-- ab_validity:end -->"
ALPHA = 0.05


def latent_correlation(p: float, rho: float) -> float:
    """Latent normal correlation giving point-biserial correlation ``rho`` between 1[z < c] and x."""
    c = sst.norm.ppf(p)
    return rho * np.sqrt(p * (1 - p)) / sst.norm.pdf(c)


def simulate_moments(rng, sims, n, base, lift, rho, share_c=0.1, chunk=100):
    """Per simulation, Moments of (y, x) for control and treated; y binary, x pre-period covariate."""
    out = []
    for start in range(0, sims, chunk):
        k = min(chunk, sims - start)
        arm_t = rng.random((k, n)) >= share_c
        x = rng.standard_normal((k, n))
        p = np.where(arm_t, base + lift, base)
        r = np.where(arm_t, latent_correlation(base + lift, rho), latent_correlation(base, rho))
        z = r * x + np.sqrt(1 - r**2) * rng.standard_normal((k, n))
        y = (z < sst.norm.ppf(p)).astype(float)
        for i in range(k):
            t, c = arm_t[i], ~arm_t[i]
            out.append((S.moments(y[i, t], x[i, t]), S.moments(y[i, c], x[i, c])))
    return out


def rejection_rates(pairs, kinds=("absolute", "relative", "cuped")):
    """Share of simulations rejecting at ALPHA, per kind, through churnlab.experiment.analyze.effect."""
    rates = {}
    for kind in kinds:
        rej = [effect(t, c, kind=kind, covariates=("x",) if kind == "cuped" else ()).p < ALPHA for t, c in pairs]
        rates[kind] = float(np.mean(rej))
    return rates


def aa_and_power(rng, sims, n):
    """A/A false-positive rates and power at +2 points with rho 0.5 (FIELD_NOTES reference)."""
    aa = rejection_rates(simulate_moments(rng, sims, n, 0.70, 0.0, 0.5))
    pw = rejection_rates(simulate_moments(rng, sims, n, 0.70, 0.02, 0.5), kinds=("absolute", "cuped"))
    analytic = plan_power(n, 0.9, 0.70, 0.02, rho=0.5)
    return aa, pw, analytic


def srm_detection(rng, sims, n=100_000):
    """Share of 9/91 allocations the gate flags, and false alarms at the planned 10/90."""
    plan = {"none": 0.1, "offer": 0.9}
    flagged, false_alarm = 0, 0
    for _ in range(sims):
        for share, counter in ((0.09, "bad"), (0.10, "ok")):
            n_c = rng.binomial(n, share)
            frame = pd.DataFrame({"arm": np.repeat(["none", "offer"], [n_c, n - n_c])})
            res = srm_check(frame, plan)
            if counter == "bad":
                flagged += not res.passed
            else:
                false_alarm += not res.passed
    return flagged / sims, false_alarm / sims


def peeking(rng, sims, n, looks=10, tau2=0.02**2):
    """A/A under 10 equally spaced looks: naive z-test vs always-valid mSPRT p-values."""
    naive_any, seq_any, final_only = 0, 0, 0
    cut = np.linspace(0, n, looks + 1).astype(int)[1:]
    for start in range(0, sims, 100):
        k = min(100, sims - start)
        arm_t = rng.random((k, n)) >= 0.1
        y = (rng.random((k, n)) < 0.7).astype(float)
        ct, cc = np.cumsum(arm_t, axis=1), np.cumsum(~arm_t, axis=1)
        st, sc = np.cumsum(y * arm_t, axis=1), np.cumsum(y * ~arm_t, axis=1)
        nt, nc = ct[:, cut - 1], cc[:, cut - 1]
        mt, mc = st[:, cut - 1] / nt, sc[:, cut - 1] / nc
        vt, vc = mt * (1 - mt) * nt / (nt - 1), mc * (1 - mc) * nc / (nc - 1)
        est, se = S.absolute_effect(mt, vt, nt, mc, vc, nc)
        naive = S.p_value_from_z(est / se)
        avp = S.always_valid_p(S.msprt_likelihood_ratio(est, se**2, tau2))
        naive_any += int((naive < ALPHA).any(axis=1).sum())
        seq_any += int((avp < ALPHA).any(axis=1).sum())
        final_only += int((naive[:, -1] < ALPHA).sum())
    return naive_any / sims, seq_any / sims, final_only / sims


def world_checks(n_customers, reps, seed=0):
    """Coverage of the synthetic world's true effect and the uplift policy's profit (needs run_campaign)."""
    try:
        from churnlab.experiment.campaign import coverage_of_true_effect
        from churnlab.experiment.uplift import policy_profit_benchmark
    except ImportError as exc:  # campaign or uplift modules not available
        return {"skipped": f"world checks unavailable: {exc}"}
    out = coverage_of_true_effect(n_customers=n_customers, reps=reps, seed=seed)
    out.update(policy_profit_benchmark(n_customers=n_customers, seed=seed))
    return out


def machine() -> str:
    """One line on the machine, threads and load."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    return (f"{platform.node()} · {platform.processor() or platform.machine()} · {os.cpu_count()} cores · "
            f"OMP_NUM_THREADS={threads} · load average {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f} · "
            f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · Python {platform.python_version()}")


def write_section(text: str) -> None:
    """Replace the ab_validity section of RESULTS.md (create the file when absent)."""
    body = f"{START}\n{text.strip()}\n{END}"
    if RESULTS.exists():
        old = RESULTS.read_text(encoding="utf-8")
        if START in old and END in old:
            new = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: body, old, flags=re.S)
        else:
            new = old.rstrip() + f"\n\n## A/B analysis validity (`benchmarks/ab_validity.py`)\n{body}\n"
    else:
        new = f"# Benchmark results\n\n## A/B analysis validity (`benchmarks/ab_validity.py`)\n{body}\n"
    RESULTS.write_text(new, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sims", type=int, default=2000)
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--world-customers", type=int, default=20_000)
    ap.add_argument("--coverage-reps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    band = S.binomial_band(args.sims, ALPHA, 0.99)
    aa, pw, analytic = aa_and_power(rng, args.sims, args.n)
    t_aa = time.perf_counter() - t0
    flagged, false_alarm = srm_detection(rng, min(args.sims, 1000))
    naive_any, seq_any, final_only = peeking(rng, args.sims, args.n)
    pband = S.binomial_band(args.sims, ALPHA, 0.99)
    t1 = time.perf_counter()
    world = world_checks(args.world_customers, args.coverage_reps, args.seed)
    t_world = time.perf_counter() - t1

    def ok(flag: bool) -> str:
        return "PASS" if flag else "FAIL"

    in_band = {k: band[0] <= v <= band[1] for k, v in aa.items()}
    lines = [
        f"Machine: {machine()}",
        f"Simulations: {args.sims} per check, n = {args.n:,} at 10/90 (holdout/treated), base retention 70%, "
        f"seed {args.seed}; {t_aa:.0f} s for A/A + power, {t_world:.0f} s for the world checks.",
        "",
        "| check | measured | target | verdict |",
        "|---|---|---|---|",
    ]
    for kind in ("absolute", "relative", "cuped"):
        lines.append(f"| A/A false-positive rate, {kind} | {aa[kind]:.2%} | 99% binomial band "
                     f"{band[0]:.2%}–{band[1]:.2%} | {ok(in_band[kind])} |")
    lines += [
        f"| power, +2 points, plain | {pw['absolute']:.1%} | analytic {analytic.power:.1%} ± 3 points | "
        f"{ok(abs(pw['absolute'] - analytic.power) <= 0.03)} |",
        f"| power, +2 points, CUPED (rho 0.5) | {pw['cuped']:.1%} | analytic {analytic.power_cuped:.1%} ± 3 points | "
        f"{ok(abs(pw['cuped'] - analytic.power_cuped) <= 0.03)} |",
        f"| MDE at 80% power (plain / CUPED) | {analytic.mde:.4f} / {analytic.mde_cuped:.4f} | about 0.030 plain | "
        f"{ok(abs(analytic.mde - 0.030) < 0.001)} |",
        f"| SRM gate flags 9/91 at n = 100,000 (alpha 0.001) | {flagged:.1%} | ~100% | {ok(flagged >= 0.99)} |",
        f"| SRM false alarms at the planned 10/90 | {false_alarm:.2%} | ~0.1% | {ok(false_alarm <= 0.01)} |",
        f"| A/A, naive z-test at 10 looks (any look) | {naive_any:.1%} | inflated above 5% | "
        f"{ok(naive_any > pband[1])} |",
        f"| A/A, naive z-test at the final look only | {final_only:.2%} | 5% | "
        f"{ok(pband[0] <= final_only <= pband[1])} |",
        f"| A/A, always-valid mSPRT (tau = 0.02) at 10 looks | {seq_any:.2%} | ≤ 5% | {ok(seq_any <= pband[1])} |",
    ]
    if "skipped" in world:
        lines.append(f"| synthetic-world checks | skipped | — | {world['skipped']} |")
    else:
        cov = world["coverage"]
        lines.append(f"| CI coverage of the world's true average effect ({world['coverage_reps']} re-randomisations, "
                     f"{world['coverage_arms']}) | {cov:.2%} | 95% ± 1.5% | {ok(abs(cov - 0.95) <= 0.015)} |")
        for row in world["policy_rows"]:
            lines.append(row)
        lines.append(f"| uplift policy profit minus treat-all (95% bootstrap CI) | {world['gain']:.0f} "
                     f"[{world['gain_lower']:.0f}, {world['gain_upper']:.0f}] | > 0 with CI | "
                     f"{ok(world['gain_lower'] > 0)} |")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
