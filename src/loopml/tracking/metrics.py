"""Metric points: bulk appends, the per-run latest values, and history reads."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, Insert, select

from ..clock import now_ms
from ..errors import NotFound
from ..ops import operation
from ..store import Store
from ..store.bulk import insert_rows
from ..store.schema import latest_metrics, metrics, runs
from ..store.upsert import conflict_insert
from .entities import MetricPoint
from .runs import require_active_run, resolve_run_id
from .validation import check_key, check_mapping, metric_step, metric_timestamp, metric_value


class MetricRow(NamedTuple):
    run_id: str
    key: str
    value: float
    step: int
    timestamp: int


def metric_rows(
    run_id: str,
    values: Mapping[str, Any],
    *,
    step: int | None = None,
    timestamp: int | None = None,
) -> list[MetricRow]:
    """Validate ``values`` and turn them into rows (step 0 and now when not given)."""
    timestamp = now_ms() if timestamp is None else timestamp
    rows = []
    for key, value in check_mapping(values, "metrics").items():
        check_key(key, "metric")
        rows.append(
            MetricRow(
                run_id,
                key,
                metric_value(key, value),
                metric_step(key, 0 if step is None else step),
                metric_timestamp(key, timestamp),
            )
        )
    return rows


@operation("runs.log_metrics", role="writer")
def log_metrics(
    store: Store,
    run_id: str,
    values: Mapping[str, Any],
    *,
    step: int | None = None,
    timestamp: int | None = None,
) -> None:
    """Write metric values now, in one transaction (the SDK buffers in front of this)."""
    rows = metric_rows(run_id, values, step=step, timestamp=timestamp)
    with store.write() as connection:
        full_id = require_active_run(connection, run_id)
        if full_id != run_id:  # a prefix was given
            rows = [row._replace(run_id=full_id) for row in rows]
        write_metric_rows(connection, rows)


@operation("runs.write_metrics", role="writer")
def write_metrics(store: Store, rows: list[MetricRow]) -> None:
    """Append metric rows of any runs in one transaction (the buffer's flush)."""
    for key in {row.key for row in rows}:  # a few keys per batch: cheap, and a client's
        check_key(key, "metric")  # rows were built by code that is not ours
    with store.write() as connection:
        wanted = {row.run_id for row in rows}
        found = set(connection.execute(select(runs.c.id).where(runs.c.id.in_(wanted))).scalars())
        if wanted - found:
            missing = sorted(wanted - found)[0]
            raise NotFound(f"run '{missing}' not found", hint="list runs with: loopml runs ls")
        write_metric_rows(connection, rows)


def write_metric_rows(connection: Connection, rows: Sequence[MetricRow]) -> None:
    """Append ``rows`` (any runs) and move each run's latest values forward."""
    if not rows:
        return
    if any(row[2] != row[2] for row in rows):  # NaN is stored as NULL on both databases
        rows = [row._replace(value=None) if row[2] != row[2] else row for row in rows]
    # MetricRow's fields are in the table's column order, so rows go in as they are.
    insert_rows(connection, metrics, MetricRow._fields, rows)
    connection.execute(_latest_upsert(connection), _newest_per_key(rows))


@operation("runs.next_steps", role="reader")
def next_steps(store: Store, run_id: str) -> dict[str, int]:
    """For each metric key of a run, the step after its latest one (to resume a run)."""
    with store.read() as connection:
        rows = connection.execute(
            select(latest_metrics.c.key, latest_metrics.c.step).where(
                latest_metrics.c.run_id == run_id
            )
        ).all()
    return {key: step + 1 for key, step in rows}


@operation("runs.metric_history", role="reader")
def get_metric_history(store: Store, run_id: str, key: str) -> list[MetricPoint]:
    """Every logged point of metric ``key`` of a run, in step then time order."""
    check_key(key, "metric")
    with store.read() as connection:
        run_id = resolve_run_id(connection, run_id)
        rows = connection.execute(
            select(metrics.c.value, metrics.c.step, metrics.c.timestamp)
            .where(metrics.c.run_id == run_id, metrics.c.key == key)
            .order_by(metrics.c.step, metrics.c.timestamp, metrics.c.id)
        ).all()
    return [
        MetricPoint(key, math.nan if value is None else value, step, timestamp)
        for value, step, timestamp in rows
    ]


def _newest_per_key(rows: Iterable[MetricRow]) -> list[dict[str, Any]]:
    newest: dict[tuple[str, str], MetricRow] = {}
    for row in rows:
        seen = newest.get((row.run_id, row.key))
        if seen is None or (row.step, row.timestamp) >= (seen.step, seen.timestamp):
            newest[(row.run_id, row.key)] = row
    return [row._asdict() for row in newest.values()]  # NaN was turned into None already


def _latest_upsert(connection: Connection) -> Insert:
    statement = conflict_insert(connection, latest_metrics)
    new, old = statement.excluded, latest_metrics.c
    return statement.on_conflict_do_update(
        index_elements=[old.run_id, old.key],
        set_={"value": new.value, "step": new.step, "timestamp": new.timestamp},
        # Points may arrive out of order (several writers, back-filled steps): only a
        # point with a higher (step, timestamp) replaces the latest value.
        where=(new.step > old.step) | ((new.step == old.step) & (new.timestamp >= old.timestamp)),
    )
