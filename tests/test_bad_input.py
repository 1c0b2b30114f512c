"""The bad-input battery: each broken export is refused with one clear error on both paths.

Every case starts from a small valid files config (four customers with ids that have leading zeros,
renamed from ``client``; six events) and breaks one thing. Through the CLI, ``churnlab data validate``
exits 2 with ``error:`` first and the table and column named, never a traceback; through Python,
``churnlab.data.load`` raises a :class:`~churnlab.errors.ChurnlabError` naming them. Neither path
writes anything into the data folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from churnlab.cli import main
from churnlab.data import load
from churnlab.errors import ChurnlabError

CUSTOMERS = """client,created,seg,fee
00007,2024-01-02,B2B,49.0
00012,2024-01-05,B2C,19.0
00100,2024-02-01,B2C,19.0
01000,2024-02-10,B2B,99.0
"""
EVENTS = """client,ts,type
00007,2024-01-03T10:00:00,session
00007,2024-03-01T10:00:00,session
00012,2024-01-06T09:00:00,session
00100,2024-02-02T12:00:00,session
01000,2024-02-11T08:30:00,session
01000,2024-05-20T08:30:00,session
"""
CONFIG = """name: battery
as_of: 2024-06-30
tables:
  customers:
    file: customers.csv
    rename: {client: customer_id, created: signup_at, seg: segment, fee: monthly_fee}
  events:
    file: events.csv
    rename: {client: customer_id, ts: timestamp, type: event_type}
"""
SNAPSHOT = """name: battery_snapshot
kind: snapshot
as_of: 2024-06-30
churn: {column: Churned, values: yes/no}
tables:
  customers:
    file: accounts.csv
    rename: {AccountNo: customer_id, Opened: signup_at}
