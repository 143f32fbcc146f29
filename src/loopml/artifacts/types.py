"""What every blob store offers, whatever the medium."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from blake3 import blake3

from ..errors import IntegrityFailure, NotFound
from .hashing import CHUNK_SIZE


@dataclass(frozen=True)
class BlobInfo:
    """A stored blob: its BLAKE3 hex digest and size in bytes."""

    hash: str
    size: int


class BlobStore(Protocol):
    """A content-addressed, immutable, deduplicating blob store."""

    url: str

    def exists(self, digest: str) -> bool: ...
    def put_file(
        self,
        source: str | Path,
        digest: str | None = None,
        hashed_stat: tuple[int, int, int] | None = None,
    ) -> BlobInfo: ...
    def put_bytes(self, data: bytes) -> BlobInfo: ...
    def put_stream(self, stream: BinaryIO, expected: str | None = None) -> BlobInfo: ...
    def open(self, digest: str) -> BinaryIO: ...
    def size(self, digest: str) -> int: ...
    def read_bytes(self, digest: str, *, verify: bool = True) -> bytes: ...
    def get_file(self, digest: str, dest: str | Path, *, verify: bool = True) -> None: ...
    def rehash(self, digest: str) -> str | None: ...
    def iter_hashes(self) -> Iterator[str]: ...
    def delete(self, digest: str) -> None: ...
    def remove_stale_temp(self, *, older_than_s: float = 3600.0) -> list[str]: ...


def missing_blob(digest: str, where: str) -> NotFound:
    return NotFound(
        f"blob {digest[:12]}… is missing from {where}",
        hint="run 'loopml artifacts verify' to list every missing blob",
    )


def corrupt_blob(digest: str, where: str) -> IntegrityFailure:
    return IntegrityFailure(
        f"blob {digest[:12]}… in {where} does not match its hash",
        hint="run 'loopml artifacts verify' to list every damaged blob",
    )


def copy_verified(source: BinaryIO, digest: str, dest: Path, *, where: str, verify: bool) -> None:
    """Stream ``source`` to ``dest`` through a temp file, checking the hash before renaming."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")
    hasher = blake3()
    try:
        with source, open(tmp, "wb") as out:
            while chunk := source.read(CHUNK_SIZE):
                hasher.update(chunk)
                out.write(chunk)
        if verify and hasher.hexdigest() != digest:
            raise corrupt_blob(digest, where)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
