"""Content that changes while it is added, or arrives corrupt, never lands under a hash."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from loopml.artifacts import open_blob_store
from loopml.data.content import ingest_folder
from loopml.data.remotes import pull, push
from loopml.data.scan import scan_folder
from loopml.data.statcache import StatCache, file_stat
from loopml.data.versioning import _prepare, add, get_version, materialize, stat_cache_path
from loopml.errors import InvalidInput, NotFound

from ..helpers import loopml_cli


def test_a_file_rewritten_between_hashing_and_storing_is_refused(store, tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"old content")
    with StatCache(stat_cache_path(store)) as cache:
        prepared = _prepare(store, path, cache, lambda _n: None)
    time.sleep(0.01)
    path.write_bytes(b"NEW content")  # same size, after the hash
    with pytest.raises(InvalidInput, match="changed while it was being added"):
        prepared.store_content(store, lambda _n: None)
    assert not store.blobs.exists(prepared.content_hash)


def test_a_small_file_that_grows_after_the_walk_is_refused(store, tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "log.txt").write_text("line 1\n")
    found = scan_folder(folder)
    with (folder / "log.txt").open("a") as log:
        log.write("line 2\n")
    with StatCache(stat_cache_path(store)) as cache, pytest.raises(InvalidInput, match="changed"):
        ingest_folder(store, found, cache, folder.resolve(), lambda _n: None)


@pytest.mark.parametrize("change", ["shrink", "delete"])
def test_a_small_file_that_shrinks_or_goes_after_the_walk_is_refused(
    store, tmp_path: Path, change: str, db
) -> None:
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "log.txt").write_text("line 1\nline 2\n")
    found = scan_folder(folder)
    if change == "shrink":
        (folder / "log.txt").write_text("line 1\n")
    else:
        (folder / "log.txt").unlink()
    with StatCache(stat_cache_path(store)) as cache, pytest.raises(InvalidInput, match="changed"):
        ingest_folder(store, found, cache, folder.resolve(), lambda _n: None)
    assert not list(db.blobs.iter_hashes())


def test_a_warm_re_add_reads_only_the_files_that_changed(store, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(20):
        (folder / f"{index:02}.txt").write_text(f"file {index}\n")
    time.sleep(0.05)  # beyond the racily-clean window, so the stat cache keeps them
    first = add(store, "many", folder)
    assert first.created
    (folder / "07.txt").write_text("file 7, edited\n")
    with StatCache(stat_cache_path(store)) as cache:
        ingested = ingest_folder(
            store, scan_folder(folder), cache, folder.resolve(), lambda _n: None
        )
    assert [ingested.found[index].relative for index in ingested.misses] == ["07.txt"]
    second = add(store, "many", folder)
    assert second.created and second.version.version == 2


def test_an_edit_during_get_is_seen_by_the_next_add(store, tmp_path: Path) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    for name in ("a.txt", "b.txt"):
        (folder / name).write_text(f"{name} v1\n")
    add(store, "ds", folder)
    out = tmp_path / "out"
    edited = []

    def edit_first_file(_count: int) -> None:
        if not edited:  # the one file written so far, rewritten while get goes on
            (first,) = [path for path in out.iterdir() if not path.name.startswith(".")]
            edited.append(first)
            time.sleep(0.03)
            first.write_text(first.read_text().replace("v1", "v2"))  # same size

    materialize(store, "ds@1", out, progress=edit_first_file)
    time.sleep(0.05)
    again = add(store, "ds", out)
    assert again.created
    assert get_version(store, "ds@2").content_hash != get_version(store, "ds@1").content_hash


def test_a_corrupt_copy_never_removes_a_good_blob(
    project: Path, tmp_path: Path, monkeypatch
) -> None:
    from loopml.config import resolve
    from loopml.store import open_store

    store = open_store(resolve())
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "hello.txt").write_bytes(b"hello")
    empty = add(store, "empty", tmp_path / "empty.txt").version
    hello = add(store, "hello", tmp_path / "hello.txt").version
    remote = tmp_path / "remote"
    push(store, [], str(remote))
    blob = open_blob_store(str(remote)).path_of(hello.blob)  # type: ignore[attr-defined]
    blob.chmod(0o644)
    blob.write_bytes(b"")  # corrupt: now it holds what the empty blob holds
    store.blobs.delete(hello.blob)
    report = pull(store, ["hello"], str(remote))
    assert report.failed and "does not match its hash" in report.failed[0]
    assert store.blobs.exists(empty.blob)  # the good blob with that content is still there
    assert not store.blobs.exists(hello.blob)
    store.close()


def test_pulling_a_folder_through_the_cli_fetches_its_manifest_first(
    project: Path, tmp_path: Path, monkeypatch
) -> None:
    folder = project / "images"
    folder.mkdir()
    for index in range(5):
        (folder / f"{index}.bin").write_bytes(os.urandom(100))
    assert loopml_cli("data", "add", "images", "images", cwd=project).returncode == 0
    remote = str(tmp_path / "remote")
    assert loopml_cli("data", "push", "--remote", remote, cwd=project).returncode == 0
    elsewhere = {"LOOPML_ARTIFACTS_URL": str(tmp_path / "elsewhere")}
    pulled = loopml_cli("data", "pull", "--remote", remote, cwd=project, env=elsewhere)
    assert pulled.returncode == 0, pulled.stderr
    got = loopml_cli("data", "get", "images", str(tmp_path / "out"), cwd=project, env=elsewhere)
    assert got.returncode == 0, got.stderr


def test_tsv_versions_load_with_their_delimiter(store, tmp_path: Path) -> None:
    from loopml.data.versioning import read_version_table

    (tmp_path / "t.tsv").write_text("a\tb\n1\tx\n2\ty\n")
    version = add(store, "tsv", tmp_path / "t.tsv").version
    assert version.format == "tsv"
    assert read_version_table(store, version).column_names == ["a", "b"]


@pytest.mark.parametrize(("name", "message"), [("bad\x01name.txt", "control character")])
def test_file_names_that_cannot_come_back_are_refused_at_add(
    store, tmp_path: Path, name: str, message: str
) -> None:
    folder = tmp_path / "names"
    folder.mkdir()
    (folder / name).write_text("x")
    with pytest.raises(InvalidInput, match=message):
        add(store, "names", folder)


def test_a_non_utf8_file_name_is_refused_at_add(store, tmp_path: Path) -> None:
    folder = tmp_path / "names"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"\xff.txt"), "wb") as handle:
        handle.write(b"x")
    with pytest.raises(InvalidInput, match="not valid UTF-8"):
        add(store, "names", folder)


def test_names_with_colons_come_back(store, tmp_path: Path) -> None:
    folder = tmp_path / "names"
    folder.mkdir()
    (folder / "a:b.txt").write_text("colon")
    (folder / "2026-11-26T10:00.csv").write_text("x\n1\n")
    add(store, "names", folder)
    materialize(store, "names", tmp_path / "out")
    assert (tmp_path / "out" / "a:b.txt").read_text() == "colon"


def test_racily_clean_entries_are_not_cached(tmp_path: Path) -> None:
    path = tmp_path / "fresh.txt"
    path.write_text("x")
    fresh = file_stat(path.stat())
    old = (fresh[0], fresh[1], fresh[2] - 10**10, fresh[3] - 10**10)  # ten seconds older
    with StatCache(tmp_path / "cache.db") as cache:
        cache.remember_folder(
            tmp_path, [(str(path), fresh, "h1"), (str(tmp_path / "o"), old, "h2")]
        )
        assert cache.snapshot(tmp_path).paths == [str(tmp_path / "o")]


def test_a_dataset_with_a_schema_but_no_version_says_so(store) -> None:
    import pyarrow as pa

    from loopml.data.checking import set_schema
    from loopml.data.schema import infer_schema

    set_schema(store, "later", infer_schema(pa.table({"a": [1, 2]})).to_yaml())
    with pytest.raises(NotFound, match="dataset 'later' has no versions yet"):
        get_version(store, "later")


def test_sql_snapshots_promote_types_and_never_create_sqlite_files(tmp_path: Path) -> None:
    import sqlite3

    from loopml.data.sources import from_sql

    db = tmp_path / "numbers.db"
    sqlite3.connect(db).close()
    query = (
        "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < 60000) "
        "SELECT x, CASE WHEN x > 50000 THEN x END AS late FROM g"
    )
    table = from_sql(query, f"sqlite:///{db}").table
    assert table.num_rows == 60000
    assert table.column("late").null_count == 50000
    with pytest.raises(InvalidInput, match="no SQLite database"):
        from_sql("SELECT 1", f"sqlite:///{tmp_path / 'typo.db'}")
    assert not (tmp_path / "typo.db").exists()
    with pytest.raises(InvalidInput, match="cannot snapshot 'mssql'"):
        from_sql("SELECT 1", "mssql+pyodbc://u@h/db")
