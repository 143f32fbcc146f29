"""Hashes of files that have not changed since they were last hashed (DVC's "state").

Keyed by absolute path and checked against inode, size, modification time and
change time (ctime) in nanoseconds. A file rewritten with the same size gets a new
mtime and ctime; unlike mtime, ctime cannot be set back by tools that restore
timestamps, so a same-size edit is never missed. The cache is a SQLite file on the
local machine, next to the store, whatever database holds the metadata.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple


class FileStat(NamedTuple):
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, stat: os.stat_result) -> FileStat:
        return cls(stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


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

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> StatCache:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def known(self, folder: str | Path) -> dict[str, tuple[FileStat, str]]:
        """Every cached entry at or under ``folder`` (one range scan, not one query a file)."""
        prefix = str(folder)
        rows = self._db.execute(
            "SELECT path, inode, size, mtime_ns, ctime_ns, hash FROM stat_cache "
            "WHERE path = ? OR (path >= ? AND path < ?)",
            (prefix, prefix + os.sep, prefix + chr(ord(os.sep) + 1)),
        )
        return {row[0]: (FileStat(*row[1:5]), row[5]) for row in rows}

    def lookup(self, path: str | Path, stat: FileStat) -> str | None:
        row = self._db.execute(
            "SELECT inode, size, mtime_ns, ctime_ns, hash FROM stat_cache WHERE path = ?",
            (str(path),),
        ).fetchone()
        return row[4] if row and FileStat(*row[:4]) == stat else None

    def remember(self, entries: Iterable[tuple[str | Path, FileStat, str]]) -> None:
        rows = [(str(path), *stat, digest) for path, stat, digest in entries]
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO stat_cache VALUES (?, ?, ?, ?, ?, ?)", rows
            )
