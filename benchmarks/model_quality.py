"""Model quality against published references and the synthetic world's oracle.

Writes its section of benchmarks/RESULTS.md between <!-- model_quality:start --> and
<!-- model_quality:end -->; ``--only`` re-measures the named groups and keeps the other groups' rows, notes and
machine lines. Usage: .venv/bin/python benchmarks/model_quality.py [--only telco,mlc,cdnow,synthetic]
[--n-customers 20000] [--seeds 0,1,2] [--fresh-seeds 3]. Figures are ROC-AUC unless named otherwise.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from churnlab import model as M
from churnlab.data import load_cdnow, load_mlc_churn, load_telco
from churnlab.data.public import cdnow_path
from churnlab.explain import MECHANISM_FEATURES, drivers_found, explain, global_importance
from churnlab.features import build_features
from churnlab.labels import make_label_times, monthly_cutoffs
from churnlab.patterns.support import mean_with_ci

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
START, END = "<!-- model_quality:start -->", "<!-- model_quality:end -->"


def machine() -> str:
    load = os.getloadavg()
    return (f"{platform.node()} · {platform.processor() or platform.machine()} · {os.cpu_count()} cores · "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · threads: XGBoost n_jobs=1 · "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} · {code_version()}")


def code_version() -> str:
    """Commit measured, and the source files that differed from it (other work in progress)."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=root, capture_output=True,
                               text=True, check=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return "commit unknown"
    changed = [line[3:] for line in dirty if line.strip()]
    return f"commit {head}" + (f" plus uncommitted changes to {', '.join(changed)}" if changed else "")


def snapshot_cv(dataset, name: str, target: float) -> list[dict]:
    lt = make_label_times(dataset)
    td = M.training_data(build_features(dataset, lt), lt)
    folds = M.stratified_folds(td.y, n_splits=5, random_state=0)
    rows = []
    for model_name, make in [("prior", M.prior_baseline), ("signal_rule", M.SignalRule),
                             ("logistic", M.logistic_baseline), ("xgboost (workbench default)", M.ChurnXGBClassifier)]:
        t0 = time.perf_counter()
        auc = M.cross_validated_auc(make, td.X, td.y, folds)["roc_auc"].mean()
        rows.append({"dataset": name, "model": model_name, "roc_auc": auc, "target": target if "xgboost" in model_name
                     else np.nan, "seconds": time.perf_counter() - t0})
        print(rows[-1], flush=True)
    return rows


#: CDNOW target of issue #6 for the XGBoost row, kept as the issue states it. Its reference (0.790) was measured on
#: Lifetimes' 1/10 sample (2,357 customers, AUC standard error ~0.010; see the sample row below); on all 23,570 the
#: best of ~30 definitions tried (label boundaries, RFM variants, windows, gaps, BG/NBD and Pareto/NBD features,
#: splines, interactions, XGBoost depth/monotone grids) reached 0.779 (bootstrap CI of 0.778: 0.769-0.786).
CDNOW_TARGET = 0.79


