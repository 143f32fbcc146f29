"""A small HTTP/1.1 load client: keep-alive connections over raw asyncio sockets.

``serving.py`` runs it in a process of its own (``--worker client``), the same client for
every server it compares. Each request is prebuilt bytes; an answer is read as its header
block (up to ``\\r\\n\\r\\n``), then ``Content-Length`` bytes, with no HTTP library in
between, so that the client costs little next to the servers it measures. uvloop's event
loop runs it when installed.

- ``run_sequential``: one connection, requests one at a time: latency percentiles.
- ``run_concurrent``: N connections, each sending its next request as soon as it has the
  answer: throughput and latency over a measured window after a warm-up.

Both also read the CPU time the server's processes and the client used over the measured
part, so that a report can say whether the client kept up.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"


class ClientError(RuntimeError):
    """The server answered something that is not an HTTP/1.1 response with a length."""


def http_request(method: str, path: str, port: int, body: bytes = b"") -> bytes:
    """One HTTP/1.1 keep-alive request, every byte of it prebuilt."""
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode("ascii") + body


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """Send ``request``; (status, body) of the answer: the header block, then
    ``Content-Length`` bytes."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = -1
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
            break
    if length < 0:
        raise ClientError(f"an answer without Content-Length: {head[:200]!r}")
    return int(head[9:12]), await reader.readexactly(length)


def percentile(ordered: list[float], q: float) -> float:
    """The ``q``-th percentile of sorted values, interpolated between closest ranks."""
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def latency_summary(latencies_s: list[float]) -> dict[str, float]:
    """p50/p90/p99, mean, min and max of request latencies, in ms."""
    ordered = sorted(value * 1000 for value in latencies_s)
    return {
        "p50_ms": percentile(ordered, 50),
        "p90_ms": percentile(ordered, 90),
        "p99_ms": percentile(ordered, 99),
        "mean_ms": statistics.fmean(ordered),
        "min_ms": ordered[0],
        "max_ms": ordered[-1],
    }


def tree_cpu(pids: list[int]) -> float:
    """CPU seconds the processes ``pids`` have used so far: the run time of each of their
    threads from ``/proc/PID/task/TID/schedstat`` (nanoseconds; psutil's figure, in
    clock ticks of 10 ms, is too coarse for a few hundred requests), else psutil's."""
    total = 0.0
    for pid in pids:
        try:
            tasks = Path(f"/proc/{pid}/task")
            total += (
                sum(
                    int((tasks / tid / "schedstat").read_text().split()[0])
                    for tid in os.listdir(tasks)
                )
                / 1e9
            )
        except (OSError, ValueError, IndexError):
            total += _psutil_cpu(pid)
    return total


def _psutil_cpu(pid: int) -> float:
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system


def own_cpu() -> float:
    return time.process_time()


@dataclass
class Tally:
    """What came back: non-200 answers, bodies unlike the first, the first body."""

    same_body: bool
    first: bytes | None = None
    bad_status: int = 0
    other_body: int = 0
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, status: int, body: bytes) -> None:
        if self.first is None:
            self.first = body
        if status != 200:
            self.bad_status += 1
            self.statuses[status] = self.statuses.get(status, 0) + 1
        elif self.same_body and body != self.first:
            self.other_body += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "first_body": (self.first or b"").decode("utf-8", "replace")[:1000],
            "bad_status": self.bad_status,
            "other_body": self.other_body,
            "statuses": {str(k): v for k, v in self.statuses.items()},
        }


