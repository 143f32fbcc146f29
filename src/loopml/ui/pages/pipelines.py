"""``/pipelines`` (recent pipeline runs) and ``/pipelines/runs/{id}``: the run's DAG with
each step's status and cache hits, the dataset versions the steps read, and the steps'
table (reason, attempts, duration, outputs).

The DAG is rebuilt from what the run recorded: a step's inputs are the hashes of the
outputs it took, so an edge joins the step that wrote a hash to each step that read it.
The items of a mapped step (``score[0]``, ``score[1]``...) are drawn as one node.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

from starlette.requests import Request

from ...pipelines.records import PipelineRun, StepRun, get_pipeline_run, list_pipeline_runs
from ...store import Store
from .. import arguments, graphs
from ..rendering import Page

LIST_LIMIT = 100
_ITEM = re.compile(r"^(?P<node>.+)\[(?P<index>\d+)\]$")
_DATASET_REF = re.compile(r"^(?P<name>[^@]+)@(?P<version>\d+)$")


def pipeline_runs(request: Request, store: Store) -> Page:
    name = arguments.text(request, "pipeline")
    limit = arguments.whole_number(request, "limit", 50, high=LIST_LIMIT)
    found = list_pipeline_runs(store, name, limit=limit)
    data = {"pipeline": name, "runs": [_run_summary(run) for run in found]}
    return Page("pipelines.html.j2", "Pipelines", data, section="/pipelines")


def pipeline_run(request: Request, store: Store) -> Page:
    found = get_pipeline_run(store, request.path_params["run_id"])
    data = {
        **_run_summary(found),
        "file": found.file,
        "params": found.params,
        "git_commit": found.git_commit,
        "resumed_from": found.resumed_from,
        "reproduced_from": found.reproduced_from,
        "steps": [_step_dict(step) for step in found.steps],
        "edges": [list(edge) for edge in step_edges(found)],
    }
    view = {"found": found, "graph": _graph(found)}
    return Page(
        "pipeline_run.html.j2",
        f"{found.pipeline} run {found.id[:8]}",
        data,
        view=view,
        section="/pipelines",
    )


def step_edges(run: PipelineRun) -> list[tuple[str, str]]:
    """(producer, consumer) node pairs, found by matching input hashes to outputs."""
    producer: dict[str, str] = {}
    for step in run.steps:
        if _ITEM.match(step.name):
            continue  # an item's output is also its mapped node's; the node produces it
        for output in step.outputs:
            producer.setdefault(output.hash, step.name)
    for step in run.steps:  # outputs of items that have no aggregate node recorded
        for output in step.outputs:
            producer.setdefault(output.hash, _node_of(step.name))
    edges = []
    for step in run.steps:
        target = _node_of(step.name)
        for digest in (step.key_parts.get("inputs") or {}).values():
            source = producer.get(digest)
            if source is not None and source != target:
                edges.append((source, target))
    return list(dict.fromkeys(edges))


def _graph(run: PipelineRun) -> dict[str, Any]:
    groups: dict[str, list[StepRun]] = defaultdict(list)
    for step in run.steps:
        groups[_node_of(step.name)].append(step)
    nodes = []
    edges = list(step_edges(run))
    datasets: dict[str, str] = {}
    for name, steps in groups.items():
        whole = next((s for s in steps if s.name == name), steps[0])
        items = [s for s in steps if s.name != name]
        statuses = Counter(s.status for s in (items or [whole]))
        detail = whole.status.lower()
        if items:
            detail = f"{len(items)} items: " + ", ".join(
                f"{count} {status.lower()}" for status, count in sorted(statuses.items())
            )
        elif whole.status == "CACHED":
            detail = "cached (reused)"
        kind = whole.status.lower() if not items else _worst(statuses)
        nodes.append(
            graphs.GraphNode(
                id=name,
                label=name,
                detail=detail,
                kind=kind,
                href=f"/runs/{whole.run_id}" if whole.run_id else None,
                title=f"{name}: {whole.reason or whole.status}",
            )
        )
        for step in steps:
            for ref in (step.key_parts.get("datasets") or {}).values():
                datasets[str(ref)] = name
                edges.append((f"dataset:{ref}", name))
    for ref in sorted(datasets):
        match = _DATASET_REF.match(ref)
        href = f"/datasets/{match['name']}/{match['version']}" if match else None
        nodes.append(
            graphs.GraphNode(
                id=f"dataset:{ref}", label=ref, detail="dataset", kind="dataset", href=href
            )
        )
    return graphs.layout(nodes, edges)


def _worst(statuses: Counter[str]) -> str:
    for status in ("FAILED", "KILLED", "RUNNING", "SKIPPED", "COMPLETED", "CACHED"):
        if statuses.get(status):
            return status.lower()
    return "plain"


def _node_of(step_name: str) -> str:
    match = _ITEM.match(step_name)
    return match["node"] if match else step_name


def _run_summary(run: PipelineRun) -> dict[str, Any]:
    statuses = Counter(step.status for step in run.steps if not _ITEM.match(step.name))
    return {
        "id": run.id,
        "pipeline": run.pipeline,
        "status": run.status,
        "executor": run.executor,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "step_count": len([s for s in run.steps if not _ITEM.match(s.name)]),
        "cached": statuses.get("CACHED", 0),
        "failed": statuses.get("FAILED", 0),
    }


def _step_dict(step: StepRun) -> dict[str, Any]:
    return {
        "name": step.name,
        "step": step.step,
        "status": step.status,
        "run_id": step.run_id,
        "cache_key": step.cache_key,
        "reused_from": step.reused_from,
        "reason": step.reason,
        "attempts": step.attempts,
        "error": step.error,
        "outputs": [output.to_dict() for output in step.outputs],
        "started_at": step.started_at,
        "ended_at": step.ended_at,
        "duration_s": step.duration_s,
        "datasets": step.key_parts.get("datasets") or {},
    }
