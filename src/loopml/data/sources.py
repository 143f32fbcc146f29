"""Snapshots of data that lives elsewhere: a SQL query's result, an HTTP API's answer.

A snapshot becomes a dataset version like any file, with its origin recorded on the
version: the database (password hidden) and query, or the URL with the status and content
type of the answer and when it was fetched. A SQL query runs in a read-only transaction
that is always rolled back, so a snapshot can never change the database it reads.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..clock import now_ms
from ..errors import InvalidInput
from ..store.engine import describe_url

if TYPE_CHECKING:
    import pyarrow as pa

_BATCH_ROWS = 50_000
_URL_TIMEOUT_S = 60
_JSON_TYPES = ("application/json", "text/json")
_CSV_TYPES = ("text/csv", "application/csv")


@dataclass
class Snapshot:
    """Data fetched from a source, ready to add: a table, or raw bytes in a table format."""

    source: dict[str, Any]
    table: pa.Table | None = None
    payload: bytes | None = None
    format: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def from_sql(query: str, db_url: str) -> Snapshot:
    """The result of ``query`` on the database at ``db_url``: PostgreSQL, MySQL/MariaDB or
    SQLite, each opened so that the query cannot write (a read-only transaction, or a
    read-only SQLite file), and rolled back afterwards."""
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("the SQL query is empty", hint='pass --sql "SELECT ..."')
    shown = describe_url(db_url)
    try:
        url = make_url(db_url)
    except ArgumentError as exc:
        raise InvalidInput(f"cannot use database URL '{shown}': {exc}") from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        url = _read_only_sqlite(url, shown)
    elif backend not in ("postgresql", "mysql", "mariadb"):
        raise InvalidInput(
            f"cannot snapshot '{backend}' databases: there is no way here to open them read-only",
            hint="snapshots read PostgreSQL, MySQL/MariaDB and SQLite",
        )
    try:
        engine = create_engine(url)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise InvalidInput(
            f"cannot use database URL '{shown}': {exc}",
            hint="install the database's driver (psycopg, pymysql, ...)",
        ) from None
    try:
        with engine.connect() as connection:
            if backend == "postgresql":
                connection.execution_options(postgresql_readonly=True)
            elif backend in ("mysql", "mariadb"):
                connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            try:
                result = connection.execution_options(stream_results=True).execute(text(query))
                if not result.returns_rows:
                    raise InvalidInput(
                        "the SQL query returns no rows to snapshot", hint="use a SELECT query"
                    )
                names = list(result.keys())
                parts = [_rows_table(names, rows) for rows in result.partitions(_BATCH_ROWS)]
            finally:
                connection.rollback()
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise InvalidInput(
            f"the query on {shown} failed: {reason}", hint="check the query and the URL"
        ) from None
    finally:
        engine.dispose()
    table = _combine(parts, names)
    source = {"type": "sql", "db": shown, "query": query, "fetched_at": now_ms()}
    return Snapshot(source=source, table=table)


def _read_only_sqlite(url: Any, shown: str) -> Any:
    from pathlib import Path

    from sqlalchemy import make_url

    path = url.database
    if not path or path == ":memory:":
        raise InvalidInput(f"'{shown}' names no SQLite file", hint="use sqlite:///path/to/file.db")
    if not Path(path).is_file():
        raise InvalidInput(f"no SQLite database at {path}", hint="check the path")
    # mode=ro: the query cannot write, and a mistyped path is never created.
    return make_url(f"sqlite:///file:{Path(path).resolve()}?mode=ro&uri=true")


def _rows_table(names: list[str], rows: list[Any]) -> pa.Table:
    import pyarrow as pa

    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    arrays = []
    for name, values in zip(names, columns, strict=True):
        try:
            arrays.append(pa.array(list(values)))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInput(
                f"column '{name}' of the query result cannot be stored: {exc}",
                hint=f"cast it in the query, e.g. CAST({name} AS TEXT)",
            ) from None
    return pa.Table.from_arrays(arrays, names=names)


def _combine(parts: list[pa.Table], names: list[str]) -> pa.Table:
    import pyarrow as pa

    if not parts:
        return pa.table({name: pa.array([], pa.null()) for name in names})
    # A column that is all NULL in one batch and typed in another is promoted, not refused.
    return pa.concat_tables(parts, promote_options="permissive").combine_chunks()


def from_url(url: str, *, timeout: float = _URL_TIMEOUT_S) -> Snapshot:
    """An HTTP(S) answer holding a table: CSV, or JSON (an array of objects, or an object
    with one array of objects inside). The exact bytes are what the version stores."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidInput(f"'{url}' is not an http(s) URL", hint="pass --url https://...")
    request = urllib.request.Request(url, headers={"Accept": "application/json, text/csv"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
            status = response.status
            content_type = response.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        raise InvalidInput(
            f"GET {url} answered {exc.code} {exc.reason}", hint="check the URL"
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InvalidInput(f"cannot reach {url}: {reason}", hint="check the URL") from None
    fmt = _format_of(url, content_type, payload)
    source = {
        "type": "url",
        "url": url,
        "status": status,
        "content_type": content_type,
        "fetched_at": now_ms(),
        "name": url.rstrip("/").rsplit("/", 1)[-1].split("?")[0] or "answer",
    }
    return Snapshot(source=source, payload=payload, format=fmt)


def read_json_records(data: bytes, label: str) -> pa.Table:
    """A JSON array of objects (or an object wrapping exactly one such array) as a table."""
    import pyarrow as pa

    try:
        document = json.loads(data)
    except ValueError as exc:
        raise InvalidInput(f"{label} is not valid JSON: {exc}") from None
    records = document
    if isinstance(document, dict):
        arrays = [value for value in document.values() if isinstance(value, list)]
        if len(arrays) != 1:
            raise InvalidInput(
                f"{label} is a JSON object with {len(arrays)} arrays; expected one array of rows",
                hint="point at an endpoint that answers a list of objects",
            )
        records = arrays[0]
    if not isinstance(records, list) or not all(isinstance(row, dict) for row in records):
        raise InvalidInput(
            f"{label} is not a list of objects (rows)", hint="each row must be a JSON object"
        )
    try:
        return pa.Table.from_pylist(records)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInput(
            f"{label}: {exc}", hint="give each field one type in every row"
        ) from None


def _format_of(url: str, content_type: str, payload: bytes) -> str:
    path = url.split("?", 1)[0].lower()
    if path.endswith(".tsv") or content_type == "text/tab-separated-values":
        return "tsv"
    if content_type in _CSV_TYPES or path.endswith(".csv"):
        return "csv"
    if (
        content_type in _JSON_TYPES
        or path.endswith(".json")
        or payload.lstrip()[:1] in (b"[", b"{")
    ):
        return "json"
    raise InvalidInput(
        f"{url} answered '{content_type}', which is not a table",
        hint="snapshot a URL that answers JSON or CSV",
    )
