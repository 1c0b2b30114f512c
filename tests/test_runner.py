"""Spec validation, data caching and the runner end to end (papermill + MLflow + reports)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from conftest import LOGGING_CELLS, LOGGING_PARAMETERS, REPO, write_notebook

from churnlab.cli import main
from churnlab.errors import SpecError
from churnlab.record import read_record
from churnlab.spec import DataSpec, declared_parameters, load_spec, parse_spec

# --- spec validation (fast) -------------------------------------------------------------------------


def _spec(project: Path, text: str) -> Path:
    path = project / "experiments" / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
name: t
data: {source: files, config: data/samples/shop.yaml}
parameters: {seed: 1}
notebooks:
  - path: notebooks/logging.ipynb
    parameters: {scale: 2.5}
"""


def test_a_valid_spec_resolves_paths_and_gives_each_notebook_only_the_parameters_it_declares(project, logging_notebook):
    spec = load_spec(_spec(project, GOOD))
    assert spec.name == "t"
    assert spec.data.settings["config"] == str((project / "data/samples/shop.yaml").resolve())
    nb = spec.notebooks[0]
    assert nb.path == logging_notebook.resolve()
    assert spec.parameters_for(nb, "/d") == {"data_dir": "/d", "seed": 1, "scale": 2.5}


def test_the_parameters_cell_is_parsed_with_annotations_and_literal_defaults(logging_notebook):
    declared = declared_parameters(logging_notebook)
    assert list(declared) == ["data_dir", "seed", "scale", "label"]
    assert declared["scale"].annotation == "float" and declared["scale"].default == 1.0
    assert declared["label"].annotation == "Optional[str]"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("name: t", "name: t\nowner: me"), r"unknown key\(s\) \['owner'\]"),
        (("source: files, config", "source: files, rows: 3, config"), r"data: unknown key\(s\) \['rows'\]"),
        (("source: files", "source: parquet"), r"data.source: expected one of"),
        (("data/samples/shop.yaml", "data/samples/nope.yaml"), r"data.config: files config 'data/samples/nope.yaml'"),
        (("notebooks/logging.ipynb", "notebooks/missing.ipynb"), r"notebook 'notebooks/missing.ipynb' not found"),
        (("{scale: 2.5}", "{scale: 2.5, alpha: 1}"), r"'alpha' is not declared in the parameters cell of logging"),
        (("{seed: 1}", "{seed: 1, horizon: 30}"), r"'horizon' is not declared in the parameters cell of any"),
        (("{seed: 1}", "{seed: one}"), r"parameter 'seed' expects int .* got str 'one'"),
        (("{scale: 2.5}", "{scale: yes}"), r"parameter 'scale' expects int or float .* got bool"),
        (("{scale: 2.5}", "{data_dir: /x}"), r"'data_dir' is set by the runner"),
        (("name: t", "name: 't t'"), r"name: expected letters"),
        (
            ("notebooks:\n  - path: notebooks/logging.ipynb\n    parameters: {scale: 2.5}", "notebooks: []"),
            r"notebooks: expected a non-empty list",
        ),
    ],
)
def test_each_kind_of_spec_mistake_raises_one_line_naming_the_key(project, logging_notebook, change, message):
    path = _spec(project, GOOD.replace(*change))
    with pytest.raises(SpecError, match=message) as caught:
        load_spec(path)
    assert "\n" not in str(caught.value)


def test_a_spec_that_is_not_yaml_or_misses_a_required_key_is_rejected(project, logging_notebook):
    with pytest.raises(SpecError, match="not valid YAML at line"):
        load_spec(_spec(project, "name: [unclosed\n"))
    with pytest.raises(SpecError, match="data: required key is missing"):
        load_spec(_spec(project, "name: t\nnotebooks: [notebooks/logging.ipynb]\n"))


def test_overrides_are_typed_by_the_parameter_they_set(project, logging_notebook):
    write_notebook(project / "notebooks" / "text.ipynb", 'data_dir = ""\ncode = "a"', "print(code)")
    spec_text = GOOD.replace(
        "    parameters: {scale: 2.5}", "    parameters: {scale: 2.5}\n  - path: notebooks/text.ipynb"
    )
    spec = load_spec(_spec(project, spec_text), {"seed": "7", "code": "0012", "data.config": "data/samples/shop.yaml"})
    # seed is declared ``seed = 0`` (an int): "7" becomes 7; code is declared as text: "0012" stays text
    # (papermill's -p would have turned it into 12, FIELD_NOTES).
    assert spec.parameters == {"seed": 7, "code": "0012"}
    with pytest.raises(SpecError, match="parameter 'seed' expects int"):
        load_spec(_spec(project, GOOD), {"seed": "seven"})


