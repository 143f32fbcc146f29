"""The store: one metadata database plus one artifact store, opened together.

Service functions take a :class:`Store` as their first argument
(``tracking.log_params(store, run_id, params)``); the SDK passes :func:`default_store`.
"""

from __future__ import annotations

import copy
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine

from ..config import Config, resolve
from ..errors import ProjectNotFound, StoreReadOnly
from .engine import create_store_engine, describe_url, sqlite_path, translate_errors
from .hooks import StoreHooks
from .migrate import ensure_schema

if TYPE_CHECKING:
    from ..artifacts import BlobStore

__all__ = ["Store", "close_default_stores", "default_store", "open_store"]


class Store(StoreHooks):
    """An open metadata database and artifact store, with the acting user."""

    def __init__(self, config: Config, engine: Engine) -> None:
        super().__init__()
        self.config = config
        self.engine = engine
        self.url = config.db_url
        self.actor = config.user
        self._writing = threading.local()
        _open_stores.add(self)

    def __repr__(self) -> str:
        return f"Store(db={describe_url(self.url)!r}, artifacts={self.config.artifacts_url!r})"

    @cached_property
    def blobs(self) -> BlobStore:
        """The content-addressed artifact store."""
        from ..artifacts import open_blob_store

        return open_blob_store(self.config.artifacts_url)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed when the block ends, rolled back on any error."""
        with (
            translate_errors(self.url),
            self.engine.connect() as connection,
        ):
            connection.execution_options(loopml_write=True)
            self._writing.depth = getattr(self._writing, "depth", 0) + 1
            try:
                with connection.begin():
                    yield connection
            finally:
                self._writing.depth -= 1

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction: one consistent snapshot on both databases.

        Writes this process still holds in memory (buffered metrics) are flushed first,
        so a reader never misses its own writes.
        """
        if not getattr(self._writing, "depth", 0):  # a flush inside a write would wait on it
            self._run_read_hooks()
        with translate_errors(self.url), self.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                # READ COMMITTED would let each statement see newer commits; several
                # queries that must agree (audit head and events, a run and its params)
                # need one snapshot. SQLite's WAL read transactions are snapshots already.
                connection.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
            try:
                yield connection
            finally:
                connection.rollback()

    def acting_as(self, actor: str) -> Store:
        """This store with another actor on what it records (the server's per-request view).

        The view shares the engine, the blob store and the per-process state.
        """
        self.blobs  # noqa: B018  (opened once here, so every view shares it)
        view = copy.copy(self)
        view.actor = actor
        return view

    def close(self) -> None:
        self._run_close_hooks()
        self.engine.dispose()
        _open_stores.discard(self)


def open_store(config: Config | None = None, *, create: bool = True) -> Store:
    """Open (and, with ``create``, create and migrate) the store ``config`` points at.

    With ``create=False`` a missing embedded store raises :class:`ProjectNotFound`
    instead of creating one, which is what read-only commands want. When the
    configuration names a team server (``LOOPML_SERVER``), the store is a client of it:
    the same service functions run there.
    """
    config = config or resolve()
    if config.server_url:
        from ..client import open_remote

        return open_remote(config)  # type: ignore[return-value]
    path = sqlite_path(config.db_url)
    if path is not None and not path.exists():
        if not create:
            raise ProjectNotFound(
                f"no loopml store at {path.parent} or any parent directory",
                hint="run 'loopml init' here, or set LOOPML_HOME to an existing store",
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreReadOnly(
                f"cannot create the store directory {path.parent}: {exc.strerror}",
                hint="run from a writable directory or set LOOPML_HOME",
            ) from None
    engine = create_store_engine(config.db_url)
    with translate_errors(config.db_url):
        ensure_schema(engine)
    return Store(config, engine)


_default_lock = threading.Lock()
_defaults: dict[tuple[str, str, str, str | None], Store] = {}
_open_stores: weakref.WeakSet[Store] = weakref.WeakSet()


def default_store() -> Store:
    """The store this process's configuration points at, opened once and cached.

    The cache is keyed by the resolved configuration, so changing ``LOOPML_HOME`` or the
    working directory between calls opens the right store.
    """
    config = resolve()
    key = (config.server_url or config.db_url, config.artifacts_url, config.user, config.token)
    store = _defaults.get(key)
    if store is not None:
        return store
    with _default_lock:
        store = _defaults.get(key)
        if store is None:
            store = open_store(config)
            _defaults[key] = store
    return store


def close_default_stores() -> None:
    """Flush and close every cached default store (tests and interpreter exit use this)."""
    with _default_lock:
        stores = list(_defaults.values())
        _defaults.clear()
    for store in stores:
        store.close()


def _after_fork_in_child() -> None:
    # A forked child must not reuse its parent's pooled connections or buffers.
    for store in list(_open_stores):
        store.engine.dispose(close=False)
        store._forget_hooks()


os.register_at_fork(after_in_child=_after_fork_in_child)
