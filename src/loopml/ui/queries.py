"""Read-only queries the pages need and the services do not offer yet: a page of runs
with its total, many runs' metric histories in one query, and a page of audit events.

Each reuses the service's own pieces (the search language's parser and query builder,
``key_values``, ``row_to_run``), so a filter means the same here as in
``loopml.search_runs``; only the paging (``OFFSET`` and a ``COUNT``) is added. When
``search_runs`` and ``audit.list_events`` learn an ``offset`` and a total, these move there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select

from ..errors import InvalidInput
from ..governance.audit import AuditEvent, event_from_row
from ..store import Store
from ..store.schema import audit_events, experiments, latest_metrics, metrics, params, runs
from ..tracking.entities import ACTIVE, DELETED, Run
from ..tracking.runs import key_values, resolve_run_id, row_to_run
from ..tracking.search import parse_filter, parse_order_by
from ..tracking.search.query import QueryBuilder

RunView = Literal["active", "deleted", "all"]
_CHUNK = 900  # bound parameters per IN list, under every SQLite build's limit


@dataclass(frozen=True)
class RunsPage:
    total: int
    runs: list[Run]


def search_page(
    store: Store,
    filter: str = "",
    *,
    order_by: Sequence[str] = (),
    experiment: str | None = None,
    view: RunView = "active",
    offset: int = 0,
    limit: int = 50,
) -> RunsPage:
    """One page of the runs ``filter`` matches, in ``order_by`` order, and how many match.

    Raises :class:`~loopml.errors.FilterSyntaxError` naming the column of a bad filter
    or order-by term, as ``search_runs`` does.
    """
    condition = parse_filter(filter)
    order = [parse_order_by(term) for term in order_by]
    where: list[Any] = []
    if view != "all":
        where.append(runs.c.lifecycle_stage == (ACTIVE if view == "active" else DELETED))
    if experiment:
        where.append(experiments.c.name == experiment)
    columns = [c for c in runs.c if c.name != "environment"]  # kilobytes per run, unshown
    page = (
        QueryBuilder(filter)
        .build(
            condition,
            order,
            columns=[*columns, experiments.c.name.label("experiment_name")],
            where=where,
        )
        .limit(limit)
        .offset(offset)
    )
    counted = QueryBuilder(filter).build(condition, [], columns=[runs.c.id], where=where)
    total = select(func.count()).select_from(counted.order_by(None).subquery())
    with store.read() as connection:
        count = connection.execute(total).scalar_one()
        rows = connection.execute(page).all()
        values = key_values(connection, [row.id for row in rows])
    return RunsPage(count, [_to_run(row, values) for row in rows])


def run_keys(store: Store) -> dict[str, list[str]]:
    """Every metric and param key any run has, sorted: the columns a table can show."""
    with store.read() as connection:
        metric_keys = connection.execute(select(latest_metrics.c.key).distinct()).scalars().all()
        param_keys = connection.execute(select(params.c.key).distinct()).scalars().all()
    return {"metrics": sorted(metric_keys), "params": sorted(param_keys)}


def runs_by_id(store: Store, refs: Sequence[str]) -> list[Run]:
    """The runs ``refs`` name (full ids or unique prefixes), in that order, each once.

    Raises :class:`~loopml.errors.NotFound` naming the first id that matches no run.
    """
    wanted = list(dict.fromkeys(refs))
    with store.read() as connection:
        found: dict[str, Any] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            rows = connection.execute(_run_rows().where(runs.c.id.in_(chunk))).all()
            found.update((row.id, row) for row in rows)
        ids = []
        for ref in wanted:
            if ref not in found:  # a prefix, or no such run (resolve_run_id names it)
                full = resolve_run_id(connection, ref)
                found[full] = connection.execute(_run_rows().where(runs.c.id == full)).one()
                ref = full
            ids.append(ref)
        ids = list(dict.fromkeys(ids))
        values = key_values(connection, ids)
    return [_to_run(found[run_id], values) for run_id in ids]


def metric_histories(
    store: Store, run_ids: Sequence[str], keys: Sequence[str], *, max_points: int = 500
) -> dict[str, dict[str, tuple[list[int], list[float | None]]]]:
    """``{key: {run_id: (steps, values)}}`` for many runs in one query.

    A history longer than ``max_points`` is thinned in the database to every n-th point
    plus the last, so a chart of 100 runs of 10,000 steps stays small.
    """
    if not run_ids or not keys:
        return {}
    if len(run_ids) * len(keys) > _CHUNK:
        raise InvalidInput(
            f"{len(run_ids)} runs × {len(keys)} metrics is too many histories for one page",
            hint="chart fewer metrics, or compare fewer runs",
        )
    window = {
        "partition_by": [metrics.c.run_id, metrics.c.key],
    }
    position = func.row_number().over(
        **window, order_by=[metrics.c.step, metrics.c.timestamp, metrics.c.id]
    )
    numbered = (
        select(
            metrics.c.run_id,
            metrics.c.key,
            metrics.c.step,
            metrics.c.value,
            position.label("position"),
            func.count().over(**window).label("points"),
        )
        .where(metrics.c.run_id.in_(list(run_ids)), metrics.c.key.in_(list(keys)))
        .subquery()
    )
    stride = (numbered.c.points + max_points - 1) // max_points  # floor division in SQL
    query = (
        select(numbered.c.run_id, numbered.c.key, numbered.c.step, numbered.c.value)
        .where(
            ((numbered.c.position - 1) % stride == 0) | (numbered.c.position == numbered.c.points)
        )
        .order_by(numbered.c.key, numbered.c.run_id, numbered.c.position)
    )
    histories: dict[str, dict[str, tuple[list[int], list[float | None]]]] = {}
    with store.read() as connection:
        rows = connection.execute(query).all()
    for run_id, key, step, value in rows:
        steps, values = histories.setdefault(key, {}).setdefault(run_id, ([], []))
        steps.append(step)
        values.append(value)
    return histories


def run_counts(store: Store) -> dict[int, int]:
    """Active runs per experiment id."""
    query = (
        select(runs.c.experiment_id, func.count())
        .where(runs.c.lifecycle_stage == ACTIVE)
        .group_by(runs.c.experiment_id)
    )
    with store.read() as connection:
        return {experiment_id: count for experiment_id, count in connection.execute(query)}


@dataclass(frozen=True)
class AuditPage:
    total: int
    events: list[AuditEvent]


def audit_page(
    store: Store,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> AuditPage:
    """A page of audit events, newest first, with the total that match; the filters
    mean what they mean in ``audit.list_events`` (``object_id`` may be a prefix)."""
    where = []
    if object_id:
        where.append(audit_events.c.object_id.startswith(object_id, autoescape=True))
    for column, wanted in (
        (audit_events.c.object_type, object_type),
        (audit_events.c.actor, actor),
        (audit_events.c.action, action),
    ):
        if wanted:
            where.append(column == wanted)
    query = (
        select(audit_events)
        .where(*where)
        .order_by(audit_events.c.seq.desc())
        .limit(limit)
        .offset(offset)
    )
    total = select(func.count()).select_from(audit_events).where(*where)
    with store.read() as connection:
        count = connection.execute(total).scalar_one()
        rows = connection.execute(query).all()
    return AuditPage(count, [event_from_row(row) for row in rows])


def audit_choices(store: Store) -> dict[str, list[str]]:
    """The object types, actors and actions the log holds, for the filter's menus."""
    with store.read() as connection:
        return {
            name: sorted(connection.execute(select(column).distinct()).scalars().all())
            for name, column in (
                ("object_types", audit_events.c.object_type),
                ("actors", audit_events.c.actor),
                ("actions", audit_events.c.action),
            )
        }


def _run_rows() -> Any:
    columns = [c for c in runs.c if c.name != "environment"]
    return select(*columns, experiments.c.name.label("experiment_name")).join(
        experiments, experiments.c.id == runs.c.experiment_id
    )


def _to_run(row: Any, values: dict[str, dict[str, dict[str, Any]]]) -> Run:
    return row_to_run(
        _WithoutEnvironment(row),
        values["params"].get(row.id, {}),
        values["metrics"].get(row.id, {}),
        values["tags"].get(row.id, {}),
    )


class _WithoutEnvironment:
    """A run row read without its ``environment`` column, as ``row_to_run`` expects it."""

    environment = None

    def __init__(self, row: Any) -> None:
        self._row = row

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)