def test_the_data_key_depends_on_source_and_settings_only():
    a = DataSpec("synthetic", {"customers": 100, "seed": 1})
    assert a.key == DataSpec("synthetic", {"seed": 1, "customers": 100}).key
    assert a.key != DataSpec("synthetic", {"customers": 100, "seed": 2}).key
    assert a.key.startswith("synthetic-")


def test_parse_spec_rejects_a_non_mapping():
    with pytest.raises(SpecError, match="expected a mapping"):
        parse_spec(["not", "a", "mapping"])


def test_the_committed_specs_validate_and_keep_their_data_settings_as_written(monkeypatch):
    import yaml

    monkeypatch.setenv("CHURNLAB_HOME", str(REPO))
    specs = [p for p in sorted((REPO / "experiments").glob("*.yaml")) if isinstance(yaml.safe_load(p.read_text()), dict)]
    assert {p.name for p in specs} >= {"demo.yaml", "tiny.yaml", "synthetic_small.yaml", "retention_offers.yaml"}
    for path in specs:
        spec = load_spec(path)
        assert spec.notebooks, path.name
        written = {k: v for k, v in yaml.safe_load(path.read_text())["data"].items() if k != "source"}
        # the registry fills in no defaults: the cache key and the recorded settings name only what the spec says
        assert set(spec.data.settings) == set(written), path.name


# --- end to end (papermill) -----------------------------------------------------------------------


def _mlflow_client():
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=os.environ["MLFLOW_TRACKING_URI"])


@pytest.fixture(scope="module")
def two_runs(module_project):
    """The same spec run twice through the CLI in one isolated project: ((exit, output, record), ...)."""
    project = module_project
    write_notebook(
        project / "notebooks" / "logging.ipynb", "from typing import Optional\n" + LOGGING_PARAMETERS, *LOGGING_CELLS
    )
    spec = project / "experiments" / "spec.yaml"
    spec.write_text(GOOD + "key_metrics: [scaled]\n", encoding="utf-8")
    results = []
    for _ in range(2):
        result = CliRunner().invoke(main, ["run", str(spec), "-p", "label=demo"])
        folder = Path(result.output.strip().splitlines()[-1].split(" -> ")[-1])
        results.append((result.exit_code, result.output, read_record(folder)))
    return results


@pytest.mark.slow
def test_a_run_records_parent_and_child_runs_with_parameters_metrics_and_artifacts(two_runs):
    code, output, record = two_runs[0]
    assert code == 0, output
    assert record.status == "FINISHED"
    client = _mlflow_client()
    parent = client.get_run(record.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.params["seed"] == "1" and parent.data.params["label"] == "demo"
    assert parent.data.params["data.source"] == "files"
    assert parent.data.tags["churnlab.data.fingerprint"] == record.fingerprint
    assert {"git.commit", "git.dirty", "churnlab.version", "version.mlflow"} <= set(parent.data.tags)
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} >= {"spec.yaml", "run.json", "reports"}
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert len(children) == 1
    child = children[0]
    assert child.info.status == "FINISHED"
    assert child.info.run_id == record.notebooks[0].run_id
    # The sample shop has 6 customers (data/samples/customers.csv); the spec sets scale 2.5 -> 15.
    assert child.data.metrics == {"customers": 6.0, "scaled": 15.0}
    assert child.data.params["scale"] == "2.5" and child.data.params["dataset"] == "sample_shop"
    assert child.data.params["data_dir"] == record.data_dir
    assert {a.path for a in client.list_artifacts(child.info.run_id)} == {
        "00_logging.ipynb",
        "00_logging.html",
        "line.png",
    }
    assert parent.data.metrics == {"00_logging.customers": 6.0, "00_logging.scaled": 15.0}


