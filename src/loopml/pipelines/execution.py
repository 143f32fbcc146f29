"""Running one step: the task every executor ships to where the step runs.

A :class:`StepTask` holds only plain data (store locations, artifact hashes, params and
where the step's code lives), so a worker process or a Dask worker on another machine
needs nothing but the store URLs and the project's code. The worker loads the inputs
through their materializers, runs the function as its tracked run with retries and a
time limit, and stores the outputs.
"""

from __future__ import annotations

import contextvars
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import InvalidInput
from ..store import Store, default_store
from . import materializers
from .records import COMPLETED, FAILED, KILLED, OutputInfo

_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


@dataclass(frozen=True)
class StepCode:
    """Where a step's function lives, so another process can import it."""

    file: str
    module: str
    qualname: str
    source: str


@dataclass(frozen=True)
class InputSpec:
    """An argument's artifacts: one value, or a tuple / list assembled from several."""

    parts: list[tuple[str, str]]  # (hash, materializer)
    shape: str = "one"  # one | tuple | list


@dataclass(frozen=True)
class StepTask:
    pipeline_run_id: str
    node: str
    run_id: str
    code: StepCode
    config: Config
    inputs: dict[str, InputSpec]
    params: dict[str, Any]
    n_outputs: int
    retries: int = 0
    retry_delay: float = 1.0
    backoff: float = 2.0
    timeout: float | None = None
    dataset_pins: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StepOutcome:
    node: str
    status: str
    attempts: int
    outputs: list[OutputInfo] = field(default_factory=list)
    error: str | None = None
    datasets: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class StepTimeout(Exception):
    pass


def execute(
    task: StepTask, *, store: Store | None = None, func: Callable[..., Any] | None = None
) -> StepOutcome:
    """Run ``task`` here; never raises for the step's own errors (they are the outcome)."""
    from ..data.reads import collecting, pinned
    from ..tracking.fluent import run_in_context, start_run, status_for_exit

    store = store or default_store()
    func = func or load_step_function(task.code)
    try:
        arguments = {name: load_input(store, spec) for name, spec in task.inputs.items()}
    except Exception as exc:
        from ..tracking.runs import set_run_status

        set_run_status(store, task.run_id, "FAILED")  # its tracked run ends with it
        return StepOutcome(task.node, FAILED, 0, error=f"loading its inputs failed: {exc}")
    arguments.update(task.params)
    active = start_run(run_id=task.run_id)
    status, attempts, error, result = FAILED, 0, None, None
    datasets: dict[str, str] = {}
    delay = task.retry_delay
    try:
        with run_in_context(active), pinned(task.dataset_pins), collecting() as datasets:
            while True:
                attempts += 1
                try:
                    with time_limit(task.timeout, task.node):
                        result = _call(func, arguments, task.timeout)
                    status, error = COMPLETED, None
                    break
                except (KeyboardInterrupt, SystemExit) as exc:
                    if status_for_exit(exc) == "KILLED":  # Ctrl-C, or SIGTERM's SystemExit
                        status, error = KILLED, "interrupted"
                        raise
                    # The step called sys.exit itself: a failure like any other.
                    error = f"the step called sys.exit({getattr(exc, 'code', None)!r})"
                    if attempts > task.retries:
                        break
                    time.sleep(delay)
                    delay *= task.backoff
                except Exception as exc:
                    error = user_traceback(exc)
                    if attempts > task.retries:
                        break
                    time.sleep(delay)
                    delay *= task.backoff
        outputs: list[OutputInfo] = []
        notes: list[str] = []
        if status == COMPLETED:
            try:
                outputs, notes = store_outputs(store, task, result)
            except InvalidInput as exc:
                status, error = FAILED, str(exc)
            except Exception as exc:  # the store itself: a full disk, a lost connection
                status, error = FAILED, f"storing its output failed: {exc!r}"
    finally:
        active.end({COMPLETED: "FINISHED", KILLED: "KILLED"}.get(status, "FAILED"))
    return StepOutcome(task.node, status, attempts, outputs, error, dict(datasets), notes)


def execute_remote(task: StepTask) -> StepOutcome:
    """The entry point a process pool or Dask worker calls: the task's store becomes this
    process's default store, so ``loopml.log_metric`` inside the step lands in its run."""
    config = task.config
    os.environ.update(
        LOOPML_HOME=str(config.home),
        LOOPML_DB_URL=config.db_url,
        LOOPML_ARTIFACTS_URL=config.artifacts_url,
        LOOPML_USER=config.user,
    )
    return execute(task)


def load_input(store: Store, spec: InputSpec) -> Any:
    values = [
        materializers.decode(store.blobs.read_bytes(digest), materializer)
        for digest, materializer in spec.parts
    ]
    if spec.shape == "tuple":
        return tuple(values)
    if spec.shape == "list":
        return values
    return values[0]


def store_outputs(store: Store, task: StepTask, result: Any) -> tuple[list[OutputInfo], list[str]]:
    if task.n_outputs > 1:
        if not isinstance(result, tuple) or len(result) != task.n_outputs:
            raise InvalidInput(
                f"step '{task.node}' is annotated with {task.n_outputs} outputs but returned "
                f"{type(result).__name__}"
                + (f" of length {len(result)}" if isinstance(result, tuple) else ""),
                hint=f"return a tuple of {task.n_outputs} values",
            )
        values = list(result)
    else:
        values = [result]
    outputs, notes = [], []
    for index, value in enumerate(values):
        what = f"step '{task.node}' output" + (f" {index}" if task.n_outputs > 1 else "")
        encoded = materializers.encode(value, what=what)
        info = store.blobs.put_bytes(encoded.data)
        outputs.append(OutputInfo(info.hash, encoded.materializer, encoded.type_name, info.size))
        if encoded.warning:
            notes.append(encoded.warning)
    return outputs, notes


@contextmanager
def time_limit(seconds: float | None, node: str) -> Iterator[None]:
    """Raise :class:`StepTimeout` in this thread after ``seconds`` (main thread only;
    elsewhere :func:`_call` runs the function in a thread it can stop waiting for)."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise StepTimeout(f"step '{node}' timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _call(func: Callable[..., Any], arguments: Mapping[str, Any], timeout: float | None) -> Any:
    if timeout is None or threading.current_thread() is threading.main_thread():
        return func(**arguments)
    # Off the main thread (a Dask worker) no signal can interrupt the function: run it in a
    # thread and stop waiting at the limit. The abandoned thread ends on its own.
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = func(**arguments)
        except BaseException as exc:
            box["error"] = exc

    # The thread runs in a copy of this context: the step's run, its dataset pins and the
    # collector of what it reads go with it.
    context = contextvars.copy_context()
    worker = threading.Thread(target=context.run, args=(target,), name="loopml-step", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise StepTimeout(f"timed out after {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box["result"]


def user_traceback(exc: BaseException) -> str:
    """The error with the frames of the user's code only (not loopml's machinery)."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if not frame.filename.startswith(_PACKAGE_DIR)
        and "concurrent/futures" not in frame.filename
    ]
    lines = traceback.format_list(frames[-5:])
    head = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return ("".join(lines) + head).strip()


def load_step_function(code: StepCode) -> Callable[..., Any]:
    from .loading import load_module

    module = sys.modules.get(code.module)
    if module is None:
        module = load_module(Path(code.file), module_name=code.module, source=code.source)
    target: Any = module
    for part in code.qualname.split("."):
        target = getattr(target, part)
    return getattr(target, "func", target)
