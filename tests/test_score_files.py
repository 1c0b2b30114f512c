"""``churnlab score`` on a files dataset (the committed streaming sample), with a model registered from that data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from conftest import REPO
from test_notebook_helpers import artifact

NOTEBOOK = REPO / "notebooks" / "05_score_and_monitor.ipynb"
CONFIG = "data/samples/streaming/streaming.yaml"  # 300 made-up subscribers of a video service, own vocabularies
NAME = "streaming-churn"


@pytest.mark.slow
def test_churnlab_score_on_files_writes_a_crm_list_of_every_active_customer_without_holdout_on_actions(
        project, tmp_path, monkeypatch):
    import mlflow

    from churnlab import tracking
    from churnlab.cli import main
    from churnlab.data import load
    from churnlab.labels import active_customers_at
    from churnlab.monitor.champion import register_challenger, train_model
    from churnlab.monitor.holdout import holdout_flags
    from churnlab.record import list_runs

    dataset = load(project / CONFIG)
    # register a champion trained on the same files, as notebook 02 would, under the project's own store
    trained = train_model(dataset, horizon_days=30, n_jobs=1, random_state=0)
    # a run in the project's own store, named by id (mlflow's fluent API may still point at an earlier test's store)
    run_id = tracking.create_run(tracking.experiment_id("register"), "register", {})
    monkeypatch.setenv("MLFLOW_RUN_ID", run_id)
    version = register_challenger(trained, None, registered_model_name=NAME)
    monkeypatch.delenv("MLFLOW_RUN_ID")
    mlflow.end_run()  # log_model resumes the run in this process and leaves it open, as a kernel's run is left
    assert version == 1
    spec = {"name": "weekly_files", "data": {"source": "files", "config": CONFIG},
            "notebooks": [{"path": str(NOTEBOOK), "parameters": {
                "registered_model_name": NAME, "alias": "champion", "train_if_missing": False, "runs": 3,
                "holdout_share": 0.2, "seed": 0}}]}
    path = project / "experiments" / "weekly_files.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    result = CliRunner().invoke(main, ["score", str(path), "-q"])
    assert result.exit_code in (0, 3), result.output  # 3 only when an alert fired; the lists are written either way
    notebook = list_runs()[-1].notebooks[0]
    logged = tracking.client().get_run(notebook.run_id).data.params
    assert logged["model"] == f"{NAME}@champion (version 1)"  # scored with the registered model, not a fresh one
    crm = pd.read_parquet(artifact(notebook, "lists/crm_list.parquet", tmp_path))
    actions = pd.read_csv(artifact(notebook, "lists/action_list.csv", tmp_path), dtype={"customer_id": str})
    # one row per customer active at the files' as_of (2024-06-30), counted from the subscriptions file itself
    active = set(active_customers_at(dataset["subscriptions"], dataset.as_of).astype(str))
    assert len(crm) == len(active) and set(crm["customer_id"].astype(str)) == active
    assert {"customer_id", "probability", "value_at_risk", "reason_1", "reason_2", "reason_3", "zone",
            "holdout"} <= set(crm.columns)
    assert crm["probability"].between(0, 1).all() and np.isfinite(crm["probability"]).all()
    # the holdout is the hash of the id (share 0.2): the flags are known before the run; none is on the action list
    expected_holdout = set(pd.Series(sorted(active))[holdout_flags(pd.Series(sorted(active)), share=0.2)])
    assert set(crm.loc[crm["holdout"], "customer_id"].astype(str)) == expected_holdout and expected_holdout
    assert not set(actions["customer_id"]) & expected_holdout and len(actions) >= 1
    # the files' own vocabulary reaches the list: segments are the sample's Private / SMB, not the world's B2B / B2C
    assert set(crm["segment"].astype(str)) <= {"Private", "SMB"}