@pytest.mark.slow
def test_a_run_leaves_executed_notebook_report_log_and_index_in_its_folder(two_runs):
    _, output, record = two_runs[0]
    folder = Path(record.folder)
    assert {"00_logging.ipynb", "00_logging.html", "run.json", "run.log", "spec.yaml", "spec.resolved.yaml"} <= {
        p.name for p in folder.iterdir()
    }
    assert "[1/1] 00_logging: ok" in (folder / "run.log").read_text()
    assert "[1/1] 00_logging: running" in output
    # the ok line shows the spec's key metrics, labelled (key_metrics: [scaled]; 6 customers x scale 2.5 = 15), no others
    (ok,) = [line for line in output.splitlines() if "00_logging: ok in" in line]
    assert ok.endswith(" Scaled 15") and "ustomers" not in ok
    assert f"index of every run: {folder.parent / 'index.html'}" in output
    page = (folder / "00_logging.html").read_text()
    assert '<script src="http' not in page
    assert "scale" in page and "2.5" in page and record.fingerprint in page
    index = (folder.parent / "index.html").read_text()
    assert f"{folder.name}/00_logging.html" in index
    assert Path(record.data_dir).parent == folder.parent.parent / "data" / "generated"
    assert json.loads((Path(record.data_dir) / "cache.json").read_text())["fingerprint"] == record.fingerprint


@pytest.mark.slow
def test_running_the_same_spec_twice_logs_identical_metrics_and_reuses_the_data(two_runs):
    (_, _, first), (code, output, second) = two_runs
    assert code == 0
    assert first.name != second.name
    assert first.metrics == second.metrics == {"00_logging.customers": 6.0, "00_logging.scaled": 15.0}
    assert first.fingerprint == second.fingerprint
    assert "from cache" in output
    compared = CliRunner().invoke(main, ["compare", first.name, second.name])
    assert compared.exit_code == 0
    assert "parameters: identical" in compared.output and "metrics: identical (2)" in compared.output


