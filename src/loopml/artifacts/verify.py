"""``loopml artifacts verify``: re-hash every recorded blob and name what is damaged.

Reports blobs whose content no longer matches their hash (corrupt), blobs the metadata
records but the store lacks (missing), with the run files that point at each, and blobs
stored but recorded nowhere (orphaned: left by a process killed between writing a blob
and committing its row; harmless). Temp files of killed writers are removed.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..store.schema import blobs, run_artifacts

if TYPE_CHECKING:
    from ..store import Store


@dataclass
class VerifyReport:
    checked: int = 0
    bytes_checked: int = 0
    corrupt: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    temp_removed: list[str] = field(default_factory=list)
    references: dict[str, list[str]] = field(default_factory=dict)
    """For each corrupt or missing blob, the run files (``run_id:path``) that use it."""

    @property
    def ok(self) -> bool:
        return not self.corrupt and not self.missing

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "bytes_checked": self.bytes_checked,
            "corrupt": self.corrupt,
            "missing": self.missing,
            "orphaned": self.orphaned,
            "temp_removed": self.temp_removed,
            "references": self.references,
        }


def verify_blobs(
    store: Store,
    *,
    workers: int = 4,
    on_progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Check every blob the metadata records; ``on_progress(done_bytes, total_bytes)``."""
    report = VerifyReport()
    report.temp_removed = store.blobs.remove_stale_temp()
    with store.read() as connection:
        recorded = dict(connection.execute(select(blobs.c.hash, blobs.c.size)).all())
    total = sum(recorded.values())
    done = 0

    def check(digest: str) -> tuple[str, str | None]:
        return digest, store.blobs.rehash(digest)

    # Hashing releases the GIL and reading waits on I/O, so threads overlap both.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for digest, actual in pool.map(check, sorted(recorded)):
            report.checked += 1
            done += recorded[digest]
            if actual is None:
                report.missing.append(digest)
            elif actual != digest:
                report.corrupt.append(digest)
            else:
                report.bytes_checked += recorded[digest]
            if on_progress:
                on_progress(done, total)
    report.orphaned = [digest for digest in store.blobs.iter_hashes() if digest not in recorded]
    damaged = report.corrupt + report.missing
    if damaged:
        with store.read() as connection:
            rows = connection.execute(
                select(run_artifacts.c.blob, run_artifacts.c.run_id, run_artifacts.c.path).where(
                    run_artifacts.c.blob.in_(damaged)
                )
            )
            for digest, run_id, path in rows:
                report.references.setdefault(digest, []).append(f"{run_id}:{path}")
    return report
