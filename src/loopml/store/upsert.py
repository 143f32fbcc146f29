"""``INSERT … ON CONFLICT`` for whichever database the connection talks to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table


def conflict_insert(connection: Connection, table: Table) -> Any:
    """An insert of ``table`` that offers ``on_conflict_do_nothing/do_update``.

    SQLite and PostgreSQL spell upserts the same way; SQLAlchemy exposes it per dialect.
    """
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)
