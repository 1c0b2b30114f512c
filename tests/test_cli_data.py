"""`churnlab data ...`: the commands an analyst uses to look at a source before a study."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from churnlab.cli import main

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_data_list_names_every_packaged_source():
    out = run("data", "list").output
    for name in ("telco", "mlc_churn", "cdnow", "synthetic"):
        assert name in out


def test_data_describe_prints_tables_rows_and_the_churn_rate():
    result = run("data", "describe", "telco")
    assert result.exit_code == 0, result.output
    assert "customers" in result.output and "7043" in result.output
    assert "churn rate: 26.5%" in result.output


def test_data_validate_exits_2_and_lists_each_problem_on_its_own_line(tmp_path):
    folder = tmp_path / "samples"
    shutil.copytree(SAMPLES, folder)
    csv = folder / "events.csv"
    csv.write_text(csv.read_text().replace("c001,2024-01-03T09:15:00", "c001,2023-12-24T09:15:00"))
    result = run("data", "validate", str(folder / "shop.yaml"))
    assert result.exit_code == 2
    assert "events.timestamp: expected no activity before the customer's signup_at" in result.output


def test_a_bad_source_is_one_red_line_and_exit_code_2():
    result = run("data", "describe", "nope")
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: data source 'nope'")
    assert len(result.output.strip().splitlines()) == 1


def test_every_data_command_has_help():
    for cmd in ("list", "describe", "validate", "generate"):
        result = run("data", cmd, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output


def test_data_list_prints_each_registered_source_with_its_settings_types_and_defaults():
    from churnlab.data import SOURCES

    out = run("data", "list").output
    names = [line.split()[0] for line in out.splitlines() if line and not line.startswith(" ")]
    assert names[: len(SOURCES)] == list(SOURCES)  # every registry entry, in registry order
    # the synthetic world's settings: DEFAULT_SYNTHETIC_CUSTOMERS (10,000) and generate()'s defaults
    assert any(line.split()[:4] == ["customers", "int", ">=", "1,"] and "default 10000" in line for line in out.splitlines())
    assert "start      date, default 2024-01-01" in out
    assert "monthly_churn_b2b=0.05" in out  # a Knobs field and its default (DOMAIN.md: about 5% B2B)
    assert "config     file, required" in out
    assert "telco " in out and "(no settings)" in out
