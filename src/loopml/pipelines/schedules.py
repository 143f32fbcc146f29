"""Schedules: run a pipeline file on a cron expression or when a dataset gets a new version.

A schedule's *cursor* is the last tick it handled: a cron time (ms) or a dataset version.
It starts at the creation time (no back-fill of past cron times) or at the dataset's latest
version (only versions added later trigger). Each scheduler pass turns what happened since
the cursor into at most one *tick* per schedule, the newest ("catch-up: latest only"): a
scheduler that was down for a day runs a nightly pipeline once, not once per missed night.

Two schedulers may run against one store. :func:`claim_tick` decides which one starts a
tick: in one write transaction it checks the tick is newer than the cursor, inserts the
``schedule_ticks`` row (``ON CONFLICT DO NOTHING`` on its primary key) and moves the cursor.
Only the caller whose insert landed gets True, on SQLite and PostgreSQL alike. The loop
that runs due ticks is :func:`loopml.pipelines.scheduler.run_scheduler`.

>>> add_schedule(store, "nightly", "flow.py", cron="0 2 * * *")  # doctest: +SKIP
>>> add_schedule(store, "on-data", "flow.py", on="dataset:customers")  # doctest: +SKIP
>>> due_ticks(store, get_schedule(store, "nightly"))  # doctest: +SKIP
['cron:2026-11-27T02:00:00Z']
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update

from ..clock import now_ms
from ..errors import AlreadyExists, InvalidInput, NotFound
from ..governance import audit
from ..ops import operation
from ..store import Store
from ..store.schema import dataset_versions, datasets, schedule_ticks, schedules
from ..store.upsert import conflict_insert

CRON, DATASET, ALERT = "cron", "dataset", "alert"
RUNNING, FINISHED, FAILED = "RUNNING", "FINISHED", "FAILED"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_NAME_RULE = "letters, digits, '_', '-', '.'; starting with a letter or digit; at most 128"
_LS_HINT = "list schedules with: loopml schedule ls"
_CRON_EXAMPLE = "five fields, minute hour day-of-month month day-of-week, in UTC: '0 2 * * *'"
_TICK_LENGTH = 128  # schedule_ticks.tick


@dataclass(frozen=True)
class Schedule:
    id: int
    name: str
    file: str
    """The pipeline file as an absolute path, optionally ``:PIPELINE``."""
    params: dict[str, Any]
    trigger: str
    """``cron``, ``dataset`` or ``alert``."""
    spec: str
    """The cron expression, or the dataset or deployment name."""
    enabled: bool
    cursor: str | None
    """The last tick handled: a cron time in ms, or a dataset version number."""
    created_by: str
    created_at: int

    @property
    def on(self) -> str:
        """The trigger as the CLI spells it: ``cron 0 2 * * *`` or ``dataset:customers``."""
        return f"cron {self.spec}" if self.trigger == CRON else f"{self.trigger}:{self.spec}"

    def next_time(self, now: datetime | None = None) -> int | None:
        """The next cron time after ``now`` (ms), or None for event triggers."""
        if self.trigger != CRON:
            return None
        from croniter import croniter

        moment = croniter(self.spec, _aware(now)).get_next(datetime)
        return int(moment.timestamp() * 1000)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "file": self.file,
            "params": self.params,
            "trigger": self.trigger,
            "spec": self.spec,
            "on": self.on,
            "enabled": self.enabled,
            "cursor": self.cursor,
            "created_by": self.created_by,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Tick:
    schedule_id: int
    tick: str
    claimed_by: str
    claimed_at: int
    pipeline_run_id: str | None
    status: str
    """RUNNING while the pipeline runs, then FINISHED or FAILED."""
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schedule_id": self.schedule_id,
            "tick": self.tick,
            "claimed_by": self.claimed_by,
            "claimed_at": self.claimed_at,
            "pipeline_run_id": self.pipeline_run_id,
            "status": self.status,
            "error": self.error,
        }


# --- managing schedules -----------------------------------------------------------------


def add_schedule(
    store: Store,
    name: str,
    file: str | Path,
    *,
    cron: str | None = None,
    on: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> Schedule:
    """Schedule pipeline ``file`` (``FILE`` or ``FILE:PIPELINE``) on exactly one trigger.

    ``cron`` is a five-field expression in UTC; ``on`` is ``dataset:NAME`` (runs for each
    new version of that dataset) or ``alert:DEPLOYMENT`` (stored; inactive until
    monitoring exists). Nothing that happened before the schedule was created triggers it.
    """
    # The file is found here, where the scheduler will run it, not where the store is.
    return create_schedule(
        store,
        _check_name(name),
        _absolute_target(file),
        cron=cron,
        on=on,
        params=json.loads(json.dumps(dict(params or {}), sort_keys=True, default=str)),
    )


@operation("schedules.create", role="writer")
def create_schedule(
    store: Store,
    name: str,
    target: str,
    *,
    cron: str | None = None,
    on: str | None = None,
    params: Mapping[str, Any] | None = None,
) -> Schedule:
    """Record schedule ``name`` of pipeline ``target`` (an absolute ``FILE[:PIPELINE]``)."""
    name = _check_name(name)
    trigger, spec = _parse_trigger(cron, on)
    values = dict(params or {})
    now = now_ms()
    cursor = str(now) if trigger == CRON else None
    with store.write() as connection:
        if trigger == DATASET:
            cursor = str(_latest_dataset_version(connection, spec))
        row = {
            "name": name,
            "file": target,
            "params": json.dumps(values, sort_keys=True, default=str),
            "trigger": trigger,
            "spec": spec,
            "enabled": True,
            "cursor": cursor,
            "created_by": store.actor,
            "created_at": now,
        }
        # RETURNING, not rowcount: psycopg reports -1 for an insert that returns rows.
        inserted = connection.execute(
            conflict_insert(connection, schedules)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(schedules.c.id)
        ).scalar_one_or_none()
        if inserted is None:
            raise AlreadyExists(
                f"schedule '{name}' exists already",
                hint=f"choose another name, or remove it first: loopml schedule rm {name}",
            )
        created = _get(connection, name)
        _audit(connection, store, "schedule.create", name, after=_audited(created))
    return created


@operation("schedules.get", role="reader")
def get_schedule(store: Store, name: str) -> Schedule:
    """Schedule ``name``."""
    with store.read() as connection:
        return _get(connection, name)


@operation("schedules.list", role="reader")
def list_schedules(store: Store) -> list[Schedule]:
    """Every schedule, by name."""
    with store.read() as connection:
        rows = connection.execute(select(schedules).order_by(schedules.c.name)).all()
    return [_to_schedule(row) for row in rows]


@operation("schedules.remove", role="writer")
def remove_schedule(store: Store, name: str) -> Schedule:
    """Delete a schedule and its tick history; the pipeline runs it started stay."""
    with store.write() as connection:
        found = _get(connection, name, for_update=True)
        connection.execute(delete(schedule_ticks).where(schedule_ticks.c.schedule_id == found.id))
        connection.execute(delete(schedules).where(schedules.c.id == found.id))
        _audit(connection, store, "schedule.delete", name, before=_audited(found))
    return found


@operation("schedules.set_enabled", role="writer")
def set_enabled(store: Store, name: str, enabled: bool) -> Schedule:
    """Pause or resume a schedule. The cursor is kept, so on resume the newest tick missed
    while paused runs once (catch-up: latest only), as Airflow does for an unpaused DAG."""
    with store.write() as connection:
        found = _get(connection, name, for_update=True)
        if found.enabled == enabled:
            return found
        connection.execute(
            update(schedules).where(schedules.c.id == found.id).values(enabled=enabled)
        )
        _audit(
            connection,
            store,
            "schedule.enable" if enabled else "schedule.disable",
            name,
            before={"enabled": found.enabled},
            after={"enabled": enabled},
        )
        return _get(connection, name)


@operation("schedules.ticks", role="reader")
def list_ticks(store: Store, name: str, *, limit: int = 50) -> list[Tick]:
    """The newest ``limit`` ticks of schedule ``name``, newest first."""
    with store.read() as connection:
        found = _get(connection, name)
        rows = connection.execute(
            select(schedule_ticks)
            .where(schedule_ticks.c.schedule_id == found.id)
            .order_by(schedule_ticks.c.claimed_at.desc(), schedule_ticks.c.tick.desc())
            .limit(limit)
        ).all()
    return [_to_tick(row) for row in rows]


@operation("schedules.last_ticks", role="reader")
def last_ticks(store: Store) -> dict[int, Tick]:
    """The newest tick of every schedule that has one, by schedule id."""
    newest = (
        select(schedule_ticks.c.schedule_id, func.max(schedule_ticks.c.claimed_at).label("at"))
        .group_by(schedule_ticks.c.schedule_id)
        .subquery()
    )
    with store.read() as connection:
        rows = connection.execute(
            select(schedule_ticks)
            .join(
                newest,
                (newest.c.schedule_id == schedule_ticks.c.schedule_id)
                & (newest.c.at == schedule_ticks.c.claimed_at),
            )
            .order_by(schedule_ticks.c.tick)
        ).all()
    return {row.schedule_id: _to_tick(row) for row in rows}


# --- what is due, and who runs it -------------------------------------------------------


def due_ticks(store: Store, schedule: Schedule, now: datetime | None = None) -> list[str]:
    """The tick keys ``schedule`` should run at ``now`` (default: the current time, UTC).

    Cron: the newest cron time in (cursor, now], as ``cron:2026-11-27T02:00:00Z``. Dataset:
    the newest version above the cursor, as ``dataset:customers@4``. Older missed ticks
    are skipped on purpose (catch-up: latest only), so the list holds at most one key.
    Alert triggers are inactive until monitoring exists and are never due.
    """
    if schedule.trigger == CRON:
        latest = _latest_cron_time(schedule.spec, _aware(now))
        if latest > _cursor(schedule.cursor):
            return [_cron_tick(latest)]
        return []
    if schedule.trigger == DATASET:
        version = latest_dataset_version(store, schedule.spec)
        if version > _cursor(schedule.cursor):
            return [_dataset_tick(schedule.spec, version)]
    return []


@operation("schedules.claim_tick", role="writer")
def claim_tick(store: Store, schedule_id: int, tick: str, claimed_by: str) -> bool:
    """Claim ``tick`` for ``claimed_by``: True only for the one caller that should run it.

    In one write transaction: lock the schedule row, refuse a tick that is not newer than
    the cursor (someone handled it or a newer one) or a disabled schedule, insert the
    tick row with ``ON CONFLICT DO NOTHING ... RETURNING`` (the primary key is the last
    word if two claims ever get past the cursor check: only the inserting caller gets a
    row back), and move the cursor to the tick.
    """
    position = _tick_position(tick)
    with store.write() as connection:
        row = connection.execute(
            select(schedules.c.cursor, schedules.c.enabled)
            .where(schedules.c.id == schedule_id)
            .with_for_update()
        ).first()
        if row is None or not row.enabled or position <= _cursor(row.cursor):
            return False
        inserted = connection.execute(
            conflict_insert(connection, schedule_ticks)
            .values(
                schedule_id=schedule_id,
                tick=tick,
                claimed_by=claimed_by,
                claimed_at=now_ms(),
                status=RUNNING,
            )
            .on_conflict_do_nothing(index_elements=["schedule_id", "tick"])
            .returning(schedule_ticks.c.tick)
        ).scalar_one_or_none()
        if inserted is None:  # another scheduler's row: it runs the tick
            return False
        connection.execute(
            update(schedules).where(schedules.c.id == schedule_id).values(cursor=str(position))
        )
    return True


@operation("schedules.finish_tick", role="writer")
def finish_tick(
    store: Store,
    schedule_id: int,
    tick: str,
    *,
    status: str,
    pipeline_run_id: str | None,
    error: str | None,
) -> None:
    """Record how a claimed tick's pipeline run ended."""
    with store.write() as connection:
        connection.execute(
            update(schedule_ticks)
            .where(schedule_ticks.c.schedule_id == schedule_id, schedule_ticks.c.tick == tick)
            .values(status=status, pipeline_run_id=pipeline_run_id, error=error)
        )


