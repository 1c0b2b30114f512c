"""Training cost of the default XGBoost model: the depth choice capped (the default) against every row.

Builds the training rows as notebook 02 does (``generate`` -> ``monthly_cutoffs`` -> ``make_label_times`` ->
``build_features`` -> ``training_data`` -> ``holdout_split``: train on the earlier cutoffs, score the latest,
out of time), then fits ``ChurnXGBClassifier(n_jobs=1, random_state=0)`` once per mode, each in its own
process so that each peak RSS is that fit's alone:

- ``capped``: the default, ``tuning_rows=50_000`` (depth compared on a subsample of whole customers, trees
  early-stopped once on all rows, refit: OPINIONS.md, "XGBoost tuning on large training sets");
- ``uncapped``: ``tuning_rows=None``, the behaviour before it (depth and trees by 3 folds on every row, refit).

Writes its section of benchmarks/RESULTS.md between <!-- training:start --> and <!-- training:end -->, keeping
the rows of the sizes and modes it did not re-measure. One heavy job at a time: run the 100k size only when
``uptime`` shows a load below ~4. Usage: .venv/bin/python benchmarks/training_bench.py [--n-customers 6000,100000]
[--modes capped,uncapped] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from model_quality import code_version  # benchmarks/ is on sys.path when a benchmark runs

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
START, END = "<!-- training:start -->", "<!-- training:end -->"
MODES = {"capped": {}, "uncapped": {"tuning_rows": None}}
HEADER = ("| customers | mode | train rows | test rows | features | depth rows | depth | trees | fit s | peak GiB "
          "| out-of-time ROC-AUC | load avg before → after | measured |")


def peak_gib() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def prepare(n_customers: int, seed: int, folder: Path) -> dict:
    """Write the train and out-of-time test rows of a synthetic world of ``n_customers`` to ``folder``."""
    import pandas as pd

    from churnlab import model as M
    from churnlab.data.synthetic import generate
    from churnlab.features import build_features
    from churnlab.labels import make_label_times, monthly_cutoffs

    t0 = time.perf_counter()
    dataset, _ = generate(n_customers, seed=seed)
    label_times = make_label_times(dataset, monthly_cutoffs(dataset, horizon_days=30), horizon_days=30)
    data = M.training_data(build_features(dataset, label_times), label_times)
    masks = M.holdout_split(data.keys, data.y, random_state=seed)
    for part in ("train", "test"):
        rows = data.subset(masks[part])
        frame = pd.concat([rows.keys.reset_index(drop=True), rows.X.reset_index(drop=True)], axis=1)
        frame.assign(label=rows.y).to_parquet(folder / f"{part}.parquet")
    return {"seconds": time.perf_counter() - t0, "peak_gib": peak_gib(), "features": data.X.shape[1]}


def fit(folder: Path, mode: str) -> dict:
    """Fit the default model in ``mode`` on ``folder``'s train rows; time, peak memory and out-of-time AUC."""
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    from churnlab import model as M

    train, test = pd.read_parquet(folder / "train.parquet"), pd.read_parquet(folder / "test.parquet")
    keys = ["customer_id", "cutoff", "label"]
    before = load()
    t0 = time.perf_counter()
    est = M.ChurnXGBClassifier(n_jobs=1, random_state=0, **MODES[mode]).fit(
        train.drop(columns=keys), train["label"].to_numpy(), groups=train["customer_id"].to_numpy())
    seconds = time.perf_counter() - t0
    auc = roc_auc_score(test["label"], est.predict_proba(test.drop(columns=keys))[:, 1])
    return {"mode": mode, "train_rows": len(train), "test_rows": len(test), "features": train.shape[1] - 3,
            "depth_rows": est.tuning_rows_, "depth": est.max_depth_, "trees": est.n_trees_, "seconds": seconds,
            "peak_gib": peak_gib(), "auc": float(auc), "load": f"{before} → {load()}"}


