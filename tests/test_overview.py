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
