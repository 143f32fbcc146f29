"""Deployments in the store: audited revisions, rollback, canaries, and how traffic is routed."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from loopml.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from loopml.governance.audit import list_events, verify
from loopml.registry import alias_history, get_version
from loopml.serving.deployments import (
    Deployment,
    abort_canary,
    advance_canary,
    canary,
    create,
    current_revision,
    ensure,
    get,
    history,
    list_deployments,
    rollback,
    shadow,
    split,
    switch,
)
from loopml.serving.runtime import Routing, Runtime, StoreSource
from loopml.store import Store

from .support import DEPLOYMENT

NAME = DEPLOYMENT
THREADS = 8


@pytest.fixture
def deployed(registered: Store, deployment: str) -> Store:
    """The store with ``churn-prod`` serving churn@champion (see conftest.py)."""
    return registered


def weights(deployment: Deployment) -> dict[str, int]:
    return {v.name: v.weight for v in deployment.spec.variants}


def events(store: Store, name: str = NAME) -> list[Any]:
    found = list_events(store, object_type="deployment", object_id=name, limit=1000)
    return sorted((e for e in found if e.object_id == name), key=lambda e: e.seq)


def actions(store: Store, name: str = NAME) -> list[str]:
    return [r.action for r in history(store, name)]


def routing(store: Store, name: str = NAME) -> Routing:
    runtime = Runtime(StoreSource(store, name))
    assert runtime.refresh(), runtime.error
    assert runtime.routing is not None
    return runtime.routing


def served_version(store: Store, name: str = NAME) -> int:
    """The model version that answers requests now (the deployment has one live variant)."""
    (live,) = routing(store, name).live
    return live.version


def start_canary(store: Store, steps: list[int], model: str = "churn@challenger", **limits):
    return canary(store, NAME, model, steps=steps, interval_s=60, **limits)


def race(work: Callable[[int], Any]) -> list[Any]:
    """``work(i)`` in THREADS threads released at once; results or the exceptions raised."""
    barrier = threading.Barrier(THREADS)
    results: list[Any] = [None] * THREADS

    def target(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work(index)
        except Exception as exc:  # collected and checked by the test
            results[index] = exc

    threads = [threading.Thread(target=target, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# --- create -----------------------------------------------------------------------------


def test_create_stores_revision_one_with_its_audit_event(registered: Store) -> None:
    made = create(registered, NAME, "models:/churn@champion", reason="launch")
    assert (made.name, made.revision, made.strategy, made.created_by) == (
        NAME,
        1,
        "single",
        "tester",
    )
    assert [(v.name, v.model, v.weight) for v in made.spec.variants] == [
        ("main", "churn@champion", 100)
    ]
    assert get(registered, NAME) == made
    assert [d.name for d in list_deployments(registered)] == [NAME]
    assert current_revision(registered, NAME) == 1
    (revision,) = history(registered, NAME)
    assert (revision.revision, revision.action, revision.actor, revision.reason) == (
        1,
        "create",
        "tester",
        "launch",
    )
    assert revision.spec == made.spec and revision.undone_by is None
    (event,) = events(registered)
    assert (event.action, event.actor, event.before) == ("deployment.create", "tester", None)
    assert event.after == {**made.spec.to_dict(), "revision": 1, "reason": "launch"}
    assert verify(registered).ok


def test_a_second_create_of_the_same_name_is_refused(deployed: Store) -> None:
    before = get(deployed, NAME)
    with pytest.raises(AlreadyExists, match=f"deployment '{NAME}' exists already"):
        create(deployed, NAME, "churn@challenger")
    assert get(deployed, NAME) == before
    assert actions(deployed) == ["create"] and len(events(deployed)) == 1


@pytest.mark.parametrize(
    ("model", "error", "message"),
    [
        ("churn@nope", NotFound, "model 'churn' has no alias 'nope' \\(aliases: challenger, "),
        ("churn/9", NotFound, "model 'churn' has no version 9"),
        ("other@champion", NotFound, "model 'other' is not registered"),
        ("runs:/abc123/model", InvalidInput, "a deployment serves registered models"),
    ],
)
def test_create_with_a_model_that_does_not_resolve_stores_nothing(
    registered: Store, model: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        create(registered, NAME, model)
    assert list_deployments(registered) == []
    assert events(registered) == []
    with pytest.raises(NotFound, match=f"deployment '{NAME}' does not exist"):
        get(registered, NAME)


@pytest.mark.parametrize("name", ["", "-prod", "churn prod", "churn/prod", "x" * 129, "prod\n"])
def test_an_invalid_deployment_name_is_refused(registered: Store, name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid deployment name"):
        create(registered, name, "churn@champion")
    assert list_deployments(registered) == []


def test_ensure_creates_once_and_then_returns_what_is_there(registered: Store) -> None:
    made = ensure(registered, NAME, "churn@champion")
    assert made.revision == 1 and history(registered, NAME)[0].reason == "created by loopml serve"
    split(registered, NAME, {"b": ("churn@challenger", 20)})
    again = ensure(registered, NAME, "churn/2")
    assert again == get(registered, NAME) and again.revision == 2
    assert actions(registered) == ["create", "split"]


def test_servers_ensuring_the_same_deployment_at_once_create_it_once(registered: Store) -> None:
    results = race(lambda i: ensure(registered, NAME, "churn@champion"))
    assert all(not isinstance(result, Exception) for result in results), results
    assert {(r.name, r.revision) for r in results} == {(NAME, 1)}
    assert actions(registered) == ["create"] and len(events(registered)) == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda s: get(s, "nope"),
        lambda s: history(s, "nope"),
        lambda s: split(s, "nope", {"b": ("churn@challenger", 20)}),
        lambda s: shadow(s, "nope", "churn/2"),
        lambda s: canary(s, "nope", "churn/2", steps=[10], interval_s=60),
        lambda s: abort_canary(s, "nope"),
        lambda s: advance_canary(s, "nope", 1, "next", "held"),
        lambda s: switch(s, "nope", "churn/2"),
        lambda s: rollback(s, "nope"),
    ],
    ids=["get", "history", "split", "shadow", "canary", "abort", "advance", "switch", "rollback"],
)
def test_an_unknown_deployment_is_named(deployed: Store, call) -> None:
    with pytest.raises(NotFound, match="deployment 'nope' does not exist"):
        call(deployed)
    assert [d.name for d in list_deployments(deployed)] == [NAME]
    assert len(events(deployed, "nope")) == 0


# --- revisions and the audit log --------------------------------------------------------


def test_every_change_writes_a_revision_and_an_audit_event(deployed: Store) -> None:
    store = deployed
    split(store, NAME, {"b": ("churn@challenger", 20)}, sticky="header:X-User-Id", reason="ab")
    shadow(store, NAME, "churn/2", percent=10)
    split(store, NAME, {"b": (None, 0)})
    switch(store, NAME, "churn@challenger")
    start_canary(store, [10], model="churn/1")
    abort_canary(store, NAME, reason="not now")
    rollback(store, NAME)
    shadow(store, NAME, None)
    expected = [
        "create",
        "split",
        "shadow",
        "split",
        "switch",
        "canary",
        "canary-abort",
        "rollback",
        "shadow",
    ]
    revisions = history(store, NAME)
    assert [r.action for r in revisions] == expected
    assert [r.revision for r in revisions] == list(range(1, len(expected) + 1))
    assert get(store, NAME).revision == current_revision(store, NAME) == len(expected)
    assert get(store, NAME).spec == revisions[-1].spec
    logged = events(store)
    assert [e.action for e in logged] == [f"deployment.{a}" for a in expected]
    for number, (event, revision) in enumerate(zip(logged, revisions, strict=True), start=1):
        assert event.after == {
            **revision.spec.to_dict(),
            "revision": number,
            "reason": revision.reason,
        }
        if number > 1:
            assert event.before == revisions[number - 2].spec.to_dict()
    assert revisions[1].reason == "ab" and revisions[6].reason == "not now"
    assert revisions[7].reason == "rollback of revision 7"
    assert verify(store).ok


def test_rollback_walks_back_one_change_at_a_time(deployed: Store) -> None:
    store = deployed
    split(store, NAME, {"b": ("churn@challenger", 20)})
    split(store, NAME, {"b": (None, 50)})
    assert weights(rollback(store, NAME, reason="too much")) == {"main": 80, "b": 20}
    assert weights(rollback(store, NAME)) == {"main": 100}
    with pytest.raises(Conflict, match=f"deployment '{NAME}' has no earlier revision"):
        rollback(store, NAME)
    revisions = history(store, NAME)
    assert [(r.action, r.undone_by) for r in revisions] == [
        ("create", None),
        ("split", 5),
        ("split", 4),
        ("rollback", None),
        ("rollback", None),
    ]
    assert revisions[3].reason == "too much" and revisions[4].reason == "rollback of revision 2"
    assert get(store, NAME).revision == 5 and len(events(store)) == 5


def test_a_change_after_a_rollback_is_the_next_one_undone(deployed: Store) -> None:
    store = deployed
    split(store, NAME, {"b": ("churn@challenger", 20)})
    rollback(store, NAME)
    shadow(store, NAME, "churn/2", percent=25)
    back = rollback(store, NAME)
    assert weights(back) == {"main": 100} and not back.spec.shadows
    with pytest.raises(Conflict, match="no earlier revision to roll back to"):
        rollback(store, NAME)


def test_a_new_deployment_has_nothing_to_roll_back(deployed: Store) -> None:
    with pytest.raises(Conflict, match="has no earlier revision to roll back to"):
        rollback(deployed, NAME)
    assert get(deployed, NAME).revision == 1 and len(events(deployed)) == 1


def test_switch_then_rollback_restores_the_previous_live_variant(deployed: Store) -> None:
    store = deployed
    assert served_version(store) == 1
    switched = switch(store, NAME, "churn@challenger")
    assert weights(switched) == {"green": 100, "main": 0} and switched.strategy == "blue-green"
    table = routing(store)
    assert [(v.name, v.version) for v in table.live] == [("green", 2)]
    assert {v.name for v in table.variants} == {"green", "main"}  # the old colour stays loaded
    assert weights(switch(store, NAME)) == {"main": 100, "green": 0}
    assert served_version(store) == 1
    assert weights(rollback(store, NAME)) == {"green": 100, "main": 0}
    assert served_version(store) == 2
    assert weights(rollback(store, NAME)) == {"main": 100}
    assert served_version(store) == 1


@pytest.mark.parametrize(
    "change",
    [
        lambda s: split(s, NAME, {"b": ("churn@nope", 20)}),
        lambda s: shadow(s, NAME, "churn/9"),
        lambda s: switch(s, NAME, "other@champion"),
        lambda s: canary(s, NAME, "churn@nope", steps=[10], interval_s=60),
    ],
    ids=["split", "shadow", "switch", "canary"],
)
def test_a_change_to_a_model_that_does_not_resolve_changes_nothing(deployed: Store, change):
    before = get(deployed, NAME)
    with pytest.raises(NotFound, match="has no alias 'nope'|has no version 9|not registered"):
        change(deployed)
    assert get(deployed, NAME) == before
    assert actions(deployed) == ["create"] and len(events(deployed)) == 1


def test_a_refused_change_writes_nothing(deployed: Store) -> None:
    with pytest.raises(InvalidInput, match="there is no shadow variant 'shadow' to remove"):
        shadow(deployed, NAME, None)
    with pytest.raises(InvalidInput, match="the variants' weights add up to 120%"):
        split(deployed, NAME, {"b": ("churn/2", 60), "c": ("churn/1", 60)})
    with pytest.raises(Conflict, match="there is no idle variant to switch to"):
        switch(deployed, NAME)
    assert get(deployed, NAME).revision == 1 and len(events(deployed)) == 1


# --- canary -----------------------------------------------------------------------------


def test_a_canary_steps_up_and_its_promotion_moves_the_champion_alias(deployed: Store) -> None:
    store = deployed
    started = start_canary(store, [10, 50])
    assert weights(started) == {"main": 90, "canary": 10}
    step = advance_canary(store, NAME, started.revision, "next", "step 1 held")
    assert step is not None and weights(step) == {"main": 50, "canary": 50}
    assert step.spec.canary is not None and step.spec.canary.step == 1
    assert step.spec.canary.step_started_at >= started.spec.canary.step_started_at
    last = advance_canary(store, NAME, step.revision, "next", "step 2 held")
    assert last is not None and weights(last) == {"main": 0, "canary": 100}
    done = advance_canary(store, NAME, last.revision, "next", "step 3 held")
    assert done is not None and done.spec.canary is not None
    assert [(v.name, v.model, v.weight) for v in done.spec.variants] == [
        ("main", "churn@champion", 100)
    ]
    assert (done.spec.canary.status, done.spec.canary.reason) == ("promoted", "step 3 held")
    assert done.strategy == "single"
    assert get_version(store, "churn@champion").version == 2
    move = alias_history(store, "churn", "champion")[-1]
    assert (move.action, move.previous_version, move.version, move.reason) == (
        "set",
        1,
        2,
        "canary",
    )
    alias_events = list_events(store, object_type="model_alias", object_id="churn@champion")
    assert alias_events[0].before == {"version": 1}
    assert alias_events[0].after == {"version": 2, "reason": "canary"}
    assert actions(store) == ["create", "canary", "canary-step", "canary-step", "canary-step"]
    assert served_version(store) == 2
    assert verify(store).ok


def test_promoting_a_canary_over_a_pinned_version_pins_the_new_one(registered: Store) -> None:
    create(registered, NAME, "churn/1")
    started = start_canary(registered, [100])
    done = advance_canary(registered, NAME, started.revision, "next", "held")
    assert done is not None and done.spec.canary is not None
    assert done.spec.canary.status == "promoted"
    assert [(v.name, v.model, v.weight) for v in done.spec.variants] == [("main", "churn/2", 100)]
    assert get_version(registered, "churn@champion").version == 1
    assert [m.version for m in alias_history(registered, "churn", "champion")] == [1]


def test_a_stale_revision_changes_nothing(deployed: Store) -> None:
    store = deployed
    started = start_canary(store, [10, 50])
    for stale in (started.revision - 1, started.revision + 1):
        assert advance_canary(store, NAME, stale, "next", "held") is None
        assert advance_canary(store, NAME, stale, "rollback", "broke") is None
    assert get(store, NAME) == started
    assert actions(store) == ["create", "canary"] and len(events(store)) == 2


def test_replicas_judging_the_same_step_move_the_canary_once(deployed: Store) -> None:
    started = start_canary(deployed, [10, 50])
    results = race(lambda i: advance_canary(deployed, NAME, started.revision, "next", f"r{i}"))
    assert all(not isinstance(result, Exception) for result in results), results
    moved = [result for result in results if result is not None]
    assert len(moved) == 1 and moved[0].revision == started.revision + 1
    assert weights(get(deployed, NAME)) == {"main": 50, "canary": 50}
    assert actions(deployed) == ["create", "canary", "canary-step"]


def test_a_rollback_verdict_puts_all_traffic_back_on_stable(deployed: Store) -> None:
    store = deployed
    started = start_canary(store, [10, 50], max_error_rate=0.01)
    step = advance_canary(store, NAME, started.revision, "next", "held")
    assert step is not None
    back = advance_canary(store, NAME, step.revision, "rollback", "error rate 9% over stable")
    assert back is not None and back.spec.canary is not None
    assert weights(back) == {"main": 100}
    assert (back.spec.canary.status, back.spec.canary.reason) == (
        "rolled_back",
        "error rate 9% over stable",
    )
    assert actions(store)[-1] == "canary-rollback"
    assert get_version(store, "churn@champion").version == 1
    assert served_version(store) == 1
    with pytest.raises(Conflict, match="has no running canary"):
        advance_canary(store, NAME, back.revision, "next", "held")


def test_abort_stops_the_canary_and_a_new_one_may_start(deployed: Store) -> None:
    store = deployed
    start_canary(store, [10])
    with pytest.raises(Conflict, match="a canary is running on this deployment"):
        start_canary(store, [20], model="churn/2")
    for change in (
        lambda: split(store, NAME, {"b": ("churn/2", 20)}),
        lambda: switch(store, NAME, "churn/2"),
    ):
        with pytest.raises(Conflict, match="a canary is running"):
            change()
    assert actions(store) == ["create", "canary"]
    stopped = abort_canary(store, NAME)
    assert stopped.spec.canary is not None
    assert (stopped.spec.canary.status, stopped.spec.canary.reason) == (
        "aborted",
        "aborted by tester",
    )
    assert weights(stopped) == {"main": 100}
    with pytest.raises(Conflict, match=f"deployment '{NAME}' has no running canary"):
        abort_canary(store, NAME)
    again = start_canary(store, [20], model="churn/2")
    assert weights(again) == {"main": 80, "canary": 20}
    assert abort_canary(store, NAME, reason="wrong model").spec.canary.reason == "wrong model"
    assert actions(store) == ["create", "canary", "canary-abort", "canary", "canary-abort"]


def test_rolling_back_a_canary_step_stops_the_canary(deployed: Store) -> None:
    store = deployed
    started = start_canary(store, [10, 50])
    assert advance_canary(store, NAME, started.revision, "next", "held") is not None
    back = rollback(store, NAME)
    assert weights(back) == {"main": 100} and back.spec.canary is not None
    assert (back.spec.canary.status, back.spec.canary.reason) == (
        "rolled_back",
        "deployment rolled back",
    )
    assert back.strategy == "single"


def test_rolling_back_a_promotion_serves_the_previous_version_again(deployed: Store) -> None:
    store = deployed
    revision = start_canary(store, [100]).revision
    assert advance_canary(store, NAME, revision, "next", "held") is not None
    assert served_version(store) == 2
    rollback(store, NAME, reason="the new version misbehaves")
    assert served_version(store) == 1


# --- routing ----------------------------------------------------------------------------


def test_a_single_variant_answers_every_request(deployed: Store) -> None:
    table = routing(deployed)
    assert {table.choose(key).name for key in [None, "a", 1, "user-42"]} == {"main"}


@pytest.mark.parametrize("share", [1, 20, 50, 90])
def test_sticky_routing_keeps_each_key_on_one_variant_in_proportion(
    deployed: Store, share: int
) -> None:
    split(deployed, NAME, {"b": ("churn@challenger", share)}, sticky="header:X-User-Id")
    table = routing(deployed)
    assert table.sticky == ("header", "x-user-id")
    assert [(v.name, v.version, v.weight) for v in table.live] == [
        ("main", 1, 100 - share),
        ("b", 2, share),
    ]
    rng = random.Random(share)
    keys = [f"user-{rng.getrandbits(64):016x}" for _ in range(10_000)]
    first = [table.choose(key).name for key in keys]
    assert [table.choose(key).name for key in keys] == first
    assert [routing(deployed).choose(key).name for key in keys[:500]] == first[:500]
    assert abs(Counter(first)["b"] / len(keys) - share / 100) < 0.02


def test_requests_without_a_key_are_spread_by_weight(deployed: Store) -> None:
    split(deployed, NAME, {"b": ("churn@challenger", 30)})
    table = routing(deployed)
    chosen = Counter(table.choose().name for _ in range(10_000))
    assert set(chosen) == {"main", "b"}
    assert abs(chosen["b"] / 10_000 - 0.3) < 0.03


def test_idle_and_shadow_variants_answer_no_request(deployed: Store) -> None:
    switch(deployed, NAME, "churn@challenger")
    shadow(deployed, NAME, "churn/1", variant="mirror", percent=100)
    table = routing(deployed)
    assert {v.name for v in table.variants} == {"green", "main", "mirror"}
    assert {table.choose(f"user-{i}").name for i in range(1_000)} == {"green"}
    assert [v.name for v in table.mirrored()] == ["mirror"]


def test_the_canary_share_is_routed_to_the_candidate(deployed: Store) -> None:
    start_canary(deployed, [25])
    table = routing(deployed)
    assert table.canary is not None and table.canary.status == "running"
    picked = Counter(table.choose(f"user-{i}").name for i in range(10_000))
    assert abs(picked["canary"] / 10_000 - 0.25) < 0.02
    assert {v.name: v.version for v in table.live} == {"main": 1, "canary": 2}
