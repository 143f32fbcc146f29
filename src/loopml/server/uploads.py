"""Blobs through the server: resumable chunked uploads and streamed, resumable downloads.

An upload is named by the hash its content must have, so a client that was cut off
(or a new process sending the same file) finds it again and goes on from its offset:

    POST  /api/v1/uploads               {"hash": H, "size": N}  -> {"id": H, "offset": K}
    PATCH /api/v1/uploads/H             Upload-Offset: K, body: bytes K.. -> {"offset": K'}
    GET   /api/v1/uploads/H             -> {"id": H, "offset": K, "size": N}
    POST  /api/v1/uploads/H/finish      -> {"hash": H, "size": N}

Bytes are appended to a file as they arrive (memory stays at one network chunk whatever
the size). ``finish`` checks the size and the hash and only then publishes the blob, so
a cut-off or corrupted upload never becomes a blob. Downloads stream from the store and
honour ``Range: bytes=K-`` so a broken download goes on where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from ..artifacts.hashing import CHUNK_SIZE, hash_file, is_hash
from ..errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from ..store import Store

STALE_AFTER_S = 7 * 86_400


class Uploads:
    """The unfinished uploads of one server, in a folder of its own."""

    def __init__(self, folder: Path, *, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self._locks: dict[str, asyncio.Lock] = {}

    def _part(self, digest: str) -> Path:
        return self.folder / f"{digest}.part"

    def _meta(self, digest: str) -> Path:
        return self.folder / f"{digest}.json"

    def _declared(self, digest: str) -> int:
        try:
            return int(orjson.loads(self._meta(digest).read_bytes())["size"])
        except FileNotFoundError:
            raise NotFound(
                f"upload {digest[:12]}… not found",
                hint="open it with POST /api/v1/uploads",
            ) from None

    def _offset(self, digest: str) -> int:
        try:
            return self._part(digest).stat().st_size
        except FileNotFoundError:
            return 0

    def open(self, store: Store, body: dict[str, Any]) -> dict[str, Any]:
        digest, size = body.get("hash"), body.get("size")
        if not isinstance(digest, str) or not is_hash(digest):
            raise InvalidInput(
                "field 'hash': the BLAKE3 hex digest (64 characters) of the content is needed",
                hint="hash the file first; loopml's client does this for you",
            )
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidInput("field 'size': the content's size in bytes is needed")
        if size > self.max_bytes:
            raise PayloadTooLarge(
                f"an upload of {size:,} bytes is over this server's limit of {self.max_bytes:,}",
                hint="start the server with a larger --max-upload-gb",
            )
        if store.blobs.exists(digest):
            return {"id": digest, "offset": size, "size": size, "stored": True}
        self.folder.mkdir(parents=True, exist_ok=True)
        self._sweep()
        meta = self._meta(digest)
        if meta.exists() and self._declared(digest) != size:
            # Same hash, other size: one of the two claims is wrong; start over.
            self._part(digest).unlink(missing_ok=True)
        meta.write_bytes(orjson.dumps({"size": size, "created": time.time()}))
        self._part(digest).touch()
        return {"id": digest, "offset": self._offset(digest), "size": size, "stored": False}

    def status(self, digest: str) -> dict[str, Any]:
        _check_id(digest)
        return {"id": digest, "offset": self._offset(digest), "size": self._declared(digest)}

    async def append(self, digest: str, request: Request) -> dict[str, Any]:
        _check_id(digest)
        size = self._declared(digest)
        claimed = request.headers.get("upload-offset", "")
        if not claimed.isdigit():
            raise InvalidInput(
                "header 'Upload-Offset' must give the offset this chunk starts at",
                hint=f"ask GET /api/v1/uploads/{digest} for the current offset",
            )
        lock = self._locks.setdefault(digest, asyncio.Lock())
        async with lock:
            offset = self._offset(digest)
            if int(claimed) != offset:
                raise Conflict(
                    f"upload {digest[:12]}… is at offset {offset}, not {claimed}",
                    hint="send the chunk that starts at the current offset",
                    offset=offset,
                )
            written = offset
            with open(self._part(digest), "ab") as out:
                try:
                    async for chunk in request.stream():
                        if written + len(chunk) > size:
                            out.write(chunk[: size - written])
                            raise PayloadTooLarge(
                                f"upload {digest[:12]}… declared {size:,} bytes; more were sent",
                                hint="open the upload again with the right size",
                            )
                        out.write(chunk)
                        written += len(chunk)
                except ClientDisconnect:
                    pass  # what arrived is kept; the client resumes from the new offset
        return {"id": digest, "offset": written, "size": size}

    async def finish(self, store: Store, digest: str) -> dict[str, Any]:
        _check_id(digest)
        size = self._declared(digest)
        part = self._part(digest)
        lock = self._locks.setdefault(digest, asyncio.Lock())
        async with lock:
            if store.blobs.exists(digest):
                self._discard(digest)
                return {"hash": digest, "size": size}
            offset = self._offset(digest)
            if offset != size:
                raise Conflict(
                    f"upload {digest[:12]}… has {offset:,} of {size:,} bytes",
                    hint="send the rest, then finish it",
                    offset=offset,
                )
            actual = await run_in_threadpool(hash_file, part)
            if actual != digest:
                self._discard(digest)
                raise InvalidInput(
                    f"the uploaded bytes hash to {actual[:12]}…, not {digest[:12]}…",
                    hint="the upload was discarded; send the file again",
                )
            await run_in_threadpool(store.blobs.put_file, part, digest)
            self._discard(digest)
        self._locks.pop(digest, None)
        return {"hash": digest, "size": size}

    def _discard(self, digest: str) -> None:
        self._part(digest).unlink(missing_ok=True)
        self._meta(digest).unlink(missing_ok=True)

    def _sweep(self) -> None:
        cutoff = time.time() - STALE_AFTER_S
        for path in self.folder.glob("*.json"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    self._discard(path.stem)


def _check_id(digest: str) -> None:
    # Ids are hashes: nothing else can name a file, so no path can escape the folder.
    if not is_hash(digest):
        raise NotFound(f"upload '{digest[:64]}' not found", hint="upload ids are BLAKE3 digests")


async def blob_response(store: Store, digest: str, request: Request) -> Response:
    """The blob's bytes, streamed; ``Range: bytes=K-`` sends the rest from K."""
    if not is_hash(digest) or not await run_in_threadpool(store.blobs.exists, digest):
        raise NotFound(
            f"blob '{digest[:64]}' not found", hint="blobs are named by their BLAKE3 digest"
        )
    size = await run_in_threadpool(store.blobs.size, digest)
    headers = {"Content-Length": str(size), "Accept-Ranges": "bytes", "ETag": f'"{digest}"'}
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type="application/octet-stream")
    start = _range_start(request.headers.get("range"), size)
    if start:
        headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
        headers["Content-Length"] = str(size - start)
    return StreamingResponse(
        _chunks(store, digest, start, size),
        status_code=206 if start else 200,
        headers=headers,
        media_type="application/octet-stream",
    )


def _range_start(header: str | None, size: int) -> int:
    if not header:
        return 0
    unit, _, spec = header.partition("=")
    first, dash, last = spec.partition("-")
    if unit.strip() != "bytes" or not dash or not first.isdigit() or last:
        raise InvalidInput(f"Range '{header}' is not supported", hint="send 'Range: bytes=OFFSET-'")
    start = int(first)
    if start >= max(size, 1):
        raise InvalidInput(f"Range starts at {start}, past the blob's {size} bytes")
    return start


def _chunks(store: Store, digest: str, start: int, size: int) -> Iterator[bytes]:
    # A plain generator (Starlette runs it in its thread pool): the file is closed as soon
    # as the last byte is read, and by the generator's close() if the client goes first.
    remaining = size - start
    with store.blobs.open(digest) as handle:
        if start:
            handle.seek(start, os.SEEK_SET)
        while remaining > 0:
            chunk = handle.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
