"""The committed samples: reproducible from their seeded script, valid, and read as their configs say."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from churnlab.data import load
from churnlab.labels import make_label_times

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def test_the_seeded_script_reproduces_the_committed_sample_files(tmp_path):
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for made in sorted(tmp_path.rglob("*.csv")):
        committed = SAMPLES / made.relative_to(tmp_path)
        assert made.read_bytes() == committed.read_bytes(), f"{committed} differs from what the script writes"


def test_the_telecom_snapshot_keeps_leading_zeros_and_maps_its_yes_no_flag():
    raw = pd.read_csv(SAMPLES / "telecom" / "accounts.csv", dtype=str)
    ds = load(SAMPLES / "telecom" / "telecom.yaml")
    customers = ds["customers"]
    assert ds.kind == "snapshot" and len(customers) == 600
    assert customers["customer_id"].tolist() == raw["AccountNo"].tolist()
    assert customers["customer_id"].str.startswith("0").sum() == raw["AccountNo"].str.startswith("0").sum() > 0
    # The flag as written: 131 Yes of 600 (pandas value_counts of the raw column).
    assert int(customers["churned"].sum()) == int((raw["Churned"] == "Yes").sum()) == 131
    # Tenure 41 months before 2024-03-31 is 41 x 30.4375 = 1247.9 days, floored to the day: 2020-10-30.
    first = customers.set_index("customer_id").loc[raw["AccountNo"].iloc[0]]
    assert raw["MonthsActive"].iloc[0] == "41" and first["signup_at"] == pd.Timestamp("2020-10-30")
    assert ds.vocabulary("segments") == ("Consumer", "SMB", "Enterprise")


def test_the_streaming_log_reads_its_own_vocabularies_and_converts_berlin_time_to_utc():
    ds = load(SAMPLES / "streaming" / "streaming.yaml")
    assert ds.vocabulary("funnel_stages") == ("visit", "demo_call", "signup", "activation", "first_payment")
    assert ds.vocabulary("message_channels") == ("email", "sms", "messenger")
    assert ds.vocabulary("email_channels") == ("email",)
    assert set(ds["messages"]["channel"]) == {"email", "sms", "messenger"}
    raw = pd.read_csv(SAMPLES / "streaming" / "views.csv", sep=";", dtype=str)
    events = ds["events"]
    # Summer time, UTC+2: 03:23:04+02:00 is 01:23:04 UTC. The night summer time ended (2023-10-29),
    # 02:50:55+01:00 is 01:50:55 UTC. Both by hand from the offsets written in the file.
    for row, utc in [(0, "2023-07-04 01:23:04"), (1908, "2023-10-29 01:50:55")]:
        assert raw["at"].iloc[row] in ("2023-07-04T03:23:04+02:00", "2023-10-29T02:50:55+01:00")
        assert events["customer_id"].iloc[row] == raw["member"].iloc[row]
        assert events["timestamp"].iloc[row] == pd.Timestamp(utc)


def test_a_saved_sample_keeps_its_vocabulary(tmp_path):
    ds = load(SAMPLES / "streaming" / "streaming.yaml")
    back = load(ds.save(tmp_path / "streaming"))
    assert back.vocabulary("funnel_stages") == ds.vocabulary("funnel_stages")
    assert back.fingerprint == ds.fingerprint


@pytest.mark.parametrize("config", ["telecom/telecom.yaml", "streaming/streaming.yaml"])
def test_each_sample_gives_labels_with_churners_and_stayers(config):
    ds = load(SAMPLES / config)
    from churnlab.labels import monthly_cutoffs

    labels = make_label_times(ds, monthly_cutoffs(ds))
    rate = labels.table["label"].mean()
    assert 0.05 < rate < 0.5, rate
