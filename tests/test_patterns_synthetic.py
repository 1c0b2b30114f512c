"""On the synthetic world, every built-in churn mechanism shows up in its true direction.

One small world (2,000 customers, seed 0) is pooled over monthly cutoffs. Strong mechanisms (the
interface change, recency, the event study) must be significant; weaker ones at this size (late
payments, component stopping) must at least point the right way.
"""

import pandas as pd
import pytest

from churnlab.features import build_features
from churnlab.labels import make_label_times
from churnlab.patterns.engagement import dated_events, event_effect, world_event
from churnlab.patterns.event_study import event_study
from churnlab.patterns.exposure import compare_exposed
from churnlab.patterns.population import cutoff_profile
from churnlab.patterns.signals import signal_table
from churnlab.patterns.usage import component_usage, usage_flags
from churnlab.schema import Dataset

synthetic = pytest.importorskip("churnlab.data.synthetic")

CUTOFFS = pd.date_range("2024-08-01", "2024-11-01", freq="MS")


@pytest.fixture(scope="module")
def world():
    dataset, truth = synthetic.generate(2000, seed=0)
    return dataset, truth


@pytest.fixture(scope="module")
def pooled(world):
    dataset, _ = world
    frames = []
    for cut in CUTOFFS:
        pop = cutoff_profile(dataset, cut, 30)
        flags = usage_flags(pop, dataset)
        comps = component_usage(dataset, pop)
        flags["stopped_any"] = comps[[c for c in comps if c.startswith("stopped_")]].fillna(False).any(axis=1).to_numpy()
        frames.append(flags)
    return pd.concat(frames, ignore_index=True)


def test_churn_rises_from_the_most_recent_to_the_least_recent_bucket(pooled):
    rates = pooled.groupby("recency_bucket", observed=True)["label"].mean()
    assert rates["6+ wk"] > rates["0-2 wk"]
    quiet = compare_exposed(pooled.assign(quiet=pooled["days_since_last_session"] >= 14), "quiet").iloc[0]
    assert quiet["difference_lower"] > 0


def test_component_stoppers_churn_more(pooled):
    row = compare_exposed(pooled, "stopped_any").iloc[0]
    assert row["churn_exposed"] > row["churn_unexposed"]


def test_late_payers_churn_more(world):
    dataset, _ = world
    labels = make_label_times(dataset, pd.date_range("2024-06-01", "2024-11-01", freq="MS"), 30)
    table = signal_table(build_features(dataset, labels), labels.table).set_index("signal")
    assert table.loc["late_payment", "churn_exposed"] > table.loc["late_payment", "churn_unexposed"]
    assert table.loc["no_session_21d", "lift_lower"] > 1


def test_unsubscribes_jump_after_the_ui_change_in_the_hit_segment_only(world):
    dataset, truth = world
    event = world_event(dataset)
    assert event["segment"] == truth.knobs.ui_change_segment
    effect = event_effect(dataset, event["date"], "2024-12-01").set_index(["metric", "group"])
    hit = effect.loc[("unsubscribe", event["segment"])]
    other = effect.loc[("unsubscribe", "B2B" if event["segment"] == "B2C" else "B2C")]
    assert hit["difference_lower"] > 0
    assert hit["difference"] > other["difference_upper"]


def test_the_world_writes_its_dated_shocks_into_metadata_and_they_survive_save_and_load(world, tmp_path):
    dataset, truth = world
    env = truth.spec.env()  # the days on which the simulation applies each shock
    back = Dataset.load(dataset.save(tmp_path / "world"))
    events = dated_events(back).set_index("event")
    assert events.loc["ui_change", "date"] == truth.spec.start + pd.Timedelta(days=env.ui_day)
    assert events.loc["ui_change", "segment"] == truth.knobs.ui_change_segment
    assert events.loc["competitor_offer", "date"] == truth.spec.start + pd.Timedelta(days=env.comp_day)
    assert world_event(back) == world_event(dataset)


def test_a_dataset_without_dated_events_has_no_event_to_study():
    # a UI change dated before the period never fires in the simulation, so none is recorded
    dataset, _ = synthetic.generate(200, start="2024-01-01", end="2024-03-01", seed=1, ui_change_date="2023-06-01")
    assert world_event(dataset) is None
    assert dated_events(dataset)["event"].tolist() == ["competitor_offer"]
    bare = Dataset("bare", {}, as_of="2024-03-01", source="test", metadata={"world": dataset.metadata["world"]})
    assert world_event(bare) is None and dated_events(bare).empty  # no guessing from the knobs


def test_falling_email_opens_and_sessions_precede_churn_in_the_event_study(world):
    dataset, _ = world
    study = event_study(dataset, "2024-12-01", seed=0).divergence.set_index("signal")
    for signal in ("email_opens", "sessions"):
        assert study.loc[signal, "diverges"] and study.loc[signal, "direction"] == "lower", signal
    assert study.loc["sessions", "weeks_ahead"] >= 1
