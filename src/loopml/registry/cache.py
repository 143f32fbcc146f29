"""Model files out of the artifact store into a local folder, checked, for loading.

A version's files are materialised once under ``<store home>/cache/models/<manifest
hash>/`` and reused. The cache is trusted only as far as it checks out: the manifest must
hash to the value the database holds, and loading checks every file against the
manifest before anything is deserialised.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import Connection, select

from ..artifacts.hashing import hash_file
from ..errors import NotFound
from ..models.format import MANIFEST, check_manifest
from ..ops import operation
from ..store import Store
from ..store.schema import model_versions, run_artifacts
from ..tracking.runs import resolve_run_id
from .refs import ModelRef, RunRef, parse_model_ref
from .versions import resolve_version


@operation("models.manifest", role="reader")
def manifest_hash_of(store: Store, ref: ModelRef | RunRef) -> tuple[str, str]:
    """(manifest blob hash, canonical URI) of a registered version or a run's model."""
    with store.read() as connection:
        return manifest_hash_in(connection, ref)


def manifest_hash_in(connection: Connection, ref: ModelRef | RunRef) -> tuple[str, str]:
    """:func:`manifest_hash_of` inside the caller's transaction (a server resolves every
    variant of a deployment in one snapshot)."""
    if isinstance(ref, RunRef):
        run_id = resolve_run_id(connection, ref.run_id)
        digest = connection.execute(
            select(run_artifacts.c.blob).where(
                run_artifacts.c.run_id == run_id,
                run_artifacts.c.path == f"{ref.path}/{MANIFEST}",
            )
        ).scalar()
        if digest is None:
            raise NotFound(
                f"run {run_id[:8]} has no model at '{ref.path}'",
                hint="log one with loopml.models.log_model(model, 'model')",
            )
        return digest, f"runs:/{run_id}/{ref.path}"
    number = resolve_version(connection, ref)
    digest = connection.execute(
        select(model_versions.c.manifest_blob).where(
            model_versions.c.name == ref.name, model_versions.c.version == number
        )
    ).scalar()
    if digest is None:
        raise NotFound(f"model {ref.name}/{number} has no stored files")
    return digest, f"models:/{ref.name}/{number}"


def fetch(store: Store, uri: str) -> tuple[Path, str]:
    """A local folder holding the model ``uri`` names, and the URI with its version number."""
    digest, canonical = manifest_hash_of(store, parse_model_ref(uri))
    return materialize(store, digest), canonical


def materialize(store: Store, manifest_hash: str) -> Path:
    """The folder of the model whose manifest blob is ``manifest_hash``; written if missing."""
    root = Path(store.config.home) / "cache" / "models"
    folder = root / manifest_hash
    manifest_path = folder / MANIFEST
    if manifest_path.is_file() and hash_file(manifest_path) == manifest_hash:
        return folder
    data = store.blobs.read_bytes(manifest_hash)  # checked against its hash
    manifest = check_manifest(json.loads(data), f"blob {manifest_hash[:12]}")
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".fetch-", dir=root))
    try:
        for name, entry in manifest["files"].items():
            store.blobs.get_file(entry["hash"], staging / name)
        (staging / MANIFEST).write_bytes(data)
        if folder.exists():  # a stale or damaged copy: replace it whole
            shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(staging, folder)
        except OSError:  # another process materialised it first
            if not (folder / MANIFEST).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder
