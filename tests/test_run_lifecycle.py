"""Runs that end cleanly however they are stopped: SIGTERM, SIGKILL, a notebook that raises, a kernel that dies.

Each test runs a tiny notebook (``conftest.write_notebook``) whose slow cell sleeps in short steps, so a
signal lands while a cell is running; the runner runs in its own process where a signal is involved.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from click.testing import CliRunner
from conftest import write_notebook

from churnlab.cli import main
from churnlab.execution import STOP_NOTE_TAG
from churnlab.execution import write_notebook as write_atomically
from churnlab.record import read_record

SHOP = "data: {source: files, config: data/samples/shop.yaml}\n"


def _slow_notebook(project: Path) -> Path:
    """Cells: parameters (1 of 5), papermill's injected parameters (2), log + print (3), 60 s sleep (4), log (5)."""
    path = write_notebook(
        project / "notebooks" / "slow.ipynb",
        'data_dir = ""',
        "from churnlab import tracking\ntracking.log_metrics({'before': 1})\nprint('first cell done')",
        "import time\nfor _ in range(240):\n    time.sleep(0.25)",
        "tracking.log_metrics({'after': 1})",
    )
    nb = nbformat.read(str(path), as_version=4)
    nb.cells.insert(3, nbformat.v4.new_markdown_cell("## The slow part"))
    nbformat.write(nb, str(path))
    write_notebook(project / "notebooks" / "after.ipynb", 'data_dir = ""', "print('never runs')")
    return path


def _spec(project: Path, name: str, notebooks: str) -> Path:
    path = project / "experiments" / f"{name}.yaml"
    path.write_text(f"name: {name}\n{SHOP}notebooks: [{notebooks}]\n", encoding="utf-8")
    return path


