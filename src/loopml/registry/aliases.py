"""Aliases: movable names (``champion``, ``challenger``) for versions, with their history.

Every move is one history row plus one audit event (who, when, from which version to
which, why), written in the same transaction as the move. ``rollback`` undoes the newest
move not undone yet, so a second rollback goes one step further back, as an editor's undo.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, delete, insert, select, update

from ..clock import now_ms
from ..errors import Conflict, NotFound
from ..governance import audit
from ..ops import operation
from ..store import Store
from ..store.schema import model_alias_history, model_aliases, registered_models
from .entities import AliasMove, ModelVersion
from .refs import ModelRef, check_alias, check_model_name
from .versions import get_version, resolve_version

_NUMBER = re.compile(r"[0-9]{1,9}")


@operation("models.set_alias", role="writer")
def set_alias(
    store: Store, name: str, alias: str, version: int | str, *, reason: str | None = None
) -> ModelVersion:
    """Point ``name@alias`` at ``version`` (a number, or another alias such as ``challenger``)."""
    check_model_name(name)
    check_alias(alias)
    with store.write() as connection:
        number = _version_number(connection, name, version)
        move_alias(connection, store.actor, name, alias, number, action="set", reason=reason)
    return get_version(store, ModelRef(name, version=number))


@operation("models.delete_alias", role="writer")
def delete_alias(store: Store, name: str, alias: str, *, reason: str | None = None) -> None:
    check_model_name(name)
    check_alias(alias)
    with store.write() as connection:
        resolve_version(connection, ModelRef(name, alias=alias))  # names a missing alias
        move_alias(connection, store.actor, name, alias, None, action="delete", reason=reason)


@operation("models.rollback", role="writer")
def rollback(store: Store, name: str, alias: str, *, reason: str | None = None) -> ModelVersion:
    """Move ``name@alias`` back to the version it pointed at before its newest move."""
    check_model_name(name)
    check_alias(alias)
    with store.write() as connection:
        resolve_version(connection, ModelRef(name))
        rows = connection.execute(
            select(model_alias_history)
            .where(
                model_alias_history.c.name == name,
                model_alias_history.c.alias == alias,
                model_alias_history.c.action != "rollback",
                model_alias_history.c.undone_by.is_(None),
            )
            .order_by(model_alias_history.c.id.desc())
            .limit(1)
        ).all()
        if not rows or rows[0].previous_version is None:
            raise Conflict(
                f"{name}@{alias} has no earlier version to roll back to",
                hint=f"see its history: loopml models show {name}",
            )
        last = rows[0]
        move_id = move_alias(
            connection,
            store.actor,
            name,
            alias,
            last.previous_version,
            action="rollback",
            reason=reason or f"rollback of move #{last.id}",
        )
        connection.execute(
            update(model_alias_history)
            .where(model_alias_history.c.id == last.id)
            .values(undone_by=move_id)
        )
        number = last.previous_version
    return get_version(store, ModelRef(name, version=number))


@operation("models.alias_history", role="reader")
def alias_history(store: Store, name: str, alias: str | None = None) -> list[AliasMove]:
    """Every move of ``name``'s aliases (or of one alias), oldest first."""
    check_model_name(name)
    with store.read() as connection:
        resolve_version(connection, ModelRef(name))
        query = select(model_alias_history).where(model_alias_history.c.name == name)
        if alias:
            query = query.where(model_alias_history.c.alias == alias)
        rows = connection.execute(query.order_by(model_alias_history.c.id)).all()
    return [
        AliasMove(
            id=row.id,
            name=row.name,
            alias=row.alias,
            version=row.version,
            previous_version=row.previous_version,
            action=row.action,
            actor=row.actor,
            reason=row.reason,
            time=row.time,
            undone_by=row.undone_by,
        )
        for row in rows
    ]


def move_alias(
    connection: Connection,
    actor: str,
    name: str,
    alias: str,
    version: int | None,
    *,
    action: str,
    reason: str | None,
) -> int:
    """Move (or, with ``version`` None, remove) an alias inside a write transaction.

    Returns the history row's id. Promotion uses this too, so every path that moves an
    alias leaves the same trail.
    """
    # Lock the model's row: two moves of its aliases at once would otherwise both delete
    # and insert the same alias row (a duplicate key on PostgreSQL) and misreport "before".
    connection.execute(
        select(registered_models.c.name).where(registered_models.c.name == name).with_for_update()
    )
    previous = connection.execute(
        select(model_aliases.c.version).where(
            model_aliases.c.name == name, model_aliases.c.alias == alias
        )
    ).scalar()
    connection.execute(
        delete(model_aliases).where(model_aliases.c.name == name, model_aliases.c.alias == alias)
    )
    if version is not None:
        connection.execute(insert(model_aliases).values(name=name, alias=alias, version=version))
    now = now_ms()
    result = connection.execute(
        insert(model_alias_history).values(
            name=name,
            alias=alias,
            version=version,
            previous_version=previous,
            action=action,
            actor=actor,
            reason=reason,
            time=now,
        )
    )
    audit.record(
        connection,
        actor=actor,
        action=f"model.alias.{action}",
        object_type="model_alias",
        object_id=f"{name}@{alias}",
        before={"version": previous},
        after={"version": version, "reason": reason},
    )
    return int(result.inserted_primary_key[0])


def _version_number(connection: Connection, name: str, version: int | str) -> int:
    if isinstance(version, int) or (isinstance(version, str) and _NUMBER.fullmatch(version)):
        number = int(version)
        return resolve_version(connection, ModelRef(name, version=number))
    if isinstance(version, str):
        return resolve_version(connection, ModelRef(name, alias=check_alias(version)))
    raise NotFound(f"no version {version!r} of model '{name}'")
