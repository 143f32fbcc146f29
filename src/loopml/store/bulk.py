"""Append many rows at once through the driver, for the metric hot path.

SQLAlchemy processes parameters row by row (about 7 µs a row here), several times the
cost of SQLite's own ``executemany``; on PostgreSQL, COPY beats any INSERT. Handing
tuples straight to the driver keeps bulk appends bound by the database, with values
still passed as parameters or COPY data, never spliced into SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError


def insert_rows(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    skip_existing: bool = False,
) -> None:
    """``INSERT INTO table (columns) VALUES (...)`` once per row, in one driver call.

    With ``skip_existing``, rows whose primary key is taken already are left out
    (``ON CONFLICT DO NOTHING``), for content that another writer may store at once.
    """
    if not rows:
        return
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    if dialect.name == "postgresql" and not skip_existing:
        # COPY streams the rows in one round trip: ~10x executemany on PostgreSQL.
        statement = f"COPY {quote(table.name)} ({names}) FROM STDIN"
        driver = connection.connection.driver_connection
        try:
            with driver.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
                for row in rows:
                    copy.write_row(row)
        except dialect.loaded_dbapi.Error as exc:
            # Raise what SQLAlchemy would, so store-level error handling applies.
            raise DBAPIError.instance(
                statement,
                None,
                exc,
                dialect.loaded_dbapi.Error,
                connection_invalidated=dialect.is_disconnect(exc, driver, None),
            ) from exc
        return
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    # Table and column names come from loopml's schema, never from users.
    statement = (
        f"INSERT INTO {quote(table.name)} ({names}) "  # noqa: S608
        f"VALUES ({', '.join(marker for _ in columns)})"
        + (" ON CONFLICT DO NOTHING" if skip_existing else "")
    )
    connection.exec_driver_sql(statement, rows if isinstance(rows, list) else list(rows))


def rows_by_keys(
    connection: Connection,
    table: Table,
    key: str,
    values: Sequence[str],
    columns: Sequence[str] | None = None,
) -> list[tuple[Any, ...]]:
    """Rows of ``table`` whose ``key`` is one of ``values`` (``columns``, default: the key).

    Built as driver SQL in batches: compiling tens of thousands of bound parameters
    through SQLAlchemy costs more than the lookups themselves.
    """
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    selected = ", ".join(quote(name) for name in (columns or [key]))
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(values), _BATCH):
        batch = tuple(values[start : start + _BATCH])
        statement = (
            f"SELECT {selected} FROM {quote(table.name)} "  # noqa: S608 - schema names only
            f"WHERE {quote(key)} IN ({', '.join(marker for _ in batch)})"
        )
        found.extend(tuple(row) for row in connection.exec_driver_sql(statement, batch))
    return found


_BATCH = 900  # bound parameters per statement, under every SQLite build's limit
