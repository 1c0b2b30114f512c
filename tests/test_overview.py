"""Data overview functions on a hand-built dataset whose answers can be counted by eye."""

from __future__ import annotations

import pandas as pd
import pytest

from churnlab.data.overview import churn_by_tenure, customer_churned, duplicate_keys, missing_values, segment_mix
from churnlab.errors import AnalysisError, SchemaError
from churnlab.schema import Dataset

AS_OF = pd.Timestamp("2024-12-31")


def _snapshot() -> Dataset:
    # Four customers: tenures of 3, 3, 13 and 60 months (30.4375-day months before AS_OF); two churned.
    signup = [AS_OF - pd.Timedelta(days=round(m * 30.4375)) for m in (3, 3, 13, 60)]
    customers = pd.DataFrame(
        {
            "customer_id": pd.array(["a", "b", "c", "c"], dtype="string"),  # "c" twice: a duplicate key
            "signup_at": signup,
            "segment": pd.array(["B2B", "B2C", "B2C", "B2C"], dtype="string"),
            "monthly_fee": [10.0, None, 30.0, 30.0],
            "churned": [True, False, True, True],
        }
    )
    return Dataset("toy", {"customers": customers}, as_of=AS_OF, source="test", kind="snapshot")


def test_missing_values_counts_each_column_with_a_gap():
    out = missing_values(_snapshot())
    assert out.to_dict("records") == [{"table": "customers", "column": "monthly_fee", "missing": 1, "share": 0.25}]


def test_duplicate_keys_counts_every_row_of_a_repeated_key():
    out = duplicate_keys(_snapshot())
    assert out.to_dict("records") == [{"table": "customers", "key": "customer_id", "rows": 4, "duplicate_rows": 2}]


def test_churn_by_tenure_puts_each_customer_in_its_band():
    ds = _snapshot()
    ds.tables["customers"] = ds.tables["customers"].drop_duplicates("customer_id")
    out = churn_by_tenure(ds, bands=(0, 6, 24, float("inf")))
    # a (3 m, churned) and b (3 m) in 0-6; c (13 m, churned) in 6-24; nobody in 24+.
    assert out["band"].tolist() == ["0-6 m", "6-24 m", "24+ m"]
    assert out["customers"].tolist() == [2, 1, 0]
    assert out["churn_rate"].tolist()[:2] == [0.5, 1.0]
    assert pd.isna(out["churn_rate"].iloc[2])


def test_segment_mix_gives_shares_and_churn_rates():
    ds = _snapshot()
    ds.tables["customers"] = ds.tables["customers"].drop_duplicates("customer_id")
    out = segment_mix(ds)
    # B2C: b (stayed) and c (churned) = 2 of 3 customers, churn 1/2; B2B: a (churned).
    assert out.to_dict("records") == [
        {"segment": "B2C", "customers": 2, "share": 2 / 3, "churn_rate": 0.5},
        {"segment": "B2B", "customers": 1, "share": 1 / 3, "churn_rate": 1.0},
    ]
    with pytest.raises(SchemaError, match="customers.plan: missing column"):
        segment_mix(ds, "plan")


def test_event_data_churn_flag_means_no_spell_is_active_at_as_of():
    # a: ended in February, renewed into an open subscription -> active; b: ended in March -> churned;
    # c: one subscription ends exactly at AS_OF -> churned by then (spells are [start, end));
    # d: renewed at the instant the first ends, on AS_OF -> one spell, still active.
    T = pd.Timestamp
    subs = pd.DataFrame(
        {
            "customer_id": pd.array(["a", "a", "b", "c", "d", "d"], dtype="string"),
            "start_at": [T("2024-01-01"), T("2024-02-01"), T("2024-01-01"), T("2024-06-01"), T("2024-06-01"), AS_OF],
            "end_at": [T("2024-02-01"), pd.NaT, T("2024-03-01"), AS_OF, AS_OF, pd.NaT],
        }
    )
    customers = _snapshot().tables["customers"].drop(columns="churned").drop_duplicates("customer_id")
    ds = Dataset("toy", {"customers": customers, "subscriptions": subs}, as_of=AS_OF, source="test")
    assert customer_churned(ds).to_dict() == {"a": False, "b": True, "c": True, "d": False}


