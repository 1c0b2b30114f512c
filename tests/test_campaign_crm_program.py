"""CRM files, the canonical assignments, and the persistent programme holdout with its cumulative effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from churnlab.errors import AnalysisError, SampleRatioMismatchError, SchemaError
from churnlab.experiment import assign
from churnlab.experiment.crm import assignments_table, offer_list, read_assignments, write_offer_files
from churnlab.experiment.program import (
    ProgramHoldout,
    holdout_breaches,
    program_effect,
    program_outcomes,
    true_program_churn_effect,
)
from churnlab.schema import Dataset, validate

T = pd.Timestamp("2024-07-01")
END = T + pd.Timedelta(days=90)
PROGRAM = ProgramHoldout("prog", T, END, share=0.2)


def test_no_holdout_customer_appears_in_any_offer_file(tmp_path):
    ids = [f"c{i}" for i in range(3000)]
    held = PROGRAM.members(ids)
    audience = PROGRAM.exclude(pd.DataFrame({"customer_id": ids}))
    assert audience.attrs["program_held_out"] == len(held) and not audience["customer_id"].isin(held).any()
    assignment = assign(audience, "exp", ["discount", "bonus"], 0.1)
    files = write_offer_files(assignment, tmp_path, program_holdout=held)
    assert set(files) == {"discount", "bonus", "do_not_contact"}
    offered = pd.concat([pd.read_csv(files[o]) for o in ("discount", "bonus")])
    campaign_holdout = set(assignment.loc[assignment["arm"] == "none", "customer_id"])
    assert not offered["customer_id"].isin(campaign_holdout | set(held)).any()
    assert len(offered) == int((assignment["arm"] != "none").sum())  # every treated customer is in one file
    dnc = pd.read_csv(files["do_not_contact"])
    assert set(dnc["customer_id"]) == campaign_holdout | set(held)
    assert dnc["reason"].str.contains("programme holdout").sum() == len(held)


def test_an_offer_to_a_programme_holdout_customer_is_refused_before_any_file_is_written(tmp_path):
    ids = [f"c{i}" for i in range(500)]
    held = PROGRAM.members(ids)
    assignment = assign(ids, "exp", ["discount"], 0.1)  # the programme holdout was not removed first
    with pytest.raises(AnalysisError, match="persistent holdout"):
        write_offer_files(assignment, tmp_path / "out", program_holdout=held)
    assert not (tmp_path / "out").exists()
    with pytest.raises(AnalysisError, match="persistent holdout"):
        offer_list(assignment, never_offer=held)


def test_programme_membership_depends_on_the_customer_alone_and_the_share_is_checked():
    ids = [f"c{i}" for i in range(20000)]
    held = PROGRAM.members(ids)
    # binomial share: 20% of 20,000 with sd 0.28 points; 5 sd
    assert abs(len(held) / 20000 - 0.2) < 5 * np.sqrt(0.2 * 0.8 / 20000)
    assert set(PROGRAM.members(ids[::-1][:7000])) == set(held) & set(ids[::-1][:7000])
    assert not set(ProgramHoldout("prog", T, END, share=0.2, salt="2025").members(ids)) == set(held)
    for share in (0.0, 1.0, float("nan"), "5%"):
        with pytest.raises(AnalysisError, match="share"):
            ProgramHoldout("p", T, END, share=share).members(ids)
    with pytest.raises(AnalysisError, match="end"):
        ProgramHoldout("p", END, T).check()
    assert len(ProgramHoldout("p", T, END, share=np.float32(0.05)).members(ids)) > 0


def test_assignments_are_canonical_and_read_back_from_a_dataset_a_file_or_a_frame(tmp_path):
    a = assign([f"c{i}" for i in range(50)], "exp", ["discount"], 0.2).assign(risk_decile=1)
    table = assignments_table(a, "exp", T)
    assert list(table.columns) == ["experiment_id", "customer_id", "arm", "assigned_at", "risk_decile"]
    customers = pd.DataFrame({"customer_id": table["customer_id"], "signup_at": pd.Timestamp("2024-01-01")})
    ds = Dataset("d", {"customers": customers, "assignments": table}, as_of=END, source="test")
    assert validate(ds).ok, str(validate(ds))
    table.to_csv(tmp_path / "a.csv", index=False)
    for source in (ds, tmp_path / "a.csv", table):
        back = read_assignments(source, "exp")
        assert back["arm"].tolist() == a["arm"].tolist() and (back["assigned_at"] == T).all()
    two = pd.concat([table, table.assign(experiment_id="other")], ignore_index=True)
    with pytest.raises(AnalysisError, match="name the one to read"):
        read_assignments(two)
    with pytest.raises(AnalysisError, match="no rows for 'missing'"):
        read_assignments(two, "missing")
    with pytest.raises(SchemaError, match="repeats"):
        read_assignments(pd.concat([table, table.head(1)]), "exp")
    with pytest.raises(SchemaError, match="assignment.arm"):
        assignments_table(a.assign(arm=None), "exp", T)
    with pytest.raises(SchemaError, match="assignments.assigned_at"):
        read_assignments(table.drop(columns="assigned_at"))


def test_a_duplicated_assignments_key_fails_validation():
    table = assignments_table(assign(["a", "b"], "exp", ["bonus"], 0.5), "exp", T)
    customers = pd.DataFrame({"customer_id": ["a", "b"], "signup_at": pd.Timestamp("2024-01-01")})
    ds = Dataset("d", {"customers": customers, "assignments": pd.concat([table, table.head(1)])}, as_of=END,
                 source="test")
    assert "assignments.experiment_id/customer_id: expected unique key values" in str(validate(ds))


def programme_world(n: int = 4000, seed: int = 0, effect: float = 0.1) -> tuple[Dataset, pd.Index]:
    """``n`` customers active at ``T``; churn in the period 30% in the holdout, ``30% - effect`` in the programme.

    Revenue: 10 per customer, 20 for programme customers who stay. Returns the dataset and the holdout's ids.
    """
    rng = np.random.default_rng(seed)
    ids = [f"c{i:05d}" for i in range(n)]
    held = PROGRAM.members(ids)
    in_holdout = np.isin(ids, held)
    churn = rng.random(n) < np.where(in_holdout, 0.3, 0.3 - effect)
    end = np.where(churn, (T + pd.Timedelta(days=45)).to_datetime64(), np.datetime64("NaT"))
    subs = pd.DataFrame({"customer_id": ids, "subscription_id": [f"s{i}" for i in range(n)],
                         "start_at": pd.Timestamp("2024-01-01"), "end_at": pd.to_datetime(end),
                         "churn_reason": np.where(churn, "price", None)})
    amount = np.where(~in_holdout & ~churn, 20.0, 10.0)
    pay = pd.DataFrame({"customer_id": ids, "payment_id": [f"p{i}" for i in range(n)],
                        "due_at": T + pd.Timedelta(days=10), "paid_at": T + pd.Timedelta(days=11), "amount": amount,
                        "late": False})
    customers = pd.DataFrame({"customer_id": ids, "signup_at": pd.Timestamp("2024-01-01")})
    ds = Dataset("p", {"customers": customers, "subscriptions": subs, "payments": pay}, as_of=END, source="test")
    return ds, held


def test_the_programme_effect_is_the_difference_between_everyone_else_and_the_holdout_by_the_score_test():
    ds, held = programme_world()
    res = program_effect(ds, PROGRAM)
    out = program_outcomes(ds, PROGRAM)
    assert set(out.loc[out["group"] == "holdout", "customer_id"]) == set(held)
    # hand computation: difference of rates with the score test's standard error at the pooled rate (churn is 0/1,
    # so it gets the binary methods every campaign analysis uses) and an interval within 2 se of the estimate
    p = out.loc[out["group"] == "program", "churned"].to_numpy()
    h = out.loc[out["group"] == "holdout", "churned"].to_numpy()
    est = p.mean() - h.mean()
    pooled = np.concatenate([p, h]).mean()
    se = np.sqrt(pooled * (1 - pooled) * (1 / len(p) + 1 / len(h)))
    ch = res.effect("churned")
    assert ch.estimate == pytest.approx(est) and ch.se == pytest.approx(se)
    assert abs(ch.ci_lower - (est - stats.norm.ppf(0.975) * se)) < 0.2 * se
    # the simulated effect is -0.10 on churn: the interval covers it (5 se would be a failure of the formula)
    assert ch.ci_lower < -0.1 < ch.ci_upper
    assert res.effect("active_at_end").estimate == pytest.approx(-est)
    assert res.effect("revenue").estimate > 0
    assert list(res.summary.columns[:5]) == ["metric", "estimate", "ci_lower", "ci_upper", "p"]
    assert "prog" in repr(res) and "<table" in res._repr_html_()


def test_programme_revenue_is_capped_like_every_campaign_analysis_so_one_huge_payer_does_not_move_it():
    ds, held = programme_world()
    pay = ds["payments"].copy()
    whale = pay.index[~pay["customer_id"].isin(held)][0]
    pay.loc[whale, "amount"] = 1e6  # one programme customer pays a million
    ds = Dataset("p", {**ds.tables, "payments": pay}, as_of=END, source="test")
    capped = program_effect(ds, PROGRAM).effect("revenue")
    raw = program_effect(ds, PROGRAM, cap_quantile=None).effect("revenue")
    # raw: the million spread over ~3,800 programme customers adds ~260 per customer; capped at the pooled 99th
    # percentile (20 here) the estimate stays within the 10..20 range of the world's revenue
    assert raw.estimate > 200 and capped.cap == pytest.approx(20.0) and 0 < capped.estimate < 10


def test_offers_to_held_out_customers_break_the_programme_and_are_named():
    ds, held = programme_world(n=1000)
    fine = pd.DataFrame({"experiment_id": "exp", "customer_id": list(held[:5]), "arm": "none", "assigned_at": T})
    assert holdout_breaches(fine, PROGRAM).empty  # a campaign holdout row is no offer
    later = fine.assign(arm="bonus", assigned_at=END)  # after the period: allowed
    assert holdout_breaches(later, PROGRAM).empty
    bad = fine.assign(arm="discount")
    assert len(holdout_breaches(bad, PROGRAM)) == 5
    with pytest.raises(AnalysisError, match="programme holdout broken: 5 offers"):
        program_effect(ds, PROGRAM, assignments=bad)


def test_a_programme_split_far_from_its_share_is_blocked_by_the_srm_gate():
    # an export that lost half of the holdout's subscriptions: 10% of customers held out instead of 20%
    ds, held = programme_world(n=4000)
    subs = ds["subscriptions"]
    lost = subs["customer_id"].isin(held[::2])
    broken = Dataset("p", {**ds.tables, "subscriptions": subs[~lost]}, as_of=END, source="test")
    with pytest.raises(SampleRatioMismatchError):
        program_effect(broken, PROGRAM)


def test_the_programme_needs_data_to_its_end_and_a_valid_level():
    ds, _ = programme_world(n=500)
    with pytest.raises(AnalysisError, match="before the programme period ends"):
        program_effect(ds, ProgramHoldout("prog", T, END + pd.Timedelta(days=1), share=0.2))
    with pytest.raises(AnalysisError, match="alpha"):
        program_effect(ds, PROGRAM, alpha=1.5)


def test_the_true_programme_effect_counts_unlisted_customers_as_unaffected():
    outcomes = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "group": ["program"] * 3 + ["holdout"],
                             "active_at_start": [True, True, True, True]})
    effects = pd.DataFrame({"customer_id": ["a", "d"], "retained_if_treated": [True, True],
                            "retained_if_control": [False, False]})
    # a is kept by the programme (-1 churn), b and c are not listed (0); d is held out: -1/3
    assert true_program_churn_effect(effects, outcomes) == pytest.approx(-1 / 3)
