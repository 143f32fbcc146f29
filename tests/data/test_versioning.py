from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from sqlalchemy import func, select

import loopml
from loopml.data.versioning import (
    add,
    get_version,
    list_datasets,
    list_versions,
    manifest,
    materialize,
    read_version_table,
    run_inputs_of,
    tag_version,
)
from loopml.errors import InvalidInput, NotFound
from loopml.governance import list_events
from loopml.store.schema import blobs, dataset_versions


def _write_folder(root: Path, files: dict[str, bytes]) -> Path:
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _count(store, table) -> int:
    with store.read() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_a_csv_becomes_a_table_version_with_rows_and_columns(store, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("id,plan,spend\n1,basic,9.5\n2,pro,20\n")
    result = add(store, "customers", path, message="March export")
    version = result.version
    assert result.created
    assert (version.ref, version.kind, version.format) == ("customers@1", "table", "csv")
    assert version.row_count == 2
    assert version.columns == [("id", "int64"), ("plan", "string"), ("spend", "double")]
    assert version.message == "March export"
    assert version.author == "tester"
    assert version.source["name"] == "customers.csv"
    assert version.parent_version is None


def test_an_unchanged_dataset_makes_no_new_version(store, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("x\n1\n")
    first = add(store, "a", path)
    again = add(store, "a", path)
    assert not again.created
    assert again.version == first.version
    assert [v.version for v in list_versions(store, "a")] == [1]


def test_a_change_with_the_same_size_is_seen(store, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("x\n1\n")
    add(store, "a", path)
    stat = path.stat()
    path.write_text("x\n2\n")  # same size...
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ...and the old mtime restored
    second = add(store, "a", path)
    assert second.created
    assert second.version.version == 2
    assert second.version.parent_version == 1
    assert read_version_table(store, second.version).column("x").to_pylist() == [2]


def test_folders_are_versioned_by_manifest_and_come_back_byte_identical(
    store, tmp_path: Path
) -> None:
    big = os.urandom(3 * 1024 * 1024)  # stored as a blob of its own
    folder = _write_folder(
        tmp_path / "images",
        {"a/1.txt": b"one", "a/2.txt": b"two", "b/3.txt": b"three", "big.bin": big},
    )
    first = add(store, "images", folder).version
    assert (first.kind, first.file_count, first.size) == ("folder", 4, 3 + 3 + 5 + len(big))
    assert [entry.path for entry in manifest(store, first)] == [
        "a/1.txt",
        "a/2.txt",
        "b/3.txt",
        "big.bin",
    ]
    (folder / "a" / "2.txt").write_bytes(b"TWO")
    second = add(store, "images", folder).version
    assert second.version == 2
    assert second.content_hash != first.content_hash
    out = tmp_path / "out"
    materialize(store, "images@1", out)
    assert (out / "a" / "2.txt").read_bytes() == b"two"
    assert (out / "big.bin").read_bytes() == big
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "a/1.txt",
        "a/2.txt",
        "b/3.txt",
        "big.bin",
    ]


def test_content_is_stored_once_across_versions_and_datasets(store, tmp_path: Path, db) -> None:
    files = {f"f{i}.txt": f"content {i}".encode() for i in range(200)}
    folder = _write_folder(tmp_path / "one", files)
    add(store, "one", folder)
    packs = _count(db, blobs)
    (folder / "f0.txt").write_bytes(b"new content")  # one new file in a new version
    add(store, "one", folder)
    assert _count(db, blobs) == packs + 2  # a pack with the new file, a new manifest
    copy = _write_folder(tmp_path / "two", files)  # the same files elsewhere
    two = add(store, "two", copy).version
    assert _count(db, blobs) == packs + 2  # nothing new: even the manifest is the same
    assert two.blob == get_version(store, "one@1").blob


def test_dataframes_from_pandas_polars_and_arrow(store) -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    for library, data in (
        ("pandas", frame),
        ("polars", pl.from_pandas(frame)),
        ("pyarrow", pa.Table.from_pandas(frame)),
    ):
        version = add(store, f"t-{library}", data).version
        assert version.source == {"type": "dataframe", "library": library}
        assert read_version_table(store, version).to_pandas().equals(frame)
    assert not add(store, "t-pandas", frame.copy()).created  # same content, no new version


def test_refs_tags_and_the_latest_version(store, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    for value in (1, 2, 3):
        path.write_text(f"x\n{value}\n")
        add(store, "a", path)
    assert get_version(store, "a").version == 3
    assert get_version(store, "a@latest").version == 3
    assert get_version(store, "a@v2").version == 2
    tag_version(store, "a@2", "gold")
    assert get_version(store, "a@gold").version == 2
    tag_version(store, "a@3", "gold")  # tags move
    assert get_version(store, "a@gold").version == 3
    assert get_version(store, "a@3").tags == ["gold"]
    moved = list_events(store, action="dataset.tag")[0]
    assert moved.before == {"tag": "gold", "version": 2}
    assert moved.after == {"tag": "gold", "version": 3}


@pytest.mark.parametrize(
    ("ref", "error", "message"),
    [
        ("a@99", NotFound, "dataset 'a' has no version 99; latest is 1"),
        ("nope", NotFound, "no dataset named 'nope'"),
        ("a@silver", NotFound, "dataset 'a' has no tag 'silver'"),
        ("a@0", InvalidInput, "versions start at 1"),
        ("a@", InvalidInput, "nothing after '@'"),
        ("bad name", InvalidInput, "dataset name 'bad name' is not allowed"),
    ],
)
def test_bad_references_say_what_exists(store, tmp_path: Path, ref, error, message) -> None:
    (tmp_path / "a.csv").write_text("x\n1\n")
    add(store, "a", tmp_path / "a.csv")
    with pytest.raises(error, match=message):
        get_version(store, ref)


@pytest.mark.parametrize("name", ["", "a b", "a@b", "../up", "-lead", "x" * 129, "é"])
def test_illegal_dataset_names_are_refused_and_nothing_is_stored(
    store, tmp_path: Path, name: str, db
) -> None:
    (tmp_path / "a.csv").write_text("x\n1\n")
    with pytest.raises(InvalidInput, match="dataset name"):
        add(store, name, tmp_path / "a.csv")
    assert _count(db, blobs) == 0


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        (
            "ragged.csv",
            "a,b,c\n1,2,3\n4,5,6,7\n",
            r"ragged.csv line 3: expected 3 columns, found 4",
        ),
        ("empty.csv", "", r"empty.csv is empty \(0 bytes\)"),
        ("header.csv", "a,b\n", "has no rows"),
        ("mixed.csv", "id,age\n1,30\n2,41\n3,abc\n4,22\n", "line 4, column 'age': 'abc' is not"),
        ("zero.parquet", "", r"zero.parquet is empty \(0 bytes\)"),
        ("bad.jsonl", '{"a": 1}\n{"a": "x"}\n', r"bad.jsonl line 2: Column\(/a\) changed"),
    ],
)
def test_bad_files_are_refused_naming_file_line_and_column(
    store, tmp_path: Path, filename: str, content: str, message: str, db
) -> None:
    path = tmp_path / filename
    path.write_text(content)
    with pytest.raises(InvalidInput, match=message):
        add(store, "bad", path)
    assert _count(db, dataset_versions) == 0
    assert _count(db, blobs) == 0


def test_a_truncated_parquet_file_is_refused(store, tmp_path: Path, db) -> None:
    import pyarrow.parquet as pq

    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"a": list(range(1000))}), good)
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InvalidInput, match="truncated.parquet is not a readable Parquet file"):
        add(store, "bad", truncated)
    assert _count(db, blobs) == 0


