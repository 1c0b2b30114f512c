"""The two campaign studies run under ``churnlab run``: plan (03) then analysis (04), and the analysis on files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
PLAN_NB = ROOT / "notebooks" / "03_plan_campaign.ipynb"
ANALYSE_NB = ROOT / "notebooks" / "04_analyse_campaign.ipynb"
SAMPLE = ROOT / "data" / "samples" / "campaign"


@pytest.mark.parametrize("path, title, names", [
    (PLAN_NB, "# 03", ("data_dir", "seed", "experiment_id", "salt", "hypothesis", "arms", "holdout_share",
                       "campaign_days", "guardrails", "planning_effect", "alpha", "risk_list", "customer_list",
                       "use_risk_rules", "winback_days", "program_share", "offer_costs")),
    (ANALYSE_NB, "# 04", ("data_dir", "seed", "plan_path", "assignments_path", "metric", "alpha", "n_folds")),
])
def test_the_campaign_notebooks_are_committed_thin_and_without_outputs(path, title, names):
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(title)
    assert "parameters" in nb.cells[2].metadata.get("tags", [])
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None
            assert "def " not in cell.source and "class " not in cell.source
    for name in names:
        assert f"\n{name}" in "\n" + nb.cells[2].source, name
    assert "tracking.log_metrics" in nb.cells[-1].source


def _run(project: Path, spec_text: str):
    from churnlab.runner import run

    for nb in (PLAN_NB, ANALYSE_NB):
        shutil.copy(nb, project / "notebooks" / nb.name)
    spec = project / "experiments" / "campaign.yaml"
    spec.write_text(spec_text, encoding="utf-8")
    return run(spec)


def _outputs(folder: Path, name: str) -> str:
    nb = nbformat.read(next(Path(folder).glob(f"{name}*.ipynb")), as_version=4)
    return json.dumps([c.get("outputs", []) for c in nb.cells])


PLAYED = """
name: campaign_test
data: {source: synthetic, customers: 2500, seed: 1, start: 2024-01-01, end: 2024-12-31}
parameters: {seed: 1}
notebooks:
  - path: notebooks/03_plan_campaign.ipynb
    parameters: {target_share: 0.6, program_share: 0.1}
  - path: notebooks/04_analyse_campaign.ipynb
    parameters: {n_folds: 3, world_sims: 4}
"""


@pytest.mark.slow
def test_plan_then_world_then_analysis_on_a_tiny_world(project):
    record = _run(project, PLAYED)
    assert record.status == "FINISHED", record
    m = record.metrics
    folder = Path(record.folder)
    # the plan: a non-empty audience, power and MDE in range, and the plan pre-registered in the plan's child run
    assert m["03_plan_campaign.n_audience"] > 100
    assert 0 < m["03_plan_campaign.mde_cuped"] <= m["03_plan_campaign.mde"] < 1
    assert 0 < m["03_plan_campaign.power_cuped"] < 1
    plan = json.loads((folder / "campaign_plan.json").read_text())
    assert plan["primary_metric"] == "retained_90" and plan["n_audience"] == m["03_plan_campaign.n_audience"]
    from churnlab import tracking

    child = tracking.client().get_run(record.notebooks[0].run_id)
    assert child.data.params["plan.primary_metric"] == "retained_90"
    assert float(child.data.params["plan.mde_cuped"]) == pytest.approx(m["03_plan_campaign.mde_cuped"])
    # the CRM files: no holdout customer (campaign or programme) in any offer file
    dnc = set(pd.read_csv(folder / "do_not_contact.csv")["customer_id"])
    offered = pd.concat([pd.read_csv(p) for p in folder.glob("offers_*.csv")])
    assert len(offered) == m["03_plan_campaign.n_offers"] and not offered["customer_id"].isin(dnc).any()
    # the analysis: every retention customer analysed, the world's truth compared, an interval around the estimate
    assert m["04_analyse_campaign.n_customers"] == plan["n_audience"]
    assert m["04_analyse_campaign.srm_p"] > 0.001
    assert (m["04_analyse_campaign.best_effect_ci_lower"] < m["04_analyse_campaign.best_effect"]
            < m["04_analyse_campaign.best_effect_ci_upper"])
    assert 0 <= m["04_analyse_campaign.truth_covered"] <= 3
    assert "04_analyse_campaign.program_true_churn_effect" in m
    assert 0 <= m["04_analyse_campaign.n_offers_working"] <= 3
    assert 0 <= m["04_analyse_campaign.winback_reasons_significant"] <= m["04_analyse_campaign.winback_n"]
    # the plan's power is the score test's (plan_power's default), what the analysis runs
    from churnlab.experiment import plan_power

    share = 0.9 / 3 / (0.9 / 3 + 0.1)
    n_pair = round(plan["n_audience"] * (0.9 / 3 + 0.1))
    assert m["03_plan_campaign.power_cuped"] == pytest.approx(
        plan_power(n_pair, share, plan["base_rate"], plan["effect"], rho=plan["rho"]).power_cuped, abs=1e-3)
    text = _outputs(folder, "04")
    assert "the synthetic world plays the 90 days after it" in text
    assert "Do the estimates agree with the world" in text
    assert "By reason the largest effect is" in text
    assert "SrmResult" not in text and "ExperimentResult" not in text and " inf " not in text


FILES = """
name: campaign_files_test
data: {source: files, config: data/samples/campaign/campaign.yaml}
parameters: {seed: 0}
notebooks:
  - path: notebooks/04_analyse_campaign.ipynb
    parameters: {plan_path: data/samples/campaign/plan.json, n_folds: 3}
"""


@pytest.mark.slow
def test_the_committed_files_sample_runs_through_the_analysis_without_a_synthetic_world(project):
    record = _run(project, FILES)
    assert record.status == "FINISHED", record
    m = record.metrics
    # the sample's assignments table: the retention experiment's rows (data/samples/campaign/assignments.csv)
    rows = pd.read_csv(SAMPLE / "assignments.csv")
    plan = json.loads((SAMPLE / "plan.json").read_text())
    assert m["04_analyse_campaign.n_customers"] == int((rows["experiment_id"] == plan["experiment_id"]).sum())
    assert m["04_analyse_campaign.mde_planned"] == pytest.approx(plan["mde_cuped"])
    assert m["04_analyse_campaign.winback_n"] == int((rows["experiment_id"] == plan["experiment_id"] + "-winback").sum())
    assert "04_analyse_campaign.truth_covered" not in m  # no truth, no truth section
    assert "04_analyse_campaign.program_churn_effect" in m
    text = _outputs(Path(record.folder), "04")
    assert "past the campaign" in text and "the outcomes are the data" in text
    assert "Do the estimates agree with the world" not in text