def cdnow() -> list[dict]:
    ds = load_cdnow()
    cutoff = pd.Timestamp("1997-09-30")
    lt = make_label_times(ds, [cutoff], horizon_days=92, include_cutoff=True)  # purchases on 09-30 are history
    td = M.training_data(build_features(ds, lt), lt)
    folds = M.stratified_folds(td.y, n_splits=5, random_state=0)
    rows = []
    for model_name, make in [("signal_rule", M.SignalRule), ("logistic", M.logistic_baseline),
                             ("xgboost (workbench default)", M.ChurnXGBClassifier)]:
        t0 = time.perf_counter()
        auc = M.cross_validated_auc(make, td.X, td.y, folds)["roc_auc"].mean()
        rows.append({"dataset": "cdnow", "model": model_name, "roc_auc": auc,
                     "target": CDNOW_TARGET if "xgboost" in model_name else np.nan,
                     "seconds": time.perf_counter() - t0})
        print(rows[-1], flush=True)
    # BG/NBD P(no purchase in the next 92 days), not 1 - P(alive) (FIELD_NOTES).
    from lifetimes import BetaGeoFitter
    from lifetimes.utils import summary_data_from_transaction_data

    ev = ds["events"]
    ev = ev[ev["timestamp"] <= cutoff]
    y = pd.Series(td.y, index=td.keys["customer_id"].astype(str))
    # Days, and weeks as in Fader, Hardie & Lee's own CDNOW analysis; the unit changes the fitted
    # heterogeneity (t_x and T are discretised), so both are reported.
    for freq, per_day in (("D", 1.0), ("W", 1 / 7)):
        t0 = time.perf_counter()
        summ = summary_data_from_transaction_data(ev, "customer_id", "timestamp", observation_period_end=cutoff,
                                                  freq=freq)
        bgf = BetaGeoFitter(penalizer_coef=0.0).fit(summ["frequency"], summ["recency"], summ["T"])
        # P(no purchase in (T, T+t] | x, t_x, T) = 1 - P(alive) * (1 - ((alpha+T)/(alpha+T+t))^(r+x)): an alive
        # customer's rate is Gamma(r+x, alpha+T) a posteriori and BG/NBD drops out only right after a purchase,
        # so an alive customer makes no purchase in t with probability E[exp(-lambda t)] (Fader, Hardie & Lee
        # 2005, eq. 10 and section 4).
        r, alpha = bgf.params_["r"], bgf.params_["alpha"]
        t = 92 * per_day
        p_alive = bgf.conditional_probability_alive(summ["frequency"], summ["recency"], summ["T"])
        p0 = 1 - p_alive * (1 - ((alpha + summ["T"]) / (alpha + summ["T"] + t)) ** (r + summ["frequency"]))
        score = pd.Series(np.asarray(p0, dtype=float), index=summ.index.astype(str))
        auc = roc_auc_score(y, score.reindex(y.index).fillna(score.mean()))
        unit = "days" if freq == "D" else "weeks"
        rows.append({"dataset": "cdnow", "model": f"BG/NBD P(no purchase in 92 d), fit in {unit}", "roc_auc": auc,
                     "target": np.nan, "seconds": time.perf_counter() - t0})
        print(rows[-1], {k: round(float(v), 3) for k, v in bgf.params_.items()}, flush=True)
        if freq == "D":
            # 1 - P(alive) is the wrong score (FIELD_NOTES: 0.33): P(alive) = 1 without a repeat purchase.
            alive = pd.Series(np.asarray(p_alive, dtype=float), index=summ.index.astype(str)).reindex(y.index)
            rows.append({"dataset": "cdnow", "model": "BG/NBD 1 − P(alive), fit in days (wrong score)",
                         "roc_auc": roc_auc_score(y, 1 - alive.fillna(alive.mean())), "target": np.nan,
                         "seconds": np.nan})
            # FIELD_NOTES' reference recipe: logistic on log1p of Lifetimes' (x, t_x, T) and the mean amount.
            t0 = time.perf_counter()
            ids = ev["customer_id"].astype(str)
            rfm = np.log1p(pd.DataFrame({
                "frequency": summ["frequency"].to_numpy(), "recency": summ["recency"].to_numpy(),
                "T": summ["T"].to_numpy(),
                "mean_amount": ev.groupby(ids)["amount"].mean().reindex(summ.index.astype(str)).to_numpy(),
            }, index=summ.index.astype(str)).reindex(y.index))
            auc = M.cross_validated_auc(lambda: M.logistic_baseline(log_counts=False), rfm, td.y, folds)
            rows.append({"dataset": "cdnow", "model": "logistic on log RFM (Lifetimes summary, FIELD_NOTES recipe)",
                         "roc_auc": auc["roc_auc"].mean(), "target": np.nan, "seconds": time.perf_counter() - t0})
            print(rows[-2], rows[-1], flush=True)
            # The same recipe on Lifetimes' 1/10 sample (CDNOW_sample.txt: 2,357 of these customers, identical rows).
            # FIELD_NOTES' 0.790 and its published BG/NBD parameters (r=0.243, a=0.793, b=2.426) come from this
            # sample, not from the 23,570: a model trained on all customers also scores 0.79 on these customers and
            # 0.774 on the others. At n=2,357 an AUC's standard error is ~0.010.
            t0 = time.perf_counter()
            sample_ids = pd.read_csv(cdnow_path().parent / "CDNOW_sample.txt", sep=r"\s+", header=None,
                                     usecols=[0], dtype=str)[0].unique()
            in_sample = y.index.isin("cdnow-" + pd.Index(sample_ids))
            ys = td.y[in_sample]
            auc = M.cross_validated_auc(lambda: M.logistic_baseline(log_counts=False), rfm[in_sample], ys,
                                        M.stratified_folds(ys, n_splits=5, random_state=0))
            rows.append({"dataset": f"cdnow 1/10 sample ({int(in_sample.sum()):,} customers)",
                         "model": "logistic on log RFM (FIELD_NOTES recipe; the reference's population)",
                         "roc_auc": auc["roc_auc"].mean(), "target": np.nan, "seconds": time.perf_counter() - t0})
            print(rows[-1], flush=True)
    return rows


