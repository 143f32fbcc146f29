"""Reading the prediction log back: a time window of one deployment as a DataFrame.

    loopml.predictions("churn-prod", since="1h")

Segments are found through their index rows (one per Parquet file, with its first and
last time), so a window reads only the files that overlap it; rows still in a live
server's write-ahead file on this machine are included, so a prediction is visible as
soon as it is flushed (0.2 s), not only once its segment is rolled.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import select

from ..clock import now_ms
from ..errors import InvalidInput
from ..ops import operation
from ..store import Store
from ..store.schema import prediction_feedback, prediction_segments
from .predlog import (
    COLUMNS,
    INPUT_PREFIX,
    PREDICTION,
    SOURCE_KEY,
    WAL_SUFFIX,
    wal_directory,
    wal_table,
)

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_duration_ms(text: str) -> int:
    """``90s``, ``10m``, ``1h``, ``7d`` as milliseconds."""
    match = _DURATION.fullmatch(text)
    if not match:
        raise InvalidInput(
            f"invalid duration {text!r}", hint="use a number and a unit: 500ms, 30s, 10m, 1h, 7d"
        )
    return int(float(match.group(1)) * _UNIT_MS[match.group(2)])


def to_ms(moment: Any, *, now: int | None = None) -> int | None:
    """A point in time from ms, a datetime, an ISO string or a duration ago (``1h``)."""
    if moment is None:
        return None
    if isinstance(moment, bool):
        raise InvalidInput(f"invalid time {moment!r}")
    if isinstance(moment, int | float):
        return int(moment)
    if isinstance(moment, datetime):
        return int(moment.timestamp() * 1000)
    if isinstance(moment, str):
        if _DURATION.fullmatch(moment):
            return (now or now_ms()) - parse_duration_ms(moment)
        try:
            return int(datetime.fromisoformat(moment).timestamp() * 1000)
        except ValueError:
            pass
    raise InvalidInput(
        f"invalid time {moment!r}",
        hint="pass milliseconds, a datetime, an ISO time (2026-11-27T10:00) or an age (1h)",
    )


def read_table(
    store: Store, deployment: str, since: int | None = None, until: int | None = None
) -> pa.Table:
    """The logged rows of ``deployment`` with ``since <= time <= until``, oldest first."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    # Write-ahead files first, segments second: a file rolled in between is then read
    # twice rather than missed, and its segment names it, so its own copy is dropped.
    pending = {}
    directory = wal_directory(store, deployment)
    if directory.is_dir():
        for path in sorted(directory.glob("*" + WAL_SUFFIX)):
            table = wal_table(path)
            if table is not None:
                pending[path.name] = table
    blobs = segment_blobs(store, deployment, since, until)
    tables = []
    for digest in blobs:
        with store.blobs.open(digest) as handle:
            segment = pq.read_table(handle)
        source = (segment.schema.metadata or {}).get(SOURCE_KEY.encode())
        if source is not None:
            pending.pop(source.decode(), None)
        tables.append(segment)
    tables.extend(pending.values())
    if not tables:
        empty = {name: pa.array([], type=getattr(pa, kind)()) for name, kind in COLUMNS}
        return pa.table({**empty, PREDICTION: pa.array([], type=pa.float64())})
    table = pa.concat_tables(tables, promote_options="permissive")
    mask = None
    if since is not None:
        mask = pc.greater_equal(table["time"], since)
    if until is not None:
        upper = pc.less_equal(table["time"], until)
        mask = upper if mask is None else pc.and_(mask, upper)
    if mask is not None:
        table = table.filter(mask)
    return table.sort_by([("time", "ascending"), ("id", "ascending")])


@operation("predictions.segments", role="reader")
def segment_blobs(
    store: Store, deployment: str, since: int | None = None, until: int | None = None
) -> list[str]:
    """The blobs of ``deployment``'s log segments that overlap ``[since, until]``, oldest
    first (rows not rolled into a segment yet are in the serving process's files)."""
    with store.read() as connection:
        query = select(prediction_segments.c.blob).where(
            prediction_segments.c.deployment == deployment
        )
        if since is not None:
            query = query.where(prediction_segments.c.end_time >= since)
        if until is not None:
            query = query.where(prediction_segments.c.start_time <= until)
        return list(connection.execute(query.order_by(prediction_segments.c.start_time)).scalars())


