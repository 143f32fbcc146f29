"""The SDK's run-in-progress API: ``with loopml.start_run(...) as run: run.log_metric(...)``.

A run ends FINISHED when its block completes, FAILED when an exception leaves it, and
KILLED on Ctrl-C or SIGTERM. Runs left open are ended at interpreter exit with the status
that fits how the interpreter is exiting. Metric values go through the in-process buffer
(``_buffer.py``); everything else is written before the call returns.
"""

from __future__ import annotations

import atexit
import contextvars
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

from ..clock import now_ms
from ..errors import Conflict, InvalidInput
from ..store import Store, close_default_stores, default_store
from . import _signals
from . import artifacts as _files
from . import runs as _runs
from ._buffer import DirectWriter, MetricBuffer, buffer_for, flush_buffered
from .entities import FAILED, FINISHED, KILLED, RUNNING, ArtifactEntry, Run
from .environment import capture_origin, environment_record, warm_up
from .metrics import MetricRow, next_steps
from .validation import check_key, check_mapping, metric_step, metric_timestamp, metric_value


class ActiveRun:
    """A run this process is executing. Use it as a context manager to end it."""

    def __init__(self, store: Store, run: Run) -> None:
        self.store = store
        self.id = run.id
        self.name = run.name
        self.experiment_name = run.experiment_name
        self._pid = os.getpid()
        self._buffer: MetricBuffer | DirectWriter | None = buffer_for(store)
        self._next_step: dict[str, int] = {}
        self._checked_keys: set[str] = set()
        self.ended = False
        self._context_token: contextvars.Token[ActiveRun | None] | None = None

    def __repr__(self) -> str:
        return f"ActiveRun(id={self.id!r}, name={self.name!r}, experiment={self.experiment_name!r})"

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.end(status_for_exit(exc))
        except Exception:
            if exc is None:
                raise
            # The body's own exception matters more than a failure to record the end.

    @property
    def info(self) -> Run:
        """The run as stored now, including every metric logged so far."""
        return _runs.get_run(self.store, self.id)  # reads flush buffered metrics first

    def _metric_buffer(self) -> MetricBuffer | DirectWriter:
        # None in a forked child: it logs through a buffer (and thread) of its own.
        if self._buffer is None:
            self._buffer = buffer_for(self.store)
        return self._buffer

    def log_param(self, key: str, value: Any) -> None:
        _runs.log_params(self.store, self.id, {key: value})

    def log_params(self, values: Mapping[str, Any]) -> None:
        _runs.log_params(self.store, self.id, values)

    def log_metric(
        self, key: str, value: Any, step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Log one value. Without ``step``, steps count up per key from 0."""
        if key not in self._checked_keys:
            check_key(key, "metric")
            self._checked_keys.add(key)
        number = metric_value(key, value)
        step = self._next_step.get(key, 0) if step is None else metric_step(key, step)
        self._next_step[key] = step + 1
        when = now_ms() if timestamp is None else metric_timestamp(key, timestamp)
        (self._buffer or self._metric_buffer()).add(MetricRow(self.id, key, number, step, when))

    def log_metrics(
        self, values: Mapping[str, Any], step: int | None = None, timestamp: int | None = None
    ) -> None:
        """Log several values at once; all or nothing if one of them is invalid."""
        fixed_step = None if step is None else metric_step("metrics", step)
        when = now_ms() if timestamp is None else metric_timestamp("metrics", timestamp)
        checked, next_step = self._checked_keys, self._next_step
        rows = []
        for key, value in check_mapping(values, "metrics").items():
            if key not in checked:
                check_key(key, "metric")
                checked.add(key)
            point_step = next_step.get(key, 0) if fixed_step is None else fixed_step
            rows.append(MetricRow(self.id, key, metric_value(key, value), point_step, when))
        for row in rows:
            next_step[row.key] = row.step + 1
        (self._buffer or self._metric_buffer()).extend(rows)

    def set_tag(self, key: str, value: Any) -> None:
        _runs.set_tags(self.store, self.id, {key: value})

    def set_tags(self, values: Mapping[str, Any]) -> None:
        _runs.set_tags(self.store, self.id, values)

    def log_artifact(
        self, local_path: str | Path, artifact_path: str | None = None
    ) -> list[ArtifactEntry]:
        """Attach a file or a whole folder to the run (under ``artifact_path``)."""
        return _files.log_artifact(self.store, self.id, local_path, artifact_path)

    def log_dict(self, data: Any, artifact_path: str) -> ArtifactEntry:
        """Attach a dict or list as JSON (or YAML, for a ``.yaml`` path)."""
        return _files.log_bytes(
            self.store, self.id, _files.encode_dict(data, artifact_path), artifact_path
        )

    def log_text(self, text: str, artifact_path: str) -> ArtifactEntry:
        if not isinstance(text, str):
            raise InvalidInput(f"log_text needs a str, got {type(text).__name__}")
        return _files.log_bytes(self.store, self.id, text.encode("utf-8"), artifact_path)

    def log_figure(self, figure: Any, artifact_path: str) -> ArtifactEntry:
        """Attach a matplotlib figure (.png/.svg/.pdf) or a Plotly figure (.html/.json)."""
        return _files.log_bytes(
            self.store, self.id, _files.encode_figure(figure, artifact_path), artifact_path
        )

    def log_table(self, table: Any, artifact_path: str = "table.parquet") -> ArtifactEntry:
        """Attach a pandas/polars DataFrame or Arrow table (.parquet, .csv or .json)."""
        return _files.log_bytes(
            self.store, self.id, _files.encode_table(table, artifact_path), artifact_path
        )

    def list_artifacts(self, prefix: str | None = None) -> list[ArtifactEntry]:
        return _files.list_artifacts(self.store, self.id, prefix)

    def end(self, status: str = FINISHED) -> None:
        """Flush buffered metrics, record the imported packages and set the final status."""
        if self.ended:
            return
        self._metric_buffer().flush()
        if os.getpid() == self._pid:  # a forked child flushes its values, never ends the run
            _runs.set_run_status(self.store, self.id, status, environment=environment_record())
        self.ended = True
        _forget(self)
        if self._context_token is not None:
            # Ended from another context, the reset is refused: the run is inactive anyway.
            with suppress(ValueError):
                _context_run.reset(self._context_token)
            self._context_token = None


_stack: list[ActiveRun] = []
_context_run: contextvars.ContextVar[ActiveRun | None] = contextvars.ContextVar(
    "loopml_context_run", default=None
)
_stack_lock = threading.Lock()
_exit_hooks_installed = False
_uncaught_exception = False
_exit_code: object = None


def start_run(
    experiment: str | None = None,
    run_name: str | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    nested: bool = False,
    run_id: str | None = None,
) -> ActiveRun:
    """Start a run (or resume ``run_id``) and make it the active run of this process.

    ``experiment`` defaults to the parent's experiment for a nested run, else to
    ``$LOOPML_EXPERIMENT`` or ``Default``. With another run active, pass ``nested=True``
    to start a child run of it. A resumed run's automatic steps continue after the
    latest logged ones.

    >>> with loopml.start_run(experiment="churn", params={"max_depth": 6}) as run:  # doctest: +SKIP
    ...     run.log_metric("auc", 0.91)
    """
    store = default_store()
    parent = active_run()
    if parent is not None and not nested and run_id is None:
        raise Conflict(
            f"run {parent.id[:8]} ({parent.name}) is still active",
            hint="end it first, or pass nested=True to start a child run",
        )
    _install_exit_hooks()
    warm_up()
    if run_id is not None:
        run = _runs.set_run_status(store, run_id, RUNNING)
    else:
        if experiment is None and parent is not None and nested:
            experiment = parent.experiment_name  # a child run stays with its parent
        run = _runs.create_run(
            store,
            experiment=experiment or os.environ.get("LOOPML_EXPERIMENT") or None,
            name=run_name,
            parent_run_id=parent.id if parent is not None and nested else None,
            description=description,
            origin=capture_origin(),
            params=params,
            tags=tags,
        )
    active = ActiveRun(store, run)
    if run_id is not None:  # a resumed run continues its steps where they stopped
        active._next_step.update(next_steps(store, run.id))
    if _context_run.get() is not None:  # a child of a step's run: active in its context
        active._context_token = _context_run.set(active)
    with _stack_lock:
        _stack.append(active)
    return active


def active_run() -> ActiveRun | None:
    """The run of the pipeline step running in this context (see :func:`run_in_context`),
    else the innermost run started by this process and not yet ended, if any."""
    current = _context_run.get()
    if current is not None and not current.ended:
        return current
    return _stack[-1] if _stack else None


@contextmanager
def run_in_context(run: ActiveRun) -> Iterator[None]:
    """Make ``run`` the active run of this thread or task only. Steps running side by side
    in one process (Dask worker threads) each log into their own run, not the newest."""
    token = _context_run.set(run)
    try:
        yield
    finally:
        _context_run.reset(token)


def end_run(status: str = FINISHED) -> None:
    """End the active run (no-op when none is active)."""
    run = active_run()
    if run is not None:
        run.end(status)


def status_for_exit(exc: BaseException | None) -> str:
    """The final status for a run whose block ended with ``exc``."""
    if exc is None:
        return FINISHED
    if isinstance(exc, KeyboardInterrupt):
        return KILLED
    if isinstance(exc, SystemExit):
        if _signals.received_signal() is not None:
            return KILLED
        return FINISHED if exc.code in (0, None) else FAILED
    return FAILED


def flush_metrics() -> None:
    """Write buffered metric values now (reads in this process do this on their own)."""
    flush_buffered(default_store())


def _require_active() -> ActiveRun:
    run = active_run()
    if run is None:
        raise Conflict("no run is active", hint="start one with loopml.start_run()")
    return run


def _forget(run: ActiveRun) -> None:
    with _stack_lock:
        if run in _stack:
            _stack.remove(run)


def _forget_inherited_buffers() -> None:
    for run in _stack:
        run._buffer = None


os.register_at_fork(after_in_child=_forget_inherited_buffers)


def _install_exit_hooks() -> None:
    global _exit_hooks_installed
    if _exit_hooks_installed:
        return
    _exit_hooks_installed = True
    _signals.install()
    previous_hook = sys.excepthook

    def _note_uncaught(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        global _uncaught_exception
        _uncaught_exception = True
        previous_hook(kind, value, tb)

    sys.excepthook = _note_uncaught
    # SystemExit never reaches sys.excepthook and its code is gone by the time atexit
    # runs, so a run left open by sys.exit(1) would end FINISHED; remember the code.
    previous_exit = sys.exit

    def _note_exit(code: object = None) -> NoReturn:
        global _exit_code
        _exit_code = code
        previous_exit(code)

    sys.exit = _note_exit
    atexit.register(_end_open_runs)


def _end_open_runs() -> None:
    """At interpreter exit: end runs left open, then flush and close the stores."""
    if _signals.received_signal() is not None:
        status = KILLED
    elif _uncaught_exception or _exit_code not in (None, 0):
        status = FAILED
    else:
        status = FINISHED
    for run in reversed(list(_stack)):
        if run._pid != os.getpid():
            continue  # inherited from the parent by a fork: the parent ends it
        try:
            run.end(status)
        except Exception as exc:  # exiting anyway: report, do not hide other runs' ends
            print(f"loopml: could not end run {run.id[:8]}: {exc}", file=sys.stderr)
    try:
        close_default_stores()
    except Exception as exc:
        print(f"loopml: could not flush buffered metrics: {exc}", file=sys.stderr)


# Module-level shortcuts acting on the active run.
def log_param(key: str, value: Any) -> None:
    _require_active().log_param(key, value)


def log_params(values: Mapping[str, Any]) -> None:
    _require_active().log_params(values)


def log_metric(key: str, value: Any, step: int | None = None, timestamp: int | None = None) -> None:
    _require_active().log_metric(key, value, step, timestamp)


def log_metrics(
    values: Mapping[str, Any], step: int | None = None, timestamp: int | None = None
) -> None:
    _require_active().log_metrics(values, step, timestamp)


def set_tag(key: str, value: Any) -> None:
    _require_active().set_tag(key, value)


def set_tags(values: Mapping[str, Any]) -> None:
    _require_active().set_tags(values)


def log_artifact(local_path: str | Path, artifact_path: str | None = None) -> list[ArtifactEntry]:
    return _require_active().log_artifact(local_path, artifact_path)


def log_dict(data: Any, artifact_path: str) -> ArtifactEntry:
    return _require_active().log_dict(data, artifact_path)


def log_text(text: str, artifact_path: str) -> ArtifactEntry:
    return _require_active().log_text(text, artifact_path)


def log_figure(figure: Any, artifact_path: str) -> ArtifactEntry:
    return _require_active().log_figure(figure, artifact_path)


def log_table(table: Any, artifact_path: str = "table.parquet") -> ArtifactEntry:
    return _require_active().log_table(table, artifact_path)


def get_run(run_id: str) -> Run:
    """A run of the default store by id (or unique id prefix), with every metric flushed."""
    return _runs.get_run(default_store(), run_id)


def search_runs(filter: str = "", **options: Any) -> Any:
    """:func:`loopml.tracking.search.search_runs` on the default store; see there."""
    from .search import search_runs as search

    return search(default_store(), filter, **options)
