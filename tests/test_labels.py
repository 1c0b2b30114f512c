"""Label times: window boundaries, populations, settings and clear errors (all numbers by hand)."""

from __future__ import annotations

import pandas as pd
import pytest

from churnlab.errors import AnalysisError, MissingTableError
from churnlab.labels import LabelTimes, make_label_times, monthly_cutoffs, population
from churnlab.schema import Dataset

T = pd.Timestamp
CUT = T("2021-03-01")


def _customers(ids, signup="2021-01-01"):
    return pd.DataFrame({"customer_id": pd.Series(ids, dtype="string"),
                         "signup_at": pd.to_datetime([signup] * len(ids))})


def _events_dataset(stamps: dict[str, list[str]], as_of="2021-06-30") -> Dataset:
    rows = [(cid, T(ts)) for cid, tss in stamps.items() for ts in tss]
    events = pd.DataFrame(rows, columns=["customer_id", "timestamp"]).astype({"customer_id": "string"})
    events["event_type"] = pd.Series(["purchase"] * len(events), dtype="string")
    return Dataset("hand", {"customers": _customers(list(stamps)), "events": events}, as_of=T(as_of), source="test")


def _subs_dataset(spells: dict[str, list[tuple[str, str | None]]], signup="2021-01-01") -> Dataset:
    rows = [(cid, f"{cid}-{i}", T(s), T(e) if e else pd.NaT)
            for cid, ss in spells.items() for i, (s, e) in enumerate(ss)]
    subs = pd.DataFrame(rows, columns=["customer_id", "subscription_id", "start_at", "end_at"])
    subs = subs.astype({"customer_id": "string", "subscription_id": "string"})
    subs["churn_reason"] = pd.Series([None] * len(subs), dtype="string")
    return Dataset("hand", {"customers": _customers(list(spells), signup), "subscriptions": subs},
                   as_of=T("2021-06-30"), source="test")


def _label(lt: LabelTimes, cid: str) -> bool:
    row = lt.table[lt.table["customer_id"] == cid]
    assert len(row) == 1, f"{cid} should appear once"
    return bool(row["label"].iloc[0])


def test_inactivity_window_is_open_at_the_cutoff_and_closed_at_its_end():
    # window (2021-03-01, 2021-03-31]: an event at the cutoff is not in it, one at the end is.
    ds = _events_dataset({
        "at_cutoff": ["2021-02-01", "2021-03-01"],
        "at_end": ["2021-02-01", "2021-03-31"],
        "just_after_end": ["2021-02-01", "2021-03-31 00:00:01"],
        "inside": ["2021-02-01", "2021-03-15"],
    })
    lt = make_label_times(ds, [CUT], horizon_days=30)
    assert lt.definition == "inactivity"
    assert _label(lt, "at_cutoff") is True
    assert _label(lt, "at_end") is False
    assert _label(lt, "just_after_end") is True
    assert _label(lt, "inside") is False


def test_subscription_churn_is_the_end_of_the_last_merged_spell():
    ds = _subs_dataset({
        "ends_in_window": [("2021-01-01", "2021-03-20")],
        "ends_at_window_end": [("2021-01-01", "2021-03-31")],
        "ends_after_window": [("2021-01-01", "2021-04-01")],
        "renewed_back_to_back": [("2021-01-01", "2021-03-10"), ("2021-03-10", None)],
        "ended_at_cutoff": [("2021-01-01", "2021-03-01")],
        "open": [("2021-01-01", None)],
    })
    lt = make_label_times(ds, [CUT], horizon_days=30)
    assert lt.definition == "subscription"
    assert _label(lt, "ends_in_window") is True
    assert _label(lt, "ends_at_window_end") is True
    assert _label(lt, "ends_after_window") is False
    assert _label(lt, "renewed_back_to_back") is False
    assert _label(lt, "open") is False
    assert "ended_at_cutoff" not in set(lt.table["customer_id"])  # not active at the cutoff


def test_a_subscription_starting_exactly_at_the_cutoff_counts_only_with_include_cutoff():
    ds = _subs_dataset({"starts_at_cutoff": [("2021-03-01", None)], "old": [("2021-01-01", None)]}, signup="2021-01-01")
    assert set(make_label_times(ds, [CUT]).table["customer_id"]) == {"old"}
    assert set(make_label_times(ds, [CUT], include_cutoff=True).table["customer_id"]) == {"old", "starts_at_cutoff"}