# ------------------------------------------------------------------------------------------------
# synthetic world: the default model against the oracle, over several seeds


def main_mechanisms(n_main: int = 3) -> list[tuple[str, float]]:
    """The world's main true drivers: the ``n_main`` observable mechanisms with the largest default share of churn.

    Shares come from ``world.WEIGHTS`` at default knobs (``moved`` takes ``exogenous_share``, the rest share the
    remainder in proportion to WEIGHTS x strength); ``baseline`` (frailty) and ``moved`` have no observable signal
    by design and are skipped.
    """
    shares = mechanism_shares()
    main = [(m, s) for m, s in shares.items() if MECHANISM_FEATURES.get(m)]
    return sorted(main, key=lambda ms: -ms[1])[:n_main]


def mechanism_shares() -> dict[str, float]:
    """Default share of churn of every mechanism of the synthetic world (``world.WEIGHTS``, default knobs)."""
    from churnlab.data.synthetic.knobs import Knobs
    from churnlab.data.synthetic.world import WEIGHTS

    k = Knobs()
    raw = {m: w * k.strength(m) for m, w in WEIGHTS.items()}
    total = sum(raw.values())
    return {"moved": k.exogenous_share, **{m: (1 - k.exogenous_share) * v / total for m, v in raw.items()}}


def synthetic_seed(n_customers: int, seed: int, top_k: int = 10) -> dict:
    """One world: out-of-time AUC of the default models, the oracle's AUC, SHAP's top features vs the true drivers."""
    from churnlab.data.synthetic import generate

    sec = {}
    t = time.perf_counter()
    ds, truth = generate(n_customers, seed=seed)
    sec["world"] = time.perf_counter() - t
    t = time.perf_counter()
    lt = make_label_times(ds, monthly_cutoffs(ds, horizon_days=30), horizon_days=30)
    td = M.training_data(build_features(ds, lt), lt)
    sec["features"] = time.perf_counter() - t
    sp = M.time_split(td.keys)
    tr, va, te = td.subset(sp["train"]), td.subset(sp["valid"]), td.subset(sp["test"])
    t = time.perf_counter()
    cmp = M.compare_models(M.default_models(), tr, {"validation": va, "out_of_time": te},
                           fit_kwargs={"xgboost": {"groups": tr.keys["customer_id"].to_numpy()}})
    sec["fit"] = time.perf_counter() - t
    cutoff = te.keys["cutoff"].iloc[0]
    t = time.perf_counter()
    oracle = truth.churn_probability(cutoff, 30)
    sec["oracle"] = time.perf_counter() - t
    o = te.keys.assign(customer_id=te.keys["customer_id"].astype(str)).merge(
        oracle.assign(customer_id=oracle["customer_id"].astype(str)), on="customer_id", how="left")
    if o["p_churn"].isna().any():
        raise RuntimeError(f"seed {seed}: {int(o['p_churn'].isna().sum())} test rows have no oracle probability")
    oracle_auc = roc_auc_score(te.y, o["p_churn"])
    t = time.perf_counter()
    importance = global_importance(explain(cmp.models["xgboost"], te.X, te.keys))
    sec["shap"] = time.perf_counter() - t
    auc = cmp.metric("roc_auc")["out_of_time"].to_dict()
    out = {"seed": seed, "cutoff": cutoff, "n_train": len(tr), "n_test": len(te), "churners": int(te.y.sum()),
           "oracle": oracle_auc, "ratio": auc["xgboost"] / oracle_auc,
           "top": importance["feature"].head(top_k).tolist(),
           "drivers": drivers_found(importance, [m for m, _ in main_mechanisms()] + ["decision"], top_k=top_k),
           "depth": cmp.models["xgboost"].max_depth_, "trees": cmp.models["xgboost"].n_trees_,
           "seconds": sec, **{f"auc_{k}": v for k, v in auc.items()}}
    print({k: v for k, v in out.items() if k not in ("drivers",)}, flush=True)
    return out