# --- triggers, ticks and cursors --------------------------------------------------------


def _parse_trigger(cron: str | None, on: str | None) -> tuple[str, str]:
    if (cron is None) == (on is None):
        raise InvalidInput(
            "a schedule needs exactly one trigger: a cron expression or an event",
            hint="for example --cron '0 2 * * *' or --on dataset:customers",
        )
    if cron is not None:
        return CRON, _check_cron(cron)
    kind, sep, target = (on or "").partition(":")
    if not sep or kind not in (DATASET, ALERT) or not target.strip():
        raise InvalidInput(
            f"trigger '{on}' is not dataset:NAME or alert:DEPLOYMENT",
            hint="for example --on dataset:customers",
        )
    target = target.strip()
    if kind == DATASET:
        from ..data.refs import check_dataset_name

        return DATASET, check_dataset_name(target)
    return ALERT, _check_name(target, what="deployment")


def _check_cron(expression: str) -> str:
    from croniter import croniter

    text = " ".join(str(expression).split())
    fields = text.split(" ")
    aliased = text.startswith("@") and len(fields) == 1
    if not (aliased or len(fields) == 5) or not croniter.is_valid(text):
        raise InvalidInput(
            f"cron expression '{expression}' is not valid",
            hint=f"use {_CRON_EXAMPLE} is every day at 02:00; '@hourly' also works",
        )
    return text


