"""A real uvicorn server on loopback, in a thread of the test process, whose app a test
can swap: one server per test worker serves each test's own fresh store."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send

from .helpers import free_port


class SwappableApp:
    """Sends each request to whichever app is set now."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if self.app is None:
            raise RuntimeError("no app is set on the test server")
        await self.app(scope, receive, send)


class ThreadServer:
    """uvicorn serving :class:`SwappableApp` on a free loopback port, in a daemon thread."""

    def __init__(self) -> None:
        self.target = SwappableApp()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            self.target, host="127.0.0.1", port=self.port, log_level="error", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="test-server", daemon=True)

    def start(self) -> ThreadServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
