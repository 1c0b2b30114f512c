"""The synthetic world: determinism, schema validity, persistence, and each churn mechanism's direction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churnlab import config as C
from churnlab.data.synthetic import generate, load_world, save_world
from churnlab.errors import DataSourceError
from churnlab.schema import SCHEMAS, validate

N, START, END = 3000, "2024-01-01", "2024-07-01"


@pytest.fixture(scope="module")
def world():
    return generate(N, start=START, end=END, seed=0)


def test_the_world_validates_and_holds_every_canonical_table(world):
    ds, _ = world
    report = validate(ds)
    assert report.ok, str(report)
    # every table but the campaigns' assignments, which appear once run_campaign plays a planned campaign
    assert set(ds.tables) == set(SCHEMAS) - {"assignments"}
    assert (ds.name, ds.kind, ds.as_of) == ("synthetic", "events", pd.Timestamp(END))


def test_the_same_seed_gives_the_same_fingerprint_and_another_seed_a_different_one(world):
    ds, _ = world
    again, _ = generate(N, start=START, end=END, seed=0)
    other, _ = generate(N, start=START, end=END, seed=1)
    assert again.fingerprint == ds.fingerprint
    assert other.fingerprint != ds.fingerprint


def test_customer_ids_look_like_c000123_and_prospects_only_appear_in_the_funnel(world):
    ds, _ = world
    ids = ds["customers"][C.CUSTOMER_ID]
    assert ids.str.fullmatch(r"c\d{6}").all()
    funnel_ids = set(ds["funnel"][C.CUSTOMER_ID])
    prospects = funnel_ids - set(ids)
    assert prospects and all(p.startswith("p") for p in prospects)


def test_the_event_and_message_vocabularies_are_the_configured_ones(world):
    ds, _ = world
    assert set(ds["events"]["event_type"]) == {"session", "component_use", "export"}
    assert set(ds["events"]["component"].dropna()) == set(C.COMPONENTS)
    assert set(ds["surveys"]["kind"]) == set(C.SURVEY_KINDS)
    assert set(ds["messages"]["offer"].dropna()) == set(C.OFFERS)


def test_a_saved_world_loads_back_identical(world, tmp_path):
    ds, truth = world
    save_world(ds, truth, tmp_path)
    ds2, truth2 = load_world(tmp_path)
    assert ds2.fingerprint == ds.fingerprint
    assert truth2.spec == truth.spec
    pd.testing.assert_frame_equal(truth2.drivers, truth.drivers)
    for k, v in truth.final_state.items():
        np.testing.assert_array_equal(truth2.final_state[k], v)


def test_an_unknown_knob_is_named_in_the_error():
    with pytest.raises(DataSourceError, match="no_such_knob"):
        generate(10, no_such_knob=1.0)
