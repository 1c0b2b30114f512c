"""How a run ends: stop signals, the runner's identity, runs whose process is gone, and server process groups.

- :class:`StopSignals` turns SIGINT (Ctrl-C) and SIGTERM (``timeout``, systemd, ``docker stop``, schedulers)
  into one clean stop. While a notebook runs the signal is only *recorded* and the notebook is stopped
  from outside (:mod:`churnlab.execution`), so the kernel shuts down normally; anywhere else it raises
  :class:`Interrupted` at once. Either way the runner marks its runs KILLED and exits with
  ``128 + signal number`` (130 for Ctrl-C, 143 for SIGTERM).
- A run records the runner's ``pid`` and ``host`` (:func:`this_process`). A run still RUNNING whose
  process is gone (SIGKILL, a crash, a reboot) is marked KILLED by :func:`mark_vanished_runs`, which
  ``churnlab list`` and the runs index call: its record, its MLflow runs (when the store is reachable),
  its partial notebook (a note says where it stopped) and that notebook's report.
- :func:`serve` runs a server (``churnlab ui``) in its own process group and stops the whole group,
  workers included, when it is interrupted or terminated.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

__all__ = [
    "Interrupted",
    "StopSignals",
    "this_process",
    "process_gone",
    "mark_vanished_runs",
    "serve",
    "STOP_SIGNALS",
]

#: Signals that stop a run cleanly (runs KILLED, partial notebook and report kept).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: Seconds a server gets to exit after SIGTERM before its process group is killed.
SERVER_GRACE_SECONDS = 10.0


class Interrupted(KeyboardInterrupt):
    """A stop signal ended the run; ``exit_code`` is ``128 + signum`` (130 Ctrl-C, 143 SIGTERM)."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by signal ``signum``."""
        return 128 + self.signum


class StopSignals:
    """Handle SIGINT and SIGTERM for the duration of a ``with`` block (main thread only; elsewhere inert).

    Outside :meth:`deferred` blocks a signal raises :class:`Interrupted`; inside one it is recorded
    (:attr:`signum`, :attr:`count`, :attr:`requested_at`) for the code in the block to act on.
    The previous handlers are restored when the block ends.
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self.count = 0
        self.requested_at: float | None = None
        self._deferred = 0
        self._saved: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        """Whether a stop signal has arrived."""
        return self.signum is not None

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                self._saved[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
        self._saved.clear()

    def _handle(self, signum: int, frame: object) -> None:
        self.count += 1
        if self.signum is None:
            self.signum = signum
            self.requested_at = time.monotonic()
        if not self._deferred:
            raise Interrupted(signum)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[StopSignals]:
        """Record signals instead of raising them inside the block (a notebook running, runs being closed)."""
        self._deferred += 1
        try:
            yield self
        finally:
            self._deferred -= 1

    def check(self) -> None:
        """Raise :class:`Interrupted` when a signal has arrived (call it between steps)."""
        if self.signum is not None:
            raise Interrupted(self.signum)


def this_process() -> dict[str, Any]:
    """Return the identity a run record keeps of its runner: ``{"pid": ..., "host": ...}``."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def process_gone(pid: int | None, host: str | None, started: str) -> bool:
    """Whether the process that started a run at ``started`` (ISO local time) no longer exists.

    ``False`` when it cannot be told: no pid recorded (a run from before pids were recorded), or
    another host. A pid that now belongs to a process created after the run started was reused by
    the system: the runner is gone. A zombie (ended, not yet reaped) is gone.
    """
    import psutil

    if pid is None or host != socket.gethostname():
        return False
    if pid == os.getpid():
        return False
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return True
        created = process.create_time()
    except psutil.NoSuchProcess:
        return True
    try:
        run_started = dt.datetime.fromisoformat(started).timestamp()
    except ValueError:
        return False
    return created > run_started + 2  # the record's time is whole seconds, written just after start


def _last_sign_of_life(folder: Path) -> str:
    """Latest modification time of the run folder's files (the runner saved the notebook after each cell)."""
    stamps = [p.stat().st_mtime for p in folder.iterdir() if p.is_file()] or [time.time()]
    return dt.datetime.fromtimestamp(max(stamps)).isoformat(timespec="seconds")


