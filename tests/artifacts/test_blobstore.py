"""The same contract on the local disk and on a real S3-compatible server."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from loopml.artifacts import BlobStore, LocalBlobStore, open_blob_store
from loopml.artifacts.hashing import hash_bytes
from loopml.errors import IntegrityFailure, NotFound, StoreError


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "s3":
        return open_blob_store(request.getfixturevalue("s3_url"))
    return open_blob_store(str(tmp_path / "artifacts"))


def test_content_round_trips_under_its_blake3_hash(blobs: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(b"loopml" * 1000)
    info = blobs.put_file(source)
    assert info.hash == hash_bytes(source.read_bytes())
    assert info.size == 6000
    assert blobs.exists(info.hash)
    assert blobs.read_bytes(info.hash) == source.read_bytes()
    assert blobs.size(info.hash) == 6000
    out = tmp_path / "out" / "copy.bin"
    blobs.get_file(info.hash, out)
    assert out.read_bytes() == source.read_bytes()


def test_identical_content_is_stored_once(blobs: BlobStore, tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"same")
    (tmp_path / "b").write_bytes(b"same")
    first = blobs.put_file(tmp_path / "a")
    second = blobs.put_file(tmp_path / "b")
    third = blobs.put_bytes(b"same")
    fourth = blobs.put_stream(io.BytesIO(b"same"))
    assert first == second == third == fourth
    assert list(blobs.iter_hashes()) == [first.hash]


def test_empty_content_is_a_blob_too(blobs: BlobStore) -> None:
    info = blobs.put_bytes(b"")
    assert blobs.read_bytes(info.hash) == b""


def test_a_missing_blob_is_reported_by_name(blobs: BlobStore, tmp_path: Path) -> None:
    digest = hash_bytes(b"never stored")
    assert not blobs.exists(digest)
    assert blobs.rehash(digest) is None
    with pytest.raises(NotFound, match=digest[:12]):
        blobs.read_bytes(digest)
    with pytest.raises(NotFound, match="loopml artifacts verify"):
        blobs.get_file(digest, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_delete_removes_a_blob(blobs: BlobStore) -> None:
    info = blobs.put_bytes(b"bye")
    blobs.delete(info.hash)
    assert not blobs.exists(info.hash)
    blobs.delete(info.hash)  # deleting twice is fine


def test_corruption_is_detected_on_read_and_nothing_is_written(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "artifacts")
    info = blobs.put_bytes(b"original content")
    path = blobs.path_of(info.hash)
    path.chmod(0o644)
    path.write_bytes(b"tampered content")
    with pytest.raises(IntegrityFailure, match="does not match its hash"):
        blobs.read_bytes(info.hash)
    dest = tmp_path / "restore" / "file.txt"
    with pytest.raises(IntegrityFailure):
        blobs.get_file(info.hash, dest)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # no temp file left behind
    assert blobs.rehash(info.hash) == hash_bytes(b"tampered content")


def test_local_blobs_are_read_only_files(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "artifacts")
    info = blobs.put_bytes(b"immutable")
    assert blobs.path_of(info.hash).stat().st_mode & 0o222 == 0


def test_a_url_whose_backend_is_not_installed_names_the_package() -> None:
    with pytest.raises(StoreError, match="gcsfs") as caught:
        open_blob_store("gs://bucket/prefix")
    assert caught.value.hint and "pip install" in caught.value.hint


def test_s3_temporary_objects_of_dead_writers_are_removed_once_old(s3_url: str) -> None:
    blobs = open_blob_store(s3_url)
    blobs.fs.pipe_file(f"{blobs.root}/tmp/left-by-a-killed-writer", b"uploaded, never moved")
    assert blobs.remove_stale_temp() == []  # young: its writer may still be copying it
    assert blobs.remove_stale_temp(older_than_s=-60) == ["left-by-a-killed-writer"]
    assert list(blobs.iter_hashes()) == []
