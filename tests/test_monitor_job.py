"""The weekly job on a small synthetic world and on hand data: signals, views, scoring, champion, registry, notify."""

from __future__ import annotations

import http.server
import json
import threading

import numpy as np
import pandas as pd
import pytest

from churnlab.data.synthetic import generate
from churnlab.errors import AnalysisError, ModelError, SpecError
from churnlab.labels import active_customers_at
from churnlab.monitor.alerts import evaluate_alerts, notify, parse_alerts
from churnlab.monitor.champion import challenge, train_model
from churnlab.monitor.metrics import metric_rows
from churnlab.monitor.scoring import action_list, calibration_at, model_frame, score_customers, write_lists
from churnlab.monitor.signals import days_of_use, email_reactions, idle_days, parse_breaks, renewal_days
from churnlab.monitor.views import load_views, parse_views, view_lists, view_performance
from churnlab.monitor.weekly import run_weekly
from churnlab.schema import Dataset

T = pd.Timestamp


@pytest.fixture(scope="module")
def world():
    from churnlab.data.synthetic import generate

    dataset, _ = generate(700, seed=3)
    return dataset


@pytest.fixture(scope="module")
def trained(world):
    return train_model(world, horizon_days=30, n_jobs=1, random_state=0)


# --- signals on hand data ----------------------------------------------------------------------------------


def _hand() -> Dataset:
    customers = pd.DataFrame({"customer_id": ["a", "b"], "signup_at": [T("2024-01-01"), T("2024-01-15")]})
    messages = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b"],
        "sent_at": [T("2024-03-01"), T("2024-03-10"), T("2024-03-20"), T("2024-03-30"), T("2024-03-05")],
        "channel": ["email", "email", "email", "email", "push"],
        "opened": [True, False, False, True, True], "clicked": [False, False, False, False, False]})
    subs = pd.DataFrame({"customer_id": ["a", "b"], "start_at": [T("2024-01-01"), T("2024-02-01")],
                         "end_at": [pd.NaT, pd.NaT], "renewal_at": [T("2024-04-20"), T("2024-03-01")]})
    return Dataset(name="hand", tables={"customers": customers, "messages": messages, "subscriptions": subs},
                   as_of=T("2024-05-01"), source="test")


def test_email_reactions_count_from_the_last_open_or_click_by_hand():
    rows = pd.DataFrame({"customer_id": ["a", "b"], "cutoff": [T("2024-03-31"), T("2024-03-31")]})
    out = email_reactions(_hand(), rows)
    # a: the open of 03-30 is not settled yet (2 days); the last settled reaction is 03-01 -> 30 days, and the
    # emails of 03-10 and 03-20 went unanswered. b only had a push: never reacted to an email -> days since signup.
    assert out["days_since_last_email_reaction"].tolist() == [30.0, 76.0]
    assert out["emails_since_last_reaction"].tolist() == [2.0, 0.0]


def test_a_billing_period_moves_the_renewal_date_to_the_first_one_ahead_of_each_cutoff():
    ds = _hand()
    subs = ds["subscriptions"].assign(billing_period_days=[30, 30])
    ds = Dataset(name="hand", tables={**ds.tables, "subscriptions": subs}, as_of=ds.as_of, source="test")
    rows = pd.DataFrame({"customer_id": ["a", "a", "b"], "cutoff": [T("2024-03-01"), T("2024-04-25"), T("2024-04-01")]})
    # a's schedule is 04-20 +- 30 days: 03-21 is the first renewal on or after 03-01 (20 days), 05-20 after 04-25
    # (25 days); b's 03-01 +30 days = 03-31, +60 = 04-30: 29 days after 04-01 (by hand)
    assert renewal_days(ds, rows)["days_to_renewal"].tolist() == [20.0, 25.0, 29.0]


def test_the_worlds_renewal_date_is_the_end_of_the_paid_term_and_leaves_other_tables_unchanged():
    ds, _ = generate(300, seed=1)
    subs, pay = ds["subscriptions"], ds["payments"]
    assert {"renewal_at", "billing_period_days"} <= set(subs.columns) and (subs["billing_period_days"] == 30).all()
    running = subs[subs["end_at"].isna()].set_index("customer_id")
    last_due = pay.groupby("customer_id")["due_at"].max()
    paid = running.index.intersection(last_due.index)
    # the world invoices every 30 days: a running subscription renews 30 days after its last invoice, mostly
    gap = (running.loc[paid, "renewal_at"] - last_due.loc[paid]).dt.days
    assert (gap == 30).mean() > 0.95 and (running["renewal_at"] >= ds.as_of).all()
    ended = subs[subs["end_at"].notna()]
    left = (ended["renewal_at"] - ended["end_at"].dt.normalize()).dt.days
    assert left.between(0, 29).all()  # the term in which they cancelled ends within one period


