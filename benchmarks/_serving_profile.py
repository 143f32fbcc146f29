"""Where a one-row request's time goes in loopml's scoring server (``serving.py``'s
``--worker profile``, run in loopml's venv against the benchmark's store).

Two views, neither of them timed against anything:

- ``time_pieces``: each part of the request path called in-process, without a profiler,
  microseconds per call (the median of 5 batches): the whole app through an in-process
  ASGI call with and without the prediction log, a bare Starlette route for the
  framework's floor, and the parts ``ScoringService.score`` is made of.
- ``profile_request_path``: cProfile of the ``loopml serve`` app (``make_app`` +
  ``loopml.serving.server.run``: uvicorn with uvloop and httptools) in this process's
  main thread while a client process sends it one-row requests; the model loading and
  the prediction log's writer run on other threads and are not in it.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _harness import BenchmarkError, worker_result
from _http_load import HOST, event_loop_runner, probe

MODEL = "bench"
ROLL_ROWS = 20_000  # the write-ahead file rolled into one segment to time the roll per row


def time_per_call(call: Callable[[], Any], calls: int, batches: int = 5) -> float:
    """Seconds per ``call()``: the median of ``batches`` batches of ``calls`` calls."""
    call()
    per_batch = []
    for _ in range(batches):
        began = time.perf_counter()
        for _ in range(calls):
            call()
        per_batch.append((time.perf_counter() - began) / calls)
    return statistics.median(per_batch)


def asgi_caller(app: Any, method: str, path: str, body: bytes) -> Callable[[], Any]:
    """A coroutine function making one in-process ASGI request to ``app``."""
    headers = [(b"host", HOST.encode())]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": (HOST, 50000),
        "server": (HOST, 8080),
    }
    message = {"type": "http.request", "body": body, "more_body": False}
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return message

    async def send(sent: dict[str, Any]) -> None:
        if sent["type"] == "http.response.start":
            statuses.append(sent["status"])

    async def call() -> int:
        await app(dict(scope), receive, send)
        return statuses.pop()

    return call


def time_pieces(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Microseconds per call of each part of a one-row ``/invocations`` request, in-process."""
    import orjson
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    import loopml
    from loopml.clock import now_ms
    from loopml.serving.app import ScoringService, build_app
    from loopml.serving.predlog import LogEntry, PredictionLog
    from loopml.serving.protocols import parse_invocations
    from loopml.serving.runtime import Runtime, StoreSource

    store = loopml.default_store()
    runtime = Runtime(StoreSource(store, MODEL))
    if not runtime.refresh() or runtime.routing is None:
        raise BenchmarkError(f"deployment '{MODEL}' did not load: {runtime.error}")
    routing = runtime.routing
    served = routing.live[0]
    scorer = served.scorer
    log = PredictionLog(store, MODEL)
    logged = ScoringService(runtime, log=log, store=store)
    unlogged = ScoringService(Runtime(StoreSource(store, MODEL)), store=store)
    unlogged.runtime.refresh()
    body = cfg["body"].encode()
    calls = cfg["piece_calls"]
    parsed = orjson.loads(body)
    rows = parse_invocations(parsed)
    inputs = scorer.inputs(rows)
    outputs = scorer.predict(inputs)
    raw_model = served.model.raw

    async def tiny(_request: Any) -> Response:
        return Response(b'{"live":true}', media_type="application/json")

    bare = Starlette(routes=[Route("/x", tiny, methods=["POST"])])
    callers = {
        "log": asgi_caller(build_app(logged), "POST", "/invocations", body),
        "no_log": asgi_caller(build_app(unlogged), "POST", "/invocations", body),
        "bare": asgi_caller(bare, "POST", "/x", body),
    }
    run, _loop = event_loop_runner()

    async def asgi_times() -> dict[str, float]:
        times = {}
        for key, call in callers.items():
            status = await call()
            if status != 200:
                raise BenchmarkError(f"the in-process app answered {status} ({key})")
            per_batch = []
            for _ in range(5):
                began = time.perf_counter()
                for _ in range(calls):
                    await call()
                per_batch.append((time.perf_counter() - began) / calls)
            times[key] = statistics.median(per_batch)
        return times

    asgi = run(asgi_times())

    made = iter(range(10**9))

    def entry() -> LogEntry:
        return LogEntry(
            f"{next(made):016x}",
            now_ms(),
            served.name,
            served.model_name,
            served.version,
            0.5,
            scorer.log_columns(rows),
            rows.values,
            outputs,
            False,
        )

    log.flush()
    for _ in range(calls):
        log.append(entry())
    began = time.perf_counter()
    log.flush()
    flush_per_entry = (time.perf_counter() - began) / calls
    log.roll()  # the first roll imports pyarrow and makes the first segment
    for _ in range(ROLL_ROWS):
        log.append(entry())
    log.flush()
    began = time.perf_counter()
    log.roll()
    roll_per_row = (time.perf_counter() - began) / ROLL_ROWS

    def respond() -> Response:
        content = orjson.dumps({"predictions": outputs}, option=orjson.OPT_SERIALIZE_NUMPY)
        return Response(
            content,
            headers={"x-prediction-id": "0123456789abcdef", "x-variant": served.name},
            media_type="application/json",
        )

    pieces = [
        ("in-process ASGI call, POST /invocations, prediction log on", asgi["log"]),
        ("in-process ASGI call, POST /invocations, --no-log", asgi["no_log"]),
        ("in-process ASGI call of a bare Starlette route (the framework's floor)", asgi["bare"]),
        (
            "JSON body to rows: orjson.loads + parse_invocations",
            time_per_call(lambda: parse_invocations(orjson.loads(body)), calls),
        ),
        ("rows to a float array: Scorer.inputs", time_per_call(lambda: scorer.inputs(rows), calls)),
        ("Scorer.predict (one row)", time_per_call(lambda: scorer.predict(inputs), calls)),
    ]
    import numpy as np
    import sklearn

    name = type(raw_model).__name__
    eight = np.repeat(inputs, 8, axis=0)

    def predict_assuming_finite() -> Any:
        with sklearn.config_context(assume_finite=True):
            return raw_model.predict(inputs)

    pieces += [
        (
            f"{name}.predict called directly",
            time_per_call(lambda: raw_model.predict(inputs), calls),
        ),
        (
            f"  what if: {name}.predict on 8 rows in one call (per call)",
            time_per_call(lambda: raw_model.predict(eight), calls),
        ),
        (
            f"  what if: {name}.predict in sklearn.config_context(assume_finite=True)",
            time_per_call(predict_assuming_finite, calls),
        ),
    ]
    pieces += [
        (
            "ServingMetrics.observe",
            time_per_call(
                lambda: logged.metrics.observe(
                    routing.deployment,
                    served.name,
                    served.version_label,
                    "invocations",
                    200,
                    0.0005,
                    outputs,
                ),
                calls,
            ),
        ),
        (
            "request id: now_ms + os.urandom(4).hex()",
            time_per_call(lambda: f"{now_ms():012x}{os.urandom(4).hex()}", calls),
        ),
        (
            "prediction log: LogEntry + append (request path)",
            time_per_call(lambda: log.append(entry()), calls),
        ),
        ("answer: orjson.dumps + Response with two headers", time_per_call(respond, calls)),
        (
            "prediction log: writing one entry to the write-ahead file (writer thread)",
            flush_per_entry,
        ),
        (
            f"prediction log: rolling the write-ahead file into a Parquet segment, per row "
            f"({ROLL_ROWS:,} rows; writer thread)",
            roll_per_row,
        ),
    ]
    log.close()
    return [{"piece": name, "us": seconds * 1e6} for name, seconds in pieces]


