"""Large files stream in flat memory; a writer killed midway leaves no visible partial blob."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loopml.artifacts import LocalBlobStore, open_blob_store

_MEASURE = """
import json, os, resource, sys
from loopml.artifacts import open_blob_store
blobs = open_blob_store(sys.argv[1])
source = sys.argv[2]
with open(source, "wb") as f:          # a sparse file: no disk used until stored
    f.truncate(int(sys.argv[3]))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
info = blobs.put_file(source)
stored = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
ok = blobs.rehash(info.hash) == info.hash
checked = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
os.unlink(source)
print(json.dumps({"size": info.size, "ok": ok, "put_kib": stored - base,
                  "rehash_kib": checked - base}))
"""


@pytest.mark.slow
def test_a_2_gb_file_is_stored_and_rehashed_in_flat_memory(tmp_path: Path) -> None:
    size = 2 * 1024**3
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(tmp_path / "store"), str(tmp_path / "big"), str(size)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result = json.loads(done.stdout)
    assert result["size"] == size
    assert result["ok"]
    # Peak resident memory grows by a few chunks, not by the file (2,097,152 KiB).
    assert result["put_kib"] < 64 * 1024, result
    assert result["rehash_kib"] < 64 * 1024, result


_SLOW_WRITER = """
import sys, time
from loopml.artifacts import open_blob_store

class Slow:
    def __init__(self):
        self.sent = 0
    def read(self, n=-1):
        if self.sent == 0:
            print("writing", flush=True)
        self.sent += 1
        time.sleep(0.01)
        return b"x" * 65536

open_blob_store(sys.argv[1]).put_stream(Slow())
"""


def test_a_local_write_killed_midway_leaves_only_a_temp_file(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    with subprocess.Popen(
        [sys.executable, "-c", _SLOW_WRITER, str(root)], stdout=subprocess.PIPE, text=True
    ) as writer:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "writing"
        time.sleep(0.3)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=10)
    blobs = LocalBlobStore(root)
    assert list(blobs.iter_hashes()) == []
    leftovers = list((root / "tmp").iterdir())
    assert len(leftovers) == 1
    assert leftovers[0].stat().st_size > 0
    assert blobs.remove_stale_temp() == [leftovers[0].name]
    assert list((root / "tmp").iterdir()) == []


def test_temp_files_of_live_or_remote_writers_are_kept_until_old(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path)
    (tmp_path / "tmp").mkdir()
    mine = tmp_path / "tmp" / f"{os.getpid()}-abc-{socket.gethostname()}.part"
    remote = tmp_path / "tmp" / "999999999-def-another-host.example.part"
    for path in (mine, remote):
        path.write_bytes(b"in progress")
    assert blobs.remove_stale_temp() == []  # our writer lives; the other host's is unknown
    assert mine.exists() and remote.exists()
    old = time.time() - 7200
    os.utime(remote, (old, old))
    assert blobs.remove_stale_temp() == [remote.name]


_S3_UPLOAD = """
import sys
from loopml.artifacts import open_blob_store
print(open_blob_store(sys.argv[1]).put_file(sys.argv[2]).hash, flush=True)
"""


@pytest.mark.slow
def test_an_s3_upload_killed_midway_leaves_no_partial_object(
    tmp_path: Path, s3_url: str, s3_endpoint: str
) -> None:
    import boto3

    source = tmp_path / "big.bin"
    with open(source, "wb") as handle:
        for index in range(160):
            handle.write(index.to_bytes(1, "big") * (1024 * 1024))
    bucket = s3_url.split("/")[2]
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    with subprocess.Popen(
        [sys.executable, "-c", _S3_UPLOAD, s3_url, str(source)], stdout=subprocess.PIPE, text=True
    ) as uploader:
        deadline = time.monotonic() + 60
        while uploader.poll() is None and time.monotonic() < deadline:
            if client.list_multipart_uploads(Bucket=bucket).get("Uploads"):
                uploader.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
        uploader.wait(timeout=30)
    blobs = open_blob_store(s3_url)
    stored = list(blobs.iter_hashes())
    if uploader.returncode == -signal.SIGKILL:
        assert stored == []  # the unfinished multipart upload is invisible
    else:  # the upload outran the kill: then the object must be whole
        assert stored and blobs.rehash(stored[0]) == stored[0]
