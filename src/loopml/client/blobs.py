"""The artifact store as a remote client sees it: blobs go through the team server.

Uploads are content-addressed and resumable. The client hashes a file first and asks
whether the server has it (nothing is sent twice); otherwise it opens an upload for that
hash and sends chunks at explicit offsets. A connection cut midway loses nothing: the
client asks the server how far it got and goes on from there, and a new process uploading
the same content picks up the same unfinished upload. The server publishes the blob only
once every byte is there and the hash matches, so a cut-off upload never becomes a blob.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import httpx2

from ..artifacts.hashing import CHUNK_SIZE, hash_bytes, hash_file, is_hash
from ..artifacts.types import BlobInfo, copy_verified, corrupt_blob, missing_blob
from ..errors import InvalidInput, NotSupportedRemotely, ServerUnreachable
from .transport import API_PREFIX, ServerClient

UPLOAD_CHUNK = 8 << 20
_ATTEMPTS = 5


class HttpBlobStore:
    """:class:`~loopml.artifacts.BlobStore` over the team server's blob and upload routes."""

    def __init__(self, client: ServerClient, *, chunk_size: int = UPLOAD_CHUNK) -> None:
        self.client = client
        self.url = f"{client.url}{API_PREFIX}/blobs"
        self.chunk_size = chunk_size

    def __repr__(self) -> str:
        return f"HttpBlobStore({self.url!r})"

    def exists(self, digest: str) -> bool:
        if not is_hash(digest):
            return False
        response = self.client.request("HEAD", f"{API_PREFIX}/blobs/{digest}", ok=(404,))
        return response.status_code == 200

    def put_file(
        self,
        source: str | Path,
        digest: str | None = None,
        hashed_stat: tuple[int, int, int] | None = None,
    ) -> BlobInfo:
        source = Path(source)
        before = source.stat()
        if digest is None:
            digest = hash_file(source)
        elif hashed_stat is not None and _stamp(before) != tuple(hashed_stat):
            raise InvalidInput(
                f"{source} changed while it was being added",
                hint="add it again once nothing is writing to it",
            )
        if not self.exists(digest):
            with open(source, "rb") as handle:
                self._upload(handle, digest, before.st_size)
        return BlobInfo(digest, before.st_size)

    def put_bytes(self, data: bytes | bytearray) -> BlobInfo:
        digest = hash_bytes(data)
        if not self.exists(digest):
            self._upload(io.BytesIO(data), digest, len(data))
        return BlobInfo(digest, len(data))

    def put_stream(self, stream: BinaryIO, expected: str | None = None) -> BlobInfo:
        # The hash comes first (an upload is opened for it), so spool the stream to disk.
        with tempfile.NamedTemporaryFile(prefix="loopml-upload-") as spool:
            while chunk := stream.read(CHUNK_SIZE):
                spool.write(chunk)
            spool.flush()
            info = self.put_file(spool.name)
        if expected is not None and info.hash != expected:
            raise corrupt_blob(expected, "the source")
        return info

    def _upload(self, handle: BinaryIO, digest: str, size: int) -> None:
        opened = self.client.request(
            "POST", f"{API_PREFIX}/uploads", json=True, content=_json(hash=digest, size=size)
        ).json()
        upload, offset = opened["id"], opened["offset"]
        failures = 0
        while offset < size:
            handle.seek(offset)
            chunk = handle.read(self.chunk_size)
            try:
                answer = self.client.request(
                    "PATCH",
                    f"{API_PREFIX}/uploads/{upload}",
                    content=chunk,
                    headers={
                        "Upload-Offset": str(offset),
                        "Content-Type": "application/octet-stream",
                    },
                    ok=(409,),
                ).json()
                # 409: another sender moved the upload on; go on from where it is.
                offset = answer["offset"] if "offset" in answer else _conflict_offset(answer)
            except ServerUnreachable:
                failures += 1
                if failures >= _ATTEMPTS:
                    raise
                time.sleep(0.2 * failures)
                offset = self._offset(upload)
        self.client.request("POST", f"{API_PREFIX}/uploads/{upload}/finish")

    def _offset(self, upload: str) -> int:
        return int(self.client.request("GET", f"{API_PREFIX}/uploads/{upload}").json()["offset"])

    def open(self, digest: str) -> BinaryIO:
        """The blob's content as a file (spooled to disk past 32 MB), not yet verified."""
        spool = tempfile.SpooledTemporaryFile(max_size=32 << 20)  # noqa: SIM115 (returned open)
        self._download(digest, spool)
        spool.seek(0)
        return spool  # type: ignore[return-value]

    def _download(self, digest: str, out: BinaryIO) -> None:
        if not is_hash(digest):
            raise missing_blob(digest, self.url)
        path = f"{API_PREFIX}/blobs/{digest}"
        written, failures = 0, 0
        while True:
            headers = {"Range": f"bytes={written}-"} if written else {}
            try:
                with self.client.stream("GET", path, headers=headers) as response:
                    if response.status_code >= 400:
                        response.read()
                        self.client.request("GET", path)  # raises the server's error
                    for chunk in response.iter_bytes(CHUNK_SIZE):
                        out.write(chunk)
                        written += len(chunk)
                return
            except httpx2.TransportError:
                failures += 1
                if failures >= _ATTEMPTS:
                    raise ServerUnreachable(
                        f"downloading blob {digest[:12]}… from {self.client.url} kept failing",
                        hint="check the server, then try again",
                    ) from None
                time.sleep(0.2 * failures)

    def size(self, digest: str) -> int:
        response = self.client.request("HEAD", f"{API_PREFIX}/blobs/{digest}", ok=(404,))
        if response.status_code == 404:
            raise missing_blob(digest, self.url)
        return int(response.headers["Content-Length"])

    def read_bytes(self, digest: str, *, verify: bool = True) -> bytes:
        buffer = io.BytesIO()
        self._download(digest, buffer)
        data = buffer.getvalue()
        if verify and hash_bytes(data) != digest:
            raise corrupt_blob(digest, self.url)
        return data

    def get_file(self, digest: str, dest: str | Path, *, verify: bool = True) -> None:
        copy_verified(self.open(digest), digest, Path(dest), where=self.url, verify=verify)

    def rehash(self, digest: str) -> str | None:
        raise _server_side("checking stored blobs")

    def iter_hashes(self) -> Iterator[str]:
        raise _server_side("listing stored blobs")

    def delete(self, digest: str) -> None:
        raise _server_side("deleting blobs")

    def remove_stale_temp(self, *, older_than_s: float = 3600.0) -> list[str]:
        raise _server_side("cleaning the artifact store")


def _conflict_offset(answer: dict[str, object]) -> int:
    return int(answer["error"]["details"]["offset"])  # type: ignore[index]


def _server_side(what: str) -> NotSupportedRemotely:
    return NotSupportedRemotely(
        f"{what} runs where the artifact store is, not through the server",
        hint="run the command on the server's machine, without LOOPML_SERVER",
    )


def _json(**values: object) -> bytes:
    import orjson

    return orjson.dumps(values)


def _stamp(stat: os.stat_result) -> tuple[int, int, int]:
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns
