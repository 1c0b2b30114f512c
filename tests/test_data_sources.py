"""Loaders of the public datasets and of a user's own files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import write_notebook

from churnlab.data import load, load_cdnow, load_files, load_mlc_churn, load_telco
from churnlab.data.summary import overall_churn_rate, summarize
from churnlab.errors import DataSourceError
from churnlab.schema import Dataset, validate

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


@pytest.fixture(scope="module")
def telco() -> Dataset:
    return load_telco()


def test_telco_has_7043_valid_customers_and_26_5_percent_churn(telco):
    # Counts from the IBM Telco sample as shipped (modeldata wa_churn): 1,869 of 7,043 churned.
    assert validate(telco).ok
    assert len(telco["customers"]) == 7043
    assert telco["customers"]["churned"].sum() == 1869
    assert overall_churn_rate(telco) == pytest.approx(0.2654, abs=5e-5)


def test_telco_keeps_its_original_columns_next_to_the_canonical_ones(telco):
    cols = set(telco["customers"].columns)
    assert {"customer_id", "signup_at", "monthly_fee", "churned"} <= cols
    assert {"contract", "tenure", "payment_method", "internet_service"} <= cols


def test_mlc_churn_has_5000_valid_customers_and_14_1_percent_churn():
    ds = load_mlc_churn()
    assert validate(ds).ok
    assert len(ds["customers"]) == 5000
    assert ds["customers"]["churned"].sum() == 707  # 14.14%, modeldata mlc_churn
    assert "number_customer_service_calls" in ds["customers"].columns


def test_cdnow_is_the_full_purchase_log_of_23570_customers():
    ds = load_cdnow()
    assert validate(ds).ok
    assert len(ds["events"]) == 69_659 and len(ds["customers"]) == 23_570
    assert ds["events"]["timestamp"].min() == pd.Timestamp("1997-01-01")
    assert ds["events"]["timestamp"].max() == pd.Timestamp("1998-06-30")
    assert overall_churn_rate(ds) is None  # churn needs a label window in a purchase log


def test_the_sample_config_loads_renames_and_parses_timestamps():
    ds = load_files(SAMPLES / "shop.yaml")
    assert validate(ds).ok, str(validate(ds))
    customers = ds["customers"]
    assert customers.loc[customers["customer_id"] == "c002", "signup_at"].item() == pd.Timestamp("2024-01-15")
    assert set(ds.tables) == {"customers", "events", "subscriptions"}
    assert overall_churn_rate(ds) == pytest.approx(3 / 6)


def test_load_files_round_trips_the_example_config_through_parquet(tmp_path):
    ds = load_files(SAMPLES / "shop.yaml")
    back = load(ds.save(tmp_path / "shop"))
    assert back.fingerprint == ds.fingerprint
    pd.testing.assert_frame_equal(back["events"], ds["events"])


@pytest.fixture
def sample_copy(tmp_path) -> Path:
    folder = tmp_path / "samples"
    shutil.copytree(SAMPLES, folder)
    return folder


def test_an_unparseable_timestamp_names_table_column_and_format(sample_copy):
    csv = sample_copy / "customers.csv"
    csv.write_text(csv.read_text().replace("15.01.2024", "2024-01-15"))
    with pytest.raises(DataSourceError, match=r"^customers.signup_at: 1 value\(s\) do not parse .* '%d.%m.%Y', e.g. '2024-01-15'"):
        load_files(sample_copy / "shop.yaml")


def test_a_csv_that_is_not_utf8_is_refused_with_the_file_named(sample_copy):
    csv = sample_copy / "events.csv"
    csv.write_bytes(csv.read_text().replace("session", "séance", 1).encode("latin-1"))
    with pytest.raises(DataSourceError, match=r"^events: file events.csv is not valid utf-8 text"):
        load_files(sample_copy / "shop.yaml")


def test_an_empty_file_is_refused_with_the_table_named(sample_copy):
    (sample_copy / "subscriptions.csv").write_text("")
    with pytest.raises(DataSourceError, match=r"^subscriptions: file subscriptions.csv is empty"):
        load_files(sample_copy / "shop.yaml")


def test_a_header_without_rows_is_refused(sample_copy):
    (sample_copy / "subscriptions.csv").write_text("client,sub,start,end,reason\n")
    with pytest.raises(DataSourceError, match="has a header but no rows"):
        load_files(sample_copy / "shop.yaml")


def test_an_unknown_table_in_the_config_is_refused(sample_copy):
    cfg = sample_copy / "shop.yaml"
    cfg.write_text(cfg.read_text().replace("  events:", "  clicks:"))
    with pytest.raises(DataSourceError, match="unknown table 'clicks'"):
        load_files(cfg)


def test_activity_before_signup_in_user_files_is_caught_by_validation(sample_copy):
    csv = sample_copy / "events.csv"
    csv.write_text(csv.read_text().replace("c001,2024-01-03T09:15:00", "c001,2023-12-24T09:15:00"))
    problems = [str(p) for p in validate(load_files(sample_copy / "shop.yaml", validate=False)).problems]
    assert problems == ["events.timestamp: expected no activity before the customer's signup_at; 1 rows, e.g. c001"]


def test_an_unknown_source_name_lists_the_known_ones():
    with pytest.raises(DataSourceError, match=r"expected one of \['cdnow', 'mlc_churn', 'telco'\]"):
        load("telcoo")


def test_summarize_gives_one_row_per_table_with_its_time_span():
    table = summarize(load_files(SAMPLES / "shop.yaml"))
    assert list(table["table"]) == ["customers", "subscriptions", "events"]
    events = table.set_index("table").loc["events"]
    assert events["rows"] == 13 and events["customers"] == 6
    assert events["first"] == pd.Timestamp("2024-01-03 09:15") and events["last"] == pd.Timestamp("2024-06-01 21:15")


def test_a_new_source_is_one_registry_entry_that_the_spec_checker_list_and_cache_all_use(project, monkeypatch):
    from click.testing import CliRunner

    from churnlab.cache import prepare_data
    from churnlab.cli import main
    from churnlab.data import SOURCES, Setting, Source
    from churnlab.errors import SpecError
    from churnlab.spec import load_spec

    def first_customers(settings):
        ds = load_files(SAMPLES / "shop.yaml")
        keep = ds.tables["customers"].head(settings.get("rows", 6))
        return type(ds)(name="crm", tables={"customers": keep}, as_of=ds.as_of, source="crm", kind=ds.kind)

    entry = Source("crm", "Our CRM export.", (Setting("rows", "int", 6, minimum=1, help="customers kept"),), first_customers)
    monkeypatch.setitem(SOURCES, "crm", entry)
    assert "crm        Our CRM export." in CliRunner().invoke(main, ["data", "list"]).output
    write_notebook(project / "notebooks" / "n.ipynb", 'data_dir = ""')
    spec_path = project / "experiments" / "crm.yaml"
    spec_path.write_text("name: crm\ndata: {source: crm, rows: 2}\nnotebooks: [notebooks/n.ipynb]\n")
    spec = load_spec(spec_path)
    assert dict(spec.data.settings) == {"rows": 2}
    prepared = prepare_data(spec.data)
    assert prepared.key.startswith("crm-")
    assert len(load(prepared.folder).tables["customers"]) == 2
    spec_path.write_text("name: crm\ndata: {source: crm, rows: 0}\nnotebooks: [notebooks/n.ipynb]\n")
    with pytest.raises(SpecError, match=r"data.rows: expected at least 1, got 0"):
        load_spec(spec_path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{source: synthetic, customers: 0}", r"data.customers: expected at least 1, got 0"),
        ("{source: synthetic, seed: 1.5}", r"data.seed: expected an integer, got 1.5"),
        ("{source: synthetic, start: someday}", r"data.start: expected a date like 2024-01-01, got 'someday'"),
        ("{source: synthetic, noise: high}", r"data.noise: expected a number, got 'high'"),
        ("{source: synthetic, ui_change_date: 3}", r"data.ui_change_date: expected text or null, got 3"),
        ("{source: synthetic, knob: 1}", r"data: unknown key\(s\) \['knob'\]"),
        ("{source: telco, customers: 5}", r"data: unknown key\(s\) \['customers'\]; allowed: \[\]"),
        ("{source: files}", r"data.config: the files source needs config"),
    ],
)
def test_each_source_setting_is_checked_against_its_registered_type(project, data, message):
    from churnlab.errors import SpecError
    from churnlab.spec import load_spec

    write_notebook(project / "notebooks" / "n.ipynb", 'data_dir = ""')
    spec_path = project / "experiments" / "s.yaml"
    spec_path.write_text(f"name: s\ndata: {data}\nnotebooks: [notebooks/n.ipynb]\n")
    with pytest.raises(SpecError, match=message) as caught:
        load_spec(spec_path)
    assert "\n" not in str(caught.value)


def test_data_overrides_are_typed_by_the_setting_they_set(project):
    from churnlab.spec import load_spec

    write_notebook(project / "notebooks" / "n.ipynb", 'data_dir = ""')
    spec_path = project / "experiments" / "s.yaml"
    spec_path.write_text("name: s\ndata: {source: synthetic, customers: 100}\nnotebooks: [notebooks/n.ipynb]\n")
    overrides = {"data.customers": "500", "data.noise": "0.3", "data.start": "2024-02-01", "data.ui_change_segment": "B2B"}
    settings = dict(load_spec(spec_path, overrides).data.settings)
    assert settings == {"customers": 500, "noise": 0.3, "start": "2024-02-01", "ui_change_segment": "B2B"}
