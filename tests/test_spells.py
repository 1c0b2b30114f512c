"""One definition of "active at t": labels, metrics, patterns, the campaign audience and the overview agree.

A hand-made subscriptions table holds every tricky case at the instant T = 2024-03-01 (spells are
``[start, end)``; active at T means ``start < T < end``, OPINIONS.md "Active at t: which edge is closed"):

- a: renewals back to back, the last one starting exactly at T       -> active (one spell)
- b: a gap, then a new subscription running over T (ends 03-20)      -> active, churns within 30 days
- c: first subscription starts exactly at T                          -> not active (nothing observed before T)
- d: only subscription ends exactly at T                             -> churned by T
- e: open-ended since 2023                                           -> active
- f: overlapping: the later-started one ended in February, the
     earlier one runs to June                                        -> active
- g: ended in February, comes back after T                           -> churned by T
- i: ended in February, comes back exactly at T                      -> churned by T (the return is at T)

So ACTIVE = {a, b, e, f}, counted by hand. Before the one definition (measured on the previous commit)
the campaign audience (latest subscription with start <= T, no merge) was {a, b, c, e, i} and the
overview ("every subscription has an end date", whatever the date) flagged {b, d, f} as churned by T
instead of {d, g, i}.
"""

from dataclasses import replace

import pandas as pd
import pytest

from churnlab.data.overview import customer_churned
from churnlab.data.summary import overall_churn_rate
from churnlab.experiment.campaign import active_customers, at_risk_audience
from churnlab.labels import active_at, active_customers_at, churned_by, customer_spells, make_label_times, population
from churnlab.metrics import churn_outcome, churn_over_time, cohort_retention
from churnlab.patterns.engagement import event_effect
from churnlab.patterns.population import cutoff_profile
from churnlab.schema import Dataset

T = pd.Timestamp("2024-03-01")
D = pd.Timestamp
ACTIVE = ["a", "b", "e", "f"]
SUBS = [
    ("a", "2024-01-01", "2024-02-01"), ("a", "2024-02-01", "2024-03-01"), ("a", "2024-03-01", None),
    ("b", "2024-01-01", "2024-02-01"), ("b", "2024-02-15", "2024-03-20"),
    ("c", "2024-03-01", None),
    ("d", "2024-01-10", "2024-03-01"),
    ("e", "2023-06-01", None),
    ("f", "2024-01-01", "2024-06-01"), ("f", "2024-01-15", "2024-02-15"),
    ("g", "2024-01-01", "2024-02-01"), ("g", "2024-03-10", None),
    ("i", "2024-01-01", "2024-02-01"), ("i", "2024-03-01", None),
]


def _dataset(as_of="2024-06-01") -> Dataset:
    subs = pd.DataFrame(SUBS, columns=["customer_id", "start_at", "end_at"])
    subs["customer_id"] = subs["customer_id"].astype("string")
    subs["start_at"] = pd.to_datetime(subs["start_at"])
    subs["end_at"] = pd.to_datetime(subs["end_at"])
    subs["subscription_id"] = [f"s{k}" for k in range(len(subs))]
    first = subs.groupby("customer_id")["start_at"].min()
    customers = pd.DataFrame({"customer_id": pd.array(first.index, dtype="string"), "signup_at": first.to_numpy(),
                              "segment": "B2C"})
    # one session a week before T for everyone, so the campaign's recency rule can rank the audience
    events = pd.DataFrame({"customer_id": customers["customer_id"], "timestamp": T - pd.Timedelta(days=7),
                           "event_type": "session"})
    return Dataset("spells", {"customers": customers, "subscriptions": subs, "events": events}, as_of=as_of,
                   source="test")


def _ids(values) -> list[str]:
    return sorted(map(str, values))


