"""Remote mode: the SDK and the CLI working through a team server (``LOOPML_SERVER``).

:func:`open_remote` returns a store whose service calls are sent to the server (see
:mod:`loopml.ops`) and whose blobs go through the server's upload and download routes.
Metric values still go through the in-process buffer, so a training loop sends one
request per batch of up to a thousand values, not one per value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any, NoReturn

from ..config import Config
from ..errors import NotSupportedRemotely
from ..ops import Operation
from .blobs import HttpBlobStore
from .transport import API_PREFIX, ServerClient

__all__ = ["RemoteStore", "open_remote"]


class RemoteStore:
    """A store that is a team server: service functions called with it run on the server."""

    def __init__(self, config: Config) -> None:
        if not config.server_url:
            raise ValueError("a remote store needs config.server_url")
        self.config = config
        self.url = config.server_url
        self.client = ServerClient(config.server_url, config.token, user=config.user)
        #: Per-process state owned by domain packages (the metric buffer lives here).
        self.state: dict[str, Any] = {}
        self._close_hooks: list[Callable[[], None]] = []
        self._read_hooks: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        return f"RemoteStore(server={self.url!r})"

    @cached_property
    def actor(self) -> str:
        """The user the server records for this client's changes."""
        return str(self.client.request("GET", f"{API_PREFIX}/whoami").json()["user"])

    @cached_property
    def blobs(self) -> HttpBlobStore:
        return HttpBlobStore(self.client)

    def call_operation(self, op: Operation, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run ``op`` on the server; a read sends this process's buffered metrics first."""
        if op.role == "reader":
            for hook in self._read_hooks:
                hook()
        return self.client.call(op, args, kwargs)

    def before_read(self, hook: Callable[[], None]) -> None:
        self._read_hooks.append(hook)

    def on_close(self, hook: Callable[[], None]) -> None:
        self._close_hooks.append(hook)

    def close(self) -> None:
        hooks, self._close_hooks = self._close_hooks, []
        for hook in reversed(hooks):
            hook()
        self.client.close()

    @contextmanager
    def read(self) -> Iterator[NoReturn]:
        raise _direct_access()
        yield  # pragma: no cover

    @contextmanager
    def write(self) -> Iterator[NoReturn]:
        raise _direct_access()
        yield  # pragma: no cover


def _direct_access() -> NotSupportedRemotely:
    import inspect

    caller = inspect.stack()[3]
    return NotSupportedRemotely(
        f"{caller.function} ({caller.filename.rsplit('/loopml/', 1)[-1]}) reads the "
        "database directly and cannot run through a team server yet",
        hint="unset LOOPML_SERVER to run it on a local store",
    )


def open_remote(config: Config) -> RemoteStore:
    """A client of the server ``config.server_url`` names, with ``config.token``."""
    return RemoteStore(config)
