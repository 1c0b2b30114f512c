"""Run an experiment spec: prepare data once, execute each notebook with papermill, record it in MLflow.

One ``churnlab run`` makes a folder ``runs/<spec>_<YYYYmmdd-HHMMSS>/`` holding the spec as given and as
resolved, each executed notebook (``NN_name.ipynb``, saved atomically after every cell), its HTML report
(``NN_name.html``), ``run.log`` and ``run.json`` (see :mod:`churnlab.record`; it names the runner's pid and
host), and refreshes ``runs/index.html``.

In MLflow (store from :func:`churnlab.tracking.tracking_uri`; every MLflow call goes through
:mod:`churnlab.tracking`), the experiment is named after the spec; each run is one parent run (shared
parameters, data settings, spec file, fingerprint, provenance tags: churnlab version, git commit and dirty
flag, package versions) with one child run per notebook (its parameters; the metrics, figures and tables
it logs through :mod:`churnlab.tracking`; the executed notebook and report). The notebook's kernel finds
its child run through ``MLFLOW_RUN_ID`` and its run folder through ``CHURNLAB_RUN_DIR``
(:data:`churnlab.config.RUN_DIR_ENV`; the kernel's working directory is the run folder too). The runner
alone sets run status: FINISHED, FAILED (a notebook raised or its kernel died: later notebooks are
skipped) or KILLED (SIGINT or SIGTERM: see :mod:`churnlab.lifecycle` and :mod:`churnlab.execution`).

Exit codes (:func:`exit_code`): 0 every notebook finished, 1 a notebook failed, 2 bad spec or input
(raised as :class:`~churnlab.errors.ChurnlabError` before any notebook runs), 130 interrupted (Ctrl-C),
143 terminated (SIGTERM): ``128 + signal``, the runs KILLED either way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from churnlab import tracking
from churnlab.cache import PreparedData, loader_digest, prepare_data
from churnlab.config import RUN_DIR_ENV, project_root, runs_dir
from churnlab.errors import ChurnlabError, DataSourceError
from churnlab.execution import LocalKernelManager, Outcome, execute, read_notebook
from churnlab.lifecycle import Interrupted, StopSignals, mark_vanished_runs, this_process
from churnlab.present import KeyMetric
from churnlab.record import NotebookRecord, RunRecord, find_run, list_runs, write_record
from churnlab.report import INDEX_FILE, failed_cell, render_index, render_notebook
from churnlab.spec import Spec, load_spec

__all__ = [
    "PreparedData",
    "prepare_data",
    "loader_digest",
    "LocalKernelManager",
    "run",
    "run_spec",
    "rerender",
    "update_index",
    "exit_code",
    "EXIT_OK",
    "EXIT_NOTEBOOK_FAILED",
    "EXIT_BAD_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_TERMINATED",
]

EXIT_OK = 0
EXIT_NOTEBOOK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

Progress = Callable[[str], None]


def exit_code(record: RunRecord) -> int:
    """Process exit code for a finished run: 0 FINISHED, 1 FAILED, 130 KILLED (143 when SIGTERM stopped it)."""
    return {"FINISHED": EXIT_OK, "FAILED": EXIT_NOTEBOOK_FAILED, "KILLED": EXIT_INTERRUPTED}.get(
        record.status, EXIT_NOTEBOOK_FAILED
    )


# --- run folder, environment ------------------------------------------------------------------------


def _new_run_folder(name: str, root: Path) -> Path:
    """Create ``<root>/<name>_<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``… when two runs start in the same second)."""
    root.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        folder = root / (f"{name}_{stamp}" if n == 1 else f"{name}_{stamp}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise DataSourceError(f"runs folder {root}: cannot create a new run folder for {name!r}")


@contextlib.contextmanager
def _kernel_env(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables the papermill kernel inherits; restore the previous values after."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _output_name(index: int, stem: str) -> str:
    """``NN_name``: the notebook's own name when it starts with a two-digit number, else numbered by position."""
    return stem if stem[:2].isdigit() and stem[2:3] == "_" else f"{index:02d}_{stem}"


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


