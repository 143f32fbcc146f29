from __future__ import annotations

import pytest
from sqlalchemy import func, select

from loopml.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from loopml.governance import list_events
from loopml.store.schema import audit_events, params, runs, tags
from loopml.tracking import (
    FINISHED,
    RUNNING,
    create_experiment,
    create_run,
    delete_run,
    delete_tag,
    get_experiment,
    get_run,
    list_experiments,
    log_params,
    restore_run,
    search_runs,
    set_run_status,
    set_tags,
)


def _counts(store) -> dict[str, int]:
    with store.read() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (runs, params, tags, audit_events)
        }


def test_a_run_is_created_running_in_its_experiment(store) -> None:
    run = create_run(store, experiment="churn", name="baseline", params={"lr": 0.1})
    assert run.status == RUNNING
    assert run.experiment_name == "churn"
    assert run.name == "baseline"
    assert run.user == "tester"
    assert run.params == {"lr": "0.1"}
    assert len(run.id) == 32
    assert [e.name for e in list_experiments(store)] == ["churn"]


def test_runs_without_a_name_or_experiment_get_friendly_defaults(store) -> None:
    run = create_run(store)
    assert run.experiment_name == "Default"
    adjective, noun, number = run.name.split("-")
    assert adjective.isalpha() and noun.isalpha() and number.isdigit()


def test_experiments_are_unique_by_name(store) -> None:
    created = create_experiment(store, "churn", description="who leaves")
    assert get_experiment(store, "churn") == created
    assert get_experiment(store, created.id).description == "who leaves"
    with pytest.raises(AlreadyExists, match="'churn' exists already"):
        create_experiment(store, "churn")
    with pytest.raises(NotFound, match="experiment 'nope' not found"):
        get_experiment(store, "nope")


def test_params_are_immutable_but_relogging_the_same_value_is_fine(store, db) -> None:
    run = create_run(store, params={"lr": 0.1})
    log_params(store, run.id, {"lr": 0.1, "depth": 6})
    before = _counts(db)
    with pytest.raises(Conflict, match="param 'lr' .* already '0.1'; refusing '0.2'"):
        log_params(store, run.id, {"depth": 6, "lr": 0.2, "new": "x"})
    assert _counts(db) == before  # the failed call wrote nothing, not even 'new'
    assert get_run(store, run.id).params == {"lr": "0.1", "depth": "6"}


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "empty"),
        (" lead", "leading/trailing"),
        ("semi;colon", "not allowed"),
        ("quote'", "not allowed"),
        ("x" * 251, "limit is 250"),
        (7, "must be a string"),
        ("../up", "not allowed"),
    ],
)
def test_bad_keys_are_refused_and_change_nothing(store, key, message, db) -> None:
    run = create_run(store)
    before = _counts(db)
    with pytest.raises(InvalidInput, match=message):
        log_params(store, run.id, {"ok": 1, key: 1})
    with pytest.raises(InvalidInput, match=message):
        set_tags(store, run.id, {key: "v"})
    assert _counts(db) == before


def test_keys_may_hold_the_characters_mlflow_allows(store) -> None:
    run = create_run(store)
    key = "val/auc-macro_1.0 test:a"
    log_params(store, run.id, {key: "x"})
    assert get_run(store, run.id).params == {key: "x"}


def test_an_oversized_param_value_is_refused(store) -> None:
    run = create_run(store)
    with pytest.raises(InvalidInput, match="limit is 6000"):
        log_params(store, run.id, {"blob": "x" * 6001})


def test_tags_overwrite_and_the_audit_keeps_what_they_replaced(store) -> None:
    run = create_run(store, tags={"team": "ads"})
    set_tags(store, run.id, {"team": "growth", "stage": "dev"})
    assert get_run(store, run.id).tags == {"team": "growth", "stage": "dev"}
    event = list_events(store, action="run.tags")[0]
    assert event.before == {"team": "ads", "stage": None}
    assert event.after == {"team": "growth", "stage": "dev"}
    delete_tag(store, run.id, "stage")
    assert get_run(store, run.id).tags == {"team": "growth"}
    with pytest.raises(NotFound, match="no tag 'stage'"):
        delete_tag(store, run.id, "stage")


def test_unknown_runs_are_named_in_the_error(store) -> None:
    for call in (
        lambda: get_run(store, "0123456789abcdef0123456789abcdef"),
        lambda: log_params(store, "feedbeef", {"a": 1}),
        lambda: set_tags(store, "feedbeef", {"a": 1}),
        lambda: delete_run(store, "feedbeef"),
    ):
        with pytest.raises(NotFound, match="run '.*' not found"):
            call()


def test_a_unique_prefix_finds_a_run_and_an_ambiguous_one_is_refused(store, db) -> None:
    run = create_run(store)
    assert get_run(store, run.id[:6]).id == run.id
    with pytest.raises(NotFound):
        get_run(store, "zz")
    with db.write() as connection:  # two ids sharing a prefix
        for suffix in ("a", "b"):
            connection.execute(
                runs.insert().values(
                    id="abcd" + suffix * 28,
                    experiment_id=run.experiment_id,
                    name="x",
                    status=FINISHED,
                    lifecycle_stage="active",
                    user="t",
                    start_time=0,
                )
            )
    with pytest.raises(InvalidInput, match="'abcd' is ambiguous"):
        get_run(store, "abcd")


def test_status_changes_record_the_end_time_and_are_audited(store) -> None:
    run = create_run(store)
    ended = set_run_status(store, run.id, FINISHED)
    assert ended.status == FINISHED
    assert ended.end_time is not None and ended.end_time >= run.start_time
    assert list_events(store, action="run.status")[0].after == {"status": FINISHED}
    with pytest.raises(InvalidInput, match="status 'DONE' is not known"):
        set_run_status(store, run.id, "DONE")


def test_deleted_runs_are_hidden_refuse_writes_and_can_be_restored(store) -> None:
    run = create_run(store, experiment="e")
    delete_run(store, run.id)
    assert search_runs(store, output="list") == []
    assert [r.id for r in search_runs(store, run_view="deleted", output="list")] == [run.id]
    with pytest.raises(Conflict, match="is deleted.*loopml runs restore"):
        log_params(store, run.id, {"a": 1})
    restore_run(store, run.id)
    assert [r.id for r in search_runs(store, output="list")] == [run.id]


def test_a_child_run_needs_an_existing_parent(store) -> None:
    parent = create_run(store)
    child = create_run(store, parent_run_id=parent.id)
    assert child.parent_run_id == parent.id
    with pytest.raises(NotFound):
        create_run(store, parent_run_id="f" * 32)


@pytest.mark.parametrize(
    "call",
    [
        lambda store, run: log_params(store, run.id, {"a": "x\x00y"}),
        lambda store, run: set_tags(store, run.id, {"a": "x\x00y"}),
        lambda store, run: create_run(store, description="x\x00y"),
        lambda store, run: create_experiment(store, "e", description="x\x00y"),
    ],
)
def test_nul_characters_are_refused_on_both_databases(store, call, db) -> None:
    run = create_run(store)
    before = _counts(db)
    with pytest.raises(InvalidInput, match="NUL character"):
        call(store, run)
    assert _counts(db) == before
