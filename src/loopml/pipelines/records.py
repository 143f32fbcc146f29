"""Pipeline runs and step runs in the metadata store: service functions over a ``Store``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, desc, insert, select, update

from ..clock import now_ms
from ..errors import NotFound
from ..ops import operation
from ..store import Store
from ..store.schema import blobs, pipeline_runs, runs, step_artifacts, step_runs
from ..store.upsert import conflict_insert
from ..tracking import runs as _runs

RUNNING = "RUNNING"
COMPLETED = "COMPLETED"
CACHED = "CACHED"
FAILED = "FAILED"
KILLED = "KILLED"
SKIPPED = "SKIPPED"  # not run because a step it needs failed
REUSABLE = (COMPLETED, CACHED)


@dataclass(frozen=True)
class OutputInfo:
    hash: str
    materializer: str
    type: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "hash": self.hash,
            "materializer": self.materializer,
            "type": self.type,
            "size": self.size,
        }


@dataclass(frozen=True)
class StepRun:
    pipeline_run_id: str
    name: str
    step: str
    status: str
    run_id: str | None
    cache_key: str | None
    key_parts: dict[str, Any]
    reused_from: str | None
    reason: str | None
    attempts: int
    error: str | None
    outputs: list[OutputInfo]
    started_at: int | None
    ended_at: int | None

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at) / 1000


@dataclass(frozen=True)
class PipelineRun:
    id: str
    pipeline: str
    file: str
    params: dict[str, Any]
    executor: str
    status: str
    start_time: int
    end_time: int | None
    git_commit: str | None
    git_dirty: bool | None
    git_diff_hash: str | None
    resumed_from: str | None
    reproduced_from: str | None
    steps: list[StepRun] = field(default_factory=list)

    def step(self, name: str) -> StepRun:
        for step_run in self.steps:
            if step_run.name == name:
                return step_run
        raise NotFound(f"pipeline run {self.id[:8]} has no step '{name}'")


@operation("pipelines.create_run", role="writer")
def create_pipeline_run(
    store: Store,
    *,
    pipeline: str,
    file: str,
    params: Mapping[str, Any],
    executor: str,
    origin: _runs.RunOrigin,
    resumed_from: str | None = None,
    reproduced_from: str | None = None,
) -> str:
    """Record a new pipeline run, with its tracked run; returns the run id."""
    run = _runs.create_run(
        store,
        experiment=pipeline,
        name=f"{pipeline}",
        origin=origin,
        params={k: _param_text(v) for k, v in params.items()},
        tags={"loopml.kind": "pipeline", "loopml.pipeline": pipeline},
    )
    with store.write() as connection:
        connection.execute(
            insert(pipeline_runs).values(
                run_id=run.id,
                pipeline=pipeline,
                file=file,
                params=json.dumps(dict(params), sort_keys=True),
                executor=executor,
                resumed_from=resumed_from,
                reproduced_from=reproduced_from,
                created_at=now_ms(),
            )
        )
    return run.id


@operation("pipelines.start_step", role="writer")
def start_step_run(
    store: Store,
    pipeline_run_id: str,
    *,
    pipeline: str,
    name: str,
    step: str,
    cache_key: str | None,
    key_parts: Mapping[str, Any],
    reason: str,
    origin: _runs.RunOrigin,
) -> str:
    """Record a step that is about to execute, with its tracked child run; returns the run id."""
    params = key_parts.get("params", {})
    run = _runs.create_run(
        store,
        experiment=pipeline,
        name=name,
        parent_run_id=pipeline_run_id,
        origin=origin,
        params={k: _param_text(v) for k, v in params.items()},
        tags={"loopml.kind": "step", "loopml.step": step, "loopml.pipeline_run": pipeline_run_id},
    )
    with store.write() as connection:
        connection.execute(
            insert(step_runs).values(
                pipeline_run_id=pipeline_run_id,
                name=name,
                step=step,
                status=RUNNING,
                run_id=run.id,
                cache_key=cache_key,
                key_parts=json.dumps(dict(key_parts), sort_keys=True, default=repr),
                reason=reason,
                attempts=0,
                started_at=now_ms(),
            )
        )
    return run.id


@operation("pipelines.record_step", role="writer")
def record_step(
    store: Store,
    pipeline_run_id: str,
    *,
    name: str,
    step: str,
    status: str,
    reason: str,
    cache_key: str | None = None,
    key_parts: Mapping[str, Any] | None = None,
    reused_from: str | None = None,
    outputs: Sequence[OutputInfo] = (),
    inputs: Mapping[str, str] | None = None,
) -> None:
    """Record a step that did not execute: reused from the cache, or skipped."""
    now = now_ms()
    with store.write() as connection:
        connection.execute(
            insert(step_runs).values(
                pipeline_run_id=pipeline_run_id,
                name=name,
                step=step,
                status=status,
                cache_key=cache_key,
                key_parts=json.dumps(dict(key_parts or {}), sort_keys=True, default=repr),
                reused_from=reused_from,
                reason=reason,
                attempts=0,
                outputs=json.dumps([o.to_dict() for o in outputs]),
                started_at=now,
                ended_at=now,
            )
        )
        _link_artifacts(connection, pipeline_run_id, name, inputs or {}, outputs)


@operation("pipelines.finish_step", role="writer")
def finish_step_run(
    store: Store,
    pipeline_run_id: str,
    name: str,
    *,
    status: str,
    attempts: int,
    outputs: Sequence[OutputInfo] = (),
    inputs: Mapping[str, str] | None = None,
    error: str | None = None,
    datasets: Mapping[str, str] | None = None,
) -> None:
    """Record how an executed step ended: its status, attempts, outputs and the dataset
    versions it read."""
    with store.write() as connection:
        recorded = connection.execute(
            select(step_runs.c.key_parts).where(
                step_runs.c.pipeline_run_id == pipeline_run_id, step_runs.c.name == name
            )
        ).first()
        if recorded is None:
            raise NotFound(
                f"pipeline run {pipeline_run_id[:8]} has no step '{name}' to finish",
                hint="a step is recorded with start_step_run before it finishes",
            )
        values: dict[str, Any] = {
            "status": status,
            "attempts": attempts,
            "outputs": json.dumps([o.to_dict() for o in outputs]),
            "error": error,
            "ended_at": now_ms(),
        }
        if datasets:
            parts = json.loads(recorded.key_parts or "{}")
            parts["datasets"] = dict(sorted(datasets.items()))
            values["key_parts"] = json.dumps(parts, sort_keys=True)
        connection.execute(
            update(step_runs)
            .where(step_runs.c.pipeline_run_id == pipeline_run_id, step_runs.c.name == name)
            .values(**values)
        )
        _link_artifacts(connection, pipeline_run_id, name, inputs or {}, outputs)


@operation("pipelines.mark_unfinished", role="writer")
def mark_unfinished(store: Store, pipeline_run_id: str, status: str) -> list[str]:
    """End every step still RUNNING (and its run) with ``status``; returns their names."""
    with store.read() as connection:
        rows = connection.execute(
            select(step_runs.c.name, step_runs.c.run_id).where(
                step_runs.c.pipeline_run_id == pipeline_run_id, step_runs.c.status == RUNNING
            )
        ).all()
    for row in rows:
        with store.write() as connection:
            connection.execute(
                update(step_runs)
                .where(step_runs.c.pipeline_run_id == pipeline_run_id, step_runs.c.name == row.name)
                .values(status=status, ended_at=now_ms())
            )
        if row.run_id is not None:
            _end_run_if_running(store, row.run_id, status)
    return [row.name for row in rows]


def _end_run_if_running(store: Store, run_id: str, status: str) -> None:
    with store.read() as connection:
        current = connection.execute(select(runs.c.status).where(runs.c.id == run_id)).scalar()
    if current == "RUNNING":
        _runs.set_run_status(store, run_id, status)


@operation("pipelines.reusable_runs", role="reader")
def reusable_runs(store: Store, cache_key: str) -> list[StepRun]:
    """Step runs with this key whose outputs are still stored, newest first."""
    with store.read() as connection:
        rows = connection.execute(
            select(step_runs)
            .where(step_runs.c.cache_key == cache_key, step_runs.c.status.in_(REUSABLE))
            .order_by(desc(step_runs.c.ended_at))
            .limit(5)
        ).all()
    found = [_to_step_run(row) for row in rows]
    return [f for f in found if all(store.blobs.exists(o.hash) for o in f.outputs)]


def stale_datasets(store: Store, datasets: Mapping[str, str]) -> list[str]:
    """For each recorded ``ref -> name@version`` that resolves elsewhere now, why."""
    if not datasets:
        return []
    from ..data.versioning import get_version

    stale = []
    for ref, was in datasets.items():
        try:
            current = get_version(store, ref)
            now = f"{current.dataset}@{current.version}"
        except NotFound:
            now = "(missing)"
        if now != was:
            stale.append(f"dataset {ref} now resolves to {now} (was {was})")
    return stale


@operation("pipelines.previous_step", role="reader")
def previous_step_run(store: Store, pipeline: str, name: str, before_run_id: str) -> StepRun | None:
    """The same step in the latest earlier run of the same pipeline, to explain a miss."""
    with store.read() as connection:
        created = connection.execute(
            select(pipeline_runs.c.created_at).where(pipeline_runs.c.run_id == before_run_id)
        ).scalar()
        row = connection.execute(
            select(step_runs)
            .join(pipeline_runs, pipeline_runs.c.run_id == step_runs.c.pipeline_run_id)
            .where(
                pipeline_runs.c.pipeline == pipeline,
                step_runs.c.name == name,
                pipeline_runs.c.run_id != before_run_id,
                pipeline_runs.c.created_at <= (created if created is not None else now_ms()),
                step_runs.c.cache_key.is_not(None),
            )
            .order_by(desc(pipeline_runs.c.created_at))
            .limit(1)
        ).first()
    return _to_step_run(row) if row is not None else None


@operation("pipelines.get_run", role="reader")
def get_pipeline_run(store: Store, ref: str) -> PipelineRun:
    """A pipeline run by id or unique id prefix, with its step runs in execution order."""
    with store.read() as connection:
        run_id = _resolve(connection, ref)
        row = connection.execute(
            select(
                pipeline_runs,
                runs.c.status,
                runs.c.start_time,
                runs.c.end_time,
                runs.c.git_commit,
                runs.c.git_dirty,
                runs.c.git_diff_hash,
            )
            .join(runs, runs.c.id == pipeline_runs.c.run_id)
            .where(pipeline_runs.c.run_id == run_id)
        ).one()
        steps = connection.execute(
            select(step_runs)
            .where(step_runs.c.pipeline_run_id == run_id)
            .order_by(step_runs.c.started_at, step_runs.c.name)
        ).all()
    return PipelineRun(
        id=row.run_id,
        pipeline=row.pipeline,
        file=row.file,
        params=json.loads(row.params),
        executor=row.executor,
        status=row.status,
        start_time=row.start_time,
        end_time=row.end_time,
        git_commit=row.git_commit,
        git_dirty=row.git_dirty,
        git_diff_hash=row.git_diff_hash,
        resumed_from=row.resumed_from,
        reproduced_from=row.reproduced_from,
        steps=[_to_step_run(step) for step in steps],
    )


@operation("pipelines.list_runs", role="reader")
def list_pipeline_runs(
    store: Store, pipeline: str | None = None, *, limit: int = 50
) -> list[PipelineRun]:
    """The latest pipeline runs, newest first, of one pipeline or of all."""
    with store.read() as connection:
        query = select(pipeline_runs.c.run_id).order_by(desc(pipeline_runs.c.created_at))
        if pipeline is not None:
            query = query.where(pipeline_runs.c.pipeline == pipeline)
        ids = connection.execute(query.limit(limit)).scalars().all()
    return [get_pipeline_run(store, run_id) for run_id in ids]


def _resolve(connection: Connection, ref: str) -> str:
    """The pipeline run ``ref`` names: its id or an id prefix, or a step's tracked run id."""
    ref = ref.strip().lower()
    matches: list[str] = []
    if ref and all(c in "0123456789abcdef" for c in ref):
        for column, selected in (
            (pipeline_runs.c.run_id, pipeline_runs.c.run_id),
            (step_runs.c.run_id, step_runs.c.pipeline_run_id),  # a step's run
        ):
            query = select(selected).where(column.like(f"{ref}%")).distinct().limit(2)
            matches = list(connection.execute(query).scalars().all())
            if matches:
                break
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise NotFound(
            f"pipeline run '{ref}' is ambiguous", hint="give more characters of the run id"
        )
    raise NotFound(
        f"pipeline run '{ref}' not found", hint="list pipeline runs with: loopml pipeline ls"
    )


