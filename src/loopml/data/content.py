"""Folder content: hashing with the stat cache, manifests, and packing small files.

A folder version is a manifest (relative path, size, BLAKE3 hash per file) stored as a
blob; its content hash is the hash of the canonical manifest, so it changes exactly when
a file's path or bytes change. File content is stored once, whatever the folder: files
up to :data:`PACK_FILE_MAX` are concatenated into packs of up to :data:`PACK_SIZE`
(one write for thousands of files), larger files are blobs of their own. The
``blob_parts`` table says where each packed file's bytes sit. Content is stored once
across versions and datasets: only bytes the store lacks are written.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import queue
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from blake3 import blake3
from sqlalchemy import Connection

from ..artifacts import BlobInfo
from ..artifacts.hashing import hash_file
from ..clock import now_ms
from ..errors import IntegrityFailure, InvalidInput
from ..ops import operation
from ..store import Store
from ..store.bulk import insert_rows, rows_by_keys
from ..store.schema import blob_parts, blobs
from .scan import FoundFile, check_relative
from .statcache import FileStat, FolderSnapshot, StatCache, file_stat

PACK_FILE_MAX = 1 << 20  # files up to 1 MiB are packed
PACK_SIZE = 32 << 20  # a pack closes at 32 MiB
_BATCH_FILES = 2000  # files read and hashed before one query for what the store lacks
_MANIFEST_FORMAT = "loopml-manifest/1"


class ManifestEntry(NamedTuple):
    path: str
    size: int
    hash: str


@dataclass(frozen=True)
class StoredContent:
    """Blobs and parts written for one folder version, to record in one transaction."""

    blobs: list[BlobInfo]
    parts: list[tuple[str, str, int, int]]  # hash, pack, offset, size


@dataclass
class Ingested:
    entries: list[ManifestEntry]
    content: StoredContent
    """What was stored while hashing (content the store did not hold yet)."""
    found: list[FoundFile]
    hashes: list[str]
    misses: list[int]
    """Indexes of the files read now (the rest came from the stat cache)."""

    @property
    def all_cached(self) -> bool:
        """Every file was known to the stat cache: its snapshot needs no rewrite."""
        return not self.misses

    @property
    def snapshot(self) -> list[tuple[str, FileStat, str]]:
        """(path, stat, hash) of every file, for the stat cache."""
        return [
            (item.path, item.stat, digest)
            for item, digest in zip(self.found, self.hashes, strict=True)
        ]

    @property
    def unread(self) -> set[str]:
        """Hashes known from the stat cache only: stored already, or :func:`store_unread` them."""
        read = {self.hashes[i] for i in self.misses}
        return {digest for digest in self.hashes if digest not in read}


def ingest_folder(
    store: Store,
    found: list[FoundFile],
    cache: StatCache,
    root: Path,
    progress: Callable[[int], None],
) -> Ingested:
    """Hash a folder's files and store the content that is new, in one pass.

    Files unchanged since they were last hashed (stat cache) are not read at all. The
    others are read once, in batches: each batch is hashed, one query finds which of
    its contents the store lacks, and those go into packs that a writer thread hashes
    and writes while the next batch is read.
    """
    hashes, misses = _cached_hashes(found, cache.snapshot(root))
    progress(len(found) - len(misses))
    content = StoredContent([], [])
    with contextlib.nullcontext() if not misses else _Packer(store) as packer:
        for start in range(0, len(misses), _BATCH_FILES):
            batch: dict[str, bytes | tuple[str, tuple[int, int, int]]] = {}
            for index in misses[start : start + _BATCH_FILES]:
                path, stat = found[index].path, found[index].stat
                if stat[1] > PACK_FILE_MAX:
                    digest = _hash_large(path)
                    if _stamp(os.stat(path)) != stat[1:]:  # must be the file the walk saw
                        raise _changed(path)
                    batch.setdefault(digest, (path, stat[1:]))
                else:
                    data = _read(path, stat[1])  # the manifest records the walk's size
                    digest = blake3(data).hexdigest()
                    batch.setdefault(digest, data)
                hashes[index] = digest
            progress(len(misses[start : start + _BATCH_FILES]))  # per batch: cheap
            for digest in sorted(_missing(store, set(batch))):
                packer.add(digest, batch[digest])
        if packer is not None:
            content = packer.finish()
    entries = list(
        map(
            ManifestEntry,
            [item.relative for item in found],
            [item.stat[1] for item in found],
            hashes,
        )
    )
    return Ingested(entries, content, found, hashes, misses)


def _cached_hashes(
    found: list[FoundFile], snapshot: FolderSnapshot | None
) -> tuple[list[str], list[int]]:
    """Each file's hash where the stat cache knows it ("" where not), and the indexes
    of the files that must be read."""
    if snapshot is None:
        return [""] * len(found), list(range(len(found)))
    if snapshot.paths == [item.path for item in found] and snapshot.stats == [
        item.stat for item in found
    ]:
        return list(snapshot.hashes), []  # the common re-add: two list comparisons
    known = snapshot.known()
    hashes = [""] * len(found)
    misses: list[int] = []
    for index, item in enumerate(found):
        cached = known.get(item.path)
        if cached is not None and cached[0] == item.stat:
            hashes[index] = cached[1]
        else:
            misses.append(index)
    return hashes, misses


def store_unread(
    store: Store, ingested: Ingested, progress: Callable[[int], None]
) -> StoredContent:
    """Store content known only from the stat cache that the store does not hold.

    Rare (blobs removed, or a cache that outlived its store), but a version must never
    name content that is not there; the files are read and checked against their hash.
    """
    missing = _missing(store, ingested.unread)
    if not missing:
        return ingested.content
    paths = {item.relative: item.path for item in ingested.found}
    with _Packer(store) as packer:
        for entry in ingested.entries:
            if entry.hash in missing:
                missing.discard(entry.hash)
                source = paths[entry.path]
                if entry.size > PACK_FILE_MAX:
                    packer.add(entry.hash, (source, None))  # hashed again while stored
                else:
                    data = _read(source, entry.size)
                    _same(blake3(data).hexdigest(), entry, source)
                    packer.add(entry.hash, data)
                progress(1)
        extra = packer.finish()
    return StoredContent(
        [*ingested.content.blobs, *extra.blobs], sorted([*ingested.content.parts, *extra.parts])
    )


class _Packer:
    """Collects small contents into packs written by a background thread."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._chunks: list[bytes] = []
        self._pending: list[tuple[str, int, int]] = []
        self._size = 0
        self._written: list[BlobInfo] = []
        self._parts: list[tuple[str, str, int, int]] = []
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write, name="loopml-packer", daemon=True)
        self._thread.start()

    def __enter__(self) -> _Packer:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def add(self, digest: str, content: bytes | tuple[str, tuple[int, int, int] | None]) -> None:
        """Pack ``content`` (bytes), or store a large file as a blob of its own: ``(path,
        stat)`` with the (size, mtime_ns, ctime_ns) it had when hashed, or None to hash it
        again while it is stored."""
        self._raise_if_failed()
        if isinstance(content, tuple):
            path, hashed_stat = content
            if hashed_stat is None:
                info = self._store.blobs.put_file(path)
                if info.hash != digest:
                    raise _changed(path)
            else:
                info = self._store.blobs.put_file(path, digest, hashed_stat)
            self._written.append(info)
            return
        if self._size + len(content) > PACK_SIZE:
            self._seal()
        self._pending.append((digest, self._size, len(content)))
        self._chunks.append(content)
        self._size += len(content)

    def finish(self) -> StoredContent:
        self._seal()
        self._queue.put(None)
        self._thread.join()
        self._raise_if_failed()
        return StoredContent(self._written, sorted(self._parts))

    def _seal(self) -> None:
        if self._pending:
            self._queue.put((self._chunks, self._pending))
            self._chunks, self._pending, self._size = [], [], 0

    def _write(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain; the error is raised in the adding thread
            chunks, pending = item
            try:
                info = self._store.blobs.put_bytes(b"".join(chunks))
            except BaseException as exc:  # handed to the adding thread
                self._error = exc
                continue
            self._written.append(info)
            self._parts.extend(
                (digest, info.hash, offset, size) for digest, offset, size in pending
            )

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error


def content_hash(entries: Iterable[ManifestEntry]) -> str:
    """The hash of a folder: of its canonical manifest, independent of how it is stored."""
    listing = "".join(f"{path}\0{size}\0{digest}\n" for path, size, digest in entries)
    return blake3(b"loopml-folder/1\n" + listing.encode()).hexdigest()


def encode_manifest(entries: list[ManifestEntry]) -> bytes:
    document = {"format": _MANIFEST_FORMAT, "files": entries}  # tuples encode as arrays
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return gzip.compress(text.encode("utf-8"), compresslevel=1, mtime=0)


def decode_manifest(data: bytes, *, where: str) -> list[ManifestEntry]:
    try:
        document = json.loads(gzip.decompress(data))
        if document.get("format") != _MANIFEST_FORMAT:
            raise ValueError(f"unknown manifest format {document.get('format')!r}")
        return [ManifestEntry(*entry) for entry in document["files"]]
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise IntegrityFailure(f"the manifest of {where} cannot be read: {exc}") from None


def record_content(connection: Connection, content: StoredContent) -> None:
    """Register blobs and packed parts (inside the version's transaction)."""
    now = now_ms()
    insert_rows(
        connection,
        blobs,
        ("hash", "size", "created_at"),
        [(info.hash, info.size, now) for info in {i.hash: i for i in content.blobs}.values()],
        skip_existing=True,
    )
    insert_rows(
        connection,
        blob_parts,
        ("hash", "pack", "offset", "size"),
        content.parts,
        skip_existing=True,
    )


def iter_contents(
    store: Store, entries: list[ManifestEntry]
) -> Iterator[tuple[ManifestEntry, bytes | None]]:
    """Each entry with its bytes, read from its pack and hash-checked; every pack is
    opened once. Content stored as a blob of its own comes as None: stream it from the
    blob store rather than hold a large file in memory."""
    locations = content_locations(store, [entry.hash for entry in entries])
    by_pack: dict[str, list[ManifestEntry]] = {}
    for entry in entries:
        where = locations.get(entry.hash)
        by_pack.setdefault(where[0] if where else "", []).append(entry)
    for pack, group in by_pack.items():
        if not pack:
            for entry in group:
                yield entry, None
            continue
        with store.blobs.open(pack) as handle:
            for entry in sorted(group, key=lambda item: locations[item.hash][1]):
                handle.seek(locations[entry.hash][1])
                data = handle.read(entry.size)
                if blake3(data).hexdigest() != entry.hash:
                    raise IntegrityFailure(
                        f"{entry.path} in pack {pack[:12]}… does not match its hash",
                        hint="run 'loopml artifacts verify'",
                    )
                yield entry, data


def materialize_entries(
    store: Store, entries: list[ManifestEntry], dest: Path, progress: Callable[[int], None]
) -> Iterator[tuple[Path, str, FileStat]]:
    """Write every file of a manifest under ``dest``, hash-checked.

    Yields (path, hash, stat) with the stat taken right after each file is written, so
    the stat cache never pairs a later edit with this content.
    """
    for entry, data in iter_contents(store, entries):
        target = dest / check_relative(entry.path)
        if data is None:
            store.blobs.get_file(entry.hash, target)
        else:
            _write_atomically(target, data)
        stat = file_stat(target.stat())  # before anything else can touch the file
        progress(1)
        yield target, entry.hash, stat


def _read(path: str, size: int) -> bytes:
    """The bytes of a small file that the walk saw with ``size`` bytes.

    One ``os.read`` of ``size + 1`` bytes (half the cost of ``open().read()``, which
    matters at 50,000 files): getting exactly ``size`` means the end was reached. Any
    other length is a file that changed since the walk, and is refused.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except PermissionError:
        raise InvalidInput(f"cannot read {path}", hint="check its permissions") from None
    except FileNotFoundError:
        raise _changed(path) from None
    try:
        data = os.read(fd, size + 1)
        while len(data) < size and (more := os.read(fd, size + 1 - len(data))):
            data += more  # a short read (network filesystems): read on to the end
    finally:
        os.close(fd)
    if len(data) != size:
        raise _changed(path)
    return data


def _hash_large(path: str) -> str:
    try:
        return hash_file(path)
    except PermissionError:
        raise InvalidInput(f"cannot read {path}", hint="check its permissions") from None


def _same(digest: str, entry: ManifestEntry, source: str) -> None:
    if digest != entry.hash:
        raise _changed(source)


def _changed(path: str) -> InvalidInput:
    return InvalidInput(
        f"{path} changed while it was being added", hint="add it again once it is written"
    )


def _stamp(stat: os.stat_result) -> tuple[int, int, int]:
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def _missing(store: Store, hashes: set[str]) -> set[str]:
    return set(missing_content(store, sorted(hashes)))


@operation("data.missing_content", role="reader")
def missing_content(store: Store, hashes: list[str]) -> list[str]:
    """The hashes that are neither a packed part nor a blob of their own yet."""
    wanted = sorted(set(hashes))
    with store.read() as connection:
        present = {row[0] for row in rows_by_keys(connection, blob_parts, "hash", wanted)}
        rest = [digest for digest in wanted if digest not in present]
        present.update(row[0] for row in rows_by_keys(connection, blobs, "hash", rest))
    return [digest for digest in wanted if digest not in present]


@operation("data.content_locations", role="reader")
def content_locations(store: Store, hashes: list[str]) -> dict[str, tuple[str, int]]:
    """Where each packed file is: (the pack's hash, its offset in the pack)."""
    with store.read() as connection:
        rows = rows_by_keys(
            connection, blob_parts, "hash", sorted(set(hashes)), ("hash", "pack", "offset")
        )
    return {digest: (pack, offset) for digest, pack, offset in rows}


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
