"""Blobs on object storage (S3 and anything else fsspec reaches): ``<prefix>/blobs/ab/ab12…``.

A new blob is streamed to ``<prefix>/tmp/<random>`` while it is hashed and then copied,
server-side, to its hash: what is stored under a hash is exactly what was hashed. Object
stores never show an unfinished multipart upload, so a writer killed mid-upload leaves
nothing; one killed between upload and copy leaves a temporary object that
:meth:`FsspecBlobStore.remove_stale_temp` deletes once it is old.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from blake3 import blake3

from ..errors import IntegrityFailure, InvalidInput, NotFound, StoreError
from .hashing import CHUNK_SIZE, hash_bytes, hash_file, hash_stream, is_hash
from .types import BlobInfo, copy_verified, corrupt_blob, missing_blob


class FsspecBlobStore:
    """A content-addressed blob store on any fsspec filesystem (S3 is the tested one)."""

    def __init__(self, url: str, **storage_options: Any) -> None:
        from fsspec.core import url_to_fs

        self.url = url.rstrip("/")
        try:
            # No listings cache: another process may add blobs at any moment.
            self.fs, self.root = url_to_fs(self.url, use_listings_cache=False, **storage_options)
        except ImportError as exc:
            raise StoreError(
                f"the artifact store {url} needs a package that is not installed: {exc}",
                hint="for S3 install the extra: pip install 'loopml[s3]'",
            ) from None
        self.root = self.root.rstrip("/")

    def __repr__(self) -> str:
        return f"FsspecBlobStore({self.url!r})"

    def key_of(self, digest: str) -> str:
        return f"{self.root}/blobs/{digest[:2]}/{digest}"

    def exists(self, digest: str) -> bool:
        return is_hash(digest) and self._call(self.fs.exists, self.key_of(digest))

    def put_file(
        self,
        source: str | Path,
        digest: str | None = None,
        hashed_stat: tuple[int, int, int] | None = None,
    ) -> BlobInfo:
        """Store a file; content already stored (``digest``, or hashed now) is not uploaded.

        A new file is hashed again while it uploads and must hash to ``digest``: what is
        stored under a hash is exactly what was hashed (``hashed_stat`` is not needed).
        """
        source = Path(source)
        digest = digest or hash_file(source)
        if self.exists(digest):
            return BlobInfo(digest, source.stat().st_size)
        with open(source, "rb") as handle:
            try:
                return self.put_stream(handle, expected=digest)
            except IntegrityFailure:
                raise InvalidInput(
                    f"{source} changed while it was being added",
                    hint="add it again once nothing is writing to it",
                ) from None

    def put_bytes(self, data: bytes | bytearray) -> BlobInfo:
        digest = hash_bytes(data)
        if not self.exists(digest):
            self._call(self.fs.pipe_file, self.key_of(digest), data)
        return BlobInfo(digest, len(data))

    def put_stream(self, stream: BinaryIO, expected: str | None = None) -> BlobInfo:
        """Upload to a temporary key while hashing, then move the object under its hash.

        The bytes stored are exactly the bytes hashed, even if a file changes while it is
        read, and nothing appears under a blob's name before its content is known.
        """
        temp_key = f"{self.root}/tmp/{secrets.token_hex(16)}"
        hasher = blake3()
        size = 0
        try:
            with self._call(self.fs.open, temp_key, "wb") as out:
                while chunk := stream.read(CHUNK_SIZE):
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            digest = hasher.hexdigest()
            if expected is not None and digest != expected:
                raise corrupt_blob(expected, "the source")
            if not self.exists(digest):
                self._call(self.fs.copy, temp_key, self.key_of(digest))  # server-side copy
        finally:
            with contextlib.suppress(FileNotFoundError, StoreError):
                self._call(self.fs.rm_file, temp_key)
        return BlobInfo(digest, size)

    def open(self, digest: str) -> BinaryIO:
        try:
            return self._call(self.fs.open, self.key_of(digest), "rb")
        except FileNotFoundError:
            raise missing_blob(digest, self.url) from None

    def size(self, digest: str) -> int:
        try:
            return int(self._call(self.fs.size, self.key_of(digest)))
        except FileNotFoundError:
            raise missing_blob(digest, self.url) from None

    def read_bytes(self, digest: str, *, verify: bool = True) -> bytes:
        try:
            data = self._call(self.fs.cat_file, self.key_of(digest))
        except FileNotFoundError:
            raise missing_blob(digest, self.url) from None
        if verify and blake3(data).hexdigest() != digest:
            raise corrupt_blob(digest, self.url)
        return data

    def get_file(self, digest: str, dest: str | Path, *, verify: bool = True) -> None:
        """Copy a blob to ``dest`` atomically, checking its hash on the way."""
        copy_verified(self.open(digest), digest, Path(dest), where=self.url, verify=verify)

    def rehash(self, digest: str) -> str | None:
        try:
            with self.open(digest) as src:
                return hash_stream(src)
        except NotFound:
            return None

    def iter_hashes(self) -> Iterator[str]:
        prefix = f"{self.root}/blobs"
        try:
            keys = self._call(self.fs.find, prefix)
        except FileNotFoundError:
            return
        for key in sorted(keys):
            name = key.rsplit("/", 1)[-1]
            if is_hash(name):
                yield name

    def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._call(self.fs.rm_file, self.key_of(digest))

    def remove_stale_temp(self, *, older_than_s: float = 3600.0) -> list[str]:
        """Delete temporary objects older than ``older_than_s`` (left by killed writers).

        An upload that never finished is invisible already; this removes one that
        finished but whose writer died before moving it under its hash.
        """
        cutoff = time.time() - older_than_s
        removed = []
        try:
            entries = self._call(self.fs.ls, f"{self.root}/tmp", True)
        except FileNotFoundError:
            return []
        for entry in entries:
            modified = entry.get("LastModified") or entry.get("mtime")
            stamp = modified.timestamp() if hasattr(modified, "timestamp") else modified
            if stamp is not None and stamp < cutoff:
                with contextlib.suppress(FileNotFoundError):
                    self._call(self.fs.rm_file, entry["name"])
                removed.append(entry["name"].rsplit("/", 1)[-1])
        return removed

    def _call(self, func: Any, *args: Any) -> Any:
        try:
            return func(*args)
        except (FileNotFoundError, IntegrityFailure):
            raise
        except PermissionError as exc:
            raise StoreError(
                f"the artifact store {self.url} refused access: {exc}",
                hint="check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)",
            ) from None
        except OSError as exc:
            raise StoreError(
                f"the artifact store {self.url} failed: {exc}",
                hint="check LOOPML_ARTIFACTS_URL, the endpoint (AWS_ENDPOINT_URL) and network",
            ) from None
