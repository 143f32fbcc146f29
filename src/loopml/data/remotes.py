"""Moving dataset content between the store and a remote (S3 or any blob store URL).

The metadata (versions, manifests' hashes) is shared through the database; a remote
holds blobs. ``push`` sends the blobs the chosen versions need and the remote lacks,
``pull`` fetches those the local store lacks. Both list the other side once, transfer in
parallel, and check every blob's hash on the way. Blobs are content-addressed and
written atomically, so an interrupted transfer is resumed by running it again: what
arrived is skipped, nothing half-written is ever visible.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from typing import Any

from ..artifacts import BlobStore, open_blob_store
from ..errors import IntegrityFailure, InvalidInput, NotFound
from ..ops import operation
from ..store import Store
from ..store.bulk import rows_by_keys
from ..store.schema import blob_parts, blobs
from .entities import DatasetVersion
from .versioning import get_version, list_datasets, list_versions, manifest

Progress = Callable[[int], None]
DEFAULT_WORKERS = 8


@dataclass
class TransferReport:
    direction: str  # push | pull
    remote: str
    versions: list[str]
    needed: int = 0
    present: int = 0
    transferred: int = 0
    bytes: int = 0
    failed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def remote_url(given: str | None) -> str:
    """``given``, or ``$LOOPML_REMOTE``; a clear error when neither names a remote."""
    url = given or os.environ.get("LOOPML_REMOTE")
    if not url:
        raise InvalidInput(
            "no remote given", hint="pass --remote s3://bucket/prefix or set LOOPML_REMOTE"
        )
    return url


def select_versions(store: Store, refs: list[str]) -> list[DatasetVersion]:
    """``NAME@V`` -> that version, ``NAME`` -> all its versions, nothing -> everything."""
    if not refs:
        return [v for dataset in list_datasets(store) for v in list_versions(store, dataset.name)]
    chosen: list[DatasetVersion] = []
    for ref in refs:
        chosen += [get_version(store, ref)] if "@" in ref else list_versions(store, ref)
    return chosen


def needed_blobs(store: Store, versions: list[DatasetVersion]) -> dict[str, int]:
    """Every blob (hash -> size) the versions need: their bytes or manifests, their
    profiles, and for folders the packs and blobs holding each file."""
    wanted: set[str] = set()
    for version in versions:
        wanted.add(version.blob)
        if version.profile_blob:
            wanted.add(version.profile_blob)
        if version.kind == "folder":
            wanted.update(entry.hash for entry in manifest(store, version))
    holders = blob_holders(store, sorted(wanted))
    missing = [digest for digest, size in holders.items() if size is None]
    if missing:
        raise IntegrityFailure(
            f"{len(missing)} blob(s) the versions need are not recorded in the store",
            hint="run 'loopml artifacts verify'",
        )
    return {digest: size for digest, size in holders.items() if size is not None}


@operation("data.blob_holders", role="reader")
def blob_holders(store: Store, hashes: list[str]) -> dict[str, int | None]:
    """The blobs holding ``hashes`` (each blob itself, or the pack it was packed into),
    with their sizes; None for one the store has no record of."""
    with store.read() as connection:
        ordered = sorted(set(hashes))
        packs = dict(rows_by_keys(connection, blob_parts, "hash", ordered, ("hash", "pack")))
        holders = sorted({packs.get(digest, digest) for digest in ordered})
        sizes = dict(rows_by_keys(connection, blobs, "hash", holders, ("hash", "size")))
    return {digest: sizes.get(digest) for digest in holders}


def push(
    store: Store,
    refs: list[str],
    remote: str,
    *,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
    on_total: Progress | None = None,
) -> TransferReport:
    """Send the blobs the versions ``refs`` need and ``remote`` lacks.

    ``on_total(bytes)`` hears how much is to be sent, ``progress(bytes)`` each blob sent.
    """
    target = open_blob_store(remote)
    return _transfer(store, refs, "push", store.blobs, target, remote, workers, progress, on_total)


def pull(
    store: Store,
    refs: list[str],
    remote: str,
    *,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
    on_total: Progress | None = None,
) -> TransferReport:
    """Fetch the blobs the versions ``refs`` need and the local store lacks."""
    source = open_blob_store(remote)
    return _transfer(store, refs, "pull", source, store.blobs, remote, workers, progress, on_total)


def _transfer(
    store: Store,
    refs: list[str],
    direction: str,
    source: BlobStore,
    target: BlobStore,
    remote: str,
    workers: int,
    progress: Progress | None,
    on_total: Progress | None,
) -> TransferReport:
    if workers < 1:
        raise InvalidInput(f"workers must be at least 1, got {workers}")
    versions = select_versions(store, refs)
    report = TransferReport(direction, remote, [version.ref for version in versions])
    step = progress or (lambda _n: None)

    def copy(digest: str) -> None:
        try:
            stream = source.open(digest)
        except NotFound:
            raise NotFound(f"blob {digest[:12]}… is missing from {source.url}") from None
        try:
            with stream:
                target.put_stream(stream, expected=digest)  # never published if it differs
        except IntegrityFailure:
            raise IntegrityFailure(
                f"blob {digest[:12]}… in {source.url} does not match its hash",
                hint="run 'loopml artifacts verify' where it came from",
            ) from None

    present = set(target.iter_hashes())  # one listing instead of a request per blob
    # A pull needs the folders' manifests here before it knows which files they list.
    manifests = {v.blob for v in versions if v.kind == "folder"} - present
    for digest in sorted(manifests) if direction == "pull" else []:
        copy(digest)
        present.add(digest)
    sizes = needed_blobs(store, versions)
    todo = {digest: size for digest, size in sizes.items() if digest not in present}
    report.needed, report.present = len(sizes), len(sizes) - len(todo)
    if direction == "pull":
        report.present -= len(manifests)
        report.transferred, report.bytes = len(manifests), sum(sizes[d] for d in manifests)
    if on_total is not None:
        on_total(sum(todo.values()))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(copy, digest): digest for digest in sorted(todo)}
        for future in as_completed(futures):
            digest = futures[future]
            try:
                future.result()
            except (NotFound, IntegrityFailure) as exc:
                report.failed.append(f"{digest}: {exc}")
                continue
            report.transferred += 1
            report.bytes += todo[digest]
            step(todo[digest])
    return report
