"""monitor(): a window of a deployment's logged predictions against the model's training
data, on SQLite and PostgreSQL: drift, prediction and label drift, realised and estimated
performance, rules, alerts, and the stored report."""

from __future__ import annotations

import json

import pytest
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sqlalchemy import func, select

import loopml
from loopml.clock import now_ms
from loopml.errors import InvalidInput
from loopml.governance.audit import list_events
from loopml.monitoring.alerts import list_alerts
from loopml.monitoring.monitor import monitor
from loopml.monitoring.policy import Policy, set_policy
from loopml.monitoring.records import get_report, list_reports, report_html, report_json
from loopml.registry import set_alias
from loopml.store import Store
from loopml.store.schema import monitor_references

from .support import (
    DATASET,
    DEPLOYMENT,
    INPUTS,
    MODEL,
    TARGET,
    Production,
    customers,
    fit_churn,
)

FIVE_MB = 5 * 1024 * 1024


def _references(store: Store) -> int:
    with store.read() as connection:
        return connection.execute(select(func.count()).select_from(monitor_references)).scalar()


def test_a_steady_window_has_no_drift_and_measures_performance(steady: Production) -> None:
    run = monitor(steady.store, DEPLOYMENT, window="1h")

    assert (run.rows, run.labelled) == (800, 600)
    assert (run.model, run.reference, run.task) == (f"{MODEL}/1", f"{DATASET}@1", "binary")
    assert not run.data.dataset_drift
    assert run.data.drifted == []
    assert set(run.data.features) == set(INPUTS)
    # The realised figures are those of the served model on the labelled rows.
    labelled = customers(800, seed=1).head(600)
    model = loopml.load_model(f"models:/{MODEL}/1")
    predicted = model.predict(labelled[INPUTS])
    truth = labelled[TARGET]
    assert run.metrics["f1"] == pytest.approx(f1_score(truth, predicted))
    assert run.metrics["accuracy"] == pytest.approx(accuracy_score(truth, predicted))
    proba = model.predict_proba(labelled[INPUTS])[:, 1]
    assert run.metrics["roc_auc"] == pytest.approx(roc_auc_score(truth, proba))
    # CBPE estimates them from the probabilities alone; on undrifted data they agree.
    for name in ("f1", "accuracy", "roc_auc"):
        assert run.metrics[f"estimated_{name}"] == pytest.approx(run.metrics[name], abs=0.05)
    assert run.estimated, "CBPE over time"
    assert run.performance, "realised performance over time"
    for drift in (run.prediction_drift, run.label_drift):
        assert drift is not None
        assert not drift.drift_detected
        assert drift.current_rows in (800, 600)
    assert run.metrics["prediction_drift"] == run.prediction_drift.statistic
    assert run.metrics["label_drift"] == run.label_drift.statistic
    assert run.breaches == [] and run.alerts == []


def test_a_run_is_stored_with_its_json_and_page(steady: Production) -> None:
    store = steady.store
    run = monitor(store, DEPLOYMENT, window="1h")

    (listed,) = list_reports(store)
    assert listed.id == run.id is not None
    assert (listed.deployment, listed.rows, listed.labelled) == (DEPLOYMENT, 800, 600)
    assert listed.metrics["f1"] == pytest.approx(run.metrics["f1"])
    assert listed.dataset_drift is False
    assert list_reports(store, "another-deployment") == []
    stored = report_json(store, get_report(store, run.id))
    assert stored == json.loads(run.to_json())
    page = report_html(store, listed)
    assert len(page) < FIVE_MB
    assert page.lstrip().lower().startswith(b"<!doctype html")
    assert DEPLOYMENT.encode() in page
    assert b"Plotly" in page and b"loopml:plotly.js" not in page  # whole again
    # the stored blob leaves the 4.8 MB library out: every report would repeat it
    assert listed.html_blob is not None
    assert store.blobs.size(listed.html_blob) < 500_000
    events = list_events(store, action="monitor.report", object_id=DEPLOYMENT)
    assert [event.after["report"] for event in events] == [run.id]


def test_save_false_stores_nothing(steady: Production) -> None:
    run = monitor(steady.store, DEPLOYMENT, window="1h", save=False)
    assert run.id is None
    assert list_reports(steady.store) == []


def test_a_drifted_window_breaches_the_drift_rule_and_alerts(drifted: Production) -> None:
    store = drifted.store
    run = monitor(store, DEPLOYMENT, window="1h", rules=["drift", "drifted_features >= 2"])

    assert run.data.dataset_drift
    assert {"monthly", "plan"} <= set(run.data.drifted)
    assert "tenure" not in run.data.drifted
    assert [breach["rule"] for breach in run.breaches] == ["drift", "drifted_features >= 2"]
    assert run.breached
    alerts = list_alerts(store, DEPLOYMENT)
    assert sorted(alert.id for alert in alerts) == sorted(alert.id for alert in run.alerts)
    assert {alert.rule for alert in alerts} == {"drift", "drifted_features >= 2"}
    assert {alert.report_id for alert in alerts} == {run.id}
    assert {alert.delivery for alert in alerts} == {"none"}  # no webhook in the policy
    audited = list_events(store, action="monitor.alert", object_id=DEPLOYMENT)
    assert sorted(event.after["alert"] for event in audited) == sorted(a.id for a in alerts)
    (listed,) = list_reports(store)
    assert listed.dataset_drift is True
    # The stored JSON names the alerts, though they are raised after it is written.
    stored = report_json(store, listed)
    assert stored["alerts"] == [alert.to_dict() for alert in run.alerts]
    assert stored == json.loads(run.to_json())
    assert [b["rule"] for b in listed.summary["breaches"]] == ["drift", "drifted_features >= 2"]