def _start(spec: Path) -> tuple[subprocess.Popen, list[str]]:
    """Start ``churnlab run`` and read its progress until the slow cell is running."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "churnlab.cli", "run", str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "§ The slow part" in line:
            break
    assert lines and "§ The slow part (cell 4 of 5)" in lines[-1], "".join(lines)
    time.sleep(1.0)  # let the kernel start the slow cell
    return proc, lines


def _only_folder(project: Path) -> Path:
    (folder,) = [p for p in (project / "runs").iterdir() if p.is_dir()]
    return folder


def _mlflow_run(run_id: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=os.environ["MLFLOW_TRACKING_URI"]).get_run(run_id)


def _outputs(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


@pytest.mark.slow
def test_sigterm_marks_the_runs_killed_keeps_the_partial_notebook_and_exits_143(project):
    _slow_notebook(project)
    proc, lines = _start(_spec(project, "term", "notebooks/slow.ipynb, notebooks/after.ipynb"))
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=60)
    output = "".join(lines) + rest
    assert proc.returncode == 143, output  # 128 + SIGTERM (15), as documented
    assert "stopped by SIGTERM in cell 4 of 5 (section “The slow part”)" in output
    assert "Traceback" not in output and "ERROR" not in output
    folder = _only_folder(project)
    record = read_record(folder)
    slow, after = record.notebooks
    assert record.status == "KILLED" and record.finished is not None
    assert (slow.status, after.status) == ("KILLED", "SKIPPED")
    assert slow.metrics == {"before": 1.0}  # logged by cell 3, before the stop
    for run_id in (record.parent_run_id, slow.run_id):
        run = _mlflow_run(run_id)
        assert run.info.status == "KILLED" and run.info.end_time is not None
    executed = nbformat.read(str(folder / slow.executed), as_version=4)
    assert "first cell done" in _outputs(executed)
    assert STOP_NOTE_TAG in executed.cells[0].metadata["tags"]
    page = (folder / slow.report).read_text(encoding="utf-8")
    assert "Stopped: the run was stopped by SIGTERM" in page and "cell 4 of 5" in page
    assert "ERROR" not in (folder / "run.log").read_text(encoding="utf-8")


@pytest.mark.slow
def test_sigkill_leaves_a_readable_notebook_and_list_then_marks_the_run_killed(project):
    _slow_notebook(project)
    proc, _ = _start(_spec(project, "kill", "notebooks/slow.ipynb, notebooks/after.ipynb"))
    kernels = psutil.Process(proc.pid).children(recursive=True)
    assert kernels
    proc.kill()
    proc.communicate(timeout=30)
    folder = _only_folder(project)
    assert read_record(folder).status == "RUNNING"  # nothing could record the kill
    # the kernel notices its parent is gone (ipykernel's parent poller) and exits: nothing is left running
    _, alive = psutil.wait_procs(kernels, timeout=20)
    assert not alive
    slow = read_record(folder).notebooks[0]
    executed = folder / slow.executed
    assert executed.stat().st_size > 0
    assert "first cell done" in _outputs(nbformat.read(str(executed), as_version=4))

    listed = CliRunner().invoke(main, ["list"])
    assert listed.exit_code == 0 and " KILLED " in listed.output
    record = read_record(folder)
    slow, after = record.notebooks
    assert record.status == "KILLED" and (slow.status, after.status) == ("KILLED", "SKIPPED")
    assert f"pid {proc.pid}" in slow.error and "killed or crashed" in slow.error
    assert slow.metrics == {"before": 1.0}
    for run_id in (record.parent_run_id, slow.run_id):
        run = _mlflow_run(run_id)
        assert run.info.status == "KILLED" and run.info.end_time is not None
    page = (folder / slow.report).read_text(encoding="utf-8")
    assert "The runner process was lost" in page and "cell 4 of 5" in page
    assert "KILLED" in (project / "runs" / "index.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_a_kernel_that_dies_fails_the_run_and_keeps_what_ran_before(project):
    write_notebook(
        project / "notebooks" / "dies.ipynb",
        'data_dir = ""',
        "from churnlab import tracking\ntracking.log_metrics({'before': 1})\nprint('first cell done')",
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
        "tracking.log_metrics({'after': 1})",
    )
    write_notebook(project / "notebooks" / "after.ipynb", 'data_dir = ""', "print('never runs')")
    result = CliRunner().invoke(main, ["run", str(_spec(project, "dies", "notebooks/dies.ipynb, notebooks/after.ipynb"))])
    assert result.exit_code == 1, result.output
    record = read_record(Path(result.output.strip().splitlines()[-1].split(" -> ")[-1]))
    dies, after = record.notebooks
    assert record.status == "FAILED" and (dies.status, after.status) == ("FAILED", "SKIPPED")
    assert "DeadKernelError" in dies.error
    executed = nbformat.read(str(Path(record.folder) / dies.executed), as_version=4)
    assert "first cell done" in _outputs(executed)
    assert (Path(record.folder) / dies.report).is_file()
    assert _mlflow_run(dies.run_id).info.status == "FAILED"
    assert _mlflow_run(record.parent_run_id).info.status == "FAILED"
    assert dies.metrics == {"before": 1.0}


@pytest.mark.slow
def test_a_notebook_finds_its_run_folder_in_churnlab_run_dir(project):
    write_notebook(
        project / "notebooks" / "writes.ipynb",
        'data_dir = ""',
        "import os\nfrom pathlib import Path\nfrom churnlab.notebook import output_path\n"
        "Path(os.environ['CHURNLAB_RUN_DIR'], 'by_env.txt').write_text('x')\n"
        "output_path('by_helper.txt').write_text('y')",
    )
    spec = project / "experiments" / "writes.yaml"
    spec.write_text(f"name: writes\n{SHOP}notebooks: [notebooks/writes.ipynb]\nkey_metrics: []\n")
    result = CliRunner().invoke(main, ["run", str(spec)])
    assert result.exit_code == 0, result.output
    folder = Path(result.output.strip().splitlines()[-1].split(" -> ")[-1])
    assert (folder / "by_env.txt").read_text() == "x" and (folder / "by_helper.txt").read_text() == "y"
    assert f"index of every run: {project / 'runs' / 'index.html'}" in result.output


def test_outside_a_run_notebook_files_go_to_the_git_ignored_scratch_folder(project, monkeypatch):
    from churnlab.config import RUN_DIR_ENV
    from churnlab.notebook import output_path

    monkeypatch.delenv(RUN_DIR_ENV, raising=False)
    assert output_path("at_risk.csv") == project / "scratch" / "at_risk.csv"
    ignored = subprocess.run(["git", "check-ignore", "-q", "scratch/at_risk.csv"], cwd=Path(__file__).parents[1])
    assert ignored.returncode == 0


def test_an_interrupted_save_keeps_the_last_good_copy_of_the_executed_notebook(tmp_path, monkeypatch):
    target = tmp_path / "00_x.ipynb"
    first = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("first")])
    write_atomically(first, target)

    def killed_mid_save(src, dst):
        raise KeyboardInterrupt  # the moment between writing the new copy and putting it in place

    monkeypatch.setattr(os, "replace", killed_mid_save)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("second")]), target)
    assert nbformat.read(str(target), as_version=4).cells[0].source == "first"


@pytest.mark.slow
def test_a_kernel_shutting_down_normally_is_not_sent_an_interrupt(monkeypatch):
    """jupyter_client interrupts before every shutdown; an idle ipykernel logs that as ``ERROR | KeyboardInterrupt``."""
    from churnlab.execution import LocalKernelManager

    sent: list[tuple[int, bool]] = []

    class Recording(LocalKernelManager):
        async def _async_signal_kernel(self, signum):
            sent.append((signum, self.shutting_down))
            await super()._async_signal_kernel(signum)

    async def scenario():
        manager = Recording(kernel_name="python3")
        await manager.start_kernel()
        try:
            await manager.interrupt_kernel()  # an interrupt asked for outside a shutdown still goes through
        finally:
            await manager.shutdown_kernel()

    asyncio.run(scenario())
    assert sent == [(signal.SIGINT, False)]


def test_a_zmq_teardown_record_is_a_warning_and_other_tornado_errors_stay_errors(caplog):
    import logging

    import churnlab.execution  # noqa: F401 - installs the filter

    log = logging.getLogger("tornado.general")
    with caplog.at_level(logging.DEBUG, logger="tornado.general"):
        log.error("Uncaught exception in ZMQStream callback")
        log.error("something else broke")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "Uncaught exception in ZMQStream callback"), ("ERROR", "something else broke")]
