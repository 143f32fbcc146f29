"""The audit log: who did what to which object, when, with the state before and after.

Events form a hash chain. Each event's hash covers its own fields and the previous
event's hash, and the ``audit_head`` row holds the newest sequence number and hash, so
:func:`verify` detects an edited event, a deleted one (a gap in the sequence or a broken
link), and a truncated tail. Events are written in the same transaction as the change
they describe: no change lands without its event, and no event without its change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from blake3 import blake3
from sqlalchemy import Connection, insert, select, update

from ..clock import now_ms
from ..errors import IntegrityFailure
from ..ops import operation
from ..store.schema import GENESIS_HASH, audit_events, audit_head

if TYPE_CHECKING:
    from ..store import Store


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    time: int
    actor: str
    action: str
    object_type: str
    object_id: str
    before: Any
    after: Any
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "before": self.before,
            "after": self.after,
            "hash": self.hash,
        }


@dataclass
class AuditReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "problems": self.problems}


def canonical_json(value: Any) -> str | None:
    """The exact text that is stored and hashed: sorted keys, no spaces, UTF-8."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def record(
    connection: Connection,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    before: Any = None,
    after: Any = None,
) -> int:
    """Append one event inside the caller's write transaction; returns its sequence number."""
    # The head row lock serialises appenders on PostgreSQL; SQLite write transactions
    # are serialised already (BEGIN IMMEDIATE).
    head = connection.execute(
        select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
    ).first()
    if head is None:
        raise IntegrityFailure(
            "the audit log's head row is missing, so no change can be recorded",
            hint="the audit tables were tampered with: run 'loopml audit verify'",
        )
    row = {
        "seq": head.seq + 1,
        "time": now_ms(),
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "before": canonical_json(before),
        "after": canonical_json(after),
        "prev_hash": head.hash,
    }
    row["hash"] = _event_hash(row)
    connection.execute(insert(audit_events).values(**row))
    connection.execute(
        update(audit_head).where(audit_head.c.id == 1).values(seq=row["seq"], hash=row["hash"])
    )
    return row["seq"]


@operation("audit.list", role="reader")
def list_events(
    store: Store,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """The newest ``limit`` events matching the given fields, newest first.

    ``object_id`` may be a prefix of the id, as listings show shortened ids.
    """
    query = select(audit_events).order_by(audit_events.c.seq.desc()).limit(limit)
    if object_id is not None:
        query = query.where(audit_events.c.object_id.startswith(object_id, autoescape=True))
    for column, wanted in (
        (audit_events.c.object_type, object_type),
        (audit_events.c.actor, actor),
        (audit_events.c.action, action),
    ):
        if wanted is not None:
            query = query.where(column == wanted)
    with store.read() as connection:
        rows = connection.execute(query).all()
    return [event_from_row(row) for row in rows]


@operation("audit.verify", role="reader")
def verify(store: Store) -> AuditReport:
    """Re-walk the whole chain and name every edited, missing or re-linked event."""
    report = AuditReport()
    expected_seq, prev_hash = 1, GENESIS_HASH
    with store.read() as connection:
        head = connection.execute(select(audit_head).where(audit_head.c.id == 1)).first()
        rows = connection.execute(
            select(audit_events).order_by(audit_events.c.seq).execution_options(yield_per=2000)
        )
        for row in rows:
            report.checked += 1
            event = row._asdict()
            if row.seq != expected_seq:
                report.problems.append(_gap(expected_seq, row.seq - 1))
            elif row.prev_hash != prev_hash:
                report.problems.append(
                    f"event {row.seq} does not follow event {row.seq - 1}: "
                    f"event {row.seq - 1} was rewritten"
                )
            if _event_hash(event) != row.hash:
                report.problems.append(f"event {row.seq} ({row.action}) was edited")
            expected_seq, prev_hash = row.seq + 1, row.hash
    last_seq = expected_seq - 1
    if head is None:
        report.problems.append("the chain head row is missing")
    elif head.seq > last_seq:
        report.problems.append(_gap(last_seq + 1, head.seq))
    elif head.seq < last_seq or (head.seq == last_seq and head.hash != prev_hash):
        report.problems.append(f"the chain head (event {head.seq}) was edited")
    return report


def _gap(first: int, last: int) -> str:
    return f"event {first} is missing" if first == last else f"events {first}-{last} are missing"


def _event_hash(row: dict[str, Any]) -> str:
    fields = [
        row["seq"],
        row["time"],
        row["actor"],
        row["action"],
        row["object_type"],
        row["object_id"],
        row["before"],
        row["after"],
        row["prev_hash"],
    ]
    return blake3(canonical_json(fields).encode("utf-8")).hexdigest()  # type: ignore[union-attr]


def event_from_row(row: Any) -> AuditEvent:
    """An ``audit_events`` row as the :class:`AuditEvent` it records."""
    return AuditEvent(
        seq=row.seq,
        time=row.time,
        actor=row.actor,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        before=json.loads(row.before) if row.before is not None else None,
        after=json.loads(row.after) if row.after is not None else None,
        hash=row.hash,
    )
