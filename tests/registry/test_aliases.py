"""Aliases: moves are audited with their reason; rollback walks back through history."""

from __future__ import annotations

import pandas as pd
import pytest

import loopml
from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.governance.audit import list_events
from loopml.registry import alias_history, delete_alias, get_version, register, rollback, set_alias
from loopml.store import Store

from ..modeldata import FEATURES


@pytest.fixture
def three_versions(store: Store, churn: pd.DataFrame, churn_model) -> Store:
    with loopml.start_run(experiment="churn"):
        info = loopml.log_model(churn_model, input_example=churn[FEATURES][:5])
    for _ in range(3):
        register(store, info, "churn")
    return store


def test_every_alias_move_is_audited_with_who_from_and_why(three_versions: Store) -> None:
    store = three_versions
    set_alias(store, "churn", "champion", 1, reason="first release")
    moved = set_alias(store, "churn", "champion", 2, reason="better auc")
    assert moved.aliases == ["champion"]
    assert get_version(store, "churn@champion").version == 2
    events = list_events(store, object_type="model_alias", object_id="churn@champion")
    assert [(e.actor, e.before, e.after) for e in sorted(events, key=lambda e: e.seq)] == [
        ("tester", {"version": None}, {"version": 1, "reason": "first release"}),
        ("tester", {"version": 1}, {"version": 2, "reason": "better auc"}),
    ]


def test_an_alias_can_point_where_another_does(three_versions: Store) -> None:
    set_alias(three_versions, "churn", "challenger", 3)
    assert set_alias(three_versions, "churn", "champion", "challenger").version == 3


def test_rollback_walks_back_one_move_at_a_time(three_versions: Store) -> None:
    store = three_versions
    for number in (1, 2, 3):
        set_alias(store, "churn", "champion", number)
    assert rollback(store, "churn", "champion", reason="latency regression").version == 2
    assert rollback(store, "churn", "champion").version == 1
    with pytest.raises(Conflict, match="churn@champion has no earlier version to roll back to"):
        rollback(store, "churn", "champion")
    assert get_version(store, "churn@champion").version == 1
    history = alias_history(store, "churn", "champion")
    assert [(m.action, m.previous_version, m.version) for m in history] == [
        ("set", None, 1),
        ("set", 1, 2),
        ("set", 2, 3),
        ("rollback", 3, 2),
        ("rollback", 2, 1),
    ]
    assert history[3].reason == "latency regression"
    assert history[2].undone_by == history[3].id


def test_a_move_after_a_rollback_is_rolled_back_first(three_versions: Store) -> None:
    store = three_versions
    set_alias(store, "churn", "champion", 1)
    set_alias(store, "churn", "champion", 2)
    rollback(store, "churn", "champion")
    set_alias(store, "churn", "champion", 3)
    assert rollback(store, "churn", "champion").version == 1


def test_a_deleted_alias_is_gone_and_rollback_restores_it(three_versions: Store) -> None:
    store = three_versions
    set_alias(store, "churn", "champion", 2)
    delete_alias(store, "churn", "champion", reason="retired")
    with pytest.raises(NotFound, match="has no alias 'champion'"):
        get_version(store, "churn@champion")
    assert rollback(store, "churn", "champion").version == 2


@pytest.mark.parametrize("alias", ["champ ion", "1st", "a/b", "x@y", "", "a" * 64, "latest"])
def test_illegal_aliases_are_refused(three_versions: Store, alias: str) -> None:
    with pytest.raises(InvalidInput, match="invalid alias|is reserved"):
        set_alias(three_versions, "churn", alias, 1)
    assert alias_history(three_versions, "churn") == []


def test_aliasing_a_missing_version_or_model_is_refused(three_versions: Store) -> None:
    with pytest.raises(NotFound, match="model 'churn' has no version 9; latest is 3"):
        set_alias(three_versions, "churn", "champion", 9)
    with pytest.raises(NotFound, match="model 'other' is not registered"):
        set_alias(three_versions, "other", "champion", 1)
    assert alias_history(three_versions, "churn") == []


@pytest.mark.parametrize("ref", ["churn/²", "churn/99999999999999999999"])
def test_odd_version_numbers_are_bad_input(three_versions: Store, ref: str) -> None:
    with pytest.raises(InvalidInput, match="invalid model version"):
        get_version(three_versions, ref)
