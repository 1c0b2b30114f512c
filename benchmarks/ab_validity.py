"""Validity of the A/B analysis at a 10% holdout: A/A type-I, power, SRM, peeking, coverage, uplift profit.

The A/A checks run per metric family (binary, lognormal, Pareto, 80% zeros), split (10/90, 50/50) and size
(n = 20,000; n = 1,000 with a rare outcome) through :func:`churnlab.experiment.analysis.effect` exactly as
:func:`~churnlab.experiment.analysis.analyze` calls it (pooled 99th-percentile cap for non-binary metrics, score
methods for binary ones); interval coverage for absolute and relative effects with a real effect.

Vectorised simulations (numpy) through churnlab's own formulas and result objects; writes its section of
benchmarks/RESULTS.md between ``<!-- ab_validity:start -->`` and ``<!-- ab_validity:end -->``.

Usage: ``python benchmarks/ab_validity.py [--sims 2000] [--aa-sims 1000] [--world-customers N] [--audience-share S]
[--folds 5] [--policy-reps 200] [--no-world] [--no-write]``.
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
from churnlab.experiment.analysis import DEFAULT_LOGRANK_TAU2, effect, plan_power, srm_check
from churnlab.patterns.support import mean_with_ci

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
#: The synthetic world of the campaign checks and the share of its active customers in the retention audience
#: (riskiest first); OPINIONS.md "A/B benchmark audience".
WORLD_CUSTOMERS, AUDIENCE_SHARE = 40_000, 0.5
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
    """Share of simulations rejecting at ALPHA, per kind, through churnlab.experiment.analysis.effect."""
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


def draw_metric(rng, family, size):
    """Outcomes of one metric family: binary at a base rate (``binary:0.05``), or heavy-tailed revenue."""
    if family.startswith("binary"):
        return (rng.random(size) < float(family.split(":")[1])).astype(float)
    if family == "lognormal":
        return rng.lognormal(0.0, 2.0, size)
    if family == "pareto":
        return rng.pareto(2.0, size) + 1.0
    if family == "zeros":
        return np.where(rng.random(size) < 0.8, 0.0, rng.lognormal(0.0, 2.0, size))
    raise ValueError(family)


def aa_rates(rng, sims, n, family, share_c, chunk=50):
    """A/A rejection rates (absolute, relative) and the share saying "the offer raised it", as analyze runs them.

    Each simulated experiment caps a non-binary metric at the pooled 99th percentile
    (:func:`churnlab.experiment.stats.upper_cap`) and calls :func:`effect` on the arms' moments; the share of
    experiments whose holdout has no success is reported for binary metrics.
    """
    reject = {"absolute": 0, "relative": 0}
    raised = {"absolute": 0, "relative": 0}
    zero_holdout = 0
    for start in range(0, sims, chunk):
        k = min(chunk, sims - start)
        y = draw_metric(rng, family, (k, n))
        treated = rng.random((k, n)) >= share_c
        for i in range(k):
            cap = S.upper_cap(y[i], 0.99)
            yi = y[i] if cap is None else np.minimum(y[i], cap)
            t, c = S.moments(yi[treated[i]]), S.moments(yi[~treated[i]])
            zero_holdout += c.sums[0] == 0
            for kind in reject:
                r = effect(t, c, kind=kind, cap=cap)
                reject[kind] += r.p < ALPHA
                raised[kind] += (r.p < ALPHA) and (r.estimate > 0)
    return {"reject": {k: v / sims for k, v in reject.items()}, "raised": {k: v / sims for k, v in raised.items()},
            "zero_holdout": zero_holdout / sims}


AA_CASES = [
    ("binary:0.7", 20_000, 0.1), ("binary:0.7", 20_000, 0.5),
    ("lognormal", 20_000, 0.1), ("lognormal", 20_000, 0.5),
    ("pareto", 20_000, 0.1), ("pareto", 20_000, 0.5),
    ("zeros", 20_000, 0.1), ("zeros", 20_000, 0.5),
    ("binary:0.05", 1_000, 0.1), ("binary:0.05", 1_000, 0.5), ("binary:0.01", 2_000, 0.1),
]
COVERAGE_CASES = [(20_000, 0.1, 0.70, 0.72), (20_000, 0.5, 0.70, 0.72), (1_000, 0.1, 0.20, 0.24),
                  (1_000, 0.1, 0.05, 0.08)]


def coverage(rng, sims, n, share_c, p_c, p_t):
    """Coverage of the absolute and relative intervals of a binary metric with a real effect (``p_c -> p_t``)."""
    true = {"absolute": p_t - p_c, "relative": p_t / p_c - 1}
    covered = {k: 0 for k in true}
    below = {k: 0 for k in true}
    n_c = rng.binomial(n, share_c, sims)
    x_t, x_c = rng.binomial(n - n_c, p_t), rng.binomial(n_c, p_c)
    for i in range(sims):
        t = S.Moments(int(n - n_c[i]), np.array([x_t[i]], float), np.array([[x_t[i]]], float))
        c = S.Moments(int(n_c[i]), np.array([x_c[i]], float), np.array([[x_c[i]]], float))
        for kind, v in true.items():
            r = effect(t, c, kind=kind)
            covered[kind] += r.ci_lower <= v <= r.ci_upper
            below[kind] += r.ci_upper < v
    return {k: covered[k] / sims for k in true}, {k: below[k] / sims for k in true}


def validity_rows(rng, sims):
    """Markdown rows of the A/A table by metric, split and size, and of the coverage table."""
    band = S.binomial_band(sims, ALPHA, 0.99)
    half = S.binomial_band(sims, ALPHA / 2, 0.99)
    rows = []
    for family, n, share in AA_CASES:
        r = aa_rates(rng, sims, n, family, share)
        names = {"lognormal": "lognormal(0, 2) revenue", "pareto": "Pareto (shape 2) revenue",
                 "zeros": "80% zeros + lognormal(0, 2) revenue"}
        name = names[family] if family in names else f"binary, base {family.split(':')[1]}"
        split = f"{share:.0%}/{1 - share:.0%}"
        extra = f"; holdout with no success in {r['zero_holdout']:.1%}" if family.startswith("binary") else ""
        for kind in ("absolute", "relative"):
            rate, up = r["reject"][kind], r["raised"][kind]
            ok = band[0] <= rate <= band[1] and half[0] <= up <= half[1]
            rows.append(f"| A/A {name}, n = {n:,} at {split}, {kind} | {rate:.2%} (offer raised it: {up:.2%}{extra}) | "
                        f"{band[0]:.1%}–{band[1]:.1%} (raised: {half[0]:.1%}–{half[1]:.1%}) | "
                        f"{'PASS' if ok else 'FAIL'} |")
    csims = 2 * sims
    for n, share, p_c, p_t in COVERAGE_CASES:
        cov, below = coverage(rng, csims, n, share, p_c, p_t)
        for kind in ("absolute", "relative"):
            rows.append(f"| coverage of the true {kind} effect, binary {p_c:.0%} -> {p_t:.0%}, n = {n:,} at "
                        f"{share:.0%}/{1 - share:.0%} ({csims} simulations) | {cov[kind]:.2%} (interval below the "
                        f"truth {below[kind]:.2%}, above it {1 - cov[kind] - below[kind]:.2%}) | 95% ± 1.5% | "
                        f"{'PASS' if abs(cov[kind] - 0.95) <= 0.015 else 'FAIL'} |")
    return rows


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


def peeking_logrank(rng, sims, n, horizon=91, every=7, daily_hazard=0.004, tau2=DEFAULT_LOGRANK_TAU2):
    """A/A campaigns with churn in whole days, looked at every ``every`` days: naive log-rank vs mSPRT.

    The same computation as :func:`churnlab.experiment.analysis.sequential_logrank`, on per-day counts.
    """
    looks = np.arange(every, horizon + 1, every)
    naive_any, seq_any = 0, 0
    for _ in range(sims):
        arm_t = rng.random(n) >= 0.1
        t = np.ceil(rng.exponential(1 / daily_hazard, n))
        churn = t <= horizon
        d_t = np.bincount(t[churn & arm_t].astype(int), minlength=horizon + 1)[1:]
        d_c = np.bincount(t[churn & ~arm_t].astype(int), minlength=horizon + 1)[1:]
        at_t = arm_t.sum() - np.concatenate([[0], np.cumsum(d_t)[:-1]])
        at_c = (~arm_t).sum() - np.concatenate([[0], np.cumsum(d_c)[:-1]])
        u, v = S.logrank_increments(at_t, at_c, d_t, d_c)
        U, V = np.cumsum(u)[looks - 1], np.cumsum(v)[looks - 1]
        naive = S.p_value_from_z(U / np.sqrt(V))
        avp = S.always_valid_p(S.msprt_likelihood_ratio(U / V, 1 / V, tau2))
        naive_any += bool((naive < ALPHA).any())
        seq_any += bool((avp < ALPHA).any())
    return naive_any / sims, seq_any / sims, len(looks)


def _potential_outcomes(dataset, truth, customers, lost, campaign_date, horizon, seed):
    """The world's probabilities under every arm: retention of the at-risk ``customers``, return of the ``lost``.

    One campaign lists both groups (common random numbers make each customer's probabilities independent of who
    else is listed): ``effects_by_offer`` holds every arm's retention probability, ``reactivation`` every arm's
    probability that a churned customer comes back within the horizon.
    """
    from churnlab.config import OFFERS
    from churnlab.data.synthetic import run_campaign

    offers = pd.DataFrame({"customer_id": [*customers, *lost], "offer": "none"})
    _, ct = run_campaign(dataset, truth, offers, campaign_date=campaign_date, horizon_days=horizon, seed=seed)
    probs, back = {}, {}
    for offer in OFFERS:
        e = ct.effects_by_offer[ct.effects_by_offer["offer"] == offer].set_index("customer_id").reindex(customers)
        probs[offer] = e["p_retain_treated"].to_numpy(dtype=float)
        probs["none"] = e["p_retain_control"].to_numpy(dtype=float)
        r = ct.reactivation[ct.reactivation["offer"] == offer].set_index("customer_id").reindex(lost)
        back[offer] = r["p_reactivate_treated"].to_numpy(dtype=float)
        back["none"] = r["p_reactivate_control"].to_numpy(dtype=float)
    if np.isnan(probs["none"]).any() or np.isnan(back["none"]).any():
        raise RuntimeError("the campaign truth lacks a listed customer")
    return probs, back, {k: float(v) for k, v in ct.costs.items()}


def rerandomised_coverage(customers, probs, reps, rng, experiment):
    """Coverage and power of each offer's effect interval over re-randomised hash splits (fresh salt per draw).

    Outcomes are redrawn from the world's potential-outcome probabilities ``probs`` (one array per arm and
    ``none``); each draw analyses every offer against the holdout with its own n.
    """
    from churnlab.config import OFFERS
    from churnlab.experiment.assign import assign

    arms = list(OFFERS)
    labels = [*arms, "none"]
    true = {a: float(np.mean(probs[a] - probs["none"])) for a in arms}
    covered = {a: 0 for a in arms}
    detected = {a: 0 for a in arms}
    for r in range(reps):
        arm = assign(customers, experiment, arms, 0.1, salt=str(r))["arm"].to_numpy()
        p = np.select([arm == a for a in labels], [probs[a] for a in labels])
        y = (rng.random(len(customers)) < p).astype(float)
        c = S.moments(y[arm == "none"])
        for a in arms:
            res = effect(S.moments(y[arm == a]), c)
            covered[a] += res.ci_lower <= true[a] <= res.ci_upper
            detected[a] += res.ci_lower > 0
    return {"true": true, "coverage": sum(covered.values()) / (reps * len(arms)),
            "coverage_by_arm": {a: v / reps for a, v in covered.items()},
            "power": {a: v / reps for a, v in detected.items()}, "reps": reps}


def policy_coverage(full, pols, outcome_model, planned, costs, value, metric, arms, probs, *, idx_of, n_audience,
                    seed, reps=200, n_boot=300):
    """Coverage of the doubly robust policy-gain interval, with the cross-fitted models and policies held fixed.

    Two checks of the same interval: (a) what it claims, the assignment re-randomised (fresh hash salt) and the
    outcomes redrawn from the world's probabilities; (b) the earlier check, the realised assignment kept and
    only the outcomes redrawn, which measures coverage conditional on one assignment. The estimate is linear in
    the outcomes, so its mean given the assignment is the estimate at ``y = p``: the offset (b) cannot average out.
    """
    from churnlab.experiment.assign import assign
    from churnlab.experiment.uplift import compare_policies, policy_gain_se_floor

    labels = [*arms, "none"]
    two = {k: pols[k] for k in ("uplift policy", "treat-all")}
    idx = full["customer_id"].map(idx_of).to_numpy()
    truth = {k: sum(float(((probs[a][idx] - probs["none"][idx]) * value - costs.get(a, 0.0))[p == a].sum())
                    for a in arms) / len(full) * n_audience for k, p in two.items()}
    true_gain = truth["uplift policy"] - truth["treat-all"]
    p_arm = pd.DataFrame({a: probs[a][idx] for a in labels})
    mu = outcome_model.reset_index(drop=True)
    kw = dict(outcome=metric, n_audience=n_audience, baseline="treat-all", outcome_model=mu, n_boot=n_boot)

    def p_received(arm):
        return np.select([arm == a for a in labels], [p_arm[a].to_numpy() for a in labels])

    rng = np.random.default_rng(seed + 2)
    arm0 = full["arm"].to_numpy()
    draws = {"re-randomised": [], "fixed assignment": []}
    for r in range(reps):
        for mode, rows in draws.items():
            arm = arm0 if mode == "fixed assignment" else assign(full["customer_id"].to_numpy(), "policy", arms, 0.1,
                                                                 salt=f"coverage-{r}")["arm"].to_numpy()
            redraw = full.assign(arm=arm, **{metric: (rng.random(len(full)) < p_received(arm)).astype(float)})
            s = compare_policies(redraw, two, planned, costs, value, seed=r, **kw).summary.set_index("policy")
            g, ta = s.loc["uplift policy"], s.loc["treat-all"]
            rows.append((g["gain_vs_baseline"], g["gain_se"], g["gain_lower"] <= true_gain <= g["gain_upper"],
                         g["gain_lower"] > 0, ta["profit_lower"] <= truth["treat-all"] <= ta["profit_upper"]))
    expected = compare_policies(full.assign(**{metric: p_received(arm0)}), two, planned, costs, value, seed=0,
                                **{**kw, "n_boot": 2}).summary.set_index("policy").loc["uplift policy"]
    floor = policy_gain_se_floor(full, two["uplift policy"], two["treat-all"], planned, value, p_arm,
                                 n_audience=n_audience)
    summary = {}
    for mode, rows in draws.items():
        v = np.array(rows, dtype=float)
        summary[mode] = dict(mean=v[:, 0].mean(), mc_se=v[:, 0].std(ddof=1) / np.sqrt(reps), sd=v[:, 0].std(ddof=1),
                             se=v[:, 1].mean(), coverage=v[:, 2].mean(), power=v[:, 3].mean(),
                             coverage_treat_all=v[:, 4].mean())
    z = sst.norm.ppf(1 - ALPHA / 2) + sst.norm.ppf(0.8)
    rerand = summary["re-randomised"]
    return {"policy_reps": reps, "true_gain": true_gain, "coverage_by_mode": summary,
            "fixed_offset": expected["gain_vs_baseline"] - true_gain, "gain_se_floor": floor,
            "audience_for_power": {k: n_audience * (z * se / true_gain) ** 2 if true_gain > 0 else float("inf")
                                   for k, se in (("floor", floor), ("measured", rerand["se"]))}}


def learned_policy_replications(full, feats, metric, planned, costs, value, arms, probs, idx, baseline, *, reps,
                                n_folds, seed):
    """The world's true gain over treat-all of the policy the uplift procedure learns, over re-run experiments.

    Each replication re-randomises the hash split (fresh salt), draws every customer's outcome from the world's
    probability under the arm received, cross-fits the learners, recommends a policy and estimates its gain
    (doubly robust, paired bootstrap). The world's probabilities give the policy's true gain. The mean true gain
    with its 95% interval answers "does the procedure beat treat-all in this world?"; the share of replications
    whose interval lies above zero is the power of one experiment to show it.
    """
    from churnlab.experiment.assign import assign
    from churnlab.experiment.uplift import compare_policies, cross_fit_uplift, recommend_policy

    labels = [*arms, "none"]
    rng = np.random.default_rng(seed + 4)
    gains, above, covered = [], [], []
    base = np.full(len(full), baseline, dtype=object)

    def true_profit(pol):
        return sum(float(((probs[a][idx] - probs["none"][idx]) * value - costs.get(a, 0.0))[pol == a].sum())
                   for a in arms)

    for r in range(reps):
        arm = assign(full["customer_id"].to_numpy(), "policy", arms, 0.1, salt=f"replication-{r}")["arm"].to_numpy()
        p = np.select([arm == a for a in labels], [probs[a][idx] for a in labels])
        frame = full.assign(arm=arm, **{metric: (rng.random(len(full)) < p).astype(float)})
        cf = cross_fit_uplift(frame, feats, metric, planned, n_folds=n_folds, random_state=r)
        pol = recommend_policy(cf.uplift, costs, value).to_numpy()
        true_gain = true_profit(pol) - true_profit(base)
        g = compare_policies(frame, {"uplift policy": pol, "treat-all": base}, planned, costs, value, outcome=metric,
                             baseline="treat-all", outcome_model=cf.outcome, seed=r).summary.set_index("policy")
        g = g.loc["uplift policy"]
        gains.append(true_gain)
        above.append(g["gain_lower"] > 0)
        covered.append(g["gain_lower"] <= true_gain <= g["gain_upper"])
    v = np.array(gains)
    _, mean, lower, upper = mean_with_ci(v)
    return {"reps": reps, "mean": mean, "lower": lower, "upper": upper,
            "share_positive": float((v > 0).mean()), "power": float(np.mean(above)),
            "coverage": float(np.mean(covered))}


def _ate_by(probs, arms, frame, pos, mask):
    """True average effect of each offer over the rows of ``frame`` selected by ``mask``."""
    idx = frame.loc[mask, "customer_id"].map(pos).to_numpy()
    return {a: float(np.mean(probs[a][idx] - probs["none"][idx])) if idx.size else float("nan") for a in arms}


def world_checks(n_customers, reps, seed=0, horizon=90, n_folds=5, policy_reps=200, share=0.5, winback_days=180,
                 policy_replications=30):
    """Coverage of the world's true average effects, the uplift policy's profit and win-back (needs run_campaign).

    The retention audience is the riskiest ``share`` of the active customers (recency rule); the win-back audience
    the customers who churned in the ``winback_days`` before the campaign. Both get offers in one campaign with a
    10% holdout each (separate hash experiments).
    """
    import churnlab.data.synthetic as syn

    if not hasattr(syn, "run_campaign"):
        return {"skipped": "churnlab.data.synthetic.run_campaign is not available"}
    from churnlab.config import OFFERS
    from churnlab.experiment.analysis import analyze
    from churnlab.experiment.assign import assign
    from churnlab.experiment.campaign import (
        UPLIFT_FEATURES,
        at_risk_audience,
        campaign_outcomes,
        churned_customers,
        pre_period_covariates,
        reactivation_outcomes,
    )
    from churnlab.experiment.uplift import compare_policies, cross_fit_uplift, fit_uplift_by_arm, recommend_policy

    dataset, truth = syn.generate(n_customers, seed=seed)
    t = pd.Timestamp(dataset.as_of)
    audience = at_risk_audience(dataset, t, share=share)
    ids = audience["customer_id"].to_numpy()
    lost = churned_customers(dataset, t, within_days=winback_days)["customer_id"].to_numpy()
    t_truth = time.perf_counter()
    probs, back, costs = _potential_outcomes(dataset, truth, ids, lost, t, horizon, seed)
    t_truth = time.perf_counter() - t_truth
    arms = list(OFFERS)
    # Coverage: re-randomise the hash split (fresh salt) and redraw outcomes from the world's probabilities.
    retention = rerandomised_coverage(ids, probs, reps, np.random.default_rng(seed), "coverage")
    true_ate = retention["true"]
    out = {"coverage": retention["coverage"], "coverage_reps": reps, "coverage_arms": f"{len(arms)} arms, "
           f"{len(ids):,} customers, true effects " + ", ".join(f"{a} {v:+.3f}" for a, v in true_ate.items())}
    # Uplift policy on one real campaign, evaluated two ways: the first version (learners trained on one half,
    # IPW on the other half) and the current one (cross-fitted over all customers, doubly robust).
    out.update(winback=rerandomised_coverage(lost, back, reps, np.random.default_rng(seed + 3), "winback-coverage"))
    assignment = assign(audience, "policy", arms, 0.1)
    wb_assignment = assign(pd.DataFrame({"customer_id": lost}), "winback", arms, 0.1)
    offers = pd.concat([assignment, wb_assignment]).rename(columns={"arm": "offer"})[["customer_id", "offer"]]
    after, _ = syn.run_campaign(dataset, truth, offers, campaign_date=t, horizon_days=horizon, seed=seed)
    # win-back on the realised campaign: each offer's reactivation effect against the holdout, Holm-corrected
    wb = analyze(reactivation_outcomes(after, wb_assignment, t, horizon_days=horizon), ["reactivated"],
                 wb_assignment.attrs["planned_shares"], correction="holm").summary
    wb = wb[wb["kind"] == "absolute"].set_index("arm")
    out["winback"]["realised"] = {a: (float(wb.loc[a, "estimate"]), float(wb.loc[a, "ci_lower"]),
                                      float(wb.loc[a, "ci_upper"]), float(wb.loc[a, "p_adjusted"]))
                                  for a in arms}
    out["winback"]["n"] = len(lost)
    out["winback"]["base"] = float(np.mean(back["none"]))
    table = campaign_outcomes(after, assignment, t, horizons=[horizon]).merge(
        pre_period_covariates(dataset, ids, t), on="customer_id").merge(
        audience[["customer_id", "risk_score", "risk_decile"]], on="customer_id")
    table["monthly_fee"] = table["monthly_fee"].fillna(table["monthly_fee"].median())
    feats = list(UPLIFT_FEATURES)
    metric = f"retained_{horizon}"
    planned = assignment.attrs["planned_shares"]
    pos = {cid: i for i, cid in enumerate(ids)}
    value_all = table["monthly_fee"].to_numpy() * horizon / 30

    def policies_for(frame, uplift):
        value = frame["monthly_fee"].to_numpy() * horizon / 30
        return value, {"uplift policy": recommend_policy(uplift, costs, value).to_numpy(),
                       "treat-all": np.full(len(frame), best, dtype=object),
                       "treat-by-risk": np.where(frame["risk_decile"] >= 6, best, "none"),
                       "treat-none": np.full(len(frame), "none", dtype=object)}

    def true_profit(frame, pol, value):
        idx = frame["customer_id"].map(pos).to_numpy()
        return sum(float(((probs[a][idx] - probs["none"][idx]) * value - costs.get(a, 0.0))[pol == a].sum())
                   for a in arms) / len(frame) * len(ids)

    # treat-all gives everyone the single offer with the highest true profit: the strongest one-offer roll-out
    treat_all_truth = {a: true_profit(table, np.full(len(table), a, dtype=object), value_all) for a in arms}
    best = max(arms, key=treat_all_truth.get)
    # the ceiling: every customer gets the offer their own true effect pays for (no learner can do better)
    idx_all = table["customer_id"].map(pos).to_numpy()
    oracle = recommend_policy(pd.DataFrame({a: probs[a][idx_all] - probs["none"][idx_all] for a in arms}), costs,
                              value_all).to_numpy()
    oracle_gain = true_profit(table, oracle, value_all) - treat_all_truth[best]

    half = np.random.default_rng(seed + 1).random(len(table)) < 0.5
    train, test = table[~half], table[half].reset_index(drop=True)
    learners = fit_uplift_by_arm(train, feats, metric, planned, random_state=seed)
    uplift = pd.DataFrame({a: m.predict_uplift(test[feats].to_numpy(dtype=float)) for a, m in learners.items()})
    value, pols = policies_for(test, uplift)
    split = compare_policies(test, pols, planned, costs, value, outcome=metric, n_audience=len(ids),
                             baseline="treat-all", seed=seed).summary.set_index("policy")
    split_truth = {k: true_profit(test, p, value) for k, p in pols.items()}

    t_cf = time.perf_counter()
    full = table.reset_index(drop=True)
    cross = cross_fit_uplift(full, feats, metric, planned, n_folds=n_folds, random_state=seed)
    t_cf = time.perf_counter() - t_cf
    value, pols = policies_for(full, cross.uplift)
    kw = dict(outcome=metric, n_audience=len(ids), baseline="treat-all", seed=seed)
    cf_ipw = compare_policies(full, pols, planned, costs, value, **kw).summary.set_index("policy")
    cf_dr = compare_policies(full, pols, planned, costs, value, outcome_model=cross.outcome,
                             **kw).summary.set_index("policy")
    cf_truth = {k: true_profit(full, p, value) for k, p in pols.items()}
    rows = []
    for name in pols:
        rows.append(f"| policy '{name}' (treat-all = {best}), cross-fitted {n_folds} folds, doubly robust profit over "
                    f"treat-none (IPW: {cf_ipw.loc[name, 'profit']:,.0f}) | {cf_dr.loc[name, 'profit']:,.0f} "
                    f"[{cf_dr.loc[name, 'profit_lower']:,.0f}, {cf_dr.loc[name, 'profit_upper']:,.0f}] | world's "
                    f"true profit {cf_truth[name]:,.0f} | — |")
    gains = {
        "held-out half, IPW (first version)": (split, split_truth),
        f"cross-fitted {n_folds} folds, IPW": (cf_ipw, cf_truth),
        f"cross-fitted {n_folds} folds, doubly robust": (cf_dr, cf_truth),
    }
    gain_rows = []
    for label, (comp, tru) in gains.items():
        g = comp.loc["uplift policy"]
        gain_rows.append((label, g["gain_vs_baseline"], g["gain_lower"], g["gain_upper"],
                          tru["uplift policy"] - tru["treat-all"]))
    t_rep = time.perf_counter()
    out["replications"] = learned_policy_replications(
        full, feats, metric, planned, costs, value, arms, probs, full["customer_id"].map(pos).to_numpy(), best,
        reps=policy_replications, n_folds=n_folds, seed=seed)
    out["replications"]["seconds"] = time.perf_counter() - t_rep
    out.update(policy_coverage(full, pols, cross.outcome, planned, costs, value, metric, arms, probs, idx_of=pos,
                               n_audience=len(ids), seed=seed, reps=policy_reps),
               value_quantiles=np.quantile(value, [0.5, 0.9, 0.99, 1.0]))
    out.update(policy_rows=rows, gain_rows=gain_rows, audience=len(ids), cross_fit_seconds=t_cf,
               share_treated=float(cf_dr.loc["uplift policy", "share_treated"]), truth_seconds=t_truth,
               treat_all_truth=treat_all_truth, features=feats, costs=costs, oracle_gain=oracle_gain,
               true_ate_by={"B2B": _ate_by(probs, arms, table, pos, table["is_b2b"] == 1),
                            "B2C": _ate_by(probs, arms, table, pos, table["is_b2b"] == 0)})
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
    ap.add_argument("--world-customers", type=int, default=WORLD_CUSTOMERS)
    ap.add_argument("--audience-share", type=float, default=AUDIENCE_SHARE,
                    help="share of the active customers in the retention audience, riskiest first")
    ap.add_argument("--coverage-reps", type=int, default=2000)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--policy-reps", type=int, default=200)
    ap.add_argument("--policy-replications", type=int, default=30,
                    help="experiments re-run (split, outcomes, learners, policy) for the policy's true gain")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--aa-sims", type=int, default=1000,
                    help="simulated A/A experiments per metric x split x size (coverage uses twice as many)")
    ap.add_argument("--no-world", action="store_true", help="skip the synthetic-world checks (minutes)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    band = S.binomial_band(args.sims, ALPHA, 0.99)
    aa, pw, analytic = aa_and_power(rng, args.sims, args.n)
    t_aa = time.perf_counter() - t0
    flagged, false_alarm = srm_detection(rng, min(args.sims, 1000))
    naive_any, seq_any, final_only = peeking(rng, args.sims, args.n)
    lr_naive, lr_seq, lr_looks = peeking_logrank(rng, args.sims, args.n)
    pband = S.binomial_band(args.sims, ALPHA, 0.99)
    t_valid = time.perf_counter()
    validity = validity_rows(rng, args.aa_sims)
    t_valid = time.perf_counter() - t_valid
    t1 = time.perf_counter()
    world = {"skipped": "--no-world"} if args.no_world else world_checks(
        args.world_customers, args.coverage_reps, args.seed, n_folds=args.folds, policy_reps=args.policy_reps,
        share=args.audience_share, policy_replications=args.policy_replications)
    t_world = time.perf_counter() - t1

    def ok(flag: bool) -> str:
        return "PASS" if flag else "FAIL"

    in_band = {k: band[0] <= v <= band[1] for k, v in aa.items()}
    lines = [
        f"Machine: {machine()}",
        f"Simulations: {args.sims} per check, n = {args.n:,} at 10/90 (holdout/treated), base retention 70%, "
        f"seed {args.seed}; {t_aa:.0f} s for A/A + power, {t_valid:.0f} s for the A/A rates by metric, split and "
        f"size ({args.aa_sims} experiments each; coverage {2 * args.aa_sims}), {t_world:.0f} s for the world checks "
        f"({args.world_customers:,}-customer world, retention audience the riskiest {args.audience_share:.0%} of "
        f"the active customers"
        + (f"; world's potential outcomes {world['truth_seconds']:.0f} s, cross-fitting "
           f"{world['cross_fit_seconds']:.0f} s" if "cross_fit_seconds" in world else "") + ").",
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
        f"| A/A campaign, naive log-rank at {lr_looks} weekly looks (any look; churn 0.4%/day, 91 days) | "
        f"{lr_naive:.1%} | inflated above 5% | {ok(lr_naive > pband[1])} |",
        f"| A/A campaign, always-valid log-rank mSPRT (tau = {DEFAULT_LOGRANK_TAU2 ** 0.5:g} on log HR) at "
        f"{lr_looks} weekly looks | {lr_seq:.2%} | ≤ 5% | {ok(lr_seq <= pband[1])} |",
        *validity,
    ]
    if "skipped" in world:
        lines.append(f"| synthetic-world checks | skipped | — | {world['skipped']} |")
    else:
        cov = world["coverage"]
        lines.append(f"| CI coverage of the world's true average effect ({world['coverage_reps']} re-randomisations, "
                     f"{world['coverage_arms']}) | {cov:.2%} | 95% ± 1.5% | {ok(abs(cov - 0.95) <= 0.015)} |")
        by = world["true_ate_by"]
        lines.append(
            "| world's true average effect on 90-day retention by segment (B2B / B2C) | "
            + ", ".join(f"{a} {by['B2B'][a]:+.3f} / {by['B2C'][a]:+.3f}" for a in by["B2B"])
            + " | — | — |")
        lines.append(
            "| world's true profit of treating everyone with one offer (value = fee x 3 months, costs "
            + ", ".join(f"{a} {c:g}" for a, c in world["costs"].items() if a != "none") + ") | "
            + ", ".join(f"{a} {v:,.0f}" for a, v in world["treat_all_truth"].items())
            + f" | treat-all = the best of these; a policy knowing each customer's true effect would earn "
            f"{world['oracle_gain']:,.0f} more | — |")
        lines.append(f"| uplift learners' covariates (pre-campaign, observable) | {', '.join(world['features'])} | — "
                     f"| — |")
        for row in world["policy_rows"]:
            lines.append(row)
        for label, g, lo, hi, tru in world["gain_rows"]:
            lines.append(f"| uplift policy profit minus treat-all, {label} (95% paired bootstrap CI; "
                         f"{world['audience']:,} customers) | {g:,.0f} [{lo:,.0f}, {hi:,.0f}] | > 0 with CI "
                         f"(world's true difference {tru:,.0f}; inside the CI: {'yes' if lo <= tru <= hi else 'NO'}) | "
                         f"{ok(lo > 0)} |")
        q = world["value_quantiles"]
        tg, reps = world["true_gain"], world["policy_reps"]
        for mode, m in world["coverage_by_mode"].items():
            what = ("assignment re-randomised (fresh salt) and outcomes redrawn: what the interval claims"
                    if mode == "re-randomised" else "realised assignment kept, outcomes redrawn (the earlier check: "
                    f"conditional on one assignment, whose exact offset E[estimate given the assignment] - truth is "
                    f"{world['fixed_offset']:+,.0f})")
            target = "95% ± 3.1 points (99% binomial band)" if mode == "re-randomised" else "not a target"
            verdict = ok(abs(m["coverage"] - 0.95) <= 0.031) if mode == "re-randomised" else "—"
            lines.append(
                f"| doubly robust gain interval, cross-fitted models and policies fixed, {what}; {reps} draws, "
                f"{world['audience']:,} customers (value per retained customer median {q[0]:,.0f}, p90 {q[1]:,.0f}, "
                f"max {q[3]:,.0f}) | coverage of the true gain {tg:,.0f}: {m['coverage']:.1%}; mean estimate "
                f"{m['mean']:,.0f} ± {m['mc_se']:,.0f} (Monte Carlo se); sd of estimates {m['sd']:,.0f} vs mean "
                f"bootstrap se {m['se']:,.0f}; treat-all profit interval coverage {m['coverage_treat_all']:.1%}; "
                f"intervals above zero {m['power']:.1%} | {target} | {verdict} |")
        aud = world["audience_for_power"]
        lines.append(
            f"| is the uplift policy's gain over treat-all distinguishable from zero at this size? standard error no "
            f"outcome model can remove (Bernoulli noise x 1/e, world's probabilities) | floor "
            f"{world['gain_se_floor']:,.0f} vs true gain {tg:,.0f}; audience for 80% power ≈ {aud['floor']:,.0f} "
            f"customers with a perfect outcome model, {aud['measured']:,.0f} with the cross-fitted one | true gain > "
            f"1.96 x measured se | "
            f"{ok(tg > 1.96 * world['coverage_by_mode']['re-randomised']['se'])} |")
        rp = world["replications"]
        lines.append(
            f"| does the uplift procedure beat treat-all in this world? {rp['reps']} experiments re-run (fresh split, "
            f"outcomes drawn from the world's probabilities, learners cross-fitted, policy recommended; "
            f"{rp['seconds']:.0f} s): world's true gain of the learned policy over treat-all | mean {rp['mean']:,.0f} "
            f"(95% interval of the mean [{rp['lower']:,.0f}, {rp['upper']:,.0f}]); positive in "
            f"{rp['share_positive']:.0%} of experiments; one experiment's doubly robust interval above zero in "
            f"{rp['power']:.0%} and covering the true gain in {rp['coverage']:.0%} | true gain > 0 with its interval "
            f"| {ok(rp['lower'] > 0)} |")
        wb = world["winback"]
        lines.append(
            f"| win-back: CI coverage of each offer's true reactivation effect ({wb['reps']} re-randomisations, "
            f"{wb['n']:,} customers churned in the 180 days before the campaign, holdout reactivation "
            f"{wb['base']:.1%}; true effects " + ", ".join(f"{a} {v:+.3f}" for a, v in wb["true"].items())
            + f") | {wb['coverage']:.2%} (" + ", ".join(f"{a} {v:.1%}" for a, v in wb["coverage_by_arm"].items())
            + f") | 95% ± 1.5% | {ok(abs(wb['coverage'] - 0.95) <= 0.015)} |")
        for a, (est, lo, hi, p_adj) in wb["realised"].items():
            tru = wb["true"][a]
            lines.append(
                f"| win-back, {a}: reactivation effect vs holdout on the realised campaign (Holm across offers) | "
                f"{est:+.3f} [{lo:+.3f}, {hi:+.3f}], Holm p = {p_adj:.3g} | covers the world's true {tru:+.3f}: "
                f"{'yes' if lo <= tru <= hi else 'NO'}; detected (p < 0.05): {'yes' if p_adj < ALPHA else 'no'}; "
                f"power over re-randomisations {wb['power'][a]:.0%} | "
                f"{ok(lo <= tru <= hi) if wb['power'][a] < 0.8 else ok(lo <= tru <= hi and p_adj < ALPHA)} |")
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
