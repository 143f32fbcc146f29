"""The closed loop: the policy's pipeline retrains, a candidate that won its alias goes out
as a canary on the deployment, and the canary's end is read back into the retrain."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from croniter import croniter
from sqlalchemy import select

from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.governance.audit import list_events
from loopml.governance.lineage import lineage
from loopml.monitoring.loop import (
    act,
    active_retrain,
    due_schedules,
    get_retrain,
    list_retrains,
    retrain,
    settle,
)
from loopml.monitoring.monitor import monitor
from loopml.monitoring.policy import Policy, set_policy
from loopml.registry.versions import get_version
from loopml.serving import deployments
from loopml.store import Store
from loopml.store.schema import monitor_policies

from .support import DEPLOYMENT, MODEL, Production, write_pipeline


def _holder(store: Store, alias: str) -> int | None:
    try:
        return get_version(store, f"{MODEL}@{alias}").version
    except NotFound:
        return None


def _policy(production: Production, **fields: object) -> Policy:
    write_pipeline(production.root)
    return set_policy(production.store, Policy(DEPLOYMENT, pipeline="retrain.py", **fields))


def _finish_canary(store: Store) -> None:
    """Judge every step of the running canary good, as the serving process would."""
    for _ in range(10):
        found = deployments.get(store, DEPLOYMENT)
        if found.spec.canary is None or found.spec.canary.status != "running":
            return
        deployments.advance_canary(store, DEPLOYMENT, found.revision, "next", "step healthy")
    raise AssertionError("the canary did not end")


def test_a_passing_candidate_goes_out_as_a_canary_and_is_promoted(
    production: Production,
) -> None:
    store = production.store
    _policy(production, canary=(10, 50, 100))
    before = deployments.get(store, DEPLOYMENT)

    started = retrain(store, DEPLOYMENT, trigger="manual")

    assert started.status == "canary"
    assert started.candidate == f"{MODEL}/2"
    assert started.pipeline_run is not None and started.finished_at is None
    assert _holder(store, "challenger") == 2  # the pipeline moved the policy's alias
    assert _holder(store, "champion") == 1
    spec = deployments.get(store, DEPLOYMENT).spec
    assert spec.canary is not None and spec.canary.status == "running"
    assert spec.canary.steps == (10, 50, 100)
    weights = {variant.model: variant.weight for variant in spec.variants}
    assert weights == {f"{MODEL}@champion": 90, f"{MODEL}/2": 10}
    assert active_retrain(store, DEPLOYMENT) == started
    with pytest.raises(Conflict, match="retrain #1 of 'churn-prod' is still canary"):
        retrain(store, DEPLOYMENT)
    assert settle(store) == []  # the canary is still running
    assert deployments.get(store, DEPLOYMENT).revision == before.revision + 1

    _finish_canary(store)
    (settled,) = settle(store)

    assert settled.id == started.id
    assert settled.status == "promoted" and settled.finished_at is not None
    assert "champion" in settled.detail and "to 2" in settled.detail
    assert _holder(store, "champion") == 2
    assert active_retrain(store, DEPLOYMENT) is None
    assert settle(store) == []  # settled once
    actions = [e.action for e in list_events(store, object_type="monitor_retrain")]
    assert actions == [
        "monitor.retrain.promoted",
        "monitor.retrain.canary",
        "monitor.retrain.start",
    ]


def test_the_lineage_of_a_retrain_names_its_pipeline_run_and_candidate(
    production: Production,
) -> None:
    store = production.store
    _policy(production)
    started = retrain(store, DEPLOYMENT, trigger="alert #7 drift")

    tree = lineage(store, f"retrain:{started.id}", direction="down", depth=1)

    assert tree.kind == "retrain" and tree.id == f"retrain:{started.id}"
    assert "churn-prod" in tree.label and tree.facts["status"] == "canary"
    assert tree.facts["trigger"] == "alert #7 drift"
    below = {(node.kind, node.relation): node for node in tree.downstream}
    assert below[("pipeline_run", "ran")].id.startswith(started.pipeline_run[:8])
    candidate = below[("model_version", "candidate (canary)")]
    assert candidate.id == f"models:/{MODEL}/2"
    # ...and the pipeline run leads back to the retrain that started it.
    run = lineage(store, started.pipeline_run, direction="up", depth=1)
    assert [(n.relation, n.id) for n in run.upstream if n.kind == "retrain"] == [
        ("started by", f"retrain:{started.id}")
    ]


def test_a_candidate_that_fails_its_gate_is_rejected_and_nothing_changes(
    production: Production,
) -> None:
    store = production.store
    _policy(production, params={"gate": "roc_auc >= 0.999"})
    before = deployments.get(store, DEPLOYMENT)

    done = retrain(store, DEPLOYMENT)

    assert done.status == "rejected" and done.finished_at is not None
    assert done.candidate == f"{MODEL}/2"
    assert "failed its gates to 'challenger'" in done.detail
    assert "roc_auc >= 0.999" in done.detail
    after = deployments.get(store, DEPLOYMENT)
    assert (after.revision, after.spec) == (before.revision, before.spec)
    assert _holder(store, "challenger") is None
    assert _holder(store, "champion") == 1
    assert active_retrain(store, DEPLOYMENT) is None
    # The same data and code again: every step is reused, so no new version is registered.
    again = retrain(store, DEPLOYMENT)
    assert (again.status, again.candidate) == ("rejected", None)
    assert again.detail == "the pipeline run registered no model version"


def test_a_candidate_the_pipeline_did_not_promote_is_rejected(production: Production) -> None:
    store = production.store
    _policy(production, params={"gate": ""})

    done = retrain(store, DEPLOYMENT)

    assert (done.status, done.candidate) == ("rejected", f"{MODEL}/2")
    assert done.detail == f"{MODEL}/2 was not promoted to 'challenger' by the pipeline"
    assert deployments.get(store, DEPLOYMENT).spec.canary is None


def test_a_pipeline_that_raises_fails_the_retrain(production: Production) -> None:
    store = production.store
    _policy(production, params={"fail": "error"})
    before = deployments.get(store, DEPLOYMENT)

    done = retrain(store, DEPLOYMENT)

    assert done.status == "failed"
    assert "the warehouse is down" in done.detail
    assert done.candidate is None
    assert done.pipeline_run is not None  # the failed run is named, to resume or trace
    assert deployments.get(store, DEPLOYMENT).revision == before.revision
    assert active_retrain(store, DEPLOYMENT) is None
    assert [r.status for r in list_retrains(store, DEPLOYMENT)] == ["failed"]
    assert get_retrain(store, done.id) == done


def test_an_interrupted_retrain_does_not_block_the_next(production: Production) -> None:
    store = production.store
    _policy(production, params={"fail": "interrupt"})

    with pytest.raises(KeyboardInterrupt):
        retrain(store, DEPLOYMENT)

    (stopped,) = list_retrains(store, DEPLOYMENT)
    assert stopped.status == "failed" and "interrupted" in stopped.detail
    assert active_retrain(store, DEPLOYMENT) is None
    _policy(production)
    assert retrain(store, DEPLOYMENT).status == "canary"


def test_retraining_needs_a_policy_with_a_pipeline(deployed: Store) -> None:
    with pytest.raises(NotFound, match="has no monitoring policy"):
        retrain(deployed, DEPLOYMENT)
    set_policy(deployed, Policy(DEPLOYMENT))
    with pytest.raises(InvalidInput, match="names no pipeline") as raised:
        retrain(deployed, DEPLOYMENT)
    assert "--pipeline" in raised.value.hint
    assert list_retrains(deployed) == []
    with pytest.raises(NotFound, match="no retrain #3"):
        get_retrain(deployed, 3)


def test_act_retrains_only_on_alerts_with_a_pipeline(drifted: Production) -> None:
    store = drifted.store
    quiet = monitor(store, DEPLOYMENT, window="1h", rules=["rows < 1"], save=False)
    assert quiet.alerts == []
    loud = monitor(store, DEPLOYMENT, window="1h", rules=["drift"], save=False, alert=True)
    assert loud.alerts

    assert act(store, loud) is None  # no policy
    set_policy(store, Policy(DEPLOYMENT))
    assert act(store, loud) is None  # a policy without a pipeline
    _policy(drifted)
    assert act(store, quiet) is None  # no alert
    assert list_retrains(store) == []

    started = act(store, loud)

    assert started is not None and started.status == "canary"
    assert started.trigger == f"alert #{loud.alerts[0].id} drift"
    assert act(store, loud) is None  # one retrain at a time
    assert len(list_retrains(store)) == 1


def _last_scheduled(store: Store) -> int:
    with store.read() as connection:
        return connection.execute(select(monitor_policies.c.last_scheduled)).scalar()


def test_a_schedule_is_due_once_per_slot(production: Production, db: Store) -> None:
    store = production.store
    policy = _policy(production, schedule="0 * * * *")  # hourly, on the hour
    start = datetime.fromtimestamp(_last_scheduled(db) / 1000, tz=UTC)
    slot = int(croniter(policy.schedule, start).get_next(datetime).timestamp() * 1000)

    assert due_schedules(store, now=slot - 1000) == []
    assert due_schedules(store, now=slot) == [policy]
    assert due_schedules(store, now=slot + 60_000) == []  # that slot is taken
    assert due_schedules(store, now=slot + 3_600_000) == [policy]
    assert due_schedules(store, now=slot + 3_600_000) == []


def test_a_retrain_reference_names_a_retrain(deployed: Store) -> None:
    with pytest.raises(InvalidInput, match="is not retrain:NUMBER"):
        lineage(deployed, "retrain:first")
    with pytest.raises(NotFound, match="no retrain #9"):
        lineage(deployed, "retrain:9")


def test_a_policy_without_a_schedule_is_never_due(deployed: Store) -> None:
    set_policy(deployed, Policy(DEPLOYMENT, rules=("drift",)))
    assert due_schedules(deployed, now=2**42) == []


def test_an_aborted_canary_rejects_the_retrain(production: Production) -> None:
    store = production.store
    _policy(production)
    started = retrain(store, DEPLOYMENT)
    assert started.status == "canary"
    deployments.abort_canary(store, DEPLOYMENT, reason="stopped by hand")

    (settled,) = settle(store, DEPLOYMENT)

    assert settled.status == "rejected"
    assert "stopped by hand" in settled.detail
    assert _holder(store, "champion") == 1


def test_a_retrain_left_running_by_a_dead_process_stops_blocking(production: Production) -> None:
    """kill -9 mid-retrain leaves it 'running'; its process is gone, so the next retrain
    marks it failed instead of refusing forever."""
    import socket
    import subprocess
    import sys

    from loopml.monitoring.loop import start_retrain

    store = production.store
    _policy(production)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    stuck = start_retrain(store, DEPLOYMENT, "manual", f"{socket.gethostname()}:{gone}")
    assert active_retrain(store, DEPLOYMENT) is None
    assert get_retrain(store, stuck).status == "failed"
    assert "ended" in get_retrain(store, stuck).detail
    assert retrain(store, DEPLOYMENT).status == "canary"


def test_force_abandons_an_active_retrain_and_its_canary(production: Production) -> None:
    store = production.store
    _policy(production, canary=(10, 100), max_error_rate=0.05, max_p99_ms=250.0)
    first = retrain(store, DEPLOYMENT)
    canary = deployments.get(store, DEPLOYMENT).spec.canary
    assert canary is not None and canary.max_error_rate == 0.05 and canary.max_p99_ms == 250.0
    second = retrain(store, DEPLOYMENT, force=True)
    abandoned = get_retrain(store, first.id)
    assert abandoned.status == "failed" and abandoned.detail == "abandoned by tester"
    assert second.id != first.id and second.status in ("canary", "rejected")


def test_a_retrain_started_by_alerts_traces_back_to_the_model_they_were_raised_on(
    drifted: Production,
) -> None:
    store = drifted.store
    _policy(drifted)
    run = monitor(store, DEPLOYMENT, window="1h", rules=["drift"])
    started = act(store, run)
    assert started is not None and started.trigger.startswith(f"alert #{run.alerts[0].id}")
    tree = lineage(store, f"retrain:{started.id}", direction="up", depth=1)
    (watched,) = tree.upstream
    assert watched.kind == "model_version" and watched.id == f"models:/{MODEL}/1"
    assert watched.relation == f"alerted on: drift (report #{run.id})"