def test_alert_false_records_no_alert(drifted: Production) -> None:
    run = monitor(drifted.store, DEPLOYMENT, window="1h", alert=False)
    assert run.breached and run.alerts == []
    assert list_alerts(drifted.store) == []


def test_a_window_without_predictions_is_refused_and_stores_nothing(
    production: Production,
) -> None:
    with pytest.raises(InvalidInput, match="churn-prod' logged no predictions") as raised:
        monitor(production.store, DEPLOYMENT, window="1h")
    assert "--window" in str(raised.value)
    production.score(customers(200, seed=1))
    hour_ago = now_ms() - 3_600_000
    with pytest.raises(InvalidInput, match="logged no predictions"):
        monitor(production.store, DEPLOYMENT, since=hour_ago - 3_600_000, until=hour_ago)
    assert list_reports(production.store) == []
    assert list_alerts(production.store) == []


def test_an_unknown_rule_is_refused_before_any_work(steady: Production) -> None:
    with pytest.raises(InvalidInput, match="unknown metric 'nonsense'"):
        monitor(steady.store, DEPLOYMENT, window="1h", rules=["nonsense < 1"])
    assert list_reports(steady.store) == []


def test_the_reference_is_computed_once(steady: Production, db: Store) -> None:
    store = steady.store
    assert _references(db) == 0
    first = monitor(store, DEPLOYMENT, window="1h", save=False)
    assert _references(db) == 1
    second = monitor(store, DEPLOYMENT, window="1h", save=False)
    assert _references(db) == 1
    # Read back from the cache, the reference gives the same figures.
    assert second.metrics == first.metrics
    assert second.data.to_dict() == first.data.to_dict()


def test_a_named_reference_replaces_the_training_dataset(steady: Production, db: Store) -> None:
    store = steady.store
    loopml.data.add(DATASET, customers(3000, seed=5, drift=True), message="a drifted month")
    run = monitor(store, DEPLOYMENT, window="1h", reference=f"{DATASET}@2", save=False)
    assert run.reference == f"{DATASET}@2"
    # Undrifted traffic against a drifted reference: the reference really was replaced.
    assert run.data.dataset_drift
    assert {"monthly", "plan"} <= set(run.data.drifted)
    assert _references(db) == 1
    usual = monitor(store, DEPLOYMENT, window="1h", save=False)
    assert usual.reference == f"{DATASET}@1" and not usual.data.dataset_drift
    assert _references(db) == 2


def test_a_model_trained_on_a_table_without_its_inputs_needs_a_reference(
    production: Production,
) -> None:
    store = production.store
    accounts = customers(500, seed=7)[["customer_id", TARGET]]
    loopml.data.add("accounts", accounts)
    with loopml.start_run(experiment="churn"):
        loopml.data.load("accounts@1")  # what the lineage records
        model = fit_churn(customers(3000, seed=0))
        info = loopml.log_model(model, input_example=customers(5)[INPUTS], registered_name=MODEL)
    set_alias(store, MODEL, "champion", info.version.version)
    production.score(customers(300, seed=1))

    with pytest.raises(InvalidInput) as raised:
        monitor(store, DEPLOYMENT, window="1h")
    text = str(raised.value)
    assert "accounts@1" in text
    for column in INPUTS:
        assert column in text
    assert "--reference DATASET@VERSION" in text
    assert list_reports(store) == []

    fixed = monitor(store, DEPLOYMENT, window="1h", reference=f"{DATASET}@1")
    assert fixed.model == f"{MODEL}/2" and fixed.reference == f"{DATASET}@1"


def test_a_reference_without_the_inputs_is_refused(steady: Production) -> None:
    loopml.data.add("accounts", customers(500, seed=7)[["customer_id", TARGET]])
    with pytest.raises(InvalidInput, match="accounts@1 lacks the model's input column") as raised:
        monitor(steady.store, DEPLOYMENT, window="1h", reference="accounts@1")
    assert "--reference" in str(raised.value)


def test_rules_on_figures_a_run_cannot_compute_are_not_evaluated(
    production: Production,
) -> None:
    store = production.store
    production.score(customers(300, seed=1), labelled=60)
    rules = ["f1 < 0.99", "estimated_f1 < 0.99"]
    labelled = [rule for rule in rules if not rule.startswith("estimated")]

    enough = monitor(store, DEPLOYMENT, window="1h", rules=rules, save=False, alert=False)
    assert enough.labelled == 60  # the default policy needs 50
    assert enough.metrics["f1"] is not None
    assert [breach["rule"] for breach in enough.breaches] == rules
    assert enough.not_evaluated == []

    set_policy(store, Policy(DEPLOYMENT, min_labelled=100))
    short = monitor(store, DEPLOYMENT, window="1h", rules=rules, save=False, alert=False)
    assert short.metrics["f1"] is None and short.metrics["accuracy"] is None
    assert short.not_evaluated == labelled
    # CBPE needs no labels, so its rule is still evaluated (and breached).
    assert [breach["rule"] for breach in short.breaches] == ["estimated_f1 < 0.99"]
    assert short.metrics["estimated_f1"] == pytest.approx(enough.metrics["estimated_f1"])