def test_renewal_days_of_use_and_idle_days_by_hand():
    rows = pd.DataFrame({"customer_id": ["a", "b"], "cutoff": [T("2024-04-01"), T("2024-04-01")]})
    ds = _hand()
    # a renews 04-20 (19 days ahead); b's renewal date 03-01 has passed: none ahead
    assert renewal_days(ds, rows)["days_to_renewal"].tolist()[0] == 19.0
    assert np.isnan(renewal_days(ds, rows)["days_to_renewal"].iloc[1])
    assert days_of_use(ds, rows)["days_of_use"].tolist() == [91.0, 60.0]  # since 01-01 and 02-01
    f = pd.DataFrame({"cutoff": [T("2025-01-10")] * 2, "days_since_last_session": [20.0, 5.0]})
    # 20 idle days back to 12-21; the break 12-24..01-02 takes 9 of them. 5 days back to 01-05: no overlap
    assert idle_days(f, parse_breaks([{"start": "2024-12-24", "end": "2025-01-02"}])).tolist() == [11.0, 5.0]
    with pytest.raises(SpecError, match="must come after"):
        parse_breaks([{"start": "2025-01-02", "end": "2025-01-01"}])


# --- views ---------------------------------------------------------------------------------------------------


def test_views_list_and_measure_their_customers_and_say_what_they_lack():
    views = parse_views({"views": [{"name": "idle", "when": "idle_days >= 14", "words": "idle"},
                                   {"name": "renew", "when": "days_to_renewal <= 30", "words": "renews"}]})
    f = pd.DataFrame({"customer_id": list("abcd"), "cutoff": [T("2024-03-01")] * 4,
                      "idle_days": [20.0, 15.0, 3.0, 30.0]})
    lists = view_lists(views, f, holdout=np.array([False, False, False, True]))
    assert lists["customer_id"].tolist() == ["a", "b"]  # d is idle but held out
    assert lists.attrs["held_out"] == {"idle": 1} and lists.attrs["unavailable"] == {"renew": "needs days_to_renewal"}
    labels = f[["customer_id", "cutoff"]].assign(label=[1, 0, 1, 1])
    perf = view_performance(views, f, labels).set_index("view")
    # idle lists a, b, d: 2 of 3 churned (precision 2/3); churners a, c, d: 2 of 3 on the list (recall 2/3)
    assert perf.loc["idle", "precision"] == pytest.approx(2 / 3) and perf.loc["idle", "recall"] == pytest.approx(2 / 3)
    assert not perf.loc["renew", "available"]
    with pytest.raises(SpecError, match="Call is not allowed"):
        parse_views({"views": [{"name": "x", "when": "open('f')", "words": "x"}]})
    assert {"data_export", "not_used_14d", "no_email_reaction_45d", "renewal_within_7d", "check_in_after_30d"} == {
        v.name for v in load_views()}


# --- scoring with a trained model ----------------------------------------------------------------------------------


def test_every_active_customer_is_scored_and_no_holdout_customer_is_on_the_action_list(world, trained, tmp_path):
    calibrator = calibration_at(trained.model, world, horizon_days=30)
    crm = score_customers(trained.model, world, calibrator=calibrator, holdout_share=0.2)
    active = active_customers_at(world["subscriptions"], world.as_of)
    assert sorted(crm["customer_id"].astype(str)) == sorted(active.astype(str))
    assert crm["probability"].is_monotonic_decreasing and crm["probability"].between(0, 1).all()
    assert np.allclose(crm["value_at_risk"], crm["probability"] * crm["value"])
    assert (crm["reason_1"] != "").mean() > 0.9 and set(crm["zone"]) <= {"red", "amber", "none"}
    assert crm["holdout"].any()
    actions = action_list(crm, top_share=0.5)
    assert not actions["holdout"].any() and len(actions) + actions.attrs["held_out"] == int(np.ceil(len(crm) * 0.5))
    paths = write_lists({"crm_list": crm}, tmp_path)
    assert len(pd.read_parquet(paths[0])) == len(crm) == len(pd.read_csv(paths[1]))
    with pytest.raises(ModelError, match="missing"):
        model_frame(pd.DataFrame({"x": [1]}), trained.model)
    with pytest.raises(AnalysisError, match="exactly one"):
        action_list(crm, top_share=None)


def test_a_challenger_moves_only_when_better_by_the_margin(world, trained):
    same = challenge(trained.model, trained.model, world, horizon_days=30, margin=0.01)
    assert same.challenger == same.champion and not same.promoted
    assert challenge(trained.model, trained.model, world, horizon_days=30, margin=0.0).promoted
    assert same.to_metrics()["challenger_gain"] == 0.0
    with pytest.raises(ModelError, match="no monthly cutoff"):
        train_model(world, as_of="2024-03-01")


