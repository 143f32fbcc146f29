"""The scoring server: an ASGI app speaking OIP v2, MLflow's ``/invocations`` and Prometheus.

    app = build_app(runtime, log=PredictionLog(store, "churn-prod"), store=store)

Routes (also in ``/openapi.json``):

- ``GET /v2/health/live``, ``/v2/health/ready``, ``/v2``, ``/v2/models/{name}``,
  ``/v2/models/{name}/ready``, ``POST /v2/models/{name}[/versions/{v}]/infer``
- ``POST /invocations``, ``GET /ping``, ``GET /health`` (MLflow and SageMaker)
- ``GET /metrics`` (Prometheus), ``POST /feedback``, ``GET /deployment``

Every error is the one JSON shape of :meth:`loopml.errors.LoopmlError.to_dict`.
The model is loaded after the port opens: readiness says 503 until it is, and a scoring
request that arrives meanwhile waits for it instead of failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import traceback
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..clock import now_ms
from ..errors import (
    InvalidInput,
    LoopmlError,
    NotFound,
    NotReady,
    PayloadTooLarge,
    PredictionFailed,
    UnsupportedMediaType,
)
from .batching import MicroBatcher
from .canary import judge
from .metrics import ServingMetrics
from .predlog import LogEntry, PredictionLog
from .protocols import oip_output, parse_csv, parse_invocations, parse_oip
from .runtime import Routing, Runtime, Served
from .scoring import Rows

MAX_BODY_BYTES = 10 * 1024 * 1024
INLINE_ROWS = 256  # larger batches are scored on a worker thread, off the event loop
_JSON = "application/json"


@dataclass
class ServerSettings:
    max_body_bytes: int = MAX_BODY_BYTES
    reload_interval: float = 2.0
    ready_timeout: float = 60.0
    max_batch_size: int = 1  # > 1 turns adaptive micro-batching on
    max_wait_ms: float = 2.0


class ScoringService:
    """The state behind the routes: what is served, what is measured, where it is logged."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        log: PredictionLog | None = None,
        store: Any = None,
        settings: ServerSettings | None = None,
    ) -> None:
        self.runtime = runtime
        self.log = log
        self.store = store
        self.settings = settings or ServerSettings()
        self.metrics = ServingMetrics()
        if store is not None:  # the deployment's newest monitor run, as gauges
            from ..monitoring.exporter import MonitorCollector

            self.metrics.registry.register(MonitorCollector(store, [runtime.name]))
        self.batcher = (
            MicroBatcher(self.settings.max_batch_size, self.settings.max_wait_ms)
            if self.settings.max_batch_size > 1
            else None
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._revision_seen: int | None = None

    # --- lifecycle ---------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        if self.log is not None:
            self.log.start()
        poller = asyncio.create_task(self._follow())
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            if self.batcher is not None:
                await self.batcher.close()
            if self.log is not None:
                await run_in_threadpool(self.log.close)

    async def _follow(self) -> None:
        """Load the models, then keep following the deployment and judging its canary."""
        while True:
            changed = await run_in_threadpool(self.runtime.refresh)
            routing = self.runtime.routing
            if routing is not None:
                if changed:
                    self._published(routing)
                if self.store is not None and routing.canary is not None:
                    await self._judge_canary(routing)
            self.metrics.ready.set(1 if routing is not None else 0)
            if self.log is not None:
                self.metrics.logged.labels(self.runtime.name).set(self.log.rows_written)
            await asyncio.sleep(self.settings.reload_interval if routing else 0.5)

    def _published(self, routing: Routing) -> None:
        if routing.revision != self._revision_seen:
            # Canary limits are judged per step: a new revision starts a new window.
            self.metrics.reset_windows()
            self._revision_seen = routing.revision
        self.metrics.revision.labels(routing.deployment).set(routing.revision)
        for variant in routing.variants:
            if not variant.shadow:
                self.metrics.weight.labels(
                    routing.deployment, variant.name, variant.version_label
                ).set(variant.weight)

    async def _judge_canary(self, routing: Routing) -> None:
        from .deployments import advance_canary

        canary = routing.canary
        if canary is None or canary.status != "running":
            return
        verdict = judge(
            canary,
            self.metrics.window(canary.stable),
            self.metrics.window("canary"),
            now_ms(),
        )
        if verdict is None:
            return
        action, reason = verdict
        await run_in_threadpool(
            advance_canary, self.store, routing.deployment, routing.revision, action, reason
        )
        await run_in_threadpool(self.runtime.refresh)
        if self.runtime.routing is not None:
            self._published(self.runtime.routing)

    async def routing(self) -> Routing:
        routing = self.runtime.routing
        if routing is not None:
            return routing
        loaded = await run_in_threadpool(self.runtime.loaded.wait, self.settings.ready_timeout)
        if not loaded or self.runtime.routing is None:
            raise NotReady(
                f"deployment '{self.runtime.name}' is not ready: "
                + (self.runtime.error or "its model is still loading"),
                hint="check /v2/health/ready; the server keeps retrying",
            )
        return self.runtime.routing

    # --- scoring -------------------------------------------------------------------

    async def score(self, request: Request, protocol: str, version: str | None = None) -> Response:
        started = time.perf_counter()
        routing = await self.routing()
        body = await self.body(request)
        wanted: set[str] = set()
        request_id: str | None = None
        served = routing.live[0] if routing.live else None
        columns = served.scorer.columns if served else None
        if protocol == "oip":
            _require_json(request)
            if "inference-header-content-length" in request.headers:
                raise InvalidInput(
                    "binary tensor data (the OIP binary extension) is not supported",
                    hint="send tensors as JSON: with tritonclient, pass binary_data=False to "
                    "set_data_from_numpy and to InferRequestedOutput",
                )
            rows, request_id, wanted = parse_oip(_json(body), columns)
        elif _content_type(request) == "text/csv":
            rows = parse_csv(_text(body))
        else:
            _require_json(request)
            rows = parse_invocations(_json(body))
        request_id = _request_id(request_id or request.headers.get("x-request-id"))
        if version is not None:
            chosen = routing.by_version(version)
            if chosen is None:
                raise NotFound(
                    f"deployment '{routing.deployment}' serves no version {version}",
                    hint="versions served: "
                    + ", ".join(sorted({str(v.version) for v in routing.live})),
                )
        else:
            chosen = routing.choose(self._sticky_key(routing, request, rows))
        try:
            outputs, proba = await self._predict(chosen, rows, "predict_proba" in wanted)
        except LoopmlError as error:
            self._failed(routing, chosen, protocol, started, error)
            raise
        latency = time.perf_counter() - started
        self.metrics.observe(
            routing.deployment, chosen.name, chosen.version_label, protocol, 200, latency, outputs
        )
        self._log(routing, chosen, request_id, rows, outputs, latency, shadow=False)
        for shadow in routing.mirrored():
            self._spawn(self._shadow(routing, shadow, request_id, rows))
        headers = {"x-prediction-id": request_id, "x-variant": chosen.name}
        if protocol == "oip":
            outputs_body = [oip_output("predict", outputs)]
            if proba is not None:
                outputs_body.append(oip_output("predict_proba", proba))
            payload = {
                "model_name": routing.deployment,
                "model_version": chosen.version_label,
                "id": request_id,
                "parameters": {"variant": chosen.name, "model": chosen.model_name},
                "outputs": outputs_body,
            }
        else:
            payload = {"predictions": outputs}
        return _respond(payload, headers=headers)

    async def _predict(
        self, served: Served, rows: Rows, want_proba: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        if self.batcher is not None and not want_proba:
            inputs = served.scorer.inputs(rows)
            try:
                return await self.batcher.predict(served.scorer, inputs), None
            except Exception as error:
                raise _model_failed(served, error) from None

        def run() -> tuple[np.ndarray, np.ndarray | None]:
            inputs = served.scorer.inputs(rows)
            try:
                outputs = served.scorer.predict(inputs)
                proba = served.scorer.predict_proba(inputs) if want_proba else None
            except LoopmlError:
                raise
            except Exception as error:
                raise _model_failed(served, error) from None
            if want_proba and proba is None:
                raise InvalidInput(
                    f"model {served.model_name}/{served.version} has no predict_proba",
                    hint="ask for the 'predict' output only",
                )
            return outputs, proba

        if len(rows) <= INLINE_ROWS:
            return run()
        return await run_in_threadpool(run)

    async def _shadow(self, routing: Routing, shadow: Served, request_id: str, rows: Rows) -> None:
        started = time.perf_counter()
        try:
            outputs, _ = await self._predict(shadow, rows, False)
        except LoopmlError as error:
            self.metrics.errors.labels(
                routing.deployment, shadow.name, shadow.version_label, error.code
            ).inc()
            return
        latency = time.perf_counter() - started
        self.metrics.observe_outputs(
            routing.deployment, shadow.name, shadow.version_label, outputs, shadow=True
        )
        self._log(routing, shadow, request_id, rows, outputs, latency, shadow=True)

    def _failed(
        self, routing: Routing, served: Served, protocol: str, started: float, error: LoopmlError
    ) -> None:
        self.metrics.observe(
            routing.deployment,
            served.name,
            served.version_label,
            protocol,
            error.http_status,
            time.perf_counter() - started,
            None,
            error.code,
        )

    def _log(
        self,
        routing: Routing,
        served: Served,
        request_id: str,
        rows: Rows,
        outputs: np.ndarray,
        latency: float,
        *,
        shadow: bool,
    ) -> None:
        if self.log is None:
            return
        self.log.append(
            LogEntry(
                request_id,
                now_ms(),
                served.name,
                served.model_name,
                served.version,
                round(latency * 1000, 3),
                served.scorer.log_columns(rows),
                rows.values,
                outputs,
                shadow,
            )
        )

    def _sticky_key(self, routing: Routing, request: Request, rows: Rows) -> Any:
        if routing.sticky is None:
            return None
        kind, name = routing.sticky
        return request.headers.get(name) if kind == "header" else rows.field(name)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def body(self, request: Request) -> bytes:
        return await read_limited(
            request,
            self.settings.max_body_bytes,
            hint="send fewer rows per request, or raise --max-body-mb",
        )


def _model_failed(served: Served, error: Exception) -> PredictionFailed:
    return PredictionFailed(
        f"model {served.model_name}/{served.version} failed on this input: "
        f"{type(error).__name__}: {error}",
        hint="check the values against the model's training data",
    )


async def read_limited(request: Request, limit: int, *, hint: str) -> bytes:
    """The request body, refused (413, with ``hint``) past ``limit`` bytes before it is
    all read; the scoring server and the team server both read bodies this way."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit, hint)
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit, hint)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int, hint: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is {size:,} bytes or more; this server takes at most {limit:,}",
        hint=hint,
    )


def _json(body: bytes) -> Any:
    if not body:
        raise InvalidInput("the request body is empty", hint="send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(
            f"the body is not valid JSON: {error}", hint="send a JSON object"
        ) from None


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the CSV body is not UTF-8 text") from None


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _require_json(request: Request) -> None:
    kind = _content_type(request)
    if kind and kind != _JSON and not kind.endswith("+json"):
        raise UnsupportedMediaType(
            f"content type '{kind}' is not accepted here",
            hint="send application/json, or text/csv with a header line",
        )


def _request_id(given: str | None) -> str:
    if given:
        if len(given) > 64 or not all(c.isalnum() or c in "-_.:" for c in given):
            raise InvalidInput(
                "a request id is at most 64 letters, digits, '-', '_', '.' or ':'",
                hint="send another id, or none and the server makes one",
            )
        return given
    return f"{now_ms():012x}{os.urandom(4).hex()}"


def _respond(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    content = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(content, status_code=status, headers=headers, media_type=_JSON)


def error_response(error: LoopmlError) -> Response:
    """The one JSON error shape, with the status the error class carries."""
    return _respond(error.to_dict(), status=error.http_status)


def build_app(service: ScoringService) -> Starlette:
    """The ASGI application for ``service``."""
    from .openapi import openapi_document

    async def live(_request: Request) -> Response:
        return _respond({"live": True})

    async def ready(_request: Request) -> Response:
        is_ready = service.runtime.routing is not None
        body: dict[str, Any] = {"ready": is_ready}
        if not is_ready and service.runtime.error:
            body["error"] = service.runtime.error
        return _respond(body, status=200 if is_ready else 503)

    async def server_metadata(_request: Request) -> Response:
        from importlib.metadata import version

        return _respond(
            {"name": "loopml", "version": version("loopml"), "extensions": ["loopml_feedback"]}
        )

    def named(request: Request) -> Routing:
        routing = service.runtime.routing
        name = request.path_params["name"]
        if routing is None:
            if name == service.runtime.name:
                raise NotReady(f"model '{name}' is still loading", hint="retry in a moment")
            raise NotFound(f"no model '{name}' is served here")
        if name != routing.deployment and name not in routing.model_names:
            raise NotFound(
                f"no model '{name}' is served here",
                hint=f"this server serves '{routing.deployment}'",
            )
        return routing

    async def model_metadata(request: Request) -> Response:
        routing = named(request)
        first = routing.live[0]
        signature = first.model.signature
        inputs = []
        if signature is not None:
            for column in signature.inputs:
                inputs.append(
                    {"name": column.name, "datatype": _OIP_OF[column.type], "shape": [-1, 1]}
                )
        return _respond(
            {
                "name": routing.deployment,
                "versions": sorted({str(v.version) for v in routing.live}),
                "platform": f"loopml-{first.model.flavor}",
                "inputs": inputs,
                "outputs": [
                    {
                        "name": "predict",
                        "datatype": _OIP_OF.get(
                            (signature.output_type if signature else None) or "double", "BYTES"
                        ),
                        "shape": [-1],
                    }
                ],
                "parameters": {"revision": routing.revision, "strategy": routing.strategy},
            }
        )

    async def model_ready(request: Request) -> Response:
        try:
            named(request)
        except NotReady:
            return _respond({"name": request.path_params["name"], "ready": False}, status=503)
        return _respond({"name": request.path_params["name"], "ready": True})

    async def infer(request: Request) -> Response:
        await service.routing()  # a request arriving while the model loads waits for it
        named(request)
        return await service.score(request, "oip", request.path_params.get("version"))

    async def invocations(request: Request) -> Response:
        return await service.score(request, "invocations")

    async def ping(_request: Request) -> Response:
        if service.runtime.routing is None:
            return _respond({"status": "loading"}, status=503)
        return _respond({"status": "ok"})

    async def metrics(_request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    async def feedback(request: Request) -> Response:
        from .feedback import record_feedback

        if service.store is None or service.log is None:
            raise NotFound(
                "this server keeps no prediction log, so it takes no feedback",
                hint="serve from a loopml store: loopml serve --deployment NAME",
            )
        _require_json(request)
        payload = _json(await service.body(request))
        await run_in_threadpool(service.log.flush)
        result = await run_in_threadpool(
            record_feedback, service.store, service.runtime.name, payload
        )
        return _respond(result)

    async def deployment(_request: Request) -> Response:
        routing = await service.routing()
        return _respond(
            {
                "deployment": routing.deployment,
                "revision": routing.revision,
                "strategy": routing.strategy,
                "variants": [v.to_dict() for v in routing.variants],
                "canary": None
                if routing.canary is None
                else {
                    "status": routing.canary.status,
                    "step": routing.canary.step,
                    "steps": list(routing.canary.steps),
                    "windows": {k: w.to_dict() for k, w in service.metrics.windows.items()},
                },
            }
        )

    async def openapi(_request: Request) -> Response:
        return _respond(openapi_document())

    routes = [
        Route("/v2/health/live", live),
        Route("/v2/health/ready", ready),
        Route("/v2", server_metadata),
        Route("/v2/models/{name}", model_metadata),
        Route("/v2/models/{name}/ready", model_ready),
        Route("/v2/models/{name}/infer", infer, methods=["POST"]),
        Route("/v2/models/{name}/versions/{version}/infer", infer, methods=["POST"]),
        Route("/invocations", invocations, methods=["POST"]),
        Route("/ping", ping),
        Route("/health", ping),
        Route("/metrics", metrics),
        Route("/feedback", feedback, methods=["POST"]),
        Route("/deployment", deployment),
        Route("/openapi.json", openapi),
    ]

    async def loopml_error(_request: Request, error: Exception) -> Response:
        assert isinstance(error, LoopmlError)
        return error_response(error)

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        message = {
            404: f"no route {request.url.path}",
            405: f"{request.method} is not allowed on {request.url.path}",
        }.get(error.status_code, str(error.detail))
        body = {
            "error": {
                "code": code,
                "message": message,
                "hint": "see /openapi.json for the routes",
                "details": {},
            }
        }
        return _respond(body, status=error.status_code)

    async def unexpected(_request: Request, error: Exception) -> Response:
        traceback.print_exception(error, file=sys.stderr)
        body = {
            "error": {
                "code": "internal_error",
                "message": f"the server failed: {type(error).__name__}",
                "hint": "this is a bug; the server log has the traceback",
                "details": {},
            }
        }
        return _respond(body, status=500)

    return Starlette(
        routes=routes,
        lifespan=service.lifespan,
        exception_handlers={
            LoopmlError: loopml_error,
            HTTPException: http_error,
            Exception: unexpected,
        },
    )


_OIP_OF = {
    "double": "FP64",
    "integer": "INT64",
    "boolean": "BOOL",
    "string": "BYTES",
    "datetime": "BYTES",
}
