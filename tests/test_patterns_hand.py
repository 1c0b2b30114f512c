"""Pattern functions on tiny hand-made tables, with answers counted by hand."""

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from churnlab.errors import MissingTableError, SchemaError
from churnlab.patterns import population as population_module
from churnlab.patterns.contacts import contact_frequency, contact_profile
from churnlab.patterns.engagement import dated_events, engagement_flags
from churnlab.patterns.event_study import divergence, summarise_weeks, weekly_activity
from churnlab.patterns.exposure import compare_exposed
from churnlab.patterns.funnel import compare_funnel, funnel_bottleneck, funnel_conversion
from churnlab.patterns.population import rows_before
from churnlab.patterns.support import support_quality
from churnlab.patterns.usage import recency_bucket
from churnlab.schema import Dataset

T = pd.Timestamp
CUT = T("2024-06-01")


def _customers(ids, **cols):
    return pd.DataFrame({"customer_id": ids, "signup_at": T("2024-01-01"), **cols})


def test_only_rows_strictly_before_the_cutoff_are_read():
    t = pd.DataFrame({"ts": [T("2024-05-31 23:59"), CUT, T("2024-06-02")]})
    assert len(rows_before(t, "ts", CUT)) == 1


def test_funnel_conversion_bottleneck_and_segment_gap_by_hand():
    # 10 visitors; 6 sign up; 3 activate; 3 pay. B2B: 4 signups, 3 activate; B2C: 2 signups, 0 activate.
    rows = [(f"v{i}", "visit") for i in range(10)] + [(f"v{i}", "signup") for i in range(6)]
    rows += [(f"v{i}", s) for i in range(3) for s in ("activation", "first_payment")]
    funnel = pd.DataFrame(rows, columns=["customer_id", "stage"]).assign(reached_at=T("2024-02-01"))
    funnel["segment"] = funnel["customer_id"].map(lambda c: "B2B" if int(c[1:]) in (0, 1, 2, 3) else "B2C")
    ds = Dataset("f", {"funnel": funnel}, as_of="2024-06-30", source="test")
    conv = funnel_conversion(ds, CUT).set_index("stage")
    assert conv["conversion"].tolist() == [1.0, 0.6, 0.5, 1.0]
    assert funnel_bottleneck(conv.reset_index()).iloc[0]["stage"] == "activation"
    gap = compare_funnel(ds, CUT, None, "segment").set_index(["segment", "stage"]).loc[("B2B", "activation")]
    assert (gap["conversion_group"], gap["conversion_rest"]) == (0.75, 0.0)  # 3/4 vs 0/2


def test_support_quality_by_line_counts_by_hand():
    tickets = pd.DataFrame({
        "customer_id": ["a", "a", "b", "c"], "ticket_id": list("1234"),
        "opened_at": [T("2024-05-01")] * 4, "line": [1, 1, 2, 3], "category": ["technical"] * 4,
        "resolved_by_bot": [True, False, False, False], "first_contact_resolution": [True, False, True, False],
        "hours_to_resolve": [1.0, 3.0, 10.0, np.nan], "csat": [5.0, 3.0, 4.0, np.nan]})
    ds = Dataset("s", {"customers": _customers(list("abc")), "tickets": tickets}, as_of="2024-06-30", source="test")
    q = support_quality(ds, CUT).set_index("line")
    assert q.loc[1, "bot_containment"] == 0.5 and q.loc[1, "fcr"] == 0.5 and q.loc[1, "csat_mean"] == 4.0
    assert np.isnan(q.loc[2, "bot_containment"]) and q.loc[3, "unresolved_share"] == 1.0


def test_recency_buckets_follow_configurable_edges():
    b = recency_bucket(pd.Series([6.9, 7.0, 20.0, 21.0]), edges_weeks=[1, 3])
    assert b.astype(str).tolist() == ["0-1 wk", "1-3 wk", "1-3 wk", "3+ wk"]
    with pytest.raises(ValueError, match="increasing"):
        recency_bucket(pd.Series([1.0]), edges_weeks=[4, 2])


def test_weekly_activity_puts_the_last_seven_days_in_week_zero():
    anchors = pd.DataFrame({"pair_id": [0, 0], "group": ["churner", "stayer"], "customer_id": ["a", "b"],
                            "anchor": [T("2024-03-01"), T("2024-03-01")]})
    events = pd.DataFrame({"customer_id": ["a", "a", "a", "b"], "event_type": "session",
                           "timestamp": [T("2024-02-28"), T("2024-02-20"), T("2024-03-02"), T("2024-02-23")]})
    ds = Dataset("e", {"customers": _customers(["a", "b"]), "events": events}, as_of="2024-06-30", source="test")
    act = weekly_activity(ds, anchors, CUT, weeks=2, signals=("sessions",)).set_index(["group", "week"])["value"]
    # a: Feb 28 -> week 0, Feb 20 (9 days before) -> week -1, Mar 2 (after the anchor) not counted
    assert act[("churner", 0)] == 1 and act[("churner", -1)] == 1 and act[("churner", -2)] == 0
    assert act[("stayer", 0)] == 1