def test_customers_churning_during_the_gap_are_not_scored_and_the_window_shifts():
    ds = _subs_dataset({"in_gap": [("2021-01-01", "2021-03-05")], "after_gap": [("2021-01-01", "2021-03-20")],
                        "late": [("2021-01-01", "2021-04-20")]})
    lt = make_label_times(ds, [CUT], horizon_days=30, gap_days=7)  # window (03-08, 04-07]
    assert set(lt.table["customer_id"]) == {"after_gap", "late"}
    assert _label(lt, "after_gap") is True
    assert _label(lt, "late") is False
    assert lt.settings["gap_days"] == 7


def test_several_cutoffs_give_several_rows_per_customer_with_their_own_labels():
    ds = _subs_dataset({"a": [("2021-01-01", "2021-04-15")]})
    lt = make_label_times(ds, ["2021-02-01", "2021-03-01", "2021-04-01"], horizon_days=30)
    assert lt.table["label"].tolist() == [False, False, True]
    assert list(lt.summary["n_customers"]) == [1, 1, 1]


def test_min_tenure_leaves_out_new_customers():
    ds = _events_dataset({"a": ["2021-01-05"]})
    # signup 2021-01-01: tenure at 2021-03-01 is 31 + 28 = 59 days
    with pytest.raises(AnalysisError, match="no customer"):
        make_label_times(ds, [CUT], min_tenure_days=60)
    lt = make_label_times(ds, [CUT], min_tenure_days=59)
    assert len(lt) == 1


def test_empty_cutoffs_and_censored_windows_raise_clear_errors():
    ds = _events_dataset({"a": ["2021-01-05"]})
    with pytest.raises(AnalysisError, match="cutoffs is empty"):
        make_label_times(ds, [])
    with pytest.raises(AnalysisError, match="censored"):
        make_label_times(ds, ["2021-06-15"], horizon_days=30)
    with pytest.raises(AnalysisError, match="definition"):
        make_label_times(ds, [CUT], definition="magic")
    with pytest.raises(MissingTableError, match="subscriptions"):
        make_label_times(ds, [CUT], definition="subscription")


def test_monthly_cutoffs_stop_where_the_label_window_would_pass_as_of():
    ds = _events_dataset({"a": ["2021-01-05"]}, as_of="2021-06-30")
    cuts = monthly_cutoffs(ds, horizon_days=30)
    # first activity 2021-01-05 + 90 days = 2021-04-05 -> next month start 2021-05-01;
    # last month start <= 06-30 - 30 d = 05-31
    assert cuts == [T("2021-05-01")]


def test_population_lists_active_customers_without_needing_the_future():
    ds = _subs_dataset({"a": [("2021-01-01", None)], "gone": [("2021-01-01", "2021-02-01")]})
    pop = population(ds, ["2021-06-30"])
    assert pop["customer_id"].tolist() == ["a"]


def test_snapshot_labels_are_the_churned_column_at_as_of():
    customers = _customers(["x", "y", "z"]).assign(churned=[True, False, True], tenure=[1, 2, 3])
    ds = Dataset("snap", {"customers": customers}, as_of=T("2020-01-01"), source="test", kind="snapshot")
    lt = make_label_times(ds)
    assert lt.definition == "snapshot"
    assert lt.table["label"].tolist() == [True, False, True]
    assert lt.cutoffs == [T("2020-01-01")]
    assert "snapshot" in repr(lt) and "<table" in lt._repr_html_()


# ---------------------------------------------------------------- vectorised inactivity labels


def _plain_pandas_inactivity(customers: pd.DataFrame, events: pd.DataFrame, cutoffs, horizon_days: int) -> pd.DataFrame:
    """The definition written the slow, obvious way: one set of active ids per cutoff."""
    rows = []
    for c in cutoffs:
        inside = (events["timestamp"] > c) & (events["timestamp"] <= c + pd.Timedelta(days=horizon_days))
        active = set(events.loc[inside, "customer_id"].astype(str))
        pop = customers.loc[customers["signup_at"] < c, "customer_id"].astype(str)
        rows += [(cid, c, cid not in active) for cid in pop]
    out = pd.DataFrame(rows, columns=["customer_id", "cutoff", "label"]).astype({"customer_id": "string"})
    out["cutoff"] = out["cutoff"].astype("datetime64[ns]")
    return out.sort_values(["cutoff", "customer_id"], kind="stable").reset_index(drop=True)


def test_inactivity_labels_on_cdnow_equal_the_plain_pandas_definition():
    from churnlab import data

    cd = data.load("cdnow")
    lt = make_label_times(cd, definition="inactivity")
    expected = _plain_pandas_inactivity(cd["customers"], cd["events"], lt.cutoffs, lt.horizon_days)
    assert len(lt) > 300_000  # every CDNOW customer at each monthly cutoff
    pd.testing.assert_frame_equal(lt.table, expected)


