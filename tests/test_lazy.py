"""The lazy Dataset core: Parquet tables read where they lie give what the in-memory tables give."""

from __future__ import annotations

import pandas as pd
import pytest

from churnlab.data.synthetic.build import generate
from churnlab.errors import DataSourceError, SchemaError
from churnlab.lazy import parquet_files
from churnlab.schema import Dataset


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    dataset, _truth = generate(80, seed=7)
    return dataset.save(tmp_path_factory.mktemp("lazy") / "w")


def test_rows_frame_and_repr_of_a_lazy_dataset_match_the_in_memory_one(folder):
    lazy, eager = Dataset.load(folder, lazy=True), Dataset.load(folder, lazy=False)
    assert "events" in lazy.lazy_tables and "customers" not in lazy.lazy_tables
    assert "(on disk)" in repr(lazy) and "(on disk)" not in repr(eager)
    for name in eager.tables:
        assert lazy.rows(name) == len(eager[name])
        pd.testing.assert_frame_equal(lazy.frame(name), eager[name])  # dtypes identical too
    some = eager["customers"]["customer_id"].iloc[:5]
    pd.testing.assert_frame_equal(lazy.frame("events", columns=["customer_id", "timestamp"], customer_ids=some),
                                  eager.frame("events", columns=["customer_id", "timestamp"], customer_ids=some))


def test_a_seeded_customer_sample_is_the_same_lazy_and_in_memory(folder):
    lazy, eager = Dataset.load(folder, lazy=True), Dataset.load(folder, lazy=False)
    a, b = lazy.sample_customers(10, seed=3), eager.sample_customers(10, seed=3)
    assert not a.lazy_tables and a.fingerprint == b.fingerprint
    assert a["customers"]["customer_id"].nunique() == 10


def test_fingerprints_agree_streamed_in_memory_and_stored_and_follow_a_changed_file(folder, tmp_path):
    lazy, eager = Dataset.load(folder, lazy=True), Dataset.load(folder, lazy=False)
    stored = lazy.fingerprint
    lazy._stored = None
    assert lazy.fingerprint == eager.fingerprint == stored  # streamed batch by batch == pandas == dataset.json
    copy = Dataset.load(lazy.save(tmp_path / "copy"), lazy=True)
    assert copy.fingerprint == stored
    events = pd.read_parquet(tmp_path / "copy" / "events.parquet").iloc[:-1]
    events.to_parquet(tmp_path / "copy" / "events.parquet", index=False)
    assert Dataset.load(tmp_path / "copy", lazy=True).fingerprint != stored  # one row fewer: recomputed


def test_bad_lazy_inputs_fail_with_one_line_naming_the_setting(folder, tmp_path, monkeypatch):
    with pytest.raises(DataSourceError, match="lazy must be 'auto', True or False; got 'maybe'"):
        Dataset.load(folder, lazy="maybe")
    monkeypatch.setenv("CHURNLAB_LAZY_ROWS", "x")
    with pytest.raises(DataSourceError, match="CHURNLAB_LAZY_ROWS must be a row count"):
        Dataset.load(folder)
    monkeypatch.delenv("CHURNLAB_LAZY_ROWS")
    with pytest.raises(SchemaError, match="sample_customers: n must be a positive int; got 0"):
        Dataset.load(folder, lazy=True).sample_customers(0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataSourceError, match="no Parquet file there"):
        parquet_files(tmp_path / "empty")


def test_a_streamed_world_is_the_generated_world_chunk_for_chunk(tmp_path, monkeypatch):
    import churnlab.data.synthetic.spec as world_spec
    from churnlab.data.synthetic import generate, load_world
    from churnlab.data.synthetic.build import stream_world

    monkeypatch.setattr(world_spec, "CHUNK_SIZE", 150)  # 400 customers in 3 chunks, as 1M customers are in 50
    dataset, truth = generate(400, start="2024-01-01", end="2024-05-31", seed=2)
    rows = stream_world(tmp_path / "w", 400, start="2024-01-01", end="2024-05-31", seed=2)
    streamed, streamed_truth = load_world(tmp_path / "w")
    assert rows == {name: len(t) for name, t in dataset.tables.items()}
    assert streamed.fingerprint == dataset.fingerprint  # stored at write time ...
    streamed._stored = None
    assert streamed.fingerprint == dataset.fingerprint  # ... and rehashed from the files
    for name, table in dataset.tables.items():
        got = streamed.frame(name)
        pd.testing.assert_frame_equal(got.sort_values(list(got.columns)).reset_index(drop=True),
                                      table.sort_values(list(table.columns)).reset_index(drop=True))
    pd.testing.assert_frame_equal(streamed_truth.drivers, truth.drivers)
    assert streamed.metadata["dated_events"] == dataset.metadata["dated_events"]


def test_churnlab_data_generate_streams_when_asked_and_the_folder_opens_lazy(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from churnlab.cli import main

    result = CliRunner().invoke(main, ["data", "generate", "--customers", "300", "--end", "2024-03-31", "--stream",
                                       "--out", str(tmp_path / "w")])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("CHURNLAB_LAZY_ROWS", "0")
    opened = Dataset.load(tmp_path / "w")
    assert "events" in opened.lazy_tables and "customers" not in opened.lazy_tables
    assert f"fingerprint {opened.fingerprint}" in result.output
    bad = CliRunner().invoke(main, ["data", "generate", "--customers", "0", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "--customers" in bad.output and not (tmp_path / "x").exists()


def test_a_saved_folder_missing_a_table_file_names_it(folder, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "events.parquet").unlink()
    with pytest.raises(DataSourceError, match="events.parquet"):
        Dataset.load(copy, lazy=True)


def test_a_duckdb_relation_table_counts_hashes_and_samples_like_its_file(folder):
    import duckdb

    memory = Dataset.load(folder, lazy=False)
    lazy = Dataset.load(folder, lazy=False)
    lazy.tables["events"] = duckdb.read_parquet(str(folder / "events.parquet"))
    assert "events=" in repr(lazy) and "(in the engine)" in repr(lazy)
    assert lazy.rows("events") == len(memory.tables["events"])
    assert lazy.fingerprint == memory.fingerprint
    assert lazy.sample_customers(20, seed=4).fingerprint == memory.sample_customers(20, seed=4).fingerprint
