"""Monitoring policies: rules, and every field checked when the policy is set, so a bad
policy is refused then rather than when it should act."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.errors import InvalidInput, NotFound
from loopml.governance.audit import list_events
from loopml.monitoring.policy import (
    METRICS,
    Policy,
    check_policy,
    delete_policy,
    evaluate_rules,
    find_policy,
    get_policy,
    list_policies,
    parse_rule,
    set_policy,
)
from loopml.store import Store

from .support import DEPLOYMENT, NO_ALIAS_PIPELINE, write_pipeline

# --- rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "metric", "op", "threshold"),
    [
        ("drift", "dataset_drift", "==", 1.0),
        ("f1 < 0.75", "f1", "<", 0.75),
        ("  drift_share>=0.5 ", "drift_share", ">=", 0.5),
        ("rows != 1e3", "rows", "!=", 1000.0),
        ("label_drift > .2", "label_drift", ">", 0.2),
        ("r2 <= -0.5", "r2", "<=", -0.5),
    ],
)
def test_rules_parse(text: str, metric: str, op: str, threshold: float) -> None:
    rule = parse_rule(text)
    assert (rule.metric, rule.op, rule.threshold) == (metric, op, threshold)


def test_a_rule_on_an_unknown_metric_names_it_and_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_rule("nonsense < 1")
    assert "unknown metric 'nonsense'" in raised.value.message
    for known in ("f1", "drift_share", "estimated_roc_auc", "missing_share"):
        assert known in raised.value.hint
    assert raised.value.hint == "known metrics: " + ", ".join(METRICS)


@pytest.mark.parametrize("text", ["", "   ", "f1", "f1 <", "f1 < high", "f1 =< 0.5", "< 0.5"])
def test_an_unreadable_rule_says_how_to_write_one(text: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_rule(text)
    assert "f1 < 0.75" in str(raised.value)


def test_rules_evaluate_to_breaches_and_figures_the_run_lacks() -> None:
    rules = [parse_rule(text) for text in ("drift", "f1 < 0.8", "roc_auc < 0.9", "rows > 10")]
    metrics = {"dataset_drift": 1.0, "f1": 0.85, "roc_auc": None, "rows": 5.0}
    breaches, unknown = evaluate_rules(rules, metrics)
    assert breaches == [{"rule": "drift", "metric": "dataset_drift", "value": 1.0}]
    assert unknown == ["roc_auc < 0.9"]


# --- a policy's fields, each refused on its own ----------------------------------------


def test_a_policy_rule_on_an_unknown_metric_is_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown metric 'accuracy_score'") as raised:
        check_policy(Policy(DEPLOYMENT, rules=("drift", "accuracy_score < 0.9")))
    assert "accuracy" in raised.value.hint


@pytest.mark.parametrize("cron", ["every sunday", "61 3 * * *", "0 3 * *"])
def test_a_bad_cron_schedule_is_refused(project: Path, cron: str) -> None:
    write_pipeline(project)
    with pytest.raises(InvalidInput, match="invalid --schedule") as raised:
        check_policy(Policy(DEPLOYMENT, schedule=cron, pipeline="retrain.py"))
    assert "0 3 * * 0" in raised.value.hint


@pytest.mark.parametrize("steps", [(10, 50), (50, 10, 100), (0, 100), (10, 10, 100), ()])
def test_canary_steps_must_increase_to_100(steps: tuple[int, ...]) -> None:
    with pytest.raises(InvalidInput, match="invalid canary steps") as raised:
        check_policy(Policy(DEPLOYMENT, canary=steps))
    assert "ending at 100" in raised.value.hint


def test_a_missing_pipeline_file_is_refused(project: Path) -> None:
    with pytest.raises(InvalidInput, match="no pipeline file at 'missing.py'"):
        check_policy(Policy(DEPLOYMENT, pipeline="missing.py"))


def test_a_pipeline_without_an_alias_parameter_is_refused(project: Path) -> None:
    write_pipeline(project, NO_ALIAS_PIPELINE, "count.py")
    with pytest.raises(InvalidInput, match="pipeline 'counting' takes no 'alias'") as raised:
        check_policy(Policy(DEPLOYMENT, pipeline="count.py"))
    assert 'alias: str = "champion"' in raised.value.hint


def test_a_pipeline_param_it_does_not_take_is_refused(project: Path) -> None:
    write_pipeline(project)
    with pytest.raises(InvalidInput, match="depth"):
        check_policy(Policy(DEPLOYMENT, pipeline="retrain.py", params={"depth": 3}))


@pytest.mark.parametrize("url", ["ftp://hooks.example.com/x", "hooks.example.com", "file:///x"])
def test_a_webhook_must_be_http(url: str) -> None:
    with pytest.raises(InvalidInput, match="is not an http\\(s\\) URL"):
        check_policy(Policy(DEPLOYMENT, webhook=url))


@pytest.mark.parametrize("field", ["max_error_rate", "max_p99_ms"])
@pytest.mark.parametrize("value", [0, -1.0, True])
def test_canary_limits_must_be_positive(field: str, value: object) -> None:
    with pytest.raises(InvalidInput, match=f"{field} must be a positive number"):
        check_policy(Policy(DEPLOYMENT, **{field: value}))


def test_a_schedule_needs_a_pipeline() -> None:
    with pytest.raises(InvalidInput, match="a schedule retrains, so it needs --pipeline"):
        check_policy(Policy(DEPLOYMENT, schedule="0 3 * * 0"))


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("window", "an hour", "invalid duration"),
        ("canary_interval", "1 minute", "invalid duration"),
        ("alias", "Bad Alias!", "alias"),
        ("min_labelled", 0, "min_labelled"),
    ],
)
def test_other_bad_fields_are_refused(field: str, value: object, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        check_policy(Policy(DEPLOYMENT, **{field: value}))


def test_a_full_policy_passes(project: Path) -> None:
    write_pipeline(project)
    policy = Policy(
        DEPLOYMENT,
        rules=("drift", "f1 < 0.7", "estimated_f1 < 0.7"),
        schedule="0 3 * * 0",
        pipeline="retrain.py:retraining",
        params={"gate": "roc_auc >= 0.5"},
        canary=(5, 25, 100),
        webhook="https://hooks.example.com/loopml",
    )
    assert check_policy(policy) is policy


# --- stored policies -----------------------------------------------------------------


def test_a_policy_for_an_unknown_deployment_is_refused(deployed: Store) -> None:
    with pytest.raises(NotFound, match="nowhere"):
        set_policy(deployed, Policy("nowhere"))
    assert list_policies(deployed) == []


def test_a_bad_policy_is_not_stored(deployed: Store) -> None:
    with pytest.raises(InvalidInput):
        set_policy(deployed, Policy(DEPLOYMENT, rules=("f1 < 0.5", "nonsense > 1")))
    assert find_policy(deployed, DEPLOYMENT) is None
    assert list_events(deployed, action="monitor.policy.set") == []


def test_set_get_replace_and_delete_a_policy(deployed: Store, project: Path) -> None:
    store = deployed
    write_pipeline(project)
    first = set_policy(store, Policy(DEPLOYMENT, rules=("drift",), pipeline="retrain.py"))
    # The pipeline is stored by absolute path: a service started elsewhere finds it.
    assert first.pipeline == str(project / "retrain.py")
    assert get_policy(store, DEPLOYMENT) == first
    assert list_policies(store) == [first]

    second = set_policy(
        store,
        Policy(DEPLOYMENT, rules=("f1 < 0.8", "drift_share > 0.3"), canary=(50, 100), window="6h"),
    )
    found = get_policy(store, DEPLOYMENT)
    assert found == second
    assert (found.rules, found.canary, found.window, found.pipeline) == (
        ("f1 < 0.8", "drift_share > 0.3"),
        (50, 100),
        "6h",
        None,
    )
    assert [rule.metric for rule in found.parsed_rules] == ["f1", "drift_share"]

    delete_policy(store, DEPLOYMENT)
    assert find_policy(store, DEPLOYMENT) is None
    with pytest.raises(NotFound, match="has no monitoring policy") as raised:
        get_policy(store, DEPLOYMENT)
    assert f"loopml monitor policy {DEPLOYMENT}" in raised.value.hint
    with pytest.raises(NotFound):
        delete_policy(store, DEPLOYMENT)

    sets = list_events(store, action="monitor.policy.set", object_id=DEPLOYMENT)
    assert [event.after["rules"] for event in reversed(sets)] == [
        ["drift"],
        ["f1 < 0.8", "drift_share > 0.3"],
    ]
    assert sets[-1].before is None  # the first set created it
    assert sets[0].before == first.to_dict() | {"rules": ["drift"], "canary": [10, 50, 100]}
    (deleted,) = list_events(store, action="monitor.policy.delete", object_id=DEPLOYMENT)
    assert deleted.before["rules"] == ["f1 < 0.8", "drift_share > 0.3"]
    assert deleted.actor == "tester"
