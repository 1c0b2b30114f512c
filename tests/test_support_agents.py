"""First response, SLA and operators who leave tickets unresolved: by hand and against the world's agents."""

import numpy as np
import pandas as pd
import pytest

from churnlab.errors import AnalysisError, SchemaError
from churnlab.intervals import wilson_interval
from churnlab.patterns.support import agent_unresolved, first_response
from churnlab.schema import Dataset, validate

T = pd.Timestamp
CUT = T("2024-06-01")


MAY1 = T("2024-05-01")


def _tickets(agent, line, fcr, first=1.0, opened=MAY1, bot=False, hours=5.0):
    n = len(agent)
    return pd.DataFrame({"customer_id": [f"c{i}" for i in range(n)], "ticket_id": [f"t{i}" for i in range(n)],
                         "opened_at": opened, "line": line, "category": "technical", "resolved_by_bot": bot,
                         "first_contact_resolution": fcr, "hours_to_resolve": hours, "csat": np.nan,
                         "agent": pd.Series(agent, dtype="string"), "first_response_hours": first})


def test_sla_share_per_line_with_a_sla_per_line_by_hand():
    t = _tickets(["a", "a", "b", "b"], [1, 1, 2, 2], True, first=[0.1, 0.3, 3.0, 5.0])
    ds = Dataset("s", {"tickets": t}, as_of="2024-06-30", source="test")
    out = first_response(ds, CUT, sla_hours={1: 1 / 6, 2: 4.0}).set_index("line")
    # line 1 within 10 minutes: 0.1 h yes, 0.3 h no; line 2 within 4 h: 3 yes, 5 no
    assert out.loc[1, "share_within_sla"] == 0.5 and out.loc[2, "share_within_sla"] == 0.5
    assert out.loc[2, "median_hours"] == 4.0
    with pytest.raises(AnalysisError, match="no entry for line"):
        first_response(ds, CUT, sla_hours={1: 4.0})


def test_tickets_too_recent_to_tell_are_left_out():
    t = _tickets(["a", "a"], [1, 1], True, first=[1.0, 1.0], opened=[T("2024-05-01"), T("2024-05-31 22:00")])
    out = first_response(Dataset("s", {"tickets": t}, as_of="2024-06-30", source="test"), CUT, by="agent")
    assert out["n_tickets"].tolist() == [1]  # opened 2 h before the cutoff: a 4 h SLA cannot be judged yet


def test_an_agent_is_named_only_with_enough_tickets_and_a_clear_gap():
    # line 1: x 30/40 bad, y 10/40 bad, z 5/5 bad (too few to name)
    agent = ["x"] * 40 + ["y"] * 40 + ["z"] * 5
    fcr = [False] * 30 + [True] * 10 + [False] * 10 + [True] * 30 + [False] * 5
    ds = Dataset("s", {"tickets": _tickets(agent, 1, fcr)}, as_of="2024-06-30", source="test")
    out = agent_unresolved(ds, CUT).set_index("agent")
    assert out.loc["x", "rate"] == 0.75 and out.loc["x", "rate_rest"] == pytest.approx(15 / 45)
    assert out["flagged"].to_dict() == {"x": True, "y": False, "z": False}
    assert not out.loc["z", "enough"]
    assert not agent_unresolved(ds, CUT, min_tickets=50)["flagged"].any()


def test_unresolved_needs_the_agent_column():
    t = _tickets(["a"], 1, True).drop(columns="agent")
    with pytest.raises(SchemaError, match="tickets.agent"):
        agent_unresolved(Dataset("s", {"tickets": t}, as_of="2024-06-30", source="test"), CUT)


@pytest.fixture(scope="module")
def world():
    synthetic = pytest.importorskip("churnlab.data.synthetic")
    return synthetic.generate(3000, seed=1)


def test_world_tickets_with_agents_are_valid_and_bot_tickets_name_nobody(world):
    ds, _ = world
    t = ds["tickets"]
    assert validate(ds).ok
    assert t.loc[t["resolved_by_bot"], "agent"].isna().all() and t.loc[~t["resolved_by_bot"], "agent"].notna().all()
    assert (t["first_response_hours"] <= t["hours_to_resolve"]).all()


def test_world_operators_named_are_exactly_the_ones_built_to_leave_tickets_unresolved(world):
    ds, truth = world
    out = agent_unresolved(ds, ds.as_of - pd.Timedelta(days=14), window_days=None)
    built = set(truth.agents.loc[truth.agents["role"].str.contains("unresolved"), "agent"])
    assert set(out.loc[out["flagged"], "agent"]) == built == {"op03", "op07", "sp04"}


def test_world_no_fcr_rate_per_agent_matches_the_recorded_truth(world):
    ds, truth = world
    t = ds["tickets"].dropna(subset=["agent"])
    g = (~t["first_contact_resolution"]).groupby(t["agent"]).agg(["sum", "size"])
    lo, hi = wilson_interval(g["sum"], g["size"], 0.001 / len(g))  # Bonferroni over 20 agents
    rate = truth.agents.set_index("agent")["no_fcr_rate"].reindex(g.index)
    assert ((lo <= rate) & (rate <= hi)).all()


def test_world_slowest_responders_are_the_slow_agents(world):
    ds, truth = world
    out = first_response(ds, ds.as_of, by="agent", window_days=None)
    slow = truth.agents.set_index("agent")["speed"] > 1
    for line, n_slow in ((1, 2), (2, 1)):
        worst = out[out["line"] == line].nsmallest(n_slow, "share_within_sla")["agent"]
        assert slow[worst].all()


def test_agents_come_from_their_own_stream_so_no_earlier_draw_moves():
    from churnlab.data.synthetic.spec import DETAILS, EXPAND
    from churnlab.data.synthetic.tables import chunk_records
    from churnlab.data.synthetic.world import Recorder, simulate

    synthetic = pytest.importorskip("churnlab.data.synthetic")
    spec = synthetic.make_spec(400, "2024-01-01", "2024-04-01", seed=3)
    pop, rng = spec.population(0)
    rec = Recorder(pop["gid"].size, 0, spec.n_days)
    simulate(pop, 0, spec.n_days, rng, spec.env(), rec)
    a = chunk_records(pop, rec, spec.start, spec.end, spec.rng(0, EXPAND), spec.rng(0, DETAILS))
    b = chunk_records(pop, rec, spec.start, spec.end, spec.rng(0, EXPAND), spec.rng(0, DETAILS, 99))
    for table in a:
        for col in a[table]:
            same = np.array_equal(a[table][col], b[table][col], equal_nan=a[table][col].dtype.kind == "f")
            assert same != (col in ("agent_code", "first_response")), (table, col)