def profile_entries(profiler: Any, package: str) -> list[dict[str, Any]]:
    import pstats

    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    entries = []
    for (file, line, func), (_cc, calls, own, cumulative, _callers) in stats.items():
        in_loopml = file.startswith(package)
        shown = Path(file).relative_to(package).as_posix() if in_loopml else file
        if "site-packages/" in shown:
            shown = shown.split("site-packages/", 1)[1]
        elif "/lib/python3" in shown:
            shown = "stdlib/" + shown.split("/lib/python3", 1)[1].split("/", 1)[-1]
        if line:
            shown = f"{shown}:{line}"
        entries.append(
            {
                "where": f"{shown}({func})",
                "loopml": in_loopml,
                "calls": calls,
                "own": own,
                "cumulative": cumulative,
            }
        )
    return entries


def profile_request_path(
    cfg: dict[str, Any], client_command: Callable[[dict[str, Any]], list[str]]
) -> dict[str, Any]:
    """The component timings, then a cProfile of ``loopml serve``'s app under uvicorn in
    this process's main thread while the client process ``client_command(client_cfg)``
    sends it ``cfg["client"]``'s requests."""
    import cProfile
    import threading

    import loopml
    from loopml.serving.server import make_app, run

    pieces = time_pieces(cfg)
    import httptools  # noqa: F401  (imported before the profiler starts)
    import uvicorn  # noqa: F401
    import uvloop  # noqa: F401

    store = loopml.default_store()
    app = make_app(store, MODEL, log=True)
    sent: dict[str, Any] = {}

    def drive() -> None:
        try:
            deadline = time.monotonic() + 60
            while probe(cfg["port"], "/v2/health/ready") != 200:
                if time.monotonic() > deadline:
                    raise BenchmarkError("the profiled server did not get ready in 60 s")
                time.sleep(0.02)
            client_cfg = {
                **cfg["client"],
                "port": cfg["port"],
                "server_pids": [os.getpid()],
            }
            done = subprocess.run(
                client_command(client_cfg),
                capture_output=True,
                text=True,
                check=False,
            )
            sent["client"] = worker_result(done.stdout)
            if sent["client"] is None:
                sent["error"] = done.stderr[-2000:]
        except Exception as error:
            sent["error"] = f"{type(error).__name__}: {error}"
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    # uvicorn re-raises the SIGTERM it stopped on once its own handler is gone: this one
    # lets the worker go on to report.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: None)
    threading.Thread(target=drive, daemon=True).start()
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.enable()
    run(app, HOST, cfg["port"])
    profiler.disable()
    seconds = time.perf_counter() - began
    if "error" in sent:
        raise BenchmarkError(f"the profiled client failed: {sent['error']}")
    package = str(Path(loopml.__file__).resolve().parent)
    entries = profile_entries(profiler, package)
    client = sent["client"]
    # Functions called at least once per two requests: the request path, not start-up,
    # the first request's imports or the loop's run (whose own time is its idle waiting).
    entries = [entry for entry in entries if entry["calls"] >= client["answered"] // 2]
    ours = [entry for entry in entries if entry["loopml"]]
    return {
        "pieces": pieces,
        "seconds": seconds,
        "requests": client["answered"],
        "client": client,
        "top_loopml": sorted(ours, key=lambda e: -e["cumulative"])[:12],
        "top_own": sorted(entries, key=lambda e: -e["own"])[:20],
    }
