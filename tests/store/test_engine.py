from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from loopml.config import resolve
from loopml.errors import ProjectNotFound, StoreError
from loopml.store import open_store
from loopml.store.engine import describe_url

from ..helpers import loopml_cli


def test_sqlite_store_uses_wal_busy_timeout_and_foreign_keys(project: Path) -> None:
    store = open_store(resolve())
    with store.read() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 30_000
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    store.close()


def test_default_store_lives_in_dot_loopml_of_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store()
    store.close()
    assert (tmp_path / ".loopml" / "loopml.db").is_file()


def test_reading_without_a_store_says_how_to_create_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProjectNotFound, match="loopml init"):
        open_store(create=False)
    assert not (tmp_path / ".loopml").exists()


def test_an_unsupported_database_url_is_named(project: Path, monkeypatch) -> None:
    monkeypatch.setenv("LOOPML_DB_URL", "mysql://root@localhost/db")
    with pytest.raises(StoreError, match="mysql://root@localhost/db.*not supported"):
        open_store(resolve())


def test_an_unreachable_postgres_url_gives_one_clear_line_without_the_password(
    project: Path,
) -> None:
    url = "postgresql+psycopg://ana:s3cret@127.0.0.1:1/nowhere"
    done = loopml_cli("runs", "ls", cwd=project, env={"LOOPML_DB_URL": url})
    assert done.returncode == 5
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: cannot use the database at postgresql+psycopg://ana:***@")
    assert "s3cret" not in done.stderr
    assert "LOOPML_DB_URL" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_describe_url_hides_passwords() -> None:
    assert describe_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"


def _read_only_prefix() -> list[str] | None:
    """How to run a command that cannot write to a 0555 directory, or None if impossible."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    # root ignores permission bits; without these capabilities it honours them
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


def test_a_read_only_store_directory_fails_clearly_and_changes_nothing(project: Path) -> None:
    prefix = _read_only_prefix()
    if prefix is None:
        pytest.skip("running as root without setpriv: cannot make a directory read-only")
    assert loopml_cli("init", cwd=project).returncode == 0
    home = project / ".loopml"
    before = {p.name: p.stat().st_size for p in home.iterdir()}
    for path in [home, *home.iterdir()]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        done = loopml_cli("experiments", "create", "churn", cwd=project, prefix=prefix)
    finally:
        for path in [home, *home.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert done.returncode == 5, done.stderr
    assert "Traceback" not in done.stderr
    assert "cannot be written" in done.stderr
    assert str(home) in done.stderr
    after = {p.name: p.stat().st_size for p in home.iterdir()}
    assert after == before
    listed = loopml_cli("experiments", "ls", "--json", cwd=project)
    assert listed.returncode == 0
    assert listed.stdout.strip() == "[]"
