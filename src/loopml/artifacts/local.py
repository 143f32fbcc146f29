"""Blobs on the local disk: ``<root>/blobs/ab/ab12…`` with atomic, deduplicated writes.

A write streams into ``<root>/tmp/<pid>-<random>.part`` while hashing, then renames the
finished file to its hash. A process killed midway leaves only a ``.part`` file, which is
never visible as a blob and which :meth:`LocalBlobStore.remove_stale_temp` deletes.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from blake3 import blake3

from ..errors import InvalidInput, StoreReadOnly
from ..processes import pid_alive
from .hashing import CHUNK_SIZE, copy_file, hash_bytes, hash_file, hash_stream, is_hash
from .types import BlobInfo, copy_verified, corrupt_blob, missing_blob


class LocalBlobStore:
    """A content-addressed blob store in a local directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.url = str(self.root)
        self._blobs = self.root / "blobs"
        self._tmp = self.root / "tmp"

    def __repr__(self) -> str:
        return f"LocalBlobStore({self.url!r})"

    def path_of(self, digest: str) -> Path:
        return self._blobs / digest[:2] / digest

    def exists(self, digest: str) -> bool:
        return is_hash(digest) and self.path_of(digest).is_file()

    def put_file(
        self,
        source: str | Path,
        digest: str | None = None,
        hashed_stat: tuple[int, int, int] | None = None,
    ) -> BlobInfo:
        """Store a file's content under its hash (``digest`` if the caller knows it).

        Content already stored is not copied again. A new file is copied in the kernel
        and must be the file that was hashed: its (size, mtime_ns, ctime_ns) must equal
        ``hashed_stat`` (taken when ``digest`` was computed) and must not move during the
        copy; any change refuses the blob instead of storing other bytes under the hash.
        """
        source = Path(source)
        if digest is None:
            hashed_stat = _stamp(source.stat())
            digest = hash_file(source)
        before = source.stat()
        if hashed_stat is not None and _stamp(before) != tuple(hashed_stat):
            raise _changed(source)
        if self.exists(digest):
            return BlobInfo(digest, before.st_size)
        tmp = self._new_temp()
        try:
            copy_file(source, tmp)
            if _stamp(source.stat()) != _stamp(before):
                raise _changed(source)
            self._publish(tmp, digest)
        finally:
            tmp.unlink(missing_ok=True)
        return BlobInfo(digest, before.st_size)

    def put_bytes(self, data: bytes | bytearray) -> BlobInfo:
        digest = hash_bytes(data)
        if self.exists(digest):
            return BlobInfo(digest, len(data))
        tmp = self._new_temp()
        try:
            tmp.write_bytes(data)
            self._publish(tmp, digest)
        finally:
            tmp.unlink(missing_ok=True)
        return BlobInfo(digest, len(data))

    def put_stream(self, stream: BinaryIO, expected: str | None = None) -> BlobInfo:
        """Copy ``stream`` in chunks while hashing it; memory stays at one chunk.

        With ``expected``, content that hashes otherwise is refused and never published
        (a corrupt copy from elsewhere cannot land under, or next to, a good blob).
        """
        tmp = self._new_temp()
        hasher = blake3()
        size = 0
        try:
            with open(tmp, "wb") as out:
                while chunk := stream.read(CHUNK_SIZE):
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            digest = hasher.hexdigest()
            if expected is not None and digest != expected:
                raise corrupt_blob(expected, "the source")
            self._publish(tmp, digest)
        finally:
            tmp.unlink(missing_ok=True)
        return BlobInfo(digest, size)

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path_of(digest), "rb")
        except FileNotFoundError:
            raise missing_blob(digest, self.url) from None

    def size(self, digest: str) -> int:
        try:
            return self.path_of(digest).stat().st_size
        except FileNotFoundError:
            raise missing_blob(digest, self.url) from None

    def read_bytes(self, digest: str, *, verify: bool = True) -> bytes:
        with self.open(digest) as handle:
            data = handle.read()
        if verify and blake3(data).hexdigest() != digest:
            raise corrupt_blob(digest, self.url)
        return data

    def get_file(self, digest: str, dest: str | Path, *, verify: bool = True) -> None:
        """Copy a blob to ``dest`` atomically, checking its hash on the way."""
        copy_verified(self.open(digest), digest, Path(dest), where=self.url, verify=verify)

    def rehash(self, digest: str) -> str | None:
        """The hash of what is stored under ``digest`` now, or None if it is missing."""
        try:
            with open(self.path_of(digest), "rb") as handle:
                return hash_stream(handle)
        except FileNotFoundError:
            return None

    def iter_hashes(self) -> Iterator[str]:
        if not self._blobs.is_dir():
            return
        for fanout in sorted(self._blobs.iterdir()):
            if fanout.is_dir():
                for blob in sorted(fanout.iterdir()):
                    yield blob.name

    def delete(self, digest: str) -> None:
        self.path_of(digest).unlink(missing_ok=True)

    def remove_stale_temp(self, *, older_than_s: float = 3600.0) -> list[str]:
        """Delete ``.part`` files left by killed writers; returns their names.

        Temp files are named ``<pid>-<random>-<host>.part``. One written on this host is
        stale when its process is gone; one from another host sharing the disk, whose
        processes cannot be checked from here, only when older than ``older_than_s``.
        """
        if not self._tmp.is_dir():
            return []
        removed = []
        now = time.time()
        host = socket.gethostname()
        for tmp in self._tmp.iterdir():
            pid_text, _, rest = tmp.name.removesuffix(".part").partition("-")
            writer_host = rest.partition("-")[2]
            try:
                old = now - tmp.stat().st_mtime > older_than_s
            except FileNotFoundError:
                continue
            ours = writer_host == host and pid_text.isdigit()
            dead = ours and not pid_alive(int(pid_text))
            if dead or old:
                tmp.unlink(missing_ok=True)
                removed.append(tmp.name)
        return removed

    def _new_temp(self) -> Path:
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreReadOnly(
                f"cannot write to the artifact store at {self.root}: {exc.strerror}",
                hint="check its permissions or set LOOPML_ARTIFACTS_URL",
            ) from None
        return self._tmp / f"{os.getpid()}-{secrets.token_hex(8)}-{socket.gethostname()}.part"

    def _publish(self, tmp: Path, digest: str) -> None:
        final = self.path_of(digest)
        if final.exists():
            return  # identical content is stored once
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, 0o444)  # blobs are immutable; guard against accidental edits
        os.replace(tmp, final)


def _stamp(stat: os.stat_result) -> tuple[int, int, int]:
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def _changed(source: Path) -> InvalidInput:
    return InvalidInput(
        f"{source} changed while it was being added",
        hint="add it again once nothing is writing to it",
    )