def _latest_cron_time(spec: str, now: datetime) -> int:
    """The newest cron time at or before ``now``, in ms."""
    from croniter import croniter

    previous = croniter(spec, now).get_prev(datetime)  # strictly before ``now``
    following = croniter(spec, previous).get_next(datetime)
    latest = following if following <= now else previous  # ``now`` itself may match
    return int(latest.timestamp() * 1000)


def _cron_tick(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return f"{CRON}:{moment.strftime('%Y-%m-%dT%H:%M:%S')}Z"


def _dataset_tick(name: str, version: int) -> str:
    suffix = f"@{version}"
    room = _TICK_LENGTH - len(DATASET) - 1 - len(suffix)
    shown = name if len(name) <= room else name[: room - 1] + "…"
    return f"{DATASET}:{shown}{suffix}"


def _tick_position(tick: str) -> int:
    """Where a tick sits on its schedule's cursor: cron time in ms, or dataset version."""
    kind, _, rest = tick.partition(":")
    try:
        if kind == CRON:
            moment = datetime.strptime(rest, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            return int(moment.timestamp() * 1000)
        if kind == DATASET and "@" in rest:
            return int(rest.rpartition("@")[2])
    except ValueError:
        pass
    raise InvalidInput(
        f"tick '{tick}' is not cron:TIME or dataset:NAME@VERSION",
        hint="tick keys come from due_ticks()",
    )


def _cursor(text: str | None) -> int:
    return int(text) if text else 0


@operation("schedules.dataset_version", role="reader")
def latest_dataset_version(store: Store, name: str) -> int:
    """The newest version number of dataset ``name`` (0 before its first version)."""
    with store.read() as connection:
        return _latest_dataset_version(connection, name)


def _latest_dataset_version(connection: Any, name: str) -> int:
    dataset_id = connection.execute(
        select(datasets.c.id).where(datasets.c.name == name)
    ).scalar_one_or_none()
    if dataset_id is None:
        raise NotFound(f"no dataset named '{name}'", hint="list datasets with: loopml data ls")
    latest = connection.execute(
        select(func.max(dataset_versions.c.version)).where(
            dataset_versions.c.dataset_id == dataset_id
        )
    ).scalar_one()
    return latest or 0


# --- rows -------------------------------------------------------------------------------


def _check_name(name: object, *, what: str = "schedule") -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(f"{what} name {name!r} is not allowed", hint=_NAME_RULE)
    return name


def _split_target(target: str) -> tuple[str, str]:
    """``FILE:PIPELINE`` -> (FILE, PIPELINE); a Windows drive letter is not a separator."""
    head, sep, tail = target.rpartition(":")
    drive = len(head) == 1 and head.isalpha()
    if not sep or not tail or "/" in tail or "\\" in tail or drive:
        return target, ""
    return head, tail


def _absolute_target(file: str | Path) -> str:
    file_part, pipeline_name = _split_target(str(file))
    path = Path(file_part).expanduser().resolve()
    if not path.is_file():
        raise NotFound(
            f"pipeline file '{path}' not found",
            hint="check the path; a relative one is read from the working directory",
        )
    return f"{path}:{pipeline_name}" if pipeline_name else str(path)


def _get(connection: Any, name: str, *, for_update: bool = False) -> Schedule:
    query = select(schedules).where(schedules.c.name == name)
    row = connection.execute(query.with_for_update() if for_update else query).first()
    if row is None:
        raise NotFound(f"no schedule named '{name}'", hint=_LS_HINT)
    return _to_schedule(row)


def _audit(
    connection: Any, store: Store, action: str, name: str, *, before: Any = None, after: Any = None
) -> None:
    """One audit event ``action`` on schedule ``name`` by the store's actor, in the
    caller's write transaction."""
    audit.record(
        connection,
        actor=store.actor,
        action=action,
        object_type="schedule",
        object_id=name,
        before=before,
        after=after,
    )


def _audited(schedule: Schedule) -> dict[str, Any]:
    return {
        "file": schedule.file,
        "on": schedule.on,
        "params": schedule.params,
        "enabled": schedule.enabled,
    }


def _aware(now: datetime | None) -> datetime:
    """``now`` in UTC; a naive datetime is taken as UTC."""
    if now is None:
        return datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _to_schedule(row: Any) -> Schedule:
    return Schedule(
        id=row.id,
        name=row.name,
        file=row.file,
        params=json.loads(row.params),
        trigger=row.trigger,
        spec=row.spec,
        enabled=bool(row.enabled),
        cursor=row.cursor,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _to_tick(row: Any) -> Tick:
    return Tick(
        schedule_id=row.schedule_id,
        tick=row.tick,
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        pipeline_run_id=row.pipeline_run_id,
        status=row.status,
        error=row.error,
    )
