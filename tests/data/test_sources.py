"""Snapshots from a real PostgreSQL database and a real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import loopml
from loopml.data.sources import from_sql, from_url
from loopml.data.versioning import add, read_version_table
from loopml.errors import InvalidInput

from ..helpers import free_port, loopml_cli

ANSWERS: dict[str, tuple[int, str, bytes]] = {
    "/customers.json": (
        200,
        "application/json",
        json.dumps([{"id": 1, "plan": "basic"}, {"id": 2, "plan": "pro"}]).encode(),
    ),
    "/wrapped": (200, "application/json", json.dumps({"results": [{"a": 1}], "n": 1}).encode()),
    "/two-lists": (
        200,
        "application/json",
        json.dumps({"a": [{"x": 1}], "b": [{"y": 2}]}).encode(),
    ),
    "/orders.csv": (200, "text/csv", b"id,total\n1,9.5\n2,20\n"),
    "/page.html": (200, "text/html", b"<html>not a table</html>"),
    "/scalars": (200, "application/json", b"[1, 2, 3]"),
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, content_type, body = ANSWERS.get(self.path, (404, "text/plain", b"nope"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def orders_db(pg_url: str) -> str:
    engine = create_engine(pg_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE orders (id int, total numeric(8,2), placed date)"))
        connection.execute(
            text("INSERT INTO orders VALUES (1, 9.50, '2026-11-01'), (2, 20, '2026-11-02')")
        )
    engine.dispose()
    return pg_url


def test_a_postgres_query_becomes_a_version_with_its_origin(project: Path, orders_db: str) -> None:
    result = loopml.data.add(
        "orders",
        loopml.data.from_sql("SELECT id, total, placed FROM orders ORDER BY id", orders_db),
    )
    version = result.version
    assert (version.kind, version.format, version.row_count) == ("table", "parquet", 2)
    assert version.source["type"] == "sql"
    assert version.source["query"].startswith("SELECT id")
    frame = loopml.data.load("orders")
    assert list(frame["id"]) == [1, 2]
    assert [str(d) for d in frame["placed"]] == ["2026-11-01", "2026-11-02"]
    again = loopml.data.add(
        "orders",
        loopml.data.from_sql("SELECT id, total, placed FROM orders ORDER BY id", orders_db),
    )
    assert not again.created  # the same answer makes no new version


def test_a_snapshot_never_writes_to_the_database(project: Path, orders_db: str) -> None:
    with pytest.raises(InvalidInput, match="the query on .* failed: "):
        from_sql("DELETE FROM orders RETURNING id", orders_db)
    engine = create_engine(orders_db)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM orders")).scalar_one() == 2
    engine.dispose()


def test_the_password_is_never_recorded(project: Path, orders_db: str) -> None:
    with_password = orders_db.replace("postgres@", "postgres:secret@", 1)
    snapshot = from_sql("SELECT 1 AS one", with_password)
    assert "secret" not in json.dumps(snapshot.source)
    assert ":***@" in snapshot.source["db"]


@pytest.mark.parametrize(
    ("query", "db", "message"),
    [
        ("SELECT * FROM nowhere", None, 'failed: relation "nowhere" does not exist'),
        ("", None, "the SQL query is empty"),
        ("SELECT 1", "postgresql+psycopg://u@127.0.0.1:1/x", "failed: connection"),
        ("SELECT 1", "nonsense://x", "cannot snapshot 'nonsense' databases"),
        ("SELECT 1", "sqlite:////no/such/file.db", "no SQLite database at /no/such/file.db"),
    ],
)
def test_bad_queries_and_databases_are_refused_clearly(
    orders_db: str, query: str, db: str | None, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        from_sql(query, db or orders_db)


def test_a_sqlite_query_works_the_same(store, tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE items (name text, price real)"))
        connection.execute(text("INSERT INTO items VALUES ('pen', 1.5), ('ink', 4.0)"))
    engine.dispose()
    snapshot = from_sql("SELECT * FROM items", f"sqlite:///{tmp_path / 'shop.db'}")
    version = add(store, "items", snapshot).version
    assert read_version_table(store, version).column("name").to_pylist() == ["pen", "ink"]
    with pytest.raises(InvalidInput, match="readonly"):
        from_sql("DELETE FROM items RETURNING name", f"sqlite:///{tmp_path / 'shop.db'}")


@pytest.mark.parametrize(
    ("path", "fmt", "rows"),
    [("/customers.json", "json", 2), ("/orders.csv", "csv", 2), ("/wrapped", "json", 1)],
)
def test_an_http_answer_becomes_a_version_with_its_exact_bytes(
    store, api: str, path: str, fmt: str, rows: int
) -> None:
    version = add(store, "api", from_url(api + path)).version
    assert (version.format, version.row_count) == (fmt, rows)
    assert version.source["url"] == api + path
    assert version.source["status"] == 200
    assert store.blobs.read_bytes(version.blob) == ANSWERS[path][2]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/missing", "answered 404 Not Found"),
        ("/page.html", "answered 'text/html', which is not a table"),
        ("/two-lists", "JSON object with 2 arrays"),
        ("/scalars", "is not a list of objects"),
    ],
)
def test_http_answers_that_are_not_tables_are_refused(
    store, api: str, path: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        add(store, "api", from_url(api + path))


def test_an_unreachable_url_or_a_non_http_one_is_refused() -> None:
    with pytest.raises(InvalidInput, match="cannot reach http://127.0.0.1:1/x"):
        from_url("http://127.0.0.1:1/x", timeout=5)
    with pytest.raises(InvalidInput, match="is not an http"):
        from_url("file:///etc/passwd")


def test_the_cli_snapshots_sql_and_urls(project: Path, orders_db: str, api: str) -> None:
    done = loopml_cli(
        "data", "add", "orders", "--sql", "SELECT * FROM orders", "--db", orders_db, cwd=project
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Added orders@1: table, 2 rows × 3 columns (parquet)")
    fetched = loopml_cli("data", "add", "customers", "--url", api + "/customers.json", cwd=project)
    assert fetched.returncode == 0, fetched.stderr
    shown = loopml_cli("data", "show", "customers", cwd=project).stdout
    assert "/customers.json (200, application/json)" in shown
    both = loopml_cli("data", "add", "x", "file.csv", "--url", api + "/orders.csv", cwd=project)
    assert both.returncode == 2
    assert "exactly one of PATH, --sql or --url (got PATH, --url)" in both.stderr
    no_db = loopml_cli("data", "add", "x", "--sql", "SELECT 1", cwd=project)
    assert no_db.returncode == 2
    assert "--sql needs --db" in no_db.stderr
