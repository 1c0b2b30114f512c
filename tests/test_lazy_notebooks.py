"""Notebooks 01 and 02 on a lazy dataset: every event table a Parquet path (``CHURNLAB_LAZY_ROWS=0``).

The same tiny synthetic world runs once in memory and once with its event tables left on disk; the figures that
use everyone (the cutoff population, its churn, the risk zones; label times, features and the model) must not
move, and the pattern sections say how many customers they read.
"""

from __future__ import annotations

import pytest
from test_notebook_helpers import run_notebook

WORLD = {"source": "synthetic", "customers": 600, "seed": 0}


@pytest.fixture
def lazy_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every event-level table of a loaded dataset stays a Parquet path (the kernel inherits the variable)."""
    monkeypatch.setenv("CHURNLAB_LAZY_ROWS", "0")


@pytest.mark.slow
def test_notebook_01_on_lazy_tables_keeps_the_population_and_samples_the_patterns(project, monkeypatch):
    _, eager = run_notebook(project, "01_explore_patterns", WORLD, {"seed": 0})
    monkeypatch.setenv("CHURNLAB_LAZY_ROWS", "0")
    _, lazy = run_notebook(project, "01_explore_patterns", WORLD, {"seed": 0, "pattern_customers": 300})
    e, m = eager.metrics, lazy.metrics
    # The population is label times + features in the engine over everyone: the same customers and churn as in memory.
    assert m["customers_at_cutoff"] == e["customers_at_cutoff"]
    assert m["churn_rate_horizon"] == pytest.approx(e["churn_rate_horizon"], abs=1e-12)
    # The risk zones are evaluated on the full population's features, so they match the in-memory run exactly.
    for name in ("red_zone_precision", "red_zone_recall", "red_zone_lift", "at_risk_customers", "best_signal_lift"):
        assert m[name] == pytest.approx(e[name], abs=1e-12), name
    # Subscription-based sections (churn per month, value from fees) use everyone too.
    assert m["monthly_churn_observed"] == pytest.approx(e["monthly_churn_observed"], abs=1e-12)
    assert m["ltv"] == pytest.approx(e["ltv"], rel=1e-9)
    # The pattern sections read the requested sample (300 of the world's 600 customers); in memory, everyone.
    assert m["pattern_sample_customers"] == 300 and e["pattern_sample_customers"] == 600
    assert 0 < m["pattern_sample_at_cutoff"] < m["customers_at_cutoff"]
    assert e["pattern_sample_at_cutoff"] == e["customers_at_cutoff"]