def test_a_symlink_loop_is_refused_naming_both_ends(store, tmp_path: Path, db) -> None:
    folder = _write_folder(tmp_path / "data", {"sub/x.txt": b"x"})
    (folder / "sub" / "back").symlink_to(folder, target_is_directory=True)
    with pytest.raises(InvalidInput, match=r"symbolic link loop: .*sub/back leads back to"):
        add(store, "loop", folder)
    assert _count(db, blobs) == 0


def test_symlinked_files_store_their_target_content(store, tmp_path: Path) -> None:
    folder = _write_folder(tmp_path / "data", {"real.txt": b"content"})
    (folder / "alias.txt").symlink_to(folder / "real.txt")
    version = add(store, "links", folder).version
    assert {(e.path, e.size) for e in manifest(store, version)} == {
        ("alias.txt", 7),
        ("real.txt", 7),
    }


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ("missing/path", NotFound, "no file or folder at missing/path"),
        (42, InvalidInput, "cannot store a int as a dataset"),
        (pd.DataFrame({"x": [1, "a", 2.5]}), InvalidInput, "column 'x' mixes types"),
    ],
)
def test_unusable_data_is_refused(store, data, error, message) -> None:
    with pytest.raises(error, match=message):
        add(store, "x", data)


def test_an_empty_folder_is_refused(store, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput, match="holds no files"):
        add(store, "e", tmp_path / "empty")


