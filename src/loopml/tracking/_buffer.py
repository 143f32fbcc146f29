"""The in-process metric buffer: ``log_metric`` appends, a background thread writes in bulk.

Rows are written when ``max_rows`` are pending or ``max_delay_s`` has passed, whichever is
first; ``flush()`` writes synchronously and is called on ``end_run``, before reads in the
same process, at interpreter exit and while unwinding from SIGTERM/SIGINT. A batch whose
write fails (or is interrupted) is kept and retried, never dropped. If the store stays
slow, the buffer stops growing at ``ceiling`` rows: ``add`` then writes synchronously.

What a ``kill -9`` can lose is bounded: while the store keeps up, the rows logged in the
last ``max_delay_s`` (50 ms) plus the batch being written at that instant; if the store
falls behind, at most ``ceiling`` rows (200,000), because logging then waits for it.

A forked child (a multiprocessing pool worker, say) writes each call directly instead:
its parent may terminate it as soon as its task returns, before any buffer could flush,
so nothing logged there is ever left in memory.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable

from ..store import Store
from ._signals import deferred_signals
from .metrics import MetricRow, write_metrics

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
        self._thread = threading.Thread(target=self._run, name="loopml-metrics", daemon=True)
        self._thread.start()
        _buffers.add(self)

    @property
    def pending(self) -> int:
        return len(self._pending) + len(self._retry)

    def add(self, row: MetricRow) -> None:
        self._pending.append(row)
        if len(self._pending) >= self._max_rows:
            self._grown()

    def extend(self, rows: Iterable[MetricRow]) -> None:
        self._pending.extend(rows)
        if len(self._pending) >= self._max_rows:
            self._grown()

    def _grown(self) -> None:
        if len(self._pending) >= self._ceiling:
            self.flush()  # back-pressure: the store is not keeping up
        else:
            self._wake.set()

    def flush(self) -> None:
        """Write everything pending now; raises if the store refuses (rows are kept)."""
        with self._write_lock:
            self._write_pending()

    def flush_if_pending(self) -> None:
        if self._pending or self._retry:
            self.flush()

    def close(self) -> None:
        """Stop the thread and write what is left.

        The process is leaving when this runs, so another SIGTERM (multiprocessing's
        Pool.terminate sends one to every worker) waits until the rows are written.
        """
        with deferred_signals():
            self._closed = True
            self._wake.set()
            if self._thread.is_alive() and threading.current_thread() is not self._thread:
                self._thread.join(timeout=30)
            self.flush()

    def _run(self) -> None:
        # Termination signals must reach the main thread. One delivered here would only
        # flag the main thread, which stays blocked if it is waiting in C at that moment.
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        while not self._closed:
            self._wake.wait(self._max_delay_s)
            self._wake.clear()
            if not self._pending and not self._retry:
                continue
            with self._write_lock:
                try:
                    self._write_pending()
                    failed = False
                except Exception:  # the rows are kept; end_run's flush reports the error
                    failed = True
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
                write_metrics(self._store, batch)
            except BaseException:
                # Refused or interrupted: keep the batch. The transaction rolled back, so
                # writing it again duplicates nothing.
                self._retry = batch + self._retry
                raise


class DirectWriter:
    """The buffer's interface for forked children: every call is written before it returns."""

    pending = 0

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, row: MetricRow) -> None:
        self.extend((row,))

    def extend(self, rows: Iterable[MetricRow]) -> None:
        batch = list(rows)
        if batch:
            write_metrics(self._store, batch)

    def flush(self) -> None:
        """Nothing is ever pending."""

    flush_if_pending = flush
    close = flush


def buffer_for(store: Store) -> MetricBuffer | DirectWriter:
    """The metric buffer of ``store`` in this process, started on first use.

    A forked child starts with an empty ``store.state`` (see ``loopml.store``), so it gets
    a writer of its own instead of a copy of its parent's pending rows.
    """
    buffer = store.state.get("metric_buffer")
    if buffer is None:
        with _create_lock:
            buffer = store.state.get("metric_buffer")
            if buffer is None:
                if _forked:
                    buffer = DirectWriter(store)
                else:
                    buffer = MetricBuffer(store)
                    store.on_close(buffer.close)
                    store.before_read(buffer.flush_if_pending)
                    _flush_at_child_exit(buffer)
                store.state["metric_buffer"] = buffer
    return buffer


def _flush_at_child_exit(buffer: MetricBuffer) -> None:
    # multiprocessing children (spawned ones; forked ones write directly) leave through
    # os._exit and skip atexit handlers; they run multiprocessing's own finalizers instead.
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is not None and multiprocessing.parent_process() is not None:
        from multiprocessing.util import Finalize

        Finalize(buffer, buffer.close, exitpriority=10)


def flush_buffered(store: Store) -> None:
    """Write ``store``'s buffered metric values now, if this process has any."""
    buffer = store.state.get("metric_buffer")
    if buffer is not None:
        buffer.flush()


def _hold_writes() -> None:
    # No write transaction may span a fork: SQLite's per-process lock bookkeeping would be
    # copied into the child mid-transaction, and the child's own connections would then
    # wait for a lock nobody holds (a store "busy" for good). Take every buffer's write
    # lock first; a write in progress finishes before the fork.
    for buffer in list(_buffers):
        buffer._write_lock.acquire()


def _release_writes() -> None:
    for buffer in list(_buffers):
        if buffer._write_lock.locked():
            buffer._write_lock.release()


def _note_fork() -> None:
    global _forked
    _forked = True
    _release_writes()


_create_lock = threading.Lock()
_forked = False
_buffers: weakref.WeakSet[MetricBuffer] = weakref.WeakSet()
os.register_at_fork(before=_hold_writes, after_in_parent=_release_writes, after_in_child=_note_fork)
