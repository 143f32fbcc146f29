"""Fixtures on real parts: SQLite files in temp dirs, a fresh PostgreSQL database per test,
an S3-compatible server (moto) on loopback. Nothing of loopml's own is mocked."""

from __future__ import annotations

import functools
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from loopml.config import resolve
from loopml.store import Store, close_default_stores, default_store, open_store

from .helpers import free_port

if TYPE_CHECKING:
    import pandas as pd

PG_ENV = "LOOPML_TEST_POSTGRES_URL"
_LOOPML_ENV = ("LOOPML_HOME", "LOOPML_DB_URL", "LOOPML_ARTIFACTS_URL", "LOOPML_EXPERIMENT")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test sees the developer's own store or leaves runs open for the next one."""
    for name in _LOOPML_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOOPML_USER", "tester")
    yield
    from loopml.tracking import fluent

    while fluent.active_run() is not None:
        fluent.end_run()
    close_default_stores()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory with an embedded store, as the working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path / ".loopml"))
    return tmp_path


# --- PostgreSQL -------------------------------------------------------------------------


@functools.cache
def _postgres_problem() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    url = os.environ.get(PG_ENV)
    if not url:
        return f"set {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
    import psycopg

    try:
        with psycopg.connect(_libpq(url), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {url} is not reachable: {str(exc).strip().splitlines()[0]}"


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture(scope="session")
def _pg_template() -> Iterator[str]:
    """A database migrated to head once per test worker, which each test's database is
    copied from (CREATE DATABASE ... TEMPLATE: a file copy, not a migration per test)."""
    problem = _postgres_problem()
    if problem:
        pytest.skip(problem)
    import psycopg
    from sqlalchemy import make_url

    from loopml.store.engine import create_store_engine
    from loopml.store.migrate import ensure_schema

    base = make_url(os.environ[PG_ENV])
    name = f"loopml_template_{secrets.token_hex(6)}"
    admin = _libpq(base.render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    engine = create_store_engine(base.set(database=name).render_as_string(hide_password=False))
    ensure_schema(engine)
    engine.dispose()  # a template must have no session open while it is copied
    try:
        yield name
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a new PostgreSQL database holding an empty store at head (an empty
    database for a test marked ``empty_database``), dropped after the test."""
    problem = _postgres_problem()
    if problem:
        pytest.skip(problem)
    import psycopg
    from sqlalchemy import make_url

    empty = request.node.get_closest_marker("empty_database") is not None
    template = "" if empty else f' TEMPLATE "{request.getfixturevalue("_pg_template")}"'
    base = make_url(os.environ[PG_ENV])
    name = f"loopml_test_{secrets.token_hex(6)}"
    admin = _libpq(base.render_as_string(hide_password=False))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"{template}')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        close_default_stores()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres", "remote"])
def backend(
    request: pytest.FixtureRequest, project: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """Runs the test on the embedded SQLite store, on PostgreSQL (env points at it) and
    through a team server (``LOOPML_SERVER``) serving a SQLite store of its own."""
    if request.param == "postgres":
        monkeypatch.setenv("LOOPML_DB_URL", request.getfixturevalue("pg_url"))
    if request.param == "remote":
        yield from _served_remotely(request, monkeypatch)
    else:
        yield request.param


def _served_remotely(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The test's own store served by this worker's team server, ``LOOPML_SERVER`` pointing
    at it: every ``default_store()`` of the test (and of the processes it starts) is a
    client of it. Skips a test marked ``local_only``."""
    local_only = request.node.get_closest_marker("local_only")
    if local_only is not None:
        pytest.skip(f"needs a local store: {local_only.args[0]}")
    server = request.getfixturevalue("team_server")
    served = open_store(resolve())
    server.target.app = _server_app(served)
    monkeypatch.setenv("LOOPML_SERVER", server.url)
    request.node.served_store = served
    try:
        yield "remote"
    finally:
        close_default_stores()
        server.target.app = None
        served.close()


@pytest.fixture(params=["local", "remote"])
def mode(
    request: pytest.FixtureRequest, project: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """For tests that run whole programs on the default store (pipelines, the CLI): the
    embedded store, and the same store through a team server."""
    if request.param == "remote":
        yield from _served_remotely(request, monkeypatch)
    else:
        yield request.param


def _server_app(store: Store) -> Any:
    from loopml.server.app import ServerSettings, build_app

    return build_app(store, ServerSettings(ui=False))


@pytest.fixture(scope="session")
def team_server() -> Iterator[Any]:
    """One real uvicorn server per test worker; each remote test points it at its store."""
    from .serverthread import ThreadServer

    server = ThreadServer().start()
    yield server
    server.stop()


@pytest.fixture
def store(backend: str) -> Iterator[Store]:
    """An open store on each backend, with blobs in the project directory."""
    opened = open_store(resolve())
    yield opened
    opened.close()


@pytest.fixture
def db(request: pytest.FixtureRequest) -> Store:
    """Where the test's data lives, to look inside: its store, or for a remote test the
    server's own store (a client has no database to read)."""
    if "backend" in request.fixturenames:
        found: Store = request.getfixturevalue("store")
    else:
        request.getfixturevalue("mode")
        found = default_store()
    return getattr(request.node, "served_store", found)


# --- S3 (moto server on loopback) -------------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible HTTP server (moto in server mode) for the whole session."""
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("moto server did not start")
    yield endpoint
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def s3_url(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """``s3://<new bucket>/prefix`` on the loopback server, with credentials in the env."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    bucket = f"loopml-{secrets.token_hex(4)}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/artifacts"


# --- Models -----------------------------------------------------------------------------


@pytest.fixture
def churn() -> pd.DataFrame:
    """Synthetic customers with a churn label (see tests/modeldata.py)."""
    from .modeldata import churn_frame

    return churn_frame()


@pytest.fixture
def churn_model(churn: pd.DataFrame) -> Any:
    """A fitted scikit-learn pipeline (scaling, one-hot, logistic regression) on ``churn``."""
    from .modeldata import fit_pipeline

    return fit_pipeline(churn)