def child(*args: str) -> dict:
    """Run this script in a fresh process (its own peak RSS) and read the JSON line it prints last."""
    out = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    return (f"{platform.node()} · {platform.processor() or platform.machine()} · {os.cpu_count()} cores shared with "
            f"other jobs · Python {platform.python_version()} · XGBoost n_jobs=1, OMP_NUM_THREADS=1")


def row(n: int, r: dict, when: str) -> str:
    return (f"| {n:,} | {r['mode']} | {r['train_rows']:,} | {r['test_rows']:,} | {r['features']} | {r['depth_rows']:,} "
            f"| {r['depth']} | {r['trees']} | {r['seconds']:.1f} | {r['peak_gib']:.2f} | {r['auc']:.4f} | {r['load']} "
            f"| {when} |")


def write(rows: dict[int, list[str]], notes: list[str]) -> None:
    """Replace this script's section of RESULTS.md, keeping the rows of (size, mode) not re-measured."""
    text = RESULTS.read_text()
    if START in text:
        old = text[text.index(START):text.index(END)]
        for line in old.splitlines():
            m = re.match(r"\| ([\d,]+) \| (capped|uncapped) \|", line)
            n = int(m.group(1).replace(",", "")) if m else None
            if m and not any(f"| {m.group(2)} |" in kept for kept in rows.get(n, [])):
                rows.setdefault(n, []).append(line)
    for n in rows:
        rows[n].sort(key=lambda line: list(MODES).index(line.split(" | ")[1]))
    body = "\n".join([START, *notes, "", HEADER, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
                      *(line for n in sorted(rows) for line in rows[n]), "", END])
    if START in text:
        text = text[:text.index(START)] + body + text[text.index(END) + len(END):]
    else:
        text = text.rstrip("\n") + ("\n\n## Training cost of the default model (`benchmarks/training_bench.py`)\n"
                                    f"{body}\n")
    RESULTS.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-customers", default="6000", help="comma-separated world sizes (default 6000, the demo)")
    ap.add_argument("--modes", default="capped,uncapped")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md as it is")
    ap.add_argument("--prepare", help=argparse.SUPPRESS)
    ap.add_argument("--fit", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.prepare:
        print(json.dumps(prepare(int(args.n_customers), args.seed, Path(args.prepare))))
        return
    if args.fit:
        print(json.dumps(fit(Path(args.fit), args.modes)))
        return
    rows: dict[int, list[str]] = {}
    notes = [f"Machine: {machine()}. {code_version()}.",
             "Training rows built as notebook 02 builds them (one-year synthetic world, seed 0, monthly cutoffs, "
             "30-day horizon; train = the earlier cutoffs, test = the latest, out of time). Each fit runs in its own "
             "process: *peak GiB* is that process's max RSS (reading the rows + fitting), *fit s* the wall time of "
             "`fit` alone. *capped* = the default `tuning_rows=50_000`; *uncapped* = `tuning_rows=None`, the "
             "behaviour before it. *depth rows* = rows the depths 1/3/5 were compared on. Under the cap (the "
             "6,000-customer demo world's 24,093 rows) both modes make the same fits and the same model, so their "
             "wall times differ only by the load of the shared machine; compare modes of one size, measured "
             "minutes apart, and read the load column."]
    for n in (int(s) for s in args.n_customers.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            prep = child("--prepare", tmp, "--n-customers", str(n), "--seed", str(args.seed))
            print(f"{n:,} customers: training rows built in {prep['seconds']:.0f} s, peak {prep['peak_gib']:.2f} GiB",
                  flush=True)
            for mode in args.modes.split(","):
                r = child("--fit", tmp, "--modes", mode)
                when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
                rows.setdefault(n, []).append(row(n, r, when))
                print(rows[n][-1], flush=True)
    if not args.no_write:
        write(rows, notes)


if __name__ == "__main__":
    main()
