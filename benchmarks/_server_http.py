"""The HTTP client ``server.py`` times the servers with: the standard library's
``http.client`` over persistent (keep-alive) connections on loopback, so that what is
timed is almost all the server's work.

- :class:`Http`: one persistent connection; ``get`` and ``post_json`` return the body of
  a 200 and raise on anything else.
- :class:`FanOut`: a set of requests spread over N persistent connections at once, as a
  browser sends the requests of one page (it opens up to 6 connections per host).
- :func:`timed`: one untimed warm-up call, then the wall time of each of ``reps`` calls.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _harness import BenchmarkError

HOST = "127.0.0.1"
BROWSER_CONNECTIONS = 6  # what browsers open per host over HTTP/1.1

Request = tuple[str, str, bytes | None]  # method, path, JSON body


class Http:
    """One keep-alive connection to ``HOST:port``."""

    def __init__(self, port: int, timeout: float = 600.0) -> None:
        self.port = port
        self.timeout = timeout
        self._connection = http.client.HTTPConnection(HOST, port, timeout=timeout)

    def close(self) -> None:
        self._connection.close()

    def send(self, method: str, path: str, body: bytes | None = None) -> bytes:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        try:
            self._connection.request(method, path, body=body, headers=headers)
            response = self._connection.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            # A connection the server closed between requests: open a new one, once.
            self._connection.close()
            self._connection = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
            self._connection.request(method, path, body=body, headers=headers)
            response = self._connection.getresponse()
            data = response.read()
        if response.status != 200:
            raise BenchmarkError(
                f"{method} {path[:120]} answered {response.status}: {readable(data)}"
            )
        return data

    def get(self, path: str) -> bytes:
        return self.send("GET", path)

    def post_json(self, path: str, payload: Any) -> bytes:
        return self.send("POST", path, json.dumps(payload).encode())


def readable(body: bytes) -> str:
    """An error answer, short: an HTML page's text without its head and tags."""
    text = body.decode("utf-8", "replace")
    if text.lstrip().startswith("<"):
        text = re.sub(r"<head>.*?</head>|<header>.*?</header>", " ", text, flags=re.S)
        text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(text.split())[:600]


class FanOut:
    """Requests sent over ``connections`` keep-alive connections at once; the
    connections stay open between calls, as a browser's do."""

    def __init__(self, port: int, connections: int = BROWSER_CONNECTIONS) -> None:
        self.port = port
        self._local = threading.local()
        self._opened: list[Http] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=connections)

    def _http(self) -> Http:
        found = getattr(self._local, "http", None)
        if found is None:
            found = self._local.http = Http(self.port)
            with self._lock:
                self._opened.append(found)
        return found

    def _one(self, request: Request) -> bytes:
        method, path, body = request
        return self._http().send(method, path, body)

    def run(self, requests: list[Request]) -> list[bytes]:
        """Every request's body, in the order given."""
        return list(self._pool.map(self._one, requests))

    def close(self) -> None:
        self._pool.shutdown()
        for found in self._opened:
            found.close()


def timed(
    call: Callable[[], Any], reps: int, *, warm_up: Callable[[], Any] | None = None
) -> tuple[list[float], Any]:
    """One untimed warm-up call (``warm_up``, or ``call`` itself), then ``reps`` timed
    calls: their wall seconds and the last result."""
    result = (warm_up or call)()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return times, result
