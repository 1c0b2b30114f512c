"""Notebook 00 under ``churnlab run`` on the six-customer sample shop: its numbers, escaping and privacy."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml
from conftest import REPO
from test_notebook_helpers import INJECTION, executable_content, report_text, run_notebook

NOTEBOOK = REPO / "notebooks" / "00_data_overview.ipynb"
SHOP = {"source": "files", "config": "data/samples/shop.yaml"}
SHOP_IDS = ["c001", "c002", "c003", "c004", "c005", "c006"]  # data/samples/customers.csv


def test_the_committed_notebook_has_no_outputs_a_parameters_cell_and_ids_off_by_default():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert "parameters" in code[1].metadata.get("tags", [])
    assert "\nshow_customer_ids = False" in "\n" + code[1].source
    assert not any(line.lstrip().startswith(("def ", "class ")) for c in code for line in c.source.splitlines())


def _evil_shop(project: Path) -> dict:
    """The sample shop with an injection as every customer's segment and at the start of the config's description."""
    folder = project / "data" / "evil"
    shutil.copytree(project / "data" / "samples", folder)
    customers = pd.read_csv(folder / "customers.csv")
    customers["seg"] = INJECTION
    customers.to_csv(folder / "customers.csv", index=False)
    config = yaml.safe_load((folder / "shop.yaml").read_text(encoding="utf-8"))
    config["description"] = f"{INJECTION} {config['description']}"
    config.setdefault("vocabulary", {})["segments"] = [INJECTION]  # a declared segment, as an analyst's own config would
    (folder / "shop.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return {"source": "files", "config": "data/evil/shop.yaml"}


@pytest.mark.slow
def test_notebook_00_counts_the_shop_shows_no_id_and_runs_no_markup_from_the_data(project):
    record, notebook = run_notebook(project, "00_data_overview", _evil_shop(project))
    metrics = notebook.metrics
    # data/samples: six customers in customers.csv; three tables (customers, events, subscriptions).
    assert metrics["customers"] == 6 and metrics["tables"] == 3
    assert metrics["duplicate_key_rows"] == 0
    # Monthly churn only over the months where churn is recorded (from the first subscription, 3 Jan 2024, to
    # as_of 30 Jun 2024: the full months Feb-May). By hand from subscriptions.csv: active at the month's start
    # Feb 2 (c001, c002), Mar 4 (+c003, c004), Apr 5 (c003 gone, +c005 from 1 Mar, c006), May 4 (c001 gone);
    # churned 0, 1, 1, 0: 2 of 15.
    assert metrics["monthly_churn_observed"] == pytest.approx(2 / 15, abs=1e-12)
    page = report_text(record, notebook)
    assert not [c for c in SHOP_IDS if c in page]  # a column summary instead of a customer sample
    assert executable_content(page) == []
    assert "&lt;script&gt;document.title=" in page  # the segment and the description read as the text they are


@pytest.mark.slow
def test_notebook_00_shows_ids_when_allowed_and_runs_no_markup_from_a_parameter(project):
    record, notebook = run_notebook(project, "00_data_overview", SHOP,
                                    {"show_customer_ids": True, "segment_by": INJECTION})
    page = report_text(record, notebook)
    assert [c for c in SHOP_IDS if c in page]  # the customer sample, for internal use
    assert executable_content(page) == []
    assert "&lt;script&gt;document.title=" in page  # the unknown column named by the parameter, as text


@pytest.mark.slow
def test_notebook_00_logs_the_same_numbers_on_a_lazy_world_as_in_memory(project, monkeypatch):
    # The spec's synthetic data is prepared with save_world; its tables are far below the lazy threshold, so the
    # first run reads them into pandas; CHURNLAB_LAZY_ROWS=0 (inherited by the notebook's kernel) leaves every
    # event-level table on disk, and the notebook then counts it in DuckDB.
    world = {"source": "synthetic", "customers": 150, "seed": 4}
    monkeypatch.delenv("CHURNLAB_LAZY_ROWS", raising=False)
    _, in_memory = run_notebook(project, "00_data_overview", world)
    monkeypatch.setenv("CHURNLAB_LAZY_ROWS", "0")
    _, lazy = run_notebook(project, "00_data_overview", world)
    assert set(lazy.metrics) == set(in_memory.metrics)
    assert lazy.metrics == in_memory.metrics
    # the synthetic world has every canonical event table, and its ids are unique by construction
    assert lazy.metrics["tables"] == 9 and lazy.metrics["duplicate_key_rows"] == 0
    assert lazy.metrics["customers"] == 150
