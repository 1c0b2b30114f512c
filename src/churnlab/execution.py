"""Execute one notebook with papermill: saved atomically, progress by section and cell, stopped cleanly.

- **Atomic saves.** The executed copy is written to a temporary file and renamed over the target after
  every cell, so a reader (or a run killed mid-write) only ever sees a complete notebook: the last good
  copy, never a 0-byte file.
- **Progress.** Each new section (the latest Markdown heading) prints one line with the cell it starts
  at, ``cell i of n`` among code cells; a cell that runs for minutes prints a line every
  :data:`HEARTBEAT_SECONDS`.
- **Stopping.** Papermill runs in a worker thread, so the main thread keeps the runner's signal
  handlers (:class:`churnlab.lifecycle.StopSignals`; nbclient would otherwise replace them with its own
  and leave the next SIGTERM to kill the process). On a stop request the running cell is interrupted
  (SIGINT to the kernel's process group: the cell raises ``KeyboardInterrupt``), no further cell starts,
  and the kernel shuts down normally; a kernel that does not stop within :data:`STOP_GRACE_SECONDS`
  (or on a second signal) is killed. The executed copy then says where it stopped (:func:`add_stop_note`).
- **Kernels** talk over local IPC sockets (:class:`LocalKernelManager`) and are not interrupted while
  they shut down normally (ipykernel logs that interrupt as ``ERROR | KeyboardInterrupt caught in kernel.``).
"""

from __future__ import annotations

import html
import logging
import os
import re
import signal
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir

from churnlab.lifecycle import StopSignals

__all__ = [
    "LocalKernelManager",
    "Position",
    "Outcome",
    "execute",
    "stopped_at",
    "add_stop_note",
    "write_notebook",
    "read_notebook",
    "STOP_GRACE_SECONDS",
    "HEARTBEAT_SECONDS",
    "STOP_NOTE_TAG",
]

#: Seconds an interrupted cell gets to stop before its kernel is killed. ``docker stop`` allows 10 s in
#: all; this leaves time to save the notebook, render its report and close the MLflow runs.
#: OPINIONS.md, "Stopping a run".
STOP_GRACE_SECONDS = 3.0
#: Seconds between "still running" lines while one cell runs.
HEARTBEAT_SECONDS = 60.0
#: Tag of the Markdown cell :func:`add_stop_note` puts first in a stopped notebook.
STOP_NOTE_TAG = "churnlab-stopped"
_ENGINE = "churnlab"
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)

Progress = Callable[[str], None]