def _link_artifacts(
    connection: Connection,
    pipeline_run_id: str,
    name: str,
    inputs: Mapping[str, str],
    outputs: Sequence[OutputInfo],
) -> None:
    rows = [
        {
            "pipeline_run_id": pipeline_run_id,
            "step": name,
            "role": "in",
            "name": arg,
            "blob": digest,
        }
        for arg, digest in inputs.items()
    ] + [
        {
            "pipeline_run_id": pipeline_run_id,
            "step": name,
            "role": "out",
            "name": str(i),
            "blob": output.hash,
        }
        for i, output in enumerate(outputs)
    ]
    if not rows:
        return
    now = now_ms()
    sizes = {o.hash: o.size for o in outputs}
    known = {row["blob"] for row in rows}
    missing_sizes = known - set(sizes)
    if missing_sizes:  # inputs are earlier outputs: their blob rows exist already
        present = set(
            connection.execute(select(blobs.c.hash).where(and_(blobs.c.hash.in_(missing_sizes))))
            .scalars()
            .all()
        )
        rows = [row for row in rows if row["blob"] in sizes or row["blob"] in present]
        if not rows:  # a failed step whose inputs (map items) have no blob row
            return
    if sizes:
        connection.execute(
            conflict_insert(connection, blobs).on_conflict_do_nothing(index_elements=["hash"]),
            [{"hash": h, "size": s, "created_at": now} for h, s in sizes.items()],
        )
    connection.execute(
        conflict_insert(connection, step_artifacts).on_conflict_do_nothing(
            index_elements=["pipeline_run_id", "step", "role", "name"]
        ),
        rows,
    )


def _to_step_run(row: Any) -> StepRun:
    outputs = [OutputInfo(**o) for o in json.loads(row.outputs or "[]")]
    return StepRun(
        pipeline_run_id=row.pipeline_run_id,
        name=row.name,
        step=row.step,
        status=row.status,
        run_id=row.run_id,
        cache_key=row.cache_key,
        key_parts=json.loads(row.key_parts or "{}"),
        reused_from=row.reused_from,
        reason=row.reason,
        attempts=row.attempts,
        error=row.error,
        outputs=outputs,
        started_at=row.started_at,
        ended_at=row.ended_at,
    )


def _param_text(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) else json.dumps(value)
