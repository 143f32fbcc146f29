"""Resolving a registered model on the embedded store without SQLAlchemy, for fast loads.

A new process that loads ``models:/churn@champion`` and predicts one row pays mostly for
imports; SQLAlchemy and the store's service layers alone cost about 0.25 s, more than the
lookup itself. When the store is the embedded SQLite file and the version's files are
already materialised in the local cache, two rows read with the standard library's
``sqlite3`` (read-only) are all that is needed. Anything else — PostgreSQL, a name or
alias that does not resolve, a schema without these columns, files not cached yet, a
locked database — returns None, and the full path runs and gives the errors.

The answer is as trustworthy as the full path's: the cached manifest must hash to the
value the database holds, and loading checks every file against the manifest.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..artifacts.hashing import hash_file
from ..config import resolve
from ..errors import InvalidInput
from ..models.format import MANIFEST
from .refs import ModelRef, parse_model_ref

_SQLITE_PREFIX = "sqlite:///"


def cached_folder(text: str) -> tuple[Path, str] | None:
    """(cached model folder, ``models:/NAME/VERSION``) for ``text``, or None."""
    try:
        ref = parse_model_ref(text)
    except InvalidInput:
        return None
    config = resolve()
    if not isinstance(ref, ModelRef) or not config.db_url.startswith(_SQLITE_PREFIX):
        return None
    database = Path(config.db_url[len(_SQLITE_PREFIX) :])
    if not database.is_file():
        return None
    try:
        row = _lookup(database, ref)
    except sqlite3.Error:
        return None
    if row is None or row[1] is None:
        return None
    version, digest = row
    folder = Path(config.home) / "cache" / "models" / digest
    manifest = folder / MANIFEST
    if not manifest.is_file() or hash_file(manifest) != digest:
        return None
    return folder, f"models:/{ref.name}/{version}"


def _lookup(database: Path, ref: ModelRef) -> tuple[int, str | None] | None:
    connection = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True, timeout=1.0)
    try:
        if ref.alias:
            query = (
                "SELECT v.version, v.manifest_blob FROM model_aliases a JOIN model_versions v"
                " ON v.name = a.name AND v.version = a.version WHERE a.name = ? AND a.alias = ?"
            )
            return connection.execute(query, (ref.name, ref.alias)).fetchone()
        if ref.version is not None:
            query = (
                "SELECT version, manifest_blob FROM model_versions WHERE name = ? AND version = ?"
            )
            return connection.execute(query, (ref.name, ref.version)).fetchone()
        query = (
            "SELECT version, manifest_blob FROM model_versions WHERE name = ?"
            " ORDER BY version DESC LIMIT 1"
        )
        return connection.execute(query, (ref.name,)).fetchone()
    finally:
        connection.close()
