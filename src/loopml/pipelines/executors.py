"""Where steps run: in this process, in a pool of processes, or on a Dask cluster.

Every executor takes the same :class:`~loopml.pipelines.execution.StepTask` and gives a
``concurrent.futures.Future`` of its outcome, so the runner schedules the DAG the same
way everywhere; ``slots`` is how many steps it runs at once.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from ..errors import InvalidInput, StoreError
from ..store import Store
from .execution import StepOutcome, StepTask, execute, execute_remote


class LocalExecutor:
    """One step at a time, in this process (the default): no start-up cost, easy to debug."""

    name = "local"
    slots = 1

    def __init__(self, store: Store) -> None:
        self._store = store

    def submit(self, task: StepTask, func: Callable[..., Any]) -> Future[StepOutcome]:
        future: Future[StepOutcome] = Future()
        future.set_result(execute(task, store=self._store, func=func))
        return future

    def close(self, *, cancel: bool = False) -> None:
        pass


class ProcessExecutor:
    """A pool of fresh worker processes on this machine; independent steps run in parallel."""

    name = "processes"

    def __init__(self, workers: int | None = None) -> None:
        self.slots = workers or max(1, min(os.cpu_count() or 1, 8))
        # Fresh interpreters (spawn): forking a process that holds database connections
        # and threads is unsafe, and a worker must behave like a remote one.
        self._pool = ProcessPoolExecutor(
            max_workers=self.slots, mp_context=multiprocessing.get_context("spawn")
        )

    def submit(self, task: StepTask, func: Callable[..., Any]) -> Future[StepOutcome]:
        return self._pool.submit(execute_remote, task)

    def close(self, *, cancel: bool = False) -> None:
        if cancel:
            # Stop the workers first, then let the pool notice and wind down its manager
            # thread: shutting down without waiting leaves that thread to trip over a
            # closed pipe at interpreter exit.
            for process in list(getattr(self._pool, "_processes", {}).values()):
                if process.is_alive():
                    process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=cancel)


class DaskExecutor:
    """Steps as tasks on a Dask distributed cluster (``address``) or a new LocalCluster."""

    name = "dask"

    def __init__(self, address: str, *, workers: int = 2, connect_timeout: float = 10) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise InvalidInput(
                "the dask executor needs dask.distributed",
                hint="install it with: pip install 'loopml[dask]'",
            ) from None
        self._cluster = None
        try:
            if address == "local":
                self._cluster = LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    host="127.0.0.1",
                )
                self._client = Client(self._cluster)
            else:
                self._client = Client(address, timeout=connect_timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            if self._cluster is not None:
                self._cluster.close()
            if isinstance(exc, ValueError):  # "nonsense", "tcp://host" without a port
                raise InvalidInput(
                    f"'{address}' is not a Dask scheduler address: {exc}",
                    hint="for example --dask tcp://scheduler:8786, or --dask local",
                ) from None
            raise StoreError(
                f"the Dask scheduler at {address} does not answer: {exc}",
                hint="start one with: dask scheduler (and dask worker ADDRESS), "
                "or use --dask local",
            ) from None
        self.address = self._client.scheduler.address
        self.slots = max(1, sum(self._client.nthreads().values()))
        self._executor = self._client.get_executor(pure=False)

    def submit(self, task: StepTask, func: Callable[..., Any]) -> Future[StepOutcome]:
        return self._executor.submit(execute_remote, task)

    def close(self, *, cancel: bool = False) -> None:
        try:
            self._executor.shutdown(wait=not cancel)
            self._client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()


Executor = LocalExecutor | ProcessExecutor | DaskExecutor


def make_executor(
    kind: str, store: Store, *, workers: int | None = None, dask: str | None = None
) -> Executor:
    if dask is not None or kind == "dask":
        return DaskExecutor(dask or "local", workers=workers or 2)
    if kind == "local":
        return LocalExecutor(store)
    if kind == "processes":
        return ProcessExecutor(workers)
    raise InvalidInput(
        f"unknown executor '{kind}'", hint="use local, processes or dask (with --dask ADDRESS)"
    )
