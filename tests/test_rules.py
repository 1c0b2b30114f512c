"""Risk rules: the safe grammar, zones, reasons, performance against hand counts, the at-risk CSV."""

import pandas as pd
import pytest

from churnlab.errors import SpecError
from churnlab.features import FEATURE_DESCRIPTIONS
from churnlab.patterns import rules as R
from churnlab.patterns.signals import DEFAULT_SIGNALS, signal_table


def _features():
    return pd.DataFrame({
        "customer_id": list("abcdef"), "cutoff": pd.Timestamp("2024-06-01"),
        "days_since_last_session": [30.0, 2.0, 25.0, 1.0, float("nan"), 3.0],
        "unresolved_tickets": [0.0, 2.0, 0.0, 0.0, 0.0, 0.0],
        "late_payments_90d": [0.0, 0.0, 1.0, 1.0, 0.0, 0.0],
    })


RULES = R.parse_rules([
    {"name": "quiet", "when": "days_since_last_session >= 21", "zone": "red", "words": "no session for 21+ days"},
    {"name": "tickets", "when": "unresolved_tickets >= 2", "zone": "red", "words": "2+ unresolved tickets"},
    {"name": "late", "when": "late_payments_90d >= 1", "zone": "amber", "words": "a late payment"},
])


def test_the_packaged_rules_read_only_feature_columns_the_feature_module_defines():
    rules = R.load_rules()
    assert len(rules) >= 4 and set(rules.features) <= set(FEATURE_DESCRIPTIONS)
    for name, (expr, _) in DEFAULT_SIGNALS.items():
        assert set(R.expression_names(expr, rule=name)) <= set(FEATURE_DESCRIPTIONS), name


def test_the_example_rule_file_loads():
    assert "no_session_21d" in [r.name for r in R.load_rules("experiments/risk_rules.yaml")]


def test_zones_take_the_most_urgent_rule_and_list_the_words():
    fired = R.evaluate_rules(RULES, _features())
    zones = R.assign_zones(fired, RULES).set_index("customer_id")
    # a: quiet (red); b: tickets (red); c: quiet + late -> red; d: late -> amber; e: NaN never fires; f: none
    assert zones["zone"].to_dict() == {"a": "red", "b": "red", "c": "red", "d": "amber", "e": "none", "f": "none"}
    assert zones.loc["c", "reasons"] == "no session for 21+ days; a late payment"
    assert zones.loc["c", "n_rules"] == 2


def test_rule_performance_matches_hand_counts_and_the_csv_lists_who_fired(tmp_path):
    feats = _features()
    labels = feats[["customer_id", "cutoff"]].assign(label=[1, 0, 1, 0, 0, 0])
    fired = R.evaluate_rules(RULES, feats)
    zones = R.assign_zones(fired, RULES)
    perf = R.rule_performance(fired, zones, labels, RULES).set_index("exposure")
    # quiet fires on a, c: both churned -> precision 2/2, recall 2/2, lift 1 / (2/6) = 3
    assert perf.loc["quiet", "precision"] == 1.0 and perf.loc["quiet", "recall"] == 1.0
    assert perf.loc["quiet", "lift"] == pytest.approx(3.0)
    # red zone: a, b, c -> 2 of 3 churned; precision 2/3, prevalence 3/6
    assert perf.loc["zone:red", "precision"] == pytest.approx(2 / 3)
    assert perf.loc["zone:red", "prevalence"] == pytest.approx(0.5)
    out = R.at_risk_list(zones, tmp_path / "lists" / "at_risk.csv")
    back = pd.read_csv(tmp_path / "lists" / "at_risk.csv")
    assert list(back["customer_id"]) == list(out["customer_id"]) == ["c", "a", "b", "d"]
    assert back.loc[0, "rules_fired"] == "quiet; late"


def test_an_unknown_feature_is_a_one_line_error_naming_the_rule_and_the_name_when_strict():
    rules = R.parse_rules([{"name": "typo", "when": "days_since_last_sesion >= 21", "zone": "red", "words": "x"}])
    with pytest.raises(SpecError, match=r"risk rule 'typo': unknown feature 'days_since_last_sesion'") as err:
        R.evaluate_rules(rules, _features(), missing="raise")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("expr", ["__import__('os').system('true')", "days_since_last_session.real > 1",
                                  "open('x')", "[x for x in ()]", "days_since_last_session > 'a'", "lambda: 1"])
def test_expressions_outside_the_grammar_are_refused_before_running(expr):
    with pytest.raises(SpecError, match="risk rule 'bad'"):
        R.parse_rules([{"name": "bad", "when": expr, "zone": "red", "words": "x"}])


@pytest.mark.parametrize("item, message", [
    ({"name": "x", "when": "a > 1", "zone": "blue", "words": "w"}, "zone 'blue'"),
    ({"name": "x", "when": "a > 1", "zone": "red"}, "missing key"),
    ({"name": "x", "when": "a > 1", "zone": "red", "words": "w", "owner": "me"}, "unknown key"),
])
def test_malformed_rules_are_named(item, message):
    with pytest.raises(SpecError, match=message):
        R.parse_rules([item])


def test_arithmetic_and_boolean_operators_evaluate_like_numpy():
    f = pd.DataFrame({"email_open_rate_30d": [0.1, 0.4, 0.2], "email_open_rate_drop": [0.3, 0.0, float("nan")]})
    expr = "email_open_rate_30d <= 0.5 * (email_open_rate_30d + email_open_rate_drop) and email_open_rate_drop > 0"
    # row 0: 0.1 <= 0.2 and 0.3 > 0 -> True; row 1: drop 0 -> False; row 2: NaN -> never fires
    assert R.evaluate_expression(expr, f).tolist() == [True, False, False]
    assert R.evaluate_expression("not email_open_rate_30d > 0.3", f).tolist() == [True, False, True]


def test_signal_table_skips_signals_without_their_feature_and_counts_by_hand():
    feats = _features()
    labels = feats[["customer_id", "cutoff"]].assign(label=[1, 0, 1, 0, 0, 0])
    table = signal_table(feats, labels).set_index("signal")
    assert "late_payment" in table.index and "email_opens_halved" in table.attrs["skipped"]
    # late payment on c, d: one churned -> precision 1/2, recall 1/2, prevalence 2/6
    assert table.loc["late_payment", ["precision", "recall"]].tolist() == [0.5, 0.5]
    assert table.loc["late_payment", "prevalence"] == pytest.approx(1 / 3)
