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


def copy_file(source: str | Path, dest: str | Path) -> None:
    """Copy bytes in the kernel (``copy_file_range``: no trip through Python, and a
    reflink on filesystems that can share blocks); plain reads and writes elsewhere."""
    import os
    import shutil

    with open(source, "rb") as src, open(dest, "wb") as dst:
        remaining = os.fstat(src.fileno()).st_size
        try:
            while remaining > 0:
                copied = os.copy_file_range(src.fileno(), dst.fileno(), remaining)
                if copied == 0:
                    break
                remaining -= copied
        except (AttributeError, OSError):  # no copy_file_range here (or across devices)
            src.seek(0)
            dst.seek(0)
            dst.truncate()
            shutil.copyfileobj(src, dst, length=CHUNK_SIZE * 8)
