"""Hashes of files that have not changed since they were last hashed (DVC's "state").

A file counts as unchanged when its inode, size, modification time and change time
(ctime), in nanoseconds, are what they were when it was hashed. A file rewritten with the
same size gets a new mtime and ctime; unlike mtime, ctime cannot be set back by tools
that restore timestamps, so a same-size edit is never missed.

The cache is a SQLite file on the local machine, next to the store, whatever database
holds the metadata. A folder's entries are kept as one snapshot row (``marshal``-encoded:
reading or writing 50,000 entries takes milliseconds, against a quarter of a second as
rows); single files as rows of their own.
"""

from __future__ import annotations

import marshal
import os
import sqlite3
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

FileStat = tuple[int, int, int, int]
"""(inode, size, mtime_ns, ctime_ns)."""

_FORMAT = f"loopml-stat/1 python-{sys.version_info[0]}.{sys.version_info[1]}"
_COARSE_WINDOW_NS = 2_000_000_000  # filesystems that keep whole seconds (FAT, some shares)
_FINE_WINDOW_NS = 20_000_000  # nanosecond timestamps still advance per clock tick


def file_stat(stat: os.stat_result) -> FileStat:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def racy(stat: FileStat, now_ns: int) -> bool:
    """Whether ``stat`` is too recent to trust (git's "racily clean" entries).

    A file written again within the same timestamp tick as the read keeps its stat, so
    an entry this young is not cached: the next add hashes the file again. The tick is
    a clock tick on filesystems with nanosecond times, up to two seconds on others.
    """
    newest = max(stat[2], stat[3])
    window = _COARSE_WINDOW_NS if newest % 1_000_000 == 0 else _FINE_WINDOW_NS
    return now_ns - newest < window


class FolderSnapshot(NamedTuple):
    """Parallel lists: a file's absolute path, its stat and its content hash."""

    paths: list[str]
    stats: list[FileStat]
    hashes: list[str]

    def known(self) -> dict[str, tuple[FileStat, str]]:
        """Path -> (stat, hash)."""
        return dict(zip(self.paths, zip(self.stats, self.hashes, strict=True), strict=True))


class StatCache:
    """Path -> (stat, hash) for files whose content hash is known."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS stat_cache (path TEXT PRIMARY KEY, inode INTEGER, "
            "size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, hash TEXT) WITHOUT ROWID"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS folder_snapshots "
            "(root TEXT PRIMARY KEY, format TEXT, entries BLOB) WITHOUT ROWID"
        )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> StatCache:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def snapshot(self, folder: str | Path) -> FolderSnapshot | None:
        """The cached entries of files under ``folder``, in the order they were stored."""
        row = self._db.execute(
            "SELECT format, entries FROM folder_snapshots WHERE root = ?", (str(folder),)
        ).fetchone()
        if row is not None and row[0] == _FORMAT:
            try:
                paths, stats, hashes = marshal.loads(row[1])
                if len(paths) == len(stats) == len(hashes):
                    return FolderSnapshot(paths, stats, hashes)
            except (ValueError, EOFError, TypeError):
                pass  # a damaged snapshot is only a slower add
        return None

    def remember_folder(
        self, folder: str | Path, entries: Iterable[tuple[str, FileStat, str]]
    ) -> None:
        """Replace the snapshot of ``folder`` with ``entries`` (path, stat, hash)."""
        paths, stats, hashes = [], [], []
        now = time.time_ns()
        for path, stat, digest in entries:
            if racy(stat, now):
                continue
            paths.append(str(path))
            stats.append(tuple(stat))
            hashes.append(digest)
        blob = marshal.dumps((paths, stats, hashes))
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT OR REPLACE INTO folder_snapshots VALUES (?, ?, ?)",
                (str(folder), _FORMAT, blob),
            )

    def lookup(self, path: str | Path, stat: FileStat) -> str | None:
        row = self._db.execute(
            "SELECT inode, size, mtime_ns, ctime_ns, hash FROM stat_cache WHERE path = ?",
            (str(path),),
        ).fetchone()
        return row[4] if row and tuple(row[:4]) == tuple(stat) else None

    def remember(self, entries: Iterable[tuple[str | Path, FileStat, str]]) -> None:
        now = time.time_ns()
        rows = [(str(path), *stat, digest) for path, stat, digest in entries if not racy(stat, now)]
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO stat_cache VALUES (?, ?, ?, ?, ?, ?)", rows
            )