class _Log:
    """Progress lines to the caller and to ``run.log`` in the run folder."""

    def __init__(self, progress: Progress | None, path: Path | None = None):
        self.progress = progress
        self.path = path

    def __call__(self, line: str) -> None:
        if self.progress is not None:
            self.progress(line)
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(f"{_now()} {line}\n")


# --- the run -----------------------------------------------------------------------------------


def _run_params(spec: Spec) -> dict[str, Any]:
    """Return the parent run's parameters: data source and settings (``data.<key>``), shared ones, notebooks."""
    params: dict[str, Any] = {"data.source": spec.data.source}
    params.update({f"data.{k}": v for k, v in spec.data.settings.items()})
    params.update(spec.parameters)
    params["notebooks"] = [nb.stem for nb in spec.notebooks]
    return params


def _headline(metrics: Mapping[str, float], key_metrics: tuple[KeyMetric, ...], limit: int = 4) -> str:
    """``label value`` of the key metrics a notebook logged, in the spec's order (else its first few metrics)."""
    shown = [m for m in key_metrics if m.name in metrics]
    if shown:
        return " · ".join(f"{m.label} {m.text(metrics[m.name])}" for m in shown)
    return " ".join(f"{k}={metrics[k]:.4g}" for k in list(metrics)[:limit])


@dataclass
class _Run:
    """A run in progress: its spec, folder, record (rewritten as ``run.json`` at every step) and MLflow ids."""

    spec: Spec
    folder: Path
    record: RunRecord
    log: _Log
    stop: StopSignals
    tags: dict[str, str] = field(default_factory=dict)
    status: str = "FINISHED"
    child: str | None = None  # the child run not yet terminated, if any

    def save(self, record: RunRecord) -> None:
        self.record = record
        write_record(record)

    def kernel_env(self, child_id: str) -> dict[str, str]:
        return {
            **tracking.kernel_env(child_id),
            "CHURNLAB_HOME": str(project_root()),
            RUN_DIR_ENV: str(self.folder),
            "PYTHONHASHSEED": "0",
        }


def run_spec(spec: Spec, *, progress: Progress | None = None, runs_root: Path | None = None) -> RunRecord:
    """Execute a validated spec and return its record (status FINISHED or FAILED).

    Parameters
    ----------
    spec : Spec
        From :func:`churnlab.spec.load_spec`.
    progress : callable, optional
        Receives one line per step (data ready, each notebook's sections, started and finished).
    runs_root : Path, optional
        Where run folders go; ``<project_root>/runs`` by default.

    Returns
    -------
    RunRecord
        Also written as ``run.json`` in the run folder; :func:`exit_code` turns it into an exit code.

    Raises
    ------
    ChurnlabError
        When the data cannot be prepared (before any MLflow run is created).
    Interrupted
        On SIGINT or SIGTERM (a ``KeyboardInterrupt``), after marking the runs KILLED; its
        ``exit_code`` is 130 or 143.
    """
    log = _Log(progress)
    with StopSignals() as stop:
        prepared = prepare_data(spec.data, progress=log)
        with stop.deferred():
            run = _start(spec, prepared, runs_root or runs_dir(), log, stop)
        try:
            for i in range(len(spec.notebooks)):
                stop.check()
                _run_notebook(run, i)
            stop.check()
        except KeyboardInterrupt as exc:
            _close(run, "KILLED")
            raise exc if isinstance(exc, Interrupted) else Interrupted() from None
        except Exception as exc:  # the orchestrator itself broke (rendering, store): never leave a run RUNNING
            log(f"run {run.record.name}: the orchestrator failed: {type(exc).__name__}: {exc}")
            _close(run, "FAILED")
            raise
        return _close(run, run.status)