def test_inactivity_labels_of_a_synthetic_world_equal_the_plain_definition_from_pandas_and_from_parquet(tmp_path):
    from churnlab.data.synthetic import generate

    world, _ = generate(300, seed=5)
    lt = make_label_times(world, definition="inactivity", horizon_days=14)
    expected = _plain_pandas_inactivity(world["customers"], world["events"], lt.cutoffs, 14)
    assert 0.02 < expected["label"].mean() < 0.98  # both labels occur: the comparison can fail
    pd.testing.assert_frame_equal(lt.table, expected)
    path = tmp_path / "events.parquet"
    world["events"].to_parquet(path, index=False)
    on_disk = Dataset(world.name, {**world.tables, "events": str(path)}, as_of=world.as_of, source="test")
    pd.testing.assert_frame_equal(make_label_times(on_disk, definition="inactivity", horizon_days=14).table,
                                  expected)


def _on_backend(con, frame: pd.DataFrame, path):
    """``frame`` as a table of the ibis backend ``con`` (through Parquet: ibis 12's create_table fails on DuckDB 2)."""
    frame.to_parquet(path, index=False)
    return con.read_parquet(str(path))


def test_inactivity_window_bounds_hold_when_the_events_live_on_an_ibis_backend(tmp_path):
    # the same hand cases as test_inactivity_window_is_open_at_the_cutoff_and_closed_at_its_end, with the events
    # a table of an ibis backend (as a Spark or warehouse table would be): the window join runs there
    import ibis

    ds = _events_dataset({
        "at_cutoff": ["2021-02-01", "2021-03-01"],
        "at_end": ["2021-02-01", "2021-03-31"],
        "just_after_end": ["2021-02-01", "2021-03-31 00:00:01"],
        "inside": ["2021-02-01", "2021-03-15"],
        "silent": ["2021-02-01"],
    })
    con = ibis.duckdb.connect()
    on_backend = Dataset("hand", {**ds.tables, "events": _on_backend(con, ds["events"], tmp_path / "e.parquet")},
                         as_of=ds.as_of, source="test")
    lt = make_label_times(on_backend, [CUT], horizon_days=30)
    assert {cid: _label(lt, cid) for cid in ["at_cutoff", "at_end", "just_after_end", "inside", "silent"]} == {
        "at_cutoff": True, "at_end": False, "just_after_end": True, "inside": False, "silent": True}
    pd.testing.assert_frame_equal(lt.table, make_label_times(ds, [CUT], horizon_days=30).table)
    # the first event is read from the backend too: 2021-02-01 + 90 days = 2021-05-02, so the first month start
    # is 2021-06-01, whose 14-day window ends 2021-06-15, before as_of 2021-06-30
    assert monthly_cutoffs(on_backend, horizon_days=14) == [T("2021-06-01")] == monthly_cutoffs(ds, horizon_days=14)


def test_label_times_with_an_ibis_backend_equal_the_duckdb_engines_on_a_synthetic_world(tmp_path):
    import ibis

    from churnlab.data.synthetic import generate

    world, _ = generate(300, seed=5)
    path = tmp_path / "events.parquet"
    world["events"].to_parquet(path, index=False)
    on_disk = Dataset(world.name, {**world.tables, "events": path}, as_of=world.as_of, source="test")
    cutoffs = ["2024-06-01", "2024-09-01"]
    con = ibis.duckdb.connect()
    expected = make_label_times(on_disk, cutoffs, definition="inactivity").table
    assert 0.02 < expected["label"].mean() < 0.98  # both labels occur: the comparison can fail
    # a Parquet path read by the ibis backend itself
    pd.testing.assert_frame_equal(make_label_times(on_disk, cutoffs, definition="inactivity", backend=con).table,
                                  expected)
    # subscriptions given as a backend table come back as a small frame and are labelled as in pandas
    subs_on_backend = Dataset(world.name, {**world.tables, "subscriptions": _on_backend(con, world["subscriptions"],
                                                                                 tmp_path / "s.parquet")},
                              as_of=world.as_of, source="test")
    pd.testing.assert_frame_equal(make_label_times(subs_on_backend, cutoffs).table, make_label_times(world, cutoffs).table)


def test_events_on_another_ibis_backend_than_the_one_given_raise_a_clear_error(tmp_path):
    import ibis

    ds = _events_dataset({"a": ["2021-02-01", "2021-03-15"]})
    events = _on_backend(ibis.duckdb.connect(), ds["events"], tmp_path / "e.parquet")
    elsewhere = Dataset("hand", {**ds.tables, "events": events}, as_of=ds.as_of, source="test")
    with pytest.raises(AnalysisError, match="another ibis backend"):
        make_label_times(elsewhere, [CUT], backend=ibis.duckdb.connect())
