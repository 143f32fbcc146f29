"""The prediction log: every request and answer, written off the request path.

A request handler only appends an entry to an in-memory queue (a deque append, no I/O).
A writer thread drains the queue every ``flush_interval`` seconds into a local
write-ahead file (JSON lines, one per predicted row) and, every ``roll_interval``
seconds or ``roll_rows`` rows, rolls that file into a Parquet segment in the artifact
store with one index row in the metadata store.

What survives what:

- SIGTERM / normal exit: :meth:`PredictionLog.close` drains the queue and rolls the
  write-ahead file: nothing is lost.
- kill -9: the write-ahead file is on disk (in the OS page cache, which a killed process
  does not take with it); only entries still in memory are lost, at most the last
  ``flush_interval`` (0.2 s by default). The next process logging for the same
  deployment, or :func:`recover`, rolls the orphaned file into a segment.
- Power loss: the file is not fsynced per batch, so the OS may lose its last seconds.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from ..clock import now_ms
from ..ops import operation
from ..processes import pid_alive
from ..store import Store

WAL_SUFFIX = ".jsonl"
SOURCE_KEY = "loopml.write_ahead_file"  # Parquet metadata: the file a segment was rolled from
_ACTIVE: set[Path] = set()  # write-ahead files open in this process


class LogEntry(NamedTuple):
    """One scored request as the handler hands it over: cheap to build, no conversion.

    The write-ahead file holds one JSON line per entry (not per row), so the writer pays
    one serialisation per request; rows are expanded when the file is rolled or read.
    """

    request_id: str
    time: int  # ms since the epoch
    variant: str
    model: str
    version: int
    latency_ms: float
    columns: Sequence[str]
    rows: Any  # a 2-D numpy array, or a list of rows in ``columns`` order
    outputs: Any  # numpy array (one per row) or list
    shadow: bool = False


class PredictionLog:
    """The log of one deployment in this process; thread-safe ``append``."""

    def __init__(
        self,
        store: Store,
        deployment: str,
        *,
        flush_interval: float = 0.2,
        roll_interval: float = 60.0,
        roll_rows: int = 200_000,
    ) -> None:
        self.store = store
        self.deployment = deployment
        self.flush_interval = flush_interval
        self.roll_interval = roll_interval
        self.roll_rows = roll_rows
        self.directory = wal_directory(store, deployment)
        self._queue: deque[LogEntry] = deque()
        self._lock = threading.Lock()  # one flush or roll at a time
        self._wal: Path | None = None
        self._wal_rows = 0
        self._wal_started = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rows_written = 0

    def start(self) -> PredictionLog:
        recover(self.store, self.deployment)
        self._thread = threading.Thread(target=self._run, name="loopml-predlog", daemon=True)
        self._thread.start()
        return self

    def append(self, entry: LogEntry) -> None:
        self._queue.append(entry)

    def flush(self) -> None:
        """Write every queued entry to the write-ahead file now."""
        with self._lock:
            self._flush_locked()

    def roll(self) -> None:
        """Flush, then move the write-ahead file into a Parquet segment."""
        with self._lock:
            self._flush_locked()
            self._roll_locked()

    def close(self) -> None:
        """Stop the writer and persist everything queued (what SIGTERM's handler calls)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.roll()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            try:
                with self._lock:
                    self._flush_locked()
                    due = self._wal_rows >= self.roll_rows or (
                        self._wal_rows and time.monotonic() - self._wal_started > self.roll_interval
                    )
                    if due:
                        self._roll_locked()
            except Exception as error:  # keep logging; the next round retries
                _warn(f"prediction log for '{self.deployment}': {type(error).__name__}: {error}")

    def _flush_locked(self) -> None:
        if not self._queue:
            return
        lines: list[bytes] = []
        rows = 0
        while self._queue:
            entry = self._queue.popleft()
            lines.append(_line(entry))
            rows += len(entry.outputs)
        if self._wal is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{os.getpid()}-{now_ms()}-{os.urandom(3).hex()}{WAL_SUFFIX}"
            self._wal = self.directory / name
            _ACTIVE.add(self._wal)
            self._wal_started = time.monotonic()
        with open(self._wal, "ab") as handle:
            handle.write(b"".join(lines))
        self._wal_rows += rows
        self.rows_written += rows

    def _roll_locked(self) -> None:
        if self._wal is None:
            return
        roll_file(self.store, self.deployment, self._wal)
        _ACTIVE.discard(self._wal)
        self._wal = None
        self._wal_rows = 0


def wal_directory(store: Store, deployment: str) -> Path:
    return Path(store.config.home) / "predictions" / "wal" / deployment


def recover(store: Store, deployment: str) -> int:
    """Roll write-ahead files left by processes that died; returns the rows recovered."""
    directory = wal_directory(store, deployment)
    if not directory.is_dir():
        return 0
    rows = 0
    for path in sorted(directory.glob("*" + WAL_SUFFIX)):
        if path in _ACTIVE:  # a log of this process is writing it
            continue
        pid = _pid_of(path)
        # A file of this pid that no log here writes is a predecessor's: a container's
        # server is pid 1 again after every restart.
        if pid is not None and pid != os.getpid() and pid_alive(pid):
            continue
        rows += roll_file(store, deployment, path)
    return rows


def roll_file(store: Store, deployment: str, path: Path) -> int:
    """Write the rows in write-ahead file ``path`` as one Parquet segment; delete the file."""
    import tempfile

    import pyarrow.parquet as pq

    table = wal_table(path)
    if table is None:
        path.unlink(missing_ok=True)
        return 0
    times = table.column("time").to_pylist()
    with tempfile.TemporaryDirectory(prefix="loopml-segment-") as tmp:
        target = Path(tmp) / "segment.parquet"
        # The segment names the file it came from, so a reader that saw the file too
        # (rolled while it read) drops the file's copy of the rows.
        table = table.replace_schema_metadata({SOURCE_KEY: path.name})
        pq.write_table(table, target, compression="zstd")
        info = store.blobs.put_file(target)
    record_segment(
        store,
        deployment,
        info.hash,
        size=info.size,
        start_time=min(times),
        end_time=max(times),
        rows=table.num_rows,
    )
    path.unlink(missing_ok=True)
    return table.num_rows


@operation("predictions.record_segment", role="writer")
def record_segment(
    store: Store,
    deployment: str,
    blob: str,
    *,
    size: int,
    start_time: int,
    end_time: int,
    rows: int,
) -> None:
    """Record stored blob ``blob`` as a segment of ``deployment``'s prediction log."""
    from sqlalchemy import insert

    from ..store.schema import prediction_segments
    from ..tracking.artifacts import insert_blobs

    with store.write() as connection:
        insert_blobs(connection, {blob: size}, now_ms())
        connection.execute(
            insert(prediction_segments).values(
                deployment=deployment,
                start_time=start_time,
                end_time=end_time,
                rows=rows,
                blob=blob,
                created_at=now_ms(),
            )
        )


def read_wal(path: Path) -> list[dict[str, Any]]:
    """The rows of a write-ahead file as records; a torn last line (kill -9) is skipped."""
    deployment = path.parent.name
    records: list[dict[str, Any]] = []
    for item in _items(path):
        if isinstance(item, dict):  # one row already expanded
            records.append(item)
        else:
            records.extend(_expand(item, deployment))
    return records


def _items(path: Path) -> Iterator[LogEntry | dict[str, Any]]:
    """Each complete line of a write-ahead file: an entry, or a row written as a record.
    A torn line (kill -9 mid-write) or a missing file yields nothing."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    for line in data.split(b"\n"):
        if not line:
            continue
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(item, dict):
            yield item
        elif isinstance(item, list) and len(item) == len(LogEntry._fields):
            yield LogEntry(*item)


COLUMNS = (
    ("id", "string"),
    ("request_id", "string"),
    ("row", "int32"),
    ("time", "int64"),
    ("deployment", "string"),
    ("variant", "string"),
    ("model", "string"),
    ("version", "int32"),
    ("latency_ms", "float64"),
    ("shadow", "bool_"),
)
"""The columns every segment has; then one ``in.NAME`` column per input column, typed as
the values came (float, integer, boolean, string), and ``prediction``. Typed columns are
what monitoring reads: a window's feature statistics come straight from Arrow."""
INPUT_PREFIX = "in."
PREDICTION = "prediction"


def wal_table(path: Path) -> Any:
    """The rows of write-ahead file ``path`` as an Arrow table (None when it holds none);
    a torn last line (kill -9) is skipped. Requests with the same input columns are
    gathered and turned into typed columns together."""
    import pyarrow as pa

    deployment = path.parent.name
    groups: dict[tuple[str, ...], _Group] = {}
    for item in _items(path):
        if isinstance(item, dict):  # one row already expanded
            inputs = item["inputs"]
            groups.setdefault(tuple(inputs), _Group()).add_row(item, list(inputs.values()))
        else:
            groups.setdefault(tuple(item.columns), _Group()).add(item)
    tables = [group.table(names, deployment) for names, group in groups.items() if group.ids]
    if not tables:
        return None
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="permissive")


