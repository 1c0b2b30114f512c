"""The experiment commands: help, exit codes, list, compare, report, ui (no notebook is executed here)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import nbformat
import pytest
from click.testing import CliRunner

from churnlab.cli import main
from churnlab.record import NotebookRecord, RunRecord, read_record, write_record

COMMANDS = [[], ["run"], ["list"], ["report"], ["compare"], ["ui"], ["data"], ["data", "describe"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "main")
def test_every_command_has_help(command):
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_run_help_documents_the_exit_codes():
    text = CliRunner().invoke(main, ["run", "--help"]).output
    assert "0 all notebooks finished; 1 a notebook failed" in " ".join(text.split())
    assert "2 bad spec or input" in " ".join(text.split())


def test_a_bad_spec_exits_2_with_one_error_line(project, logging_notebook):
    spec = project / "experiments" / "bad.yaml"
    spec.write_text("name: bad\ndata: {source: telco}\nnotebooks: [notebooks/logging.ipynb]\nowner: me\n")
    result = CliRunner().invoke(main, ["run", str(spec)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: {spec}: top level: unknown key(s) ['owner']; allowed: "
        "['name', 'description', 'data', 'parameters', 'notebooks', 'key_metrics']"
    ]
    assert not (project / "runs").exists()


def test_a_malformed_override_exits_2(project, logging_notebook):
    spec = project / "experiments" / "ok.yaml"
    spec.write_text("name: ok\ndata: {source: telco}\nnotebooks: [notebooks/logging.ipynb]\n")
    result = CliRunner().invoke(main, ["run", str(spec), "-p", "seed"])
    assert result.exit_code == 2 and "expected key=value" in result.output


def test_run_check_validates_and_prints_the_plan_without_running(project, logging_notebook):
    spec = project / "experiments" / "ok.yaml"
    spec.write_text("name: ok\ndata: {source: telco}\nparameters: {seed: 4}\nnotebooks: [notebooks/logging.ipynb]\n")
    result = CliRunner().invoke(main, ["run", str(spec), "--check", "-p", "scale=0.5"])
    assert result.exit_code == 0, result.output
    assert "spec ok: ok; data telco" in result.output
    assert "logging: {'data_dir': '<data_dir>', 'seed': 4, 'scale': 0.5}" in result.output
    assert not (project / "runs").exists()


def _run(project, name, started, *, seed, auc, status="FINISHED"):
    folder = project / "runs" / name
    folder.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# x")]), str(folder / "00_m.ipynb"))
    nb = NotebookRecord(
        name="00_m",
        source="notebooks/00_m.ipynb",
        status=status,
        executed="00_m.ipynb",
        parameters={"data_dir": "/d", "seed": seed},
        metrics={"auc": auc, "rows": 100.0},
    )
    write_record(
        RunRecord(
            name=name,
            spec_name="demo",
            spec_path="",
            started=started,
            status=status,
            data_source="telco",
            fingerprint="abc",
            parameters={"seed": seed},
            notebooks=(nb,),
            folder=str(folder),
        )
    )


def test_list_shows_name_date_status_and_key_metrics(project):
    assert "no runs yet" in CliRunner().invoke(main, ["list"]).output
    _run(project, "demo_1", "2026-01-01T10:00:00", seed=0, auc=0.81)
    _run(project, "demo_2", "2026-01-02T10:00:00", seed=1, auc=0.83, status="FAILED")
    lines = CliRunner().invoke(main, ["list"]).output.strip().splitlines()
    assert lines == [
        "demo_1  2026-01-01 10:00  FINISHED  auc=0.81  rows=100",
        "demo_2  2026-01-02 10:00  FAILED    auc=0.83  rows=100",
    ]


def test_compare_prints_only_the_parameters_and_metrics_that_differ(project):
    _run(project, "demo_1", "2026-01-01T10:00:00", seed=0, auc=0.81)
    _run(project, "demo_2", "2026-01-02T10:00:00", seed=1, auc=0.83)
    result = CliRunner().invoke(main, ["compare", "demo_1", "demo_2"])
    assert result.exit_code == 0
    assert "  00_m.seed: 0 -> 1" in result.output
    assert "  00_m.auc: 0.81 -> 0.83  (+0.02)" in result.output
    assert "rows" not in result.output and "data_dir" not in result.output


def test_compare_with_an_unknown_run_exits_2_naming_it(project):
    _run(project, "demo_1", "2026-01-01T10:00:00", seed=0, auc=0.81)
    result = CliRunner().invoke(main, ["compare", "demo_1", "nope"])
    assert result.exit_code == 2 and "run 'nope' not found" in result.output


def test_report_rerenders_a_run_and_the_index(project):
    _run(project, "demo_1", "2026-01-01T10:00:00", seed=0, auc=0.81)
    result = CliRunner().invoke(main, ["report", "demo"])
    assert result.exit_code == 0, result.output
    assert (project / "runs" / "demo_1" / "00_m.html").is_file()
    assert ">0.810<" in (project / "runs" / "demo_1" / "00_m.html").read_text()  # the logged auc=0.81, as an AUC
    assert (project / "runs" / "index.html").is_file()


def test_ui_serves_the_project_store_on_localhost(project, monkeypatch):
    import churnlab.lifecycle

    called = {}

    def fake_serve(command, env):
        called["command"] = command
        return 0

    monkeypatch.setattr(churnlab.lifecycle, "serve", fake_serve)
    result = CliRunner().invoke(main, ["ui", "--port", "5055"])
    assert result.exit_code == 0
    command = called["command"]
    assert command[1:4] == ["-m", "mlflow", "ui"]
    assert command[command.index("--backend-store-uri") + 1] == f"sqlite:///{project / 'mlflow.db'}"
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "5055"


def test_ui_marks_the_projects_existing_experiments_as_classic_ml_so_the_ui_opens_on_runs(project, monkeypatch):
    import churnlab.lifecycle
    from churnlab import tracking

    old = tracking.client().create_experiment("made_before_the_tag")  # as experiments made by older churnlab
    assert "mlflow.experimentKind" not in tracking.client().get_experiment(old).tags
    monkeypatch.setattr(churnlab.lifecycle, "serve", lambda command, env: 0)
    assert CliRunner().invoke(main, ["ui"]).exit_code == 0
    assert tracking.client().get_experiment(old).tags["mlflow.experimentKind"] == "custom_model_development"
    assert tracking.client().get_experiment_by_name("Default").tags["mlflow.experimentKind"] == "custom_model_development"


# A stand-in for ``mlflow ui``: starts a worker that ignores SIGTERM (as mlflow's job consumers did for
# over 8 s when tried here), prints both pids, and waits.
FAKE_SERVER = """
import signal, subprocess, sys, time
worker = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"])
print(worker.pid, flush=True)
time.sleep(300)
"""


@pytest.mark.slow
def test_terminating_the_ui_stops_the_whole_server_process_group_workers_included(tmp_path):
    import signal
    import time

    import psutil

    launcher = tmp_path / "launch.py"
    launcher.write_text(
        "import sys\nfrom churnlab import lifecycle\n"
        "lifecycle.SERVER_GRACE_SECONDS = 1.0\n"
        f"sys.exit(lifecycle.serve([sys.executable, '-c', {FAKE_SERVER!r}]))\n"
    )
    ui = subprocess.Popen([sys.executable, str(launcher)], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    worker = int(ui.stdout.readline())
    server = psutil.Process(ui.pid).children()[0].pid
    assert psutil.pid_exists(worker) and psutil.pid_exists(server)
    ui.send_signal(signal.SIGTERM)
    assert ui.wait(timeout=30) == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (psutil.pid_exists(worker) or psutil.pid_exists(server)):
        time.sleep(0.1)
    gone = [not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE for pid in (server, worker)]
    assert gone == [True, True]  # the worker ignored SIGTERM: the group's SIGKILL after the grace period got it


def test_report_on_a_run_whose_notebook_is_empty_is_one_error_line_and_exit_2(project):
    _run(project, "demo_1", "2026-01-01T10:00:00", seed=0, auc=0.81)
    (project / "runs" / "demo_1" / "00_m.ipynb").write_text("")  # what a SIGKILL mid-write left before atomic saves
    result = CliRunner().invoke(main, ["report", "demo_1"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: run demo_1: executed notebook 00_m.ipynb (0 bytes)")
    assert "Traceback" not in result.output


def test_list_marks_a_running_run_whose_runner_process_is_gone_as_killed(project):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid now names no process
    _run(project, "demo_1", "2026-01-01T10:00:00", seed=0, auc=0.81, status="RUNNING")
    _run(project, "demo_2", "2026-01-02T10:00:00", seed=0, auc=0.82, status="RUNNING")
    for name, pid in (("demo_1", gone.pid), ("demo_2", os.getpid())):
        path = project / "runs" / name / "run.json"
        raw = json.loads(path.read_text())
        raw.update(pid=pid, host=socket.gethostname())
        path.write_text(json.dumps(raw))
    lines = CliRunner().invoke(main, ["list"]).output.strip().splitlines()
    assert lines[0].split()[3] == "KILLED"  # demo_1: its runner is gone
    assert lines[1].split()[3] == "RUNNING"  # demo_2: its runner (this process) is alive
    killed = read_record(project / "runs" / "demo_1")
    assert killed.notebooks[0].status == "KILLED" and "killed or crashed" in killed.notebooks[0].error
    assert (project / "runs" / "demo_1" / "00_m.html").is_file()  # its partial notebook got a report
