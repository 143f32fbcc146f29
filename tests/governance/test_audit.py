from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, update

from loopml.governance import list_events, record, verify
from loopml.store.schema import audit_events
from loopml.tracking import create_run, log_params, set_run_status, set_tags

from ..helpers import loopml_cli


@pytest.fixture
def history(store):
    """A store with a handful of audited changes: 7 events."""
    run = create_run(store, experiment="churn", name="r1", params={"lr": 0.1})  # 2 events
    log_params(store, run.id, {"depth": 6})
    set_tags(store, run.id, {"team": "ads"})
    set_run_status(store, run.id, "FINISHED")
    create_run(store, experiment="churn", name="r2")
    set_tags(store, run.id, {"team": "growth"})
    return store


def test_every_change_is_recorded_with_actor_object_and_content(history) -> None:
    events = list(reversed(list_events(history)))
    assert [e.action for e in events] == [
        "experiment.create",
        "run.create",
        "run.params",
        "run.tags",
        "run.status",
        "run.create",
        "run.tags",
    ]
    assert [e.seq for e in events] == list(range(1, 8))
    assert {e.actor for e in events} == {"tester"}
    assert events[2].after == {"depth": "6"}
    assert events[6].before == {"team": "ads"} and events[6].after == {"team": "growth"}
    run_id = events[1].object_id
    assert [e.action for e in list_events(history, object_type="run", object_id=run_id)] == [
        "run.tags",
        "run.status",
        "run.tags",
        "run.params",
        "run.create",
    ]
    assert len(list_events(history, limit=2)) == 2
    shortened = list_events(history, object_type="run", object_id=run_id[:12])  # as listed
    assert len(shortened) == 5


def test_an_intact_chain_verifies(history) -> None:
    report = verify(history)
    assert report.ok
    assert report.checked == 7


def test_an_edited_event_is_named(history, db) -> None:
    with db.write() as connection:
        connection.execute(
            update(audit_events).where(audit_events.c.seq == 3).values(after='{"depth":"8"}')
        )
    assert verify(history).problems == ["event 3 (run.params) was edited"]


def test_an_edited_event_with_a_recomputed_hash_breaks_the_next_link(history, db) -> None:
    from loopml.governance.audit import _event_hash

    with db.write() as connection:
        row = connection.execute(audit_events.select().where(audit_events.c.seq == 3)).one()
        forged = {**row._asdict(), "actor": "mallory"}
        connection.execute(
            update(audit_events)
            .where(audit_events.c.seq == 3)
            .values(actor="mallory", hash=_event_hash(forged))
        )
    assert verify(history).problems == ["event 4 does not follow event 3: event 3 was rewritten"]


def test_deleted_events_are_named(history, db) -> None:
    with db.write() as connection:
        connection.execute(delete(audit_events).where(audit_events.c.seq.in_([3, 4])))
    assert verify(history).problems == ["events 3-4 are missing"]


def test_a_truncated_tail_is_detected_through_the_head(history, db) -> None:
    with db.write() as connection:
        connection.execute(delete(audit_events).where(audit_events.c.seq == 7))
    assert verify(history).problems == ["event 7 is missing"]


def test_appending_after_verification_keeps_the_chain_valid(history, db) -> None:
    with db.write() as connection:
        record(connection, actor="ana", action="manual.note", object_type="note", object_id="1")
    assert verify(history).ok
    assert list_events(history, actor="ana")[0].seq == 8


def test_a_failed_change_records_no_event(history) -> None:
    run_id = list_events(history, action="run.create")[-1].object_id
    before = len(list_events(history, limit=1000))
    with pytest.raises(Exception, match="already"):
        log_params(history, run_id, {"lr": 0.5})
    assert len(list_events(history, limit=1000)) == before


def test_the_cli_verifies_and_names_tampering(project: Path) -> None:
    assert loopml_cli("experiments", "create", "e", cwd=project).returncode == 0
    assert loopml_cli("experiments", "create", "f", cwd=project).returncode == 0
    ok = loopml_cli("audit", "verify", cwd=project)
    assert ok.returncode == 0 and "2 events verified" in ok.stdout
    import sqlite3

    with sqlite3.connect(project / ".loopml" / "loopml.db") as connection:
        connection.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 1")
    bad = loopml_cli("audit", "verify", cwd=project)
    assert bad.returncode == 6
    assert "event 1 (experiment.create) was edited" in bad.stdout
    assert bad.stderr.startswith("error: the audit log was tampered with: 1 problem(s)")
    listed = loopml_cli("audit", "ls", "--json", "--limit", "1", cwd=project)
    assert '"action": "experiment.create"' in listed.stdout


def test_a_deleted_head_row_is_reported_and_blocks_further_changes(history, db) -> None:
    from loopml.errors import IntegrityFailure
    from loopml.store.schema import audit_head

    with db.write() as connection:
        connection.execute(delete(audit_head))
    assert verify(history).problems == ["the chain head row is missing"]
    run_id = list_events(history, action="run.create")[0].object_id
    with pytest.raises(IntegrityFailure, match="head row is missing"):
        set_tags(history, run_id, {"x": "y"})
