"""Blobs through the server: chunked uploads that survive a cut, are checked before they
count, never hold the whole file in memory, and downloads that resume."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from blake3 import blake3

from loopml.client.blobs import HttpBlobStore
from loopml.client.transport import ServerClient

from ..helpers import free_port
from .conftest import Served

CHUNK = 64 * 1024


@pytest.fixture
def blobs(served: Served) -> Iterator[HttpBlobStore]:
    """The client's view of the server's blobs, in small chunks."""
    with ServerClient(served.url) as client:
        yield HttpBlobStore(client, chunk_size=CHUNK)


def test_a_file_goes_up_in_chunks_and_comes_back_byte_for_byte(
    served: Served, blobs: HttpBlobStore, tmp_path: Path
) -> None:
    data = os.urandom(5 * CHUNK + 123)
    source = tmp_path / "model.bin"
    source.write_bytes(data)
    info = blobs.put_file(source)
    assert info.hash == blake3(data).hexdigest() and info.size == len(data)
    assert served.store.blobs.read_bytes(info.hash) == data
    assert blobs.read_bytes(info.hash) == data
    blobs.get_file(info.hash, tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == data
    assert list((Path(served.store.config.home) / "uploads").iterdir()) == []


def test_content_the_server_has_is_not_sent_again(served: Served, blobs: HttpBlobStore) -> None:
    data = os.urandom(3 * CHUNK)
    served.store.blobs.put_bytes(data)
    with served.client() as http:
        opened = http.post(
            "/api/v1/uploads", json={"hash": blake3(data).hexdigest(), "size": len(data)}
        ).json()
    assert opened["stored"] is True and opened["offset"] == len(data)
    assert blobs.put_bytes(data).hash == blake3(data).hexdigest()


def _cut_off(served: Served, digest: str, data: bytes, sent: int) -> None:
    """A PATCH announcing every byte that dies after ``sent`` of them."""
    host, port = served.url.removeprefix("http://").split(":")
    head = (
        f"PATCH /api/v1/uploads/{digest} HTTP/1.1\r\nHost: {host}\r\nUpload-Offset: 0\r\n"
        f"Content-Type: application/offset+octet-stream\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head + data[:sent])
        time.sleep(0.3)


def test_an_upload_cut_off_midway_is_no_blob_and_resumes_where_it_stopped(
    served: Served, blobs: HttpBlobStore, tmp_path: Path
) -> None:
    data = os.urandom(8 * CHUNK)
    digest = blake3(data).hexdigest()
    with served.client() as http:
        assert (
            http.post("/api/v1/uploads", json={"hash": digest, "size": len(data)}).json()["offset"]
            == 0
        )
        _cut_off(served, digest, data, 3 * CHUNK)
        deadline = time.monotonic() + 10
        while (offset := http.get(f"/api/v1/uploads/{digest}").json()["offset"]) < 3 * CHUNK:
            assert time.monotonic() < deadline, f"the server kept {offset} bytes"
            time.sleep(0.05)
        assert offset == 3 * CHUNK
        finish = http.post(f"/api/v1/uploads/{digest}/finish")
        assert finish.status_code == 409
        assert f"has {offset:,} of {len(data):,} bytes" in finish.json()["error"]["message"]
        assert http.get(f"/api/v1/blobs/{digest}").status_code == 404  # no partial artifact
        # A new process sending the same file finds the upload and sends only the rest.
        reopened = http.post("/api/v1/uploads", json={"hash": digest, "size": len(data)}).json()
        assert reopened["offset"] == offset
    source = tmp_path / "data.bin"
    source.write_bytes(data)
    assert blobs.put_file(source).hash == digest
    assert served.store.blobs.read_bytes(digest) == data


def test_bytes_that_do_not_hash_to_the_name_are_discarded(served: Served) -> None:
    data = os.urandom(2 * CHUNK)
    digest = blake3(data).hexdigest()
    with served.client() as http:
        http.post("/api/v1/uploads", json={"hash": digest, "size": len(data)})
        wrong = bytes(reversed(data))
        patched = http.patch(
            f"/api/v1/uploads/{digest}", content=wrong, headers={"Upload-Offset": "0"}
        )
        assert patched.json()["offset"] == len(data)
        finish = http.post(f"/api/v1/uploads/{digest}/finish")
        assert finish.status_code == 400
        assert "hash to" in finish.json()["error"]["message"]
        assert http.get(f"/api/v1/uploads/{digest}").status_code == 404
    assert not served.store.blobs.exists(digest)


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        ({"hash": "abc", "size": 1}, {}, 400, "field 'hash'"),
        ({"hash": "0" * 64, "size": -1}, {}, 400, "field 'size'"),
        ({"hash": "0" * 64, "size": 2**50}, {}, 413, "over this server's limit"),
    ],
)
def test_bad_upload_requests_are_refused(
    served: Served, body: dict, headers: dict, status: int, message: str
) -> None:
    with served.client() as http:
        response = http.post("/api/v1/uploads", json=body, headers=headers)
    assert response.status_code == status
    assert message in response.json()["error"]["message"]


def test_more_bytes_than_declared_or_a_wrong_offset_are_refused(served: Served) -> None:
    data = os.urandom(CHUNK)
    digest = blake3(data).hexdigest()
    with served.client() as http:
        http.post("/api/v1/uploads", json={"hash": digest, "size": len(data)})
        skipped = http.patch(
            f"/api/v1/uploads/{digest}", content=data, headers={"Upload-Offset": "10"}
        )
        assert skipped.status_code == 409
        assert skipped.json()["error"]["details"]["offset"] == 0
        missing = http.patch(f"/api/v1/uploads/{digest}", content=data)
        assert missing.status_code == 400
        assert "Upload-Offset" in missing.json()["error"]["message"]
        over = http.patch(
            f"/api/v1/uploads/{digest}", content=data + b"extra", headers={"Upload-Offset": "0"}
        )
        assert over.status_code == 413
        assert http.get(f"/api/v1/uploads/{digest}").json()["offset"] == len(data)


def test_a_download_resumes_from_an_offset(served: Served) -> None:
    data = os.urandom(3 * CHUNK)
    digest = served.store.blobs.put_bytes(data).hash
    with served.client() as http:
        head = http.head(f"/api/v1/blobs/{digest}")
        assert head.status_code == 200 and int(head.headers["content-length"]) == len(data)
        part = http.get(f"/api/v1/blobs/{digest}", headers={"Range": "bytes=1000-"})
        assert part.status_code == 206
        assert part.content == data[1000:]
        assert part.headers["content-range"] == f"bytes 1000-{len(data) - 1}/{len(data)}"
        bad = http.get(f"/api/v1/blobs/{digest}", headers={"Range": "bytes=0-10"})
        assert bad.status_code == 400


@pytest.mark.slow
def test_a_large_upload_keeps_the_servers_memory_flat(project: Path, tmp_path: Path) -> None:
    size = 400 << 20
    source = tmp_path / "big.bin"
    with open(source, "wb") as out:
        block = os.urandom(1 << 20)
        for index in range(size >> 20):
            out.write(block[index:] + block[:index])
    port = free_port()
    exe = Path(sys.executable).with_name("loopml")
    server = subprocess.Popen(
        [str(exe), "server", "--port", str(port), "--no-ui"],
        cwd=project,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)
        process = psutil.Process(server.pid)
        baseline = process.memory_info().rss
        peak = baseline
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, process.memory_info().rss)
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            with ServerClient(url) as client:
                info = HttpBlobStore(client).put_file(source)
        finally:
            done.set()
            sampler.join()
        assert info.size == size
        assert (project / ".loopml" / "artifacts").exists()
        assert peak - baseline < 64 << 20, f"the server grew by {(peak - baseline) >> 20} MB"
    finally:
        server.terminate()
        server.wait(timeout=30)
