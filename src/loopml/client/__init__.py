"""Remote mode: the SDK and the CLI working through a team server (``LOOPML_SERVER``).

:func:`open_remote` returns a store whose service calls are sent to the server (see
:mod:`loopml.ops`) and whose blobs go through the server's upload and download routes.
Metric values still go through the in-process buffer, so a training loop sends one
request per batch of up to a thousand values, not one per value.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any, NoReturn

from ..config import Config
from ..errors import NotSupportedRemotely
from ..ops import Operation
from ..store.hooks import StoreHooks
from .blobs import HttpBlobStore
from .transport import API_PREFIX, ServerClient

__all__ = ["RemoteStore", "open_remote"]


class RemoteStore(StoreHooks):
    """A store that is a team server: service functions called with it run on the server."""

    def __init__(self, config: Config) -> None:
        if not config.server_url:
            raise ValueError("a remote store needs config.server_url")
        super().__init__()
        self.config = config
        self.url = config.server_url
        self.client = ServerClient(config.server_url, config.token, user=config.user)
        _open_remotes.add(self)

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
            self._run_read_hooks()
        return self.client.call(op, args, kwargs)

    def close(self) -> None:
        self._run_close_hooks()
        self.client.close()
        _open_remotes.discard(self)

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


_open_remotes: weakref.WeakSet[RemoteStore] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # A forked child must not share its parent's sockets or send its parent's buffers.
    for store in list(_open_remotes):
        store._forget_hooks()
        store.client = ServerClient(
            store.config.server_url, store.config.token, user=store.config.user
        )
        store.__dict__.pop("blobs", None)


os.register_at_fork(after_in_child=_after_fork_in_child)


def open_remote(config: Config) -> RemoteStore:
    """A client of the server ``config.server_url`` names, with ``config.token``."""
    return RemoteStore(config)
