from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from loopml.config import resolve
from loopml.errors import SchemaTooNew
from loopml.store import open_store
from loopml.store.migrate import HEAD_REVISION, VERSION_TABLE, current_revision
from loopml.store.schema import metadata

pytestmark = pytest.mark.local_only("migrations run where the database is")


def test_head_constant_matches_the_newest_migration() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", "loopml.store:migrations")
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def test_a_new_store_gets_every_table_at_head(store) -> None:
    with store.engine.connect() as connection:
        assert current_revision(connection) == HEAD_REVISION
        tables = set(inspect(connection).get_table_names())
    assert set(metadata.tables) <= tables


def _schema_differences(connection) -> list:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    context = MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
    )
    return compare_metadata(context, metadata)


def test_a_new_store_is_created_at_head_with_the_declared_schema(store) -> None:
    with store.engine.connect() as connection:
        assert _schema_differences(connection) == []
        assert connection.execute(text("SELECT seq, hash FROM audit_head")).all() == [(0, "0" * 64)]


@pytest.mark.empty_database
def test_running_every_migration_gives_the_same_schema(backend, project) -> None:
    """The fast path for new stores and the migration chain must never drift apart."""
    from alembic import command

    from loopml.store.engine import create_store_engine
    from loopml.store.migrate import _alembic_config

    url = resolve().db_url
    if url.startswith("sqlite"):
        (project / ".loopml").mkdir()
    engine = create_store_engine(url)
    with engine.connect() as connection:
        config = _alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()
        assert current_revision(connection) == HEAD_REVISION
        assert _schema_differences(connection) == []
        assert connection.execute(text("SELECT seq, hash FROM audit_head")).all() == [(0, "0" * 64)]
    engine.dispose()


def test_a_database_holding_other_apps_tables_keeps_them(project) -> None:
    import sqlite3

    (project / ".loopml").mkdir()
    with sqlite3.connect(project / ".loopml" / "loopml.db") as db:
        db.execute("CREATE TABLE someone_elses (x INTEGER)")
    store = open_store(resolve())
    with store.engine.connect() as connection:
        assert current_revision(connection) == HEAD_REVISION
        assert "someone_elses" in inspect(connection).get_table_names()
    store.close()


_OPEN_AT_ONCE = """
import sys, time
from loopml.config import resolve
from loopml.store import open_store
start = float(sys.argv[1])
while time.time() < start:
    time.sleep(0.001)
store = open_store(resolve())
with store.read() as c:
    pass
print("ok")
"""


@pytest.mark.slow
@pytest.mark.empty_database
def test_many_processes_opening_a_new_store_at_once_migrate_it_once(backend, project) -> None:
    import time

    start = time.time() + 1.5
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_AT_ONCE, str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    results = [process.communicate(timeout=120) for process in processes]
    for process, (out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err
        assert out.strip() == "ok"
    store = open_store(resolve())
    with store.engine.connect() as connection:
        versions = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
        heads = connection.execute(text("SELECT count(*) FROM audit_head")).scalar_one()
    store.close()
    assert versions == [(HEAD_REVISION,)]
    assert heads == 1


def test_a_store_from_a_newer_loopml_is_refused_with_a_clear_error(project: Path) -> None:
    store = open_store(resolve())
    store.close()
    engine = create_engine(resolve().db_url)
    with engine.begin() as connection:
        connection.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(SchemaTooNew, match="'9999'.*does not know") as caught:
        open_store(resolve())
    assert "pip install -U loopml" in str(caught.value)