def test_a_folder_of_tables_loads_as_one_table(store, tmp_path: Path) -> None:
    folder = _write_folder(
        tmp_path / "parts", {"p1.csv": b"x,y\n1,a\n", "p2.csv": b"x,y\n2,b\n3,c\n"}
    )
    version = add(store, "parts", folder).version
    assert read_version_table(store, version).num_rows == 3
    notes = _write_folder(tmp_path / "notes", {"a.txt": b"hello"})
    with pytest.raises(InvalidInput, match="is a folder, not a table"):
        read_version_table(store, add(store, "notes", notes).version)


def test_versions_and_datasets_are_listed(store, tmp_path: Path) -> None:
    for name in ("b", "a"):
        (tmp_path / f"{name}.csv").write_text("x\n1\n")
        add(store, name, tmp_path / f"{name}.csv")
    assert [(d.name, d.latest) for d in list_datasets(store)] == [("a", 1), ("b", 1)]
    assert [e.action for e in reversed(list_events(store, object_type="dataset"))] == [
        "dataset.create",
        "dataset.version",
        "dataset.create",
        "dataset.version",
    ]


def test_loading_inside_a_run_records_lineage(project: Path) -> None:
    (project / "a.csv").write_text("x\n1\n2\n")
    loopml.data.add("a", project / "a.csv")
    with loopml.start_run() as run:
        frame = loopml.data.load("a@1")
    assert list(frame["x"]) == [1, 2]
    assert run_inputs_of(run.store, run.id) == ["a@1"]
    loopml.data.load("a")  # outside a run: nothing recorded, nothing fails
    assert loopml.data.show("a").ref == "a@1"


def test_table_versions_carry_their_profile(store, tmp_path: Path) -> None:
    from loopml.data.profiling import DatasetProfile
    from loopml.data.versioning import version_profile

    (tmp_path / "a.csv").write_text("x,plan\n1,basic\n2,pro\n3,pro\n")
    version = add(store, "a", tmp_path / "a.csv").version
    assert version.profile_blob is not None
    profile = version_profile(store, version)
    assert isinstance(profile, DatasetProfile)
    assert profile.rows == 3
    assert profile.columns["plan"].top(1) == [("pro", 2)]
    folder = _write_folder(tmp_path / "parts", {"p1.csv": b"x\n1\n", "p2.csv": b"x\n2\n"})
    parts = add(store, "parts", folder).version
    assert parts.profile_blob is None  # computed when asked, from the folder's tables
    assert version_profile(store, parts).rows == 2
