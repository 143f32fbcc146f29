"""SQLAlchemy engines for SQLite (embedded default) and PostgreSQL, and driver-error translation.

SQLite is tuned for many processes writing at once: WAL journal, a long busy timeout, and
write transactions that start with ``BEGIN IMMEDIATE`` so that two writers queue on the
busy handler instead of deadlocking on a read-to-write lock upgrade, which SQLite
reports as "database is locked" without waiting.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError, OperationalError

from ..errors import StoreBusy, StoreError, StoreReadOnly

BUSY_TIMEOUT_S = 60.0
PG_CONNECT_TIMEOUT_S = 10


def sqlite_path(url: str | URL) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def create_store_engine(url: str) -> Engine:
    """An engine for ``url`` with loopml's connection settings applied."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(
            parsed,
            pool_pre_ping=True,
            connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S},
        )
    raise StoreError(
        f"database URL '{describe_url(url)}' is not supported",
        hint="use sqlite:///path/to/loopml.db or postgresql+psycopg://user@host/db",
    )


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(
        url,
        connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Driver-level autocommit: transactions are begun explicitly below.
        dbapi_connection.isolation_level = None
        dbapi_connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        dbapi_connection.execute("PRAGMA foreign_keys = ON")
        # LIKE is case-sensitive on PostgreSQL; make SQLite agree (ILIKE covers the rest).
        dbapi_connection.execute("PRAGMA case_sensitive_like = ON")
        # WAL lets readers run beside the one writer; the mode is stored in the file, so
        # this is a no-op after the first connection. A read-only location refuses it;
        # the operation that follows reports that clearly.
        with contextlib.suppress(sqlite3.OperationalError):
            dbapi_connection.execute("PRAGMA journal_mode = WAL")
        # Durable against a crashed process; in WAL mode only power loss can drop the
        # last transactions, and nothing is ever corrupted.
        dbapi_connection.execute("PRAGMA synchronous = NORMAL")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("loopml_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def describe_url(url: str | URL) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as given, it holds no parsed password
        return str(url)


@contextmanager
def translate_errors(url: str) -> Iterator[None]:
    """Turn driver errors that are about the store itself into clear :class:`StoreError`s."""
    try:
        yield
    except OperationalError as exc:
        raise _store_error(url, exc) from None
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise _store_error(url, exc) from None
        raise


def _store_error(url: str, exc: DBAPIError) -> StoreError:
    text = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    shown = describe_url(url)
    path = sqlite_path(url)
    if path is not None:
        lowered = text.lower()
        if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
            return StoreReadOnly(
                f"the store at {path.parent} cannot be written ({text})",
                hint="check the directory's permissions, or point LOOPML_HOME at a writable one",
            )
        if "locked" in lowered or "busy" in lowered:
            return StoreBusy(
                f"the store at {path} stayed locked by another process for {BUSY_TIMEOUT_S:.0f} s",
                hint="a long write is holding it; retry when it ends",
            )
        return StoreError(f"the SQLite store at {path} failed: {text}")
    return StoreError(
        f"cannot use the database at {shown}: {text}",
        hint="check that the server is running and LOOPML_DB_URL is right",
    )