def test_the_weekly_job_reconciles_expected_and_realised_and_lists_no_holdout(world, trained):
    report = run_weekly(world, trained.model, runs=5, holdout_share=0.2, reasons=False)
    h = report.headline()
    assert h["n_holdout_in_actions"] == 0 and h["n_holdout_scored"] > 0
    exp = report.expected
    # 30-day windows: those opened 35 days before or earlier have matured by as_of (every 7 days, 6 windows)
    assert exp["matured"].tolist() == [True, False, False, False, False, False]
    assert exp.loc[0, "realised"] == pytest.approx(exp.loc[0, "realised_rate"] * exp.loc[0, "n"])
    assert set(report.alerts["status"]) <= {"fired", "within", "small n", "no baseline", "no data"}
    assert report.quality["n"] > 0 and 0.5 < report.quality["roc_auc"] <= 1.0
    assert (report.metrics["run_at"] <= report.as_of).all()


# --- registry ------------------------------------------------------------------------------------------------------


def test_the_first_registered_version_becomes_champion_and_loads_by_alias(project, world, trained, monkeypatch):
    from churnlab import tracking
    from churnlab.modeling.registry import load_model, log_model, model_version, set_alias

    client = tracking.client()
    run = client.create_run(tracking.experiment_id("registry-test"))
    monkeypatch.setenv("MLFLOW_RUN_ID", run.info.run_id)
    import mlflow

    try:
        log_model(trained.model, trained.example, registered_model_name="m")
        log_model(trained.model, trained.example, registered_model_name="m")
        tracking.log_metrics({"training_roc_auc": 0.77})
    finally:
        mlflow.end_run()
    assert model_version("m").version == 1  # the second version did not take the alias
    model, info = load_model("m", "champion")
    X = trained.example
    assert np.allclose(model.predict_proba(X), trained.model.predict_proba(X))
    assert info.metrics["training_roc_auc"] == 0.77
    set_alias("m", "champion", 2)
    assert model_version("m").version == 2
    with pytest.raises(ModelError, match="no alias 'gold'"):
        model_version("m", "gold")


# --- notification --------------------------------------------------------------------------------------------------


class _Catch(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _Catch.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):  # keep the test output clean
        pass


def test_a_fired_alert_reaches_a_local_http_endpoint():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Catch)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        table = pd.DataFrame([metric_rows("2025-03-31", "2025-03-24", "2025-03-31", "churn_rate", "B2C", 1000, 100,
                                          0.1, np.nan, np.nan)])
        rules = parse_alerts([{"name": "churn_high", "metric": "churn_rate", "kind": "threshold", "threshold": 0.05,
                               "direction": "above", "words": "weekly churn above 5%"}])
        alerts = evaluate_alerts(table, rules)
        url = f"json://127.0.0.1:{server.server_address[1]}/hook"
        assert notify(alerts, url) is True
        assert len(_Catch.received) == 1
        sent = _Catch.received[0]
        assert "1 alert(s) fired" in sent["title"] and "churn_high (B2C): weekly churn above 5%" in sent["message"]
        quiet = evaluate_alerts(table, parse_alerts([{**{"name": "x", "metric": "churn_rate", "kind": "threshold",
                                                        "direction": "above"}, "threshold": 0.5}]))
        assert notify(quiet, url) is False and len(_Catch.received) == 1  # nothing fired: nothing sent
        with pytest.raises(SpecError, match="not understood"):
            notify(alerts, "nosuchscheme://x")
    finally:
        server.shutdown()
        server.server_close()


def test_a_renewal_date_after_as_of_is_valid_but_an_end_after_as_of_is_not():
    from churnlab.schema import validate

    ds = _hand()  # as_of 2024-05-01
    subs = ds["subscriptions"].assign(subscription_id=pd.Series(["s1", "s2"], dtype="string"),
                                      churn_reason=pd.Series([pd.NA, pd.NA], dtype="string"),
                                      renewal_at=[T("2024-05-20"), T("2024-06-01")])
    customers = ds["customers"].assign(customer_id=ds["customers"]["customer_id"].astype("string"))
    subs = subs.assign(customer_id=subs["customer_id"].astype("string"))

    def problems(table: pd.DataFrame) -> str:
        data = Dataset(name="hand", tables={"customers": customers, "subscriptions": table}, as_of=ds.as_of,
                       source="test")
        return str(validate(data))

    assert "problem" not in problems(subs), problems(subs)
    late = problems(subs.assign(end_at=[T("2024-05-20"), pd.NaT]))
    assert "subscriptions.end_at: expected nothing after as_of" in late and "renewal_at" not in late