def mark_vanished_runs(root: str | Path | None = None) -> list[Any]:
    """Mark every run under ``root`` that is RUNNING but whose runner process is gone as KILLED.

    For each such run: the notebook that was running becomes KILLED with an error naming the lost
    runner, its executed copy gets a note saying where it stopped and its report is rendered; the
    record's ``finished`` is the folder's last file change; the parent and running child MLflow runs
    are set KILLED when the run's store is reachable (errors there are ignored: the record is the
    local truth). The runs index is rewritten when any run was marked.

    Parameters
    ----------
    root : str or Path, optional
        The runs folder; ``<project_root>/runs`` by default.

    Returns
    -------
    list of RunRecord
        The records as rewritten, oldest first.
    """
    from churnlab.record import list_runs, write_record

    marked = []
    for record in list_runs(root):
        if record.status != "RUNNING" or not process_gone(record.pid, record.host, record.started):
            continue
        folder = Path(record.folder)
        reason = f"the runner (pid {record.pid} on {record.host}) stopped while this notebook ran: killed or crashed"
        running = [i for i, nb in enumerate(record.notebooks) if nb.status == "RUNNING"]
        record = replace(record, status="KILLED", finished=_last_sign_of_life(folder))
        for i in running:
            entry = record.notebooks[i]
            metrics = _logged_metrics(entry.run_id, record.tracking_uri)
            record = record.with_notebook(i, replace(entry, status="KILLED", error=reason, metrics=metrics))
            record = record.with_notebook(i, _settle_notebook(record, record.notebooks[i], folder))
        write_record(record)
        _kill_mlflow_runs(record, [record.notebooks[i].run_id for i in running if record.notebooks[i].run_id])
        marked.append(record)
    if marked:
        from churnlab.config import runs_dir
        from churnlab.report import INDEX_FILE, render_index

        base = Path(root) if root is not None else runs_dir()
        render_index(list_runs(base), base / INDEX_FILE)
    return marked


def _settle_notebook(record: Any, entry: Any, folder: Path) -> Any:
    """Note where a lost runner's notebook stopped and render its report; return the entry with its report."""
    from churnlab.execution import add_stop_note, read_notebook, stopped_at, write_notebook
    from churnlab.report import render_notebook

    if not entry.executed or not (folder / entry.executed).is_file():
        return entry
    executed = folder / entry.executed
    nb = read_notebook(executed)
    if nb is None:
        return entry
    add_stop_note(nb, "The runner process was lost (killed or crashed)", stopped_at(nb))
    write_notebook(nb, executed)
    entry = replace(entry, report=entry.report or f"{entry.name}.html")
    render_notebook(executed, folder / entry.report, record, entry)
    return entry


def _logged_metrics(run_id: str | None, uri: str | None) -> dict[str, float]:
    """Return what a lost notebook had logged before its runner died; empty when its store cannot be read."""
    from churnlab import tracking

    try:
        return tracking.run_metrics(run_id, uri=uri) if run_id else {}
    except Exception:  # a store that is gone or elsewhere
        return {}


def _kill_mlflow_runs(record: Any, child_ids: Sequence[str]) -> None:
    from churnlab import tracking

    for run_id in [*child_ids, record.parent_run_id]:
        if not run_id:
            continue
        try:
            if tracking.run_status(run_id, uri=record.tracking_uri) == "RUNNING":
                tracking.end_run(run_id, "KILLED", uri=record.tracking_uri)
        except Exception:  # a store that is gone or elsewhere: the record already says KILLED
            continue


def serve(command: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Run a server in its own process group until it exits, or until SIGINT/SIGTERM stops the whole group.

    Servers such as ``mlflow ui`` start workers of their own; stopping only the direct child leaves
    them holding the port. On a stop signal the group gets SIGTERM, then SIGKILL after
    :data:`SERVER_GRACE_SECONDS`.

    Parameters
    ----------
    command : sequence of str
        The server's command line.
    env : mapping, optional
        Its environment (the current one by default).

    Returns
    -------
    int
        The server's exit code, or ``0`` when a stop signal ended it.
    """
    process = subprocess.Popen(list(command), env=dict(env) if env is not None else None, start_new_session=True)
    with StopSignals():
        try:
            return process.wait()
        except Interrupted:
            _stop_group(process)
            return 0
        finally:
            if process.poll() is None:
                _stop_group(process)


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the process group of ``process``, SIGKILL after the grace period."""
    for sig, wait in ((signal.SIGTERM, SERVER_GRACE_SECONDS), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if process.poll() is not None and not _group_alive(process.pid):
                return
            time.sleep(0.1)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