def _start(spec: Spec, prepared: PreparedData, root: Path, log: _Log, stop: StopSignals) -> _Run:
    """Create the run folder, the MLflow parent run and the first ``run.json``."""
    folder = _new_run_folder(spec.name, root)
    log.path = folder / "run.log"
    if spec.path is not None:
        shutil.copyfile(spec.path, folder / "spec.yaml")
    (folder / "spec.resolved.yaml").write_text(yaml.safe_dump(spec.resolved(), sort_keys=False), encoding="utf-8")
    experiment = tracking.experiment_id(spec.name)
    prov = tracking.provenance()
    tags = {**prov, "churnlab.spec": spec.name, "churnlab.data.fingerprint": prepared.fingerprint}
    parent = tracking.create_run(
        experiment,
        folder.name,
        {**tags, "churnlab.run_folder": str(folder)},
        source=str(spec.path or spec.name),
        note=spec.description,
    )
    tracking.log_params(_run_params(spec), run_id=parent)
    for name in ("spec.yaml", "spec.resolved.yaml"):
        if (folder / name).is_file():
            tracking.log_artifact(folder / name, run_id=parent)
    record = RunRecord(
        name=folder.name,
        spec_name=spec.name,
        spec_path=str(spec.path or ""),
        started=_now(),
        description=spec.description,
        data_source=spec.data.source,
        data_settings=dict(spec.data.settings),
        data_dir=str(prepared.folder),
        fingerprint=prepared.fingerprint,
        parameters=dict(spec.parameters),
        overrides=dict(spec.overrides),
        key_metrics=tuple(m.name for m in spec.key_metrics),
        key_metric_formats={m.name: m.to_dict() for nb in (spec, *spec.notebooks) for m in nb.key_metrics},
        tracking_uri=tracking.tracking_uri(),
        experiment_id=experiment,
        parent_run_id=parent,
        provenance=prov,
        notebooks=tuple(
            NotebookRecord(
                name=_output_name(i, nb.stem),
                source=str(nb.path),
                parameters=spec.parameters_for(nb, str(prepared.folder)),
                key_metrics=tuple(m.name for m in nb.key_metrics),
            )
            for i, nb in enumerate(spec.notebooks)
        ),
        folder=str(folder),
        **this_process(),
    )
    write_record(record)
    log(f"run {folder.name}: {len(spec.notebooks)} notebook(s), MLflow parent run {parent}")
    return _Run(spec=spec, folder=folder, record=record, log=log, stop=stop, tags=tags)


def _run_notebook(run: _Run, i: int) -> None:
    """Run notebook ``i`` in its own child run, then record, render and log what it left."""
    nb, entry = run.spec.notebooks[i], run.record.notebooks[i]
    label = f"[{i + 1}/{len(run.spec.notebooks)}] {entry.name}"
    if run.status != "FINISHED":
        run.log(f"{label}: skipped (an earlier notebook failed)")
        return
    with run.stop.deferred():
        child = run.child = tracking.create_run(
            run.record.experiment_id,
            f"{run.folder.name}/{entry.name}",
            run.tags,
            parent=run.record.parent_run_id,
            source=str(nb.path),
        )
        tracking.log_params(entry.parameters, run_id=child)
        executed = run.folder / f"{entry.name}.ipynb"
        run.save(run.record.with_notebook(i, replace(entry, status="RUNNING", run_id=child, executed=executed.name)))
        run.log(f"{label}: running (MLflow run {child})")
    with _kernel_env(run.kernel_env(child)):
        outcome = execute(
            nb.path,
            executed,
            parameters=entry.parameters,
            cwd=run.folder,
            label=label,
            progress=run.log,
            stop=run.stop,
        )
    with run.stop.deferred():
        _record_notebook(run, i, outcome, label)