"""
ACCOUNTS = """AccountNo,Opened,Plan,Churned
00007,2024-01-02,x,Yes
00012,2024-01-05,y,no
00100,2024-02-01,x,NO
"""


def _replace(name: str, old: str, new: str) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        path = folder / name
        text = path.read_text()
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new))

    return change


def _write_bytes(name: str, encode: Callable[[str], bytes]) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        path = folder / name
        path.write_bytes(encode(path.read_text()))

    return change


def _semicolons(folder: Path) -> None:
    path = folder / "events.csv"
    path.write_text(path.read_text().replace(",", ";"))


def _undeclared_flag(folder: Path) -> None:
    _replace("churnlab.yaml", "churn: {column: Churned, values: yes/no}\n", "")(folder)
    _replace("churnlab.yaml", "Opened: signup_at}", "Opened: signup_at, Churned: churned}")(folder)


def _drop_signup(folder: Path) -> None:
    _replace("customers.csv", "client,created,seg,fee", "client,opened_on,seg,fee")(folder)
    _replace("churnlab.yaml", "created: signup_at, ", "")(folder)


#: (case, change to the valid files, what the one error must say: the table.column and a phrase).
CASES: list[tuple[str, Callable[[Path], None], tuple[str, ...]]] = [
    ("mixed timezone: offsets and naive values",
     _replace("events.csv", "2024-03-01T10:00:00", "2024-03-01T10:00:00+02:00"),
     ("events.timestamp", "carry a UTC offset")),
    ("negative fee", _replace("customers.csv", "B2C,19.0\n01000", "B2C,-19.0\n01000"),
     ("customers.monthly_fee", "values >= 0", "00100")),
    ("orphan events", _replace("events.csv", "00012,2024-01-06", "00013,2024-01-06"),
     ("events.customer_id", "ids present in customers", "00013")),
    ("event before signup", _replace("events.csv", "00007,2024-01-03", "00007,2023-12-24"),
     ("events.timestamp", "before the customer's signup_at", "00007")),
    ("timestamp after as_of", _replace("events.csv", "2024-05-20", "2024-07-20"),
     ("events.timestamp", "nothing after as_of 2024-06-30", "01000")),
    ("unknown vocabulary value", _replace("customers.csv", "01000,2024-02-10,B2B", "01000,2024-02-10,SMB"),
     ("customers.segment", "found SMB", "vocabulary: segments")),
    ("missing column", _drop_signup, ("customers.signup_at", "missing")),
    ("rename of a column the file lacks", _replace("churnlab.yaml", "ts: timestamp", "tss: timestamp"),
     ("events", "'tss'")),
    ("non-numeric fee", _replace("customers.csv", "49.0", "forty-nine"),
     ("customers.monthly_fee", "found text 'forty-nine'", "00007")),
    ("null id", _replace("customers.csv", "00100,2024-02-01", ",2024-02-01"),
     ("customers.customer_id", "no missing values", "row 3")),
    ("wrong separator", _semicolons, ("events", "sep: ';'")),
    ("wrong encoding", _write_bytes("events.csv", lambda t: t.replace("session", "séance", 1).encode("latin-1")),
     ("events", "not valid utf-8", "encoding: cp1252")),
]
SNAPSHOT_CASES = [
    ("bad churn-flag value", _replace("accounts.csv", "x,NO", "x,maybe"), ("customers.Churned", "'maybe'", "yes/no")),
    ("missing churn flag", _replace("accounts.csv", "x,NO", "x,"), ("customers.Churned", "missing", "00100")),
    ("Yes/No churned column without a churn declaration", _undeclared_flag, ("customers.churned", "'Yes'", "churn:")),
]


def _files(folder: Path, snapshot: bool = False) -> Path:
    folder.mkdir()
    if snapshot:
        (folder / "accounts.csv").write_text(ACCOUNTS)
        (folder / "churnlab.yaml").write_text(SNAPSHOT)
    else:
        (folder / "customers.csv").write_text(CUSTOMERS)
        (folder / "events.csv").write_text(EVENTS)
        (folder / "churnlab.yaml").write_text(CONFIG)
    return folder / "churnlab.yaml"


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_the_valid_files_load_with_ids_kept_as_written(tmp_path):
    # The base of every case: ids renamed from `client` keep their leading zeros in both tables, so no
    # event looks orphaned (the bug of issue 12 turned 00007 into 7).
    ds = load(_files(tmp_path / "ok"))
    assert list(ds["customers"]["customer_id"]) == ["00007", "00012", "00100", "01000"]
    assert set(ds["events"]["customer_id"]) == {"00007", "00012", "00100", "01000"}
    assert str(ds["customers"]["customer_id"].dtype) in ("string", "str")


@pytest.mark.parametrize(("case", "change", "says"), CASES + SNAPSHOT_CASES, ids=[c[0] for c in CASES + SNAPSHOT_CASES])
def test_each_bad_input_is_one_clear_error_on_the_cli_and_in_python(tmp_path, case, change, says):
    config = _files(tmp_path / "data", snapshot=(case, change, says) in SNAPSHOT_CASES)
    change(config.parent)
    before = _listing(config.parent)

    result = CliRunner().invoke(main, ["data", "validate", str(config)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: "), result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    for phrase in says:
        assert phrase in result.output, result.output

    with pytest.raises(ChurnlabError) as err:
        load(config)
    for phrase in says:
        assert phrase in str(err.value)

    assert _listing(config.parent) == before  # nothing written next to the data


@pytest.mark.parametrize(("case", "change", "says"), CASES[:6], ids=[c[0] for c in CASES[:6]])
def test_describe_refuses_bad_data_with_the_same_error_and_no_traceback(tmp_path, case, change, says):
    config = _files(tmp_path / "data")
    change(config.parent)
    result = CliRunner().invoke(main, ["data", "describe", str(config)])
    assert result.exit_code == 2 and result.output.startswith("error: ")
    assert says[0] in result.output and "Traceback" not in result.output


def test_every_problem_of_one_export_comes_in_one_error(tmp_path):
    config = _files(tmp_path / "data")
    _replace("customers.csv", "B2C,19.0\n01000", "B2C,-19.0\n01000")(config.parent)
    _replace("events.csv", "00012,2024-01-06", "00013,2024-01-06")(config.parent)
    _replace("events.csv", "2024-05-20", "2024-07-20")(config.parent)
    with pytest.raises(ChurnlabError) as err:
        load(config)
    lines = str(err.value).splitlines()
    assert lines[0] == "battery: 3 problem(s)"
    assert [line.split(":")[0].strip() for line in lines[1:]] == [
        "customers.monthly_fee", "events.timestamp", "events.customer_id"
    ]


def test_validate_false_returns_the_broken_data_for_inspection(tmp_path):
    config = _files(tmp_path / "data")
    _replace("events.csv", "00012,2024-01-06", "00013,2024-01-06")(config.parent)
    ds = load(config, validate=False)
    assert "00013" in set(ds["events"]["customer_id"])


def test_consistent_offsets_are_converted_to_utc(tmp_path):
    # Europe/Berlin exports carry +01:00 in winter and +02:00 in summer: both are instants, converted to
    # naive UTC by hand: 10:00+01:00 -> 09:00, 10:00+02:00 -> 08:00, 07:00Z -> 07:00.
    config = _files(tmp_path / "data")
    (config.parent / "events.csv").write_text(
        "client,ts,type\n00007,2024-01-03T10:00:00+01:00,session\n00007,2024-05-01T10:00:00+02:00,session\n"
        "00012,2024-01-06T07:00:00Z,session\n"
    )
    events = load(config)["events"]
    assert events["timestamp"].tolist() == [
        pd.Timestamp("2024-01-03 09:00"), pd.Timestamp("2024-05-01 08:00"), pd.Timestamp("2024-01-06 07:00")
    ]
    assert not isinstance(events["timestamp"].dtype, pd.DatetimeTZDtype)


def test_a_snapshot_flag_maps_any_case_to_booleans_and_leaves_no_copy_behind(tmp_path):
    ds = load(_files(tmp_path / "snap", snapshot=True))
    customers = ds["customers"]
    assert ds.kind == "snapshot"
    assert customers["churned"].tolist() == [True, False, False]  # Yes, no, NO
    assert "Churned" not in customers.columns  # the label must not stay behind as a feature
    assert customers["customer_id"].tolist() == ["00007", "00012", "00100"]