class _Group:
    """Rows of requests that sent the same input columns, gathered column by column."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.fixed: dict[str, list[Any]] = {name: [] for name, _ in COLUMNS[1:]}
        self.rows: list[Any] = []
        self.outputs: list[Any] = []

    def add(self, entry: LogEntry) -> None:
        count = len(entry.outputs)
        if count == 1:
            self.ids.append(entry.request_id)
        else:
            self.ids.extend(f"{entry.request_id}:{index}" for index in range(count))
        fixed = self.fixed
        fixed["request_id"].extend([entry.request_id] * count)
        fixed["row"].extend(range(count))
        for name in ("time", "variant", "model", "version", "latency_ms", "shadow"):
            fixed[name].extend([getattr(entry, name)] * count)
        self.rows.extend(entry.rows)
        self.outputs.extend(entry.outputs)

    def add_row(self, record: dict[str, Any], values: list[Any]) -> None:
        self.ids.append(record["id"])
        for name in self.fixed:
            if name != "deployment":
                self.fixed[name].append(record[name])
        self.rows.append(values)
        self.outputs.append(record["outputs"])

    def table(self, names: tuple[str, ...], deployment: str) -> Any:
        import pyarrow as pa

        arrays = {"id": pa.array(self.ids, type=pa.string())}
        for name, kind in COLUMNS[1:]:
            values = self.fixed[name] if name != "deployment" else [deployment] * len(self.ids)
            arrays[name] = pa.array(values, type=getattr(pa, kind)())
        by_column = list(zip(*self.rows, strict=False)) if self.rows else []
        for index, name in enumerate(names):
            arrays[INPUT_PREFIX + str(name)] = _typed(by_column[index])
        arrays[PREDICTION] = _typed(self.outputs)
        return pa.table(arrays)


def _typed(values: Any) -> Any:
    """An Arrow column of ``values`` with the type they share; JSON text when they share
    none, or are lists (class probabilities, embeddings)."""
    import pyarrow as pa

    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        array = None
    if array is None or pa.types.is_nested(array.type):
        return pa.array(
            [None if v is None else orjson.dumps(v, default=str).decode() for v in values],
            type=pa.string(),
        )
    return array


def _line(entry: LogEntry) -> bytes:
    return orjson.dumps(tuple(entry), option=orjson.OPT_SERIALIZE_NUMPY, default=_plain) + b"\n"


def _plain(value: Any) -> Any:
    """What orjson cannot write itself: object arrays, numpy scalars, timestamps."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _expand(entry: LogEntry, deployment: str) -> list[dict[str, Any]]:
    rows, outputs, columns = entry.rows, entry.outputs, list(entry.columns)
    single = len(rows) == 1
    lines = []
    for index, (row, output) in enumerate(zip(rows, outputs, strict=False)):
        record = {
            "id": entry.request_id if single else f"{entry.request_id}:{index}",
            "request_id": entry.request_id,
            "row": index,
            "time": entry.time,
            "deployment": deployment,
            "variant": entry.variant,
            "model": entry.model,
            "version": entry.version,
            "latency_ms": entry.latency_ms,
            "shadow": entry.shadow,
            "inputs": dict(zip(columns, row, strict=False)),
            "outputs": output,
        }
        lines.append(record)
    return lines


def _pid_of(path: Path) -> int | None:
    head = path.name.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def _warn(message: str) -> None:
    import sys

    print("loopml: " + message, file=sys.stderr, flush=True)
