"""``/models``, ``/models/{name}`` (versions with alias badges, alias moves, promotions,
metrics by version), ``/models/{name}/{version}`` (lineage graph, evaluation plots) and
``/models/{name}/{version}/card`` (the model card). ``{version}`` is a number or an alias.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

from ...governance.lineage import LineageNode, lineage
from ...governance.model_card import model_card
from ...models.evaluation_report import evaluation_charts
from ...registry import (
    alias_history,
    get_version,
    list_evaluations,
    list_models,
    list_promotions,
    list_versions,
)
from ...registry.refs import check_model_name
from ...store import Store
from .. import charts, graphs
from ..rendering import Page

METRIC_LINES = 8
LINEAGE_DEPTH = 3
_DATASET_ID = re.compile(r"^dataset:(?P<name>[^@]+)@(?P<version>\d+)$")
_CHART_TITLES = {
    "roc": "ROC curve",
    "calibration": "Calibration",
    "confusion": "Confusion matrix",
    "residuals": "Residuals",
    "predicted-vs-actual": "Predicted vs actual",
    "overfitting": "Train vs validation",
}


def models(request: Request, store: Store) -> Page:
    found = [model.to_dict() for model in list_models(store)]
    return Page("models.html.j2", "Models", {"models": found}, section="/models")


def model(request: Request, store: Store) -> Page:
    name = check_model_name(request.path_params["name"])
    versions = list_versions(store, name)  # NotFound names a missing model
    moves = alias_history(store, name)
    promotions = list_promotions(store, name)
    evaluations = list_evaluations(store, name)
    keys = sorted({key for v in versions for key in v.metrics})[:METRIC_LINES]
    chart_specs = {}
    if len(versions) > 1 and keys:
        ordered = list(reversed(versions))
        chart_specs["metrics"] = charts.lines(
            [
                (key, [v.version for v in ordered], [v.metrics.get(key) for v in ordered])
                for key in keys
            ],
            x_title="version",
            height=260,
            markers=True,
        )
    data = {
        "name": name,
        "versions": [version.to_dict() for version in versions],
        "alias_moves": [move.to_dict() for move in reversed(moves)],
        "promotions": [promotion.to_dict() for promotion in promotions],
        "evaluations": [record.to_dict() for record in evaluations],
    }
    view = {"charts": chart_specs, "metric_keys": keys}
    return Page("model.html.j2", f"Model {name}", data, view=view, section="/models")


def version(request: Request, store: Store) -> Page:
    found = get_version(store, _ref(request))
    tree = lineage(store, f"models:/{found.name}/{found.version}", "both", LINEAGE_DEPTH)
    evaluations = list_evaluations(store, found.name, found.version)
    chart_specs: dict[str, Any] = {}
    chart_list = []
    if evaluations:
        newest = evaluations[0]
        stored = json.loads(store.blobs.read_bytes(newest.result_blob))
        for chart_id, spec in evaluation_charts(_StoredEvaluation(stored)).items():
            if chart_id in _CHART_TITLES:
                for axis in ("xaxis", "yaxis"):  # room for the axis titles
                    spec["layout"].setdefault(axis, {})["automargin"] = True
                chart_specs[f"eval-{chart_id}"] = spec
                chart_list.append((f"eval-{chart_id}", _CHART_TITLES[chart_id]))
    data = {
        "version": found.to_dict(),
        "lineage": tree.to_dict(),
        "evaluations": [record.to_dict() for record in evaluations],
    }
    view = {
        "found": found,
        "graph": _lineage_graph(tree),
        "charts": chart_specs,
        "chart_list": chart_list,
    }
    return Page(
        "model_version.html.j2",
        f"{found.name} version {found.version}",
        data,
        view=view,
        section="/models",
    )


def card(request: Request, store: Store) -> Page:
    """The model card, as ``loopml models card`` writes it (a page of its own)."""
    found = model_card(store, _ref(request))
    return Page(
        "",  # the card is a whole page of its own (document=)
        f"{found.name} version {found.version}: model card",
        found.to_dict(),
        document=found.to_html(),
        section="/models",
    )


def _ref(request: Request) -> str:
    name = check_model_name(request.path_params["name"])
    number = request.path_params["version"]
    return f"{name}/{number}" if number.isdigit() else f"{name}@{number}"


class _StoredEvaluation:
    """A recorded evaluation's JSON result, read back, as the report's charts read it."""

    fairness = None  # group charts need the live object; the figures are in the JSON

    def __init__(self, result: dict[str, Any]) -> None:
        self._result = result
        self.metrics = result.get("metrics") or {}
        self.overfitting = result.get("overfitting")

    def to_dict(self) -> dict[str, Any]:
        return {"details": {}, **self._result}


def _lineage_graph(root: LineageNode) -> dict[str, Any]:
    """The lineage tree as a graph: upstream objects flow into the version, the version
    into what came from it; an object reached twice is one node."""
    nodes: dict[str, graphs.GraphNode] = {}
    edges: list[tuple[str, str]] = []

    def visit(node: LineageNode) -> None:
        nodes.setdefault(node.id, _lineage_node(node, root))
        for parent in node.upstream:
            nodes.setdefault(parent.id, _lineage_node(parent, root))
            edges.append((parent.id, node.id))
            visit(parent)
        for child in node.downstream:
            nodes.setdefault(child.id, _lineage_node(child, root))
            edges.append((node.id, child.id))
            visit(child)

    visit(root)
    return graphs.layout(list(nodes.values()), edges)


def _lineage_node(node: LineageNode, root: LineageNode) -> graphs.GraphNode:
    return graphs.GraphNode(
        id=node.id,
        label=node.label,
        detail=node.kind.replace("_", " ") + (f" (+{node.more} more)" if node.more else ""),
        kind="root" if node.id == root.id else node.kind,
        href=_lineage_href(node),
        title=f"{node.relation or node.kind}: {node.label}",
    )


def _lineage_href(node: LineageNode) -> str | None:
    if node.kind in ("run",):
        return f"/runs/{node.id.removeprefix('run:')}"
    if node.kind == "pipeline_run":
        return f"/pipelines/runs/{node.id.removeprefix('run:')}"
    if node.kind == "step_run":
        return f"/pipelines/runs/{node.id.removeprefix('step:').split('/')[0]}"
    if node.kind == "dataset_version":
        match = _DATASET_ID.match(node.id)
        return f"/datasets/{match['name']}/{match['version']}" if match else None
    if node.kind == "model_version":
        name, _, number = node.id.removeprefix("models:/").partition("/")
        return f"/models/{name}/{number}" if number else None
    return None
