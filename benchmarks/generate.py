"""Benchmark the synthetic world: time, events and peak memory for 10k, 100k and 1M customers.

Each size runs in a fresh subprocess (so peak RSS is its own). 10k and 100k call ``generate()``
(the whole world in memory, as notebooks do); 1M streams chunk by chunk to Parquet with
``iter_chunks`` (a world that large does not belong in one pandas frame). Prints one line per size
and writes the section between ``<!-- generate:start -->`` and ``<!-- generate:end -->`` of
``benchmarks/RESULTS.md``.

Usage: ``python benchmarks/generate.py [--sizes 10000,100000,1000000] [--out DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START, END = "<!-- generate:start -->", "<!-- generate:end -->"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def run_one(n: int, out: str) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from churnlab.data.synthetic import generate, make_spec
    from churnlab.data.synthetic.build import iter_chunks
    from churnlab.data.synthetic.tables import records_to_frames

    t0 = time.perf_counter()
    if n <= 100_000:
        ds, _ = generate(n, seed=0)
        gen_s = time.perf_counter() - t0
        rows = {k: len(v) for k, v in ds.tables.items()}
        mode = "generate() in memory"
    else:
        spec = make_spec(n, seed=0)
        writers: dict[str, pq.ParquetWriter] = {}
        rows = {}
        folder = Path(out) / f"world_{n}"
        folder.mkdir(parents=True, exist_ok=True)
        for records, _state in iter_chunks(spec):
            for name, df in records_to_frames(records, spec.id_width).items():
                table = pa.Table.from_pandas(df, preserve_index=False)
                if name not in writers:
                    writers[name] = pq.ParquetWriter(folder / f"{name}.parquet", table.schema)
                writers[name].write_table(table.cast(writers[name].schema))
                rows[name] = rows.get(name, 0) + len(df)
            del records
        for w in writers.values():
            w.close()
        gen_s = time.perf_counter() - t0
        mode = "iter_chunks() streamed to Parquet"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # KiB -> GiB on Linux
    return {"n": n, "seconds": round(gen_s, 1), "events": rows.get("events", 0), "rows": sum(rows.values()),
            "peak_gib": round(peak, 2), "mode": mode}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--out", default=None, help="folder for the streamed Parquet (default: a temp folder)")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="churnlab-bench-")
    if args.one is not None:
        print(json.dumps(run_one(args.one, out)))
        return
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    results = []
    for n in [int(s) for s in args.sizes.split(",")]:
        load_before = os.getloadavg()[0]
        proc = subprocess.run([sys.executable, __file__, "--one", str(n), "--out", out], capture_output=True,
                              text=True, check=True)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        r["load_before"] = round(load_before, 2)
        r["load_after"] = round(os.getloadavg()[0], 2)
        results.append(r)
        print(f"{n:>9,} customers: {r['seconds']:7.1f} s, {r['events']:>12,} events, {r['rows']:>12,} rows, "
              f"peak {r['peak_gib']:.2f} GiB ({r['mode']}; load avg {r['load_before']} -> {r['load_after']})",
              flush=True)
    write_section(results, threads)


def write_section(results: list[dict], threads: str) -> None:
    lines = [
        START,
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()} "
        f"({platform.machine()}): {os.cpu_count()} cores shared with other jobs, Python {platform.python_version()}, "
        f"OMP_NUM_THREADS={threads}; the simulation is single-threaded numpy. One year (2024), seed 0, default "
        "knobs. Peak = max RSS of the subprocess.",
        "",
        "| customers | mode | seconds | events | all rows | peak GiB | load avg before → after |",
        "|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(f"| {r['n']:,} | {r['mode']} | {r['seconds']} | {r['events']:,} | {r['rows']:,} | "
                     f"{r['peak_gib']} | {r['load_before']} → {r['load_after']} |")
    lines += ["", END]
    section = "\n".join(lines)
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
