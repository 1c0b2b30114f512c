"""Run records: what one ``churnlab run`` did, kept as ``runs/<run>/run.json`` next to its notebooks.

The record is the local, server-free account of a run that ``churnlab list``, ``report`` and
``compare`` read: status, parameters, data fingerprint, MLflow run ids and every notebook's metrics.
MLflow holds the same values; the record makes them readable without opening the store.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from churnlab.config import runs_dir
from churnlab.errors import ChurnlabError

__all__ = [
    "NotebookRecord",
    "RunRecord",
    "RECORD_FILE",
    "write_record",
    "read_record",
    "list_runs",
    "find_run",
]

RECORD_FILE = "run.json"


@dataclass(frozen=True)
class NotebookRecord:
    """One notebook of a run.

    ``status`` is ``FINISHED``, ``FAILED``, ``KILLED`` (stopped by a signal or a lost runner), ``SKIPPED``
    (an earlier notebook failed or the run was stopped) or ``RUNNING``;
    ``executed`` and ``report`` are file names inside the run folder.
    """

    name: str
    source: str
    status: str = "SKIPPED"
    executed: str | None = None
    report: str | None = None
    run_id: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)
    seconds: float | None = None
    error: str | None = None
    key_metrics: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunRecord:
    """One experiment run: its spec, data, provenance, MLflow ids and notebooks.

    ``status`` is ``RUNNING``, ``FINISHED``, ``FAILED`` or ``KILLED``; dates are ISO-8601 local times.
    ``pid`` and ``host`` name the runner process, so a run whose process is gone can be told from one
    still running (:func:`churnlab.lifecycle.mark_vanished_runs`).
    """

    name: str
    spec_name: str
    spec_path: str
    started: str
    status: str = "RUNNING"
    finished: str | None = None
    description: str = ""
    data_source: str = ""
    data_settings: Mapping[str, Any] = field(default_factory=dict)
    data_dir: str | None = None
    fingerprint: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    overrides: Mapping[str, Any] = field(default_factory=dict)
    key_metrics: tuple[str, ...] = ()
    key_metric_formats: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    tracking_uri: str | None = None
    experiment_id: str | None = None
    parent_run_id: str | None = None
    provenance: Mapping[str, str] = field(default_factory=dict)
    notebooks: tuple[NotebookRecord, ...] = ()
    pid: int | None = None
    host: str | None = None
    folder: str = ""

    @property
    def metrics(self) -> dict[str, float]:
        """Every notebook's metrics as ``<notebook>.<metric>``, in notebook order."""
        return {f"{nb.name}.{k}": v for nb in self.notebooks for k, v in nb.metrics.items()}

    def headline(self, limit: int = 4) -> dict[str, float]:
        """Key metrics: the spec's ``key_metrics`` (first notebook that logged each), else the first ``limit``.

        Returns
        -------
        dict of str to float
            Metric name (without notebook prefix) to value.
        """
        if self.key_metrics:
            out: dict[str, float] = {}
            for name in self.key_metrics:
                for nb in self.notebooks:
                    if name in nb.metrics:
                        out[name] = nb.metrics[name]
                        break
            return out
        out = {}
        for nb in self.notebooks:
            for k, v in nb.metrics.items():
                if len(out) < limit and k not in out:
                    out[k] = v
        return out

    def with_notebook(self, index: int, notebook: NotebookRecord) -> RunRecord:
        """Return a copy with notebook ``index`` replaced."""
        items = list(self.notebooks)
        items[index] = notebook
        return replace(self, notebooks=tuple(items))


def _to_dict(record: RunRecord) -> dict[str, Any]:
    out = asdict(record)
    out.pop("folder")
    return out


def _from_dict(raw: Mapping[str, Any], folder: Path) -> RunRecord:
    known = {f.name for f in fields(RunRecord)}
    nb_known = {f.name for f in fields(NotebookRecord)}
    notebooks = tuple(
        NotebookRecord(**{k: (tuple(v) if k == "key_metrics" else v) for k, v in nb.items() if k in nb_known})
        for nb in raw["notebooks"]
    )
    values = {k: v for k, v in raw.items() if k in known and k not in ("notebooks", "folder")}
    values["key_metrics"] = tuple(values.get("key_metrics") or ())
    return RunRecord(**values, notebooks=notebooks, folder=str(folder))


def write_record(record: RunRecord) -> Path:
    """Write ``run.json`` into ``record.folder`` atomically (a reader never sees half a file)."""
    folder = Path(record.folder)
    target = folder / RECORD_FILE
    tmp = folder / f".{RECORD_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(_to_dict(record), indent=2, default=str), encoding="utf-8")
    os.replace(tmp, target)
    return target


def read_record(folder: str | Path) -> RunRecord:
    """Read the record of the run in ``folder``.

    Raises
    ------
    ChurnlabError
        When the folder holds no readable ``run.json``.
    """
    folder = Path(folder)
    try:
        raw = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
        return _from_dict(raw, folder.resolve())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ChurnlabError(f"run folder {folder}: no readable {RECORD_FILE} ({exc.__class__.__name__})") from exc


def list_runs(root: str | Path | None = None) -> list[RunRecord]:
    """Every run under ``root`` (default ``<project_root>/runs``), oldest first; unreadable folders are skipped."""
    base = Path(root) if root is not None else runs_dir()
    if not base.is_dir():
        return []
    records = []
    for folder in sorted(p for p in base.iterdir() if (p / RECORD_FILE).is_file()):
        try:
            records.append(read_record(folder))
        except ChurnlabError:
            continue
    return sorted(records, key=lambda r: (r.started, r.name))


def find_run(ref: str, root: str | Path | None = None) -> RunRecord:
    """Find a run by folder path, exact name, MLflow parent run id, unique name prefix, or ``latest``.

    ``latest`` is the newest run; a spec name (``demo``) picks that spec's newest run.

    Raises
    ------
    ChurnlabError
        When nothing matches or a prefix is ambiguous; the message lists candidates.
    """
    path = Path(ref)
    if (path / RECORD_FILE).is_file():
        return read_record(path)
    runs = list_runs(root)
    if not runs:
        raise ChurnlabError(f"run {ref!r}: there are no runs yet under {Path(root) if root else runs_dir()}")
    if ref == "latest":
        return runs[-1]
    for run in runs:
        if ref in (run.name, run.parent_run_id):
            return run
    by_spec = [r for r in runs if r.spec_name == ref]
    if by_spec:
        return by_spec[-1]
    matches = [r for r in runs if r.name.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ChurnlabError(f"run {ref!r} is ambiguous: {', '.join(r.name for r in matches[:5])}")
    raise ChurnlabError(f"run {ref!r} not found; recent runs: {', '.join(r.name for r in runs[-5:])}")
