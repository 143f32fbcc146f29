"""100,000 requests at concurrency 64 over keep-alive connections: no error, and every
answer is in the prediction log after SIGTERM."""

from __future__ import annotations

import asyncio
import itertools

import orjson
import pyarrow.compute as pc
import pytest

from loopml.serving.predictions import read_table
from loopml.store import Store

from .support import DEPLOYMENT, ServerFactory, sample_rows, stopped_cleanly

pytestmark = [
    pytest.mark.slow,
    # Throughput does not depend on the store's backend; one is enough here.
    pytest.mark.parametrize("backend", ["sqlite"], indirect=True),
]

REQUESTS = 100_000
CONCURRENCY = 64


def requests(port: int) -> list[bytes]:
    """Prebuilt HTTP/1.1 keep-alive requests, one per row of a small pool."""
    built = []
    for row in sample_rows(16, seed=31):
        body = orjson.dumps({"instances": [row]})
        head = (
            f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        built.append(head.encode() + body)
    return built


async def hammer(port: int, total: int, concurrency: int) -> dict[str, int]:
    """Send ``total`` requests over ``concurrency`` connections; count answers by status."""
    pool = requests(port)
    remaining = itertools.count()
    statuses: dict[str, int] = {}

    async def connection(offset: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while next(remaining) < total:
                writer.write(pool[offset % len(pool)])
                offset += 1
                head = await reader.readuntil(b"\r\n\r\n")
                status = head[9:12].decode()
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()
            await writer.wait_closed()

    await asyncio.wait_for(
        asyncio.gather(*(connection(i) for i in range(concurrency))), timeout=900
    )
    return statuses


def test_100k_requests_at_concurrency_64_all_answered_and_all_logged(
    store: Store, start_server: ServerFactory
) -> None:
    server = start_server()
    statuses = asyncio.run(hammer(server.port, REQUESTS, CONCURRENCY))
    assert statuses == {"200": REQUESTS}
    assert stopped_cleanly(server.stop(timeout=120)), server.output()

    table = read_table(store, DEPLOYMENT)
    assert table.num_rows == REQUESTS
    assert pc.count_distinct(table["id"]).as_py() == REQUESTS