def test_divergence_is_the_earliest_week_of_the_unbroken_significant_run():
    rng = np.random.default_rng(0)
    rows = []
    for pair in range(60):
        for week in range(-4, 1):
            gap = 3.0 if week >= -2 else 0.0  # churners lower from week -2 on
            rows += [{"pair_id": pair, "group": "stayer", "customer_id": f"s{pair}", "signal": "sessions", "week": week,
                      "value": 5 + rng.normal()},
                     {"pair_id": pair, "group": "churner", "customer_id": f"c{pair}", "signal": "sessions",
                      "week": week, "value": 5 - gap + rng.normal()}]
    d = divergence(summarise_weeks(pd.DataFrame(rows))).iloc[0]
    assert (d["diverges"], d["first_week"], d["weeks_ahead"], d["direction"]) == (True, -2, 2, "lower")


def test_contacts_count_only_reached_ones_and_check_do_not_disturb():
    contacts = pd.DataFrame({"customer_id": ["a", "a", "b", "c"], "kind": "call", "reached": [True, False, False, True],
                             "contacted_at": [T("2024-05-01"), T("2024-05-20"), T("2024-05-10"), T("2024-01-15")]})
    customers = _customers(list("abc"), segment="B2B", do_not_disturb=[False, True, False])
    ds = Dataset("c", {"customers": customers, "contacts": contacts}, as_of="2024-06-30", source="test")
    pop = pd.DataFrame({"customer_id": list("abc"), "cutoff": CUT, "label": [0, 1, 0], "segment": "B2B",
                        "tenure_days": 152.0})
    prof = contact_profile(ds, pop).set_index("customer_id")
    assert prof.loc["a", "days_since_reached"] == 31.0  # the May 20 attempt was not reached
    assert prof.loc["b", "not_contacted"] and prof.loc["b", "dnd_contacted"]
    assert prof.loc["b", "days_since_reached"] == 152.0  # never reached: tenure
    assert prof.loc["c", "not_contacted"]  # reached in January, outside the 90-day window
    assert contact_frequency(prof.reset_index()).iloc[0]["dnd_respected"] == 0.0


def test_exposure_comparison_agrees_with_scipy_chi_square():
    f = pd.DataFrame({"label": [1] * 30 + [0] * 70 + [1] * 10 + [0] * 90, "late": [True] * 100 + [False] * 100})
    r = compare_exposed(f, "late").iloc[0]
    chi = stats.chi2_contingency([[30, 70], [10, 90]], correction=False)
    assert r["p_value"] == pytest.approx(chi.pvalue, rel=1e-9)
    assert (r["difference"], r["risk_ratio"], r["recall"]) == pytest.approx((0.2, 3.0, 0.75))


def test_open_rate_fell_by_half_from_the_feature_columns():
    pop = pd.DataFrame({"customer_id": list("abc"), "cutoff": CUT, "label": 0,
                        "email_open_rate_30d": [0.1, 0.4, np.nan], "email_open_rate_drop": [0.3, 0.1, np.nan]})
    assert engagement_flags(pop)["open_rate_fell"].tolist() == [True, False, pd.NA]


def test_a_missing_table_names_the_function_that_needs_it():
    ds = Dataset("x", {"customers": _customers(["a"])}, as_of="2024-06-30", source="test")
    with pytest.raises(MissingTableError, match="support_quality"):
        support_quality(ds, CUT)


def test_patterns_never_import_the_synthetic_generator():
    # layering: a pattern reads what the dataset says (tables, metadata), never a data source's internals
    folder = Path(population_module.__file__).parent
    offenders = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("churnlab.data.synthetic")]
    assert offenders == []


def test_the_old_population_name_still_gives_the_cutoff_profile():
    assert population_module.population is population_module.cutoff_profile


def test_dated_events_come_from_the_metadata_in_date_order_and_bad_entries_are_named():
    meta = {"dated_events": [{"event": "price_rise", "date": "2024-07-01", "segment": "B2B"},
                             {"event": "release", "date": "2024-03-15"}]}
    ds = Dataset("m", {}, as_of="2024-12-31", source="test", metadata=meta)
    events = dated_events(ds)
    assert events["event"].tolist() == ["release", "price_rise"]
    assert events["segment"].tolist() == [None, "B2B"]
    bad = Dataset("m", {}, as_of="2024-12-31", source="test", metadata={"dated_events": [{"event": "x"}]})
    with pytest.raises(SchemaError, match=r"metadata.dated_events\[0\]: expected a mapping with 'event' and 'date'"):
        dated_events(bad)
