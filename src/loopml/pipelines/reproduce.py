"""Resuming a failed pipeline run, and reproducing a past one exactly.

Resume re-runs a pipeline run's file with its params and reuses every step that
succeeded with the same cache key, whatever the cache settings: the failed step and
what follows it run again. Reproduce runs every step again with the run's params, its
dataset versions pinned, on the code commit it recorded (refusing when the working tree
differs, unless forced), and compares each step's output hashes with the original.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Conflict
from ..store import Store, default_store
from ..tracking.environment import git_state
from .loading import load_pipeline
from .records import SKIPPED, PipelineRun, get_pipeline_run
from .runner import run_pipeline


@dataclass(frozen=True)
class StepComparison:
    step: str
    original: str
    now: str
    same: bool


@dataclass(frozen=True)
class ReproduceReport:
    original_run: str
    new_run: str
    identical: bool
    first_difference: str | None
    summary: str
    steps: list[StepComparison] = field(default_factory=list)


def resume_run(
    ref: str, *, executor: str | None = None, store: Store | None = None, progress: bool = False
) -> PipelineRun:
    store = store or default_store()
    original = get_pipeline_run(store, ref)
    pipeline = load_pipeline(f"{original.file}:{original.pipeline}")
    kind, dask = _executor_of(executor or original.executor)
    return run_pipeline(
        pipeline,
        original.params,
        executor=kind,
        dask=dask,
        store=store,
        resume_from=original.id,
        raise_on_failure=False,
        progress=progress,
    )


def reproduce_run(
    ref: str, *, force: bool = False, store: Store | None = None, progress: bool = False
) -> ReproduceReport:
    store = store or default_store()
    original = get_pipeline_run(store, ref)
    if not force:
        _check_code(original)
    pipeline = load_pipeline(f"{original.file}:{original.pipeline}")
    pins: dict[str, str] = {}
    for step in original.steps:
        pins.update(step.key_parts.get("datasets", {}))
    kind, dask = _executor_of(original.executor)
    again = run_pipeline(
        pipeline,
        original.params,
        executor=kind,
        dask=dask,
        store=store,
        reproduce_of=original.id,
        dataset_pins=pins,
        raise_on_failure=False,
        progress=progress,
    )
    rows = []
    now = {s.name: s for s in again.steps}
    for step in original.steps:
        if step.status == SKIPPED or not step.outputs:
            continue
        then_hashes = ",".join(o.hash for o in step.outputs)
        counterpart = now.get(step.name)
        now_hashes = ",".join(o.hash for o in counterpart.outputs) if counterpart else ""
        rows.append(StepComparison(step.name, then_hashes, now_hashes, then_hashes == now_hashes))
    first = next((row.step for row in rows if not row.same), None)
    if first is None:
        summary = f"run {again.id[:8]} reproduced {original.id[:8]}: all {len(rows)} steps match"
    else:
        summary = (
            f"run {again.id[:8]} differs from {original.id[:8]}: first at step '{first}' "
            f"(loopml pipeline explain {again.id[:8]})"
        )
    return ReproduceReport(original.id, again.id, first is None, first, summary, rows)


def _check_code(original: PipelineRun) -> None:
    if original.git_commit is None:
        raise Conflict(
            f"pipeline run {original.id[:8]} recorded no git commit, so its code cannot be "
            "checked out again",
            hint="pass --force to reproduce it with the code as it is now",
        )
    commit, dirty, diff_hash = git_state(Path(original.file).parent)
    if commit != original.git_commit:
        raise Conflict(
            f"the working tree is at commit {str(commit)[:12]}, run {original.id[:8]} was made "
            f"at {original.git_commit[:12]}",
            hint=f"git checkout {original.git_commit[:12]} first, or pass --force",
        )
    if (dirty or original.git_dirty) and diff_hash != original.git_diff_hash:
        raise Conflict(
            f"the working tree has changes that run {original.id[:8]} did not have",
            hint="commit or stash them (git stash), or pass --force",
        )


def _executor_of(recorded: str) -> tuple[str, str | None]:
    if recorded.startswith("dask:"):
        return "dask", "local"  # the original cluster is gone; a local one is equivalent
    return recorded, None
