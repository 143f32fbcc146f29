"""Dataset versions: add, find, list, tag, materialise and load.

``add`` hashes first and stores nothing when the content equals the latest version's.
Tables are read (and so checked) before anything is stored, so bad input leaves the
store as it was. Versions are numbered 1, 2, 3… per dataset under a lock on the
dataset's row, so concurrent adds never share a number.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blake3 import blake3
from sqlalchemy import Connection, func, insert, select

from ..artifacts.hashing import hash_file, is_hash
from ..clock import now_ms
from ..errors import InvalidInput, NotFound
from ..governance import audit
from ..ops import operation
from ..store import Store
from ..store.bulk import rows_by_keys
from ..store.schema import blobs, dataset_tags, dataset_versions, datasets, run_inputs
from ..store.upsert import conflict_insert
from .content import (
    Ingested,
    ManifestEntry,
    StoredContent,
    content_hash,
    decode_manifest,
    encode_manifest,
    ingest_folder,
    iter_contents,
    materialize_entries,
    record_content,
    store_unread,
)
from .entities import AddResult, Dataset, DatasetVersion
from .filetypes import table_format
from .refs import DatasetRef, check_dataset_name, check_tag, parse_ref
from .scan import bulk_allocation, scan_folder
from .sources import Snapshot
from .statcache import StatCache, file_stat

if TYPE_CHECKING:  # tables, profiles and schemas load only when a table is involved
    import pyarrow as pa

    from .profiling import DatasetProfile
    from .schema import Schema

Progress = Callable[[int], None]
_LS_HINT = "list datasets with: loopml data ls"


@dataclass
class _Prepared:
    """What is about to become a version, before anything is stored."""

    kind: str
    format: str | None
    content_hash: str
    size: int
    file_count: int
    source: dict[str, Any]
    store_content: Callable[[Store, Progress], tuple[str, StoredContent]]
    read: Callable[[], pa.Table] | None
    remember: Callable[[StatCache], None]
    """Records the hashes just computed in the stat cache, once the add succeeded."""


def add(
    store: Store,
    name: str,
    data: Any,
    *,
    message: str | None = None,
    source: dict[str, Any] | None = None,
    schema: Schema | None = None,
    warn_only: bool = False,
    progress: Progress | None = None,
) -> AddResult:
    """Add ``data`` (a path to a file or folder, or a DataFrame/Arrow table) as a version.

    A table is checked against ``schema``, or else the schema attached to the dataset:
    errors refuse the version (:class:`~loopml.errors.ValidationFailed`, nothing stored)
    unless ``warn_only``, which stores it with its anomalies.

    >>> add(store, "customers", "data/customers.csv", message="March export")  # doctest: +SKIP
    """
    name = check_dataset_name(name)
    progress = progress or (lambda _n: None)
    with bulk_allocation(), StatCache(stat_cache_path(store)) as cache:
        prepared = _prepare(store, data, cache, progress)
        if source:
            prepared.source = {**prepared.source, **source}
        latest = _latest_version(store, name)
        if latest is not None and latest.content_hash == prepared.content_hash:
            prepared.remember(cache)
            return AddResult(latest, created=False)
        table = prepared.read() if prepared.read else None
        label = prepared.source.get("path", f"the new version of '{name}'")
        if table is not None and table.num_rows == 0:
            raise InvalidInput(f"{label} has no rows", hint="add data rows")
        anomalies = None
        if table is not None:
            from .checking import attached_schema, check_table

            schema = schema or attached_schema(store, name)
        if table is not None and schema is not None:
            report = check_table(table, schema, name=label, warn_only=warn_only)
            anomalies = report.to_dict()["anomalies"] or None
        blob, content = prepared.store_content(store, progress)
        if table is not None:  # the profile travels with the version: the drift reference
            from .profiling import profile_table

            profile = store.blobs.put_bytes(profile_table(table).to_bytes())
            content = StoredContent([*content.blobs, profile], content.parts)
        result = record_version(
            store,
            name,
            kind=prepared.kind,
            format=prepared.format,
            content_hash=prepared.content_hash,
            size=prepared.size,
            file_count=prepared.file_count,
            source=prepared.source,
            blob=blob,
            content=content,
            row_count=table.num_rows if table is not None else None,
            columns=_columns(table),
            message=message,
            anomalies=anomalies,
            profile_blob=profile.hash if table is not None else None,
        )
        prepared.remember(cache)
    return result


def stat_cache_path(store: Store) -> Path:
    return store.config.home / "stat-cache.db"


@operation("data.get_version", role="reader")
def get_version(store: Store, ref: str | DatasetRef) -> DatasetVersion:
    """The version ``ref`` names: ``NAME`` (latest), ``NAME@3`` or ``NAME@TAG``."""
    ref = parse_ref(ref) if isinstance(ref, str) else ref
    with store.read() as connection:
        dataset_id = _dataset_id(connection, ref.name)
        latest = _max_version(connection, dataset_id)
        if ref.tag is not None:
            number = connection.execute(
                select(dataset_tags.c.version).where(
                    dataset_tags.c.dataset_id == dataset_id, dataset_tags.c.tag == ref.tag
                )
            ).scalar_one_or_none()
            if number is None:
                raise NotFound(
                    f"dataset '{ref.name}' has no tag '{ref.tag}'",
                    hint=f"see its versions and tags: loopml data ls {ref.name}",
                )
        else:
            number = ref.version or latest
        if latest is None:
            raise NotFound(
                f"dataset '{ref.name}' has no versions yet",
                hint=f"add one: loopml data add {ref.name} PATH",
            )
        row = connection.execute(_version_query(dataset_id, number)).first()
        if row is None:
            raise NotFound(
                f"dataset '{ref.name}' has no version {number}; latest is {latest}",
                hint=f"loopml data ls {ref.name}",
            )
        return _to_version(row, ref.name, _tags_of(connection, dataset_id).get(number, []))


@operation("data.list", role="reader")
def list_datasets(store: Store) -> list[Dataset]:
    with store.read() as connection:
        counts = dict(
            connection.execute(
                select(
                    dataset_versions.c.dataset_id, func.max(dataset_versions.c.version)
                ).group_by(dataset_versions.c.dataset_id)
            ).all()
        )
        rows = connection.execute(select(datasets).order_by(datasets.c.name)).all()
    return [
        Dataset(
            name=row.name,
            description=row.description,
            latest=counts.get(row.id),
            versions=counts.get(row.id) or 0,
            created_at=row.created_at,
            updated_at=row.updated_at,
            has_schema=row.schema_yaml is not None,
        )
        for row in rows
    ]


@operation("data.list_versions", role="reader")
def list_versions(store: Store, name: str) -> list[DatasetVersion]:
    """Every version of dataset ``name``, newest first."""
    check_dataset_name(name)
    with store.read() as connection:
        dataset_id = _dataset_id(connection, name)
        tags = _tags_of(connection, dataset_id)
        rows = connection.execute(
            select(dataset_versions)
            .where(dataset_versions.c.dataset_id == dataset_id)
            .order_by(dataset_versions.c.version.desc())
        ).all()
    return [_to_version(row, name, tags.get(row.version, [])) for row in rows]


@operation("data.tag", role="writer")
def tag_version(store: Store, ref: str, tag: str) -> DatasetVersion:
    """Point ``tag`` at a version (moving it if it pointed elsewhere); audited."""
    tag = check_tag(tag)
    version = get_version(store, ref)
    with store.write() as connection:
        dataset_id = _dataset_id(connection, version.dataset)
        before = connection.execute(
            select(dataset_tags.c.version).where(
                dataset_tags.c.dataset_id == dataset_id, dataset_tags.c.tag == tag
            )
        ).scalar_one_or_none()
        if before != version.version:
            statement = conflict_insert(connection, dataset_tags)
            connection.execute(
                statement.values(
                    dataset_id=dataset_id, tag=tag, version=version.version
                ).on_conflict_do_update(
                    index_elements=["dataset_id", "tag"],
                    set_={"version": statement.excluded.version},
                )
            )
            audit.record(
                connection,
                actor=store.actor,
                action="dataset.tag",
                object_type="dataset",
                object_id=version.dataset,
                before={"tag": tag, "version": before} if before is not None else None,
                after={"tag": tag, "version": version.version},
            )
    return get_version(store, version.ref)


def manifest(store: Store, version: DatasetVersion) -> list[ManifestEntry]:
    """The files of a folder version (a file or table version is one entry)."""
    if version.kind != "folder":
        name = (version.source or {}).get("name") or f"{version.dataset}.{version.format or 'bin'}"
        return [ManifestEntry(name, version.size, version.blob)]
    return decode_manifest(store.blobs.read_bytes(version.blob), where=version.ref)


def materialize(
    store: Store, ref: str | DatasetVersion, dest: str | Path, *, progress: Progress | None = None
) -> list[Path]:
    """Write the exact bytes of a version under folder ``dest``; returns the files written.

    The written files enter the stat cache, so adding them back costs no hashing.
    """
    version = ref if isinstance(ref, DatasetVersion) else get_version(store, ref)
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise InvalidInput(f"{dest} exists and is not a folder", hint="name a folder to write to")
    entries = manifest(store, version)
    written = list(materialize_entries(store, entries, dest, progress or (lambda _n: None)))
    known = [(str(path.resolve()), stat, digest) for path, digest, stat in written]
    with StatCache(stat_cache_path(store)) as cache:
        if version.kind == "folder":
            cache.remember_folder(dest.resolve(), known)
        else:
            cache.remember(known)
    return [path for path, _, _ in written]


def read_version_table(store: Store, version: DatasetVersion) -> pa.Table:
    """A table version (or a folder of tables of one format) as an Arrow table."""
    import pyarrow as pa

    from .formats import read_table

    if version.kind == "table":
        data = store.blobs.read_bytes(version.blob)
        return read_table(data, version.format or "parquet", name=version.ref)
    if version.kind == "folder":
        entries = manifest(store, version)
        formats = {table_format(entry.path) for entry in entries}
        if len(formats) == 1 and None not in formats:
            fmt = formats.pop()
            contents = dict(iter_contents(store, entries))  # pack order; rows keep path order
            parts = [
                read_table(
                    contents[entry]
                    if contents[entry] is not None
                    else store.blobs.read_bytes(entry.hash),
                    fmt,  # type: ignore[arg-type]
                    name=f"{version.ref}/{entry.path}",
                )
                for entry in entries
            ]
            return pa.concat_tables(parts, promote_options="permissive")
    raise InvalidInput(
        f"{version.ref} is a {version.kind}, not a table",
        hint=f"copy its files out with: loopml data get {version.ref} DEST",
    )


def version_profile(store: Store, version: DatasetVersion) -> DatasetProfile:
    """The profile of a table version: stored with it, or computed for a folder of tables."""
    from .profiling import DatasetProfile, profile_table

    if version.profile_blob:
        return DatasetProfile.from_bytes(store.blobs.read_bytes(version.profile_blob))
    return profile_table(read_version_table(store, version))


@operation("data.record_input", role="writer")
def record_input(store: Store, run_id: str, version: DatasetVersion) -> None:
    """Lineage: run ``run_id`` read ``version``."""
    with store.write() as connection:
        dataset_id = _dataset_id(connection, version.dataset)
        connection.execute(
            conflict_insert(connection, run_inputs)
            .values(
                run_id=run_id, dataset_id=dataset_id, version=version.version, created_at=now_ms()
            )
            .on_conflict_do_nothing()
        )


@operation("data.run_inputs", role="reader")
def run_inputs_of(store: Store, run_id: str) -> list[str]:
    """``NAME@V`` of every dataset version run ``run_id`` read."""
    with store.read() as connection:
        rows = connection.execute(
            select(datasets.c.name, run_inputs.c.version)
            .join(datasets, datasets.c.id == run_inputs.c.dataset_id)
            .where(run_inputs.c.run_id == run_id)
            .order_by(datasets.c.name, run_inputs.c.version)
        ).all()
    return [f"{name}@{number}" for name, number in rows]


# --- preparing content --------------------------------------------------------------


def _prepare(store: Store, data: Any, cache: StatCache, progress: Progress) -> _Prepared:
    if isinstance(data, Snapshot):
        return _prepare_snapshot(data)
    if isinstance(data, str | Path):
        path = Path(data).expanduser()
        if path.is_dir():
            return _prepare_folder(store, path.resolve(), cache, progress)
        if path.is_file():
            return _prepare_file(path.resolve(), cache)
        raise NotFound(f"no file or folder at {path}", hint="check the path")
    from .formats import table_to_parquet, to_arrow

    table = to_arrow(data)
    payload = table_to_parquet(table)
    return _Prepared(
        kind="table",
        format="parquet",
        content_hash=blake3(payload).hexdigest(),
        size=len(payload),
        file_count=1,
        source={"type": "dataframe", "library": type(data).__module__.split(".")[0]},
        store_content=lambda store, _progress: _store_bytes(store, payload),
        read=lambda: table,
        remember=lambda _cache: None,
    )


def _prepare_snapshot(snapshot: Snapshot) -> _Prepared:
    from .formats import read_table, table_to_parquet

    if snapshot.table is not None:  # a query result: stored as Parquet, like a DataFrame
        payload = table_to_parquet(snapshot.table)
        fmt, read = "parquet", (lambda: snapshot.table)
    else:  # an HTTP answer: its exact bytes, read in their own format
        payload, fmt = snapshot.payload or b"", snapshot.format or "csv"
        label = snapshot.source.get("url", "the answer")
        read = lambda: read_table(payload, fmt, name=label)  # noqa: E731
    return _Prepared(
        kind="table",
        format=fmt,
        content_hash=blake3(payload).hexdigest(),
        size=len(payload),
        file_count=1,
        source=snapshot.source,
        store_content=lambda store, _progress: _store_bytes(store, payload),
        read=read,
        remember=lambda _cache: None,
    )


def _prepare_file(path: Path, cache: StatCache) -> _Prepared:
    stat = file_stat(path.stat())
    digest = cache.lookup(path, stat)
    fresh = []
    if digest is None:
        digest = hash_file(path)
        fresh.append((path, stat, digest))
    fmt = table_format(path)

    def read() -> pa.Table:
        from .formats import read_table

        return read_table(path, fmt, name=str(path))  # type: ignore[arg-type]

    return _Prepared(
        kind="table" if fmt else "file",
        format=fmt,
        content_hash=digest,
        size=stat[1],
        file_count=1,
        source={"type": "path", "path": str(path), "name": path.name},
        store_content=lambda store, _progress: _store_file(store, path, digest, stat),
        read=read if fmt else None,
        remember=lambda cache: cache.remember(fresh),
    )


def _prepare_folder(store: Store, root: Path, cache: StatCache, progress: Progress) -> _Prepared:
    found = scan_folder(root)
    if not found:
        raise InvalidInput(f"folder {root} holds no files", hint="add a folder with files in it")
    ingested = ingest_folder(store, found, cache, root, progress)
    entries = ingested.entries
    return _Prepared(
        kind="folder",
        format=None,
        content_hash=content_hash(entries),
        size=sum(entry.size for entry in entries),
        file_count=len(entries),
        source={"type": "path", "path": str(root), "name": root.name},
        store_content=lambda store, progress: _store_folder(store, ingested, progress),
        read=None,
        remember=lambda cache: (
            None if ingested.all_cached else cache.remember_folder(root, ingested.snapshot)
        ),
    )


def _store_bytes(store: Store, payload: bytes) -> tuple[str, StoredContent]:
    info = store.blobs.put_bytes(payload)
    return info.hash, StoredContent([info], [])


def _store_file(
    store: Store, path: Path, digest: str, stat: tuple[int, int, int, int]
) -> tuple[str, StoredContent]:
    # The stat the hash came from: a file rewritten since is refused, not mis-stored.
    info = store.blobs.put_file(path, digest, stat[1:])
    return info.hash, StoredContent([info], [])


def _store_folder(
    store: Store, ingested: Ingested, progress: Progress
) -> tuple[str, StoredContent]:
    content = store_unread(store, ingested, progress)
    listing = store.blobs.put_bytes(encode_manifest(ingested.entries))
    return listing.hash, StoredContent([*content.blobs, listing], content.parts)


# --- recording ------------------------------------------------------------------------


@operation("data.record_version", role="writer")
def record_version(
    store: Store,
    name: str,
    *,
    kind: str,
    format: str | None,
    content_hash: str,
    size: int,
    file_count: int,
    source: dict[str, Any],
    blob: str,
    content: StoredContent,
    row_count: int | None = None,
    columns: list[tuple[str, str]] | None = None,
    message: str | None = None,
    anomalies: list[dict[str, Any]] | None = None,
    profile_blob: str | None = None,
) -> AddResult:
    """Record the next version of dataset ``name`` over content already stored.

    :func:`add` hashes, checks and uploads the data first, on the caller's machine; this
    numbers the version, unless it equals the latest (another writer added it meanwhile).
    """
    name = check_dataset_name(name)
    if kind not in ("file", "folder", "table"):
        raise InvalidInput(f"kind must be file, folder or table, not {kind!r}")
    for label, digest in (("content_hash", content_hash), ("blob", blob)):
        if not is_hash(digest):
            raise InvalidInput(f"{label} must be a BLAKE3 hex digest, not {digest!r}")
    now = now_ms()
    with store.write() as connection:
        known = {info.hash for info in content.blobs}
        if blob not in known and not rows_by_keys(connection, blobs, "hash", [blob]):
            raise NotFound(
                f"blob {blob[:12]}… of the new version is not stored",
                hint="upload the content first; loopml.data.add does this",
            )
        dataset_id = _dataset_for_update(connection, store, name)
        latest = _max_version(connection, dataset_id)
        if latest is not None:
            row = connection.execute(_version_query(dataset_id, latest)).one()
            if row.content_hash == content_hash:  # added by another writer meanwhile
                return AddResult(_to_version(row, name, []), created=False)
        record_content(connection, content)
        number = (latest or 0) + 1
        connection.execute(
            insert(dataset_versions).values(
                dataset_id=dataset_id,
                version=number,
                kind=kind,
                format=format,
                content_hash=content_hash,
                blob=blob,
                size=size,
                file_count=file_count,
                row_count=row_count,
                columns=json.dumps([list(pair) for pair in columns]) if columns else None,
                parent_version=latest,
                author=store.actor,
                message=message,
                source=json.dumps(source, sort_keys=True),
                anomalies=json.dumps(anomalies, default=str) if anomalies else None,
                profile_blob=profile_blob,
                created_at=now,
            )
        )
        connection.execute(
            datasets.update().where(datasets.c.id == dataset_id).values(updated_at=now)
        )
        audit.record(
            connection,
            actor=store.actor,
            action="dataset.version",
            object_type="dataset",
            object_id=name,
            after={
                "version": number,
                "kind": kind,
                "content_hash": content_hash,
                "files": file_count,
                "bytes": size,
                "rows": row_count,
            },
        )
    return AddResult(get_version(store, f"{name}@{number}"), created=True)


def _dataset_for_update(connection: Connection, store: Store, name: str) -> int:
    """The dataset's id, created (and audited) if new, with its row locked for numbering."""
    now = now_ms()
    created = connection.execute(
        conflict_insert(connection, datasets)
        .values(name=name, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(datasets.c.id)
    ).scalar_one_or_none()
    if created is not None:
        audit.record(
            connection,
            actor=store.actor,
            action="dataset.create",
            object_type="dataset",
            object_id=name,
            after={"name": name},
        )
    # PostgreSQL: concurrent adds to one dataset queue here; SQLite writers are serial.
    return connection.execute(
        select(datasets.c.id).where(datasets.c.name == name).with_for_update()
    ).scalar_one()


def _columns(table: pa.Table | None) -> list[tuple[str, str]] | None:
    if table is None:
        return None
    return [(field.name, str(field.type)) for field in table.schema]


# --- reading ----------------------------------------------------------------------------


def _latest_version(store: Store, name: str) -> DatasetVersion | None:
    try:
        return get_version(store, DatasetRef(name))
    except NotFound:
        return None


def _dataset_id(connection: Connection, name: str) -> int:
    found = connection.execute(
        select(datasets.c.id).where(datasets.c.name == name)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no dataset named '{name}'", hint=_LS_HINT)
    return found


def _max_version(connection: Connection, dataset_id: int) -> int | None:
    return connection.execute(
        select(func.max(dataset_versions.c.version)).where(
            dataset_versions.c.dataset_id == dataset_id
        )
    ).scalar_one()


def _version_query(dataset_id: int, number: int | None) -> Any:
    return select(dataset_versions).where(
        dataset_versions.c.dataset_id == dataset_id, dataset_versions.c.version == number
    )


def _tags_of(connection: Connection, dataset_id: int) -> dict[int, list[str]]:
    tags: dict[int, list[str]] = {}
    rows = connection.execute(
        select(dataset_tags.c.version, dataset_tags.c.tag)
        .where(dataset_tags.c.dataset_id == dataset_id)
        .order_by(dataset_tags.c.tag)
    )
    for number, tag in rows:
        tags.setdefault(number, []).append(tag)
    return tags


def _to_version(row: Any, name: str, tags: list[str]) -> DatasetVersion:
    return DatasetVersion(
        dataset=name,
        version=row.version,
        kind=row.kind,
        format=row.format,
        content_hash=row.content_hash,
        blob=row.blob,
        size=row.size,
        file_count=row.file_count,
        row_count=row.row_count,
        columns=[tuple(pair) for pair in json.loads(row.columns)] if row.columns else None,
        parent_version=row.parent_version,
        author=row.author,
        message=row.message,
        source=json.loads(row.source) if row.source else None,
        created_at=row.created_at,
        profile_blob=row.profile_blob,
        anomalies=json.loads(row.anomalies) if row.anomalies else None,
        tags=tags,
    )
