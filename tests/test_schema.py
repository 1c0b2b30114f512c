"""The canonical schema: validation messages, the Dataset container and its fingerprint."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnlab.errors import MissingTableError, SchemaError
from churnlab.schema import SCHEMAS, Dataset, fingerprint, require_columns, validate

AS_OF = pd.Timestamp("2024-06-30")


def tiny_dataset(**overrides: pd.DataFrame) -> Dataset:
    """Two customers, a session each and one ticket: valid unless a table is overridden."""
    tables = {
        "customers": pd.DataFrame(
            {
                "customer_id": ["a", "b"],
                "signup_at": pd.to_datetime(["2024-01-01", "2024-02-01"]),
                "segment": ["B2B", "B2C"],
            }
        ),
        "events": pd.DataFrame(
            {
                "customer_id": ["a", "b"],
                "timestamp": pd.to_datetime(["2024-01-05", "2024-02-03"]),
                "event_type": ["session", "session"],
            }
        ),
        "tickets": pd.DataFrame(
            {
                "customer_id": ["a"],
                "ticket_id": ["t1"],
                "opened_at": pd.to_datetime(["2024-03-01"]),
                "line": [2],
                "category": ["technical"],
                "resolved_by_bot": [False],
                "first_contact_resolution": [True],
                "hours_to_resolve": [3.5],
                "csat": [4.0],
            }
        ),
    }
    tables.update(overrides)
    return Dataset("tiny", tables, as_of=AS_OF, source="test")


def problems_of(ds: Dataset) -> list[str]:
    return [str(p) for p in validate(ds).problems]


def test_a_valid_dataset_reports_no_problem():
    report = validate(tiny_dataset())
    assert report.ok, str(report)
    assert str(report) == "tiny: valid"


def test_a_missing_table_that_a_function_needs_is_named_with_what_the_dataset_has():
    ds = tiny_dataset()
    with pytest.raises(MissingTableError, match=r"no table 'payments' \(needed by late_payments\); it provides: customers"):
        ds.require("payments", by="late_payments")
    (problem,) = validate(ds, needs=["payments"]).problems
    assert str(problem) == "payments: expected table 'payments' to be provided; the dataset has customers, events, tickets"


def test_a_missing_column_names_table_and_column():
    events = tiny_dataset()["events"].drop(columns="event_type")
    assert problems_of(tiny_dataset(events=events)) == ["events.event_type: expected a column of string values; it is missing"]


def test_text_in_a_numeric_column_is_named_with_the_text_found():
    tickets = tiny_dataset()["tickets"].assign(line=["two"])
    (msg,) = problems_of(tiny_dataset(tickets=tickets))
    assert msg == "tickets.line: expected numbers (int), found text 'two'; 1 rows, e.g. a"


def test_a_wrong_dtype_names_the_column_the_dtype_and_values_found():
    customers = tiny_dataset()["customers"].assign(churned=["Yes", "No"])
    (msg,) = problems_of(tiny_dataset(customers=customers))
    assert msg.startswith("customers.churned: expected dtype bool, found") and "'Yes', 'No'" in msg


def test_timezone_aware_timestamps_are_rejected_as_not_utc_naive():
    events = tiny_dataset()["events"]
    events = events.assign(timestamp=events["timestamp"].dt.tz_localize("Europe/Berlin"))
    (msg,) = problems_of(tiny_dataset(events=events))
    assert "events.timestamp" in msg and "timezone-naive" in msg


def test_a_duplicate_key_is_reported_with_the_offending_keys():
    customers = tiny_dataset()["customers"]
    customers = pd.concat([customers, customers.iloc[[0]]], ignore_index=True)
    (msg,) = problems_of(tiny_dataset(customers=customers))
    assert msg == "customers.customer_id: expected unique key values; 2 rows, e.g. a"


def test_activity_before_signup_is_reported_per_table_and_column():
    events = tiny_dataset()["events"].assign(timestamp=pd.to_datetime(["2023-12-31", "2024-02-03"]))
    (msg,) = problems_of(tiny_dataset(events=events))
    assert msg == "events.timestamp: expected no activity before the customer's signup_at; 1 rows, e.g. a"


def test_a_timestamp_after_as_of_is_reported():
    tickets = tiny_dataset()["tickets"].assign(opened_at=pd.to_datetime(["2024-07-02"]))
    (msg,) = problems_of(tiny_dataset(tickets=tickets))
    assert msg == "tickets.opened_at: expected nothing after as_of 2024-06-30; 1 rows, e.g. a"


def test_values_outside_the_vocabulary_are_reported_with_what_was_found():
    customers = tiny_dataset()["customers"].assign(segment=["B2B", "SMB"])
    (msg,) = problems_of(tiny_dataset(customers=customers))
    assert msg == (
        "customers.segment: expected one of ['B2B', 'B2C'] (found SMB; declare it under vocabulary: segments); "
        "1 rows, e.g. b"
    )


def test_unknown_customer_ids_in_activity_tables_are_reported():
    events = tiny_dataset()["events"].assign(customer_id=["a", "zzz"])
    assert "events.customer_id: expected ids present in customers; 1 rows, e.g. zzz" in problems_of(tiny_dataset(events=events))


def test_every_problem_is_reported_at_once_one_line_each():
    events = tiny_dataset()["events"].assign(timestamp=pd.to_datetime(["2023-12-31", "2024-08-01"]))
    customers = tiny_dataset()["customers"].assign(segment=["B2B", "SMB"])
    report = validate(tiny_dataset(events=events, customers=customers))
    assert len(report.problems) == 3
    with pytest.raises(SchemaError) as err:
        report.raise_if_failed()
    assert str(err.value).count("\n") == 3


def test_an_empty_table_is_a_problem():
    (msg,) = problems_of(tiny_dataset(events=tiny_dataset()["events"].iloc[:0]))
    assert msg == "events: expected at least one row; the table is empty"


def test_unknown_table_names_are_refused_when_the_dataset_is_built():
    with pytest.raises(SchemaError, match="unknown table"):
        Dataset("x", {"customer": pd.DataFrame()}, as_of=AS_OF, source="test")


def test_require_columns_names_the_first_missing_column():
    with pytest.raises(SchemaError, match="^events.component: missing column"):
        require_columns(pd.DataFrame({"customer_id": []}), ["customer_id", "component"], table="events")


def test_every_schema_is_keyed_by_customer_id():
    assert all(s.columns[0].name == "customer_id" for s in SCHEMAS.values())


def test_a_saved_dataset_loads_back_with_the_same_fingerprint(tmp_path):
    ds = tiny_dataset()
    back = Dataset.load(ds.save(tmp_path / "tiny"))
    assert back.fingerprint == ds.fingerprint
    assert back.as_of == ds.as_of and back.name == "tiny"


frames = st.lists(
    st.tuples(st.text(min_size=1, max_size=4), st.integers(-1000, 1000), st.floats(-1e6, 1e6, allow_nan=False)),
    min_size=1,
    max_size=30,
).map(lambda rows: pd.DataFrame(rows, columns=["customer_id", "n", "x"]))


@settings(max_examples=60, deadline=None)
@given(frames, st.randoms(use_true_random=False))
def test_the_fingerprint_ignores_row_and_column_order(df, rnd):
    order = list(range(len(df)))
    rnd.shuffle(order)
    shuffled = df.iloc[order][["x", "customer_id", "n"]]
    assert fingerprint({"t": df}) == fingerprint({"t": shuffled})


@settings(max_examples=60, deadline=None)
@given(frames, st.data())
def test_the_fingerprint_changes_when_one_value_changes(df, data):
    row = data.draw(st.integers(0, len(df) - 1))
    changed = df.copy()
    changed.loc[changed.index[row], "n"] = changed["n"].iloc[row] + 1
    assert fingerprint({"t": df}) != fingerprint({"t": changed})


def test_the_fingerprint_is_stable_across_processes():
    code = (
        "import pandas as pd; from churnlab.schema import fingerprint; "
        "print(fingerprint({'t': pd.DataFrame({'customer_id': ['a', 'b'], 'n': [1, 2]})}))"
    )
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout for _ in range(2)}
    here = fingerprint({"t": pd.DataFrame({"customer_id": ["a", "b"], "n": [1, 2]})})
    assert runs == {here + "\n"}


def test_a_declared_vocabulary_replaces_the_default_and_is_checked():
    customers = tiny_dataset()["customers"].assign(segment=["SMB", "Enterprise"])
    ds = tiny_dataset(customers=customers)
    assert not validate(ds).ok
    ds.metadata = {"vocabulary": {"segments": ["SMB", "Enterprise"]}}
    assert validate(ds).ok, str(validate(ds))
    assert ds.vocabulary("segments") == ("SMB", "Enterprise")
    assert ds.vocabulary("funnel_stages") == ("visit", "signup", "activation", "first_payment")  # the default


def test_a_declared_vocabulary_survives_save_and_load(tmp_path):
    ds = tiny_dataset()
    ds.metadata = {"vocabulary": {"funnel_stages": ["visit", "demo_call", "signup"], "csat_scale": [1, 10]}}
    back = Dataset.load(ds.save(tmp_path / "tiny"))
    assert back.vocabulary("funnel_stages") == ("visit", "demo_call", "signup")
    assert back.vocabulary("csat_scale") == (1.0, 10.0)


def test_an_unusable_vocabulary_is_refused_when_the_dataset_is_built():
    with pytest.raises(SchemaError, match="email_channels: expected a subset of message_channels"):
        Dataset("x", {}, as_of=AS_OF, source="test",
                metadata={"vocabulary": {"message_channels": ["sms"], "email_channels": ["email"]}})
    with pytest.raises(SchemaError, match="unknown entry 'stages'"):
        Dataset("x", {}, as_of=AS_OF, source="test", metadata={"vocabulary": {"stages": ["a"]}})
    with pytest.raises(SchemaError, match="unknown entry 'colours'"):
        tiny_dataset().vocabulary("colours")


def test_declared_channels_without_email_have_no_email_like_channel():
    ds = Dataset("x", {}, as_of=AS_OF, source="test", metadata={"vocabulary": {"message_channels": ["sms", "push"]}})
    assert ds.vocabulary("email_channels") == ()


def test_values_outside_their_range_are_reported_with_the_range_and_what_was_found():
    tickets = tiny_dataset()["tickets"].assign(hours_to_resolve=[-2.0], csat=[7.0])
    customers = tiny_dataset()["customers"].assign(monthly_fee=[10.0, -1.5])
    assert problems_of(tiny_dataset(tickets=tickets, customers=customers)) == [
        "customers.monthly_fee: expected values >= 0 (found -1.5); 1 rows, e.g. b",
        "tickets.hours_to_resolve: expected values >= 0 (found -2); 1 rows, e.g. a",
        "tickets.csat: expected values on the csat scale 1-5 (found 7); 1 rows, e.g. a",
    ]


def test_csat_is_checked_on_the_declared_scale_and_nps_on_0_to_10():
    surveys = pd.DataFrame({"customer_id": ["a", "b", "a"], "answered_at": pd.to_datetime(["2024-03-01"] * 3),
                            "kind": ["nps", "csat", "csat"], "score": [11.0, 7.0, 9.0]})
    ds = tiny_dataset(surveys=surveys)
    assert problems_of(ds) == [
        "surveys.score: expected NPS scores between 0 and 10 where kind is nps (found 11); 1 rows, e.g. a",
        "surveys.score: expected CSAT scores on the csat scale 1-5 where kind is csat (found 7 to 9); 2 rows, e.g. b, a",
    ]
    ds.metadata = {"vocabulary": {"csat_scale": [0, 10]}}
    assert problems_of(ds) == [
        "surveys.score: expected NPS scores between 0 and 10 where kind is nps (found 11); 1 rows, e.g. a"
    ]


def test_a_null_id_is_reported_by_its_row_number():
    customers = tiny_dataset()["customers"].assign(customer_id=pd.array(["a", None], dtype="string"))
    assert "customers.customer_id: expected no missing values; 1 rows, e.g. row 2" in problems_of(
        tiny_dataset(customers=customers))


def test_a_snapshot_without_a_churn_flag_is_a_problem():
    ds = Dataset("snap", {"customers": tiny_dataset()["customers"]}, as_of=AS_OF, source="test", kind="snapshot")
    assert problems_of(ds) == [
        "customers.churned: expected a churn flag in a snapshot dataset; it is missing "
        "(a files config declares it with churn: {column: ...})"
    ]


def test_timestamps_with_mixed_timezones_built_in_python_are_named():
    events = tiny_dataset()["events"].astype({"timestamp": object})
    events["timestamp"] = [pd.Timestamp("2024-01-05", tz="UTC"), pd.Timestamp("2024-02-03", tz="Europe/Berlin")]
    (msg,) = problems_of(tiny_dataset(events=events))
    assert msg.startswith("events.timestamp: expected timezone-naive UTC datetimes, found timezones")
