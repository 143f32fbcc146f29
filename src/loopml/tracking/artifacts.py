"""Files attached to runs: each is a path in the run pointing at a content-addressed blob.

Blobs are written first and the rows after, in one transaction, so the metadata never
names a blob that was not stored; a crash in between leaves at most an unreferenced
blob, which ``loopml artifacts verify`` reports as orphaned.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from ..artifacts import BlobInfo, clean_artifact_path, join_artifact_path
from ..clock import now_ms
from ..errors import InvalidInput, NotFound
from ..governance import audit
from ..ops import operation
from ..store import Store
from ..store.schema import blobs, run_artifacts
from ..store.upsert import conflict_insert
from .entities import ArtifactEntry
from .runs import require_active_run, resolve_run_id

_AUDIT_PATHS = 50  # an audit event lists at most this many paths of a folder upload


def log_artifact(
    store: Store, run_id: str, local_path: str | Path, artifact_path: str | None = None
) -> list[ArtifactEntry]:
    """Attach a file, or every file under a folder, to a run under ``artifact_path``."""
    run_id = writable_run(store, run_id)  # before uploading anything
    source = Path(local_path)
    if source.is_file():
        files = [(source, join_artifact_path(artifact_path, source.name))]
    elif source.is_dir():
        files = [
            (path, join_artifact_path(artifact_path, path.relative_to(source).as_posix()))
            for path in sorted(source.rglob("*"))
            if path.is_file()
        ]
        if not files:
            raise InvalidInput(f"folder {source} holds no files to log")
    else:
        raise NotFound(f"no file or folder at {source}", hint="check the path")
    stored = [(dest, store.blobs.put_file(path), _media_type(dest)) for path, dest in files]
    return attach_artifacts(store, run_id, stored)


def log_bytes(
    store: Store,
    run_id: str,
    data: bytes,
    artifact_path: str,
    *,
    media_type: str | None = None,
) -> ArtifactEntry:
    """Attach in-memory content to a run (``log_dict``, ``log_figure`` and friends use this)."""
    dest = clean_artifact_path(artifact_path)
    run_id = writable_run(store, run_id)  # before uploading anything
    info = store.blobs.put_bytes(data)
    return attach_artifacts(store, run_id, [(dest, info, media_type or _media_type(dest))])[0]


@operation("runs.list_artifacts", role="reader")
def list_artifacts(store: Store, run_id: str, prefix: str | None = None) -> list[ArtifactEntry]:
    """The files of a run, optionally only those under folder ``prefix``."""
    with store.read() as connection:
        run_id = resolve_run_id(connection, run_id)
        query = (
            select(run_artifacts)
            .where(run_artifacts.c.run_id == run_id)
            .order_by(run_artifacts.c.path)
        )
        if prefix:
            folder = clean_artifact_path(prefix)
            query = query.where(
                (run_artifacts.c.path == folder)
                | run_artifacts.c.path.startswith(folder + "/", autoescape=True)
            )
        rows = connection.execute(query).all()
    return [ArtifactEntry(r.path, r.blob, r.size, r.media_type, r.created_at) for r in rows]


def download_artifacts(
    store: Store, run_id: str, dest: str | Path, path: str | None = None
) -> list[Path]:
    """Copy a run's files (or those under ``path``) into folder ``dest``, hash-checked."""
    entries = list_artifacts(store, run_id, path)
    if not entries:
        where = f" under '{path}'" if path else ""
        raise NotFound(f"run {run_id[:8]} has no artifacts{where}")
    dest = Path(dest)
    written = []
    for entry in entries:
        # Paths were cleaned when stored; cleaning again keeps a tampered row inside dest.
        target = dest / clean_artifact_path(entry.path)
        store.blobs.get_file(entry.hash, target)
        written.append(target)
    return written


def read_artifact(store: Store, run_id: str, path: str) -> bytes:
    """The content of one file of a run, hash-checked."""
    wanted = clean_artifact_path(path)
    for entry in list_artifacts(store, run_id, wanted):
        if entry.path == wanted:
            return store.blobs.read_bytes(entry.hash)
    raise NotFound(
        f"run {run_id[:8]} has no artifact '{wanted}'",
        hint=f"list them with: loopml runs show {run_id[:8]}",
    )


def encode_dict(data: Any, artifact_path: str) -> bytes:
    """JSON, or YAML for ``.yaml``/``.yml`` paths."""
    suffix = Path(artifact_path).suffix.lower()
    if suffix in (".yaml", ".yml"):
        import yaml

        return yaml.safe_dump(data, sort_keys=False).encode("utf-8")
    try:
        # Strict JSON: a bare NaN would make the file unreadable for most JSON parsers.
        return json.dumps(data, indent=2, sort_keys=True, allow_nan=False).encode("utf-8")
    except TypeError as exc:
        raise InvalidInput(
            f"cannot log {artifact_path} as JSON: {exc}", hint="pass plain dicts, lists and scalars"
        ) from None
    except ValueError:
        raise InvalidInput(
            f"cannot log {artifact_path} as JSON: it holds NaN or infinity, which JSON lacks",
            hint="replace them with None, or log the dict as .yaml",
        ) from None


