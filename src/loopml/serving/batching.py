"""Adaptive micro-batching: concurrent requests to one model share one ``predict`` call.

Off by default. With ``max_batch_size`` > 1, a request's validated input waits in its
model's queue; a worker takes what is queued, keeps collecting for at most
``max_wait_ms`` or until ``max_batch_size`` rows, predicts once on a worker thread and
hands each request its slice. Under light load a request waits at most ``max_wait_ms``;
under heavy load the per-call overhead of the model is paid once per batch (BentoML's
adaptive batching, without its learned wait). Inputs were checked against the signature
before queueing, so one request cannot fail a batch with bad values; if the model still
raises on a batch, each request is retried alone so only the one at fault fails.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

from .scoring import Scorer


@dataclass
class _Item:
    inputs: Any
    rows: int
    future: asyncio.Future[np.ndarray] = field(repr=False)


class MicroBatcher:
    def __init__(self, max_batch_size: int, max_wait_ms: float) -> None:
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000
        self._queues: dict[int, asyncio.Queue[_Item]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self.batches = 0
        self.rows = 0

    async def predict(self, scorer: Scorer, inputs: Any) -> np.ndarray:
        key = id(scorer)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = asyncio.Queue()
            self._workers[key] = asyncio.create_task(self._work(scorer, queue))
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        await queue.put(_Item(inputs, len(inputs), future))
        return await future

    async def close(self) -> None:
        for task in self._workers.values():
            task.cancel()
        for task in self._workers.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()
        self._queues.clear()

    async def _work(self, scorer: Scorer, queue: asyncio.Queue[_Item]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            size = batch[0].rows
            deadline = loop.time() + self.max_wait
            while size < self.max_batch_size:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = queue.get_nowait() if not queue.empty() else None
                    if item is None:
                        item = await asyncio.wait_for(queue.get(), remaining)
                except TimeoutError:
                    break
                batch.append(item)
                size += item.rows
            await self._run(scorer, batch)

    async def _run(self, scorer: Scorer, batch: list[_Item]) -> None:
        self.batches += 1
        self.rows += sum(item.rows for item in batch)
        try:
            outputs = await run_in_threadpool(scorer.predict, _concat([i.inputs for i in batch]))
        except Exception:
            for item in batch:  # isolate the request the model fails on
                try:
                    result = await run_in_threadpool(scorer.predict, item.inputs)
                except Exception as error:
                    _settle(item, error=error)
                else:
                    _settle(item, result=result)
            return
        start = 0
        for item in batch:
            _settle(item, result=outputs[start : start + item.rows])
            start += item.rows


def _concat(parts: list[Any]) -> Any:
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    import pandas as pd

    return pd.concat(parts, ignore_index=True)


def _settle(item: _Item, *, result: Any = None, error: BaseException | None = None) -> None:
    if item.future.done():  # the request went away
        return
    if error is not None:
        item.future.set_exception(error)
    else:
        item.future.set_result(result)
