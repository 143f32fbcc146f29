"""``loopml monitor serve``: the monitoring gauges over HTTP, and every policy on its clock.

``GET /metrics`` is the Prometheus exposition of :class:`.exporter.MonitorCollector`
for every deployment; ``GET /reports`` lists the newest stored runs as JSON;
``GET /health`` answers ``{"status": "ok"}``.

Every ``every`` (default 5 minutes) one tick goes over the policies: it settles
retrains whose canary has ended, retrains where the cron schedule has a slot due, and
runs each policy's monitor, retraining when it raised alerts (:func:`.loop.act`). A tick
runs in a worker thread, so the HTTP side keeps answering during a retrain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from ..errors import LoopmlError
from ..store import Store

log = logging.getLogger("loopml.monitor")


def tick(store: Store) -> list[str]:
    """One pass over the policies; returns what it did, one line each."""
    from .loop import act, due_schedules, retrain, settle
    from .monitor import monitor
    from .policy import list_policies

    done = [f"retrain #{r.id}: {r.status}" for r in settle(store)]
    scheduled = {policy.deployment for policy in due_schedules(store)}
    for policy in list_policies(store):
        name = policy.deployment
        try:
            if name in scheduled and policy.pipeline is not None:
                found = retrain(store, name, trigger="schedule")
                done.append(f"{name}: scheduled retrain #{found.id} {found.status}")
                continue
            run = monitor(store, name)
            done.append(f"{name}: report #{run.id}, {len(run.breaches)} breach(es)")
            started = act(store, run)
            if started is not None:
                done.append(f"{name}: retrain #{started.id} {started.status}")
        except LoopmlError as error:  # one deployment's trouble does not stop the others
            done.append(f"{name}: {error.message}")
    for line in done:
        log.info(line)
    return done


def make_app(store: Store, every_s: float) -> Any:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from .exporter import MonitorCollector
    from .records import latest_reports

    registry = CollectorRegistry()
    registry.register(MonitorCollector(store))

    async def metrics(_request: Request) -> Response:
        body = await asyncio.to_thread(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def reports(_request: Request) -> Response:
        found = await asyncio.to_thread(latest_reports, store)
        return JSONResponse([report.to_dict() for report in found])

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(_ticking(store, every_s, stop)) if every_s > 0 else None
        try:
            yield
        finally:
            # SIGTERM or Ctrl-C: the tick in progress finishes (a report is stored, a
            # retrain reaches its canary or its end) before the process exits.
            stop.set()
            if task is not None:
                await task

    return Starlette(
        routes=[
            Route("/metrics", metrics),
            Route("/reports", reports),
            Route("/health", health),
        ],
        lifespan=lifespan,
    )


async def _ticking(store: Store, every_s: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await asyncio.to_thread(tick, store)
        except Exception:  # a bug in one tick must not end the service
            log.exception("monitor tick failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)


def serve(store: Store, *, host: str = "127.0.0.1", port: int = 9108, every: str = "5m") -> None:
    import uvicorn

    from ..serving.predictions import parse_duration_ms

    every_s = 0.0 if every.strip() == "0" else parse_duration_ms(every) / 1000
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    uvicorn.run(make_app(store, every_s), host=host, port=port, log_level="warning")
