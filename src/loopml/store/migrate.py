"""Bring a store's schema to the head revision, safely when many processes open it at once.

The common case (schema already at head) costs one query and never imports Alembic.
Otherwise one process migrates while the others wait: on SQLite behind a file lock next to
the database, on PostgreSQL behind a session-level advisory lock. Each waiter re-checks
the revision after getting the lock, so a migration runs exactly once.

A brand-new, empty database gets the declared tables directly and is stamped at the head
revision, as running every migration would leave it (a test keeps the two identical);
Alembic is only imported to upgrade a store that exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, inspect, text

from ..errors import SchemaTooNew
from .engine import sqlite_path

VERSION_TABLE = "loopml_schema_version"
#: The newest revision in ``migrations/versions``; a test keeps it equal to Alembic's head.
HEAD_REVISION = "0007"
_PG_LOCK_KEY = 0x6C6F6F706D6C  # "loopml"


def current_revision(connection: Connection) -> str | None:
    """The revision the store is at, or None for an empty database."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    row = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).first()  # noqa: S608
    return row[0] if row else None


def ensure_schema(engine: Engine) -> None:
    """Migrate ``engine``'s database to :data:`HEAD_REVISION` if it is not there yet."""
    with engine.connect() as connection:
        revision = current_revision(connection)
        connection.rollback()
    if revision == HEAD_REVISION:
        return
    with _migration_lock(engine) as connection:
        revision = current_revision(connection)
        connection.commit()
        if revision == HEAD_REVISION:
            return
        _check_known(revision)
        if revision is None and _holds_no_loopml_table(connection):
            create_at_head(connection)
        else:
            _upgrade(connection)


def create_at_head(connection: Connection) -> None:
    """Create every table of a new store and stamp it at :data:`HEAD_REVISION`."""
    from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, insert

    from .schema import GENESIS_HASH, audit_head, metadata

    metadata.create_all(connection)
    connection.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS_HASH))
    version = Table(
        VERSION_TABLE,
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),  # Alembic's shape
    )
    version.create(connection)
    connection.execute(insert(version).values(version_num=HEAD_REVISION))
    connection.commit()


def _holds_no_loopml_table(connection: Connection) -> bool:
    from .schema import metadata

    return not set(inspect(connection).get_table_names()) & set(metadata.tables)


def _check_known(revision: str | None) -> None:
    if revision is None:
        return
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_alembic_config())
    known = {script.revision for script in scripts.walk_revisions()}
    if revision not in known:
        raise SchemaTooNew(
            f"the store's schema is at revision '{revision}', which this loopml does not know",
            hint="it was written by a newer loopml; upgrade with: pip install -U loopml",
        )


def _upgrade(connection: Connection) -> None:
    from alembic import command

    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    connection.commit()


def _alembic_config():  # -> alembic.config.Config; Alembic is imported only when migrating
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "loopml.store:migrations")
    return config


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    path = sqlite_path(engine.url)
    if path is not None:
        from filelock import FileLock

        with FileLock(str(path) + ".migrate.lock"), engine.connect() as connection:
            yield connection
        return
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
            connection.commit()
            try:
                yield connection
            finally:
                connection.rollback()
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
                connection.commit()
        else:
            yield connection