def predictions(
    store: Store,
    deployment: str,
    *,
    since: Any = None,
    until: Any = None,
    variant: str | None = None,
    shadow: bool | None = False,
    expand: bool = True,
    labels: bool = True,
) -> pd.DataFrame:
    """Logged predictions of ``deployment`` as a DataFrame, one row per predicted row.

    ``since``/``until`` take ms, datetimes, ISO strings or ages (``"1h"``). ``shadow``
    False keeps the answers that were returned, True only the shadows', None both.
    With ``expand``, each input column becomes a column and ``prediction`` holds the
    output; with ``labels``, ``label`` holds the ground truth sent as feedback (or None).
    """
    import pandas as pd

    now = now_ms()
    table = read_table(store, deployment, to_ms(since, now=now), to_ms(until, now=now))
    frame = table.to_pandas()
    if variant is not None:
        frame = frame[frame["variant"] == variant]
    if shadow is not None:
        frame = frame[frame["shadow"] == shadow]
    frame = frame.reset_index(drop=True)
    frame["time"] = pd.to_datetime(frame["time"], unit="ms", utc=True)
    if expand:  # in.tenure -> tenure, unless that name is one of the log's own columns
        fixed = {name for name, _ in COLUMNS} | {"prediction", "label"}
        frame = frame.rename(
            columns={
                column: column[len(INPUT_PREFIX) :]
                for column in frame.columns
                if column.startswith(INPUT_PREFIX) and column[len(INPUT_PREFIX) :] not in fixed
            }
        )
    if labels:
        found = feedback_labels(store, deployment, frame["id"].tolist()) if len(frame) else {}
        frame["label"] = pd.Series([found.get(i) for i in frame["id"]], dtype=object)
    return frame


@operation("predictions.labels", role="reader")
def feedback_labels(store: Store, deployment: str, ids: list[str]) -> dict[str, Any]:
    """The labels sent as feedback for ``ids`` (those that have one)."""
    found: dict[str, Any] = {}
    unique = sorted(set(ids))
    with store.read() as connection:
        for start in range(0, len(unique), 500):
            rows = connection.execute(
                select(prediction_feedback.c.prediction_id, prediction_feedback.c.label).where(
                    prediction_feedback.c.deployment == deployment,
                    prediction_feedback.c.prediction_id.in_(unique[start : start + 500]),
                )
            )
            for prediction_id, label in rows:
                found[prediction_id] = orjson.loads(label)
    return found


def find_times(store: Store, deployment: str, ids: list[str]) -> dict[str, int]:
    """The logged time of each of ``ids`` found in ``deployment``'s log."""
    import pyarrow as pa
    import pyarrow.compute as pc

    wanted = pa.array(sorted(set(ids)), type=pa.string())
    generated = [_generated_time(i) for i in ids]
    since = until = None
    if generated and all(t is not None for t in generated):
        # Ids the server generated start with their time: read only those segments.
        since = min(generated) - 60_000  # type: ignore[type-var]
        until = max(generated) + 60_000  # type: ignore[type-var]
    table = read_table(store, deployment, since, until)
    table = table.filter(
        pc.and_(pc.is_in(table["id"], value_set=wanted), pc.invert(table["shadow"]))
    )
    return dict(zip(table["id"].to_pylist(), table["time"].to_pylist(), strict=True))


def _generated_time(prediction_id: str) -> int | None:
    head = prediction_id.split(":", 1)[0]
    if len(head) == 20 and re.fullmatch(r"[0-9a-f]{20}", head):
        return int(head[:12], 16)
    return None


def feedback_join(store: Store, deployment: str, since: Any = None) -> pd.DataFrame:
    """Predictions that have feedback, with ``prediction`` and ``label`` side by side."""
    frame = predictions(store, deployment, since=since)
    return frame[frame["label"].notna()].reset_index(drop=True)


__all__ = [
    "feedback_join",
    "feedback_labels",
    "find_times",
    "parse_duration_ms",
    "predictions",
    "read_table",
    "to_ms",
]
