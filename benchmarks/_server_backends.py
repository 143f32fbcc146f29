"""The databases and the server processes ``server.py`` measures.

- :class:`Databases`: a fresh PostgreSQL database for each tool (``bench_loopml_<rand>``,
  ``bench_mlflow_<rand>``) created through the admin URL and dropped at the end, or, when
  PostgreSQL cannot be reached, a SQLite file for each in the run's temporary directory.
- :class:`ServerProcess`: ``loopml server`` or ``mlflow server`` started in a session of
  its own (so one SIGTERM to its process group stops the whole tree), ready once its
  health route answers 200, its output in a log file.

Runs in loopml's venv (psycopg is one of loopml's PostgreSQL dependencies).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _harness import BenchmarkError

HOST = "127.0.0.1"
ADMIN_URL_VARIABLE = "LOOPML_BENCH_POSTGRES_URL"
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
STOP_TIMEOUT = 20.0


def libpq_url(url: str) -> str:
    """``postgresql+psycopg://...`` as libpq (and psycopg2) take it: ``postgresql://...``."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


def mlflow_postgres_url(url: str) -> str:
    """``url`` with psycopg2 named as the driver: MLflow's documented driver, and the one
    the peer venv installs (SQLAlchemy 2.1 takes psycopg 3 for a bare ``postgresql://``)."""
    return "postgresql+psycopg2://" + url.partition("://")[2]


def with_database(url: str, name: str) -> str:
    """``url`` naming database ``name`` instead of the one it names."""
    head, _, tail = url.partition("://")
    authority, _, path = tail.partition("/")
    query = path.partition("?")[2]
    return f"{head}://{authority}/{name}" + (f"?{query}" if query else "")


@dataclass
class Databases:
    """Each tool's metadata database for this run."""

    kind: str  # "postgresql" or "sqlite"
    loopml_url: str  # SQLAlchemy URL for loopml (postgresql+psycopg:// or sqlite:///)
    mlflow_url: str  # SQLAlchemy URL for MLflow (postgresql+psycopg2:// or sqlite:///)
    admin_url: str | None = None
    names: list[str] = field(default_factory=list)
    note: str = ""
    server_version: str = ""

    @classmethod
    def create(cls, work: Path, *, force_sqlite: bool = False) -> Databases:
        """Fresh databases on PostgreSQL when it answers, else SQLite files in ``work``."""
        admin = os.environ.get(ADMIN_URL_VARIABLE, DEFAULT_ADMIN_URL)
        reason = "--sqlite was given" if force_sqlite else None
        if reason is None:
            created: list[str] = []
            try:
                import psycopg

                with psycopg.connect(libpq_url(admin), autocommit=True, connect_timeout=5) as db:
                    version = db.execute("SHOW server_version").fetchone()[0]
                    suffix = secrets.token_hex(4)
                    try:
                        for name in (f"bench_loopml_{suffix}", f"bench_mlflow_{suffix}"):
                            db.execute(f'CREATE DATABASE "{name}"')
                            created.append(name)
                    except Exception:
                        for name in created:  # leave nothing behind
                            db.execute(f'DROP DATABASE IF EXISTS "{name}"')
                        raise
            except Exception as exc:  # PostgreSQL unreachable or unusable: fall back
                why = " ".join(str(exc).split())
                reason = f"cannot use PostgreSQL at {admin} ({type(exc).__name__}: {why})"
            else:
                return cls(
                    kind="postgresql",
                    loopml_url=with_database(admin, created[0]),
                    mlflow_url=mlflow_postgres_url(with_database(admin, created[1])),
                    admin_url=admin,
                    names=created,
                    server_version=str(version),
                )
        return cls(
            kind="sqlite",
            loopml_url=f"sqlite:///{work / 'loopml.db'}",
            mlflow_url=f"sqlite:///{work / 'mlflow.db'}",
            note=f"{reason}: both servers use SQLite files instead",
        )

    def vacuum_analyze(self) -> float:
        """``VACUUM ANALYZE`` each database (what autovacuum does soon after a bulk load),
        so that neither planner works from an empty table's statistics; seconds taken."""
        began = time.perf_counter()
        if self.kind == "postgresql":
            import psycopg

            for name in self.names:
                url = libpq_url(with_database(self.admin_url or "", name))
                with psycopg.connect(url, autocommit=True) as db:
                    db.execute("VACUUM ANALYZE")
        else:
            import sqlite3

            for url in (self.loopml_url, self.mlflow_url):
                with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db:
                    db.execute("ANALYZE")
                    db.commit()
        return time.perf_counter() - began

    def drop(self) -> None:
        """Drop the PostgreSQL databases (closing any connection left to them)."""
        if self.kind != "postgresql":
            return
        import psycopg

        with psycopg.connect(libpq_url(self.admin_url or ""), autocommit=True) as db:
            for name in self.names:
                db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def describe(self) -> str:
        if self.kind == "postgresql":
            return f"PostgreSQL {self.server_version} on {HOST} (databases {', '.join(self.names)})"
        return "SQLite files"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def health(port: int, path: str) -> int | None:
    """The status ``GET path`` answers on ``port`` (None: nothing listens yet)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        return None
    finally:
        connection.close()


@dataclass
class ServerProcess:
    """One server in a session of its own."""

    tool: str
    command: list[str]
    env: dict[str, str]
    port: int
    ready_path: str
    log: Path
    cwd: Path
    process: subprocess.Popen[bytes] | None = None
    ready_s: float = 0.0

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 120.0) -> None:
        began = time.perf_counter()
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        while health(self.port, self.ready_path) != 200:
            if self.process.poll() is not None:
                raise BenchmarkError(
                    f"{self.tool} server exited with {self.process.returncode} before it was "
                    f"ready:\n{self.tail()}"
                )
            if time.perf_counter() - began > timeout:
                raise BenchmarkError(
                    f"{self.tool} server not ready after {timeout:.0f} s:\n{self.tail()}"
                )
            time.sleep(0.05)
        self.ready_s = time.perf_counter() - began

    def tail(self, lines: int = 25) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> dict[str, Any]:
        """SIGTERM to the process group; SIGKILL after ``STOP_TIMEOUT`` s."""
        if self.process is None:
            return {"stopped": False}
        pgid = self.process.pid
        killed = False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            killed = True
        deadline = time.monotonic() + (0 if killed else 5)
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _group_alive(pgid):
            killed = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            self.process.wait()
        self.process = None
        return {"stopped": True, "killed": killed}


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
