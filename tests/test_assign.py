"""Hash assignment: determinism, independence from the table, planned shares, errors."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churnlab.errors import AnalysisError
from churnlab.experiment.assign import HOLDOUT, assign, hash_unit, planned_shares

ids = st.lists(st.text(alphabet="abcdefghij0123456789", min_size=1, max_size=8), min_size=1, max_size=40, unique=True)


@settings(max_examples=50, deadline=None)
@given(ids, ids, st.randoms(use_true_random=False))
def test_a_customers_arm_never_depends_on_who_else_is_in_the_table_or_on_row_order(a, b, rnd):
    arms = ["discount", "bonus"]
    alone = assign(a, "exp", arms).set_index("customer_id")["arm"]
    shuffled = list(a) + [x for x in b if x not in a]
    rnd.shuffle(shuffled)
    together = assign(shuffled, "exp", arms).set_index("customer_id")["arm"]
    assert (together.loc[alone.index] == alone).all()


def test_shares_follow_the_plan_at_ten_ninety():
    table = assign([f"c{i}" for i in range(50_000)], "exp-share", ["discount", "bonus", "exclusive_content"])
    observed = table["arm"].value_counts(normalize=True)
    # Binomial sd of a 10% share at n=50,000 is 0.0013; 4 sd tolerance.
    assert observed[HOLDOUT] == pytest.approx(0.1, abs=0.0054)
    for arm in ("discount", "bonus", "exclusive_content"):
        assert observed[arm] == pytest.approx(0.3, abs=0.009)


def test_weights_split_the_treated_share_and_ten_percent_treated_is_the_same_function():
    assert planned_shares({"a": 2, "b": 1}, 0.1) == pytest.approx({"none": 0.1, "a": 0.6, "b": 0.3})
    table = assign([f"c{i}" for i in range(20_000)], "pilot", ["new_onboarding"], holdout_share=0.9)
    assert (table["arm"] == "new_onboarding").mean() == pytest.approx(0.1, abs=0.009)


def test_another_experiment_id_or_salt_reshuffles_customers_independently():
    customers = [f"c{i}" for i in range(20_000)]
    a = assign(customers, "exp-a", ["x"])["arm"] == HOLDOUT
    b = assign(customers, "exp-b", ["x"])["arm"] == HOLDOUT
    c = assign(customers, "exp-a", ["x"], salt="2")["arm"] == HOLDOUT
    # Independent 10% draws overlap on ~1% of customers; identical ones on 10%.
    assert (a & b).mean() == pytest.approx(0.01, abs=0.004)
    assert (a & c).mean() == pytest.approx(0.01, abs=0.004)


def test_assignment_keeps_input_order_and_records_the_plan_without_mutating_the_input():
    frame = pd.DataFrame({"customer_id": ["z", "a", "m"], "x": [1, 2, 3]})
    before = frame.copy()
    table = assign(frame, "exp", ["offer"])
    assert table["customer_id"].tolist() == ["z", "a", "m"]
    assert table.attrs["planned_shares"] == pytest.approx({"none": 0.1, "offer": 0.9})
    pd.testing.assert_frame_equal(frame, before)


def test_hash_unit_is_uniform():
    u = hash_unit(range(20_000), "uniform")
    # Kolmogorov-Smirnov against U(0,1): p above 0.001 for a fixed seed-free deterministic hash.
    from scipy import stats

    assert stats.kstest(u, "uniform").pvalue > 0.001
    assert np.all((u >= 0) & (u < 1))


@pytest.mark.parametrize("share", [0.0, 1.0, -0.1, 1.5])
def test_a_holdout_share_outside_zero_one_raises_a_named_error(share):
    with pytest.raises(AnalysisError, match="holdout share"):
        assign(["a", "b"], "exp", ["offer"], holdout_share=share)


def test_bad_arm_plans_raise_named_errors():
    with pytest.raises(AnalysisError, match="at least one treated arm"):
        assign(["a"], "exp", [])
    with pytest.raises(AnalysisError, match="holdout's name"):
        assign(["a"], "exp", ["none"])
    with pytest.raises(AnalysisError, match="no customers"):
        assign([], "exp", ["offer"])
    with pytest.raises(AnalysisError, match="missing"):
        assign(pd.DataFrame({"customer_id": ["a", None]}), "exp", ["offer"])
