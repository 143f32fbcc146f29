"""The in-process metric buffer: ``log_metric`` appends, a background thread writes in bulk.

Rows are written when ``max_rows`` are pending or ``max_delay_s`` has passed, whichever is
first; ``flush()`` writes synchronously and is called on ``end_run``, before reads in the
same process, at interpreter exit and while unwinding from SIGTERM/SIGINT. A batch whose
write fails (or is interrupted) is kept and retried, never dropped. If the store stays
slow, the buffer stops growing at ``ceiling`` rows: ``add`` then writes synchronously.

What a ``kill -9`` can lose is bounded: while the store keeps up, the rows logged in the
last ``max_delay_s`` (50 ms) plus the batch being written at that instant; if the store
falls behind, at most ``ceiling`` rows (200,000), because logging then waits for it.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterable

from ..store import Store
from ._signals import deferred_signals
from .metrics import MetricRow, write_metric_rows

MAX_ROWS = 1000
MAX_DELAY_S = 0.05
CEILING = 200_000
_RETRY_DELAY_S = 0.5


class MetricBuffer:
    def __init__(
        self,
        store: Store,
        *,
        max_rows: int = MAX_ROWS,
        max_delay_s: float = MAX_DELAY_S,
        ceiling: int = CEILING,
    ) -> None:
        self._store = store
        self._max_rows = max_rows
        self._max_delay_s = max_delay_s
        self._ceiling = ceiling
        # deque.append and popleft are atomic, so appenders never take a lock.
        self._pending: deque[MetricRow] = deque()
        self._retry: list[MetricRow] = []
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self.last_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="loopml-metrics", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        return len(self._pending) + len(self._retry)

    def add(self, row: MetricRow) -> None:
        self._pending.append(row)
        size = len(self._pending)
        if size >= self._max_rows:
            if size >= self._ceiling:
                self.flush()  # back-pressure: the store is not keeping up
            else:
                self._wake.set()

    def extend(self, rows: Iterable[MetricRow]) -> None:
        self._pending.extend(rows)
        size = len(self._pending)
        if size >= self._max_rows:
            if size >= self._ceiling:
                self.flush()
            else:
                self._wake.set()

    def flush(self) -> None:
        """Write everything pending now; raises if the store refuses (rows are kept)."""
        with self._write_lock:
            self._write_pending()

    def close(self) -> None:
        """Stop the thread and write what is left."""
        self._closed = True
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)
        self.flush()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._max_delay_s)
            self._wake.clear()
            if not self._pending and not self._retry:
                continue
            with self._write_lock:
                try:
                    self._write_pending()
                    self.last_error = None
                except Exception as exc:  # kept for end_run to report; rows are retried
                    self.last_error = exc
                    failed = True
                else:
                    failed = False
            if failed:
                time.sleep(_RETRY_DELAY_S)

    def _write_pending(self) -> None:
        with deferred_signals():
            batch, self._retry = self._retry, []
            pending = self._pending
            for _ in range(len(pending)):
                batch.append(pending.popleft())
            if not batch:
                return
            try:
                with self._store.write() as connection:
                    write_metric_rows(connection, batch)
            except BaseException:
                # Refused or interrupted: keep the batch. The transaction rolled back, so
                # writing it again duplicates nothing.
                self._retry = batch + self._retry
                raise


def buffer_for(store: Store) -> MetricBuffer:
    """The metric buffer of ``store`` in this process, started on first use."""
    key = ("metric_buffer", os.getpid())
    buffer = store.state.get(key)
    if buffer is None:
        with _create_lock:
            buffer = store.state.get(key)
            if buffer is None:
                buffer = MetricBuffer(store)
                store.state[key] = buffer
                store.on_close(buffer.close)
    return buffer


def flush_if_buffered(store: Store) -> None:
    """Flush ``store``'s buffer if this process has one, so reads see our own writes."""
    buffer = store.state.get(("metric_buffer", os.getpid()))
    if buffer is not None and buffer.pending:
        buffer.flush()


_create_lock = threading.Lock()