def test_labels_metrics_patterns_campaign_and_overview_agree_on_who_is_active_at_t():
    ds = _dataset()
    subs = ds["subscriptions"]
    assert _ids(active_customers_at(subs, T)) == ACTIVE
    # labels: the rows to score and the labelled rows
    assert _ids(population(ds, [T])["customer_id"]) == ACTIVE
    labels = make_label_times(ds, [T], horizon_days=30).table.set_index("customer_id")["label"]
    assert _ids(labels.index) == ACTIVE
    assert labels[labels].index.tolist() == ["b"]  # b's spell ends 03-20, inside (T, T + 30 days]
    # metrics: the outcome frame, the period counts at T and the cohort share at T
    assert _ids(churn_outcome(ds, T, 30)["customer_id"]) == ACTIVE
    over = churn_over_time(ds, "2024-04-01").set_index("period_start")
    assert over.loc[T, "c_start"] == len(ACTIVE) and over.loc[T - pd.DateOffset(months=1), "c_end"] == len(ACTIVE)
    # January cohort = a, b, d, f, g, i; one month on (at T) a, b and f are active: 3 of 6
    assert cohort_retention(ds, "2024-04-01").loc[D("2024-01-01"), 1] == pytest.approx(3 / 6)
    # patterns: the profile at the cutoff, and the churn base of a dated event whose before-window opens at T
    assert _ids(cutoff_profile(ds, T, 30)["customer_id"]) == ACTIVE
    effect = event_effect(ds, T + pd.Timedelta(days=30), "2024-05-01", window_days=30).set_index(["metric", "group"])
    assert (effect.loc[("churn", "all"), "n_before"], effect.loc[("churn", "all"), "x_before"]) == (4, 1)  # b
    # the campaign audience at T
    assert _ids(active_customers(ds, T)) == ACTIVE
    assert _ids(at_risk_audience(ds, T, share=1.0)["customer_id"]) == ACTIVE
    # the overview of the data as it stood at T: everyone observed and not active has churned
    at_t = replace(ds, as_of=T)
    flags = customer_churned(at_t)
    assert _ids(flags[~flags].index) == ACTIVE and _ids(flags[flags].index) == ["d", "g", "i"]
    assert overall_churn_rate(at_t) == pytest.approx(3 / 7)  # c has no subscription observed before T


def test_including_the_cutoff_adds_the_spells_that_begin_exactly_at_t():
    ds = _dataset()
    with_cutoff = sorted([*ACTIVE, "c", "i"])
    assert _ids(active_customers_at(ds["subscriptions"], T, include_cutoff=True)) == with_cutoff
    assert _ids(population(ds, [T], include_cutoff=True)["customer_id"]) == with_cutoff
    assert _ids(make_label_times(ds, [T], 30, include_cutoff=True).table["customer_id"]) == with_cutoff
    assert not churned_by(ds["subscriptions"], T, include_cutoff=True)["i"]


def test_back_to_back_and_overlapping_subscriptions_merge_into_one_spell():
    spells = customer_spells(_dataset()["subscriptions"]).set_index("customer_id")
    assert spells.loc["a", "start_at"] == D("2024-01-01") and pd.isna(spells.loc["a", "end_at"])
    assert spells.loc["f", "end_at"] == D("2024-06-01")  # the earlier, longer subscription
    assert spells.index.value_counts()[["b", "g", "i"]].tolist() == [2, 2, 2]  # a gap splits


def test_spells_as_of_t_keep_a_renewal_at_t_and_drop_a_spell_that_only_begins_there():
    spells = customer_spells(_dataset()["subscriptions"], T)
    by_customer = spells.groupby("customer_id")["spell"].size()
    assert "c" not in by_customer and by_customer["i"] == 1  # c and i's return begin at T
    a = spells[spells["customer_id"] == "a"].iloc[0]
    assert pd.isna(a["end_at"])  # the renewal at T continues a's spell
    b = spells[spells["customer_id"] == "b"].iloc[-1]
    assert pd.isna(b["end_at"])  # b's end (03-20) lies after T: unknown then
    assert active_at(spells, T).sum() == len(ACTIVE)