class _ZmqTeardownRecord(logging.Filter):
    """Log tornado's "Uncaught exception in ZMQStream callback" as a WARNING, traceback kept.

    Seen in 2 of 5 full test-suite runs on a heavily loaded machine (load 6-8), in the test that starts two
    runs at once, never when that test ran alone; both runs finished with exit 0 and their notebooks
    complete. The traceback was cut off in the test output, so the cause is not pinned down: most likely a
    ZMQ stream callback of the kernel client firing while its channels close after the last cell. Cell
    errors are ``error`` outputs, not log records, so the run's status does not depend on this record; it
    stays in the log, as a WARNING, so that a successful run's log keeps no ERROR line.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and "ZMQStream callback" in str(record.msg):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


logging.getLogger("tornado.general").addFilter(_ZmqTeardownRecord())


class LocalKernelManager(AsyncKernelManager):
    """Kernel manager whose kernel talks over local IPC sockets in Jupyter's runtime folder.

    The default TCP transport sends code and outputs unencrypted over localhost (ipykernel warns about it on
    every start, which filled scheduled-run logs); IPC sockets are files only this user can open. Falls back
    to TCP on Windows and when the runtime folder's path is too long for a socket name.

    A normal shutdown is not preceded by an interrupt (jupyter_client sends one; an idle ipykernel then
    logs ``ERROR | KeyboardInterrupt caught in kernel.`` into every successful run's log). Managers are
    tracked in :attr:`live` so a stop request can reach the running kernel's process.
    """

    live: weakref.WeakSet[LocalKernelManager] = weakref.WeakSet()

    def __init__(self, **kwargs: Any) -> None:
        runtime = Path(jupyter_runtime_dir())
        prefix = runtime / f"churnlab-kernel-{uuid.uuid4().hex[:12]}"
        # a Unix socket path holds ~107 bytes (prefix plus "-<port>"); Windows has no IPC transport: keep TCP there
        if os.name != "nt" and len(str(prefix)) < 96:
            runtime.mkdir(parents=True, exist_ok=True)
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", str(prefix))
        super().__init__(**kwargs)
        LocalKernelManager.live.add(self)

    async def _async_interrupt_kernel(self) -> None:
        if self.shutting_down:  # a shutdown request follows; the kernel has finished its cells
            return
        await super()._async_interrupt_kernel()

    @property
    def kernel_pid(self) -> int | None:
        """Process id of the kernel, ``None`` before it has started."""
        process = getattr(self.provisioner, "process", None)
        return getattr(process, "pid", None) if process is not None and process.poll() is None else None


@dataclass(frozen=True)
class Position:
    """Where a notebook is: cell ``cell`` (index among all cells), code cell ``number`` of ``total``, its section."""

    cell: int
    number: int
    total: int
    section: str | None

    def __str__(self) -> str:
        where = f"cell {self.number} of {self.total}"
        return where + (f" (section “{self.section}”)" if self.section else "")


@dataclass(frozen=True)
class Outcome:
    """How one execution ended: ``error`` (one line, ``None`` when every cell ran), whether a stop signal ended it."""

    error: str | None
    stopped: bool
    seconds: float
    position: Position | None


def _heading(cell: Any) -> str | None:
    if cell.get("cell_type") != "markdown":
        return None
    found = _HEADING.findall(cell.get("source", ""))
    return found[-1].strip()[:100] if found else None


def position(nb: Any, index: int) -> Position:
    """Return the :class:`Position` of cell ``index`` of ``nb``: its code-cell number and the section it is in."""
    number = total = 0
    section = None
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") == "code":
            total += 1
            if i <= index:
                number = total
        heading = _heading(cell)
        if heading and i <= index:
            section = heading
    return Position(cell=index, number=number, total=total, section=section)


def stopped_at(nb: Any) -> Position | None:
    """Return where a saved notebook stopped: the cell papermill had marked running, else ``None``.

    A notebook saved just before its runner was killed has one cell with papermill status ``running``.
    """
    for index, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("papermill", {}).get("status") == "running":
            return position(nb, index)
    return None


def add_stop_note(nb: Any, reason: str, where: Position | None) -> Any:
    """Put a Markdown note first in ``nb`` saying why and where it stopped (replacing an earlier note).

    The report renders it above the outputs, so a reader sees that the page ends early and why.
    """
    nb.cells = [c for c in nb.cells if STOP_NOTE_TAG not in c.get("metadata", {}).get("tags", [])]
    at = f" while running {html.escape(str(where))}" if where is not None else ""
    note = nbformat.v4.new_markdown_cell(
        f"**Stopped: {html.escape(reason)}**{at}. The cells after it did not run; the outputs above it are complete."
    )
    note.metadata["tags"] = [STOP_NOTE_TAG]
    nb.cells.insert(0, note)
    return nb


def write_notebook(nb: Any, path: str | Path) -> Path:
    """Write ``nb`` to ``path`` atomically: a temporary file in the same folder renamed over the target."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(nbformat.writes(nb), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_notebook(path: str | Path) -> Any | None:
    """Read the notebook at ``path``; ``None`` when it is missing, empty or not a notebook."""
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception:  # nbformat raises several unrelated types for a broken file
        return None


class _Stopped(Exception):
    """Raised in papermill's loop when a stop was requested before the next cell."""


class _Watch:
    """State shared by the worker thread (papermill) and the main thread (waiting, stopping)."""

    def __init__(self, target: Path, label: str, progress: Progress, stop: StopSignals):
        self.target = target
        self.label = label
        self.progress = progress
        self.stop = stop
        self.nb: Any = None
        self.position: Position | None = None
        self.cell_started = time.monotonic()
        self.last_line = time.monotonic()
        self._section: str | None = None

    def say(self, text: str) -> None:
        self.last_line = time.monotonic()
        self.progress(f"{self.label}: {text}")

    def cell_start(self, nb: Any, index: int) -> None:
        if self.stop.requested:
            raise _Stopped
        self.nb = nb
        if nb.cells[index].get("cell_type") != "code":
            return
        self.position = position(nb, index)
        self.cell_started = time.monotonic()
        if self.position.section and self.position.section != self._section:
            self._section = self.position.section
            self.say(f"§ {self.position.section} (cell {self.position.number} of {self.position.total})")

    def heartbeat(self) -> None:
        now = time.monotonic()
        if self.position is not None and now - self.last_line >= HEARTBEAT_SECONDS:
            minutes = (now - self.cell_started) / 60
            self.say(f"still in {self.position}, {minutes:.1f} min in this cell")


def _manager_class():
    from papermill.engines import NotebookExecutionManager

    class _Manager(NotebookExecutionManager):
        """Papermill's execution state, saving atomically to the watch's target and reporting each cell."""

        def __init__(self, nb: Any, watch: _Watch, **kwargs: Any):
            super().__init__(nb, output_path=None, **kwargs)
            self.watch = watch
            watch.nb = nb

        def save(self, **kwargs: Any) -> None:
            write_notebook(self.nb, self.watch.target)
            self.last_save_time = self.now()

        def cell_start(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
            self.watch.cell_start(self.nb, cell_index or 0)
            super().cell_start(cell, cell_index, **kwargs)

    return _Manager


def _register_engine() -> None:
    from papermill.engines import NBClientEngine, papermill_engines

    manager_class = _manager_class()

    class _Engine(NBClientEngine):
        @classmethod
        def execute_notebook(
            cls,
            nb,
            kernel_name,
            output_path=None,
            progress_bar=False,
            log_output=False,
            autosave_cell_every=30,
            churnlab_watch=None,
            **kwargs,
        ):
            nb_man = manager_class(
                nb, churnlab_watch, progress_bar=False, log_output=log_output, autosave_cell_every=autosave_cell_every
            )
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()
            return nb_man.nb

    papermill_engines.register(_ENGINE, _Engine)


def _signal_kernel(sig: int) -> None:
    """Send ``sig`` to the process group of every live kernel this process started."""
    for manager in list(LocalKernelManager.live):
        pid = manager.kernel_pid
        if pid is None:
            continue
        try:
            os.killpg(os.getpgid(pid), sig)
        except (ProcessLookupError, PermissionError):
            continue


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[-1] if text else ''}".rstrip(": ")


def execute(
    source: str | Path,
    target: str | Path,
    *,
    parameters: Mapping[str, Any],
    cwd: str | Path,
    label: str,
    progress: Progress,
    stop: StopSignals,
) -> Outcome:
    """Execute notebook ``source`` into ``target`` with papermill and return how it ended.

    Parameters
    ----------
    source, target : str or Path
        The notebook to run and its executed copy (saved atomically after every cell).
    parameters : mapping
        Injected by papermill after the ``parameters`` cell.
    cwd : str or Path
        The kernel's working directory.
    label : str
        Prefix of progress lines (``[2/4] 01_explore_patterns``).
    progress : callable
        Receives progress lines (a new section, a long-running cell).
    stop : StopSignals
        The runner's signal handler; a stop request ends the execution as described in the module notes.

    Returns
    -------
    Outcome
        ``error`` is the failing cell's ``ename: evalue`` (papermill's error), a dead kernel, or the stop.
        A stopped notebook's executed copy starts with a note saying where it stopped.
    """
    import papermill

    _register_engine()
    target = Path(target)
    watch = _Watch(target, label, progress, stop)
    failure: list[BaseException] = []

    def work() -> None:
        try:
            papermill.execute_notebook(
                str(source),
                None,
                parameters=dict(parameters),
                engine_name=_ENGINE,
                kernel_name="python3",
                cwd=str(cwd),
                progress_bar=False,
                log_output=False,
                churnlab_watch=watch,
                kernel_manager_class=LocalKernelManager,
            )
        except BaseException as exc:  # handed to the main thread, which decides what it means
            failure.append(exc)

    started = time.monotonic()
    worker = threading.Thread(target=work, name=f"papermill {label}", daemon=True)
    with stop.deferred():
        worker.start()
        _wait(worker, watch, stop)
    seconds = round(time.monotonic() - started, 2)
    stopped = stop.requested
    where = watch.position
    error = _one_line(failure[0]) if failure else None
    if watch.nb is not None:
        if stopped:
            name = signal.Signals(stop.signum).name if stop.signum else "a stop request"
            add_stop_note(watch.nb, f"the run was stopped by {name}", where)
        write_notebook(watch.nb, target)  # the final state, with papermill's error cell when a cell failed
    if stopped:
        error = f"stopped by {signal.Signals(stop.signum).name}" + (f" in {where}" if where else "")
    return Outcome(error=error, stopped=stopped, seconds=seconds, position=where)


def _wait(worker: threading.Thread, watch: _Watch, stop: StopSignals) -> None:
    """Wait for the worker; on a stop request interrupt the kernel, then kill it after the grace period."""
    last_interrupt = None
    killed = False
    while worker.is_alive():
        worker.join(0.2)
        watch.heartbeat()
        if not stop.requested:
            continue
        now = time.monotonic()
        waited = now - (stop.requested_at or now)
        if not killed and (waited >= STOP_GRACE_SECONDS or stop.count > 1):
            killed = True
            _signal_kernel(signal.SIGKILL)
        elif not killed and (last_interrupt is None or now - last_interrupt >= 1.0):
            # again each second: an interrupt that lands between two cells finds an idle kernel, which ignores it
            last_interrupt = now
            _signal_kernel(signal.SIGINT)
        elif killed and waited >= STOP_GRACE_SECONDS + 15:
            return  # papermill did not notice its kernel died: stop waiting (the thread is a daemon)