def test_churn_by_tenure_without_any_churn_flag_raises():
    customers = _snapshot().tables["customers"].drop(columns="churned")
    ds = Dataset("toy", {"customers": customers}, as_of=AS_OF, source="test")
    with pytest.raises(AnalysisError, match="has no churn flag"):
        churn_by_tenure(ds)


# -- lazy tables: the overview's event-level counts run in DuckDB and equal the in-memory ones ------------------


@pytest.fixture(scope="module")
def saved_world(tmp_path_factory):
    """A 120-customer world with a few gaps and duplicates planted in its event-level tables, saved once."""
    from churnlab.data.synthetic.build import generate

    dataset, _truth = generate(120, seed=5)
    tickets = dataset.tables["tickets"].copy()
    tickets.loc[tickets.index[[3, 4]], "ticket_id"] = tickets["ticket_id"].iloc[0]  # 3 rows share one ticket id
    tickets.loc[tickets.index[[1, 6]], "hours_to_resolve"] = float("nan")
    events = dataset.tables["events"].copy()
    events.loc[events.index[[0, 10, 20]], "component"] = None
    dataset.tables.update(tickets=tickets, events=events)
    return dataset.save(tmp_path_factory.mktemp("world") / "w")


def test_the_overview_of_a_lazy_dataset_equals_the_in_memory_one(saved_world, monkeypatch):
    from churnlab.data.summary import overall_churn_rate, summarize
    from churnlab.metrics import churn_over_time
    from churnlab.notebook import column_summary

    eager = Dataset.load(saved_world, lazy=False)
    monkeypatch.setenv("CHURNLAB_LAZY_ROWS", "0")
    lazy = Dataset.load(saved_world)
    assert set(lazy.lazy_tables) == set(eager.tables) - {"customers", "subscriptions"}
    pd.testing.assert_frame_equal(summarize(lazy), summarize(eager))
    pd.testing.assert_frame_equal(missing_values(lazy), missing_values(eager))
    pd.testing.assert_frame_equal(duplicate_keys(lazy), duplicate_keys(eager))
    pd.testing.assert_frame_equal(segment_mix(lazy), segment_mix(eager))
    pd.testing.assert_frame_equal(churn_over_time(lazy, freq="MS"), churn_over_time(eager, freq="MS"))
    pd.testing.assert_frame_equal(column_summary(lazy["customers"]), column_summary(eager["customers"]))
    assert overall_churn_rate(lazy) == overall_churn_rate(eager)


def test_lazy_counts_find_the_planted_gaps_and_duplicates(saved_world, monkeypatch):
    monkeypatch.setenv("CHURNLAB_LAZY_ROWS", "0")
    lazy = Dataset.load(saved_world)
    dupes = duplicate_keys(lazy).set_index("table")
    # three ticket rows share the first ticket id (rows 0, 3 and 4); the generator's ids are otherwise unique
    assert dupes.loc["tickets", "duplicate_rows"] == 3
    gaps = missing_values(lazy).set_index(["table", "column"])["missing"]
    # component: the generator leaves some empty; planted three more, so at least 3
    assert gaps[("events", "component")] >= 3
    eager_tickets = pd.read_parquet(saved_world / "tickets.parquet")
    assert gaps[("tickets", "hours_to_resolve")] == int(eager_tickets["hours_to_resolve"].isna().sum())


def test_duplicate_rows_counts_missing_keys_as_equal_lazy_and_in_memory(tmp_path):
    from churnlab.data.overview import duplicate_rows

    frame = pd.DataFrame({"k": ["a", "a", "b", None, None], "j": [1, 1, 2, 3, 3]})
    frame.to_parquet(tmp_path / "t.parquet", index=False)
    # by eye: ("a", 1) twice and (None, 3) twice -> 4 rows share a key
    assert duplicate_rows(frame, ["k", "j"]) == duplicate_rows(tmp_path / "t.parquet", ["k", "j"]) == 4
