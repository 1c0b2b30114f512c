"""The tracking store location, the logging helpers with and without a run, and provenance tags."""

from __future__ import annotations

import fcntl
import re
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from conftest import REPO

from churnlab import tracking

matplotlib.use("Agg")


def test_the_default_store_is_an_absolute_sqlite_file_in_the_project_root_whatever_the_cwd(
    project, monkeypatch, tmp_path
):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert tracking.tracking_uri() == f"sqlite:///{project.resolve() / 'mlflow.db'}"
    assert tracking.artifact_location() == (project.resolve() / "mlartifacts").as_uri()


def test_mlflow_tracking_uri_overrides_the_default(project, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert tracking.tracking_uri() == "http://127.0.0.1:5999"
    assert tracking.artifact_location() is None  # a server decides where artifacts go


def test_experiments_are_created_once_with_an_explicit_artifact_location(project):
    first = tracking.experiment_id("exp")
    assert tracking.experiment_id("exp") == first
    location = tracking.client().get_experiment(first).artifact_location
    assert location == (project.resolve() / "mlartifacts").as_uri()


def test_without_a_run_the_helpers_log_nothing_say_so_once_and_keep_values_in_memory(project, capsys):
    tracking._SAID_NO_RUN = False
    assert tracking.active_run_id() is None
    assert tracking.log_metrics({"auc": 0.8, "n": 3}) == {"auc": 0.8, "n": 3.0}
    tracking.log_params({"model": "xgboost", "depths": [3, 6]})
    tracking.log_table(pd.DataFrame({"a": [1]}), "t.csv")
    out = capsys.readouterr().out
    assert out.count("no MLflow run") == 1
    recorded = tracking.recorded()
    assert recorded["metrics"]["auc"] == 0.8
    assert recorded["params"]["depths"] == "[3, 6]"
    assert recorded["artifacts"]["t.csv"] == "table"
    assert not (project / "mlflow.db").exists()


def test_with_mlflow_run_id_the_helpers_log_to_that_run_and_never_end_it(project, monkeypatch, tmp_path):
    import matplotlib.pyplot as plt

    client = tracking.client()
    run = client.create_run(tracking.experiment_id("exp"))
    monkeypatch.setenv("MLFLOW_RUN_ID", run.info.run_id)
    assert tracking.active_run_id() == run.info.run_id
    tracking.log_metrics({"auc": 0.75})
    tracking.log_params({"seed": 3, "features": ["a", "b"]})
    tracking.log_params({"seed": 3})  # the same value again is not an error
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    tracking.log_figure(ax, "figures/line.png")
    tracking.log_table(pd.DataFrame({"x": [1, 2]}, index=pd.Index(["a", "b"], name="k")), "tables/x.csv")
    note = tmp_path / "note.txt"
    note.write_text("hello")
    tracking.log_artifact(note)
    got = client.get_run(run.info.run_id)
    assert got.data.metrics == {"auc": 0.75}
    assert got.data.params == {"seed": "3", "features": '["a", "b"]'}
    assert got.info.status == "RUNNING"
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"figures", "tables", "note.txt"}
    table = Path(client.download_artifacts(run.info.run_id, "tables/x.csv", str(tmp_path)))
    assert table.read_text().splitlines() == ["k,x", "a,1", "b,2"]


def test_a_metric_that_is_not_a_number_is_rejected_by_name(project):
    with pytest.raises(TypeError, match="metric 'auc': expected a number, got str"):
        tracking.log_metrics({"auc": "high"})


def test_the_store_lock_excludes_a_second_holder(project):
    lock = project / "mlflow.db.lock"
    with tracking.store_lock():
        with open(lock, "a+") as other, pytest.raises(BlockingIOError):
            fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(lock, "a+") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # released after the block


def test_provenance_records_git_commit_dirty_flag_and_package_versions():
    tags = tracking.provenance(REPO)
    assert re.fullmatch(r"[0-9a-f]{40}", tags["git.commit"])
    assert tags["git.dirty"] in ("true", "false")
    assert tags["version.pandas"] == pd.__version__
    assert tags["churnlab.version"] == tags["version.churnlab"]


def test_provenance_outside_a_repository_says_unknown(tmp_path):
    tags = tracking.provenance(tmp_path)
    assert tags["git.commit"] == "unknown" and tags["git.dirty"] == "unknown"


def test_experiments_are_created_as_classic_ml_so_the_mlflow_3_ui_opens_on_the_runs_table(project):
    from churnlab import tracking

    found = tracking.client().get_experiment(tracking.experiment_id("classic"))
    # mlflow's UI reads tag mlflow.experimentKind; "custom_model_development" is its classic-ML kind
    assert found.tags["mlflow.experimentKind"] == "custom_model_development"


def test_the_orchestrator_logs_to_a_named_run_without_touching_the_notebook_record(project):
    from churnlab import tracking

    before = tracking.recorded()
    run_id = tracking.create_run(tracking.experiment_id("named"), "parent", {"k": "v"})
    tracking.log_params({"notebooks": ["00_a", "01_b"], "seed": 1}, run_id=run_id)
    tracking.log_metrics({"00_a.auc": 0.8}, run_id=run_id)
    run = tracking.client().get_run(run_id)
    assert run.data.params == {"notebooks": '["00_a", "01_b"]', "seed": "1"}
    assert tracking.run_metrics(run_id) == {"00_a.auc": 0.8}
    assert run.info.status == "RUNNING"
    tracking.end_run(run_id, "KILLED")
    assert tracking.run_status(run_id) == "KILLED"
    assert tracking.recorded() == before  # a notebook's in-memory record is its own current run's only


def test_creating_a_fresh_store_prints_no_mlflow_info_lines(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'fresh.db'}", "CHURNLAB_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", "from churnlab import tracking; tracking.experiment_id('x')"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Creating initial MLflow database tables" not in done.stderr and " INFO " not in done.stderr
