"""Recognising a re-run that nothing has changed, without importing the pipeline's code.

Importing a pipeline file imports what it imports (pandas, scikit-learn: seconds), only
to find that every step is cached. When a run finishes, its manifest records what it
depended on: the text of every module it had loaded from outside the standard library
and the installed packages (the pipeline file, your helpers, loopml itself when it is
installed from a checkout), the params given, a stamp of the installed packages, and the
dataset versions its steps read. ``loopml pipeline run`` compares that manifest first: if
every file hashes the same, the params are equal, no package was installed or removed,
every dataset name still resolves to the same version, every output is still stored and
no step has ``cache=False``, the new run reuses every step of the old one as it is.
Anything else, or any doubt, takes the normal path, which imports and checks each step.

The one assumption beyond the normal path's: the pipeline function builds the same DAG
from the same code and params (it does not list a directory or read the clock to decide
which steps exist); ``--no-cache`` bypasses this check.
"""

from __future__ import annotations

import json
import os
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from blake3 import blake3
from sqlalchemy import desc, select, update

from ..ops import operation
from ..store import Store
from ..store.schema import pipeline_runs, runs
from ..tracking import runs as _runs
from ..tracking.environment import git_state, packages_stamp
from .records import (
    CACHED,
    PipelineRun,
    create_pipeline_run,
    get_pipeline_run,
    record_step,
    stale_datasets,
)

_STDLIB = {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
_SKIPPED_ROOTS = tuple(_STDLIB | {str(Path(p).resolve()) for p in _STDLIB})


def manifest(
    pipeline_name: str,
    params: Mapping[str, Any],
    run: PipelineRun,
    *,
    files: Mapping[str, str],
    always_runs: bool,
) -> dict[str, Any]:
    """What a finished run depended on: ``files`` from :func:`loaded_files`, the dataset
    versions its steps read."""
    datasets: dict[str, str] = {}
    for step in run.steps:
        datasets.update(step.key_parts.get("datasets", {}))
    return {
        "pipeline": pipeline_name,
        "params": json.loads(json.dumps(dict(params), sort_keys=True, default=repr)),
        "files": dict(files),
        "packages": packages_stamp(),
        "datasets": dict(sorted(datasets.items())),
        "always_runs": always_runs,
    }


@operation("pipelines.save_manifest", role="writer")
def save_manifest(store: Store, run_id: str, data: Mapping[str, Any]) -> None:
    """Keep what a finished pipeline run depended on, for the next run to compare."""
    with store.write() as connection:
        connection.execute(
            update(pipeline_runs)
            .where(pipeline_runs.c.run_id == run_id)
            .values(manifest=json.dumps(data, sort_keys=True))
        )


@operation("pipelines.last_manifest", role="reader")
def last_manifest(
    store: Store, file: str, pipeline: str | None
) -> tuple[str, dict[str, Any]] | None:
    """The latest finished run of pipeline file ``file`` (and ``pipeline`` when given) and
    its manifest; None without one, or when the file ran under several pipeline names and
    none was given."""
    query = (
        select(pipeline_runs.c.run_id, pipeline_runs.c.manifest)
        .join(runs, runs.c.id == pipeline_runs.c.run_id)
        .where(pipeline_runs.c.file == file, runs.c.status == "FINISHED")
        .order_by(desc(pipeline_runs.c.created_at))
        .limit(1)
    )
    if pipeline:
        query = query.where(pipeline_runs.c.pipeline == pipeline)
    with store.read() as connection:
        row = connection.execute(query).first()
        names = connection.execute(
            select(pipeline_runs.c.pipeline).where(pipeline_runs.c.file == file).distinct()
        ).all()
    if row is None or not row.manifest or (not pipeline and len(names) != 1):
        return None
    return row.run_id, json.loads(row.manifest)


def reuse_if_unchanged(
    store: Store, target: str, params: Mapping[str, Any], *, executor: str
) -> PipelineRun | None:
    """A new run reusing the latest finished run of ``target`` when nothing changed."""
    file_text, _, name = target.partition(":")
    path = str(Path(file_text).resolve())
    found = last_manifest(store, path, name or None)
    if found is None:
        return None
    run_id, recorded = found
    wanted = json.loads(json.dumps(dict(params), sort_keys=True, default=repr))
    # The files are hashed here, where the code runs, not where the store is.
    if (
        recorded.get("always_runs", True)
        or recorded.get("params") != wanted
        or recorded.get("packages") != packages_stamp()
        or path not in recorded.get("files", {})
        or not _same_files(recorded["files"])
        or recorded.get("pipeline") != (name or recorded.get("pipeline"))
        or stale_datasets(store, recorded.get("datasets", {}))
    ):
        return None
    source = get_pipeline_run(store, run_id)
    if not all(store.blobs.exists(o.hash) for step in source.steps for o in step.outputs):
        return None
    return _record_reuse(store, source, recorded, executor=executor)


def _record_reuse(
    store: Store, source: PipelineRun, recorded: dict[str, Any], *, executor: str
) -> PipelineRun:
    commit, dirty, diff_hash = git_state(Path(source.file).parent)
    origin = _runs.RunOrigin(
        source=source.file, git_commit=commit, git_dirty=dirty, git_diff_hash=diff_hash
    )
    run_id = create_pipeline_run(
        store,
        pipeline=source.pipeline,
        file=source.file,
        params=source.params,
        executor=executor,
        origin=origin,
    )
    reason = f"unchanged since run {source.id[:8]}: same files, params, packages and datasets"
    for step in source.steps:
        record_step(
            store,
            run_id,
            name=step.name,
            step=step.step,
            status=CACHED,
            reason=reason,
            cache_key=step.cache_key,
            key_parts=step.key_parts,
            reused_from=step.reused_from or step.pipeline_run_id,
            outputs=step.outputs,
            inputs=step.key_parts.get("inputs", {}),
        )
    save_manifest(store, run_id, recorded)
    _runs.set_run_status(store, run_id, "FINISHED")
    return get_pipeline_run(store, run_id)


def loaded_files() -> dict[str, str]:
    """Hashes of the modules this process has loaded from outside the standard library and
    the installed packages: the pipeline file, the project's helpers."""
    files: dict[str, str] = {}
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if not file or not file.endswith(".py") or _third_party(file):
            continue  # most modules: decided on the name alone, without touching the disk
        resolved = _resolved.get(file)
        if resolved is None:
            resolved = _resolved[file] = str(Path(file).resolve())
        if _third_party(resolved):
            continue
        digest = _hash(resolved)
        if digest is not None:
            files[resolved] = digest
    return dict(sorted(files.items()))


def _third_party(path: str) -> bool:
    return "site-packages" in path or "dist-packages" in path or path.startswith(_SKIPPED_ROOTS)


def _same_files(files: Mapping[str, str]) -> bool:
    return all(_hash(path) == digest for path, digest in files.items())


def _hash(path: str) -> str | None:
    # A long-lived process (a notebook, a scheduler) hashes an unchanged file once.
    try:
        stat = os.stat(path)
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        cached = _hashes.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        with open(path, "rb") as handle:
            digest = blake3(handle.read()).hexdigest()
    except OSError:
        return None
    _hashes[path] = (stamp, digest)
    return digest


_hashes: dict[str, tuple[tuple[int, int, int], str]] = {}
_resolved: dict[str, str] = {}