def _record_notebook(run: _Run, i: int, outcome: Outcome, label: str) -> None:
    """Turn a notebook's outcome into its record, report, MLflow artifacts and metrics, and child status."""
    entry = run.record.notebooks[i]
    executed = run.folder / entry.executed
    readable = read_notebook(executed) is not None
    status = "KILLED" if outcome.stopped else "FAILED" if outcome.error else "FINISHED"
    error = outcome.error
    if status == "FAILED" and readable:
        failure = failed_cell(executed)
        error = str(failure) if failure is not None else error
    metrics = tracking.run_metrics(entry.run_id)
    entry = replace(
        entry,
        status=status,
        metrics=metrics,
        seconds=outcome.seconds,
        error=error,
        report=f"{entry.name}.html" if readable else None,
    )
    record = run.record.with_notebook(i, entry)
    run.record = record
    if readable:
        render_notebook(executed, run.folder / entry.report, record, entry)
        tracking.log_artifact(executed, run_id=entry.run_id)
        tracking.log_artifact(run.folder / entry.report, run_id=entry.run_id)
        tracking.log_artifact(run.folder / entry.report, "reports", run_id=record.parent_run_id)
    if metrics:
        tracking.log_metrics({f"{entry.name}.{k}": v for k, v in metrics.items()}, run_id=record.parent_run_id)
    tracking.end_run(entry.run_id, status)
    run.child = None
    run.save(record)
    if status == "FINISHED":
        shown = run.spec.notebooks[i].key_metrics or run.spec.key_metrics
        run.log(f"{label}: ok in {outcome.seconds:.1f} s {_headline(metrics, shown)}".rstrip())
    else:
        run.status = "FAILED" if status == "FAILED" else run.status
        run.log(f"{label}: {status} after {outcome.seconds:.1f} s: {error}")


def _close(run: _Run, status: str) -> RunRecord:
    """End the run with ``status``: the unfinished child run (if any), the notebooks still RUNNING, the parent."""
    with run.stop.deferred():
        if run.child is not None:
            tracking.end_run(run.child, status)
            run.child = None
        record = replace(run.record, status=status, finished=_now())
        notebooks = tuple(replace(nb, status=status) if nb.status == "RUNNING" else nb for nb in record.notebooks)
        record = replace(record, notebooks=notebooks)
        if status == "KILLED":
            for i, nb in enumerate(record.notebooks):
                if nb.status == "SKIPPED":
                    run.log(f"[{i + 1}/{len(record.notebooks)}] {nb.name}: skipped (the run was stopped)")
        path = write_record(record)
        run.record = record
        tracking.log_artifact(path, run_id=record.parent_run_id)
        tracking.end_run(record.parent_run_id, status)
        index = update_index(run.folder.parent)
        run.log(f"run {record.name}: {status}; reports in {record.folder}")
        run.log(f"index of every run: {index}")
        return record


def run(
    spec_path: str | Path,
    overrides: Mapping[str, str] | None = None,
    *,
    progress: Progress | None = None,
    runs_root: Path | None = None,
) -> RunRecord:
    """Validate the spec at ``spec_path`` (with ``-p`` overrides) and execute it (see :func:`run_spec`).

    Raises
    ------
    SpecError
        When the spec is invalid; nothing runs and nothing is recorded.
    """
    spec = load_spec(spec_path, overrides)
    return run_spec(spec, progress=progress, runs_root=runs_root)


def update_index(root: Path | None = None) -> Path:
    """Rewrite ``<runs>/index.html`` from every run's record (runs whose runner is gone marked KILLED first)."""
    base = root or runs_dir()
    mark_vanished_runs(base)
    return render_index(list_runs(base), base / INDEX_FILE)


def rerender(ref: str, *, root: Path | None = None) -> RunRecord:
    """Render the reports of run ``ref`` again from its executed notebooks and record, and the index.

    Parameters
    ----------
    ref : str
        Run name, unique prefix, spec name (its newest run), ``latest``, folder path or parent run id.
    root : Path, optional
        Runs folder; ``<project_root>/runs`` by default.

    Raises
    ------
    ChurnlabError
        When the run is not found, or an executed notebook is missing, empty or not a notebook (the
        other reports are rendered first); one line naming the run and the files.
    """
    mark_vanished_runs(root or runs_dir())
    record = find_run(ref, root)
    folder = Path(record.folder)
    broken = []
    for entry in record.notebooks:
        if not entry.executed:
            continue
        executed = folder / entry.executed
        if read_notebook(executed) is None:
            size = f"{executed.stat().st_size} bytes" if executed.is_file() else "missing"
            broken.append(f"{entry.executed} ({size})")
            continue
        render_notebook(executed, folder / (entry.report or f"{entry.name}.html"), record, entry)
    update_index(folder.parent)
    if broken:
        raise ChurnlabError(
            f"run {record.name}: executed notebook {', '.join(broken)} is not a readable notebook, so it has no "
            "report; the run was probably killed while writing it"
        )
    return record
