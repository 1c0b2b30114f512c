"""`churnlab data init`: a files config guessed from a folder of exports, every guess marked for review."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from click.testing import CliRunner

from churnlab.cli import main
from churnlab.data import load
from churnlab.data.scaffold import scaffold_config

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def _copy(folder: Path, *names: str, source: Path = SAMPLES) -> Path:
    folder.mkdir()
    for name in names:
        shutil.copy(source / name, folder / name)
    return folder


def test_init_on_the_streaming_exports_writes_a_config_that_loads_and_validates(tmp_path):
    folder = _copy(tmp_path / "exports", "members.csv", "contracts.csv", "views.csv", "newsletters.csv",
                   "funnel.csv", source=SAMPLES / "streaming")
    result = CliRunner().invoke(main, ["data", "init", str(folder)])
    assert result.exit_code == 0, result.output
    config = folder / "churnlab.yaml"
    cfg = yaml.safe_load(config.read_text())
    assert set(cfg["tables"]) == {"customers", "subscriptions", "events", "messages", "funnel"}
    assert cfg["tables"]["events"]["sep"] == ";"  # sniffed from the header of views.csv
    assert cfg["tables"]["customers"]["timestamps"] == {"signup_at": "%d/%m/%Y %H:%M"}
    # Stages in the order customers reach them, not alphabetically.
    assert cfg["vocabulary"]["funnel_stages"] == ["visit", "demo_call", "signup", "activation", "first_payment"]
    ds = load(config)  # validates: the guesses are right for this folder
    assert len(ds["customers"]) == 300 and ds["customers"]["customer_id"].str.startswith("0").any()
    # Every mapping line carries a review comment; what was not mapped is printed.
    mapping_lines = [line for line in config.read_text().splitlines() if ": customer_id" in line]
    assert mapping_lines and all("# review:" in line for line in mapping_lines)
    assert "not mapped: customers: columns kept as they are (not canonical): kind" in result.output


def test_init_recognises_a_snapshot_with_its_flag_and_tenure(tmp_path):
    folder = _copy(tmp_path / "exports", "accounts.csv", source=SAMPLES / "telecom")
    scaffold = scaffold_config(folder)
    assert scaffold.kind == "snapshot"
    assert scaffold.churn == ("Churned", "yes/no") and scaffold.tenure == "MonthsActive"
    cfg = yaml.safe_load(scaffold.to_yaml())
    assert cfg["tables"]["customers"]["rename"]["AccountNo"] == "customer_id"
    assert cfg["vocabulary"]["segments"] == ["Consumer", "Enterprise", "SMB"]


def test_init_prints_what_it_could_not_map_and_leaves_out_unknown_files(tmp_path):
    folder = _copy(tmp_path / "exports", "customers.csv", "events.csv")
    (folder / "weather.csv").write_text("city,temperature\nBerlin,21\n")
    (folder / "events.csv").write_text((folder / "events.csv").read_text().replace("client,ts", "client,when_it_was"))
    result = CliRunner().invoke(main, ["data", "init", str(folder), "-o", str(tmp_path / "cfg.yaml")])
    assert result.exit_code == 0, result.output
    assert "weather.csv: no canonical table recognised" in result.output
    assert "events.timestamp: required column not found in events.csv; add it under rename" in result.output
    assert "# not found: timestamp (required)" in (tmp_path / "cfg.yaml").read_text()


def test_init_never_overwrites_a_config_without_force(tmp_path):
    folder = _copy(tmp_path / "exports", "customers.csv")
    (folder / "churnlab.yaml").write_text("mine: true\n")
    result = CliRunner().invoke(main, ["data", "init", str(folder)])
    assert result.exit_code == 2 and result.output.startswith("error: ") and "--force" in result.output
    assert (folder / "churnlab.yaml").read_text() == "mine: true\n"
    assert sorted(p.name for p in folder.iterdir()) == ["churnlab.yaml", "customers.csv"]  # no temporary file


def test_init_on_an_empty_folder_is_one_error_line(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["data", "init", str(tmp_path / "empty")])
    assert result.exit_code == 2 and result.output.strip().count("\n") == 0
    assert "no .csv, .tsv or .parquet file found" in result.output
