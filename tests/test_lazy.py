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
