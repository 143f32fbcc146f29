"""BLAKE3 content hashing: the address of every blob."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from blake3 import blake3

CHUNK_SIZE = 1 << 20  # 1 MiB: large enough for throughput, small enough to keep memory flat
HASH_CHUNK_SIZE = 8 << 20
HASH_HEX_LENGTH = 64


def hash_bytes(data: bytes | bytearray | memoryview) -> str:
    """Hash a buffer; large ones (packs) on several threads."""
    threads = blake3.AUTO if len(data) > 4 * CHUNK_SIZE else 1
    return blake3(data, max_threads=threads).hexdigest()


def hash_file(path: str | Path) -> str:
    """Hash a file in chunks, so memory stays flat whatever its size.

    Reading beats memory-mapping here: a mapped 2 GB file shows up as 2 GB of resident
    memory. Large chunks let BLAKE3 hash on several threads at once.
    """
    hasher = blake3(max_threads=blake3.AUTO)
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK_SIZE):
            hasher.update(chunk)
    return hasher.hexdigest()


def hash_stream(stream: BinaryIO) -> str:
    """Hash what is left of an open binary stream, one chunk at a time."""
    hasher = blake3()
    while chunk := stream.read(CHUNK_SIZE):
        hasher.update(chunk)
    return hasher.hexdigest()


def is_hash(value: str) -> bool:
    return len(value) == HASH_HEX_LENGTH and all(c in "0123456789abcdef" for c in value)