async def run_sequential(cfg: dict[str, Any]) -> dict[str, Any]:
    """One connection: ``warmup`` requests, then ``requests`` timed one at a time."""
    request = http_request("POST", cfg["path"], cfg["port"], cfg["body"].encode())
    tally = Tally(cfg["same_body"])
    reader, writer = await asyncio.open_connection(HOST, cfg["port"])
    for _ in range(cfg["warmup"]):
        tally.add(*await exchange(reader, writer, request))
    latencies = []
    clock = time.perf_counter
    server_cpu, client_cpu = tree_cpu(cfg["server_pids"]), own_cpu()
    began = clock()
    for _ in range(cfg["requests"]):
        sent = clock()
        status, body = await exchange(reader, writer, request)
        latencies.append(clock() - sent)
        tally.add(status, body)
    seconds = clock() - began
    server_cpu, client_cpu = tree_cpu(cfg["server_pids"]) - server_cpu, own_cpu() - client_cpu
    writer.close()
    return {
        **latency_summary(latencies),
        "requests": cfg["requests"],
        "answered": cfg["warmup"] + cfg["requests"],
        "seconds": seconds,
        "throughput": cfg["requests"] / seconds,
        "server_cpu_ms_per_request": server_cpu * 1000 / cfg["requests"],
        "client_cpu_share": client_cpu / seconds,
        **tally.to_dict(),
    }


async def run_concurrent(cfg: dict[str, Any]) -> dict[str, Any]:
    """``clients`` connections, each sending as soon as it has its answer, for
    ``window_warmup`` s and then a ``window`` s measured window."""
    request = http_request("POST", cfg["path"], cfg["port"], cfg["body"].encode())
    tally = Tally(cfg["same_body"])
    clock = time.perf_counter
    connections = [await asyncio.open_connection(HOST, cfg["port"]) for _ in range(cfg["clients"])]
    done: list[tuple[float, float]] = []  # (answered at, latency)
    start = clock() + cfg["window_warmup"]
    end = start + cfg["window"]
    cpu: dict[str, float] = {}

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            sent = clock()
            if sent >= end:
                return
            status, body = await exchange(reader, writer, request)
            answered = clock()
            done.append((answered, answered - sent))
            tally.add(status, body)

    async def meter() -> None:
        await asyncio.sleep(max(0.0, start - clock()))
        cpu["server"], cpu["client"], cpu["began"] = (
            tree_cpu(cfg["server_pids"]),
            own_cpu(),
            clock(),
        )
        await asyncio.sleep(max(0.0, end - clock()))
        cpu["server"] = tree_cpu(cfg["server_pids"]) - cpu["server"]
        cpu["client"] = own_cpu() - cpu["client"]
        cpu["seconds"] = clock() - cpu["began"]

    await asyncio.gather(meter(), *(client(reader, writer) for reader, writer in connections))
    for _reader, writer in connections:
        writer.close()
    window = [latency for answered, latency in done if start <= answered < end]
    return {
        **latency_summary(window),
        "clients": cfg["clients"],
        "requests": len(window),
        "answered": len(done),
        "seconds": cfg["window"],
        "throughput": len(window) / cfg["window"],
        "server_cpu_ms_per_request": cpu["server"] * 1000 / max(1, len(window)),
        "server_cpu_share": cpu["server"] / cpu["seconds"],
        "client_cpu_share": cpu["client"] / cpu["seconds"],
        **tally.to_dict(),
    }


def event_loop_runner() -> tuple[Callable[[Any], Any], str]:
    """uvloop's ``run`` when installed (a cheaper client), else ``asyncio.run``."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run, "asyncio"
    return uvloop.run, "uvloop"


def run_client(cfg: dict[str, Any]) -> dict[str, Any]:
    """Run ``cfg["mode"]`` (``sequential`` or ``concurrent``) against ``cfg["port"]``:
    ``POST cfg["path"]`` with the JSON ``cfg["body"]``; ``cfg["server_pids"]`` are the
    processes whose CPU time is read. The collector is frozen first, so that the client's
    own garbage collection passes stay small."""
    import gc

    import psutil  # noqa: F401  (imported before the clock starts)

    run, loop = event_loop_runner()
    gc.collect()
    gc.freeze()
    mode = run_sequential if cfg["mode"] == "sequential" else run_concurrent
    return {**run(mode(cfg)), "loop": loop}


def probe(port: int, path: str) -> int | None:
    """The status of one ``GET path`` on a new connection (None while nothing listens or
    nothing answers), for polling a server's readiness route."""
    import socket

    try:
        with socket.create_connection((HOST, port), timeout=2) as sock:
            sock.sendall(
                f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
            )
            head = sock.recv(64)
    except OSError:
        return None
    return int(head[9:12]) if head.startswith(b"HTTP/1.") and len(head) >= 12 else None
