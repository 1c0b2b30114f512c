"""Validation of lazy tables in DuckDB gives the same problems (counts, messages, examples) as in memory.

Each corruption is applied to a small seeded world; the corrupted dataset is saved once and read back
both ways (``Dataset.load(lazy=True)``: event-level tables stay Parquet paths checked in SQL;
``lazy=False``: every table in pandas), and the two reports must be equal problem for problem.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churnlab.data.synthetic.build import generate
from churnlab.schema import Dataset, Problem, ValidationReport, validate
from churnlab.validation import validate as validate_here

AS_OF = pd.Timestamp("2024-12-31")


@pytest.fixture(scope="module")
def world() -> Dataset:
    dataset, _truth = generate(60, seed=3)
    return dataset


def _copy(dataset: Dataset, **tables: pd.DataFrame) -> Dataset:
    merged = {k: v.copy() for k, v in dataset.tables.items()} | tables
    return Dataset(dataset.name, merged, dataset.as_of, dataset.source, dataset.kind, dataset.description,
                   dict(dataset.metadata))


def _both(dataset: Dataset, folder: Path) -> tuple[ValidationReport, ValidationReport]:
    dataset.save(folder)
    lazy, eager = Dataset.load(folder, lazy=True), Dataset.load(folder, lazy=False)
    assert lazy.lazy_tables and not eager.lazy_tables
    return validate(lazy), validate(eager)


def _set(df: pd.DataFrame, column: str, rows: list[int], value) -> pd.DataFrame:
    out = df.copy()
    if value is None and out[column].dtype != object:
        out[column] = out[column].astype(object) if out[column].dtype == bool else out[column]
    out.loc[out.index[rows], column] = value
    return out


# Each corruption: (name, function of the clean world's tables -> the corrupted tables). The rows 2, 5 and 7
# (0-based positions) are the ones touched unless said otherwise.
ROWS = [2, 5, 7]
CORRUPTIONS = {
    "a required column dropped": lambda t: {"events": t["events"].drop(columns="event_type")},
    "timestamps after as_of": lambda t: {"events": _set(t["events"], "timestamp", ROWS, AS_OF + pd.Timedelta("3D"))},
    "activity before signup": lambda t: {"messages": _set(t["messages"], "sent_at", ROWS, pd.Timestamp("1990-01-01"))},
    "customer ids unknown to customers": lambda t: {"payments": _set(t["payments"], "customer_id", ROWS, "ghost")},
    "missing values in a non-nullable float": lambda t: {"payments": _set(t["payments"], "amount", ROWS, np.nan)},
    "a negative amount": lambda t: {"payments": _set(t["payments"], "amount", ROWS, -5.0)},
    "a category outside the vocabulary": lambda t: {"tickets": _set(t["tickets"], "category", ROWS, "legal")},
    "a message kind not allowed": lambda t: {"messages": _set(t["messages"], "kind", ROWS, "fax")},
    "a duplicated ticket id": lambda t: {"tickets": _set(t["tickets"], "ticket_id", ROWS, t["tickets"]["ticket_id"].iloc[0])},
    "a duplicated funnel stage": lambda t: {"funnel": pd.concat([t["funnel"], t["funnel"].iloc[[4, 9]]])},
    "text in a numeric column": lambda t: {"tickets": t["tickets"].assign(line=t["tickets"]["line"].astype(str).where(
        t["tickets"].index % 4 != 1, "two"))},
    "an int column with missing values": lambda t: {"tickets": _set(t["tickets"], "line", ROWS, np.nan)},
    "a bool column with missing values": lambda t: {"messages": _set(t["messages"], "opened", ROWS, None)},
    "missing customer ids": lambda t: {"events": _set(t["events"], "customer_id", ROWS, None)},
    "an empty table": lambda t: {"contacts": t["contacts"].iloc[:0]},
    "a timezone on timestamps": lambda t: {"events": t["events"].assign(timestamp=t["events"]["timestamp"].dt.tz_localize("UTC"))},
    "survey scores off their scales": lambda t: {"surveys": _set(t["surveys"], "score", list(range(0, 40, 3)), 42.0)},
    "a float where a bool belongs": lambda t: {"messages": t["messages"].assign(clicked=t["messages"]["clicked"].astype(float))},
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_a_corrupted_table_gives_the_same_problems_lazy_and_in_memory(world, corruption, tmp_path):
    corrupted = _copy(world, **CORRUPTIONS[corruption](world.tables))
    lazy, eager = _both(corrupted, tmp_path / "w")
    assert not eager.ok, f"the corruption {corruption!r} must be found at all"
    assert lazy.problems == eager.problems
    assert str(lazy) == str(eager)


def test_the_clean_world_is_valid_both_ways(world, tmp_path):
    lazy, eager = _both(world, tmp_path / "w")
    assert lazy.ok and eager.ok


def test_late_timestamps_are_counted_with_the_first_three_customers_as_examples(world, tmp_path):
    events = world["events"]
    corrupted = _copy(world, events=_set(events, "timestamp", [2, 5, 7, 11], AS_OF + pd.Timedelta("1D")))
    lazy, _ = _both(corrupted, tmp_path / "w")
    (problem,) = [p for p in lazy.problems if p.column == "timestamp"]
    # four rows set by hand; the examples are the customer ids of the first three distinct ones in file order
    assert problem.n_rows == 4
    first = pd.unique(events["customer_id"].iloc[[2, 5, 7, 11]].astype(str))[:3]
    assert problem.examples == tuple(first)
    assert str(problem).startswith("events.timestamp: expected nothing after as_of 2024-12-31; 4 rows, e.g. ")


def test_rows_without_a_customer_id_are_named_by_their_row_across_the_files_of_a_folder(world, tmp_path):
    events = _set(world["events"], "customer_id", [1, len(world["events"]) - 2], None)
    half = len(events) // 2
    folder = tmp_path / "events"
    folder.mkdir()
    events.iloc[:half].to_parquet(folder / "part-0.parquet", index=False)
    events.iloc[half:].to_parquet(folder / "part-1.parquet", index=False)
    lazy = _copy(world)
    lazy.tables["events"] = folder
    eager = _copy(world, events=pd.read_parquet(folder))
    (problem,) = [p for p in validate(lazy).problems if p.column == "customer_id" and p.table == "events"]
    # rows 2 and len-1 (1-based) are the two set to None: the second lies in the second file
    assert problem.examples == ("row 2", f"row {len(events) - 1}")
    assert validate(lazy).problems == validate(eager).problems


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(late=st.sets(st.integers(0, 199), max_size=6), ghosts=st.sets(st.integers(0, 199), max_size=6),
       missing=st.sets(st.integers(0, 199), max_size=6))
def test_random_late_unknown_and_missing_rows_agree_lazy_and_in_memory(world, tmp_path_factory, late, ghosts, missing):
    events = world["events"].iloc[:200].copy()
    events = _set(events, "timestamp", sorted(late), AS_OF + pd.Timedelta("2h")) if late else events
    events = _set(events, "customer_id", sorted(ghosts), "nobody") if ghosts else events
    events = _set(events, "event_type", sorted(missing), None) if missing else events
    lazy, eager = _both(_copy(world, events=events), tmp_path_factory.mktemp("w"))
    assert lazy.problems == eager.problems
    late_problems = [p for p in eager.problems if p.column == "timestamp"]
    assert sum(p.n_rows for p in late_problems) == len(late)


def test_validating_lazy_tables_reads_no_table_into_pandas(world, tmp_path, monkeypatch):
    world.save(tmp_path / "w")
    lazy = Dataset.load(tmp_path / "w", lazy=True)

    def refuse(*args, **kwargs):
        raise AssertionError("a lazy table was read into pandas")

    monkeypatch.setattr(pd, "read_parquet", refuse)
    monkeypatch.setattr("churnlab.lazy.read_frame", refuse)
    assert validate(lazy).ok


def test_validate_stays_importable_from_schema():
    assert validate is validate_here
    assert Problem("t", None, "x").table == "t"
