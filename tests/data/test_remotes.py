"""push and pull against a real S3-compatible server on loopback, and a folder remote."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from loopml.artifacts import open_blob_store
from loopml.config import resolve
from loopml.data.remotes import needed_blobs, pull, push, remote_url, select_versions
from loopml.data.versioning import add, materialize
from loopml.errors import InvalidInput, NotFound
from loopml.store import open_store

from ..helpers import loopml_cli


def _dataset(root: Path, files: int = 30, size: int = 2048) -> Path:
    folder = root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(files):
        (folder / f"{index:03d}.bin").write_bytes(os.urandom(size))
    return folder


@pytest.fixture(params=["s3", "folder"])
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "s3":
        return request.getfixturevalue("s3_url")
    return str(tmp_path / "remote")


def test_push_sends_only_what_the_remote_lacks(store, tmp_path: Path, remote: str) -> None:
    add(store, "images", _dataset(tmp_path))
    (tmp_path / "t.csv").write_text("x\n1\n")
    add(store, "table", tmp_path / "t.csv")
    first = push(store, [], remote)
    assert first.ok
    assert first.transferred == first.needed > 0
    assert set(needed_blobs(store, select_versions(store, []))) <= set(
        open_blob_store(remote).iter_hashes()
    )
    again = push(store, [], remote)
    assert (again.transferred, again.present) == (0, first.needed)


def test_pull_fills_an_empty_store_from_the_remote(
    project: Path, tmp_path: Path, remote: str, monkeypatch
) -> None:
    store = open_store(resolve())
    add(store, "images", _dataset(tmp_path))
    push(store, ["images"], remote)
    store.close()
    monkeypatch.setenv("LOOPML_ARTIFACTS_URL", str(tmp_path / "elsewhere"))  # same metadata
    fresh = open_store(resolve())
    with pytest.raises(NotFound):
        materialize(fresh, "images@1", tmp_path / "out")
    fetched = pull(fresh, ["images@1"], remote)
    assert fetched.ok and fetched.transferred == fetched.needed
    written = materialize(fresh, "images@1", tmp_path / "out")
    assert len(written) == 30
    assert (tmp_path / "out" / "000.bin").read_bytes() == (
        tmp_path / "images" / "000.bin"
    ).read_bytes()
    assert pull(fresh, ["images@1"], remote).transferred == 0
    fresh.close()


_SLOW_PUSH = """
import sys
from loopml.config import resolve
from loopml.data.remotes import push
from loopml.store import open_store

def step(size):
    print("sent", size, flush=True)

push(open_store(resolve()), [], sys.argv[1], workers=1, progress=step)
"""


@pytest.mark.slow
def test_an_interrupted_push_resumes_where_it_stopped(project: Path, tmp_path: Path) -> None:
    remote = str(tmp_path / "remote")
    store = open_store(resolve())
    add(store, "big", _dataset(tmp_path, files=20, size=1_200_000))  # 20 blobs of their own
    needed = len(needed_blobs(store, select_versions(store, [])))
    with subprocess.Popen(
        [sys.executable, "-c", _SLOW_PUSH, remote], cwd=project, stdout=subprocess.PIPE, text=True
    ) as pusher:
        assert pusher.stdout is not None
        for _ in range(3):
            assert pusher.stdout.readline().startswith("sent")
        pusher.send_signal(signal.SIGKILL)
        pusher.wait(timeout=30)
    arrived = len(list(open_blob_store(remote).iter_hashes()))
    assert 3 <= arrived < needed
    resumed = push(store, [], remote)
    assert resumed.ok
    assert resumed.present == arrived
    assert resumed.transferred == needed - arrived
    store.close()


def test_a_corrupt_remote_blob_is_reported_and_not_stored(
    project: Path, tmp_path: Path, monkeypatch
) -> None:
    remote = tmp_path / "remote"
    store = open_store(resolve())
    (tmp_path / "t.csv").write_text("x\n1\n2\n")
    version = add(store, "t", tmp_path / "t.csv").version
    push(store, ["t"], str(remote))
    store.close()
    blob = open_blob_store(str(remote)).path_of(version.blob)  # type: ignore[attr-defined]
    blob.chmod(0o644)
    blob.write_bytes(b"x\n9\n9\n")
    monkeypatch.setenv("LOOPML_ARTIFACTS_URL", str(tmp_path / "elsewhere"))
    done = loopml_cli("data", "pull", "t", "--remote", str(remote), cwd=project)
    assert done.returncode == 6
    assert "does not match its hash" in done.stdout
    assert not open_blob_store(str(tmp_path / "elsewhere")).exists(version.blob)


def test_bad_input_is_refused(store, monkeypatch) -> None:
    monkeypatch.delenv("LOOPML_REMOTE", raising=False)
    with pytest.raises(InvalidInput, match="no remote given"):
        remote_url(None)
    monkeypatch.setenv("LOOPML_REMOTE", "s3://team/data")
    assert remote_url(None) == "s3://team/data"
    with pytest.raises(NotFound, match="no dataset named 'nope'"):
        push(store, ["nope"], "/tmp/unused")
    with pytest.raises(InvalidInput, match="workers must be at least 1"):
        push(store, [], "/tmp/unused", workers=0)


def test_the_cli_pushes_and_pulls(project: Path, tmp_path: Path, s3_url: str) -> None:
    _dataset(project, files=5)
    assert loopml_cli("data", "add", "images", "images", cwd=project).returncode == 0
    sent = loopml_cli("data", "push", "--remote", s3_url, cwd=project)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith("sent 2 blob(s)")  # one pack and the manifest
    again = loopml_cli("data", "push", "images", "--remote", s3_url, "--json", cwd=project)
    assert '"transferred": 0' in again.stdout
