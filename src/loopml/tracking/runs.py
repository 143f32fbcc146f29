"""Runs: creation, status, params, tags, deletion. Every change is audited in its transaction."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from ..clock import now_ms
from ..errors import Conflict, InvalidInput, NotFound
from ..governance import audit
from ..ops import operation
from ..store import Store
from ..store.schema import experiments, latest_metrics, runs
from ..store.schema import params as params_table
from ..store.schema import tags as tags_table
from ..store.upsert import conflict_insert
from .entities import (
    ACTIVE,
    DEFAULT_EXPERIMENT,
    DELETED,
    RUN_STATUSES,
    RUNNING,
    TERMINAL_STATUSES,
    Run,
)
from .experiments import get_or_create_experiment
from .validation import (
    check_description,
    check_key,
    check_mapping,
    check_name,
    param_number,
    param_text,
    tag_text,
)

_HEX = re.compile(r"^[0-9a-f]+$")
_RUN_HINT = "list runs with: loopml runs ls"


@dataclass(frozen=True)
class RunOrigin:
    """Where a run came from, captured by the SDK (see ``environment.py``)."""

    source: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    git_diff_hash: str | None = None
    host: str | None = None
    pid: int | None = None
    python_version: str | None = None


@operation("runs.create", role="writer")
def create_run(
    store: Store,
    *,
    experiment: str | None = None,
    name: str | None = None,
    parent_run_id: str | None = None,
    description: str | None = None,
    origin: RunOrigin | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
) -> Run:
    """Start a RUNNING run in ``experiment`` (created if missing) with its first params/tags."""
    experiment = experiment or DEFAULT_EXPERIMENT
    name = check_name(name, "run") if name is not None else _friendly_name()
    description = check_description(description, "run")
    param_rows = _param_rows(params or {})
    tag_rows = _tag_rows(tags or {})
    origin = origin or RunOrigin()
    run_id = secrets.token_hex(16)
    with store.write() as connection:
        experiment_id = get_or_create_experiment(connection, store, experiment)
        if parent_run_id is not None:
            _require_run(connection, parent_run_id)
        row = {
            "id": run_id,
            "experiment_id": experiment_id,
            "parent_run_id": parent_run_id,
            "name": name,
            "status": RUNNING,
            "lifecycle_stage": ACTIVE,
            "user": store.actor,
            "description": description,
            "start_time": now_ms(),
            **origin.__dict__,
        }
        connection.execute(insert(runs).values(**row))
        _insert_params(connection, run_id, param_rows)
        if tag_rows:
            connection.execute(insert(tags_table), [{"run_id": run_id, **tag} for tag in tag_rows])
        audit.record(
            connection,
            actor=store.actor,
            action="run.create",
            object_type="run",
            object_id=run_id,
            after={
                "experiment": experiment,
                "name": name,
                "parent_run_id": parent_run_id,
                "params": {r["key"]: r["value"] for r in param_rows},
                "tags": {r["key"]: r["value"] for r in tag_rows},
            },
        )
    return get_run(store, run_id)


@operation("runs.get", role="reader")
def get_run(store: Store, run_id: str) -> Run:
    """A run with its params, latest metrics and tags; accepts a unique id prefix."""
    with store.read() as connection:
        run_id = resolve_run_id(connection, run_id)
        row = connection.execute(
            select(runs, experiments.c.name.label("experiment_name"))
            .join(experiments, experiments.c.id == runs.c.experiment_id)
            .where(runs.c.id == run_id)
        ).one()
        values = key_values(connection, [run_id])
    return row_to_run(
        row,
        values["params"].get(run_id, {}),
        values["metrics"].get(run_id, {}),
        values["tags"].get(run_id, {}),
    )


_CHUNK = 900  # bound parameters per IN list, under every SQLite build's limit


def key_values(connection: Connection, ids: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """Latest metrics, params and tags of runs ``ids``: ``{"metrics": {run_id: {key: value}}}``."""
    found: dict[str, dict[str, dict[str, Any]]] = {"metrics": {}, "params": {}, "tags": {}}
    for name, table in (
        ("metrics", latest_metrics),
        ("params", params_table),
        ("tags", tags_table),
    ):
        per_run = found[name]
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = connection.execute(
                select(table.c.run_id, table.c.key, table.c.value).where(table.c.run_id.in_(chunk))
            ).all()  # one fetchall: iterating a result fetches row by row
            for run_id, key, value in rows:
                if value is None and name == "metrics":
                    value = float("nan")
                per_run.setdefault(run_id, {})[key] = value
    return found


def row_to_run(
    row: Any,
    param_map: dict[str, str],
    metric_map: dict[str, float],
    tag_map: dict[str, str],
) -> Run:
    return Run(
        id=row.id,
        experiment_id=row.experiment_id,
        experiment_name=row.experiment_name,
        name=row.name,
        status=row.status,
        lifecycle_stage=row.lifecycle_stage,
        user=row.user,
        start_time=row.start_time,
        end_time=row.end_time,
        parent_run_id=row.parent_run_id,
        description=row.description,
        source=row.source,
        git_commit=row.git_commit,
        git_dirty=row.git_dirty,
        git_diff_hash=row.git_diff_hash,
        host=row.host,
        pid=row.pid,
        python_version=row.python_version,
        environment=json.loads(row.environment) if row.environment else None,
        params=param_map,
        metrics=metric_map,
        tags=tag_map,
    )


def resolve_run_id(connection: Connection, ref: str) -> str:
    """The full id for ``ref``, which may be a unique prefix of at least 4 hex characters."""
    if not isinstance(ref, str) or not ref:
        raise InvalidInput(f"run id must be a non-empty string, got {ref!r}", hint=_RUN_HINT)
    exact = connection.execute(select(runs.c.id).where(runs.c.id == ref)).scalar_one_or_none()
    if exact is not None:
        return exact
    if len(ref) < 4 or len(ref) >= 32 or not _HEX.match(ref):
        raise NotFound(f"run '{ref}' not found", hint=_RUN_HINT)
    matches = (
        connection.execute(select(runs.c.id).where(runs.c.id.startswith(ref)).limit(6))
        .scalars()
        .all()
    )
    if not matches:
        raise NotFound(f"run '{ref}' not found", hint=_RUN_HINT)
    if len(matches) > 1:
        raise InvalidInput(
            f"run id prefix '{ref}' is ambiguous: {', '.join(m[:12] for m in matches[:5])}…",
            hint="give more characters of the id",
        )
    return matches[0]


@operation("runs.set_status", role="writer")
def set_run_status(
    store: Store,
    run_id: str,
    status: str,
    *,
    end_time: int | None = None,
    environment: Mapping[str, Any] | None = None,
) -> Run:
    """Move a run to ``status``; a terminal status records the end time.

    ``environment`` (the imported packages, captured by the SDK as the run ends) is
    stored in the same transaction.
    """
    if status not in RUN_STATUSES:
        raise InvalidInput(f"run status '{status}' is not known", hint=f"use one of {RUN_STATUSES}")
    with store.write() as connection:
        run_id = resolve_run_id(connection, run_id)
        before = connection.execute(
            select(runs.c.status, runs.c.end_time).where(runs.c.id == run_id)
        ).one()
        end = (end_time or now_ms()) if status in TERMINAL_STATUSES else None
        if environment is not None:
            connection.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(environment=json.dumps(environment, sort_keys=True))
            )
        if before.status != status or before.end_time != end:
            connection.execute(
                update(runs).where(runs.c.id == run_id).values(status=status, end_time=end)
            )
            audit.record(
                connection,
                actor=store.actor,
                action="run.status",
                object_type="run",
                object_id=run_id,
                before={"status": before.status},
                after={"status": status},
            )
    return get_run(store, run_id)


@operation("runs.delete", role="writer")
def delete_run(store: Store, run_id: str) -> Run:
    """Soft-delete a run: hidden from searches, kept with its data, restorable."""
    return _set_lifecycle(store, run_id, DELETED)


@operation("runs.restore", role="writer")
def restore_run(store: Store, run_id: str) -> Run:
    return _set_lifecycle(store, run_id, ACTIVE)


def _set_lifecycle(store: Store, run_id: str, stage: str) -> Run:
    with store.write() as connection:
        run_id = resolve_run_id(connection, run_id)
        before = connection.execute(
            select(runs.c.lifecycle_stage).where(runs.c.id == run_id)
        ).scalar_one()
        if before != stage:
            connection.execute(
                update(runs)
                .where(runs.c.id == run_id)
                .values(lifecycle_stage=stage, deleted_time=now_ms() if stage == DELETED else None)
            )
            audit.record(
                connection,
                actor=store.actor,
                action="run.delete" if stage == DELETED else "run.restore",
                object_type="run",
                object_id=run_id,
                before={"lifecycle_stage": before},
                after={"lifecycle_stage": stage},
            )
    return get_run(store, run_id)


@operation("runs.log_params", role="writer")
def log_params(store: Store, run_id: str, values: Mapping[str, Any]) -> None:
    """Log params; re-logging a key with the same value is a no-op, a new value a Conflict."""
    rows = _param_rows(values)
    if not rows:
        return
    with store.write() as connection:
        run_id = require_active_run(connection, run_id)
        # Insert what is new and let the database settle races on the key; then every
        # key must hold the value asked for, whoever wrote it.
        statement = conflict_insert(connection, params_table).on_conflict_do_nothing(
            index_elements=["run_id", "key"]
        )
        inserted = set(
            connection.execute(
                statement.returning(params_table.c.key),
                [{"run_id": run_id, **row} for row in rows],
            ).scalars()
        )
        stored = dict(
            connection.execute(
                select(params_table.c.key, params_table.c.value).where(
                    params_table.c.run_id == run_id,
                    params_table.c.key.in_([row["key"] for row in rows]),
                )
            ).all()
        )
        for row in rows:
            if stored[row["key"]] != row["value"]:
                raise Conflict(
                    f"param '{row['key']}' of run {run_id[:8]} is already "
                    f"{stored[row['key']]!r}; refusing {row['value']!r}",
                    hint="params are immutable: start a new run, or record it as a tag",
                )
        if inserted:
            audit.record(
                connection,
                actor=store.actor,
                action="run.params",
                object_type="run",
                object_id=run_id,
                after={row["key"]: row["value"] for row in rows if row["key"] in inserted},
            )


@operation("runs.set_tags", role="writer")
def set_tags(store: Store, run_id: str, values: Mapping[str, Any]) -> None:
    """Set (or overwrite) tags; the audit event keeps the values they replaced."""
    rows = _tag_rows(values)
    if not rows:
        return
    with store.write() as connection:
        run_id = require_active_run(connection, run_id)
        before = dict(
            connection.execute(
                select(tags_table.c.key, tags_table.c.value).where(
                    tags_table.c.run_id == run_id,
                    tags_table.c.key.in_([row["key"] for row in rows]),
                )
            ).all()
        )
        changed = [row for row in rows if before.get(row["key"]) != row["value"]]
        if not changed:
            return
        statement = conflict_insert(connection, tags_table)
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["run_id", "key"], set_={"value": statement.excluded.value}
            ),
            [{"run_id": run_id, **row} for row in changed],
        )
        audit.record(
            connection,
            actor=store.actor,
            action="run.tags",
            object_type="run",
            object_id=run_id,
            before={row["key"]: before.get(row["key"]) for row in changed},
            after={row["key"]: row["value"] for row in changed},
        )


@operation("runs.delete_tag", role="writer")
def delete_tag(store: Store, run_id: str, key: str) -> None:
    check_key(key, "tag")
    with store.write() as connection:
        run_id = require_active_run(connection, run_id)
        old = connection.execute(
            select(tags_table.c.value).where(tags_table.c.run_id == run_id, tags_table.c.key == key)
        ).scalar_one_or_none()
        if old is None:
            raise NotFound(f"run {run_id[:8]} has no tag '{key}'")
        connection.execute(
            delete(tags_table).where(tags_table.c.run_id == run_id, tags_table.c.key == key)
        )
        audit.record(
            connection,
            actor=store.actor,
            action="run.tag.delete",
            object_type="run",
            object_id=run_id,
            before={key: old},
        )


def _require_run(connection: Connection, run_id: str) -> str:
    stage = connection.execute(
        select(runs.c.lifecycle_stage).where(runs.c.id == run_id)
    ).scalar_one_or_none()
    if stage is None:
        raise NotFound(f"run '{run_id}' not found", hint=_RUN_HINT)
    return stage


def require_active_run(connection: Connection, run_id: str) -> str:
    """The full id of run ``run_id`` (an id or unique prefix).

    Raises :class:`NotFound` when there is no such run and :class:`Conflict` when it is
    deleted.
    """
    run_id = resolve_run_id(connection, run_id)
    if _require_run(connection, run_id) == DELETED:
        raise Conflict(
            f"run {run_id[:8]} is deleted",
            hint=f"restore it first: loopml runs restore {run_id[:8]}",
        )
    return run_id


def _param_rows(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, value in check_mapping(values, "params").items():
        check_key(key, "param")
        text = param_text(key, value)
        rows.append({"key": key, "value": text, "value_num": param_number(value, text)})
    return rows


def _tag_rows(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {"key": check_key(key, "tag"), "value": tag_text(key, value)}
        for key, value in check_mapping(values, "tags").items()
    ]


def _insert_params(connection: Connection, run_id: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection.execute(insert(params_table), [{"run_id": run_id, **row} for row in rows])


_ADJECTIVES = [
    "amber",
    "bold",
    "brisk",
    "calm",
    "clever",
    "crisp",
    "deft",
    "eager",
    "fair",
    "gentle",
    "grand",
    "keen",
    "lively",
    "lucid",
    "merry",
    "nimble",
    "noble",
    "quick",
    "quiet",
    "rapid",
    "sharp",
    "steady",
    "sunny",
    "swift",
    "tidy",
    "vivid",
    "warm",
    "wise",
]
_NOUNS = [
    "badger",
    "crane",
    "falcon",
    "fox",
    "heron",
    "ibis",
    "lark",
    "lynx",
    "marten",
    "otter",
    "owl",
    "panda",
    "puffin",
    "quail",
    "raven",
    "robin",
    "seal",
    "sparrow",
    "stoat",
    "swan",
    "tern",
    "thrush",
    "vole",
    "wolf",
    "wren",
    "yak",
    "zebra",
]


def _friendly_name() -> str:
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{secrets.randbelow(1000):03d}"