@pytest.mark.slow
def test_a_failing_notebook_marks_runs_failed_keeps_its_traceback_and_skips_the_rest(project, logging_notebook):
    write_notebook(
        project / "notebooks" / "fails.ipynb",
        'data_dir = ""',
        "from churnlab import tracking\ntracking.log_metrics({'before': 1})",
        "raise ValueError('boom on purpose')",
        "tracking.log_metrics({'after': 1})",
    )
    spec = _spec(
        project,
        "name: broken\ndata: {source: files, config: data/samples/shop.yaml}\n"
        "notebooks: [notebooks/fails.ipynb, notebooks/logging.ipynb]\n",
    )
    result = CliRunner().invoke(main, ["run", str(spec)])
    assert result.exit_code == 1, result.output
    record = read_record(Path(result.output.strip().splitlines()[-1].split(" -> ")[-1]))
    failed, skipped = record.notebooks
    assert record.status == "FAILED"
    assert (failed.status, skipped.status) == ("FAILED", "SKIPPED")
    assert "ValueError: boom on purpose" in failed.error
    assert skipped.run_id is None and skipped.executed is None
    executed = nbformat.read(str(Path(record.folder) / failed.executed), as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors and errors[0].evalue == "boom on purpose"
    page = (Path(record.folder) / failed.report).read_text()
    assert "raise ValueError(&#x27;boom on purpose&#x27;)" in page and "FAILED" in page
    client = _mlflow_client()
    assert client.get_run(record.parent_run_id).info.status == "FAILED"
    child = client.get_run(failed.run_id)
    assert child.info.status == "FAILED"
    assert child.data.metrics == {"before": 1.0}
    assert "01_logging: skipped" in result.output


@pytest.mark.slow
def test_two_runs_started_together_on_a_fresh_store_both_succeed(tmp_path):
    project = tmp_path / "fresh"
    env = {**os.environ, "CHURNLAB_HOME": str(project), "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}"}
    env.pop("MLFLOW_RUN_ID", None)
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
    write_notebook(
        project / "notebooks" / "quick.ipynb",
        'data_dir = ""\nseed = 0',
        "from churnlab import tracking\ntracking.log_metrics({'seed': seed})",
    )
    (project / "spec.yaml").write_text(
        f"name: together\ndata: {{source: files, config: {REPO / 'data/samples/shop.yaml'}}}\n"
        "notebooks: [notebooks/quick.ipynb]\n"
    )
    command = [sys.executable, "-m", "churnlab.cli", "run", "-q", str(project / "spec.yaml")]
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert not any("without encryption" in o for o in outputs), outputs  # kernels talk over local IPC, not TCP
    # a successful run's log holds no ERROR lines (an interrupted kernel shutdown logged one) and no MLflow chatter
    for o in outputs:  # the whole output on failure (pytest cuts long reprs)
        assert "ERROR" not in o and "Creating initial MLflow database tables" not in o, "\n" + o
    with sqlite3.connect(project / "mlflow.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        statuses = db.execute("SELECT status FROM runs").fetchall()
    assert sorted(s for (s,) in statuses) == ["FINISHED"] * 4  # 2 parents + 2 children
    assert len({line.split()[1] for line in outputs}) == 2  # two distinct run folders


@pytest.mark.slow
def test_the_tiny_spec_runs_the_data_overview_notebook_on_the_sample_shop(project):
    import shutil

    shutil.copy(REPO / "notebooks" / "00_data_overview.ipynb", project / "notebooks")
    shutil.copy(REPO / "experiments" / "tiny.yaml", project / "experiments")
    result = CliRunner().invoke(main, ["run", str(project / "experiments" / "tiny.yaml")])
    assert result.exit_code == 0, result.output
    record = read_record(Path(result.output.strip().splitlines()[-1].split(" -> ")[-1]))
    metrics = record.notebooks[0].metrics
    # data/samples: 6 customers (customers.csv), 3 tables, 6 + 6 + 13 rows; 3 of 6 have every subscription ended.
    assert (metrics["customers"], metrics["tables"], metrics["rows"]) == (6.0, 3.0, 25.0)
    assert metrics["churn_rate"] == 0.5 and metrics["n_problems"] == 0.0
    assert record.headline() == {"customers": 6.0, "churn_rate": 0.5, "n_problems": 0.0}


@pytest.mark.slow
def test_when_the_orchestrator_itself_breaks_no_mlflow_run_is_left_running(project, logging_notebook, monkeypatch):
    import churnlab.runner as runner

    def broken_render(*args, **kwargs):
        raise OSError("disk full while writing the report")

    monkeypatch.setattr(runner, "render_notebook", broken_render)
    spec = _spec(project, "name: breaks\ndata: {source: files, config: data/samples/shop.yaml}\nnotebooks: [notebooks/logging.ipynb]\n")
    with pytest.raises(OSError, match="disk full"):
        runner.run(spec)
    client = _mlflow_client()
    runs = client.search_runs([client.get_experiment_by_name("breaks").experiment_id])
    assert runs and {r.info.status for r in runs} == {"FAILED"}


def test_the_data_cache_key_changes_with_the_loader_code_so_a_changed_generator_rebuilds(monkeypatch):
    from churnlab import cache

    data = DataSpec(source="synthetic", settings={"customers": 200, "seed": 0})
    before = cache.cache_key(data)
    assert before == cache.cache_key(data) and before.startswith("synthetic-")
    assert cache.cache_key(DataSpec(source="synthetic", settings={"customers": 201, "seed": 0})) != before
    monkeypatch.setattr(cache, "loader_digest", lambda: "0" * 12)
    assert cache.cache_key(data) != before


def test_the_loader_digest_changes_when_the_synthetic_generator_source_changes(tmp_path, monkeypatch):
    import shutil

    from churnlab import cache

    package = Path(cache.__file__).parent
    copy = tmp_path / "churnlab"
    shutil.copytree(package / "data", copy / "data")
    shutil.copy(package / "schema.py", copy / "schema.py")
    shutil.copy(package / "config.py", copy / "config.py")
    monkeypatch.setattr(cache, "__file__", str(copy / "cache.py"))
    before = cache.loader_digest()
    assert before == cache.loader_digest() and len(before) == 12
    world = copy / "data" / "synthetic" / "world.py"
    world.write_text(world.read_text() + "\n# a changed world\n")
    changed_world = cache.loader_digest()
    assert changed_world != before
    config = copy / "config.py"  # its label tuples turn the generator's codes into table values
    config.write_text(config.read_text() + "\n# reordered plans\n")
    assert cache.loader_digest() != changed_world


def test_a_files_source_rebuilds_when_a_file_next_to_its_config_changes(project):
    from churnlab import cache

    config = project / "data" / "samples" / "shop.yaml"
    data = DataSpec(source="files", settings={"config": str(config)})
    before = cache.cache_key(data)
    csv = config.parent / "events.csv"
    csv.write_text(csv.read_text() + "\n")
    assert cache.cache_key(data) != before
