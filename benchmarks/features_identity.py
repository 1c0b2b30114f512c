"""Check that label times and features are the same before and after a change of the engine.

Exports ``src/`` of a git revision (default ``main``) to a temporary folder, computes in a fresh
process with each source tree: the demo world ``generate(6000, seed=0)``'s monthly label times
(subscription and inactivity definitions) and its features (``include_cutoff`` False and True), and
CDNOW's monthly inactivity label times (30- and 92-day horizons) and the 92-day features. Then it
compares every frame column by column: exact equality (NaN equal to NaN), and for float columns that
differ, the number of differing rows and the largest absolute difference. Prints the table and writes
it to the ``features_identity`` section of ``benchmarks/RESULTS.md``.

Usage: ``python benchmarks/features_identity.py [--before main]``
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

CASES = ["demo_labels_subscription", "demo_labels_inactivity", "demo_features", "demo_features_include_cutoff",
         "cdnow_labels_30d", "cdnow_labels_92d", "cdnow_features_92d"]


def compute(out: Path) -> None:
    """Write every case as Parquet into ``out`` (runs with whichever churnlab is on the path)."""
    from churnlab import data
    from churnlab.data.synthetic import generate
    from churnlab.features import build_features
    from churnlab.labels import make_label_times

    ds, _ = generate(6000, seed=0)
    lt = make_label_times(ds)
    lt.table.to_parquet(out / "demo_labels_subscription.parquet")
    make_label_times(ds, definition="inactivity").table.to_parquet(out / "demo_labels_inactivity.parquet")
    build_features(ds, lt).to_parquet(out / "demo_features.parquet")
    build_features(ds, lt, include_cutoff=True).to_parquet(out / "demo_features_include_cutoff.parquet")
    cd = data.load("cdnow")
    make_label_times(cd, horizon_days=30).table.to_parquet(out / "cdnow_labels_30d.parquet")
    lc = make_label_times(cd, horizon_days=92)
    lc.table.to_parquet(out / "cdnow_labels_92d.parquet")
    build_features(cd, lc).to_parquet(out / "cdnow_features_92d.parquet")


def compare(before: Path, after: Path) -> list[str]:
    import numpy as np
    import pandas as pd

    lines = []
    for case in CASES:
        a, b = pd.read_parquet(before / f"{case}.parquet"), pd.read_parquet(after / f"{case}.parquet")
        if list(a.columns) != list(b.columns) or len(a) != len(b):
            lines.append(f"| {case} | {len(a):,} × {a.shape[1]} | {len(b):,} × {b.shape[1]} | columns or rows differ |")
            continue
        diffs = []
        for c in a.columns:
            x, y = a[c], b[c]
            if x.dtype != y.dtype:
                diffs.append(f"{c}: dtype {x.dtype} vs {y.dtype}")
            elif x.dtype.kind == "f":
                xv, yv = x.to_numpy(), y.to_numpy()
                same = (xv == yv) | (np.isnan(xv) & np.isnan(yv))
                if not same.all():
                    diffs.append(f"{c}: {int((~same).sum()):,} rows, max abs diff {np.nanmax(np.abs(xv - yv)):.2g}")
            elif not x.equals(y):
                diffs.append(f"{c}: values differ")
        verdict = "identical" if not diffs else "; ".join(diffs)
        lines.append(f"| {case} | {len(a):,} × {a.shape[1]} | {verdict} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default="main", help="git revision whose src/ is the reference")
    ap.add_argument("--compute", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.compute:
        compute(Path(args.compute))
        return
    tmp = Path(tempfile.mkdtemp(prefix="churnlab-identity-"))
    rev = subprocess.run(["git", "rev-parse", "--short", args.before], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    now = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.strip()
    archive = subprocess.run(["git", "archive", args.before, "src"], cwd=ROOT, capture_output=True, check=True).stdout
    (tmp / "before").mkdir()
    subprocess.run(["tar", "-x", "-C", str(tmp / "before")], input=archive, check=True)
    for side, src in [("before", tmp / "before" / "src"), ("after", ROOT / "src")]:
        out = tmp / f"out_{side}"
        out.mkdir()
        env = {**os.environ, "PYTHONPATH": str(src), "PYTHONWARNINGS": "ignore"}
        subprocess.run([sys.executable, __file__, "--compute", str(out)], env=env, check=True, cwd=ROOT)
    rows = compare(tmp / "out_before", tmp / "out_after")
    lines = [f"Reference: `src/` of {args.before} ({rev}); checked: the working tree at {now}; "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Exact comparison, NaN equal to NaN.", "",
             "| frame | rows × columns | result |", "|---|---|---|", *rows, ""]
    print("\n".join(lines))
    from features_bench import write_section

    write_section("features_identity", lines)


if __name__ == "__main__":
    main()