def encode_figure(figure: Any, artifact_path: str) -> bytes:
    """A matplotlib figure as PNG/SVG/PDF, or a Plotly figure as self-contained HTML or JSON."""
    suffix = Path(artifact_path).suffix.lower().lstrip(".")
    if hasattr(figure, "savefig"):  # matplotlib
        import io

        if suffix not in ("png", "svg", "pdf", "jpg", "jpeg"):
            raise InvalidInput(
                f"cannot save a matplotlib figure as '.{suffix}'", hint="use .png, .svg or .pdf"
            )
        buffer = io.BytesIO()
        figure.savefig(buffer, format=suffix, bbox_inches="tight")
        return buffer.getvalue()
    if hasattr(figure, "to_plotly_json"):  # plotly
        if suffix == "html":
            # Inline plotly.js: the file opens offline, without a CDN.
            return figure.to_html(include_plotlyjs=True, full_html=True).encode("utf-8")
        if suffix == "json":
            return figure.to_json().encode("utf-8")
        raise InvalidInput(f"cannot save a Plotly figure as '.{suffix}'", hint="use .html or .json")
    raise InvalidInput(
        f"cannot log a {type(figure).__name__} as a figure",
        hint="pass a matplotlib Figure or a Plotly Figure",
    )


def encode_table(table: Any, artifact_path: str) -> bytes:
    """A pandas/polars DataFrame or Arrow table as Parquet, CSV or JSON lines."""
    import io

    import pyarrow as pa

    if hasattr(table, "to_arrow"):  # polars
        arrow = table.to_arrow()
    elif isinstance(table, pa.Table):
        arrow = table
    elif hasattr(table, "to_parquet"):  # pandas
        arrow = pa.Table.from_pandas(table, preserve_index=False)
    else:
        raise InvalidInput(
            f"cannot log a {type(table).__name__} as a table",
            hint="pass a pandas or polars DataFrame or a pyarrow Table",
        )
    suffix = Path(artifact_path).suffix.lower()
    buffer = io.BytesIO()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(arrow, buffer)
    elif suffix == ".csv":
        import pyarrow.csv as pcsv

        pcsv.write_csv(arrow, buffer)
    elif suffix in (".json", ".jsonl"):
        for record in arrow.to_pylist():
            buffer.write(json.dumps(record, default=str).encode("utf-8") + b"\n")
    else:
        raise InvalidInput(
            f"cannot save a table as '{suffix or artifact_path}'",
            hint="use .parquet, .csv or .json",
        )
    return buffer.getvalue()


@operation("runs.attach_artifacts", role="writer")
def attach_artifacts(
    store: Store, run_id: str, stored: list[tuple[str, BlobInfo, str | None]]
) -> list[ArtifactEntry]:
    """Record stored blobs as files of a run: (path in the run, blob, media type) each."""
    now = now_ms()
    with store.write() as connection:
        run_id = require_active_run(connection, run_id)  # it may have been deleted meanwhile
        insert_blobs(connection, {info.hash: info.size for _, info, _ in stored}, now)
        before = dict(
            connection.execute(
                select(run_artifacts.c.path, run_artifacts.c.blob).where(
                    run_artifacts.c.run_id == run_id,
                    run_artifacts.c.path.in_([dest for dest, _, _ in stored]),
                )
            ).all()
        )
        changed = [item for item in stored if before.get(item[0]) != item[1].hash]
        if changed:
            statement = conflict_insert(connection, run_artifacts)
            new = statement.excluded
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=["run_id", "path"],
                    set_={
                        "blob": new.blob,
                        "size": new.size,
                        "media_type": new.media_type,
                        "created_at": new.created_at,
                    },
                ),
                [
                    {
                        "run_id": run_id,
                        "path": dest,
                        "blob": info.hash,
                        "size": info.size,
                        "media_type": media_type,
                        "created_at": now,
                    }
                    for dest, info, media_type in changed
                ],
            )
            shown = changed[:_AUDIT_PATHS]
            audit.record(
                connection,
                actor=store.actor,
                action="run.artifacts",
                object_type="run",
                object_id=run_id,
                before={dest: before[dest] for dest, _, _ in shown if dest in before} or None,
                after={
                    "files": len(changed),
                    "bytes": sum(info.size for _, info, _ in changed),
                    "paths": {dest: info.hash for dest, info, _ in shown},
                },
            )
    return [ArtifactEntry(dest, info.hash, info.size, mt, now) for dest, info, mt in stored]


@operation("runs.check_writable", role="reader")
def writable_run(store: Store, run_id: str) -> str:
    """The full id of an active run that takes changes (Conflict if it is deleted)."""
    with store.read() as connection:
        return require_active_run(connection, run_id)


def insert_blobs(connection: Connection, sizes: dict[str, int], now: int) -> None:
    """Record blobs written to the artifact store (once each), inside a write transaction."""
    if not sizes:
        return
    connection.execute(
        conflict_insert(connection, blobs).on_conflict_do_nothing(index_elements=["hash"]),
        [{"hash": digest, "size": size, "created_at": now} for digest, size in sizes.items()],
    )


def _media_type(path: str) -> str | None:
    return mimetypes.guess_type(path)[0]
