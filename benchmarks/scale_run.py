"""The workbench at scale: a streamed synthetic world run through ``churnlab run`` (notebooks 00, 01, 02).

Steps, each timed with its peak memory:

1. ``churnlab data generate --customers N --stream --out data/worlds/synthetic_N`` (skipped when the folder is
   there already; its recorded figures are then those of the run that made it);
2. ``churnlab run`` of a spec written next to it (``data: {source: folder, path: ...}``: the folder is read where it
   lies, big tables on disk) with notebooks 00 (overview and validation in the engine), 01 (cutoff population in the
   engine, patterns on a seeded customer sample) and 02 (label times and features in the engine, training on a
   bounded sample, every active customer scored, SHAP for the risk list in batches).

Memory is sampled every 0.5 s over the whole process tree (the runner and each notebook's kernel): the peak RSS of
each kernel is its notebook's, and the tree's peak is the sum at the worst moment. Per-notebook wall times come
from the run's ``run.json``. Writes the section between ``<!-- scale_run:start -->`` and ``<!-- scale_run:end -->``
of ``benchmarks/RESULTS.md``.

Usage: ``python benchmarks/scale_run.py [--customers 1000000] [--no-write] [--param name=value ...]``
(``--param`` is passed to ``churnlab run -p``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
START, END = "<!-- scale_run:start -->", "<!-- scale_run:end -->"
NOTEBOOKS = ("00_data_overview", "01_explore_patterns", "02_train_explain")
GIB = 2**30


class TreeMemory:
    """Sample the RSS of a process and all its descendants in a thread: tree peak and each process's own peak."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        self.root = psutil.Process(pid)
        self.every = every
        self.peak_tree = 0
        self.peaks: dict[int, tuple[str, float, int]] = {}  # pid -> (command, first seen, peak rss)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            total = 0
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    cmd = " ".join(p.cmdline()[:3])
                except psutil.Error:
                    continue
                total += rss
                command, seen, peak = self.peaks.get(p.pid, (cmd, time.time(), 0))
                self.peaks[p.pid] = (command, seen, max(peak, rss))
            self.peak_tree = max(self.peak_tree, total)
            self._stop.wait(self.every)

    def kernels(self) -> list[int]:
        """Peak RSS of each notebook kernel, in the order they started."""
        ks = [(seen, peak) for cmd, seen, peak in self.peaks.values() if "ipykernel" in cmd]
        return [peak for _seen, peak in sorted(ks)]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, TreeMemory, str]:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with TreeMemory(proc.pid) as mem:
        out, _ = proc.communicate()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stdout.write(out[-6000:])
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    return seconds, mem, out


def machine_line(threads: str) -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{platform.node()} · {platform.machine()} · {os.cpu_count()} cores · "
            f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · {threads} · load average {load} · "
            f"Python {platform.python_version()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--param", action="append", default=[], help="passed to churnlab run -p")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--generate-only", action="store_true", help="stream the world (when absent) and stop")
    args = ap.parse_args()
    n = args.customers
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    bin_dir = Path(sys.executable).parent
    churnlab = str(bin_dir / "churnlab")
    folder = ROOT / "data" / "worlds" / f"synthetic_{n}"
    record = folder.parent / f"synthetic_{n}.generate.json"
    if not (folder / "dataset.json").is_file():
        load_before = os.getloadavg()[0]
        seconds, mem, _ = timed([churnlab, "data", "generate", "--customers", str(n), "--stream", "--out",
                                 str(folder)], env)
        record.write_text(json.dumps({"seconds": seconds, "peak_rss": mem.peak_tree, "load_before": load_before,
                                      "load_after": os.getloadavg()[0],
                                      "when": dt.datetime.now(dt.UTC).isoformat(timespec="minutes")}))
    gen = json.loads(record.read_text()) if record.is_file() else None
    if args.generate_only:
        print(f"world at {folder}: {gen}")
        return
    meta = json.loads((folder / "dataset.json").read_text())
    sizes = {t: sum(size for _f, size in (meta["files"][t] or [])) for t in meta["tables"]}
    spec = folder.parent / f"scale_{n}.yaml"
    spec.write_text(
        f"name: scale_{n}\n"
        f"description: notebooks 00-02 on the streamed {n:,}-customer world, read where it lies.\n"
        f"data:\n  source: folder\n  path: {folder}\n"
        "parameters:\n  seed: 0\n  horizon_days: 30\n"
        "notebooks:\n" + "".join(f"  - path: notebooks/{nb}.ipynb\n" for nb in NOTEBOOKS)
    )
    load_before = os.getloadavg()
    cmd = [churnlab, "run", str(spec), "-q", *sum((["-p", p] for p in args.param), [])]
    seconds, mem, out = timed(cmd, env)
    load_after = os.getloadavg()
    run_name = re.search(r"(scale_\d+_\d{8}-\d{6})", out)
    run = json.loads((ROOT / "runs" / run_name.group(1) / "run.json").read_text()) if run_name else {"notebooks": []}
    kernels = mem.kernels()
    lines = []
    for i, nb in enumerate(run["notebooks"]):
        peak = kernels[i] / GIB if i < len(kernels) else float("nan")
        lines.append(f"| {nb['name']} | {nb['seconds']:.0f} | {peak:.2f} | {nb['status']} |")
        print(f"{nb['name']}: {nb['seconds']:.0f} s, kernel peak {peak:.2f} GiB, {nb['status']}")
    print(f"churnlab run: {seconds:.0f} s, process-tree peak {mem.peak_tree / GIB:.2f} GiB")
    section = [
        f"Measured on {machine_line('XGBoost n_jobs=1, DuckDB threads = cores')}; load average before the run "
        f"{' '.join(f'{x:.2f}' for x in load_before)}, after {' '.join(f'{x:.2f}' for x in load_after)}.",
        "",
        f"World: {n:,} customers, seed 0, 2024, streamed to Parquet by `churnlab data generate --stream` "
        f"({', '.join(f'{t} {v / 2**20:,.0f} MiB' for t, v in sizes.items() if v)} of Parquet on disk)."
        + (f" Generation: {gen['seconds']:.0f} s, peak {gen['peak_rss'] / GIB:.2f} GiB (measured {gen['when']}, load "
           f"{gen['load_before']:.2f} → {gen['load_after']:.2f})." if gen else ""),
        "",
        f"`churnlab run` (spec `data: {{source: folder, path: ...}}`, run {run_name.group(1) if run_name else '?'}): "
        f"**{seconds:.0f} s** wall in all, process-tree peak **{mem.peak_tree / GIB:.2f} GiB**.",
        "",
        "| notebook | seconds | kernel peak GiB | status |",
        "|---|---:|---:|---|",
        *lines,
    ]
    text = "\n".join(section)
    print(text)
    if not args.no_write:
        body = RESULTS.read_text(encoding="utf-8")
        block = f"{START}\n{text}\n\n{END}"
        if START in body:
            body = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _m: block, body, flags=re.S)
        else:
            body += f"\n## The workbench at scale through `churnlab run` (`benchmarks/scale_run.py`)\n{block}\n"
        RESULTS.write_text(body, encoding="utf-8")


if __name__ == "__main__":
    main()
