"""``loopml lineage OBJECT``: where an object came from and what came from it, as a tree."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text
from rich.tree import Tree

from ._output import console, print_json
from .data import _bytes

if TYPE_CHECKING:
    from ..governance.lineage import LineageNode

_KIND_STYLE = {
    "pipeline_run": "bold magenta",
    "step_run": "bold cyan",
    "run": "bold cyan",
    "dataset_version": "bold green",
    "artifact": "bold yellow",
    "retrain": "bold red",
}


def lineage(
    object_ref: str = typer.Argument(
        ...,
        metavar="OBJECT",
        help="Run id or prefix, NAME@V or dataset:NAME@V, artifact:HASH, step:RUN/STEP, "
        "models:/NAME/VERSION.",
    ),
    up: bool = typer.Option(False, "--up", help="Only upstream: where it came from."),
    down: bool = typer.Option(False, "--down", help="Only downstream: what came from it."),
    depth: int = typer.Option(None, "--depth", "-d", min=0, help="Edges to follow (default all)."),
    json_output: bool = typer.Option(False, "--json", help="Print the tree as JSON."),
) -> None:
    """Trace an object: the dataset versions, code commit, params and steps that produced
    it (upstream) and the runs, steps and artifacts that came from it (downstream)."""
    from ..governance.lineage import lineage as trace
    from ..store import open_store

    direction = "up" if up and not down else "down" if down and not up else "both"
    store = open_store(create=False)
    try:
        tree = trace(store, object_ref, direction=direction, depth=depth)
    finally:
        store.close()  # in-process callers (tests, notebooks) keep no pooled connections
    if json_output:
        print_json(tree.to_dict())
        return
    view = Tree(_line(tree))
    for way, title in (
        ("up", "upstream: where it came from"),
        ("down", "downstream: what came from it"),
    ):
        if direction not in ("both", way):
            continue
        children = tree.upstream if way == "up" else tree.downstream
        branch = view.add(Text(title, style="bold")) if direction == "both" else view
        if not children and not tree.more:
            branch.add(Text("nothing recorded", style="dim"))
        _add(branch, children, depth, 1)
    if tree.more:
        view.add(_more(tree.more, depth, 0))
    console.print(view)


def _add(branch: Tree, nodes: list[LineageNode], depth: int | None, level: int) -> None:
    for node in nodes:
        sub = branch.add(_line(node))
        _add(sub, [*node.upstream, *node.downstream], depth, level + 1)
        if node.more:
            sub.add(_more(node.more, depth, level))


def _line(node: LineageNode) -> Text:
    text = Text()
    if node.relation:
        text.append(f"{node.relation} ", style="dim")
    text.append(node.label, style=_KIND_STYLE.get(node.kind, "bold"))
    summary = _summary(node.facts)
    if summary:
        text.append(f"  {summary}", style="dim")
    if node.repeated:
        text.append("  (expanded elsewhere in this tree)", style="italic dim")
    return text


def _summary(facts: dict[str, Any]) -> str:
    parts = []
    if facts.get("status"):
        parts.append(str(facts["status"]))
    if "commit" in facts:
        commit = facts["commit"]
        dirty = " + uncommitted changes" if facts.get("dirty") else ""
        parts.append(f"commit {commit[:12]}{dirty}" if commit else "no git commit")
    if facts.get("params"):
        parts.append(
            "params " + ", ".join(f"{k}={_value(v)}" for k, v in sorted(facts["params"].items()))
        )
    if facts.get("file"):
        parts.append(str(facts["file"]))
    if facts.get("rows") is not None:
        parts.append(f"{facts['rows']} rows")
    if facts.get("missing"):
        parts.append("no longer in the store")
    if facts.get("type"):
        parts.append(str(facts["type"]))
    if facts.get("size") is not None:
        parts.append(_bytes(facts["size"]))
    return " · ".join(parts)


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _more(count: int, depth: int | None, level: int) -> Text:
    why = " (raise --depth to see them)" if depth is not None and level >= depth else ""
    return Text(f"… {count} more not shown{why}", style="dim")
