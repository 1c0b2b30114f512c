"""Notebook 05 under ``churnlab score`` on a tiny synthetic world: lists, logged numbers, exit code 3 on an alert."""

from __future__ import annotations

import nbformat
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from conftest import REPO
from test_notebook_helpers import artifact, report_text

NOTEBOOK = REPO / "notebooks" / "05_score_and_monitor.ipynb"


def test_the_committed_notebook_has_no_outputs_no_helpers_and_ids_off_by_default():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "parameters" in code[1].metadata.get("tags", []) and "\nshow_customer_ids = False" in "\n" + code[1].source
    assert not any(line.lstrip().startswith(("def ", "class ")) for c in code for line in c.source.splitlines())


def _spec(project, alerts_path: str | None, name: str) -> str:
    parameters = {"runs": 5, "seed": 2, "holdout_share": 0.1}
    if alerts_path:
        parameters["alerts_path"] = alerts_path
    spec = {"name": name, "data": {"source": "synthetic", "customers": 700, "seed": 2},
            "notebooks": [{"path": str(NOTEBOOK), "parameters": parameters}]}
    path = project / "experiments" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return str(path)


def test_score_on_a_spec_without_the_scoring_notebook_exits_2(project, logging_notebook):
    from churnlab.cli import main

    spec = {"name": "noscore", "data": {"source": "files", "config": "data/samples/shop.yaml"},
            "notebooks": [{"path": str(logging_notebook)}]}
    path = project / "experiments" / "noscore.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    result = CliRunner().invoke(main, ["score", str(path), "-q"])
    assert result.exit_code == 2 and "ran no scoring notebook" in result.output


@pytest.mark.slow
def test_churnlab_score_writes_the_lists_logs_the_week_and_exits_3_when_an_alert_fires(project, tmp_path):
    from churnlab.cli import main
    from churnlab.data.synthetic import generate
    from churnlab.labels import active_customers_at
    from churnlab.monitor.holdout import holdout_flags
    from churnlab.record import list_runs

    # one rule that must fire (weekly churn is never below zero) and exit code 3 follows
    rules = project / "always.yaml"
    rules.write_text(yaml.safe_dump([{"name": "always", "metric": "churn_rate", "kind": "threshold",
                                      "threshold": -1.0, "direction": "above", "segment": "all", "min_n": 1}]))
    result = CliRunner().invoke(main, ["score", _spec(project, str(rules), "wk"), "-q"])
    assert result.exit_code == 3, result.output
    assert "1 alert(s) fired" in result.output
    record = list_runs()[-1]
    notebook = record.notebooks[0]
    m = notebook.metrics
    # every customer active at the world's as_of is scored (the same world: generate(700, seed=2))
    world, _ = generate(700, seed=2)
    active = active_customers_at(world["subscriptions"], world.as_of).astype(str)
    assert m["n_scored"] == len(active)
    # the holdout is the hash of the id: its size is known before the run, and none of it is on the action list
    assert m["n_holdout_scored"] == int(holdout_flags(active, share=0.1).sum()) and m["n_holdout_in_actions"] == 0
    # the action list is the top 10% by value at risk minus the holdout customers among them
    assert m["n_actions"] <= -(-m["n_scored"] // 10)
    assert m["alerts_fired"] == 1
    crm = pd.read_parquet(artifact(notebook, "lists/crm_list.parquet", tmp_path))
    actions = pd.read_csv(artifact(notebook, "lists/action_list.csv", tmp_path))
    assert len(crm) == m["n_scored"] and len(actions) == m["n_actions"]
    assert {"probability", "value_at_risk", "reason_1", "reason_2", "reason_3", "zone", "holdout"} <= set(crm.columns)
    assert not set(actions["customer_id"].astype(str)) & set(crm.loc[crm["holdout"], "customer_id"].astype(str))
    # the monitored churn rate of the week is the hand count on the same world: churned of those active 7 days before
    start = world.as_of - pd.Timedelta(days=7)
    before = set(active_customers_at(world["subscriptions"], start).astype(str))
    assert m["churn_rate"] == pytest.approx(len(before - set(active)) / len(before))
    page = report_text(record, notebook)
    assert not [c for c in actions["customer_id"].astype(str) if c in page]  # ids stay in the lists
    executed = nbformat.read(f"{record.folder}/{notebook.executed}", as_version=4)
    assert "alert checks fired" in str([c.get("outputs") for c in executed.cells])  # the one wording check
    # a second week with the registered champion and no alert rule that can fire exits 0
    quiet = project / "never.yaml"
    quiet.write_text(yaml.safe_dump([{"name": "never", "metric": "churn_rate", "kind": "threshold",
                                      "threshold": 2.0, "direction": "above", "segment": "all"}]))
    again = CliRunner().invoke(main, ["score", _spec(project, str(quiet), "wk2"), "-q"])
    assert again.exit_code == 0, again.output
    second = list_runs()[-1].notebooks[0].metrics
    assert second["alerts_fired"] == 0 and second["n_scored"] == m["n_scored"]
