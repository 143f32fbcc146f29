"""Registered models and their numbered versions: register, read, list, tag, describe.

Registering records what the version came from in one transaction with its audit event:
the run, the dataset versions that run read, the git commit, the pipeline run, and the
run's metrics at that moment. A version points at its model manifest blob; the files the
manifest lists are blobs too, checked when the version is loaded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, update

from ..clock import now_ms
from ..errors import InvalidInput, NotFound
from ..governance import audit
from ..models.format import MANIFEST, check_manifest, read_manifest, verify_folder
from ..ops import operation
from ..store import Store
from ..store.schema import (
    datasets,
    latest_metrics,
    model_aliases,
    model_version_tags,
    model_versions,
    pipeline_runs,
    registered_model_tags,
    registered_models,
    run_artifacts,
    run_inputs,
    runs,
    step_runs,
)
from ..store.upsert import conflict_insert
from ..tracking.artifacts import insert_blobs
from ..tracking.runs import resolve_run_id
from .entities import ModelVersion, RegisteredModel
from .refs import ModelRef, RunRef, check_model_name, parse_model_ref

READY = "READY"


def register(
    store: Store,
    source: Any,
    name: str,
    *,
    description: str | None = None,
    tags: dict[str, Any] | None = None,
) -> ModelVersion:
    """Make the next version of model ``name`` from a logged or saved model.

    ``source`` is a run (or run id) whose ``model`` artifact holds a logged model, a
    ``runs:/<run id>/<path>`` URI, the :class:`~loopml.models.ModelInfo` that
    ``log_model``/``save`` returned, or the folder of a saved model.
    """
    check_model_name(name)
    run_id, path, folder = _source(source)
    if folder is not None:
        manifest_hash, files = _upload_folder(store, folder)  # on this machine, then sent
        return create_version(
            store,
            name,
            manifest_hash=manifest_hash,
            files=files,
            source=str(folder.resolve()),
            description=description,
            tags=tags,
        )
    return create_version(store, name, run_id=run_id, path=path, description=description, tags=tags)


@operation("models.create_version", role="writer")
def create_version(
    store: Store,
    name: str,
    *,
    run_id: str | None = None,
    path: str = "model",
    manifest_hash: str | None = None,
    files: dict[str, int] | None = None,
    source: str | None = None,
    description: str | None = None,
    tags: dict[str, Any] | None = None,
) -> ModelVersion:
    """Record the next version of ``name``: a run's logged model, or stored blobs.

    ``manifest_hash`` names the stored manifest of a saved model whose files (blob hash
    to size in ``files``) are stored already; :func:`register` uploads them first.
    """
    check_model_name(name)
    if run_id is not None:
        with store.read() as connection:
            run_id = resolve_run_id(connection, run_id)
        manifest, manifest_hash, files = _logged_model(store, run_id, path)
        source_text = f"runs:/{run_id}/{path}"
    elif manifest_hash is not None:
        manifest = _stored_manifest(store, manifest_hash)
        files = {**(files or {}), manifest_hash: store.blobs.size(manifest_hash)}
        source_text = source or f"blob:{manifest_hash}"
    else:
        raise InvalidInput(
            "name the model to register: a run_id, or the manifest_hash of a stored model",
            hint="loopml.register(run_or_folder, name) does this for you",
        )
    now = now_ms()
    with store.write() as connection:
        insert_blobs(connection, files, now)
        _ensure_model(connection, name, description, now, store.actor)
        number = (
            connection.execute(
                select(func.max(model_versions.c.version)).where(model_versions.c.name == name)
            ).scalar()
            or 0
        ) + 1
        lineage = _lineage(connection, run_id) if run_id else {}
        metrics = _run_metrics(connection, run_id) if run_id else {}
        row = {
            "name": name,
            "version": number,
            "run_id": run_id,
            "source": source_text,
            "status": READY,
            "description": description,
            "user": store.actor,
            "created_at": now,
            "updated_at": now,
            "flavor": manifest["flavor"],
            "manifest_blob": manifest_hash,
            "signature": json.dumps(manifest.get("signature")),
            "requirements": json.dumps(manifest.get("requirements") or []),
            "metrics": json.dumps(metrics),
            "lineage": json.dumps(lineage),
            "pipeline_run_id": lineage.get("pipeline_run"),
        }
        connection.execute(insert(model_versions).values(**row))
        if tags:
            _put_tags(connection, model_version_tags, {"name": name, "version": number}, tags)
        connection.execute(
            update(registered_models).where(registered_models.c.name == name).values(updated_at=now)
        )
        audit.record(
            connection,
            actor=store.actor,
            action="model.register",
            object_type="model_version",
            object_id=f"{name}/{number}",
            after={"source": source_text, "flavor": manifest["flavor"], "manifest": manifest_hash},
        )
    return get_version(store, ModelRef(name, version=number))


@operation("models.get_version", role="reader")
def get_version(store: Store, ref: str | ModelRef) -> ModelVersion:
    """The version ``ref`` names (``churn/7``, ``churn@champion``, ``churn`` for the latest)."""
    parsed = parse_model_ref(ref) if isinstance(ref, str) else ref
    if isinstance(parsed, RunRef):
        raise InvalidInput(f"{ref} names a run's model, not a registered version")
    with store.read() as connection:
        number = resolve_version(connection, parsed)
        row = connection.execute(
            select(model_versions).where(
                model_versions.c.name == parsed.name, model_versions.c.version == number
            )
        ).one()
        return _to_version(connection, row)


def resolve_version(connection: Connection, ref: ModelRef) -> int:
    """The version number ``ref`` names, or a :class:`NotFound` that says what exists."""
    exists = connection.execute(
        select(registered_models.c.name).where(registered_models.c.name == ref.name)
    ).scalar()
    if exists is None:
        raise NotFound(
            f"model '{ref.name}' is not registered", hint="list models: loopml models ls"
        )
    if ref.alias:
        number = connection.execute(
            select(model_aliases.c.version).where(
                model_aliases.c.name == ref.name, model_aliases.c.alias == ref.alias
            )
        ).scalar()
        if number is None:
            aliases = _aliases(connection, ref.name)
            known = ", ".join(sorted(aliases)) or "none yet"
            raise NotFound(
                f"model '{ref.name}' has no alias '{ref.alias}' (aliases: {known})",
                hint=f"set it: loopml models alias {ref.name} {ref.alias} VERSION",
            )
        return int(number)
    latest = connection.execute(
        select(func.max(model_versions.c.version)).where(model_versions.c.name == ref.name)
    ).scalar()
    if ref.version is None:
        if latest is None:
            raise NotFound(f"model '{ref.name}' has no versions yet")
        return int(latest)
    found = connection.execute(
        select(model_versions.c.version).where(
            model_versions.c.name == ref.name, model_versions.c.version == ref.version
        )
    ).scalar()
    if found is None:
        raise NotFound(
            f"model '{ref.name}' has no version {ref.version}; latest is {latest}",
            hint=f"list versions: loopml models show {ref.name}",
        )
    return ref.version


@operation("models.list", role="reader")
def list_models(store: Store) -> list[RegisteredModel]:
    with store.read() as connection:
        rows = connection.execute(select(registered_models).order_by(registered_models.c.name))
        result = []
        for row in rows.all():
            latest = connection.execute(
                select(func.max(model_versions.c.version)).where(model_versions.c.name == row.name)
            ).scalar()
            result.append(
                RegisteredModel(
                    name=row.name,
                    description=row.description,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                    latest_version=latest,
                    aliases=_aliases(connection, row.name),
                    tags=_tags(
                        connection, registered_model_tags, registered_model_tags.c.name == row.name
                    ),
                )
            )
        return result


@operation("models.list_versions", role="reader")
def list_versions(store: Store, name: str) -> list[ModelVersion]:
    """Every version of ``name``, newest first."""
    with store.read() as connection:
        resolve_version(connection, ModelRef(check_model_name(name)))  # names a missing model
        rows = connection.execute(
            select(model_versions)
            .where(model_versions.c.name == name)
            .order_by(model_versions.c.version.desc())
        ).all()
        return [_to_version(connection, row) for row in rows]


@operation("models.set_tags", role="writer")
def set_tags(store: Store, ref: str, values: dict[str, Any]) -> ModelVersion | RegisteredModel:
    """Tag a version (``churn/7``, ``churn@champion``) or, given a bare name, the model."""
    parsed = parse_model_ref(ref)
    if isinstance(parsed, RunRef):
        raise InvalidInput("tag a run with: loopml runs tag")
    with store.write() as connection:
        if parsed.version is None and parsed.alias is None:
            _require_model(connection, parsed.name)
            _put_tags(connection, registered_model_tags, {"name": parsed.name}, values)
            object_type, object_id = "registered_model", parsed.name
        else:
            number = resolve_version(connection, parsed)
            keys = {"name": parsed.name, "version": number}
            _put_tags(connection, model_version_tags, keys, values)
            object_type, object_id = "model_version", f"{parsed.name}/{number}"
        audit.record(
            connection,
            actor=store.actor,
            action="model.tag",
            object_type=object_type,
            object_id=object_id,
            after={str(k): str(v) for k, v in values.items()},
        )
    if object_type == "registered_model":
        return next(m for m in list_models(store) if m.name == parsed.name)
    return get_version(store, object_id)


@operation("models.set_description", role="writer")
def set_description(store: Store, ref: str, description: str) -> None:
    parsed = parse_model_ref(ref)
    if isinstance(parsed, RunRef):
        raise InvalidInput("describe a registered model or version, not a run")
    now = now_ms()
    with store.write() as connection:
        if parsed.version is None and parsed.alias is None:
            _require_model(connection, parsed.name)
            before = connection.execute(
                select(registered_models.c.description).where(
                    registered_models.c.name == parsed.name
                )
            ).scalar()
            connection.execute(
                update(registered_models)
                .where(registered_models.c.name == parsed.name)
                .values(description=description, updated_at=now)
            )
            object_type, object_id = "registered_model", parsed.name
        else:
            number = resolve_version(connection, parsed)
            where = and_(model_versions.c.name == parsed.name, model_versions.c.version == number)
            before = connection.execute(select(model_versions.c.description).where(where)).scalar()
            connection.execute(
                update(model_versions).where(where).values(description=description, updated_at=now)
            )
            object_type, object_id = "model_version", f"{parsed.name}/{number}"
        audit.record(
            connection,
            actor=store.actor,
            action="model.describe",
            object_type=object_type,
            object_id=object_id,
            before={"description": before},
            after={"description": description},
        )


def _source(source: Any) -> tuple[str | None, str, Path | None]:
    """(run id, artifact path, folder) for whatever was passed to :func:`register`."""
    from ..models.format import ModelInfo

    if isinstance(source, ModelInfo):
        if source.uri:
            parsed = parse_model_ref(source.uri)
            assert isinstance(parsed, RunRef)
            return parsed.run_id, parsed.path, None
        return None, "", source.path
    run_id = getattr(source, "id", None)
    if isinstance(run_id, str) and hasattr(source, "experiment_name"):  # Run or ActiveRun
        return run_id, "model", None
    if isinstance(source, str | os.PathLike):
        text = os.fspath(source)
        if text.startswith("runs:/"):
            parsed = parse_model_ref(text)
            assert isinstance(parsed, RunRef)
            return parsed.run_id, parsed.path, None
        path = Path(text)
        if path.exists():
            if not path.is_dir():
                raise InvalidInput(
                    f"{path} is a file, not a saved model folder",
                    hint="register the folder loopml.models.save wrote, or a run",
                )
            return None, "", path
        if (
            isinstance(source, str)
            and len(text) >= 6
            and all(c in "0123456789abcdef" for c in text)
        ):
            return text, "model", None
        raise NotFound(f"no model folder or run at {text!r}", hint="check the path or run id")
    raise InvalidInput(
        f"cannot register a {type(source).__name__}",
        hint="pass a run, runs:/RUN/PATH, the result of log_model/save, or a model folder",
    )


def _upload_folder(store: Store, folder: Path) -> tuple[str, dict[str, int]]:
    manifest = read_manifest(folder)
    verify_folder(folder, manifest)
    files = {}
    for name in manifest["files"]:
        info = store.blobs.put_file(folder / name)
        files[info.hash] = info.size
    info = store.blobs.put_file(folder / MANIFEST)
    files[info.hash] = info.size
    return info.hash, files


def _stored_manifest(store: Store, manifest_hash: str) -> dict[str, Any]:
    try:
        manifest = json.loads(store.blobs.read_bytes(manifest_hash))
    except ValueError:
        raise InvalidInput(f"blob {manifest_hash[:12]}… is not a model manifest") from None
    manifest = check_manifest(manifest, f"manifest {manifest_hash[:12]}…")
    for entry in manifest["files"].values():
        if not store.blobs.exists(entry["hash"]):
            raise InvalidInput(
                f"the model's file {entry['hash'][:12]}… is not stored",
                hint="upload the model's files first; loopml.register does this",
            )
    return manifest


def _logged_model(
    store: Store, run_id: str, path: str
) -> tuple[dict[str, Any], str, dict[str, int]]:
    prefix = path.strip("/")
    with store.read() as connection:
        entries = dict(
            connection.execute(
                select(run_artifacts.c.path, run_artifacts.c.blob).where(
                    run_artifacts.c.run_id == run_id,
                    run_artifacts.c.path.startswith(prefix + "/", autoescape=True),
                )
            ).all()
        )
    manifest_hash = entries.get(f"{prefix}/{MANIFEST}")
    if manifest_hash is None:
        with store.read() as connection:
            paths = connection.execute(
                select(run_artifacts.c.path).where(run_artifacts.c.run_id == run_id).limit(1000)
            ).scalars()
            found = sorted({p.split("/")[0] for p in paths}) or ["nothing"]
        raise InvalidInput(
            f"run {run_id[:8]} has no model at '{prefix}' (no {MANIFEST} there; "
            f"under it: {', '.join(found)})",
            hint="log one with loopml.models.log_model(model, 'model') inside the run",
        )
    try:
        manifest = json.loads(store.blobs.read_bytes(manifest_hash))
    except ValueError:
        raise InvalidInput(f"the model manifest of run {run_id[:8]} is not JSON") from None
    manifest = check_manifest(manifest, f"run {run_id[:8]}/{prefix}")
    for name, entry in manifest["files"].items():
        if entries.get(f"{prefix}/{name}") != entry["hash"]:
            raise InvalidInput(
                f"run {run_id[:8]}'s model at '{prefix}' lacks {name} or it does not match "
                "the manifest",
                hint="log the model again",
            )
    return manifest, manifest_hash, {}


def _ensure_model(
    connection: Connection, name: str, description: str | None, now: int, actor: str
) -> None:
    statement = conflict_insert(connection, registered_models).on_conflict_do_nothing(
        index_elements=["name"]
    )
    result = connection.execute(
        statement.values(name=name, description=description, created_at=now, updated_at=now)
    )
    if result.rowcount:
        audit.record(
            connection,
            actor=actor,
            action="model.create",
            object_type="registered_model",
            object_id=name,
        )
    # PostgreSQL: lock the model row so two registrations number their versions in turn.
    connection.execute(
        select(registered_models.c.name).where(registered_models.c.name == name).with_for_update()
    )


def _lineage(connection: Connection, run_id: str) -> dict[str, Any]:
    run = connection.execute(
        select(
            runs.c.git_commit, runs.c.git_dirty, runs.c.parent_run_id, runs.c.experiment_id
        ).where(runs.c.id == run_id)
    ).one()
    read = connection.execute(
        select(datasets.c.name, run_inputs.c.version)
        .join(datasets, datasets.c.id == run_inputs.c.dataset_id)
        .where(run_inputs.c.run_id.in_([run_id, run.parent_run_id or run_id]))
        .order_by(datasets.c.name, run_inputs.c.version)
    ).all()
    pipeline = connection.execute(
        select(step_runs.c.pipeline_run_id, pipeline_runs.c.pipeline)
        .join(pipeline_runs, pipeline_runs.c.run_id == step_runs.c.pipeline_run_id)
        .where(step_runs.c.run_id == run_id)
    ).first()
    if pipeline is None:
        pipeline = connection.execute(
            select(pipeline_runs.c.run_id, pipeline_runs.c.pipeline).where(
                pipeline_runs.c.run_id == run_id
            )
        ).first()
    read_names = {f"{name}@{version}" for name, version in read}
    if pipeline is not None:
        read_names |= _pipeline_reads(connection, pipeline[0])
    return {
        "run": run_id,
        "datasets": sorted(read_names),
        "git_commit": run.git_commit,
        "git_dirty": run.git_dirty,
        "pipeline_run": pipeline[0] if pipeline else None,
        "pipeline": pipeline[1] if pipeline else None,
    }


def _pipeline_reads(connection: Connection, pipeline_run_id: str) -> set[str]:
    """Dataset versions any step of a pipeline run read: recorded on the step's run, or,
    for a step reused from the cache, pinned in its cache key."""
    steps = connection.execute(
        select(step_runs.c.run_id, step_runs.c.key_parts).where(
            step_runs.c.pipeline_run_id == pipeline_run_id
        )
    ).all()
    found: set[str] = set()
    for step in steps:
        pinned = json.loads(step.key_parts or "{}").get("datasets", {})
        found |= {str(value) for value in pinned.values()}
    run_ids = [step.run_id for step in steps if step.run_id]
    rows = connection.execute(
        select(datasets.c.name, run_inputs.c.version)
        .join(datasets, datasets.c.id == run_inputs.c.dataset_id)
        .where(run_inputs.c.run_id.in_(run_ids))
    ).all()
    return found | {f"{name}@{version}" for name, version in rows}


def _run_metrics(connection: Connection, run_id: str) -> dict[str, float | None]:
    rows = connection.execute(
        select(latest_metrics.c.key, latest_metrics.c.value).where(
            latest_metrics.c.run_id == run_id
        )
    ).all()
    return dict(sorted(rows))


def _put_tags(
    connection: Connection, table: Any, keys: dict[str, Any], values: dict[str, Any]
) -> None:
    if not values:
        return
    for key in values:
        if not isinstance(key, str) or not key or len(key) > 250:
            raise InvalidInput(f"invalid tag key {key!r}", hint="use a non-empty string")
    statement = conflict_insert(connection, table)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[*keys, "key"], set_={"value": statement.excluded.value}
        ),
        [{**keys, "key": key, "value": str(value)} for key, value in values.items()],
    )


def _require_model(connection: Connection, name: str) -> None:
    exists = connection.execute(
        select(registered_models.c.name).where(registered_models.c.name == name)
    ).scalar()
    if exists is None:
        raise NotFound(f"model '{name}' is not registered", hint="list models: loopml models ls")


def _aliases(connection: Connection, name: str) -> dict[str, int]:
    rows = connection.execute(
        select(model_aliases.c.alias, model_aliases.c.version).where(model_aliases.c.name == name)
    ).all()
    return dict(sorted(rows))


def _tags(connection: Connection, table: Any, where: Any) -> dict[str, str]:
    return dict(sorted(connection.execute(select(table.c.key, table.c.value).where(where)).all()))


def _to_version(connection: Connection, row: Any) -> ModelVersion:
    aliases = [
        alias for alias, number in _aliases(connection, row.name).items() if number == row.version
    ]
    tags = _tags(
        connection,
        model_version_tags,
        and_(model_version_tags.c.name == row.name, model_version_tags.c.version == row.version),
    )
    return ModelVersion(
        name=row.name,
        version=row.version,
        flavor=row.flavor,
        source=row.source,
        run_id=row.run_id,
        manifest_blob=row.manifest_blob,
        signature=json.loads(row.signature) if row.signature else None,
        requirements=json.loads(row.requirements) if row.requirements else [],
        metrics=json.loads(row.metrics) if row.metrics else {},
        lineage=json.loads(row.lineage) if row.lineage else {},
        status=row.status,
        description=row.description,
        user=row.user,
        created_at=row.created_at,
        aliases=sorted(aliases),
        tags=tags,
    )
