"""Run an experiment spec: prepare data once, execute each notebook with papermill, record it in MLflow.

One ``churnlab run`` makes a folder ``runs/<spec>_<YYYYmmdd-HHMMSS>/`` holding the spec as given and as
resolved, each executed notebook (``NN_name.ipynb``), its HTML report (``NN_name.html``), ``run.log``
and ``run.json`` (see :mod:`churnlab.record`), and refreshes ``runs/index.html``.

In MLflow (store from :func:`churnlab.tracking.tracking_uri`), the experiment is named after the spec;
each run is one parent run (shared parameters, data settings, spec file, fingerprint, provenance tags:
churnlab version, git commit and dirty flag, package versions) with one child run per notebook
(its parameters; the metrics, figures and tables it logs through :mod:`churnlab.tracking`; the executed
notebook and report). The notebook's kernel finds its child run through ``MLFLOW_RUN_ID``. The runner
alone sets run status: FINISHED, FAILED (a notebook raised: later notebooks are skipped) or KILLED.

Exit codes (:func:`exit_code`): 0 every notebook finished, 1 a notebook failed, 2 bad spec or input
(raised as :class:`~churnlab.errors.ChurnlabError` before any notebook runs), 130 interrupted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir

from churnlab import tracking
from churnlab.config import data_dir, project_root, runs_dir
from churnlab.errors import DataSourceError
from churnlab.record import NotebookRecord, RunRecord, find_run, list_runs, write_record
from churnlab.report import INDEX_FILE, failed_cell, render_index, render_notebook
from churnlab.spec import DataSpec, Spec, load_spec

__all__ = [
    "PreparedData",
    "prepare_data",
    "run",
    "run_spec",
    "rerender",
    "update_index",
    "exit_code",
    "EXIT_OK",
    "EXIT_NOTEBOOK_FAILED",
    "EXIT_BAD_INPUT",
    "EXIT_INTERRUPTED",
]

EXIT_OK = 0
EXIT_NOTEBOOK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

Progress = Callable[[str], None]


@dataclass(frozen=True)
class PreparedData:
    """A dataset written once to ``folder`` (``Dataset.save`` layout) and its content fingerprint."""

    folder: Path
    fingerprint: str
    key: str
    cached: bool


def exit_code(record: RunRecord) -> int:
    """Process exit code for a finished run: 0 FINISHED, 1 FAILED, 130 KILLED."""
    return {"FINISHED": EXIT_OK, "FAILED": EXIT_NOTEBOOK_FAILED, "KILLED": EXIT_INTERRUPTED}.get(
        record.status, EXIT_NOTEBOOK_FAILED
    )


class LocalKernelManager(AsyncKernelManager):
    """Kernel manager whose kernel talks over local IPC sockets in Jupyter's runtime folder.

    The default TCP transport sends code and outputs unencrypted over localhost (ipykernel warns about it on
    every start, which filled scheduled-run logs); IPC sockets are files only this user can open. Falls back
    to TCP on Windows and when the runtime folder's path is too long for a socket name.
    """

    def __init__(self, **kwargs: Any) -> None:
        runtime = Path(jupyter_runtime_dir())
        prefix = runtime / f"churnlab-kernel-{uuid.uuid4().hex[:12]}"
        # a Unix socket path holds ~107 bytes (prefix plus "-<port>"); Windows has no IPC transport: keep TCP there
        if os.name != "nt" and len(str(prefix)) < 96:
            runtime.mkdir(parents=True, exist_ok=True)
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", str(prefix))
        super().__init__(**kwargs)


# --- data -----------------------------------------------------------------------------------------


def loader_digest() -> str:
    """Hash of the code that builds data (``churnlab/data``, ``schema.py``, ``config.py``): 12 hex characters.

    Part of every data cache key, so a change to a loader or to the synthetic world's generator
    rebuilds the cached data instead of silently reusing tables the current code would not produce.
    """
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted([package / "schema.py", package / "config.py", *(package / "data").rglob("*.py")]):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _cache_key(data: DataSpec) -> str:
    """Return the data's cache key ``<source>-<12 hex>``.

    It hashes the spec's source and settings, the loader code (:func:`loader_digest`) and, for a files
    source, its config and the size/mtime of its folder's files.
    """
    digest = hashlib.sha256((data.key + loader_digest()).encode())
    if data.source == "files":
        config = Path(data.settings["config"])
        digest.update(config.read_bytes())
        for path in sorted(p for p in config.parent.iterdir() if p.is_file()):
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return f"{data.source}-{digest.hexdigest()[:12]}"


def _build(data: DataSpec, folder: Path) -> None:
    """Load or generate the data source and save it to ``folder``."""
    settings = dict(data.settings)
    if data.source == "synthetic":
        try:
            from churnlab.data.synthetic import generate, save_world
        except ImportError as exc:
            raise DataSourceError("data source 'synthetic': churnlab.data.synthetic is not available") from exc
        kwargs = {"n_customers": settings.pop("customers", 10_000), **settings}
        dataset, truth = generate(**kwargs)
        save_world(dataset, truth, folder)
        return
    if data.source == "files":
        from churnlab.data import load_files

        load_files(Path(settings["config"])).save(folder)
        return
    from churnlab.data import load

    load(data.source).save(folder)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def prepare_data(data: DataSpec, *, progress: Progress | None = None) -> PreparedData:
    """Write the spec's data to ``data/generated/<key>/`` once; later runs with the same settings reuse it.

    The folder is built under a temporary name and renamed when complete, under a per-key lock, so
    concurrent runs neither build it twice nor read half of it. ``cache.json`` records the key,
    source, settings and fingerprint.

    Parameters
    ----------
    data : DataSpec
        Source and settings from the spec.
    progress : callable, optional
        Receives one line of progress text.

    Returns
    -------
    PreparedData
    """
    say = progress or (lambda _line: None)
    key = _cache_key(data)
    folder = data_dir() / key
    with _file_lock(data_dir() / f"{key}.lock"):
        meta = folder / "dataset.json"
        if meta.is_file():
            fingerprint = json.loads(meta.read_text(encoding="utf-8"))["fingerprint"]
            say(f"data: {data.source} from cache {folder} (fingerprint {fingerprint[:12]})")
            return PreparedData(folder=folder, fingerprint=fingerprint, key=key, cached=True)
        say(f"data: preparing {data.source} {dict(data.settings) or ''} -> {folder}")
        started = time.perf_counter()
        building = folder.with_name(f".{key}.{os.getpid()}.building")
        shutil.rmtree(building, ignore_errors=True)
        try:
            _build(data, building)
            fingerprint = json.loads((building / "dataset.json").read_text(encoding="utf-8"))["fingerprint"]
            cache = {
                "key": key,
                "source": data.source,
                "settings": dict(data.settings),
                "fingerprint": fingerprint,
                "created": dt.datetime.now().isoformat(timespec="seconds"),
                "churnlab_version": tracking.provenance().get("churnlab.version"),
            }
            (building / "cache.json").write_text(json.dumps(cache, indent=2, default=str), encoding="utf-8")
            os.replace(building, folder)
        finally:
            shutil.rmtree(building, ignore_errors=True)
        say(f"data: ready in {time.perf_counter() - started:.1f} s (fingerprint {fingerprint[:12]})")
        return PreparedData(folder=folder, fingerprint=fingerprint, key=key, cached=False)


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


def _params_for_mlflow(spec: Spec) -> dict[str, Any]:
    params: dict[str, Any] = {"data.source": spec.data.source}
    params.update({f"data.{k}": v for k, v in spec.data.settings.items()})
    params.update(spec.parameters)
    params["notebooks"] = [nb.stem for nb in spec.notebooks]
    return params


def _log_params(client, run_id: str, params: Mapping[str, Any]) -> None:
    from mlflow.entities import Param

    items = [Param(str(k), json.dumps(v) if isinstance(v, (list, dict)) else str(v)[:6000]) for k, v in params.items()]
    for start in range(0, len(items), 100):
        client.log_batch(run_id, params=items[start : start + 100])


def run_spec(spec: Spec, *, progress: Progress | None = None, runs_root: Path | None = None) -> RunRecord:
    """Execute a validated spec and return its record (status FINISHED, FAILED or KILLED).

    Parameters
    ----------
    spec : Spec
        From :func:`churnlab.spec.load_spec`.
    progress : callable, optional
        Receives one line per step (data ready, each notebook started and finished).
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
    KeyboardInterrupt
        After marking the runs KILLED.
    """
    import papermill
    from mlflow.entities import Metric

    log = _Log(progress)
    prepared = prepare_data(spec.data, progress=log)
    root = runs_root or runs_dir()
    folder = _new_run_folder(spec.name, root)
    log.path = folder / "run.log"
    if spec.path is not None:
        shutil.copyfile(spec.path, folder / "spec.yaml")
    (folder / "spec.resolved.yaml").write_text(yaml.safe_dump(spec.resolved(), sort_keys=False), encoding="utf-8")

    client = tracking.client()
    experiment_id = tracking.experiment_id(spec.name)
    prov = tracking.provenance()
    common_tags = {**prov, "churnlab.spec": spec.name, "churnlab.data.fingerprint": prepared.fingerprint}
    parent = client.create_run(
        experiment_id,
        run_name=folder.name,
        tags={
            **common_tags,
            "churnlab.run_folder": str(folder),
            "mlflow.source.name": str(spec.path or spec.name),
            "mlflow.note.content": spec.description,
        },
    )
    parent_id = parent.info.run_id
    _log_params(client, parent_id, _params_for_mlflow(spec))
    for name in ("spec.yaml", "spec.resolved.yaml"):
        if (folder / name).is_file():
            client.log_artifact(parent_id, str(folder / name))

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
        key_metrics=spec.key_metrics,
        tracking_uri=tracking.tracking_uri(),
        experiment_id=experiment_id,
        parent_run_id=parent_id,
        provenance=prov,
        notebooks=tuple(
            NotebookRecord(
                name=_output_name(i, nb.stem),
                source=str(nb.path),
                parameters=spec.parameters_for(nb, str(prepared.folder)),
            )
            for i, nb in enumerate(spec.notebooks)
        ),
        folder=str(folder),
    )
    write_record(record)
    log(f"run {folder.name}: {len(spec.notebooks)} notebook(s), MLflow parent run {parent_id}")

    status = "FINISHED"
    env = {
        "MLFLOW_TRACKING_URI": tracking.tracking_uri(),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "CHURNLAB_HOME": str(project_root()),
        "PYTHONHASHSEED": "0",
    }
    current_child: str | None = None  # the child run not yet terminated, if any
    try:
        for i, nb in enumerate(spec.notebooks):
            entry = record.notebooks[i]
            if status != "FINISHED":
                log(f"[{i + 1}/{len(spec.notebooks)}] {entry.name}: skipped (an earlier notebook failed)")
                continue
            child = client.create_run(
                experiment_id,
                run_name=f"{folder.name}/{entry.name}",
                tags={**common_tags, "mlflow.parentRunId": parent_id, "mlflow.source.name": str(nb.path)},
            )
            child_id = current_child = child.info.run_id
            _log_params(client, child_id, entry.parameters)
            executed = folder / f"{entry.name}.ipynb"
            entry = replace(entry, status="RUNNING", run_id=child_id, executed=executed.name)
            record = record.with_notebook(i, entry)
            write_record(record)
            log(f"[{i + 1}/{len(spec.notebooks)}] {entry.name}: running (MLflow run {child_id})")
            started = time.perf_counter()
            error = None
            try:
                with _kernel_env({**env, "MLFLOW_RUN_ID": child_id}):
                    papermill.execute_notebook(
                        str(nb.path),
                        str(executed),
                        parameters=dict(entry.parameters),
                        kernel_name="python3",
                        cwd=str(folder),
                        progress_bar=False,
                        log_output=False,
                        request_save_on_cell_execute=True,
                        kernel_manager_class=LocalKernelManager,
                    )
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # papermill raises its own error for a cell, others for the kernel
                error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
            seconds = round(time.perf_counter() - started, 2)
            metrics = dict(sorted(client.get_run(child_id).data.metrics.items()))
            if error is not None and executed.is_file():
                failure = failed_cell(executed)
                error = str(failure) if failure is not None else error
            entry = replace(
                entry,
                status="FAILED" if error else "FINISHED",
                metrics=metrics,
                seconds=seconds,
                error=error,
                report=f"{entry.name}.html" if executed.is_file() else None,
            )
            record = record.with_notebook(i, entry)
            if executed.is_file():
                render_notebook(executed, folder / entry.report, record, entry)
                client.log_artifact(child_id, str(executed))
                client.log_artifact(child_id, str(folder / entry.report))
                client.log_artifact(parent_id, str(folder / entry.report), artifact_path="reports")
            if metrics:
                stamp = int(time.time() * 1000)
                client.log_batch(
                    parent_id, metrics=[Metric(f"{entry.name}.{k}", v, stamp, 0) for k, v in metrics.items()]
                )
            client.set_terminated(child_id, entry.status)
            current_child = None
            write_record(record)
            shown = ", ".join(f"{k}={v:.4g}" for k, v in list(metrics.items())[:4])
            if error:
                status = "FAILED"
                log(f"[{i + 1}/{len(spec.notebooks)}] {entry.name}: FAILED after {seconds:.1f} s: {error}")
            else:
                log(f"[{i + 1}/{len(spec.notebooks)}] {entry.name}: ok in {seconds:.1f} s {shown}")
    except KeyboardInterrupt:
        _abort(client, record, current_child, "KILLED", log)
        raise
    except Exception as exc:  # the orchestrator itself broke (rendering, store): never leave a run RUNNING
        log(f"run {record.name}: the orchestrator failed: {type(exc).__name__}: {exc}")
        _abort(client, record, current_child, "FAILED", log)
        raise
    return _finish(client, record, status, log)


def _abort(client, record: RunRecord, child_id: str | None, status: str, log: _Log) -> RunRecord:
    """Mark the unfinished child run (if any) and the parent ``status`` (KILLED or FAILED)."""
    if child_id is not None:
        client.set_terminated(child_id, status)
    return _finish(client, record, status, log, running_as=status)


def _finish(client, record: RunRecord, status: str, log: _Log, *, running_as: str = "KILLED") -> RunRecord:
    record = replace(record, status=status, finished=_now())
    record = replace(
        record,
        notebooks=tuple(replace(nb, status=running_as) if nb.status == "RUNNING" else nb for nb in record.notebooks),
    )
    path = write_record(record)
    client.log_artifact(record.parent_run_id, str(path))
    client.set_terminated(record.parent_run_id, status)
    update_index(Path(record.folder).parent)
    log(f"run {record.name}: {status}; reports in {record.folder}")
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
    """Rewrite ``<runs>/index.html`` from every run's record."""
    base = root or runs_dir()
    return render_index(list_runs(base), base / INDEX_FILE)


def rerender(ref: str, *, root: Path | None = None) -> RunRecord:
    """Render the reports of run ``ref`` again from its executed notebooks and record, and the index.

    Parameters
    ----------
    ref : str
        Run name, unique prefix, spec name (its newest run), ``latest``, folder path or parent run id.
    root : Path, optional
        Runs folder; ``<project_root>/runs`` by default.
    """
    record = find_run(ref, root)
    folder = Path(record.folder)
    for entry in record.notebooks:
        if entry.executed and (folder / entry.executed).is_file():
            report = entry.report or f"{entry.name}.html"
            render_notebook(folder / entry.executed, folder / report, record, entry)
    update_index(folder.parent)
    return record