def synthetic_block(results: list[dict], n_customers: int, fresh: set[int]) -> tuple[str, list[str]]:
    """Markdown table of the seeds, the mean ratio with its interval, and the notes."""
    main = main_mechanisms()
    lines = [f"Synthetic world, {n_customers:,} customers per seed, monthly cutoffs, 30-day horizon, time split (train "
             "on the earlier cutoffs, validate on the next, test out of time on the last); target: xgboost ≥ 0.97 × "
             "oracle (the world's true probability).", "",
             "| seed | out-of-time cutoff | test rows (churners) | signal rule | logistic | xgboost | oracle | "
             "xgboost / oracle | logistic / oracle | ≥ 0.97 | main drivers in top 10 SHAP | seconds |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        d = r["drivers"].set_index("mechanism")
        found = "; ".join(f"{m} {'✔' if d.loc[m, 'found'] else '✘'} (#{d.loc[m, 'best_rank']:.0f} "
                          f"{d.loc[m, 'best_feature']})" if not np.isnan(d.loc[m, "best_rank"]) else f"{m} ✘ (unused)"
                          for m in d.index)
        label = f"{r['seed']} (fresh)" if r["seed"] in fresh else str(r["seed"])
        lines.append(
            f"| {label} | {r['cutoff'].date()} | {r['n_test']:,} ({r['churners']}) | {r['auc_signal_rule']:.4f} | "
            f"{r['auc_logistic']:.4f} | {r['auc_xgboost']:.4f} | {r['oracle']:.4f} | {r['ratio']:.4f} | "
            f"{r['auc_logistic'] / r['oracle']:.4f} | {'yes' if r['ratio'] >= 0.97 else 'no'} | {found} | "
            f"{sum(r['seconds'].values()):.0f} |")
    lines.append("")
    decided = [r for r in results if r["seed"] not in fresh]
    for name, group in (("seeds " + ", ".join(str(r["seed"]) for r in decided), decided),
                        ("all seeds incl. fresh", results if fresh else [])):
        if not group:
            continue
        _, m, lo, hi = mean_with_ci([r["ratio"] for r in group])
        _, ml, _, _ = mean_with_ci([r["auc_logistic"] / r["oracle"] for r in group])
        verdict = "met" if m >= 0.97 else "not met"
        lines.append(f"Mean xgboost / oracle over {name}: **{m:.4f}** (95% t-interval over seeds {lo:.4f}–{hi:.4f}; "
                     f"{len(group)} seeds); target 0.97 {verdict} on the mean. Logistic / oracle mean {ml:.4f}.")
    shares = sorted(mechanism_shares().items(), key=lambda ms: -ms[1])
    notes = ["Main true drivers = the three observable mechanisms with the largest default share of churn "
             "(`world.WEIGHTS` at default knobs; all shares: " + ", ".join(f"{m} {s:.1%}" for m, s in shares)
             + "): " + ", ".join(m for m, _ in main)
             + "; `decision` (data exports and billing tickets once a customer has decided to leave) is the state "
               "every churn passes through, not a mechanism. A cell shows the best rank among all features of the "
               "features that observe the mechanism, and that feature. Features that observe them "
               "(`explain.MECHANISM_FEATURES`): "
             + "; ".join(f"{m}: {', '.join(MECHANISM_FEATURES[m])}" for m, _ in main + [("decision", 0)]) + "."]
    for r in results:
        s = r["seconds"]
        notes.append(f"Seed {r['seed']}: top 10 SHAP features {', '.join(r['top'])}; xgboost depth {r['depth']}, "
                     f"{r['trees']} trees, {r['n_train']:,} training rows; seconds: world {s['world']:.0f}, features "
                     f"{s['features']:.0f}, fit of the four models {s['fit']:.0f}, oracle {s['oracle']:.0f}, "
                     f"SHAP {s['shap']:.0f}.")
    return "\n".join(lines), notes


# ------------------------------------------------------------------------------------------------
# RESULTS.md: each group of rows keeps the machine line it was measured with


GROUPS = ("telco", "mlc", "cdnow", "synthetic")
_ROW = re.compile(r"^\| (?P<dataset>[^|]+?) \| (?P<model>[^|]+?) \| (?P<auc>[0-9.]+) \| (?P<target>[^|]*?) \| "
                  r"(?P<seconds>[^|]*?) \|$")
_TAGGED = re.compile(r"^- \*\*(?P<groups>[a-z, ]+)\*\* (?P<kind>measured on|note:) (?P<text>.*)$")
BLOCK_START, BLOCK_END = "<!-- model_quality:synthetic -->", "<!-- model_quality:synthetic end -->"


def group_of(dataset: str) -> str:
    """The benchmark group (``--only`` name) a results row belongs to."""
    return next((g for g in GROUPS if dataset.startswith(g)), "other")


def parse_section(body: str) -> dict:
    """Rows, per-group machine lines, per-group notes and the synthetic block of an existing section.

    Understands the earlier single-line layout too ("Measured on ...", untagged notes).
    """
    out = {"rows": [], "meta": [], "notes": [], "block": ""}
    if BLOCK_START in body and BLOCK_END in body:
        a, b = body.index(BLOCK_START), body.index(BLOCK_END)
        out["block"] = body[a + len(BLOCK_START):b].strip("\n")
        body = body[:a] + body[b + len(BLOCK_END):]
    legacy_meta = None
    for line in body.splitlines():
        if (m := _ROW.match(line)) and m["dataset"] != "dataset":
            out["rows"].append(m.groupdict())
        elif m := _TAGGED.match(line):
            key = "meta" if m["kind"] == "measured on" else "notes"
            out[key].append((tuple(g.strip() for g in m["groups"].split(",")), m["text"]))
        elif line.startswith("Measured on "):
            legacy_meta = line[len("Measured on "):].rstrip(".")
        elif line.startswith("Synthetic world: top SHAP"):
            out["notes"].append((("synthetic",), line))
        elif line.startswith("XGBoost = "):
            out["notes"].append((("telco", "mlc", "cdnow"), line))
    if legacy_meta is not None:
        groups = tuple(dict.fromkeys(group_of(r["dataset"]) for r in out["rows"]))
        out["meta"].append((groups, legacy_meta))
    return out


def render_section(old: dict, ran: set[str], rows: list[dict], meta: str, notes: list[tuple[tuple, str]],
                   block: str | None) -> str:
    """The section with the groups in ``ran`` replaced and every other group kept as it was."""
    kept = [r for r in old["rows"] if group_of(r["dataset"]) not in ran]
    new = [{"dataset": r["dataset"], "model": r["model"], "auc": f"{r['roc_auc']:.4f}",
            "target": "" if pd.isna(r["target"]) else f"≥ {r['target']:.3f}",
            "seconds": "" if pd.isna(r["seconds"]) else f"{r['seconds']:.1f}"} for r in rows]
    order = {g: i for i, g in enumerate(GROUPS)}
    all_rows = sorted(kept + new, key=lambda r: order.get(group_of(r["dataset"]), len(GROUPS)))  # stable

    def tagged(items, word):
        lines = []
        for groups, text in items:
            if groups == ("all",):
                continue
            left = tuple(g for g in groups if g not in ran)
            if left:
                lines.append(f"- **{', '.join(left)}** {word} {text}")
        return lines

    meta_lines = tagged(old["meta"], "measured on") + [f"- **{', '.join(g for g in GROUPS if g in ran)}** "
                                                       f"measured on {meta}"]
    note_lines = tagged(old["notes"], "note:") + [f"- **{', '.join(g)}** note: {t}" for g, t in notes]
    lines = ["Each group of rows was measured as stated below; `--only` re-measures the groups it names and keeps "
             "the others.", ""] + meta_lines + [""]
    if all_rows:
        lines += ["| dataset | model | ROC-AUC | target | seconds |", "|---|---|---|---|---|"]
        lines += [f"| {r['dataset']} | {r['model']} | {r['auc']} | {r['target']} | {r['seconds']} |" for r in all_rows]
        lines.append("")
    syn = block if block is not None else old["block"]
    if syn:
        lines += [BLOCK_START, syn, BLOCK_END, ""]
    lines += note_lines
    return "\n".join(lines)


def write(ran: set[str], rows: list[dict], notes: list[tuple[tuple, str]], block: str | None) -> None:
    """Replace the groups in ``ran`` in the model_quality section of RESULTS.md, keeping the other groups."""
    text = RESULTS.read_text() if RESULTS.exists() else f"# Benchmark results\n\n{START}\n{END}\n"
    if START not in text:
        text += f"\n{START}\n{END}\n"
    a, b = text.index(START) + len(START), text.index(END)
    body = render_section(parse_section(text[a:b]), ran, rows, machine(), notes, block)
    RESULTS.write_text(text[:a] + "\n" + body + "\n" + text[b:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="telco,mlc,cdnow,synthetic")
    ap.add_argument("--n-customers", type=int, default=20_000)
    ap.add_argument("--seeds", default="0,1,2", help="synthetic worlds measured (comma-separated)")
    ap.add_argument("--fresh-seeds", default="", help="seeds never used to decide features or defaults (reported "
                                                      "apart from the mean over --seeds)")
    args = ap.parse_args()
    only = set(args.only.split(","))
    unknown = only - set(GROUPS)
    if unknown:
        ap.error(f"--only: unknown group(s) {sorted(unknown)}; choose among {', '.join(GROUPS)}")
    rows, notes, block = [], [], None
    if "telco" in only:
        rows += snapshot_cv(load_telco(), "telco (5-fold stratified CV)", 0.850)
    if "mlc" in only:
        rows += snapshot_cv(load_mlc_churn(), "mlc_churn (5-fold stratified CV)", 0.922)
    if "cdnow" in only:
        rows += cdnow()
    if only & {"telco", "mlc", "cdnow"}:
        notes.append((tuple(g for g in ("telco", "mlc", "cdnow") if g in only),
                      "XGBoost = `ChurnXGBClassifier()` defaults: depth among 1/3/5 and the number of trees chosen "
                      "by 3-fold CV inside each outer training fold (early stopping, eta 0.03), then refit; no hand "
                      "tuning per dataset. Logistic = `logistic_baseline()`: scaled raw numbers plus log1p of "
                      "non-negative numbers, one-hot categories."))
    if "cdnow" in only:
        notes.append((("cdnow",), "CDNOW rows are 5-fold stratified CV on the 23,570 customers at the 1997-09-30 "
                                  "cutoff except BG/NBD (unsupervised, fit on the history before the cutoff)."))
    if "synthetic" in only:
        fresh = {int(s) for s in args.fresh_seeds.split(",") if s}
        seeds = [int(s) for s in args.seeds.split(",") if s] + sorted(fresh)
        results = [synthetic_seed(args.n_customers, s) for s in seeds]
        block, syn_notes = synthetic_block(results, args.n_customers, fresh)
        notes += [(("synthetic",), n) for n in syn_notes]
    write(only, rows, notes, block)
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
